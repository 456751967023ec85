#include "wal/format.h"

#include "absl/strings/str_format.h"
#include "wal/crc32c.h"

namespace ariadne::wal::format {

void EncodeFixed32(char* dst, uint32_t v) {
  for (int i = 0; i < 4; ++i) dst[i] = static_cast<char>(v >> (8 * i));
}

void EncodeFixed64(char* dst, uint64_t v) {
  for (int i = 0; i < 8; ++i) dst[i] = static_cast<char>(v >> (8 * i));
}

uint32_t DecodeFixed32(const char* src) {
  const auto* p = reinterpret_cast<const uint8_t*>(src);
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

uint64_t DecodeFixed64(const char* src) {
  return uint64_t{DecodeFixed32(src)} | uint64_t{DecodeFixed32(src + 4)} << 32;
}

std::string SegmentFileName(uint64_t first_seq) {
  return absl::StrFormat("%020u%s", first_seq, kSegmentSuffix);
}

std::optional<uint64_t> ParseSegmentFileName(std::string_view name) {
  if (name.size() != kSegmentNameDigits + kSegmentSuffix.size() ||
      name.substr(kSegmentNameDigits) != kSegmentSuffix) {
    return std::nullopt;
  }
  uint64_t v = 0;
  for (size_t i = 0; i < kSegmentNameDigits; ++i) {
    const char c = name[i];
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;  // 20 digits can exceed 2^64
    v = v * 10 + d;
  }
  return v;
}

std::string_view HeaderCheckName(HeaderCheck c) {
  switch (c) {
    case HeaderCheck::kOk:
      return "ok";
    case HeaderCheck::kBadMagic:
      return "bad magic";
    case HeaderCheck::kBadCrc:
      return "header CRC mismatch";
    case HeaderCheck::kBadLength:
      return "implausible length";
    case HeaderCheck::kUnsupportedVersion:
      return "unsupported format version";
  }
  return "unknown";
}

// Segment header: magic u32 | version u8 | reserved 3 | first_seq u64 | crc u32.
void EncodeSegmentHeader(uint64_t first_seq, char* dst) {
  EncodeFixed32(dst, kSegmentMagic);
  dst[4] = static_cast<char>(kFormatVersion);
  dst[5] = dst[6] = dst[7] = 0;
  EncodeFixed64(dst + 8, first_seq);
  EncodeFixed32(dst + 16, crc32c::Value(dst, 16));
}

HeaderCheck DecodeSegmentHeader(const char* src, SegmentHeader* out) {
  if (DecodeFixed32(src) != kSegmentMagic) return HeaderCheck::kBadMagic;
  if (DecodeFixed32(src + 16) != crc32c::Value(src, 16)) return HeaderCheck::kBadCrc;
  out->version = static_cast<uint8_t>(src[4]);
  out->first_seq = DecodeFixed64(src + 8);
  if (out->version != kFormatVersion) return HeaderCheck::kUnsupportedVersion;
  return HeaderCheck::kOk;
}

// Record header: magic u32 | length u32 | seq u64 | payload_crc u32 | header_crc u32.
void EncodeRecordHeader(uint64_t seq, std::string_view payload, char* dst) {
  EncodeFixed32(dst, kRecordMagic);
  EncodeFixed32(dst + 4, static_cast<uint32_t>(payload.size()));
  EncodeFixed64(dst + 8, seq);
  EncodeFixed32(dst + 16, crc32c::Value(payload));
  EncodeFixed32(dst + 20, crc32c::Value(dst, 20));
}

HeaderCheck DecodeRecordHeader(const char* src, RecordHeader* out) {
  if (DecodeFixed32(src) != kRecordMagic) return HeaderCheck::kBadMagic;
  if (DecodeFixed32(src + 20) != crc32c::Value(src, 20)) return HeaderCheck::kBadCrc;
  out->length = DecodeFixed32(src + 4);
  out->seq = DecodeFixed64(src + 8);
  out->payload_crc = DecodeFixed32(src + 16);
  if (out->length > kMaxRecordBytes) return HeaderCheck::kBadLength;
  return HeaderCheck::kOk;
}

}  // namespace ariadne::wal::format
