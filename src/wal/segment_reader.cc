#include "wal/segment_reader.h"

#include <algorithm>
#include <cassert>
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "wal/crc32c.h"
#include "wal/format.h"

namespace ariadne::wal {
namespace {

using format::kRecordHeaderSize;
using format::kSegmentHeaderSize;

// Bytes read per pread while scanning; records larger than this are read
// whole into a buffer of their size (bounded by format::kMaxRecordBytes and
// by the bytes actually in the file, never by an unchecked length field).
constexpr size_t kWindow = 1 << 20;

// A read window over a file of known size.
class WindowReader {
 public:
  WindowReader(File& file, uint64_t size) : file_(file), size_(size) {}

  // The bytes [pos, pos + n), clamped to the end of the file. The view is
  // valid until the next call.
  absl::StatusOr<std::string_view> Read(uint64_t pos, size_t n) {
    n = static_cast<size_t>(std::min<uint64_t>(n, size_ - pos));
    if (!Buffered(pos, n)) {
      if (absl::Status s = Fill(pos, std::max(n, kWindow)); !s.ok()) return s;
    }
    return std::string_view(buf_.data() + (pos - buf_off_), n);
  }

  // At least min(n, bytes left) bytes from `pos`, and as many more as are
  // already buffered. For scanning forward without re-reading.
  absl::StatusOr<std::string_view> ReadSome(uint64_t pos, size_t n) {
    n = static_cast<size_t>(std::min<uint64_t>(n, size_ - pos));
    if (!Buffered(pos, n)) {
      if (absl::Status s = Fill(pos, std::max(n, kWindow)); !s.ok()) return s;
    }
    return std::string_view(buf_.data() + (pos - buf_off_), buf_len_ - (pos - buf_off_));
  }

 private:
  bool Buffered(uint64_t pos, size_t n) const {
    return pos >= buf_off_ && pos + n <= buf_off_ + buf_len_;
  }

  absl::Status Fill(uint64_t pos, size_t want) {
    want = static_cast<size_t>(std::min<uint64_t>(want, size_ - pos));
    if (buf_.size() < want || (buf_.size() > kWindow && want <= kWindow)) {
      buf_.resize(want);  // grows for a large record, shrinks back after it
      buf_.shrink_to_fit();
    }
    absl::StatusOr<size_t> got = file_.ReadAt(pos, buf_.data(), want);
    if (!got.ok()) return got.status();
    buf_off_ = pos;
    buf_len_ = *got;
    if (*got < want) {
      return absl::DataLossError(
          absl::StrCat("segment shrank while being read: wanted ", want, " bytes at ", pos));
    }
    return absl::OkStatus();
  }

  File& file_;
  const uint64_t size_;
  std::string buf_;
  uint64_t buf_off_ = 0;
  size_t buf_len_ = 0;
};

// A damaged region not yet followed by a valid record.
struct Pending {
  bool open = false;
  uint64_t offset = 0;
  uint64_t records = 0;
  std::string reason;

  void Add(uint64_t at, std::string_view why) {
    if (!open) {
      open = true;
      offset = at;
      reason = std::string(why);
    }
    ++records;
  }
};

// The offset of the next well-formed record header (magic, header CRC and
// length bound all good) at or after `pos`, or nullopt if none is complete.
absl::StatusOr<std::optional<uint64_t>> FindNextHeader(WindowReader& r, uint64_t pos,
                                                       uint64_t size) {
  char magic[4];
  format::EncodeFixed32(magic, format::kRecordMagic);
  const std::string_view needle(magic, 4);
  while (size - pos >= kRecordHeaderSize) {
    absl::StatusOr<std::string_view> v = r.ReadSome(pos, kRecordHeaderSize);
    if (!v.ok()) return v.status();
    const size_t i = v->find(needle);
    if (i == std::string_view::npos) {
      pos += v->size() - (needle.size() - 1);  // the magic may straddle the window's end
      continue;
    }
    const uint64_t candidate = pos + i;
    if (size - candidate < kRecordHeaderSize) return std::nullopt;
    absl::StatusOr<std::string_view> h = r.Read(candidate, kRecordHeaderSize);
    if (!h.ok()) return h.status();
    format::RecordHeader header;
    if (format::DecodeRecordHeader(h->data(), &header) == format::HeaderCheck::kOk) {
      return candidate;
    }
    pos = candidate + 1;
  }
  return std::nullopt;
}

}  // namespace

absl::StatusOr<SegmentScan> ScanSegment(
    File& file, const std::string& name, uint64_t first_seq, uint64_t* last_seq,
    absl::FunctionRef<void(uint64_t seq, std::string_view payload)> fn,
    absl::FunctionRef<void(const Corruption&)> on_damage) {
  SegmentScan scan;
  absl::StatusOr<uint64_t> size = file.Size();
  if (!size.ok()) return size.status();
  scan.size = *size;
  if (scan.size == 0) return scan;  // created, crashed before the header: nothing to read

  WindowReader r(file, scan.size);
  Pending pending;
  uint64_t pos = 0;
  bool resync = false;  // inside damage: look for the next well-formed header

  if (scan.size < kSegmentHeaderSize) {
    pending.Add(0, "truncated segment header");
    resync = true;
  } else {
    absl::StatusOr<std::string_view> v = r.Read(0, kSegmentHeaderSize);
    if (!v.ok()) return v.status();
    format::SegmentHeader header;
    const format::HeaderCheck check = format::DecodeSegmentHeader(v->data(), &header);
    if (check == format::HeaderCheck::kUnsupportedVersion) {
      return absl::FailedPreconditionError(
          absl::StrCat("WAL segment ", name, " has format version ", header.version,
                       "; this build reads version ", format::kFormatVersion));
    }
    if (check != format::HeaderCheck::kOk) {
      pending.Add(0, absl::StrCat("segment header: ", AbslView(format::HeaderCheckName(check))));
      resync = true;
    } else if (header.first_seq != first_seq) {
      pending.Add(0, absl::StrCat("segment header names sequence ", header.first_seq));
      resync = true;
    } else {
      scan.header_ok = true;
      pos = scan.valid_end = kSegmentHeaderSize;
    }
  }

  while (pos < scan.size) {
    if (resync) {
      absl::StatusOr<std::optional<uint64_t>> next = FindNextHeader(r, pos, scan.size);
      if (!next.ok()) return next.status();
      if (!next->has_value()) break;
      pos = **next;
      resync = false;
    }
    if (scan.size - pos < kRecordHeaderSize) {
      pending.Add(pos, "truncated record header");
      break;
    }
    absl::StatusOr<std::string_view> hv = r.Read(pos, kRecordHeaderSize);
    if (!hv.ok()) return hv.status();
    format::RecordHeader h;
    if (const format::HeaderCheck check = format::DecodeRecordHeader(hv->data(), &h);
        check != format::HeaderCheck::kOk) {
      // The length cannot be trusted: scan forward for the next record.
      pending.Add(pos, absl::StrCat("record header: ", AbslView(format::HeaderCheckName(check))));
      resync = true;
      ++pos;
      continue;
    }
    const uint64_t end = pos + kRecordHeaderSize + h.length;
    if (end > scan.size) {
      pending.Add(pos, "truncated payload");
      resync = true;
      ++pos;
      continue;
    }
    absl::StatusOr<std::string_view> payload = r.Read(pos + kRecordHeaderSize, h.length);
    if (!payload.ok()) return payload.status();
    if (crc32c::Value(*payload) != h.payload_crc) {
      // The header is intact, so its length is: skip exactly this record.
      pending.Add(pos, "payload CRC mismatch");
      pos = end;
      continue;
    }
    if (h.seq <= *last_seq) {
      pending.Add(pos, absl::StrCat("sequence number ", h.seq, " not above ", *last_seq));
      pos = end;
      continue;
    }
    if (pending.open) {
      on_damage(Corruption{.segment = name,
                           .offset = pending.offset,
                           .bytes = pos - pending.offset,
                           .records = pending.records,
                           .truncated = false,
                           .reason = pending.reason});
      pending = Pending{};
    }
    fn(h.seq, *payload);
    *last_seq = h.seq;
    pos = scan.valid_end = end;
  }

  if (pending.open) {
    scan.tail_damaged = true;
    scan.tail = Corruption{.segment = name,
                           .offset = pending.offset,
                           .bytes = scan.size - pending.offset,
                           .records = pending.records,
                           .truncated = false,
                           .reason = pending.reason};
  }
  // Every exit from the loop either consumed the file or opened `pending`.
  assert(scan.tail_damaged || scan.valid_end == scan.size);
  return scan;
}

}  // namespace ariadne::wal
