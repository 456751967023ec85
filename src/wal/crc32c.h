// CRC-32C (Castagnoli, polynomial 0x1EDC6F41, reflected 0x82F63B78), the
// checksum of every WAL record (see docs/format/wal.md).
//
// Parameters: reflected input and output, initial value 0xFFFFFFFF, final XOR
// 0xFFFFFFFF; Value("123456789") == 0xE3069283. The same CRC as iSCSI, ext4
// metadata and LevelDB's log (before LevelDB's masking, which Ariadne does
// not apply).
//
// Uses the SSE4.2 crc32 instruction when the CPU has it, slicing-by-8 tables
// otherwise; both give identical results.
//
// Threading: pure functions, callable from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ariadne::wal::crc32c {

// Returns the CRC-32C of `data` appended to a message whose CRC-32C is `crc`:
// Extend(Value(a), b) == Value(a + b).
[[nodiscard]] uint32_t Extend(uint32_t crc, const void* data, size_t n);

// Returns the CRC-32C of `data`.
[[nodiscard]] inline uint32_t Value(const void* data, size_t n) { return Extend(0, data, n); }
[[nodiscard]] inline uint32_t Value(std::string_view data) {
  return Extend(0, data.data(), data.size());
}

// The table-driven implementation, always; for tests comparing the two paths.
[[nodiscard]] uint32_t ExtendPortableForTest(uint32_t crc, const void* data, size_t n);

// True if Extend uses the CPU's crc32 instruction.
[[nodiscard]] bool HardwareAcceleratedForTest();

}  // namespace ariadne::wal::crc32c
