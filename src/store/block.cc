// Block writer and reader. The byte layout is in docs/format/block.md, its
// constants in store/block_format.h.
#include "store/block.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <optional>
#include <random>
#include <thread>

#include "absl/strings/match.h"
#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "common/strings.h"
#include "model/value_format.h"
#include "store/block_format.h"
#include "wal/crc32c.h"

namespace ariadne::store {

using namespace block_format;  // NOLINT: the format's names, file-local
using model::AnyValue;
using model::KeyValue;
using model::Range;
using model::SpanBatch;
using model::SpanId;
using model::SpanKind;
using model::SpanRef;
using model::TraceId;
using model::ValueType;

namespace {

// ---------------------------------------------------------------------------
// Files

absl::Status ErrnoStatus(const std::string& what, const std::string& path) {
  const int e = errno;
  std::string msg = absl::StrCat(what, " ", path, ": ", std::strerror(e));
  if (e == ENOENT) return absl::NotFoundError(msg);
  return absl::InternalError(msg);
}

absl::Status WriteFileSynced(const std::string& path, std::string_view data) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus("open", path);
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      absl::Status s = ErrnoStatus("write", path);
      ::close(fd);
      return s;
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    absl::Status s = ErrnoStatus("fsync", path);
    ::close(fd);
    return s;
  }
  if (::close(fd) != 0) return ErrnoStatus("close", path);
  return absl::OkStatus();
}

absl::Status SyncDir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open", dir);
  const int rc = ::fsync(fd);
  absl::Status s = rc == 0 ? absl::OkStatus() : ErrnoStatus("fsync", dir);
  ::close(fd);
  return s;
}

void RemoveDirBestEffort(const std::string& dir) {
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      ::unlink((dir + "/" + name).c_str());  // best effort: BlockSet::Open removes leftovers
    }
    ::closedir(d);
  }
  ::rmdir(dir.c_str());
}

// Reads exactly n bytes at offset; a short read is data loss (truncation).
absl::Status PreadExact(int fd, const std::string& path, uint64_t offset, char* dst, size_t n) {
  size_t done = 0;
  while (done < n) {
    const ssize_t r = ::pread(fd, dst + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("read", path);
    }
    if (r == 0) {
      return absl::DataLossError(
          absl::StrCat(path, ": unexpected end of file at offset ", offset + done));
    }
    done += static_cast<size_t>(r);
  }
  return absl::OkStatus();
}

absl::Status DataLoss(const std::string& path, uint64_t offset, std::string_view what) {
  return absl::DataLossError(absl::StrCat(path, ": ", AbslView(what), " at offset ", offset));
}

// ---------------------------------------------------------------------------
// Chunk framing: header, zstd chunks, directory, footer.

struct ChunkRef {
  uint64_t offset = 0;
  uint32_t compressed = 0;
  uint32_t raw = 0;
  uint32_t crc = 0;
};

// One of the two files being written: the header, then zstd chunks as they
// come (buffered, written in large pieces), then the directory (chunks in
// their logical order, which need not be the order they were written in)
// and the footer.
class ChunkSink {
 public:
  ChunkSink() = default;
  ChunkSink(const ChunkSink&) = delete;
  ChunkSink& operator=(const ChunkSink&) = delete;
  ~ChunkSink() {
    if (fd_ >= 0) ::close(fd_);
  }

  absl::Status Open(std::string path, const char (&magic)[4], ZSTD_CCtx* cctx, int level,
                    uint8_t version) {
    path_ = std::move(path);
    version_ = version;
    magic_ = magic;
    cctx_ = cctx;
    level_ = level;
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) return ErrnoStatus("open", path_);
    Out h;
    h.Bytes(magic, 4);
    h.U8(version_);
    h.Bytes("\0\0\0", 3);
    buf_ = std::move(h.str());
    return absl::OkStatus();
  }
  const std::string& path() const { return path_; }
  int fd() const { return fd_; }
  uint64_t size() const { return written_ + buf_.size(); }

  // Compresses and appends one chunk; returns where it is.
  absl::StatusOr<ChunkRef> Add(std::string_view raw) {
    if (raw.size() > kMaxChunkRaw) return absl::InvalidArgumentError("block chunk too large");
    const size_t bound = ZSTD_compressBound(raw.size());
    const size_t at = buf_.size();
    buf_.resize(at + bound);
    const size_t n =
        ZSTD_compressCCtx(cctx_, buf_.data() + at, bound, raw.data(), raw.size(), level_);
    if (ZSTD_isError(n)) {
      buf_.resize(at);
      return absl::InternalError(absl::StrCat("zstd: ", ZSTD_getErrorName(n)));
    }
    buf_.resize(at + n);
    const ChunkRef ref{written_ + at, static_cast<uint32_t>(n), static_cast<uint32_t>(raw.size()),
                       wal::crc32c::Value(buf_.data() + at, n)};
    if (buf_.size() >= (1u << 20)) {
      if (absl::Status s = Flush(); !s.ok()) return s;
    }
    return ref;
  }

  // Writes out what is buffered (so that the file can be read back).
  absl::Status Flush() {
    size_t done = 0;
    while (done < buf_.size()) {
      const ssize_t n = ::write(fd_, buf_.data() + done, buf_.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus("write", path_);
      }
      done += static_cast<size_t>(n);
    }
    written_ += buf_.size();
    buf_.clear();
    return absl::OkStatus();
  }

  // Directory and footer; fsync; close. Returns the file's size.
  absl::StatusOr<uint64_t> Finish(const std::vector<ChunkRef>& chunks, uint32_t groups,
                                  uint32_t columns, uint64_t min_start) {
    Out dir;
    dir.Fixed32(groups);
    dir.Fixed32(columns);
    dir.Fixed32(static_cast<uint32_t>(chunks.size()));
    dir.Fixed64(min_start);
    for (const ChunkRef& c : chunks) {
      dir.Fixed64(c.offset);
      dir.Fixed32(c.compressed);
      dir.Fixed32(c.raw);
      dir.Fixed32(c.crc);
    }
    const uint64_t dir_offset = size();
    Out tail;
    tail.Bytes(dir.str().data(), dir.size());
    tail.Fixed64(dir_offset);
    tail.Fixed32(static_cast<uint32_t>(dir.size()));
    tail.Fixed32(wal::crc32c::Value(dir.str()));
    tail.U8(version_);
    tail.Bytes("\0\0\0", 3);
    tail.Bytes(magic_, 4);
    buf_ += tail.str();
    if (absl::Status s = Flush(); !s.ok()) return s;
    if (::fsync(fd_) != 0) return ErrnoStatus("fsync", path_);
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) return ErrnoStatus("close", path_);
    return written_;
  }

 private:
  std::string path_;
  const char* magic_ = nullptr;
  ZSTD_CCtx* cctx_ = nullptr;
  int level_ = 3;
  uint8_t version_ = kVersion;
  int fd_ = -1;
  uint64_t written_ = 0;  // bytes in the file
  std::string buf_;       // bytes after them, not yet written
};

struct Directory {
  uint8_t version = 0;  // of the file (header and footer agree)
  uint32_t groups = 0;
  uint32_t columns = 0;
  uint64_t min_start = 0;
  std::vector<ChunkRef> chunks;
};

// Parses footer and directory given the file's size and a way to read it.
absl::Status ReadDirectory(int fd, const std::string& path, uint64_t size, const char (&magic)[4],
                           Directory* dir) {
  if (size < kHeaderSize + kFooterSize) return DataLoss(path, 0, "file too short");
  char header[kHeaderSize];
  if (absl::Status s = PreadExact(fd, path, 0, header, kHeaderSize); !s.ok()) return s;
  if (std::memcmp(header, magic, 4) != 0) return DataLoss(path, 0, "bad magic");
  const uint8_t header_version = static_cast<uint8_t>(header[4]);
  if (header_version < kMinVersion || header_version > kVersion) {
    return DataLoss(path, 4, absl::StrCat("unknown version ", static_cast<int>(header[4])));
  }
  if (header[5] != 0 || header[6] != 0 || header[7] != 0) return DataLoss(path, 5, "bad header");
  char footer[kFooterSize];
  const uint64_t footer_at = size - kFooterSize;
  if (absl::Status s = PreadExact(fd, path, footer_at, footer, kFooterSize); !s.ok()) return s;
  In f(std::string_view(footer, kFooterSize));
  const uint64_t dir_offset = f.Fixed64();
  const uint32_t dir_len = f.Fixed32();
  const uint32_t dir_crc = f.Fixed32();
  const uint8_t version = f.U8();
  const std::string_view reserved = f.Take(3);
  const std::string_view m = f.Take(4);
  if (!f.ok() || m != std::string_view(magic, 4) || reserved != std::string_view("\0\0\0", 3)) {
    return DataLoss(path, footer_at, "bad footer");
  }
  if (version != header_version) return DataLoss(path, footer_at, "footer version mismatch");
  dir->version = version;
  if (dir_offset < kHeaderSize || dir_offset + dir_len != footer_at ||
      dir_len < kDirHeaderSize) {
    return DataLoss(path, footer_at, "bad directory position");
  }
  std::string buf(dir_len, '\0');
  if (absl::Status s = PreadExact(fd, path, dir_offset, buf.data(), dir_len); !s.ok()) return s;
  if (wal::crc32c::Value(buf) != dir_crc) return DataLoss(path, dir_offset, "directory CRC mismatch");
  In d(buf);
  dir->groups = d.Fixed32();
  dir->columns = d.Fixed32();
  const uint32_t n = d.Fixed32();
  dir->min_start = d.Fixed64();
  if (!d.ok() || d.left() != static_cast<uint64_t>(n) * kDirEntrySize) {
    return DataLoss(path, dir_offset, "bad directory length");
  }
  dir->chunks.resize(n);
  for (ChunkRef& c : dir->chunks) {
    c.offset = d.Fixed64();
    c.compressed = d.Fixed32();
    c.raw = d.Fixed32();
    c.crc = d.Fixed32();
    if (c.offset < kHeaderSize || c.offset + c.compressed > dir_offset || c.raw > kMaxChunkRaw) {
      return DataLoss(path, dir_offset, "chunk outside the file");
    }
  }
  return absl::OkStatus();
}

// Checks and decompresses one chunk whose compressed bytes are `comp`.
absl::StatusOr<std::string> Decompress(const std::string& path, const ChunkRef& c,
                                       std::string_view comp) {
  if (wal::crc32c::Value(comp) != c.crc) return DataLoss(path, c.offset, "chunk CRC mismatch");
  std::string raw(c.raw, '\0');
  const size_t n = ZSTD_decompress(raw.data(), raw.size(), comp.data(), comp.size());
  if (ZSTD_isError(n) || n != c.raw) return DataLoss(path, c.offset, "chunk does not decompress");
  return raw;
}

absl::StatusOr<std::string> ReadChunk(int fd, const std::string& path, const ChunkRef& c) {
  std::string comp(c.compressed, '\0');
  if (absl::Status s = PreadExact(fd, path, c.offset, comp.data(), comp.size()); !s.ok()) return s;
  return Decompress(path, c, comp);
}

// ---------------------------------------------------------------------------
// Writer: the strings dictionary.

// The strings of one row group with their use counts: which of them join the
// block's dictionary is decided per row group, once it is complete.
class LocalStrings {
 public:
  void Use(std::string_view s) {
    if (!s.empty()) ++map_[AbslView(s)].uses;
  }
  void Force(std::string_view s) {
    if (s.empty()) return;
    Info& i = map_[AbslView(s)];
    ++i.uses;
    i.forced = true;
  }
  void Clear() { map_.clear(); }

  struct Info {
    uint32_t uses = 0;
    bool forced = false;
  };
  const absl::flat_hash_map<absl::string_view, Info>& map() const { return map_; }

 private:
  absl::flat_hash_map<absl::string_view, Info> map_;
};

// The block's dictionary, grown row group by row group: id 0 is "", ids are
// handed out in the order strings join (within a row group, the most used
// first). It owns its strings.
class Dict {
 public:
  Dict() { strings_.emplace_back(); }
  std::optional<uint32_t> Find(std::string_view s) const {
    if (s.empty()) return 0;
    auto it = ids_.find(AbslView(s));
    if (it == ids_.end()) return std::nullopt;
    return it->second;
  }
  // The dictionary id of `s`, 0 if it is "" or not in the dictionary.
  uint32_t Id(std::string_view s) const {
    if (s.empty()) return 0;
    auto it = ids_.find(AbslView(s));
    return it == ids_.end() ? 0 : it->second;
  }
  uint32_t Add(std::string_view s) {
    std::string_view owned = arena_.Copy(s);
    const uint32_t id = static_cast<uint32_t>(strings_.size());
    strings_.push_back(owned);
    ids_.emplace(AbslView(owned), id);
    bytes_ += s.size() + 32;
    return id;
  }
  // Strings used at least twice (or forced) join, as long as there is room.
  void Absorb(const LocalStrings& local, uint64_t max_bytes) {
    std::vector<std::pair<absl::string_view, LocalStrings::Info>> in;
    for (const auto& [s, info] : local.map()) {
      if (!(info.forced || (info.uses >= 2 && bytes_ < max_bytes))) continue;
      if (ids_.contains(s)) continue;
      in.emplace_back(s, info);
    }
    std::sort(in.begin(), in.end(), [](const auto& a, const auto& b) {
      return a.second.uses != b.second.uses ? a.second.uses > b.second.uses : a.first < b.first;
    });
    for (const auto& [s, info] : in) Add(StdView(s));
  }
  // A string reference: 2*id, or 2*length+1 with the bytes in the tail.
  void Put(Out& o, std::string_view s) const {
    const uint32_t id = Id(s);
    if (id != 0 || s.empty()) {
      o.Varint(static_cast<uint64_t>(id) << 1);
    } else {
      o.Varint((static_cast<uint64_t>(s.size()) << 1) | 1);
      o.Tail(s.data(), s.size());
    }
  }
  const std::vector<std::string_view>& strings() const { return strings_; }
  uint64_t bytes() const { return bytes_; }

 private:
  SpanBatch arena_;
  std::vector<std::string_view> strings_;
  absl::flat_hash_map<absl::string_view, uint32_t> ids_;
  uint64_t bytes_ = 0;
};

void CountAttrs(const SpanBatch& b, Range r, LocalStrings& t);
void CountValue(const SpanBatch& b, const AnyValue& v, LocalStrings& t) {
  switch (v.type) {
    case ValueType::kString:
    case ValueType::kBytes:
      t.Use(v.bytes);
      break;
    case ValueType::kArray:
      for (uint32_t i = 0; i < v.children.count; ++i) {
        CountValue(b, b.array_items[v.children.first + i], t);
      }
      break;
    case ValueType::kKvList:
      CountAttrs(b, v.children, t);
      break;
    default:
      break;
  }
}
void CountAttrs(const SpanBatch& b, Range r, LocalStrings& t) {
  for (uint32_t i = 0; i < r.count; ++i) {
    const KeyValue& kv = b.attributes[r.first + i];
    t.Force(kv.key);
    CountValue(b, kv.value, t);
  }
}

void PutAttrs(Out& o, const SpanBatch& b, Range r, const Dict& t);
void PutValue(Out& o, const SpanBatch& b, const AnyValue& v, const Dict& t) {
  switch (v.type) {
    case ValueType::kEmpty:
      break;
    case ValueType::kString:
    case ValueType::kBytes:
      t.Put(o, v.bytes);
      break;
    case ValueType::kBool:
      o.U8(v.bool_value ? 1 : 0);
      break;
    case ValueType::kInt:
      o.Zigzag(v.int_value);
      break;
    case ValueType::kDouble: {
      uint64_t bits;
      std::memcpy(&bits, &v.double_value, 8);
      o.Fixed64(bits);
      break;
    }
    case ValueType::kArray:
      o.Varint(v.children.count);
      for (uint32_t i = 0; i < v.children.count; ++i) {
        const AnyValue& item = b.array_items[v.children.first + i];
        o.U8(static_cast<uint8_t>(item.type));
        PutValue(o, b, item, t);
      }
      break;
    case ValueType::kKvList:
      PutAttrs(o, b, v.children, t);
      break;
  }
}
void PutAttrs(Out& o, const SpanBatch& b, Range r, const Dict& t) {
  o.Varint(r.count);
  for (uint32_t i = 0; i < r.count; ++i) {
    const KeyValue& kv = b.attributes[r.first + i];
    o.Varint((static_cast<uint64_t>(t.Id(kv.key)) << 3) | static_cast<uint8_t>(kv.value.type));
    PutValue(o, b, kv.value, t);
  }
}

// Content of attributes with the strings themselves (not references): the
// key under which resources and scopes are deduplicated.
void CanonAttrs(Out& o, const SpanBatch& b, Range r);
void CanonValue(Out& o, const SpanBatch& b, const AnyValue& v) {
  o.U8(static_cast<uint8_t>(v.type));
  switch (v.type) {
    case ValueType::kString:
    case ValueType::kBytes:
      o.Varint(v.bytes.size());
      o.Bytes(v.bytes.data(), v.bytes.size());
      break;
    case ValueType::kArray:
      o.Varint(v.children.count);
      for (uint32_t i = 0; i < v.children.count; ++i) {
        CanonValue(o, b, b.array_items[v.children.first + i]);
      }
      break;
    case ValueType::kKvList:
      CanonAttrs(o, b, v.children);
      break;
    case ValueType::kBool:
      o.U8(v.bool_value ? 1 : 0);
      break;
    case ValueType::kInt:
      o.Zigzag(v.int_value);
      break;
    case ValueType::kDouble: {
      uint64_t bits;
      std::memcpy(&bits, &v.double_value, 8);
      o.Fixed64(bits);
      break;
    }
    case ValueType::kEmpty:
      break;
  }
}
void CanonAttrs(Out& o, const SpanBatch& b, Range r) {
  o.Varint(r.count);
  for (uint32_t i = 0; i < r.count; ++i) {
    const KeyValue& kv = b.attributes[r.first + i];
    o.Varint(kv.key.size());
    o.Bytes(kv.key.data(), kv.key.size());
    CanonValue(o, b, kv.value);
  }
}
void CanonString(Out& o, std::string_view s) {
  o.Varint(s.size());
  o.Bytes(s.data(), s.size());
}

// Deep copy of attributes from one batch to another.
Range CopyAttrs(const SpanBatch& src, Range r, SpanBatch* dst, bool own);
AnyValue CopyValue(const SpanBatch& src, const AnyValue& v, SpanBatch* dst, bool own) {
  switch (v.type) {
    case ValueType::kString:
      return AnyValue::String(own ? dst->Copy(v.bytes) : v.bytes);
    case ValueType::kBytes:
      return AnyValue::Bytes(own ? dst->Copy(v.bytes) : v.bytes);
    case ValueType::kArray: {
      const uint32_t first = static_cast<uint32_t>(dst->array_items.size());
      dst->array_items.resize(first + v.children.count);
      for (uint32_t i = 0; i < v.children.count; ++i) {
        AnyValue item = CopyValue(src, src.array_items[v.children.first + i], dst, own);
        dst->array_items[first + i] = item;
      }
      return AnyValue::Array({first, v.children.count});
    }
    case ValueType::kKvList:
      return AnyValue::KvList(CopyAttrs(src, v.children, dst, own));
    default:
      return v;
  }
}
Range CopyAttrs(const SpanBatch& src, Range r, SpanBatch* dst, bool own) {
  const uint32_t first = static_cast<uint32_t>(dst->attributes.size());
  dst->attributes.resize(first + r.count);
  for (uint32_t i = 0; i < r.count; ++i) {
    const KeyValue& kv = src.attributes[r.first + i];
    AnyValue v = CopyValue(src, kv.value, dst, own);
    dst->attributes[first + i] = {own ? dst->Copy(kv.key) : kv.key, v};
  }
  return {first, r.count};
}

// Columns holding string references (written as main part + tail).
bool HasStrings(uint32_t column) {
  return column == kNames || column == kStatusMessages || column == kTraceStates ||
         column == kAttributes || column == kEvents || column == kLinks;
}

bool IsSpecialTag(std::string_view key) {
  return key == "error" || key == "span.kind" || key == "otel.status_code";
}

// The text a tag search compares an attribute value with (as SpanMatches).
std::string_view TagText(const SpanBatch& b, const AnyValue& v, std::string* tmp) {
  if (v.type == ValueType::kString) return v.bytes;
  *tmp = model::ValueToString(b, v);
  return *tmp;
}

// What the attribute filters hold for key=text: the text's xxh3 seeded with
// the key's, so that the same text under two keys hashes apart.
uint64_t AttrHash(std::string_view key, std::string_view text) {
  return XXH3_64bits_withSeed(text.data(), text.size(), XXH3_64bits(key.data(), key.size()));
}

// Filter blocks (of 256 bits) for `entries` distinct pairs.
uint32_t FilterBlocksFor(size_t entries, double bits_per_entry) {
  const double bits = std::ceil(static_cast<double>(entries) * bits_per_entry);
  return static_cast<uint32_t>(std::clamp<double>(std::ceil(bits / 256), 1, 1u << 24));
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return absl::EqualsIgnoreCase(AbslView(a), AbslView(b));
}

// The status/kind part of a tag search (as TagMatches in head.cc): whether
// key=value holds by the span's kind or status alone.
bool SpecialTagMatches(SpanKind kind, model::StatusCode status, std::string_view key,
                       std::string_view value) {
  if (key == "error") {
    return (value == "true") == (status == model::StatusCode::kError);
  } else if (key == "span.kind") {
    std::string_view k = model::SpanKindShortName(kind);
    if (k.empty()) k = "unspecified";
    return EqualsIgnoreCase(k, value);
  } else if (key == "otel.status_code") {
    std::string_view code = model::StatusCodeName(status);
    code.remove_prefix(sizeof("STATUS_CODE_") - 1);
    return EqualsIgnoreCase(code, value);
  }
  return false;
}

// Whether an attribute of `attrs` is key=value (as TagMatches in head.cc).
bool AttributeMatches(const SpanBatch& b, Range attrs, std::string_view key,
                      std::string_view value) {
  for (uint32_t i = 0; i < attrs.count; ++i) {
    const model::KeyValue& kv = b.attributes[attrs.first + i];
    if (kv.key != key) continue;
    if (kv.value.type == ValueType::kString) {
      if (kv.value.bytes == value) return true;
    } else if (model::ValueToString(b, kv.value) == value) {
      return true;
    }
  }
  return false;
}

// ---------------------------------------------------------------------------
// Row-group statistics (index.blk).

// Threads one block search uses: one per core, at most 4, and at least 4
// row groups to read for each (a thread costs tens of microseconds; a row
// group about a millisecond).
size_t SearchWorkers(size_t row_groups) {
  static const size_t cores = std::max(1u, std::thread::hardware_concurrency());
  return std::clamp<size_t>(row_groups / 4, 1, std::min<size_t>(cores, 4));
}

struct Triple {
  uint32_t service = 0;
  uint32_t name = 0;
  uint8_t kind = 0;
  auto operator<=>(const Triple&) const = default;
};

struct RowGroupStats {
  uint32_t spans = 0;
  uint32_t traces = 0;
  uint64_t min_start = 0, max_start = 0;
  uint64_t min_duration = 0, max_duration = 0;
  std::vector<uint32_t> services;  // sorted distinct string ids
  std::vector<uint32_t> names;
  std::vector<Triple> triples;  // sorted distinct
  bool operator==(const RowGroupStats&) const = default;
};

void PutSortedIds(Out& o, const std::vector<uint32_t>& ids) {
  o.Varint(ids.size());
  uint32_t prev = 0;
  for (uint32_t id : ids) {
    o.Varint(id - prev);
    prev = id;
  }
}
bool ReadSortedIds(In& in, std::vector<uint32_t>* ids) {
  const uint32_t n = in.Count();
  ids->resize(n);
  uint64_t prev = 0;
  for (uint32_t i = 0; i < n; ++i) {
    prev += in.Varint();
    if (prev > UINT32_MAX || (i > 0 && prev == (*ids)[i - 1])) return false;
    (*ids)[i] = static_cast<uint32_t>(prev);
  }
  return in.ok();
}

void PutStats(Out& o, const std::vector<RowGroupStats>& stats, uint64_t block_min) {
  o.Varint(stats.size());
  for (const RowGroupStats& s : stats) {
    o.Varint(s.spans);
    o.Varint(s.traces);
    o.Varint(s.min_start - block_min);
    o.Varint(s.max_start - s.min_start);
    o.Varint(s.min_duration);
    o.Varint(s.max_duration - s.min_duration);
    PutSortedIds(o, s.services);
    PutSortedIds(o, s.names);
    o.Varint(s.triples.size());
    for (const Triple& t : s.triples) {
      o.Varint(t.service);
      o.Varint(t.name);
      o.U8(t.kind);
    }
  }
}

bool ReadStats(std::string_view raw, uint64_t block_min, std::vector<RowGroupStats>* stats) {
  In in(raw);
  const uint32_t n = in.Count();
  stats->resize(n);
  for (RowGroupStats& s : *stats) {
    s.spans = in.Varint32();
    s.traces = in.Varint32();
    s.min_start = block_min + in.Varint();
    s.max_start = s.min_start + in.Varint();
    s.min_duration = in.Varint();
    s.max_duration = s.min_duration + in.Varint();
    if (!ReadSortedIds(in, &s.services) || !ReadSortedIds(in, &s.names)) return false;
    const uint32_t nt = in.Count(3);
    s.triples.resize(nt);
    for (Triple& t : s.triples) {
      t.service = in.Varint32();
      t.name = in.Varint32();
      t.kind = in.U8();
    }
    if (s.spans == 0 || s.traces == 0 || s.traces > s.spans) return false;
  }
  return in.done();
}

// ---------------------------------------------------------------------------
// meta.json

std::string MetaJson(const BlockMeta& m, uint64_t data_bytes, uint64_t index_bytes) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.StartObject();
  w.Key("id");
  w.String(m.id.data(), static_cast<rapidjson::SizeType>(m.id.size()));
  w.Key("format_version");
  w.Uint(m.format_version);
  w.Key("min_start_nano");
  w.Uint64(m.min_start_nano);
  w.Key("max_start_nano");
  w.Uint64(m.max_start_nano);
  w.Key("spans");
  w.Uint64(m.spans);
  w.Key("traces");
  w.Uint64(m.traces);
  w.Key("bytes");
  w.Uint64(m.bytes);
  w.Key("data_bytes");
  w.Uint64(data_bytes);
  w.Key("index_bytes");
  w.Uint64(index_bytes);
  w.Key("row_groups");
  w.Uint(m.row_groups);
  w.Key("level");
  w.Uint(m.level);
  w.Key("wal_seq_max");
  w.Uint64(m.wal_seq_max);
  w.Key("created_unix_nano");
  w.Int64(m.created_unix_nano);
  w.Key("compacted_from");
  w.StartArray();
  for (const std::string& s : m.compacted_from) {
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  }
  w.EndArray();
  w.Key("services");
  w.StartArray();
  for (const std::string& s : m.services) {
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  }
  w.EndArray();
  w.Key("operations");
  w.StartArray();
  for (const auto& [service, op] : m.operations) {
    w.StartObject();
    w.Key("service");
    w.String(service.data(), static_cast<rapidjson::SizeType>(service.size()));
    w.Key("name");
    w.String(op.name.data(), static_cast<rapidjson::SizeType>(op.name.size()));
    w.Key("kind");
    w.Uint(static_cast<uint32_t>(op.kind));
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize());
}

absl::Status ParseMetaJson(const std::string& path, std::string_view text, BlockMeta* m,
                           uint64_t* data_bytes, uint64_t* index_bytes) {
  rapidjson::Document d;
  d.Parse(text.data(), text.size());
  auto bad = [&](std::string_view what) {
    return absl::DataLossError(absl::StrCat(path, ": ", AbslView(what)));
  };
  if (d.HasParseError() || !d.IsObject()) return bad("not a JSON object");
  auto u64 = [&](const char* key, uint64_t* out) {
    auto it = d.FindMember(key);
    if (it == d.MemberEnd() || !it->value.IsUint64()) return false;
    *out = it->value.GetUint64();
    return true;
  };
  uint64_t v = 0;
  auto id = d.FindMember("id");
  if (id == d.MemberEnd() || !id->value.IsString()) return bad("missing id");
  m->id.assign(id->value.GetString(), id->value.GetStringLength());
  if (!u64("format_version", &v) || v < kMinVersion || v > kVersion) return bad("unknown format_version");
  m->format_version = static_cast<uint32_t>(v);
  if (!u64("min_start_nano", &m->min_start_nano) || !u64("max_start_nano", &m->max_start_nano) ||
      !u64("spans", &m->spans) || !u64("traces", &m->traces) || !u64("bytes", &m->bytes) ||
      !u64("data_bytes", data_bytes) || !u64("index_bytes", index_bytes) ||
      !u64("wal_seq_max", &m->wal_seq_max)) {
    return bad("missing field");
  }
  if (!u64("row_groups", &v) || v > UINT32_MAX) return bad("bad row_groups");
  m->row_groups = static_cast<uint32_t>(v);
  if (!u64("level", &v) || v > UINT32_MAX) return bad("bad level");
  m->level = static_cast<uint32_t>(v);
  auto created = d.FindMember("created_unix_nano");
  if (created == d.MemberEnd() || !created->value.IsInt64()) return bad("bad created_unix_nano");
  m->created_unix_nano = created->value.GetInt64();
  if (auto from = d.FindMember("compacted_from"); from != d.MemberEnd()) {
    if (!from->value.IsArray()) return bad("bad compacted_from");
    for (const auto& s : from->value.GetArray()) {
      if (!s.IsString()) return bad("bad compacted_from");
      m->compacted_from.emplace_back(s.GetString(), s.GetStringLength());
    }
  }
  auto services = d.FindMember("services");
  if (services == d.MemberEnd() || !services->value.IsArray()) return bad("bad services");
  for (const auto& s : services->value.GetArray()) {
    if (!s.IsString()) return bad("bad services");
    m->services.emplace_back(s.GetString(), s.GetStringLength());
  }
  auto ops = d.FindMember("operations");
  if (ops == d.MemberEnd() || !ops->value.IsArray()) return bad("bad operations");
  for (const auto& o : ops->value.GetArray()) {
    if (!o.IsObject()) return bad("bad operations");
    auto s = o.FindMember("service");
    auto n = o.FindMember("name");
    auto k = o.FindMember("kind");
    if (s == o.MemberEnd() || n == o.MemberEnd() || k == o.MemberEnd() || !s->value.IsString() ||
        !n->value.IsString() || !k->value.IsUint() || k->value.GetUint() > 255) {
      return bad("bad operations");
    }
    m->operations.push_back(
        {std::string(s->value.GetString(), s->value.GetStringLength()),
         Operation{std::string(n->value.GetString(), n->value.GetStringLength()),
                   static_cast<SpanKind>(k->value.GetUint())}});
  }
  return absl::OkStatus();
}

// Trace-id column and page parsing (the reader, and the writer's bloom filter).

bool ParseTraceColumn(std::string_view raw, std::vector<TraceId>* ids,
                      std::vector<uint32_t>* counts) {
  In in(raw);
  const uint32_t n = in.Count(17);
  ids->resize(n);
  counts->resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    std::string_view b = in.Take(16);
    if (!in.ok()) return false;
    std::memcpy((*ids)[i].data(), b.data(), 16);
    if (i > 0 && !((*ids)[i - 1] < (*ids)[i])) return false;
  }
  for (uint32_t i = 0; i < n; ++i) {
    (*counts)[i] = in.Varint32();
    if ((*counts)[i] == 0) return false;
  }
  return in.done();
}

struct Page {
  TraceId first{};
  uint32_t count = 0;
};

bool ParsePage(std::string_view raw, uint32_t expect, uint32_t groups,
               std::vector<std::pair<TraceId, uint32_t>>* out) {
  In in(raw);
  const uint32_t n = in.Count(17);
  if (n != expect) return false;
  out->resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    std::string_view b = in.Take(16);
    if (!in.ok()) return false;
    std::memcpy((*out)[i].first.data(), b.data(), 16);
    if (i > 0 && !((*out)[i - 1].first < (*out)[i].first)) return false;
  }
  uint64_t group = 0;
  for (uint32_t i = 0; i < n; ++i) {
    group += in.Varint();
    if (group >= groups) return false;
    (*out)[i].second = static_cast<uint32_t>(group);
  }
  return in.done();
}

// ---------------------------------------------------------------------------
// Writer

class BlockWriterImpl final : public BlockWriter {
 public:
  BlockWriterImpl(std::string blocks_dir, BlockMeta meta, BlockWriterOptions options)
      : blocks_dir_(std::move(blocks_dir)), meta_in_(std::move(meta)), options_(options) {}
  ~BlockWriterImpl() override {
    if (!published_ && !tmp_dir_.empty()) RemoveDirBestEffort(tmp_dir_);
    if (cctx_ != nullptr) ZSTD_freeCCtx(cctx_);
  }

  absl::Status Init();
  absl::Status AddTrace(std::span<const SpanRef> spans) override;
  absl::StatusOr<BlockMeta> Finish() override;
  uint64_t buffered_spans() const override { return rg_.size(); }
  uint64_t max_buffered_spans() const override { return max_buffered_; }

 private:
  struct KeyState {
    bool overflow = false;  // too many distinct texts: no postings for this key
    absl::flat_hash_map<uint32_t, std::vector<uint32_t>> groups;  // text id -> row groups
  };
  struct PageRef {
    TraceId first{};
    uint32_t count = 0;
    ChunkRef chunk;
  };

  absl::Status FlushRowGroup();
  absl::Status WritePage();
  uint32_t InternScope(const SpanBatch& b, uint32_t scope);
  absl::StatusOr<BlockMeta> FinishImpl();
  absl::Status Failed(absl::Status s) {
    if (status_.ok()) status_ = s;
    return s;
  }
  // Without filters the writer writes version 1, the layout before them.
  bool filters() const { return options_.attribute_filter_bits_per_entry > 0; }
  uint8_t version() const { return filters() ? kVersion : 1; }

  const std::string blocks_dir_;
  const BlockMeta meta_in_;
  const BlockWriterOptions options_;
  uint64_t random_ = 0;
  std::string tmp_dir_;
  bool published_ = false;
  bool finished_ = false;
  absl::Status status_;  // the first failure; the writer refuses everything after it
  ZSTD_CCtx* cctx_ = nullptr;
  ChunkSink data_;
  ChunkSink index_;

  // The current row group.
  std::vector<SpanRef> rg_;
  uint64_t max_buffered_ = 0;
  bool have_last_ = false;
  TraceId last_trace_{};

  // Block-wide, growing with distinct values.
  Dict dict_;
  SpanBatch tables_;  // the block's resources and scopes (owned copies)
  absl::flat_hash_map<std::string, uint32_t> resource_by_content_;
  absl::flat_hash_map<std::string, uint32_t> scope_by_content_;
  std::vector<uint32_t> resource_service_;  // block resource -> service name id
  std::vector<uint32_t> scope_resource_;    // block scope -> block resource
  absl::flat_hash_map<uint32_t, KeyState> keys_;  // attribute key id -> postings
  absl::flat_hash_set<std::tuple<uint32_t, uint32_t, uint8_t>> ops_;  // (service, name, kind) ids

  // Block-wide, growing with row groups (or pages of 1024 traces).
  std::vector<RowGroupStats> stats_;
  std::vector<ChunkRef> group_chunks_;  // kColumns per row group, in order
  std::vector<PageRef> pages_;
  std::vector<std::pair<TraceId, uint32_t>> page_;  // the trace-id page being filled
  // Attribute filters (version 2): blocks per row group, their words in order.
  std::vector<uint32_t> filter_blocks_;
  std::vector<uint32_t> filter_words_;
  uint64_t spans_ = 0;
  uint64_t traces_ = 0;
  uint64_t min_start_ = UINT64_MAX;
  uint64_t max_start_ = 0;
};

absl::Status BlockWriterImpl::Init() {
  std::random_device rd;
  random_ = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  if (::mkdir(blocks_dir_.c_str(), 0755) != 0 && errno != EEXIST) {
    return ErrnoStatus("mkdir", blocks_dir_);
  }
  // The id starts with the block's smallest span start, known at Finish.
  const std::string tmp = absl::StrFormat("%s/tmp-%016x", blocks_dir_, random_);
  if (::mkdir(tmp.c_str(), 0755) != 0) return ErrnoStatus("mkdir", tmp);
  tmp_dir_ = tmp;
  cctx_ = ZSTD_createCCtx();
  if (cctx_ == nullptr) return absl::ResourceExhaustedError("zstd: cannot create a context");
  if (absl::Status s = data_.Open(tmp_dir_ + "/data.blk", kDataMagic, cctx_, options_.zstd_level,
                                  version());
      !s.ok()) {
    return s;
  }
  return index_.Open(tmp_dir_ + "/index.blk", kIndexMagic, cctx_, options_.zstd_level, version());
}

absl::Status BlockWriterImpl::AddTrace(std::span<const SpanRef> spans) {
  if (!status_.ok()) return status_;
  if (finished_) return absl::FailedPreconditionError("BlockWriter: AddTrace after Finish");
  if (spans.empty()) return absl::OkStatus();
  const TraceId trace = spans[0].batch->trace_id[spans[0].row];
  if (have_last_ && !(last_trace_ < trace)) {
    return absl::InvalidArgumentError("BlockWriter: traces not in ascending trace-id order");
  }
  const size_t begin = rg_.size();
  absl::flat_hash_set<std::pair<SpanId, SpanKind>> seen;
  const bool small = spans.size() <= 16;
  for (const SpanRef& r : spans) {
    const SpanBatch& b = *r.batch;
    if (b.trace_id[r.row] != trace) {
      rg_.resize(begin);
      return absl::InvalidArgumentError("BlockWriter: AddTrace given spans of several traces");
    }
    if (static_cast<uint8_t>(b.kind[r.row]) > 15 ||
        static_cast<uint8_t>(b.status_code[r.row]) > 15) {
      rg_.resize(begin);
      return absl::InvalidArgumentError("span kind or status code out of range");
    }
    // A span repeated with the same id and kind is kept once: the first.
    bool dup = false;
    if (small) {
      for (size_t i = begin; i < rg_.size() && !dup; ++i) {
        const SpanBatch& o = *rg_[i].batch;
        dup = o.span_id[rg_[i].row] == b.span_id[r.row] && o.kind[rg_[i].row] == b.kind[r.row];
      }
    } else {
      dup = !seen.insert({b.span_id[r.row], b.kind[r.row]}).second;
    }
    if (!dup) rg_.push_back(r);
  }
  std::stable_sort(rg_.begin() + static_cast<std::ptrdiff_t>(begin), rg_.end(),
                   [](const SpanRef& a, const SpanRef& b) {
                     return a.batch->start_unix_nano[a.row] < b.batch->start_unix_nano[b.row];
                   });
  have_last_ = true;
  last_trace_ = trace;
  max_buffered_ = std::max<uint64_t>(max_buffered_, rg_.size());
  if (rg_.size() >= std::max<uint32_t>(1, options_.row_group_spans)) return FlushRowGroup();
  return absl::OkStatus();
}

uint32_t BlockWriterImpl::InternScope(const SpanBatch& b, uint32_t scope) {
  const model::Scope& s = b.scopes[scope];
  const model::Resource& r = b.resources[s.resource];
  Out rk;
  CanonString(rk, r.service_name);
  CanonString(rk, r.schema_url);
  rk.Varint(r.dropped_attributes_count);
  CanonAttrs(rk, b, r.attributes);
  auto [rit, rfresh] = resource_by_content_.try_emplace(
      std::move(rk.str()), static_cast<uint32_t>(tables_.resources.size()));
  if (rfresh) {
    model::Resource copy;
    copy.service_name = tables_.Copy(r.service_name);
    copy.schema_url = tables_.Copy(r.schema_url);
    copy.dropped_attributes_count = r.dropped_attributes_count;
    copy.attributes = CopyAttrs(b, r.attributes, &tables_, true);
    tables_.resources.push_back(copy);
  }
  const uint32_t resource = rit->second;
  Out sk;
  sk.Varint(resource);
  CanonString(sk, s.name);
  CanonString(sk, s.version);
  CanonString(sk, s.schema_url);
  sk.Varint(s.dropped_attributes_count);
  CanonAttrs(sk, b, s.attributes);
  auto [sit, sfresh] = scope_by_content_.try_emplace(std::move(sk.str()),
                                                     static_cast<uint32_t>(tables_.scopes.size()));
  if (sfresh) {
    model::Scope copy;
    copy.resource = resource;
    copy.name = tables_.Copy(s.name);
    copy.version = tables_.Copy(s.version);
    copy.schema_url = tables_.Copy(s.schema_url);
    copy.dropped_attributes_count = s.dropped_attributes_count;
    copy.attributes = CopyAttrs(b, s.attributes, &tables_, true);
    tables_.scopes.push_back(copy);
    scope_resource_.push_back(resource);
  }
  return sit->second;
}

absl::Status BlockWriterImpl::FlushRowGroup() {
  const uint32_t group = static_cast<uint32_t>(stats_.size());
  const size_t n = rg_.size();
  LocalStrings local;

  // 1. The spans' scopes (and resources) in the block's tables.
  const size_t resources_before = tables_.resources.size();
  const size_t scopes_before = tables_.scopes.size();
  std::vector<uint32_t> span_scope(n);
  {
    absl::flat_hash_map<std::pair<const SpanBatch*, uint32_t>, uint32_t> cache;
    for (size_t i = 0; i < n; ++i) {
      const SpanBatch& b = *rg_[i].batch;
      const uint32_t scope = b.scope[rg_[i].row];
      auto [it, fresh] = cache.try_emplace({&b, scope}, 0);
      if (fresh) it->second = InternScope(b, scope);
      span_scope[i] = it->second;
    }
  }
  for (size_t r = resources_before; r < tables_.resources.size(); ++r) {
    const model::Resource& res = tables_.resources[r];
    local.Force(res.service_name);
    local.Use(res.schema_url);
    CountAttrs(tables_, res.attributes, local);
  }
  for (size_t s = scopes_before; s < tables_.scopes.size(); ++s) {
    const model::Scope& sc = tables_.scopes[s];
    local.Use(sc.name);
    local.Use(sc.version);
    local.Use(sc.schema_url);
    CountAttrs(tables_, sc.attributes, local);
  }

  // 2. The strings of the spans.
  for (const SpanRef& ref : rg_) {
    const SpanBatch& b = *ref.batch;
    const uint32_t row = ref.row;
    local.Force(b.name[row]);
    local.Use(b.trace_state[row]);
    local.Use(b.status_message[row]);
    CountAttrs(b, b.span_attributes[row], local);
    for (uint32_t e = 0; e < b.span_events[row].count; ++e) {
      const model::Event& ev = b.events[b.span_events[row].first + e];
      local.Use(ev.name);
      CountAttrs(b, ev.attributes, local);
    }
    for (uint32_t l = 0; l < b.span_links[row].count; ++l) {
      const model::Link& ln = b.links[b.span_links[row].first + l];
      local.Use(ln.trace_state);
      CountAttrs(b, ln.attributes, local);
    }
  }

  // 3. Postings: the texts of each attribute key (span attributes and the
  // attributes of the resources used) in this row group; a key keeps its
  // postings while the block has at most postings_max_values texts for it,
  // and those texts join the dictionary.
  absl::flat_hash_set<uint32_t> used_resources;
  for (uint32_t s : span_scope) used_resources.insert(scope_resource_[s]);
  struct LocalKey {
    absl::flat_hash_set<absl::string_view> texts;
    bool overflow = false;
  };
  absl::flat_hash_map<absl::string_view, LocalKey> local_keys;
  SpanBatch scratch;  // owns the text of non-string values
  std::string tmp;
  auto note = [&](const SpanBatch& b, Range r) {
    for (uint32_t i = 0; i < r.count; ++i) {
      const KeyValue& kv = b.attributes[r.first + i];
      LocalKey& lk = local_keys[AbslView(kv.key)];
      if (lk.overflow) continue;
      std::string_view text = TagText(b, kv.value, &tmp);
      if (lk.texts.contains(AbslView(text))) continue;
      if (lk.texts.size() >= options_.postings_max_values) {
        lk.overflow = true;
        lk.texts.clear();
        continue;
      }
      if (text.data() == tmp.data()) text = scratch.Copy(text);
      lk.texts.insert(AbslView(text));
    }
  };
  for (const SpanRef& ref : rg_) note(*ref.batch, ref.batch->span_attributes[ref.row]);
  for (uint32_t r : used_resources) note(tables_, tables_.resources[r].attributes);

  // 3b. The attribute filter: every distinct key=text of the span attributes
  // and of the resources used. Posted keys are in it too: a key posted now
  // may overflow in a later row group and then lose its postings.
  if (filters()) {
    std::vector<uint64_t> hashes;
    auto hash = [&](const SpanBatch& b, Range r) {
      for (uint32_t i = 0; i < r.count; ++i) {
        const KeyValue& kv = b.attributes[r.first + i];
        hashes.push_back(AttrHash(kv.key, TagText(b, kv.value, &tmp)));
      }
    };
    for (const SpanRef& ref : rg_) hash(*ref.batch, ref.batch->span_attributes[ref.row]);
    for (uint32_t r : used_resources) hash(tables_, tables_.resources[r].attributes);
    std::sort(hashes.begin(), hashes.end());
    hashes.erase(std::unique(hashes.begin(), hashes.end()), hashes.end());
    const uint32_t blocks =
        FilterBlocksFor(hashes.size(), options_.attribute_filter_bits_per_entry);
    const size_t at = filter_words_.size();
    filter_words_.resize(at + 8 * static_cast<size_t>(blocks));
    for (uint64_t h : hashes) FilterInsert(filter_words_.data() + at, blocks, h);
    filter_blocks_.push_back(blocks);
  }
  std::vector<std::pair<absl::string_view, bool>> decisions;  // (key, overflow)
  for (auto& [key, lk] : local_keys) {
    const KeyState* ks = nullptr;
    if (auto id = dict_.Find(StdView(key))) {
      if (auto it = keys_.find(*id); it != keys_.end()) ks = &it->second;
    }
    if (ks != nullptr && ks->overflow) continue;
    bool overflow = lk.overflow;
    if (!overflow) {
      size_t fresh = 0;
      for (absl::string_view text : lk.texts) {
        auto id = dict_.Find(StdView(text));
        if (!id || ks == nullptr || !ks->groups.contains(*id)) ++fresh;
      }
      overflow = (ks != nullptr ? ks->groups.size() : 0) + fresh > options_.postings_max_values;
    }
    if (!overflow) {
      for (absl::string_view text : lk.texts) local.Force(StdView(text));
    }
    decisions.emplace_back(key, overflow);
  }

  // 4. The dictionary grows.
  dict_.Absorb(local, options_.dictionary_max_bytes);
  for (size_t r = resource_service_.size(); r < tables_.resources.size(); ++r) {
    resource_service_.push_back(dict_.Id(tables_.resources[r].service_name));
  }
  for (const auto& [key, overflow] : decisions) {
    KeyState& ks = keys_[dict_.Id(StdView(key))];
    if (overflow) {
      ks.overflow = true;
      ks.groups = {};
    }
  }
  auto add_postings = [&](const SpanBatch& b, Range r) {
    for (uint32_t i = 0; i < r.count; ++i) {
      const KeyValue& kv = b.attributes[r.first + i];
      auto it = keys_.find(dict_.Id(kv.key));
      if (it == keys_.end() || it->second.overflow) continue;
      std::vector<uint32_t>& list = it->second.groups[dict_.Id(TagText(b, kv.value, &tmp))];
      if (list.empty() || list.back() != group) list.push_back(group);
    }
  };

  // 5. The columns.
  uint64_t rg_min = UINT64_MAX;
  for (const SpanRef& ref : rg_) rg_min = std::min(rg_min, ref.batch->start_unix_nano[ref.row]);
  Out cols[kColumns];
  RowGroupStats st;
  st.spans = static_cast<uint32_t>(n);
  st.min_start = st.min_duration = UINT64_MAX;
  absl::flat_hash_set<uint32_t> posted_resources;
  std::vector<TraceId> ids;
  std::vector<uint32_t> counts;
  absl::flat_hash_map<SpanId, uint32_t> index_in_trace;
  uint64_t prev_start = 0;
  for (size_t i = 0; i < n; ++i) {
    const SpanBatch& b = *rg_[i].batch;
    const uint32_t row = rg_[i].row;
    const uint64_t start = b.start_unix_nano[row];
    if (i == 0 || b.trace_id[row] != ids.back()) {
      ids.push_back(b.trace_id[row]);
      counts.push_back(0);
      page_.emplace_back(b.trace_id[row], group);
      if (page_.size() >= kPageIds) {
        if (absl::Status s = WritePage(); !s.ok()) return Failed(s);
      }
      index_in_trace.clear();
      for (size_t j = i; j < n && rg_[j].batch->trace_id[rg_[j].row] == b.trace_id[row]; ++j) {
        index_in_trace.try_emplace(rg_[j].batch->span_id[rg_[j].row],
                                   static_cast<uint32_t>(j - i));
      }
      cols[kStarts].Varint(start - rg_min);
    } else {
      cols[kStarts].Varint(start - prev_start);
    }
    prev_start = start;
    ++counts.back();
    cols[kSpanIds].Bytes(b.span_id[row].data(), 8);
    const SpanId& parent = b.parent_span_id[row];
    if (model::IsZero(parent)) {
      cols[kParents].Varint(0);
    } else if (auto p = index_in_trace.find(parent); p != index_in_trace.end()) {
      cols[kParents].Varint(2 + static_cast<uint64_t>(p->second));
    } else {
      cols[kParents].Varint(1);
      cols[kParentRaw].Bytes(parent.data(), 8);
    }
    cols[kDurations].Zigzag(static_cast<int64_t>(b.end_unix_nano[row] - start));
    dict_.Put(cols[kNames], b.name[row]);
    const uint32_t scope = span_scope[i];
    cols[kScopeIndex].Varint(scope);
    cols[kKindStatus].U8(static_cast<uint8_t>(static_cast<uint8_t>(b.kind[row]) |
                                              (static_cast<uint8_t>(b.status_code[row]) << 4)));
    dict_.Put(cols[kStatusMessages], b.status_message[row]);
    dict_.Put(cols[kTraceStates], b.trace_state[row]);
    cols[kFlags].Varint(b.flags[row]);
    cols[kDropped].Varint(b.dropped_attributes_count[row]);
    cols[kDropped].Varint(b.dropped_events_count[row]);
    cols[kDropped].Varint(b.dropped_links_count[row]);
    PutAttrs(cols[kAttributes], b, b.span_attributes[row], dict_);
    cols[kEvents].Varint(b.span_events[row].count);
    for (uint32_t e = 0; e < b.span_events[row].count; ++e) {
      const model::Event& ev = b.events[b.span_events[row].first + e];
      cols[kEvents].Zigzag(static_cast<int64_t>(ev.time_unix_nano - start));
      dict_.Put(cols[kEvents], ev.name);
      PutAttrs(cols[kEvents], b, ev.attributes, dict_);
      cols[kEvents].Varint(ev.dropped_attributes_count);
    }
    cols[kLinks].Varint(b.span_links[row].count);
    for (uint32_t l = 0; l < b.span_links[row].count; ++l) {
      const model::Link& ln = b.links[b.span_links[row].first + l];
      cols[kLinks].Bytes(ln.trace_id.data(), 16);
      cols[kLinks].Bytes(ln.span_id.data(), 8);
      dict_.Put(cols[kLinks], ln.trace_state);
      PutAttrs(cols[kLinks], b, ln.attributes, dict_);
      cols[kLinks].Varint(ln.dropped_attributes_count);
      cols[kLinks].Varint(ln.flags);
    }
    // Statistics and postings.
    const uint64_t duration = b.duration_nano(row);
    st.min_start = std::min(st.min_start, start);
    st.max_start = std::max(st.max_start, start);
    st.min_duration = std::min(st.min_duration, duration);
    st.max_duration = std::max(st.max_duration, duration);
    const uint32_t resource = scope_resource_[scope];
    const uint32_t service = resource_service_[resource];
    const uint32_t name = dict_.Id(b.name[row]);
    st.services.push_back(service);
    st.names.push_back(name);
    st.triples.push_back({service, name, static_cast<uint8_t>(b.kind[row])});
    add_postings(b, b.span_attributes[row]);
    if (posted_resources.insert(resource).second) {
      add_postings(tables_, tables_.resources[resource].attributes);
    }
  }
  cols[kTraceIds].Varint(ids.size());
  for (const TraceId& id : ids) cols[kTraceIds].Bytes(id.data(), 16);
  for (uint32_t c : counts) cols[kTraceIds].Varint(c);
  st.traces = static_cast<uint32_t>(ids.size());
  auto distinct = [](auto& v) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
  };
  distinct(st.services);
  distinct(st.names);
  distinct(st.triples);
  for (uint32_t c = 0; c < kColumns; ++c) {
    const std::string raw = HasStrings(c) ? cols[c].WithTail() : std::move(cols[c].str());
    absl::StatusOr<ChunkRef> ref = data_.Add(raw);
    if (!ref.ok()) return Failed(ref.status());
    group_chunks_.push_back(*ref);
  }
  for (const Triple& t : st.triples) ops_.insert({t.service, t.name, t.kind});
  min_start_ = std::min(min_start_, st.min_start);
  max_start_ = std::max(max_start_, st.max_start);
  spans_ += n;
  traces_ += ids.size();
  stats_.push_back(std::move(st));
  rg_.clear();  // releases the caller's batches
  return absl::OkStatus();
}

absl::Status BlockWriterImpl::WritePage() {
  Out page;
  page.Varint(page_.size());
  for (const auto& [id, group] : page_) page.Bytes(id.data(), 16);
  uint32_t prev = 0;
  for (const auto& [id, group] : page_) {
    page.Varint(group - prev);
    prev = group;
  }
  absl::StatusOr<ChunkRef> ref = index_.Add(page.str());
  if (!ref.ok()) return ref.status();
  pages_.push_back({page_.front().first, static_cast<uint32_t>(page_.size()), *ref});
  page_.clear();
  return absl::OkStatus();
}

absl::StatusOr<BlockMeta> BlockWriterImpl::Finish() {
  if (!status_.ok()) return status_;
  if (finished_) return absl::FailedPreconditionError("BlockWriter: Finish called twice");
  finished_ = true;
  absl::StatusOr<BlockMeta> meta = FinishImpl();
  if (!meta.ok()) status_ = meta.status();
  return meta;
}

absl::StatusOr<BlockMeta> BlockWriterImpl::FinishImpl() {
  if (!rg_.empty()) {
    if (absl::Status s = FlushRowGroup(); !s.ok()) return s;
  }
  if (spans_ == 0) return absl::InvalidArgumentError("BlockWriter: no spans");
  if (!page_.empty()) {
    if (absl::Status s = WritePage(); !s.ok()) return s;
  }

  // data.blk: the block-wide chunks after the row groups, then the directory
  // (chunks in their logical order: strings, resources, scopes, row groups).
  std::vector<ChunkRef> chunks(kBlockChunks);
  {
    const std::vector<std::string_view>& dict = dict_.strings();
    Out o;
    o.Varint(dict.size());
    for (std::string_view s : dict) o.Varint(s.size());
    for (std::string_view s : dict) o.Bytes(s.data(), s.size());
    absl::StatusOr<ChunkRef> ref = data_.Add(o.str());
    if (!ref.ok()) return ref.status();
    chunks[kStrings] = *ref;
  }
  {
    Out all;
    all.Varint(tables_.resources.size());
    for (const model::Resource& r : tables_.resources) {
      dict_.Put(all, r.service_name);
      dict_.Put(all, r.schema_url);
      all.Varint(r.dropped_attributes_count);
      PutAttrs(all, tables_, r.attributes, dict_);
    }
    absl::StatusOr<ChunkRef> ref = data_.Add(all.WithTail());
    if (!ref.ok()) return ref.status();
    chunks[kResources] = *ref;
  }
  {
    Out all;
    all.Varint(tables_.scopes.size());
    for (const model::Scope& s : tables_.scopes) {
      all.Varint(s.resource);
      dict_.Put(all, s.name);
      dict_.Put(all, s.version);
      dict_.Put(all, s.schema_url);
      all.Varint(s.dropped_attributes_count);
      PutAttrs(all, tables_, s.attributes, dict_);
    }
    absl::StatusOr<ChunkRef> ref = data_.Add(all.WithTail());
    if (!ref.ok()) return ref.status();
    chunks[kScopes] = *ref;
  }
  chunks.insert(chunks.end(), group_chunks_.begin(), group_chunks_.end());
  absl::StatusOr<uint64_t> data_bytes =
      data_.Finish(chunks, static_cast<uint32_t>(stats_.size()), kColumns, min_start_);
  if (!data_bytes.ok()) return data_bytes.status();

  // index.blk: the pages are written; the bloom filter is built from them,
  // read back one at a time.
  std::vector<ChunkRef> index_chunks(kIndexChunks);
  {
    uint64_t bits = 0;
    uint32_t k = 0;
    if (options_.bloom_bits_per_trace > 0) {
      const double want = std::ceil(static_cast<double>(traces_) * options_.bloom_bits_per_trace);
      bits = std::max<uint64_t>(64, (static_cast<uint64_t>(want) + 63) / 64 * 64);
      k = static_cast<uint32_t>(
          std::clamp(std::lround(options_.bloom_bits_per_trace * 0.6931), 1L, 30L));
    }
    std::vector<uint64_t> words(bits / 64);
    if (absl::Status s = index_.Flush(); !s.ok()) return s;
    std::vector<std::pair<TraceId, uint32_t>> entries;
    for (const PageRef& p : pages_) {
      if (k == 0) break;
      absl::StatusOr<std::string> raw = ReadChunk(index_.fd(), index_.path(), p.chunk);
      if (!raw.ok()) return raw.status();
      if (!ParsePage(*raw, p.count, static_cast<uint32_t>(stats_.size()), &entries)) {
        return absl::InternalError(absl::StrCat(index_.path(), ": a page written reads back bad"));
      }
      for (const auto& [id, group] : entries) {
        uint64_t h1, h2;
        BloomHashes(id.data(), &h1, &h2);
        for (uint32_t i = 0; i < k; ++i) {
          const uint64_t bit = (h1 + i * h2) % bits;
          words[bit / 64] |= uint64_t{1} << (bit % 64);
        }
      }
    }
    Out o;
    o.Varint(k);
    o.Varint(bits);
    for (uint64_t w : words) o.Fixed64(w);
    absl::StatusOr<ChunkRef> ref = index_.Add(o.str());
    if (!ref.ok()) return ref.status();
    index_chunks[kBloom] = *ref;
  }
  {
    Out o;
    PutStats(o, stats_, min_start_);
    absl::StatusOr<ChunkRef> ref = index_.Add(o.str());
    if (!ref.ok()) return ref.status();
    index_chunks[kStats] = *ref;
  }
  {
    std::vector<uint32_t> keys;
    for (const auto& [key, ks] : keys_) {
      if (!ks.overflow) keys.push_back(key);
    }
    std::sort(keys.begin(), keys.end());
    Out o;
    o.Varint(keys.size());
    for (uint32_t key : keys) {
      const KeyState& ks = keys_.at(key);
      std::vector<uint32_t> texts;
      texts.reserve(ks.groups.size());
      for (const auto& [text, groups] : ks.groups) texts.push_back(text);
      std::sort(texts.begin(), texts.end());
      o.Varint(key);
      o.Varint(texts.size());
      for (uint32_t text : texts) {
        const std::vector<uint32_t>& list = ks.groups.at(text);
        o.Varint(text);
        o.Varint(list.size());
        uint32_t prev = 0;
        for (uint32_t g : list) {
          o.Varint(g - prev);
          prev = g;
        }
      }
    }
    absl::StatusOr<ChunkRef> ref = index_.Add(o.str());
    if (!ref.ok()) return ref.status();
    index_chunks[kPostings] = *ref;
  }
  {
    Out o;
    o.Varint(pages_.size());
    for (const PageRef& p : pages_) {
      o.Bytes(p.first.data(), 16);
      o.Varint(p.count);
    }
    absl::StatusOr<ChunkRef> ref = index_.Add(o.str());
    if (!ref.ok()) return ref.status();
    index_chunks[kPageIndex] = *ref;
  }
  for (const PageRef& p : pages_) index_chunks.push_back(p.chunk);
  if (filters()) {
    Out o;
    o.Varint(filter_blocks_.size());
    for (uint32_t blocks : filter_blocks_) o.Varint(blocks);
    for (uint32_t w : filter_words_) o.Fixed32(w);
    absl::StatusOr<ChunkRef> ref = index_.Add(o.str());
    if (!ref.ok()) return ref.status();
    index_chunks.push_back(*ref);
  }
  absl::StatusOr<uint64_t> index_bytes = index_.Finish(index_chunks, 0, 0, min_start_);
  if (!index_bytes.ok()) return index_bytes.status();

  // meta.json and the publish protocol.
  BlockMeta meta;
  meta.id = absl::StrFormat("%016x%016x", min_start_ / 1000000, random_);
  meta.format_version = version();
  meta.min_start_nano = min_start_;
  meta.max_start_nano = max_start_;
  meta.spans = spans_;
  meta.traces = traces_;
  meta.row_groups = static_cast<uint32_t>(stats_.size());
  meta.level = meta_in_.level;
  meta.wal_seq_max = meta_in_.wal_seq_max;
  meta.compacted_from = meta_in_.compacted_from;
  meta.created_unix_nano = std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  {
    const std::vector<std::string_view>& dict = dict_.strings();
    auto service = [&](uint32_t id) {
      return id == 0 ? std::string(kUnknownService) : std::string(dict[id]);
    };
    std::vector<std::tuple<std::string, std::string, uint8_t>> ops;
    ops.reserve(ops_.size());
    for (const auto& [s, name, kind] : ops_) {
      ops.emplace_back(service(s), std::string(dict[name]), kind);
      meta.services.push_back(service(s));
    }
    std::sort(meta.services.begin(), meta.services.end());
    meta.services.erase(std::unique(meta.services.begin(), meta.services.end()),
                        meta.services.end());
    std::sort(ops.begin(), ops.end());
    ops.erase(std::unique(ops.begin(), ops.end()), ops.end());
    for (auto& [s, name, kind] : ops) {
      meta.operations.push_back({s, Operation{name, static_cast<SpanKind>(kind)}});
    }
  }
  std::string json;
  meta.bytes = *data_bytes + *index_bytes;
  for (int i = 0; i < 4; ++i) {  // bytes includes meta.json itself: iterate to a fixed point
    json = MetaJson(meta, *data_bytes, *index_bytes);
    const uint64_t total = *data_bytes + *index_bytes + json.size();
    if (total == meta.bytes) break;
    meta.bytes = total;
  }
  if (absl::Status s = WriteFileSynced(tmp_dir_ + "/meta.json", json); !s.ok()) return s;
  if (absl::Status s = SyncDir(tmp_dir_); !s.ok()) return s;
  const std::string final_dir = absl::StrCat(blocks_dir_, "/", meta.id);
  if (::rename(tmp_dir_.c_str(), final_dir.c_str()) != 0) return ErrnoStatus("rename", tmp_dir_);
  published_ = true;
  if (absl::Status s = SyncDir(blocks_dir_); !s.ok()) return s;
  return meta;
}

struct SpanKey {
  TraceId trace;
  SpanId span;
  SpanKind kind;
  bool operator==(const SpanKey&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const SpanKey& k) {
    return H::combine(std::move(h), k.trace, k.span, k.kind);
  }
};

}  // namespace

absl::StatusOr<std::unique_ptr<BlockWriter>> BlockWriter::Create(const std::string& blocks_dir,
                                                                 const BlockMeta& meta,
                                                                 const BlockWriterOptions& options) {
  auto w = std::make_unique<BlockWriterImpl>(blocks_dir, meta, options);
  if (absl::Status s = w->Init(); !s.ok()) return s;
  return std::unique_ptr<BlockWriter>(std::move(w));
}

absl::StatusOr<BlockMeta> WriteBlock(const std::string& blocks_dir,
                                     std::span<const SpanRef> spans, const BlockMeta& meta,
                                     const BlockWriterOptions& options) {
  // The spans kept (first copy of a (trace, span id, kind) wins, as in
  // Head::GetTrace), sorted by trace id, then start, then input order.
  std::vector<uint32_t> items;
  items.reserve(spans.size());
  {
    absl::flat_hash_set<SpanKey> seen;
    seen.reserve(spans.size());
    for (uint32_t i = 0; i < spans.size(); ++i) {
      const SpanBatch& b = *spans[i].batch;
      const uint32_t row = spans[i].row;
      if (seen.insert({b.trace_id[row], b.span_id[row], b.kind[row]}).second) items.push_back(i);
    }
  }
  if (items.empty()) return absl::InvalidArgumentError("WriteBlock: no spans");
  std::sort(items.begin(), items.end(), [&](uint32_t x, uint32_t y) {
    const SpanRef& a = spans[x];
    const SpanRef& b = spans[y];
    const TraceId& ta = a.batch->trace_id[a.row];
    const TraceId& tb = b.batch->trace_id[b.row];
    if (ta != tb) return ta < tb;
    const uint64_t sa = a.batch->start_unix_nano[a.row], sb = b.batch->start_unix_nano[b.row];
    if (sa != sb) return sa < sb;
    return x < y;
  });
  absl::StatusOr<std::unique_ptr<BlockWriter>> writer =
      BlockWriter::Create(blocks_dir, meta, options);
  if (!writer.ok()) return writer.status();
  std::vector<SpanRef> trace;
  for (size_t i = 0; i < items.size();) {
    const TraceId& id = spans[items[i]].batch->trace_id[spans[items[i]].row];
    trace.clear();
    for (; i < items.size() && spans[items[i]].batch->trace_id[spans[items[i]].row] == id; ++i) {
      trace.push_back(spans[items[i]]);
    }
    if (absl::Status s = (*writer)->AddTrace(trace); !s.ok()) return s;
  }
  return (*writer)->Finish();
}

// ---------------------------------------------------------------------------
// Reader

namespace {

// The block-wide tables, decoded once and cached: the dictionary and the
// resources and scopes (in `tables.resources`/`scopes`, their strings views
// into buffers `tables` adopted).
struct Tables {
  SpanBatch tables;
  std::vector<std::string_view> dict;
  absl::flat_hash_map<absl::string_view, uint32_t> lookup;
  std::vector<uint32_t> resource_service;  // resource -> service name id
  size_t bytes = 0;

  std::optional<uint32_t> Find(std::string_view s) const {
    auto it = lookup.find(AbslView(s));
    if (it == lookup.end()) return std::nullopt;
    return it->second;
  }
};

// Resolves string references while decoding into `out`; with `own` the
// strings are copied into `out`, otherwise `out` views the decoded buffers
// (which the caller keeps alive).
class Strings {
 public:
  Strings(const std::vector<std::string_view>& dict, SpanBatch* out, bool own)
      : dict_(dict), out_(out), own_(own) {}
  // The tail that inline strings of the current chunk are read from.
  void SetTail(std::string_view tail) { tail_ = In(tail); }
  bool tail_done() const { return tail_.done(); }
  std::string_view Ref(In& in) {
    const uint64_t ref = in.Varint();
    if (ref & 1) {
      std::string_view s = tail_.Take(ref >> 1);
      if (!tail_.ok()) in.Fail();
      return own_ ? out_->Copy(s) : s;
    }
    return Id(in, ref >> 1);
  }
  std::string_view Id(In& in, uint64_t id) {
    if (id >= dict_.size()) {
      in.Fail();
      return {};
    }
    if (id == 0) return {};
    if (!own_) return dict_[id];
    if (copied_.empty()) copied_.resize(dict_.size());
    if (copied_[id].data() == nullptr) copied_[id] = out_->Copy(dict_[id]);
    return copied_[id];
  }
  void SkipRef(In& in) {
    const uint64_t ref = in.Varint();
    if (ref & 1) {
      tail_.Take(ref >> 1);
      if (!tail_.ok()) in.Fail();
    } else if (ref >> 1 >= dict_.size()) {
      in.Fail();
    }
  }
  SpanBatch* out() { return out_; }
  bool own() const { return own_; }

 private:
  const std::vector<std::string_view>& dict_;
  SpanBatch* out_;
  bool own_;
  std::vector<std::string_view> copied_;
  In tail_{std::string_view()};
};

// The main part of a string column; its tail becomes the strings' source.
In StringColumn(std::string_view raw, Strings& strings) {
  std::string_view main, tail;
  if (!SplitTail(raw, &main, &tail)) {
    In bad(std::string_view{});
    bad.Fail();
    return bad;
  }
  strings.SetTail(tail);
  return In(main);
}

Range DecodeAttrs(In& in, Strings& s, int depth);
AnyValue DecodeValue(In& in, Strings& s, uint8_t type, int depth) {
  AnyValue v;
  switch (static_cast<ValueType>(type)) {
    case ValueType::kEmpty:
      return v;
    case ValueType::kString:
      return AnyValue::String(s.Ref(in));
    case ValueType::kBytes:
      return AnyValue::Bytes(s.Ref(in));
    case ValueType::kBool: {
      const uint8_t b = in.U8();
      if (b > 1) in.Fail();
      return AnyValue::Bool(b == 1);
    }
    case ValueType::kInt:
      return AnyValue::Int(in.Zigzag());
    case ValueType::kDouble: {
      const uint64_t bits = in.Fixed64();
      double d;
      std::memcpy(&d, &bits, 8);
      return AnyValue::Double(d);
    }
    case ValueType::kArray: {
      if (depth >= kMaxNesting) {
        in.Fail();
        return v;
      }
      SpanBatch& out = *s.out();
      const uint32_t n = in.Count();
      const uint32_t first = static_cast<uint32_t>(out.array_items.size());
      out.array_items.resize(first + n);
      for (uint32_t i = 0; i < n && in.ok(); ++i) {
        const uint8_t t = in.U8();
        AnyValue item = DecodeValue(in, s, t, depth + 1);
        out.array_items[first + i] = item;
      }
      return AnyValue::Array({first, n});
    }
    case ValueType::kKvList:
      if (depth >= kMaxNesting) {
        in.Fail();
        return v;
      }
      return AnyValue::KvList(DecodeAttrs(in, s, depth + 1));
  }
  in.Fail();
  return v;
}
Range DecodeAttrs(In& in, Strings& s, int depth) {
  SpanBatch& out = *s.out();
  const uint32_t n = in.Count();
  const uint32_t first = static_cast<uint32_t>(out.attributes.size());
  out.attributes.resize(first + n);
  for (uint32_t i = 0; i < n && in.ok(); ++i) {
    const uint64_t kt = in.Varint();
    std::string_view key = s.Id(in, kt >> 3);
    AnyValue v = DecodeValue(in, s, static_cast<uint8_t>(kt & 7), depth);
    out.attributes[first + i] = {key, v};
  }
  return {first, n};
}

void SkipAttrs(In& in, Strings& s, int depth);
void SkipValue(In& in, Strings& s, uint8_t type, int depth) {
  switch (static_cast<ValueType>(type)) {
    case ValueType::kEmpty:
      return;
    case ValueType::kString:
    case ValueType::kBytes:
      s.SkipRef(in);
      return;
    case ValueType::kBool:
      in.U8();
      return;
    case ValueType::kInt:
      in.Varint();
      return;
    case ValueType::kDouble:
      in.Take(8);
      return;
    case ValueType::kArray: {
      if (depth >= kMaxNesting) {
        in.Fail();
        return;
      }
      const uint32_t n = in.Count();
      for (uint32_t i = 0; i < n && in.ok(); ++i) SkipValue(in, s, in.U8(), depth + 1);
      return;
    }
    case ValueType::kKvList:
      if (depth >= kMaxNesting) {
        in.Fail();
        return;
      }
      SkipAttrs(in, s, depth + 1);
      return;
  }
  in.Fail();
}
void SkipAttrs(In& in, Strings& s, int depth) {
  const uint32_t n = in.Count();
  for (uint32_t i = 0; i < n && in.ok(); ++i) {
    const uint64_t kt = in.Varint();
    if ((kt >> 3) >= UINT32_MAX) in.Fail();
    SkipValue(in, s, static_cast<uint8_t>(kt & 7), depth);
  }
}

class BlockImpl final : public Block {
 public:
  ~BlockImpl() override {
    if (data_fd_ >= 0) ::close(data_fd_);
    if (index_fd_ >= 0) ::close(index_fd_);
  }

  static absl::StatusOr<std::shared_ptr<Block>> OpenImpl(const std::string& dir);

  const BlockMeta& meta() const override { return meta_; }
  const std::string& dir() const override { return dir_; }

  bool MayContain(const TraceId& id) const override {
    if (bloom_bits_ == 0) return true;
    uint64_t h1, h2;
    BloomHashes(id.data(), &h1, &h2);
    for (uint32_t i = 0; i < bloom_k_; ++i) {
      const uint64_t bit = (h1 + i * h2) % bloom_bits_;
      if (!(bloom_[bit / 64] & (uint64_t{1} << (bit % 64)))) return false;
    }
    return true;
  }

  absl::StatusOr<std::shared_ptr<const SpanBatch>> GetTrace(const TraceId& id) const override {
    auto out = std::make_shared<SpanBatch>();
    if (!MayContain(id)) return out;
    auto page_it = std::upper_bound(pages_.begin(), pages_.end(), id,
                                    [](const TraceId& t, const Page& p) { return t < p.first; });
    if (page_it == pages_.begin()) return out;
    const size_t page = static_cast<size_t>(page_it - pages_.begin()) - 1;
    const ChunkRef& c = index_dir_.chunks[kIndexChunks + page];
    absl::StatusOr<std::string> raw = ReadChunk(index_fd_, index_path_, c);
    if (!raw.ok()) return raw.status();
    std::vector<std::pair<TraceId, uint32_t>> entries;
    if (!ParsePage(*raw, pages_[page].count, index_dir_groups(), &entries)) {
      return DataLoss(index_path_, c.offset, "bad trace page");
    }
    auto e = std::lower_bound(entries.begin(), entries.end(), id,
                              [](const auto& a, const TraceId& t) { return a.first < t; });
    if (e == entries.end() || e->first != id) return out;
    absl::StatusOr<std::shared_ptr<const Tables>> tables = GetTables();
    if (!tables.ok()) return tables.status();
    absl::StatusOr<RowGroupData> rg = LoadRowGroup(e->second);
    if (!rg.ok()) return rg.status();
    // The trace's rows within the row group.
    uint32_t row = 0;
    for (size_t t = 0; t < rg->ids.size(); ++t) {
      if (rg->ids[t] == id) {
        if (absl::Status s = Decode(*rg, **tables, row, row + rg->counts[t], true, out.get());
            !s.ok()) {
          return s;
        }
        return out;
      }
      row += rg->counts[t];
    }
    return DataLoss(data_path_, data_dir_.chunks[ChunkIndex(e->second, kTraceIds)].offset,
                    "trace in the index is missing from its row group");
  }

  absl::StatusOr<std::vector<std::pair<uint64_t, TraceId>>> FindTraces(
      const TraceQuery& q) const override {
    std::vector<std::pair<uint64_t, TraceId>> result;
    if (meta_.max_start_nano < q.start_min_nano || meta_.min_start_nano > q.start_max_nano ||
        q.min_duration_nano > q.max_duration_nano) {
      return result;
    }
    absl::StatusOr<std::shared_ptr<const Tables>> tables_or = GetTables();
    if (!tables_or.ok()) return tables_or.status();
    const Tables& tables = **tables_or;
    // Resolve the strings of the query; one absent from the block means no match.
    std::vector<uint32_t> service_ids;
    if (!q.service.empty()) {
      if (auto id = tables.Find(q.service)) service_ids.push_back(*id);
      if (q.service == kUnknownService) service_ids.push_back(0);
      if (service_ids.empty()) return result;
    }
    std::optional<uint32_t> op_id;
    if (!q.operation.empty()) {
      op_id = tables.Find(q.operation);
      if (!op_id) return result;
    }
    std::vector<bool> candidate(stats_.size(), true);
    for (const auto& [key, value] : q.tags) {
      if (IsSpecialTag(key)) continue;
      std::optional<uint32_t> key_id = tables.Find(key);
      if (!key_id) return result;  // no attribute has this key
      auto p = postings_.find(*key_id);
      if (p == postings_.end()) continue;  // not indexed: decide by reading
      std::optional<uint32_t> value_id = tables.Find(value);
      if (!value_id) return result;
      auto groups = p->second.find(*value_id);
      if (groups == p->second.end()) return result;
      std::vector<bool> in_list(stats_.size(), false);
      for (uint32_t g : groups->second) in_list[g] = true;
      for (size_t g = 0; g < stats_.size(); ++g) candidate[g] = candidate[g] && in_list[g];
    }
    // Tags the postings cannot decide: a row group whose attribute filter
    // lacks key=value has no span or resource with it. (The special keys
    // also match by status or kind, which the filters do not hold.)
    std::vector<uint64_t> filter_hashes;
    if (!filter_blocks_.empty()) {
      for (const auto& [key, value] : q.tags) {
        if (IsSpecialTag(key)) continue;
        if (auto id = tables.Find(key); id && postings_.contains(*id)) continue;
        filter_hashes.push_back(AttrHash(key, value));
      }
    }
    // Per scope (block-wide, once per query): whether its resource's service
    // is the one asked for.
    std::vector<uint8_t> scope_ok;
    const auto& scopes = tables.tables.scopes;
    const auto& resources = tables.tables.resources;
    if (!service_ids.empty()) {
      scope_ok.resize(scopes.size());
      for (size_t i = 0; i < scopes.size(); ++i) {
        const uint32_t sid = tables.resource_service[scopes[i].resource];
        scope_ok[i] = std::find(service_ids.begin(), service_ids.end(), sid) != service_ids.end();
      }
    }
    // Per tag and scope: whether the scope's resource attributes match it
    // (resource attributes are block-wide).
    std::vector<std::vector<uint8_t>> resource_tag(q.tags.size());
    for (size_t k = 0; k < q.tags.size(); ++k) {
      std::vector<int8_t> by_resource(resources.size(), -1);
      resource_tag[k].resize(scopes.size());
      for (size_t i = 0; i < scopes.size(); ++i) {
        int8_t& m = by_resource[scopes[i].resource];
        if (m < 0) {
          m = AttributeMatches(tables.tables, resources[scopes[i].resource].attributes,
                               q.tags[k].first, q.tags[k].second);
        }
        resource_tag[k][i] = static_cast<uint8_t>(m);
      }
    }
    // Only the columns the query needs are read.
    uint32_t columns = (1u << kTraceIds) | (1u << kStarts) | (1u << kDurations);
    if (!scope_ok.empty() || !q.tags.empty()) columns |= 1u << kScopeIndex;
    if (op_id) columns |= 1u << kNames;
    if (q.kind || !q.tags.empty()) columns |= 1u << kKindStatus;
    if (!q.tags.empty()) columns |= 1u << kAttributes;
    auto fail = [&](uint32_t g, uint32_t column, std::string_view what) {
      return DataLoss(data_path_, data_dir_.chunks[ChunkIndex(g, column)].offset, what);
    };
    // The row groups to read: those the statistics and filters cannot rule out.
    std::vector<uint32_t> to_read;
    for (uint32_t g = 0; g < stats_.size(); ++g) {
      if (!candidate[g]) continue;
      const RowGroupStats& s = stats_[g];
      if (s.max_start < q.start_min_nano || s.min_start > q.start_max_nano) continue;
      if (s.max_duration < q.min_duration_nano || s.min_duration > q.max_duration_nano) continue;
      if (!service_ids.empty() || op_id || q.kind) {
        const bool any = std::any_of(s.triples.begin(), s.triples.end(), [&](const Triple& t) {
          if (!service_ids.empty() &&
              std::find(service_ids.begin(), service_ids.end(), t.service) == service_ids.end()) {
            return false;
          }
          if (op_id && t.name != *op_id) return false;
          if (q.kind && t.kind != static_cast<uint8_t>(*q.kind)) return false;
          return true;
        });
        if (!any) continue;
      }
      if (!filter_hashes.empty()) {
        const uint32_t* words = filter_words_.data() + filter_at_[g];
        const uint32_t blocks = filter_blocks_[g];
        if (!std::all_of(filter_hashes.begin(), filter_hashes.end(),
                         [&](uint64_t h) { return FilterMayContain(words, blocks, h); })) {
          groups_filtered_.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
      }
      to_read.push_back(g);
    }
    struct Row {
      uint32_t row, trace, scope;
      uint64_t start;
    };
    // What one worker holds: (newest matching start, trace) found in its row
    // groups (a trace lives in one row group), and its scratch space.
    struct Worker {
      std::vector<std::pair<uint64_t, TraceId>> found;
      std::vector<Row> rows;
      SpanBatch scratch;  // span attributes of candidate rows (views into the row group)
    };
    auto scan = [&](uint32_t g, Worker& w) -> absl::Status {
      const RowGroupStats& s = stats_[g];
      std::vector<Row>& rows = w.rows;
      SpanBatch& scratch = w.scratch;
      std::vector<std::pair<uint64_t, TraceId>>& found = w.found;
      groups_read_.fetch_add(1, std::memory_order_relaxed);
      absl::StatusOr<RowGroupData> rg = LoadRowGroup(g, columns);
      if (!rg.ok()) return rg.status();
      const uint32_t n = s.spans;
      // The cheap predicates, on the raw columns.
      rows.clear();
      {
        In starts(rg->cols[kStarts]), durs(rg->cols[kDurations]);
        In scope_in(rg->cols[kScopeIndex]);
        std::string_view names_main, names_tail;
        if ((columns & (1u << kNames)) && !SplitTail(rg->cols[kNames], &names_main, &names_tail)) {
          return fail(g, kNames, "bad names column");
        }
        In names(names_main), names_tail_in(names_tail);
        const bool use_scope = columns & (1u << kScopeIndex);
        const bool use_kind = columns & (1u << kKindStatus);
        if (use_kind && rg->cols[kKindStatus].size() != n) {
          return fail(g, kKindStatus, "bad kind/status column");
        }
        const char* kind_status = rg->cols[kKindStatus].data();
        uint32_t r = 0;
        uint64_t min_first = UINT64_MAX;
        for (uint32_t t = 0; t < rg->counts.size(); ++t) {
          uint64_t start = 0;
          for (uint32_t i = 0; i < rg->counts[t]; ++i, ++r) {
            const uint64_t v = starts.Varint();
            if (i == 0) {
              min_first = std::min(min_first, v);
              start = rg->min_start + v;
            } else {
              start += v;
            }
            const uint64_t end_nano = start + static_cast<uint64_t>(durs.Zigzag());
            uint32_t scope = 0;
            if (use_scope) {
              scope = scope_in.Varint32();
              if (scope >= scopes.size()) return fail(g, kScopeIndex, "scope out of range");
            }
            bool name_ok = true;
            if (op_id) {
              const uint64_t ref = names.Varint();
              if (ref & 1) {
                name_ok = names_tail_in.Take(ref >> 1) == q.operation;
              } else {
                name_ok = (ref >> 1) == *op_id;
              }
            }
            if (start < q.start_min_nano || start > q.start_max_nano) continue;
            const uint64_t duration = end_nano > start ? end_nano - start : 0;
            if (duration < q.min_duration_nano || duration > q.max_duration_nano) continue;
            if (!name_ok) continue;
            if (!scope_ok.empty() && !scope_ok[scope]) continue;
            if (q.kind && static_cast<SpanKind>(static_cast<uint8_t>(kind_status[r]) & 15) !=
                              *q.kind) {
              continue;
            }
            rows.push_back({r, t, scope, start});
          }
        }
        if (!starts.done()) return fail(g, kStarts, "malformed starts");
        if (!durs.done()) return fail(g, kDurations, "malformed durations");
        if (n > 0 && min_first != 0) return fail(g, kStarts, "bad starts");
        if (use_scope && !scope_in.done()) return fail(g, kScopeIndex, "malformed scopes");
        if (op_id && (!names.done() || !names_tail_in.done())) {
          return fail(g, kNames, "malformed names");
        }
      }
      if (rows.empty()) return absl::OkStatus();
      // Tags: decode the span attributes of the candidate rows only.
      if (!q.tags.empty()) {
        scratch.attributes.clear();
        scratch.array_items.clear();
        Strings strings(tables.dict, &scratch, false);
        In in = StringColumn(rg->cols[kAttributes], strings);
        size_t next = 0, kept = 0;
        for (uint32_t r = 0; r < n && in.ok(); ++r) {
          if (next == rows.size() || rows[next].row != r) {
            SkipAttrs(in, strings, 0);
            continue;
          }
          const Row row = rows[next++];
          const Range attrs = DecodeAttrs(in, strings, 0);
          const uint8_t b = static_cast<uint8_t>(rg->cols[kKindStatus][r]);
          const SpanKind kind = static_cast<SpanKind>(b & 15);
          const model::StatusCode code = static_cast<model::StatusCode>(b >> 4);
          bool all = true;
          for (size_t k = 0; k < q.tags.size() && all; ++k) {
            all = resource_tag[k][row.scope] ||
                  SpecialTagMatches(kind, code, q.tags[k].first, q.tags[k].second) ||
                  AttributeMatches(scratch, attrs, q.tags[k].first, q.tags[k].second);
          }
          if (all) rows[kept++] = row;
        }
        if (!in.done() || !strings.tail_done()) return fail(g, kAttributes, "malformed attributes");
        rows.resize(kept);
      }
      for (const Row& row : rows) {
        const TraceId& id = rg->ids[row.trace];
        if (!found.empty() && found.back().second == id) {
          found.back().first = std::max(found.back().first, row.start);
        } else {
          found.emplace_back(row.start, id);
        }
      }
      return absl::OkStatus();
    };
    // Row groups are independent: up to SearchWorkers() threads take them in
    // turn (this thread is one), and their finds are merged.
    const size_t workers = SearchWorkers(to_read.size());
    std::vector<Worker> state(workers);
    std::atomic<size_t> next{0};
    std::vector<absl::Status> errors(workers);
    auto run = [&](size_t w) {
      for (size_t i = next.fetch_add(1); i < to_read.size(); i = next.fetch_add(1)) {
        if (absl::Status st = scan(to_read[i], state[w]); !st.ok()) {
          errors[w] = std::move(st);
          next.store(to_read.size());  // the others stop at their next row group
          return;
        }
      }
    };
    {
      std::vector<std::jthread> threads;
      for (size_t w = 1; w < workers; ++w) threads.emplace_back(run, w);
      run(0);
    }
    for (absl::Status& st : errors) {
      if (!st.ok()) return std::move(st);
    }
    std::vector<std::pair<uint64_t, TraceId>> found = std::move(state[0].found);
    for (size_t w = 1; w < workers; ++w) {
      found.insert(found.end(), state[w].found.begin(), state[w].found.end());
    }
    auto newer = [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : a.second < b.second;
    };
    if (q.limit != 0 && found.size() > q.limit) {
      std::partial_sort(found.begin(), found.begin() + q.limit, found.end(), newer);
      found.resize(q.limit);
    } else {
      std::sort(found.begin(), found.end(), newer);
    }
    return found;
  }

  absl::StatusOr<std::vector<Dependency>> Dependencies(uint64_t start_nano,
                                                       uint64_t end_nano) const override {
    std::vector<Dependency> out;
    if (meta_.max_start_nano < start_nano || meta_.min_start_nano > end_nano) return out;
    absl::StatusOr<std::shared_ptr<const Tables>> tables = GetTables();
    if (!tables.ok()) return tables.status();
    absl::flat_hash_map<std::pair<std::string, std::string>, uint64_t> edges;
    for (uint32_t g = 0; g < stats_.size(); ++g) {
      const RowGroupStats& s = stats_[g];
      if (s.max_start < start_nano || s.min_start > end_nano) continue;
      absl::StatusOr<RowGroupData> rg = LoadRowGroup(g);
      if (!rg.ok()) return rg.status();
      SpanBatch b;
      if (absl::Status st = Decode(*rg, **tables, 0, s.spans, false, &b); !st.ok()) return st;
      uint32_t first = 0;
      absl::flat_hash_map<SpanId, std::string_view> service_of;
      for (uint32_t count : rg->counts) {
        const uint32_t end = first + count;
        service_of.clear();
        for (uint32_t r = first; r < end; ++r) service_of.emplace(b.span_id[r], ServiceOf(b, r));
        for (uint32_t r = first; r < end; ++r) {
          const uint64_t start = b.start_unix_nano[r];
          if (start < start_nano || start > end_nano) continue;
          if (model::IsZero(b.parent_span_id[r])) continue;
          auto it = service_of.find(b.parent_span_id[r]);
          if (it == service_of.end()) continue;
          std::string_view child = ServiceOf(b, r);
          if (it->second == child) continue;
          ++edges[{std::string(it->second), std::string(child)}];
        }
        first = end;
      }
    }
    out.reserve(edges.size());
    for (const auto& [edge, count] : edges) out.push_back({edge.first, edge.second, count});
    std::sort(out.begin(), out.end(), [](const Dependency& a, const Dependency& b) {
      return a.parent != b.parent ? a.parent < b.parent : a.child < b.child;
    });
    return out;
  }

  absl::StatusOr<std::shared_ptr<const SpanBatch>> ReadRowGroup(uint32_t index) const override {
    if (index >= stats_.size()) {
      return absl::OutOfRangeError(absl::StrCat("row group ", index, " of ", stats_.size()));
    }
    absl::StatusOr<std::shared_ptr<const Tables>> tables = GetTables();
    if (!tables.ok()) return tables.status();
    absl::StatusOr<RowGroupData> rg = LoadRowGroup(index);
    if (!rg.ok()) return rg.status();
    auto out = std::make_shared<SpanBatch>();
    if (absl::Status s = Decode(*rg, **tables, 0, stats_[index].spans, true, out.get()); !s.ok()) {
      return s;
    }
    return out;
  }

  absl::Status Verify() const override;

  BlockSearchStats search_stats() const override {
    return {groups_read_.load(std::memory_order_relaxed),
            groups_filtered_.load(std::memory_order_relaxed)};
  }

  uint64_t memory_bytes() const override {
    uint64_t n = sizeof(*this) + bloom_.size() * 8 + pages_.size() * sizeof(Page) +
                 filter_words_.size() * 4 + filter_blocks_.size() * (4 + sizeof(size_t)) +
                 (data_dir_.chunks.size() + index_dir_.chunks.size()) * sizeof(ChunkRef);
    for (const RowGroupStats& s : stats_) {
      n += sizeof(s) + (s.services.size() + s.names.size()) * 4 + s.triples.size() * sizeof(Triple);
    }
    for (const auto& [key, values] : postings_) {
      n += 16;
      for (const auto& [value, groups] : values) n += 32 + groups.size() * 4;
    }
    absl::MutexLock lock(&mu_);
    if (tables_) n += tables_->bytes;
    return n;
  }

 private:
  struct RowGroupData {
    std::string cols[kColumns];
    std::vector<TraceId> ids;
    std::vector<uint32_t> counts;
    uint64_t min_start = 0;  // the row group's smallest start (from its statistics)
  };

  uint32_t index_dir_groups() const { return static_cast<uint32_t>(stats_.size()); }
  size_t ChunkIndex(uint32_t group, uint32_t column) const {
    return kBlockChunks + static_cast<size_t>(group) * kColumns + column;
  }

  absl::StatusOr<std::shared_ptr<const Tables>> GetTables() const {
    {
      absl::MutexLock lock(&mu_);
      if (tables_) return tables_;
    }
    absl::StatusOr<std::shared_ptr<const Tables>> t = LoadTables();
    if (!t.ok()) return t.status();
    absl::MutexLock lock(&mu_);
    if (!tables_) tables_ = *t;
    return tables_;
  }

  absl::StatusOr<std::shared_ptr<const Tables>> LoadTables() const;
  // Reads and decompresses the columns in the bit mask `columns` (1 << Column;
  // the trace ids always); the others stay empty. With `check_others` the
  // other chunks are read too and their CRCs checked (so damage anywhere in
  // the row group is reported), but not decompressed; without, they are not
  // read at all.
  static constexpr uint32_t kAllColumns = (1u << kColumns) - 1;
  absl::StatusOr<RowGroupData> LoadRowGroup(uint32_t group, uint32_t columns = kAllColumns,
                                            bool check_others = true) const;
  absl::Status Decode(const RowGroupData& rg, const Tables& tables, uint32_t begin, uint32_t end,
                      bool own, SpanBatch* out) const;

  BlockMeta meta_;
  std::string dir_;
  std::string data_path_, index_path_;
  int data_fd_ = -1;
  int index_fd_ = -1;
  Directory data_dir_;
  Directory index_dir_;
  std::vector<uint64_t> bloom_;
  uint64_t bloom_bits_ = 0;
  uint32_t bloom_k_ = 0;
  std::vector<Page> pages_;
  std::vector<RowGroupStats> stats_;
  // key id -> value id -> row groups
  absl::flat_hash_map<uint32_t, absl::flat_hash_map<uint32_t, std::vector<uint32_t>>> postings_;
  // Attribute filters (version 2; empty for version 1): per row group its
  // number of 256-bit blocks and where its words start in filter_words_.
  std::vector<uint32_t> filter_blocks_;
  std::vector<size_t> filter_at_;
  std::vector<uint32_t> filter_words_;
  mutable std::atomic<uint64_t> groups_read_{0};
  mutable std::atomic<uint64_t> groups_filtered_{0};
  mutable absl::Mutex mu_;
  mutable std::shared_ptr<const Tables> tables_ ABSL_GUARDED_BY(mu_);
};

absl::StatusOr<std::shared_ptr<Block>> BlockImpl::OpenImpl(const std::string& dir) {
  auto b = std::make_shared<BlockImpl>();
  b->dir_ = dir;
  b->data_path_ = dir + "/data.blk";
  b->index_path_ = dir + "/index.blk";
  const std::string meta_path = dir + "/meta.json";

  // meta.json
  std::string json;
  {
    const int fd = ::open(meta_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus("open", meta_path);
    struct stat st;
    if (::fstat(fd, &st) != 0 || st.st_size > (1 << 26)) {
      ::close(fd);
      return absl::DataLossError(absl::StrCat(meta_path, ": unreadable or too large"));
    }
    json.resize(static_cast<size_t>(st.st_size));
    absl::Status s = PreadExact(fd, meta_path, 0, json.data(), json.size());
    ::close(fd);
    if (!s.ok()) return s;
  }
  uint64_t data_bytes = 0, index_bytes = 0;
  if (absl::Status s = ParseMetaJson(meta_path, json, &b->meta_, &data_bytes, &index_bytes);
      !s.ok()) {
    return s;
  }

  // index.blk, read and checked whole.
  b->index_fd_ = ::open(b->index_path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (b->index_fd_ < 0) return ErrnoStatus("open", b->index_path_);
  struct stat st;
  if (::fstat(b->index_fd_, &st) != 0) return ErrnoStatus("stat", b->index_path_);
  if (static_cast<uint64_t>(st.st_size) != index_bytes) {
    return DataLoss(b->index_path_, static_cast<uint64_t>(st.st_size),
                    absl::StrCat("size differs from meta.json (", index_bytes, ")"));
  }
  Directory& idir = b->index_dir_;
  if (absl::Status s = ReadDirectory(b->index_fd_, b->index_path_, index_bytes, kIndexMagic, &idir);
      !s.ok()) {
    return s;
  }
  const bool has_filters = b->meta_.format_version >= 2;
  if (idir.chunks.size() < kIndexChunks + (has_filters ? 1u : 0u) ||
      idir.min_start != b->meta_.min_start_nano || idir.version != b->meta_.format_version) {
    return DataLoss(b->index_path_, 0, "bad index directory");
  }
  std::vector<std::string> raw(idir.chunks.size());
  for (size_t i = 0; i < idir.chunks.size(); ++i) {
    absl::StatusOr<std::string> r = ReadChunk(b->index_fd_, b->index_path_, idir.chunks[i]);
    if (!r.ok()) return r.status();
    raw[i] = std::move(*r);
  }
  {
    In in(raw[kBloom]);
    b->bloom_k_ = in.Varint32();
    b->bloom_bits_ = in.Varint();
    if (!in.ok() || b->bloom_bits_ % 64 != 0 || in.left() != b->bloom_bits_ / 8 ||
        (b->bloom_bits_ != 0 && (b->bloom_k_ == 0 || b->bloom_k_ > 30))) {
      return DataLoss(b->index_path_, idir.chunks[kBloom].offset, "bad bloom filter");
    }
    b->bloom_.resize(b->bloom_bits_ / 64);
    for (uint64_t& w : b->bloom_) w = in.Fixed64();
  }
  if (!ReadStats(raw[kStats], b->meta_.min_start_nano, &b->stats_) ||
      b->stats_.size() != b->meta_.row_groups) {
    return DataLoss(b->index_path_, idir.chunks[kStats].offset, "bad row-group statistics");
  }
  {
    In in(raw[kPostings]);
    const uint32_t keys = in.Count(2);
    for (uint32_t k = 0; k < keys && in.ok(); ++k) {
      auto& values = b->postings_[in.Varint32()];
      const uint32_t n = in.Count(2);
      for (uint32_t v = 0; v < n && in.ok(); ++v) {
        auto& groups = values[in.Varint32()];
        const uint32_t g = in.Count();
        uint64_t group = 0;
        for (uint32_t i = 0; i < g && in.ok(); ++i) {
          group += in.Varint();
          if (group >= b->stats_.size()) in.Fail();
          groups.push_back(static_cast<uint32_t>(group));
        }
      }
    }
    if (!in.done()) {
      return DataLoss(b->index_path_, idir.chunks[kPostings].offset, "bad postings");
    }
  }
  {
    In in(raw[kPageIndex]);
    const uint32_t n = in.Count(17);
    b->pages_.resize(n);
    uint64_t total = 0;
    for (Page& p : b->pages_) {
      std::string_view first = in.Take(16);
      if (in.ok()) std::memcpy(p.first.data(), first.data(), 16);
      p.count = in.Varint32();
      total += p.count;
    }
    if (!in.done() || n + kIndexChunks + (has_filters ? 1u : 0u) != idir.chunks.size() ||
        total != b->meta_.traces) {
      return DataLoss(b->index_path_, idir.chunks[kPageIndex].offset, "bad page index");
    }
    std::vector<std::pair<TraceId, uint32_t>> entries;
    for (uint32_t p = 0; p < n; ++p) {
      if (!ParsePage(raw[kIndexChunks + p], b->pages_[p].count, b->meta_.row_groups, &entries) ||
          entries.empty() || entries.front().first != b->pages_[p].first ||
          (p > 0 && !(b->pages_[p - 1].first < b->pages_[p].first))) {
        return DataLoss(b->index_path_, idir.chunks[kIndexChunks + p].offset, "bad trace page");
      }
    }
  }

  if (has_filters) {
    const size_t last = idir.chunks.size() - 1;
    In in(raw[last]);
    const uint32_t n = in.Count();
    bool ok = n == b->meta_.row_groups;
    b->filter_blocks_.resize(ok ? n : 0);
    b->filter_at_.resize(ok ? n : 0);
    uint64_t words = 0;
    for (uint32_t g = 0; ok && g < n; ++g) {
      const uint32_t blocks = in.Varint32();
      b->filter_blocks_[g] = blocks;
      b->filter_at_[g] = words;
      words += 8 * static_cast<uint64_t>(blocks);
      ok = in.ok() && blocks > 0;
    }
    ok = ok && in.left() == words * 4;
    if (ok) {
      b->filter_words_.resize(words);
      for (uint32_t& w : b->filter_words_) w = in.Fixed32();
    }
    if (!ok || !in.done()) {
      return DataLoss(b->index_path_, idir.chunks[last].offset, "bad attribute filters");
    }
  }

  // data.blk: its directory.
  b->data_fd_ = ::open(b->data_path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (b->data_fd_ < 0) return ErrnoStatus("open", b->data_path_);
  if (::fstat(b->data_fd_, &st) != 0) return ErrnoStatus("stat", b->data_path_);
  if (static_cast<uint64_t>(st.st_size) != data_bytes) {
    return DataLoss(b->data_path_, static_cast<uint64_t>(st.st_size),
                    absl::StrCat("size differs from meta.json (", data_bytes, ")"));
  }
  Directory& ddir = b->data_dir_;
  if (absl::Status s = ReadDirectory(b->data_fd_, b->data_path_, data_bytes, kDataMagic, &ddir);
      !s.ok()) {
    return s;
  }
  if (ddir.groups != b->meta_.row_groups || ddir.columns != kColumns ||
      ddir.version != b->meta_.format_version ||
      ddir.chunks.size() != kBlockChunks + static_cast<size_t>(ddir.groups) * kColumns ||
      ddir.min_start != b->meta_.min_start_nano) {
    return DataLoss(b->data_path_, data_bytes - kFooterSize, "directory disagrees with meta.json");
  }
  return std::shared_ptr<Block>(std::move(b));
}

absl::StatusOr<std::shared_ptr<const Tables>> BlockImpl::LoadTables() const {
  auto t = std::make_shared<Tables>();
  absl::StatusOr<std::string> dict_raw = ReadChunk(data_fd_, data_path_, data_dir_.chunks[kStrings]);
  if (!dict_raw.ok()) return dict_raw.status();
  t->bytes += dict_raw->size();
  std::string_view dict_buf = t->tables.Adopt(std::move(*dict_raw));
  {
    In in(dict_buf);
    const uint32_t n = in.Count();
    std::vector<uint64_t> lengths(n);
    for (uint64_t& l : lengths) l = in.Varint();
    t->dict.reserve(n);
    for (uint64_t l : lengths) t->dict.push_back(in.Take(l));
    if (!in.done() || n == 0 || !t->dict[0].empty()) {
      return DataLoss(data_path_, data_dir_.chunks[kStrings].offset, "bad strings dictionary");
    }
    t->lookup.reserve(n);
    for (uint32_t i = 0; i < n; ++i) t->lookup.emplace(AbslView(t->dict[i]), i);
    t->bytes += n * (sizeof(std::string_view) + 24);
  }
  Strings strings(t->dict, &t->tables, false);
  {
    const ChunkRef& c = data_dir_.chunks[kResources];
    absl::StatusOr<std::string> raw = ReadChunk(data_fd_, data_path_, c);
    if (!raw.ok()) return raw.status();
    t->bytes += raw->size();
    std::string_view main, tail;
    if (!SplitTail(t->tables.Adopt(std::move(*raw)), &main, &tail)) {
      return DataLoss(data_path_, c.offset, "bad resources");
    }
    strings.SetTail(tail);
    In in(main);
    const uint32_t n = in.Count(4);
    for (uint32_t i = 0; i < n && in.ok(); ++i) {
      model::Resource r;
      const uint64_t ref = in.Varint();
      if (ref & 1) in.Fail();  // service names are always in the dictionary
      r.service_name = strings.Id(in, ref >> 1);
      r.schema_url = strings.Ref(in);
      r.dropped_attributes_count = in.Varint32();
      r.attributes = DecodeAttrs(in, strings, 0);
      t->tables.resources.push_back(r);
      t->resource_service.push_back(static_cast<uint32_t>(ref >> 1));
    }
    if (!in.done() || !strings.tail_done()) return DataLoss(data_path_, c.offset, "bad resources");
  }
  {
    const ChunkRef& c = data_dir_.chunks[kScopes];
    absl::StatusOr<std::string> raw = ReadChunk(data_fd_, data_path_, c);
    if (!raw.ok()) return raw.status();
    t->bytes += raw->size();
    std::string_view main, tail;
    if (!SplitTail(t->tables.Adopt(std::move(*raw)), &main, &tail)) {
      return DataLoss(data_path_, c.offset, "bad scopes");
    }
    strings.SetTail(tail);
    In in(main);
    const uint32_t n = in.Count(6);
    for (uint32_t i = 0; i < n && in.ok(); ++i) {
      model::Scope s;
      s.resource = in.Varint32();
      if (s.resource >= t->tables.resources.size()) in.Fail();
      s.name = strings.Ref(in);
      s.version = strings.Ref(in);
      s.schema_url = strings.Ref(in);
      s.dropped_attributes_count = in.Varint32();
      s.attributes = DecodeAttrs(in, strings, 0);
      t->tables.scopes.push_back(s);
    }
    if (!in.done() || !strings.tail_done()) return DataLoss(data_path_, c.offset, "bad scopes");
  }
  t->bytes += t->tables.MemoryBytes();
  return std::shared_ptr<const Tables>(std::move(t));
}

absl::StatusOr<BlockImpl::RowGroupData> BlockImpl::LoadRowGroup(uint32_t group, uint32_t columns,
                                                                bool check_others) const {
  RowGroupData rg;
  columns |= 1u << kTraceIds;  // always: rows -> traces
  const ChunkRef& first = data_dir_.chunks[ChunkIndex(group, 0)];
  // The columns of a row group are written back to back.
  bool contiguous = true;
  for (uint32_t c = 1; c < kColumns; ++c) {
    const ChunkRef& prev = data_dir_.chunks[ChunkIndex(group, c - 1)];
    if (data_dir_.chunks[ChunkIndex(group, c)].offset != prev.offset + prev.compressed) {
      contiguous = false;
    }
  }
  if (!contiguous) return DataLoss(data_path_, first.offset, "row group chunks not contiguous");
  // Reads each run of chunks [c, e] at once; decompresses the wanted ones and
  // only checks the CRC of the others.
  std::string comp;
  auto load = [&](uint32_t c, uint32_t e) -> absl::Status {
    const ChunkRef& lo = data_dir_.chunks[ChunkIndex(group, c)];
    const ChunkRef& hi = data_dir_.chunks[ChunkIndex(group, e)];
    comp.resize(hi.offset + hi.compressed - lo.offset);
    if (absl::Status s = PreadExact(data_fd_, data_path_, lo.offset, comp.data(), comp.size());
        !s.ok()) {
      return s;
    }
    for (uint32_t k = c; k <= e; ++k) {
      const ChunkRef& ref = data_dir_.chunks[ChunkIndex(group, k)];
      const std::string_view part =
          std::string_view(comp).substr(ref.offset - lo.offset, ref.compressed);
      if (!(columns & (1u << k))) {
        if (wal::crc32c::Value(part) != ref.crc) {
          return DataLoss(data_path_, ref.offset, "chunk CRC mismatch");
        }
        continue;
      }
      absl::StatusOr<std::string> raw = Decompress(data_path_, ref, part);
      if (!raw.ok()) return raw.status();
      rg.cols[k] = std::move(*raw);
    }
    return absl::OkStatus();
  };
  if (check_others) {
    if (absl::Status s = load(0, kColumns - 1); !s.ok()) return s;
  } else {
    // Unwanted chunks are neither read nor decompressed.
    for (uint32_t c = 0; c < kColumns;) {
      if (!(columns & (1u << c))) {
        ++c;
        continue;
      }
      uint32_t e = c;
      while (e + 1 < kColumns && (columns & (1u << (e + 1)))) ++e;
      if (absl::Status s = load(c, e); !s.ok()) return s;
      c = e + 1;
    }
  }
  if (!ParseTraceColumn(rg.cols[kTraceIds], &rg.ids, &rg.counts) ||
      rg.ids.size() != stats_[group].traces) {
    return DataLoss(data_path_, data_dir_.chunks[ChunkIndex(group, kTraceIds)].offset,
                    "bad trace-id column");
  }
  rg.min_start = stats_[group].min_start;
  uint64_t spans = 0;
  for (uint32_t c : rg.counts) spans += c;
  if (spans != stats_[group].spans) {
    return DataLoss(data_path_, data_dir_.chunks[ChunkIndex(group, kTraceIds)].offset,
                    "span count differs from the index");
  }
  return rg;
}

absl::Status BlockImpl::Decode(const RowGroupData& rg, const Tables& tables, uint32_t begin,
                               uint32_t end, bool own, SpanBatch* out) const {
  uint32_t n = 0;
  for (uint32_t c : rg.counts) n += c;
  if (begin > end || end > n) return absl::InternalError("Decode: bad row range");
  Strings strings(tables.dict, out, own);
  // Per row: its trace and the row where that trace starts.
  std::vector<uint32_t> trace_of(n), trace_first(rg.counts.size());
  {
    uint32_t row = 0;
    for (uint32_t t = 0; t < rg.counts.size(); ++t) {
      trace_first[t] = row;
      for (uint32_t i = 0; i < rg.counts[t]; ++i) trace_of[row++] = t;
    }
  }
  auto fail = [&](uint32_t column, std::string_view what) {
    return absl::DataLossError(absl::StrCat(data_path_, ": row group column ", column, ": ", AbslView(what)));
  };
  if (rg.cols[kSpanIds].size() != static_cast<size_t>(n) * 8) return fail(kSpanIds, "bad length");
  if (rg.cols[kKindStatus].size() != n) return fail(kKindStatus, "bad length");
  const uint32_t base = static_cast<uint32_t>(out->size());
  for (uint32_t r = begin; r < end; ++r) {
    const uint32_t row = out->AddSpan();
    out->trace_id[row] = rg.ids[trace_of[r]];
    std::memcpy(out->span_id[row].data(), rg.cols[kSpanIds].data() + 8 * r, 8);
  }
  auto emit = [&](uint32_t r) { return r >= begin && r < end; };
  auto at = [&](uint32_t r) { return base + (r - begin); };
  // Parents.
  {
    In in(rg.cols[kParents]), raw(rg.cols[kParentRaw]);
    for (uint32_t r = 0; r < n; ++r) {
      const uint64_t k = in.Varint();
      SpanId parent{};
      if (k == 1) {
        std::string_view b = raw.Take(8);
        if (raw.ok()) std::memcpy(parent.data(), b.data(), 8);
      } else if (k >= 2) {
        const uint32_t t = trace_of[r];
        if (k - 2 >= rg.counts[t]) return fail(kParents, "parent outside its trace");
        std::memcpy(parent.data(), rg.cols[kSpanIds].data() + 8 * (trace_first[t] + k - 2), 8);
      }
      if (emit(r)) out->parent_span_id[at(r)] = parent;
    }
    if (!in.done() || !raw.done()) return fail(kParents, "malformed");
  }
  // Starts and durations (every row: starts chain within a trace).
  std::vector<uint64_t> starts(n);
  {
    In in(rg.cols[kStarts]), dur(rg.cols[kDurations]);
    uint64_t prev = 0;
    uint64_t min_first = UINT64_MAX;
    for (uint32_t r = 0; r < n; ++r) {
      const uint64_t v = in.Varint();
      if (r == trace_first[trace_of[r]]) {
        // A trace's first start is relative to the row group's smallest.
        min_first = std::min(min_first, v);
        prev = rg.min_start + v;
      } else {
        prev += v;
      }
      starts[r] = prev;
      const uint64_t end_nano = prev + static_cast<uint64_t>(dur.Zigzag());
      if (emit(r)) {
        out->start_unix_nano[at(r)] = prev;
        out->end_unix_nano[at(r)] = end_nano;
      }
    }
    if (!in.done()) return fail(kStarts, "malformed");
    if (!dur.done()) return fail(kDurations, "malformed");
    if (n > 0 && min_first != 0) return fail(kStarts, "no trace starts at the row group's minimum");
  }
  // Names, status messages, trace states.
  const std::pair<Column, std::vector<std::string_view> SpanBatch::*> string_columns[] = {
      {kNames, &SpanBatch::name},
      {kStatusMessages, &SpanBatch::status_message},
      {kTraceStates, &SpanBatch::trace_state}};
  for (const auto& [column, member] : string_columns) {
    In in = StringColumn(rg.cols[column], strings);
    for (uint32_t r = 0; r < n; ++r) {
      if (emit(r)) {
        (out->*member)[at(r)] = strings.Ref(in);
      } else {
        strings.SkipRef(in);
      }
    }
    if (!in.done() || !strings.tail_done()) return fail(column, "malformed");
  }
  // Scopes: copied (with their resources) into `out` on first use.
  {
    In in(rg.cols[kScopeIndex]);
    std::vector<int64_t> scope_map(tables.tables.scopes.size(), -1);
    std::vector<int64_t> resource_map(tables.tables.resources.size(), -1);
    for (uint32_t r = 0; r < n; ++r) {
      const uint32_t s = in.Varint32();
      if (s >= scope_map.size()) return fail(kScopeIndex, "scope out of range");
      if (!emit(r)) continue;
      if (scope_map[s] < 0) {
        const model::Scope& src = tables.tables.scopes[s];
        if (resource_map[src.resource] < 0) {
          const model::Resource& rs = tables.tables.resources[src.resource];
          model::Resource copy;
          copy.attributes = CopyAttrs(tables.tables, rs.attributes, out, own);
          copy.dropped_attributes_count = rs.dropped_attributes_count;
          copy.schema_url = own ? out->Copy(rs.schema_url) : rs.schema_url;
          copy.service_name = own ? out->Copy(rs.service_name) : rs.service_name;
          resource_map[src.resource] = static_cast<int64_t>(out->resources.size());
          out->resources.push_back(copy);
        }
        model::Scope copy;
        copy.name = own ? out->Copy(src.name) : src.name;
        copy.version = own ? out->Copy(src.version) : src.version;
        copy.attributes = CopyAttrs(tables.tables, src.attributes, out, own);
        copy.dropped_attributes_count = src.dropped_attributes_count;
        copy.schema_url = own ? out->Copy(src.schema_url) : src.schema_url;
        copy.resource = static_cast<uint32_t>(resource_map[src.resource]);
        scope_map[s] = static_cast<int64_t>(out->scopes.size());
        out->scopes.push_back(copy);
      }
      out->scope[at(r)] = static_cast<uint32_t>(scope_map[s]);
    }
    if (!in.done()) return fail(kScopeIndex, "malformed");
  }
  for (uint32_t r = begin; r < end; ++r) {
    const uint8_t b = static_cast<uint8_t>(rg.cols[kKindStatus][r]);
    out->kind[at(r)] = static_cast<SpanKind>(b & 15);
    out->status_code[at(r)] = static_cast<model::StatusCode>(b >> 4);
  }
  {
    In flags(rg.cols[kFlags]), dropped(rg.cols[kDropped]);
    for (uint32_t r = 0; r < n; ++r) {
      const uint32_t f = flags.Varint32();
      const uint32_t da = dropped.Varint32(), de = dropped.Varint32(), dl = dropped.Varint32();
      if (emit(r)) {
        out->flags[at(r)] = f;
        out->dropped_attributes_count[at(r)] = da;
        out->dropped_events_count[at(r)] = de;
        out->dropped_links_count[at(r)] = dl;
      }
    }
    if (!flags.done()) return fail(kFlags, "malformed");
    if (!dropped.done()) return fail(kDropped, "malformed");
  }
  {
    In in = StringColumn(rg.cols[kAttributes], strings);
    for (uint32_t r = 0; r < n && in.ok(); ++r) {
      if (emit(r)) {
        out->span_attributes[at(r)] = DecodeAttrs(in, strings, 0);
      } else {
        SkipAttrs(in, strings, 0);
      }
    }
    if (!in.done() || !strings.tail_done()) return fail(kAttributes, "malformed");
  }
  {
    In in = StringColumn(rg.cols[kEvents], strings);
    for (uint32_t r = 0; r < n && in.ok(); ++r) {
      const uint32_t count = in.Count(3);
      if (emit(r)) {
        const uint32_t first = static_cast<uint32_t>(out->events.size());
        out->events.resize(first + count);
        for (uint32_t e = 0; e < count && in.ok(); ++e) {
          model::Event ev;
          ev.time_unix_nano = starts[r] + static_cast<uint64_t>(in.Zigzag());
          ev.name = strings.Ref(in);
          ev.attributes = DecodeAttrs(in, strings, 0);
          ev.dropped_attributes_count = in.Varint32();
          out->events[first + e] = ev;
        }
        out->span_events[at(r)] = {first, count};
      } else {
        for (uint32_t e = 0; e < count && in.ok(); ++e) {
          in.Varint();
          strings.SkipRef(in);
          SkipAttrs(in, strings, 0);
          in.Varint32();
        }
      }
    }
    if (!in.done() || !strings.tail_done()) return fail(kEvents, "malformed");
  }
  {
    In in = StringColumn(rg.cols[kLinks], strings);
    for (uint32_t r = 0; r < n && in.ok(); ++r) {
      const uint32_t count = in.Count(28);
      if (emit(r)) {
        const uint32_t first = static_cast<uint32_t>(out->links.size());
        out->links.resize(first + count);
        for (uint32_t l = 0; l < count && in.ok(); ++l) {
          model::Link ln;
          std::string_view t = in.Take(16);
          std::string_view s = in.Take(8);
          if (!in.ok()) break;
          std::memcpy(ln.trace_id.data(), t.data(), 16);
          std::memcpy(ln.span_id.data(), s.data(), 8);
          ln.trace_state = strings.Ref(in);
          ln.attributes = DecodeAttrs(in, strings, 0);
          ln.dropped_attributes_count = in.Varint32();
          ln.flags = in.Varint32();
          out->links[first + l] = ln;
        }
        out->span_links[at(r)] = {first, count};
      } else {
        for (uint32_t l = 0; l < count && in.ok(); ++l) {
          in.Take(24);
          strings.SkipRef(in);
          SkipAttrs(in, strings, 0);
          in.Varint32();
          in.Varint32();
        }
      }
    }
    if (!in.done() || !strings.tail_done()) return fail(kLinks, "malformed");
  }
  return absl::OkStatus();
}

absl::Status BlockImpl::Verify() const {
  // index.blk: every chunk again (Open checked them; the file may have changed since).
  for (const ChunkRef& c : index_dir_.chunks) {
    if (absl::StatusOr<std::string> r = ReadChunk(index_fd_, index_path_, c); !r.ok()) {
      return r.status();
    }
  }
  absl::StatusOr<std::shared_ptr<const Tables>> tables_or = LoadTables();
  if (!tables_or.ok()) return tables_or.status();
  const Tables& tables = **tables_or;
  absl::flat_hash_map<TraceId, uint32_t> group_of;
  uint64_t spans = 0;
  for (uint32_t g = 0; g < stats_.size(); ++g) {
    absl::StatusOr<RowGroupData> rg = LoadRowGroup(g);
    if (!rg.ok()) return rg.status();
    SpanBatch b;
    if (absl::Status s = Decode(*rg, tables, 0, stats_[g].spans, false, &b); !s.ok()) return s;
    const uint64_t stats_at = index_dir_.chunks[kStats].offset;
    // Recompute the statistics of the row group.
    RowGroupStats st;
    st.spans = static_cast<uint32_t>(b.size());
    st.traces = static_cast<uint32_t>(rg->ids.size());
    st.min_start = st.min_duration = UINT64_MAX;
    std::vector<model::TraceId> trace_ids_seen;
    for (uint32_t r = 0; r < b.size(); ++r) {
      st.min_start = std::min(st.min_start, b.start_unix_nano[r]);
      st.max_start = std::max(st.max_start, b.start_unix_nano[r]);
      st.min_duration = std::min(st.min_duration, b.duration_nano(r));
      st.max_duration = std::max(st.max_duration, b.duration_nano(r));
      auto id = tables.Find(b.service(r));
      auto name = tables.Find(b.name[r]);
      if (!id || !name) return DataLoss(data_path_, 0, "service or span name not in dictionary");
      st.services.push_back(*id);
      st.names.push_back(*name);
      st.triples.push_back({*id, *name, static_cast<uint8_t>(b.kind[r])});
      if (r > 0 && b.trace_id[r] == b.trace_id[r - 1] &&
          b.start_unix_nano[r] < b.start_unix_nano[r - 1]) {
        return DataLoss(data_path_, 0, absl::StrCat("row group ", g, ": spans out of order"));
      }
    }
    auto distinct = [](auto& v) {
      std::sort(v.begin(), v.end());
      v.erase(std::unique(v.begin(), v.end()), v.end());
    };
    distinct(st.services);
    distinct(st.names);
    distinct(st.triples);
    if (!(st == stats_[g])) {
      return DataLoss(index_path_, stats_at, absl::StrCat("statistics of row group ", g,
                                                          " disagree with its data"));
    }
    // The attribute filter holds every key=text of the row group.
    if (!filter_blocks_.empty()) {
      const uint32_t* words = filter_words_.data() + filter_at_[g];
      std::string tmp;
      auto covered = [&](Range attrs) {
        for (uint32_t i = 0; i < attrs.count; ++i) {
          const KeyValue& kv = b.attributes[attrs.first + i];
          if (!FilterMayContain(words, filter_blocks_[g],
                                AttrHash(kv.key, TagText(b, kv.value, &tmp)))) {
            return false;
          }
        }
        return true;
      };
      for (uint32_t r = 0; r < b.size(); ++r) {
        if (!covered(b.span_attributes[r]) ||
            !covered(b.resources[b.scopes[b.scope[r]].resource].attributes)) {
          return DataLoss(index_path_, index_dir_.chunks.back().offset,
                          absl::StrCat("attribute filter of row group ", g, " misses a value"));
        }
      }
    }
    for (const TraceId& id : rg->ids) {
      if (!group_of.emplace(id, g).second) {
        return DataLoss(data_path_, 0, absl::StrCat("trace in two row groups (", g, ")"));
      }
    }
    spans += b.size();
  }
  // The trace table against the row groups.
  uint64_t traces = 0;
  std::vector<std::pair<TraceId, uint32_t>> entries;
  for (size_t p = 0; p < pages_.size(); ++p) {
    const ChunkRef& c = index_dir_.chunks[kIndexChunks + p];
    absl::StatusOr<std::string> raw = ReadChunk(index_fd_, index_path_, c);
    if (!raw.ok()) return raw.status();
    if (!ParsePage(*raw, pages_[p].count, static_cast<uint32_t>(stats_.size()), &entries)) {
      return DataLoss(index_path_, c.offset, "bad trace page");
    }
    for (const auto& [id, g] : entries) {
      auto it = group_of.find(id);
      if (it == group_of.end() || it->second != g) {
        return DataLoss(index_path_, c.offset, "trace table disagrees with the row groups");
      }
      if (!MayContain(id)) return DataLoss(index_path_, 0, "bloom filter misses a trace");
      ++traces;
    }
  }
  if (traces != group_of.size() || traces != meta_.traces || spans != meta_.spans ||
      stats_.size() != meta_.row_groups) {
    return absl::DataLossError(absl::StrCat(dir_, ": counts disagree with meta.json"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<Block>> Block::Open(const std::string& dir) {
  return BlockImpl::OpenImpl(dir);
}

}  // namespace ariadne::store
