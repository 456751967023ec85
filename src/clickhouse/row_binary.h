// RowBinary: ClickHouse's plain binary row format, which every server since
// long before 18.16 reads and writes over HTTP (`FORMAT RowBinary`).
//
// Integers are little-endian at their width, Date is UInt16 days since
// 1970-01-01, String is a LEB128 length then the bytes, FixedString(N) is N
// bytes, Array(T) is a LEB128 count then the elements. LowCardinality(T) is
// written and read as T. Chosen over JSONEachRow because it needs no
// escaping or number formatting on either side.
//
// Threading: plain values.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace ariadne::clickhouse {

// Appends values to a string in RowBinary.
class RowBinaryWriter {
 public:
  explicit RowBinaryWriter(std::string* out) : out_(out) {}

  void UInt8(uint8_t v) { out_->push_back(static_cast<char>(v)); }
  void UInt16(uint16_t v) { Little(v, 2); }
  void UInt32(uint32_t v) { Little(v, 4); }
  void UInt64(uint64_t v) { Little(v, 8); }
  void VarUInt(uint64_t v) {
    while (v >= 0x80) {
      out_->push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out_->push_back(static_cast<char>(v));
  }
  void String(std::string_view s) {
    VarUInt(s.size());
    out_->append(s);
  }
  void Fixed(const uint8_t* data, size_t n) { out_->append(reinterpret_cast<const char*>(data), n); }

 private:
  void Little(uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out_->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  std::string* out_;
};

// Reads RowBinary values from a buffer; every method returns false (and
// reads nothing) if the buffer ends first.
class RowBinaryReader {
 public:
  explicit RowBinaryReader(std::string_view in) : in_(in) {}

  bool done() const { return pos_ == in_.size(); }
  size_t position() const { return pos_; }

  bool UInt8(uint8_t* v) {
    uint64_t x;
    if (!Little(&x, 1)) return false;
    *v = static_cast<uint8_t>(x);
    return true;
  }
  bool UInt16(uint16_t* v) {
    uint64_t x;
    if (!Little(&x, 2)) return false;
    *v = static_cast<uint16_t>(x);
    return true;
  }
  bool UInt64(uint64_t* v) { return Little(v, 8); }
  bool VarUInt(uint64_t* v) {
    uint64_t x = 0;
    for (size_t i = pos_, shift = 0; i < in_.size() && shift < 64; ++i, shift += 7) {
      const uint8_t b = static_cast<uint8_t>(in_[i]);
      x |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        pos_ = i + 1;
        *v = x;
        return true;
      }
    }
    return false;
  }
  // A view into the buffer.
  bool String(std::string_view* s) {
    const size_t start = pos_;
    uint64_t n;
    if (!VarUInt(&n)) return false;
    if (n > in_.size() - pos_) {
      pos_ = start;
      return false;
    }
    *s = in_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool Fixed(uint8_t* out, size_t n) {
    if (n > in_.size() - pos_) return false;
    std::memcpy(out, in_.data() + pos_, n);
    pos_ += n;
    return true;
  }

 private:
  bool Little(uint64_t* v, int bytes) {
    if (static_cast<size_t>(bytes) > in_.size() - pos_) return false;
    uint64_t x = 0;
    for (int i = 0; i < bytes; ++i) {
      x |= static_cast<uint64_t>(static_cast<uint8_t>(in_[pos_ + i])) << (8 * i);
    }
    pos_ += bytes;
    *v = x;
    return true;
  }
  std::string_view in_;
  size_t pos_ = 0;
};

}  // namespace ariadne::clickhouse
