// Byte-level pieces of the block files: constants, varint/fixed-width
// buffers, and the chunk framing shared by data.blk and index.blk.
// See docs/format/block.md; the two must agree.
//
// Threading: plain values and pure functions.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace ariadne::store::block_format {

inline constexpr char kDataMagic[4] = {'A', 'R', 'B', 'D'};
inline constexpr char kIndexMagic[4] = {'A', 'R', 'B', 'I'};
// Version 2 adds the attribute filters (the last chunk of index.blk);
// readers accept both, and a writer with the filters disabled writes 1.
inline constexpr uint8_t kVersion = 2;
inline constexpr uint8_t kMinVersion = 1;
inline constexpr size_t kHeaderSize = 8;     // magic, version, 3 reserved
inline constexpr size_t kFooterSize = 24;    // dir offset, dir length, dir crc, version, magic
inline constexpr size_t kDirHeaderSize = 20; // groups, columns, chunks, min_start
inline constexpr size_t kDirEntrySize = 20;  // offset, compressed, raw, crc
inline constexpr uint32_t kMaxChunkRaw = 1u << 30;
inline constexpr int kMaxNesting = 64;     // array/kvlist depth a reader accepts
inline constexpr uint32_t kPageIds = 1024;  // trace ids per index page

// data.blk: the block-wide chunks, then kColumns per row group.
enum BlockChunk : uint32_t { kStrings = 0, kResources = 1, kScopes = 2, kBlockChunks = 3 };
enum Column : uint32_t {
  kTraceIds = 0,
  kSpanIds,
  kParents,
  kParentRaw,
  kStarts,
  kDurations,
  kNames,
  kScopeIndex,
  kKindStatus,
  kStatusMessages,
  kTraceStates,
  kFlags,
  kDropped,
  kAttributes,
  kEvents,
  kLinks,
  kColumns,
};
// index.blk: four fixed chunks, then one chunk per page of the trace table,
// then (version 2) the attribute filters of the row groups.
enum IndexChunk : uint32_t { kBloom = 0, kStats = 1, kPostings = 2, kPageIndex = 3, kIndexChunks = 4 };

// An append-only little-endian byte buffer.
class Out {
 public:
  void U8(uint8_t v) { s_.push_back(static_cast<char>(v)); }
  void Varint(uint64_t v) {
    while (v >= 0x80) {
      s_.push_back(static_cast<char>(v | 0x80));
      v >>= 7;
    }
    s_.push_back(static_cast<char>(v));
  }
  void Zigzag(int64_t v) { Varint((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63)); }
  void Fixed32(uint32_t v) {
    for (int i = 0; i < 4; ++i) s_.push_back(static_cast<char>(v >> (8 * i)));
  }
  void Fixed64(uint64_t v) {
    for (int i = 0; i < 8; ++i) s_.push_back(static_cast<char>(v >> (8 * i)));
  }
  void Bytes(const void* p, size_t n) { s_.append(static_cast<const char*>(p), n); }
  // Inline string bytes go to a tail that follows the main bytes (see
  // "String references" in the format doc), keeping the main part regular.
  void Tail(const void* p, size_t n) { tail_.append(static_cast<const char*>(p), n); }
  std::string& str() { return s_; }
  const std::string& tail() const { return tail_; }
  size_t size() const { return s_.size(); }
  // varint(length of main) | main | tail
  std::string WithTail() const {
    Out o;
    o.Varint(s_.size());
    o.s_ += s_;
    o.s_ += tail_;
    return std::move(o.s_);
  }

 private:
  std::string s_;
  std::string tail_;
};

// Splits a chunk written with Out::WithTail into its main part and tail.
inline bool SplitTail(std::string_view raw, std::string_view* main, std::string_view* tail);

// A bounds-checked reader over bytes. The first failure sets !ok() and makes
// every later read return zero; callers check ok() once at the end.
class In {
 public:
  explicit In(std::string_view s) : p_(s.data()), end_(s.data() + s.size()) {}
  bool ok() const { return ok_; }
  bool done() const { return ok_ && p_ == end_; }
  size_t left() const { return static_cast<size_t>(end_ - p_); }
  uint64_t Fail() {
    ok_ = false;
    p_ = end_;
    return 0;
  }
  uint8_t U8() {
    if (p_ == end_) return static_cast<uint8_t>(Fail());
    return static_cast<uint8_t>(*p_++);
  }
  // Inlined: searches decode a few varints a span. With ten bytes left (the
  // longest varint) the loop needs no bounds check per byte.
  [[gnu::always_inline]] uint64_t Varint() {
    if (end_ - p_ >= 10) [[likely]] {
      const auto* p = reinterpret_cast<const uint8_t*>(p_);
      uint64_t v = 0;
      for (int i = 0; i < 10; ++i) {
        const uint64_t b = p[i];
        v |= (b & 0x7f) << (7 * i);
        if (b < 0x80) {
          p_ += i + 1;
          return v;
        }
      }
      return Fail();
    }
    return VarintNearTheEnd();
  }
  [[gnu::always_inline]] uint32_t Varint32() {
    const uint64_t v = Varint();
    if (v > UINT32_MAX) return static_cast<uint32_t>(Fail());
    return static_cast<uint32_t>(v);
  }
  [[gnu::always_inline]] int64_t Zigzag() {
    const uint64_t u = Varint();
    return static_cast<int64_t>(u >> 1) ^ -static_cast<int64_t>(u & 1);
  }
  // A count of items of at least `min_bytes` each: fails if they cannot fit.
  uint32_t Count(size_t min_bytes = 1) {
    const uint64_t n = Varint();
    if (n > left() / (min_bytes == 0 ? 1 : min_bytes)) return static_cast<uint32_t>(Fail());
    return static_cast<uint32_t>(n);
  }
  uint32_t Fixed32() {
    std::string_view b = Take(4);
    if (!ok_) return 0;
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<uint8_t>(b[i])) << (8 * i);
    return v;
  }
  uint64_t Fixed64() {
    std::string_view b = Take(8);
    if (!ok_) return 0;
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(b[i])) << (8 * i);
    return v;
  }
  // Varint() within ten bytes of the end: a bounds check per byte.
  [[gnu::noinline]] uint64_t VarintNearTheEnd() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ == end_) return Fail();
      const uint8_t b = static_cast<uint8_t>(*p_++);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    return Fail();
  }
  std::string_view Take(uint64_t n) {
    if (n > left()) {
      Fail();
      return {};
    }
    std::string_view s(p_, n);
    p_ += n;
    return s;
  }

 private:
  const char* p_;
  const char* end_;
  bool ok_ = true;
};

inline bool SplitTail(std::string_view raw, std::string_view* main, std::string_view* tail) {
  In in(raw);
  const uint64_t n = in.Varint();
  *main = in.Take(n);
  if (!in.ok()) return false;
  *tail = in.Take(in.left());
  return true;
}

// Bloom filter positions: double hashing from the id's two 64-bit halves.
inline uint64_t Mix64(uint64_t x) {  // splitmix64's finalizer
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}
inline void BloomHashes(const uint8_t* id16, uint64_t* h1, uint64_t* h2) {
  uint64_t a = 0, b = 0;
  for (int i = 0; i < 8; ++i) {
    a |= static_cast<uint64_t>(id16[i]) << (8 * i);
    b |= static_cast<uint64_t>(id16[8 + i]) << (8 * i);
  }
  *h1 = Mix64(a ^ Mix64(b));
  *h2 = Mix64(*h1 + 0x9e3779b97f4a7c15ull) | 1;
}

// Attribute filters: a split-block bloom filter per row group (Parquet's
// layout: 256-bit blocks of eight 32-bit words, one bit set in each word),
// over AttrHash(key, text). One cache line is touched per probe.
inline constexpr uint32_t kFilterSalt[8] = {0x47b6137bu, 0x44974d91u, 0x8824ad5bu, 0xa2b7289du,
                                            0x705495c7u, 0x2df1424bu, 0x9efc4947u, 0x5c6bfb31u};
// The block (of `blocks`) a hash goes to: its high half, scaled.
inline uint32_t FilterBlockOf(uint64_t h, uint32_t blocks) {
  return static_cast<uint32_t>(((h >> 32) * blocks) >> 32);
}
inline uint32_t FilterBit(uint64_t h, int word) {
  return 1u << ((static_cast<uint32_t>(h) * kFilterSalt[word]) >> 27);
}
inline void FilterInsert(uint32_t* words, uint32_t blocks, uint64_t h) {
  uint32_t* b = words + 8 * static_cast<size_t>(FilterBlockOf(h, blocks));
  for (int i = 0; i < 8; ++i) b[i] |= FilterBit(h, i);
}
inline bool FilterMayContain(const uint32_t* words, uint32_t blocks, uint64_t h) {
  const uint32_t* b = words + 8 * static_cast<size_t>(FilterBlockOf(h, blocks));
  for (int i = 0; i < 8; ++i) {
    if (!(b[i] & FilterBit(h, i))) return false;
  }
  return true;
}

}  // namespace ariadne::store::block_format
