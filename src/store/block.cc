// Block writer and reader. The byte layout is in docs/format/block.md, its
// constants in store/block_format.h.
#include "store/block.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <random>

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

class FileBuilder {
 public:
  explicit FileBuilder(const char (&magic)[4], int level) : level_(level) {
    out_.Bytes(magic, 4);
    out_.U8(kVersion);
    out_.Bytes("\0\0\0", 3);
    magic_ = magic;
  }
  absl::Status Add(std::string_view raw) {
    if (raw.size() > kMaxChunkRaw) return absl::InvalidArgumentError("block chunk too large");
    std::string& s = out_.str();
    const size_t bound = ZSTD_compressBound(raw.size());
    const size_t at = s.size();
    s.resize(at + bound);
    const size_t n = ZSTD_compress(s.data() + at, bound, raw.data(), raw.size(), level_);
    if (ZSTD_isError(n)) {
      return absl::InternalError(absl::StrCat("zstd: ", ZSTD_getErrorName(n)));
    }
    s.resize(at + n);
    chunks_.push_back({at, static_cast<uint32_t>(n), static_cast<uint32_t>(raw.size()),
                       wal::crc32c::Value(s.data() + at, n)});
    return absl::OkStatus();
  }
  std::string Finish(uint32_t groups, uint32_t columns, uint64_t min_start) {
    Out dir;
    dir.Fixed32(groups);
    dir.Fixed32(columns);
    dir.Fixed32(static_cast<uint32_t>(chunks_.size()));
    dir.Fixed64(min_start);
    for (const ChunkRef& c : chunks_) {
      dir.Fixed64(c.offset);
      dir.Fixed32(c.compressed);
      dir.Fixed32(c.raw);
      dir.Fixed32(c.crc);
    }
    const uint64_t dir_offset = out_.size();
    out_.Bytes(dir.str().data(), dir.size());
    out_.Fixed64(dir_offset);
    out_.Fixed32(static_cast<uint32_t>(dir.size()));
    out_.Fixed32(wal::crc32c::Value(dir.str()));
    out_.U8(kVersion);
    out_.Bytes("\0\0\0", 3);
    out_.Bytes(magic_, 4);
    return std::move(out_.str());
  }

 private:
  Out out_;
  const char* magic_;
  int level_;
  std::vector<ChunkRef> chunks_;
};

struct Directory {
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
  if (static_cast<uint8_t>(header[4]) != kVersion) {
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
  if (version != kVersion) return DataLoss(path, footer_at, "footer version mismatch");
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

// Every string the block references. Strings used once (and not forced) are
// written inline where they are used; the rest get a dictionary id, the most
// used first so that their ids are the shortest varints.
class StringTable {
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
  // Assigns ids; returns the dictionary in id order (id 0 = "").
  std::vector<std::string_view> Finish() {
    std::vector<std::pair<absl::string_view, Info*>> in;
    for (auto& [s, info] : map_) {
      if (info.forced || info.uses >= 2) in.emplace_back(s, &info);
    }
    std::sort(in.begin(), in.end(), [](const auto& a, const auto& b) {
      return a.second->uses != b.second->uses ? a.second->uses > b.second->uses
                                              : a.first < b.first;
    });
    std::vector<std::string_view> dict;
    dict.reserve(in.size() + 1);
    dict.emplace_back();
    for (auto& [s, info] : in) {
      info->id = static_cast<uint32_t>(dict.size());
      dict.push_back(StdView(s));
    }
    return dict;
  }
  // The dictionary id of `s`, 0 if it is "" or written inline.
  uint32_t Id(std::string_view s) const {
    if (s.empty()) return 0;
    auto it = map_.find(AbslView(s));
    return it == map_.end() ? 0 : it->second.id;
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

 private:
  struct Info {
    uint32_t uses = 0;
    bool forced = false;
    uint32_t id = 0;
  };
  absl::flat_hash_map<absl::string_view, Info> map_;
};

void CountAttrs(const SpanBatch& b, Range r, StringTable& t);
void CountValue(const SpanBatch& b, const AnyValue& v, StringTable& t) {
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
void CountAttrs(const SpanBatch& b, Range r, StringTable& t) {
  for (uint32_t i = 0; i < r.count; ++i) {
    const KeyValue& kv = b.attributes[r.first + i];
    t.Force(kv.key);
    CountValue(b, kv.value, t);
  }
}

void PutAttrs(Out& o, const SpanBatch& b, Range r, const StringTable& t);
void PutValue(Out& o, const SpanBatch& b, const AnyValue& v, const StringTable& t) {
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
void PutAttrs(Out& o, const SpanBatch& b, Range r, const StringTable& t) {
  o.Varint(r.count);
  for (uint32_t i = 0; i < r.count; ++i) {
    const KeyValue& kv = b.attributes[r.first + i];
    o.Varint((static_cast<uint64_t>(t.Id(kv.key)) << 3) | static_cast<uint8_t>(kv.value.type));
    PutValue(o, b, kv.value, t);
  }
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

// ---------------------------------------------------------------------------
// Row-group statistics (index.blk).

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
  if (!u64("format_version", &v) || v != kVersion) return bad("unknown format_version");
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

// ---------------------------------------------------------------------------
// Writer

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

struct Item {
  const SpanBatch* batch;
  uint32_t row;
  uint32_t order;  // position in the input (ties keep input order)
};

}  // namespace

absl::StatusOr<BlockMeta> WriteBlock(const std::string& blocks_dir,
                                     std::span<const SpanRef> spans, const BlockMeta& meta_in,
                                     const BlockWriterOptions& options) {
  // 1. The spans kept (first copy of a (trace, span id, kind) wins, as in
  // Head::GetTrace), sorted by trace id, then start.
  std::vector<Item> items;
  items.reserve(spans.size());
  {
    absl::flat_hash_set<SpanKey> seen;
    seen.reserve(spans.size());
    for (const SpanRef& r : spans) {
      const SpanBatch& b = *r.batch;
      if (!seen.insert({b.trace_id[r.row], b.span_id[r.row], b.kind[r.row]}).second) continue;
      if (static_cast<uint8_t>(b.kind[r.row]) > 15 ||
          static_cast<uint8_t>(b.status_code[r.row]) > 15) {
        return absl::InvalidArgumentError("span kind or status code out of range");
      }
      items.push_back({&b, r.row, static_cast<uint32_t>(items.size())});
    }
  }
  if (items.empty()) return absl::InvalidArgumentError("WriteBlock: no spans");
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    const TraceId& ta = a.batch->trace_id[a.row];
    const TraceId& tb = b.batch->trace_id[b.row];
    if (ta != tb) return ta < tb;
    const uint64_t sa = a.batch->start_unix_nano[a.row], sb = b.batch->start_unix_nano[b.row];
    if (sa != sb) return sa < sb;
    return a.order < b.order;
  });

  // 2. Count strings; find the resources and scopes used; measure the
  // cardinality of each top-level attribute key (for postings).
  StringTable strings;
  SpanBatch scratch;  // owns the text of non-string posting values
  struct KeyValues {
    absl::flat_hash_set<absl::string_view> texts;
    bool overflow = false;
  };
  absl::flat_hash_map<absl::string_view, KeyValues> key_values;
  std::string tmp;
  auto note_posting = [&](const SpanBatch& b, Range r) {
    for (uint32_t i = 0; i < r.count; ++i) {
      const KeyValue& kv = b.attributes[r.first + i];
      KeyValues& kvs = key_values[AbslView(kv.key)];
      if (kvs.overflow) continue;
      std::string_view text = TagText(b, kv.value, &tmp);
      if (kvs.texts.contains(AbslView(text))) continue;
      if (kvs.texts.size() >= options.postings_max_values) {
        kvs.overflow = true;
        kvs.texts.clear();
        continue;
      }
      if (text.data() == tmp.data()) text = scratch.Copy(text);
      kvs.texts.insert(AbslView(text));
    }
  };
  using BatchIndex = std::pair<const SpanBatch*, uint32_t>;
  absl::flat_hash_map<BatchIndex, uint32_t> scope_of;     // (batch, scope) -> block scope
  absl::flat_hash_map<BatchIndex, uint32_t> resource_of;  // (batch, resource) -> block resource
  std::vector<BatchIndex> scope_order, resource_order;    // first use
  BlockMeta meta;
  meta.min_start_nano = UINT64_MAX;
  for (const Item& it : items) {
    const SpanBatch& b = *it.batch;
    const uint32_t row = it.row;
    meta.min_start_nano = std::min(meta.min_start_nano, b.start_unix_nano[row]);
    meta.max_start_nano = std::max(meta.max_start_nano, b.start_unix_nano[row]);
    strings.Force(b.name[row]);
    strings.Use(b.trace_state[row]);
    strings.Use(b.status_message[row]);
    CountAttrs(b, b.span_attributes[row], strings);
    note_posting(b, b.span_attributes[row]);
    for (uint32_t e = 0; e < b.span_events[row].count; ++e) {
      const model::Event& ev = b.events[b.span_events[row].first + e];
      strings.Use(ev.name);
      CountAttrs(b, ev.attributes, strings);
    }
    for (uint32_t l = 0; l < b.span_links[row].count; ++l) {
      const model::Link& ln = b.links[b.span_links[row].first + l];
      strings.Use(ln.trace_state);
      CountAttrs(b, ln.attributes, strings);
    }
    const uint32_t scope = b.scope[row];
    if (scope_of.try_emplace({&b, scope}, 0).second) {
      scope_order.push_back({&b, scope});
      const model::Scope& s = b.scopes[scope];
      strings.Use(s.name);
      strings.Use(s.version);
      strings.Use(s.schema_url);
      CountAttrs(b, s.attributes, strings);
      if (resource_of.try_emplace({&b, s.resource}, 0).second) {
        resource_order.push_back({&b, s.resource});
        const model::Resource& res = b.resources[s.resource];
        strings.Force(res.service_name);
        strings.Use(res.schema_url);
        CountAttrs(b, res.attributes, strings);
        note_posting(b, res.attributes);
      }
    }
  }
  const std::string unknown(kUnknownService);
  for (auto& [key, kvs] : key_values) {
    if (kvs.overflow) continue;
    for (absl::string_view text : kvs.texts) strings.Force(StdView(text));
  }
  const std::vector<std::string_view> dict = strings.Finish();

  // 3. Block-wide chunks: strings, resources (deduplicated by content),
  // scopes.
  FileBuilder data(kDataMagic, options.zstd_level);
  {
    Out o;
    o.Varint(dict.size());
    for (std::string_view s : dict) o.Varint(s.size());
    for (std::string_view s : dict) o.Bytes(s.data(), s.size());
    if (absl::Status s = data.Add(o.str()); !s.ok()) return s;
  }
  std::vector<uint32_t> resource_service;  // block resource -> service name id
  {
    Out all;
    absl::flat_hash_map<std::string, uint32_t> by_content;
    for (const BatchIndex& bi : resource_order) {
      const model::Resource& r = bi.first->resources[bi.second];
      Out o;
      strings.Put(o, r.service_name);
      strings.Put(o, r.schema_url);
      o.Varint(r.dropped_attributes_count);
      PutAttrs(o, *bi.first, r.attributes, strings);
      auto [pos, fresh] = by_content.try_emplace(o.WithTail(), resource_service.size());
      if (fresh) {
        resource_service.push_back(strings.Id(r.service_name));
        all.Bytes(o.str().data(), o.size());
        all.Tail(o.tail().data(), o.tail().size());
      }
      resource_of[bi] = pos->second;
    }
    Out head;
    head.Varint(resource_service.size());
    head.Bytes(all.str().data(), all.size());
    head.Tail(all.tail().data(), all.tail().size());
    if (absl::Status s = data.Add(head.WithTail()); !s.ok()) return s;
  }
  std::vector<uint32_t> scope_resource;  // block scope -> block resource
  {
    Out all;
    absl::flat_hash_map<std::string, uint32_t> by_content;
    for (const BatchIndex& bi : scope_order) {
      const model::Scope& s = bi.first->scopes[bi.second];
      const uint32_t resource = resource_of.at({bi.first, s.resource});
      Out o;
      o.Varint(resource);
      strings.Put(o, s.name);
      strings.Put(o, s.version);
      strings.Put(o, s.schema_url);
      o.Varint(s.dropped_attributes_count);
      PutAttrs(o, *bi.first, s.attributes, strings);
      auto [pos, fresh] = by_content.try_emplace(o.WithTail(), scope_resource.size());
      if (fresh) {
        scope_resource.push_back(resource);
        all.Bytes(o.str().data(), o.size());
        all.Tail(o.tail().data(), o.tail().size());
      }
      scope_of[bi] = pos->second;
    }
    Out head;
    head.Varint(scope_resource.size());
    head.Bytes(all.str().data(), all.size());
    head.Tail(all.tail().data(), all.tail().size());
    if (absl::Status s = data.Add(head.WithTail()); !s.ok()) return s;
  }

  // 4. Row groups.
  std::vector<RowGroupStats> stats;
  std::vector<std::pair<TraceId, uint32_t>> trace_table;  // sorted, -> row group
  // Postings: (key id, value id) -> row groups (appended in order).
  absl::flat_hash_map<std::pair<uint32_t, uint32_t>, std::vector<uint32_t>> postings;
  absl::flat_hash_set<uint32_t> posting_keys;
  for (auto& [key, kvs] : key_values) {
    if (!kvs.overflow) posting_keys.insert(strings.Id(StdView(key)));
  }
  auto add_postings = [&](const SpanBatch& b, Range r, uint32_t group) {
    for (uint32_t i = 0; i < r.count; ++i) {
      const KeyValue& kv = b.attributes[r.first + i];
      const uint32_t key = strings.Id(kv.key);
      if (!posting_keys.contains(key)) continue;
      std::vector<uint32_t>& list = postings[{key, strings.Id(TagText(b, kv.value, &tmp))}];
      if (list.empty() || list.back() != group) list.push_back(group);
    }
  };

  size_t next = 0;
  while (next < items.size()) {
    // The row group: whole traces until row_group_spans is reached.
    const size_t begin = next;
    while (next < items.size()) {
      const TraceId& t = items[next].batch->trace_id[items[next].row];
      while (next < items.size() && items[next].batch->trace_id[items[next].row] == t) ++next;
      if (next - begin >= std::max<uint32_t>(1, options.row_group_spans)) break;
    }
    const uint32_t group = static_cast<uint32_t>(stats.size());
    const size_t n = next - begin;
    Out cols[kColumns];
    RowGroupStats st;
    st.spans = static_cast<uint32_t>(n);
    st.min_start = st.min_duration = UINT64_MAX;
    absl::flat_hash_set<uint32_t> used_resources;
    std::vector<TraceId> ids;
    std::vector<uint32_t> counts;
    absl::flat_hash_map<SpanId, uint32_t> index_in_trace;
    size_t trace_begin = begin;
    uint64_t prev_start = 0;
    for (size_t i = begin; i < next; ++i) {
      const SpanBatch& b = *items[i].batch;
      const uint32_t row = items[i].row;
      const uint64_t start = b.start_unix_nano[row];
      if (i == begin || b.trace_id[row] != ids.back()) {
        ids.push_back(b.trace_id[row]);
        counts.push_back(0);
        trace_table.emplace_back(b.trace_id[row], group);
        trace_begin = i;
        index_in_trace.clear();
        for (size_t j = i; j < next && items[j].batch->trace_id[items[j].row] == b.trace_id[row];
             ++j) {
          index_in_trace.try_emplace(items[j].batch->span_id[items[j].row],
                                     static_cast<uint32_t>(j - i));
        }
        cols[kStarts].Varint(start - meta.min_start_nano);
      } else {
        cols[kStarts].Varint(start - prev_start);
      }
      prev_start = start;
      ++counts.back();
      (void)trace_begin;
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
      strings.Put(cols[kNames], b.name[row]);
      const uint32_t scope = scope_of.at({&b, b.scope[row]});
      cols[kScopeIndex].Varint(scope);
      cols[kKindStatus].U8(static_cast<uint8_t>(static_cast<uint8_t>(b.kind[row]) |
                                                (static_cast<uint8_t>(b.status_code[row]) << 4)));
      strings.Put(cols[kStatusMessages], b.status_message[row]);
      strings.Put(cols[kTraceStates], b.trace_state[row]);
      cols[kFlags].Varint(b.flags[row]);
      cols[kDropped].Varint(b.dropped_attributes_count[row]);
      cols[kDropped].Varint(b.dropped_events_count[row]);
      cols[kDropped].Varint(b.dropped_links_count[row]);
      PutAttrs(cols[kAttributes], b, b.span_attributes[row], strings);
      cols[kEvents].Varint(b.span_events[row].count);
      for (uint32_t e = 0; e < b.span_events[row].count; ++e) {
        const model::Event& ev = b.events[b.span_events[row].first + e];
        cols[kEvents].Zigzag(static_cast<int64_t>(ev.time_unix_nano - start));
        strings.Put(cols[kEvents], ev.name);
        PutAttrs(cols[kEvents], b, ev.attributes, strings);
        cols[kEvents].Varint(ev.dropped_attributes_count);
      }
      cols[kLinks].Varint(b.span_links[row].count);
      for (uint32_t l = 0; l < b.span_links[row].count; ++l) {
        const model::Link& ln = b.links[b.span_links[row].first + l];
        cols[kLinks].Bytes(ln.trace_id.data(), 16);
        cols[kLinks].Bytes(ln.span_id.data(), 8);
        strings.Put(cols[kLinks], ln.trace_state);
        PutAttrs(cols[kLinks], b, ln.attributes, strings);
        cols[kLinks].Varint(ln.dropped_attributes_count);
        cols[kLinks].Varint(ln.flags);
      }
      // Statistics and postings.
      const uint64_t duration = b.duration_nano(row);
      st.min_start = std::min(st.min_start, start);
      st.max_start = std::max(st.max_start, start);
      st.min_duration = std::min(st.min_duration, duration);
      st.max_duration = std::max(st.max_duration, duration);
      const uint32_t service = resource_service[scope_resource[scope]];
      const uint32_t name = strings.Id(b.name[row]);
      st.services.push_back(service);
      st.names.push_back(name);
      st.triples.push_back({service, name, static_cast<uint8_t>(b.kind[row])});
      add_postings(b, b.span_attributes[row], group);
      if (used_resources.insert(scope_resource[scope]).second) {
        const model::Scope& s = b.scopes[b.scope[row]];
        add_postings(b, b.resources[s.resource].attributes, group);
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
      if (absl::Status s = data.Add(raw); !s.ok()) return s;
    }
    stats.push_back(std::move(st));
  }
  std::string data_bytes =
      data.Finish(static_cast<uint32_t>(stats.size()), kColumns, meta.min_start_nano);

  // 5. index.blk.
  FileBuilder index(kIndexMagic, options.zstd_level);
  {
    Out o;  // bloom
    uint64_t bits = 0;
    uint32_t k = 0;
    if (options.bloom_bits_per_trace > 0) {
      const double want = std::ceil(static_cast<double>(trace_table.size()) *
                                    options.bloom_bits_per_trace);
      bits = std::max<uint64_t>(64, (static_cast<uint64_t>(want) + 63) / 64 * 64);
      k = static_cast<uint32_t>(
          std::clamp(std::lround(options.bloom_bits_per_trace * 0.6931), 1L, 30L));
    }
    std::vector<uint64_t> words(bits / 64);
    for (const auto& [id, group] : trace_table) {
      uint64_t h1, h2;
      BloomHashes(id.data(), &h1, &h2);
      for (uint32_t i = 0; i < k; ++i) {
        const uint64_t bit = (h1 + i * h2) % bits;
        words[bit / 64] |= uint64_t{1} << (bit % 64);
      }
    }
    o.Varint(k);
    o.Varint(bits);
    for (uint64_t w : words) o.Fixed64(w);
    if (absl::Status s = index.Add(o.str()); !s.ok()) return s;
  }
  {
    Out o;
    PutStats(o, stats, meta.min_start_nano);
    if (absl::Status s = index.Add(o.str()); !s.ok()) return s;
  }
  {
    std::vector<std::pair<std::pair<uint32_t, uint32_t>, std::vector<uint32_t>*>> sorted;
    for (auto& [kv, list] : postings) sorted.emplace_back(kv, &list);
    std::sort(sorted.begin(), sorted.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<uint32_t> keys(posting_keys.begin(), posting_keys.end());
    std::sort(keys.begin(), keys.end());
    Out o;
    o.Varint(keys.size());
    size_t p = 0;
    for (uint32_t key : keys) {
      size_t end = p;
      while (end < sorted.size() && sorted[end].first.first == key) ++end;
      o.Varint(key);
      o.Varint(end - p);
      for (; p < end; ++p) {
        o.Varint(sorted[p].first.second);
        const std::vector<uint32_t>& list = *sorted[p].second;
        o.Varint(list.size());
        uint32_t prev = 0;
        for (uint32_t g : list) {
          o.Varint(g - prev);
          prev = g;
        }
      }
    }
    if (absl::Status s = index.Add(o.str()); !s.ok()) return s;
  }
  {
    Out page_index;
    const size_t pages = (trace_table.size() + kPageIds - 1) / kPageIds;
    page_index.Varint(pages);
    std::vector<std::string> page_chunks;
    for (size_t p = 0; p < pages; ++p) {
      const size_t first = p * kPageIds;
      const size_t last = std::min(trace_table.size(), first + kPageIds);
      page_index.Bytes(trace_table[first].first.data(), 16);
      page_index.Varint(last - first);
      Out page;
      page.Varint(last - first);
      for (size_t i = first; i < last; ++i) page.Bytes(trace_table[i].first.data(), 16);
      uint32_t prev = 0;
      for (size_t i = first; i < last; ++i) {
        page.Varint(trace_table[i].second - prev);
        prev = trace_table[i].second;
      }
      page_chunks.push_back(std::move(page.str()));
    }
    if (absl::Status s = index.Add(page_index.str()); !s.ok()) return s;
    for (const std::string& page : page_chunks) {
      if (absl::Status s = index.Add(page); !s.ok()) return s;
    }
  }
  std::string index_bytes = index.Finish(0, 0, meta.min_start_nano);

  // 6. meta and the publish protocol.
  {
    std::random_device rd;
    const uint64_t random = (static_cast<uint64_t>(rd()) << 32) ^ rd();
    meta.id = absl::StrFormat("%016x%016x", meta.min_start_nano / 1000000, random);
  }
  meta.format_version = kVersion;
  meta.spans = items.size();
  meta.traces = trace_table.size();
  meta.row_groups = static_cast<uint32_t>(stats.size());
  meta.level = meta_in.level;
  meta.wal_seq_max = meta_in.wal_seq_max;
  meta.created_unix_nano = std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  {
    absl::flat_hash_set<std::string> services;
    absl::flat_hash_set<std::tuple<std::string, std::string, uint8_t>> ops;
    for (const Item& it : items) {
      std::string service(ServiceOf(*it.batch, it.row));
      ops.insert({service, std::string(it.batch->name[it.row]),
                  static_cast<uint8_t>(it.batch->kind[it.row])});
      services.insert(std::move(service));
    }
    meta.services.assign(services.begin(), services.end());
    std::sort(meta.services.begin(), meta.services.end());
    std::vector<std::tuple<std::string, std::string, uint8_t>> sorted(ops.begin(), ops.end());
    std::sort(sorted.begin(), sorted.end());
    for (auto& [service, name, kind] : sorted) {
      meta.operations.push_back({service, Operation{name, static_cast<SpanKind>(kind)}});
    }
  }
  std::string json;
  meta.bytes = data_bytes.size() + index_bytes.size();
  for (int i = 0; i < 4; ++i) {  // bytes includes meta.json itself: iterate to a fixed point
    json = MetaJson(meta, data_bytes.size(), index_bytes.size());
    const uint64_t total = data_bytes.size() + index_bytes.size() + json.size();
    if (total == meta.bytes) break;
    meta.bytes = total;
  }

  if (::mkdir(blocks_dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return ErrnoStatus("mkdir", blocks_dir);
  }
  const std::string tmp_dir = absl::StrCat(blocks_dir, "/tmp-", meta.id);
  const std::string final_dir = absl::StrCat(blocks_dir, "/", meta.id);
  if (::mkdir(tmp_dir.c_str(), 0755) != 0) return ErrnoStatus("mkdir", tmp_dir);
  absl::Status s = WriteFileSynced(tmp_dir + "/data.blk", data_bytes);
  if (s.ok()) s = WriteFileSynced(tmp_dir + "/index.blk", index_bytes);
  if (s.ok()) s = WriteFileSynced(tmp_dir + "/meta.json", json);
  if (s.ok()) s = SyncDir(tmp_dir);
  if (s.ok() && ::rename(tmp_dir.c_str(), final_dir.c_str()) != 0) {
    s = ErrnoStatus("rename", tmp_dir);
  }
  if (!s.ok()) {
    RemoveDirBestEffort(tmp_dir);
    return s;
  }
  if (absl::Status synced = SyncDir(blocks_dir); !synced.ok()) return synced;
  return meta;
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
    absl::flat_hash_map<TraceId, uint64_t> found;
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
      absl::StatusOr<RowGroupData> rg = LoadRowGroup(g);
      if (!rg.ok()) return rg.status();
      SpanBatch batch;
      if (absl::Status st = Decode(*rg, tables, 0, s.spans, false, &batch); !st.ok()) return st;
      for (uint32_t row = 0; row < batch.size(); ++row) {
        if (!SpanMatches(batch, row, q)) continue;
        uint64_t& newest = found[batch.trace_id[row]];
        newest = std::max(newest, batch.start_unix_nano[row]);
      }
    }
    result.reserve(found.size());
    for (const auto& [id, start] : found) result.emplace_back(start, id);
    std::sort(result.begin(), result.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    if (q.limit != 0 && result.size() > q.limit) result.resize(q.limit);
    return result;
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

  uint64_t memory_bytes() const override {
    uint64_t n = sizeof(*this) + bloom_.size() * 8 + pages_.size() * sizeof(Page) +
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
  absl::StatusOr<RowGroupData> LoadRowGroup(uint32_t group) const;
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
  if (idir.chunks.size() < kIndexChunks || idir.min_start != b->meta_.min_start_nano) {
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
    if (!in.done() || n + kIndexChunks != idir.chunks.size() || total != b->meta_.traces) {
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

absl::StatusOr<BlockImpl::RowGroupData> BlockImpl::LoadRowGroup(uint32_t group) const {
  RowGroupData rg;
  const ChunkRef& first = data_dir_.chunks[ChunkIndex(group, 0)];
  const ChunkRef& last = data_dir_.chunks[ChunkIndex(group, kColumns - 1)];
  // The columns of a row group are written back to back: read them at once.
  bool contiguous = true;
  for (uint32_t c = 1; c < kColumns; ++c) {
    const ChunkRef& prev = data_dir_.chunks[ChunkIndex(group, c - 1)];
    if (data_dir_.chunks[ChunkIndex(group, c)].offset != prev.offset + prev.compressed) {
      contiguous = false;
    }
  }
  if (!contiguous) return DataLoss(data_path_, first.offset, "row group chunks not contiguous");
  std::string comp(last.offset + last.compressed - first.offset, '\0');
  if (absl::Status s = PreadExact(data_fd_, data_path_, first.offset, comp.data(), comp.size());
      !s.ok()) {
    return s;
  }
  for (uint32_t c = 0; c < kColumns; ++c) {
    const ChunkRef& ref = data_dir_.chunks[ChunkIndex(group, c)];
    absl::StatusOr<std::string> raw =
        Decompress(data_path_, ref,
                   std::string_view(comp).substr(ref.offset - first.offset, ref.compressed));
    if (!raw.ok()) return raw.status();
    rg.cols[c] = std::move(*raw);
  }
  if (!ParseTraceColumn(rg.cols[kTraceIds], &rg.ids, &rg.counts) ||
      rg.ids.size() != stats_[group].traces) {
    return DataLoss(data_path_, data_dir_.chunks[ChunkIndex(group, kTraceIds)].offset,
                    "bad trace-id column");
  }
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
    for (uint32_t r = 0; r < n; ++r) {
      const uint64_t v = in.Varint();
      prev = (r == trace_first[trace_of[r]] ? meta_.min_start_nano : prev) + v;
      starts[r] = prev;
      const uint64_t end_nano = prev + static_cast<uint64_t>(dur.Zigzag());
      if (emit(r)) {
        out->start_unix_nano[at(r)] = prev;
        out->end_unix_nano[at(r)] = end_nano;
      }
    }
    if (!in.done()) return fail(kStarts, "malformed");
    if (!dur.done()) return fail(kDurations, "malformed");
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
