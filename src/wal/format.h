// The WAL's on-disk layout: constants and the encoding of the two headers.
// See docs/format/wal.md, which this file must match byte for byte.
//
// All integers are little-endian. Threading: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ariadne::wal::format {

// See docs/format/wal.md, "Segment files".
inline constexpr std::string_view kSegmentSuffix = ".wal";
inline constexpr size_t kSegmentNameDigits = 20;

// See docs/format/wal.md, "Segment header".
inline constexpr uint32_t kSegmentMagic = 0x4C415741u;  // bytes "AWAL"
inline constexpr uint8_t kFormatVersion = 1;
inline constexpr size_t kSegmentHeaderSize = 20;

// See docs/format/wal.md, "Record".
inline constexpr uint32_t kRecordMagic = 0xD7A1E5C3u;  // bytes C3 E5 A1 D7
inline constexpr size_t kRecordHeaderSize = 24;
inline constexpr uint32_t kMaxRecordBytes = 256u << 20;  // payload bytes, inclusive

// Sequence numbers start here; 0 means "no record".
inline constexpr uint64_t kFirstSequence = 1;

// "<20-digit zero-padded first_seq>.wal".
[[nodiscard]] std::string SegmentFileName(uint64_t first_seq);

// The first sequence number named by `name`, or nullopt if `name` is not a
// segment file name (exactly 20 digits followed by ".wal").
[[nodiscard]] std::optional<uint64_t> ParseSegmentFileName(std::string_view name);

struct SegmentHeader {
  uint8_t version = kFormatVersion;
  uint64_t first_seq = 0;
};

// Writes kSegmentHeaderSize bytes to `dst`.
void EncodeSegmentHeader(uint64_t first_seq, char* dst);

enum class HeaderCheck {
  kOk,
  kBadMagic,
  kBadCrc,
  kBadLength,           // records only: length above kMaxRecordBytes
  kUnsupportedVersion,  // segments only: magic and CRC fine, version unknown
};

[[nodiscard]] std::string_view HeaderCheckName(HeaderCheck c);

// Decodes kSegmentHeaderSize bytes at `src`.
[[nodiscard]] HeaderCheck DecodeSegmentHeader(const char* src, SegmentHeader* out);

struct RecordHeader {
  uint32_t length = 0;  // payload bytes
  uint64_t seq = 0;
  uint32_t payload_crc = 0;
};

// Writes kRecordHeaderSize bytes to `dst` for a record carrying `payload`.
void EncodeRecordHeader(uint64_t seq, std::string_view payload, char* dst);

// Decodes and checks kRecordHeaderSize bytes at `src` (magic, header CRC,
// length bound). The payload CRC is the caller's to check.
[[nodiscard]] HeaderCheck DecodeRecordHeader(const char* src, RecordHeader* out);

// Fixed-width little-endian coding.
void EncodeFixed32(char* dst, uint32_t v);
void EncodeFixed64(char* dst, uint64_t v);
[[nodiscard]] uint32_t DecodeFixed32(const char* src);
[[nodiscard]] uint64_t DecodeFixed64(const char* src);

}  // namespace ariadne::wal::format
