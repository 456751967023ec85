#include "wal/wal.h"

#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/strings.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "wal/crc32c.h"
#include "wal/env.h"
#include "wal/format.h"
#include "wal/segment_reader.h"

namespace ariadne::wal {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

// --- helpers ---

class TempDir {
 public:
  TempDir() {
    const char* base = getenv("TMPDIR");
    std::string tmpl =
        absl::StrCat(base != nullptr && *base != '\0' ? base : "/tmp", "/ariadne-wal-test-XXXXXX");
    char* p = mkdtemp(tmpl.data());
    EXPECT_NE(p, nullptr) << "mkdtemp " << tmpl;
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);  // best effort: a leftover temp dir fails nothing
  }
  const std::string& path() const { return path_; }
  std::string Sub(std::string_view name) const { return absl::StrCat(path_, "/", AbslView(name)); }

 private:
  std::string path_;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteFile(const std::string& path, std::string_view data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

// Segment paths in sequence order.
std::vector<std::string> Segments(const std::string& dir) {
  std::vector<std::pair<uint64_t, std::string>> segs;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (auto seq = format::ParseSegmentFileName(e.path().filename().string())) {
      segs.emplace_back(*seq, e.path().string());
    }
  }
  std::sort(segs.begin(), segs.end());
  std::vector<std::string> out;
  for (auto& [seq, path] : segs) out.push_back(path);
  return out;
}

using Records = std::vector<std::pair<uint64_t, std::string>>;

struct Replayed {
  Records records;
  ReplayStats stats;
  std::vector<Corruption> damage;
};

Options Opts(SyncPolicy sync = SyncPolicy::kNone, uint64_t segment_bytes = 64 << 20) {
  Options o;
  o.sync = sync;
  o.segment_bytes = segment_bytes;
  return o;
}

// Opens `dir` and replays it; the Wal is left running in `*wal`.
Replayed OpenAndReplay(const std::string& dir, Options options, std::unique_ptr<Wal>* wal) {
  Replayed r;
  options.on_corrupt = [&r](const Corruption& c) { r.damage.push_back(c); };
  absl::StatusOr<std::unique_ptr<Wal>> w = Wal::Open(dir, options);
  EXPECT_TRUE(w.ok()) << w.status();
  if (!w.ok()) return r;
  absl::Status s = (*w)->Replay(
      [&](uint64_t seq, std::string_view payload) { r.records.emplace_back(seq, payload); },
      &r.stats);
  EXPECT_TRUE(s.ok()) << s;
  *wal = *std::move(w);
  return r;
}

// Opens, replays and closes.
Replayed ReplayAll(const std::string& dir, Options options = Opts()) {
  std::unique_ptr<Wal> wal;
  Replayed r = OpenAndReplay(dir, std::move(options), &wal);
  if (wal != nullptr) {
    EXPECT_TRUE(wal->Close().ok());
  }
  return r;
}

// Appends and waits for the acknowledgement.
absl::Status AppendWait(Wal& wal, std::string payload) {
  absl::Notification n;
  absl::Status result;
  wal.Append(std::move(payload), [&](absl::Status s) {
    result = std::move(s);
    n.Notify();
  });
  n.WaitForNotification();
  return result;
}

std::string Payload(int i, size_t size) {
  std::string p = absl::StrCat("record-", i, "-");
  while (p.size() < size) p.push_back(static_cast<char>('a' + (p.size() * 7 + i) % 26));
  p.resize(size);
  return p;
}

// Writes `n` records with payload sizes 10 + 13*i % 200 and closes.
Records WriteRecords(const std::string& dir, int n, Options options = Opts()) {
  std::unique_ptr<Wal> wal;
  Replayed before = OpenAndReplay(dir, options, &wal);
  Records written;
  uint64_t seq = before.records.empty() ? 1 : before.records.back().first + 1;
  for (int i = 0; i < n; ++i) {
    std::string p = Payload(i, 10 + (13 * i) % 200);
    EXPECT_TRUE(AppendWait(*wal, p).ok());
    written.emplace_back(seq++, p);
  }
  EXPECT_TRUE(wal->Close().ok());
  return written;
}

// The offset of each record in a segment, from a clean scan.
std::vector<uint64_t> RecordOffsets(const std::string& segment_path) {
  std::string data = ReadFile(segment_path);
  std::vector<uint64_t> offsets;
  uint64_t pos = format::kSegmentHeaderSize;
  while (pos + format::kRecordHeaderSize <= data.size()) {
    format::RecordHeader h;
    EXPECT_EQ(format::DecodeRecordHeader(data.data() + pos, &h), format::HeaderCheck::kOk);
    offsets.push_back(pos);
    pos += format::kRecordHeaderSize + h.length;
  }
  EXPECT_EQ(pos, data.size());
  return offsets;
}

// An Env that forwards to the real one, counts records written and made
// durable, and fails operations on request.
class TestEnv final : public Env {
 public:
  std::atomic<int> fail_writes{0};       // next N WriteAt calls fail...
  std::atomic<size_t> partial_bytes{0};  // ...after writing this many bytes
  std::atomic<int> fail_truncates{0};
  std::atomic<int> fail_syncs{0};
  std::atomic<int> fail_creates{0};
  std::atomic<uint64_t> records_written{0};
  std::atomic<uint64_t> records_durable{0};

  absl::StatusOr<bool> CreateDirIfMissing(const std::string& dir) override {
    return base_->CreateDirIfMissing(dir);
  }
  absl::StatusOr<std::vector<std::string>> ListDir(const std::string& dir) override {
    return base_->ListDir(dir);
  }
  absl::Status SyncDir(const std::string& dir) override { return base_->SyncDir(dir); }
  absl::StatusOr<std::unique_ptr<File>> LockFile(const std::string& path) override {
    return base_->LockFile(path);
  }
  absl::StatusOr<std::unique_ptr<File>> OpenFile(const std::string& path, OpenMode mode) override;

 private:
  static bool Take(std::atomic<int>& knob) {
    int n = knob.load();
    while (n > 0 && !knob.compare_exchange_weak(n, n - 1)) {
    }
    return n > 0;
  }
  friend class TestFile;
  Env* base_ = Env::Default();
};

class TestFile final : public File {
 public:
  TestFile(TestEnv& env, std::unique_ptr<File> base) : env_(env), base_(std::move(base)) {}

  absl::StatusOr<size_t> ReadAt(uint64_t offset, char* dst, size_t n) override {
    return base_->ReadAt(offset, dst, n);
  }
  absl::Status WriteAt(uint64_t offset, std::span<const std::string_view> pieces) override {
    if (TestEnv::Take(env_.fail_writes)) {
      std::string all;
      for (std::string_view p : pieces) all.append(p);
      all.resize(std::min(all.size(), env_.partial_bytes.load()));
      const std::string_view piece(all);
      if (!all.empty()) {
        EXPECT_TRUE(base_->WriteAt(offset, {&piece, 1}).ok());
      }
      return absl::ResourceExhaustedError("injected write failure");
    }
    absl::Status s = base_->WriteAt(offset, pieces);
    // Record writes are (header, payload) pairs; a segment header is one piece.
    if (s.ok()) env_.records_written += pieces.size() / 2;
    return s;
  }
  absl::Status Sync() override {
    if (TestEnv::Take(env_.fail_syncs)) return absl::InternalError("injected fsync failure");
    const uint64_t written = env_.records_written.load();
    absl::Status s = base_->Sync();
    if (s.ok()) env_.records_durable = written;
    return s;
  }
  absl::Status Truncate(uint64_t size) override {
    if (TestEnv::Take(env_.fail_truncates)) return absl::InternalError("injected truncate failure");
    return base_->Truncate(size);
  }
  absl::StatusOr<uint64_t> Size() override { return base_->Size(); }

 private:
  TestEnv& env_;
  std::unique_ptr<File> base_;
};

absl::StatusOr<std::unique_ptr<File>> TestEnv::OpenFile(const std::string& path, OpenMode mode) {
  if (mode == OpenMode::kCreateTruncate && Take(fail_creates)) {
    return absl::PermissionDeniedError("injected create failure");
  }
  absl::StatusOr<std::unique_ptr<File>> f = base_->OpenFile(path, mode);
  if (!f.ok()) return f.status();
  return std::make_unique<TestFile>(*this, *std::move(f));
}

// --- format ---

TEST(WalFormatTest, SegmentFileNames) {
  EXPECT_EQ(format::SegmentFileName(1), "00000000000000000001.wal");
  EXPECT_EQ(format::SegmentFileName(18446744073709551615u), "18446744073709551615.wal");
  EXPECT_EQ(format::ParseSegmentFileName("00000000000000000042.wal"), 42u);
  EXPECT_EQ(format::ParseSegmentFileName("18446744073709551615.wal"), 18446744073709551615u);
  EXPECT_EQ(format::ParseSegmentFileName("18446744073709551616.wal"), std::nullopt);  // overflow
  EXPECT_EQ(format::ParseSegmentFileName("0000000000000000042.wal"), std::nullopt);
  EXPECT_EQ(format::ParseSegmentFileName("00000000000000000042.wal.tmp"), std::nullopt);
  EXPECT_EQ(format::ParseSegmentFileName("0000000000000000004x.wal"), std::nullopt);
  EXPECT_EQ(format::ParseSegmentFileName("LOCK"), std::nullopt);
}

// Pins the byte layout documented in docs/format/wal.md.
TEST(WalFormatTest, RecordHeaderBytes) {
  char h[format::kRecordHeaderSize];
  format::EncodeRecordHeader(0x0102030405060708u, "abc", h);
  const std::string_view b(h, sizeof(h));
  EXPECT_EQ(b.substr(0, 4), std::string_view("\xC3\xE5\xA1\xD7", 4));                  // magic
  EXPECT_EQ(b.substr(4, 4), std::string_view("\x03\x00\x00\x00", 4));                  // length
  EXPECT_EQ(b.substr(8, 8), std::string_view("\x08\x07\x06\x05\x04\x03\x02\x01", 8));  // seq
  EXPECT_EQ(format::DecodeFixed32(h + 16), 0x364B3FB7u);  // CRC-32C("abc")
  EXPECT_EQ(format::DecodeFixed32(h + 20), crc32c::Value(h, 20));

  format::RecordHeader decoded;
  ASSERT_EQ(format::DecodeRecordHeader(h, &decoded), format::HeaderCheck::kOk);
  EXPECT_EQ(decoded.length, 3u);
  EXPECT_EQ(decoded.seq, 0x0102030405060708u);
}

TEST(WalFormatTest, SegmentHeaderBytes) {
  char h[format::kSegmentHeaderSize];
  format::EncodeSegmentHeader(7, h);
  const std::string_view b(h, sizeof(h));
  EXPECT_EQ(b.substr(0, 8), std::string_view("AWAL\x01\x00\x00\x00", 8));
  EXPECT_EQ(format::DecodeFixed64(h + 8), 7u);
  EXPECT_EQ(format::DecodeFixed32(h + 16), crc32c::Value(h, 16));
  format::SegmentHeader decoded;
  EXPECT_EQ(format::DecodeSegmentHeader(h, &decoded), format::HeaderCheck::kOk);
  EXPECT_EQ(decoded.first_seq, 7u);
}

TEST(WalFormatTest, ParseSyncPolicy) {
  EXPECT_EQ(*ParseSyncPolicy("always"), SyncPolicy::kAlways);
  EXPECT_EQ(*ParseSyncPolicy("batch"), SyncPolicy::kBatch);
  EXPECT_EQ(*ParseSyncPolicy("none"), SyncPolicy::kNone);
  for (SyncPolicy p : {SyncPolicy::kAlways, SyncPolicy::kBatch, SyncPolicy::kNone}) {
    EXPECT_EQ(*ParseSyncPolicy(SyncPolicyName(p)), p);
  }
  absl::StatusOr<SyncPolicy> bad = ParseSyncPolicy("Always");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("\"Always\""));
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("\"always\""));
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("\"batch\""));
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("\"none\""));
}

// --- round trips ---

TEST(WalTest, EmptyLogReplaysNothing) {
  TempDir dir;
  Replayed r = ReplayAll(dir.Sub("wal"));  // creates the directory
  EXPECT_TRUE(r.records.empty());
  EXPECT_EQ(r.stats.segments, 0u);
  EXPECT_TRUE(Segments(dir.Sub("wal")).empty());  // segments are created by the first write
}

TEST(WalTest, RoundTripAcrossSegments) {
  TempDir dir;
  Records written = WriteRecords(dir.path(), 200, Opts(SyncPolicy::kAlways, 2048));
  // Empty and large payloads too.
  {
    std::unique_ptr<Wal> wal;
    OpenAndReplay(dir.path(), Opts(SyncPolicy::kAlways, 2048), &wal);
    ASSERT_TRUE(AppendWait(*wal, "").ok());
    written.emplace_back(201, "");
    std::string big = Payload(7, 3 << 20);  // larger than the reader's window
    ASSERT_TRUE(AppendWait(*wal, big).ok());
    written.emplace_back(202, big);
    ASSERT_TRUE(AppendWait(*wal, "after big").ok());
    written.emplace_back(203, "after big");
    ASSERT_TRUE(wal->Close().ok());
  }

  Replayed r = ReplayAll(dir.path());
  EXPECT_EQ(r.records, written);
  EXPECT_EQ(r.stats.records, written.size());
  EXPECT_EQ(r.stats.corrupt_records, 0u);
  EXPECT_EQ(r.stats.truncated_bytes, 0u);
  EXPECT_TRUE(r.damage.empty());

  // Several segments, each named by its first record's sequence number, each
  // past segment_bytes by at most one record.
  std::vector<std::string> segs = Segments(dir.path());
  EXPECT_GT(segs.size(), 5u);
  EXPECT_EQ(r.stats.segments, segs.size());
  uint64_t last_seq = 0;
  for (size_t i = 0; i < segs.size(); ++i) {
    auto file = Env::Default()->OpenFile(segs[i], OpenMode::kRead);
    ASSERT_TRUE(file.ok());
    const std::string name = fs::path(segs[i]).filename().string();
    std::vector<uint64_t> seqs;
    uint64_t last_size = 0;
    absl::StatusOr<SegmentScan> scan = ScanSegment(
        **file, name, *format::ParseSegmentFileName(name), &last_seq,
        [&](uint64_t seq, std::string_view p) {
          seqs.push_back(seq);
          last_size = p.size();
        },
        [](const Corruption& c) { ADD_FAILURE() << c.reason; });
    ASSERT_TRUE(scan.ok()) << scan.status();
    EXPECT_TRUE(scan->header_ok);
    EXPECT_FALSE(scan->tail_damaged);
    ASSERT_FALSE(seqs.empty());
    EXPECT_EQ(seqs.front(), *format::ParseSegmentFileName(name));
    if (i + 1 < segs.size()) {
      EXPECT_LT(scan->size - format::kRecordHeaderSize - last_size, 2048u);
    }
  }
}

TEST(WalTest, ReopenContinuesSequenceNumbers) {
  TempDir dir;
  Records a = WriteRecords(dir.path(), 10, Opts(SyncPolicy::kBatch));
  Records b = WriteRecords(dir.path(), 5, Opts(SyncPolicy::kBatch));
  ASSERT_EQ(b.front().first, 11u);
  Records c = WriteRecords(dir.path(), 3, Opts(SyncPolicy::kBatch, 1));  // one record a segment
  ASSERT_EQ(c.front().first, 16u);

  Records all = a;
  all.insert(all.end(), b.begin(), b.end());
  all.insert(all.end(), c.begin(), c.end());
  Replayed r = ReplayAll(dir.path());
  EXPECT_EQ(r.records, all);
  EXPECT_EQ(r.stats.corrupt_records, 0u);
  // 15 records in the first segment, then one segment per record.
  EXPECT_EQ(Segments(dir.path()).size(), 4u);
}

absl::StatusOr<uint64_t> RotateWait(Wal& wal) {
  absl::Notification n;
  absl::StatusOr<uint64_t> result;
  wal.Rotate([&](absl::StatusOr<uint64_t> r) {
    result = std::move(r);
    n.Notify();
  });
  n.WaitForNotification();
  return result;
}

// Rotate ends the segment at a known sequence number; RemoveThrough drops
// the segments a block covers, never the one being written; what is left
// replays from where it starts.
TEST(WalTest, RotateAndRemoveThrough) {
  TempDir dir;
  std::unique_ptr<Wal> wal;
  OpenAndReplay(dir.path(), Opts(SyncPolicy::kBatch), &wal);
  auto first = RotateWait(*wal);  // nothing written yet
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, 0u);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(AppendWait(*wal, absl::StrCat("a", i)).ok());
  auto cut = RotateWait(*wal);
  ASSERT_TRUE(cut.ok());
  EXPECT_EQ(*cut, 10u);
  auto again = RotateWait(*wal);  // nothing since: no empty segment
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 10u);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(AppendWait(*wal, absl::StrCat("b", i)).ok());
  EXPECT_EQ(Segments(dir.path()).size(), 2u);
  // Removing through 9 would lose record 10: nothing goes.
  auto none = wal->RemoveThrough(9);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, 0);
  auto removed = wal->RemoveThrough(*cut);
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 1);
  // The current segment stays even if everything in it is covered.
  auto current = wal->RemoveThrough(100);
  ASSERT_TRUE(current.ok());
  EXPECT_EQ(*current, 0);
  ASSERT_TRUE(AppendWait(*wal, "c").ok());
  ASSERT_TRUE(wal->Close().ok());
  Replayed r = ReplayAll(dir.path());
  ASSERT_EQ(r.records.size(), 6u);
  EXPECT_EQ(r.records.front(), (std::pair<uint64_t, std::string>{11, "b0"}));
  EXPECT_EQ(r.records.back(), (std::pair<uint64_t, std::string>{16, "c"}));
  EXPECT_EQ(r.stats.corrupt_records, 0u);
}

// --- torn tails ---

TEST(WalTest, TornTailAtEveryOffsetOfTheLastRecord) {
  TempDir dir;
  const std::string wal_dir = dir.Sub("pristine");
  Records written = WriteRecords(wal_dir, 3);
  const std::string seg = Segments(wal_dir).at(0);
  const std::string pristine = ReadFile(seg);
  const uint64_t last_start = RecordOffsets(seg).back();
  ASSERT_EQ(last_start + format::kRecordHeaderSize + written.back().second.size(), pristine.size());

  for (uint64_t cut = last_start; cut < pristine.size(); ++cut) {
    SCOPED_TRACE(absl::StrCat("cut at ", cut));
    WriteFile(seg, std::string_view(pristine).substr(0, cut));

    std::unique_ptr<Wal> wal;
    Replayed r = OpenAndReplay(wal_dir, Opts(), &wal);
    ASSERT_NE(wal, nullptr);
    EXPECT_EQ(r.records, Records(written.begin(), written.end() - 1));
    EXPECT_EQ(r.stats.truncated_bytes, cut - last_start);
    EXPECT_EQ(r.stats.corrupt_records, 0u);
    if (cut > last_start) {
      ASSERT_EQ(r.damage.size(), 1u);
      EXPECT_TRUE(r.damage[0].truncated);
      EXPECT_EQ(r.damage[0].offset, last_start);
    }
    EXPECT_EQ(fs::file_size(seg), last_start);

    // Appends follow the valid data and reuse the lost record's number.
    ASSERT_TRUE(AppendWait(*wal, "fresh").ok());
    ASSERT_TRUE(wal->Close().ok());
    Replayed again = ReplayAll(wal_dir);
    Records expected(written.begin(), written.end() - 1);
    expected.emplace_back(3, "fresh");
    EXPECT_EQ(again.records, expected);
    EXPECT_EQ(again.stats.truncated_bytes, 0u);
    EXPECT_EQ(again.stats.corrupt_records, 0u);
  }
}

TEST(WalTest, TornSegmentHeader) {
  TempDir dir;
  Records first = WriteRecords(dir.path(), 2, Opts(SyncPolicy::kNone, 1));  // two segments
  std::vector<std::string> segs = Segments(dir.path());
  ASSERT_EQ(segs.size(), 2u);
  const std::string pristine = ReadFile(segs[1]);

  for (uint64_t cut = 0; cut < format::kSegmentHeaderSize + format::kRecordHeaderSize; ++cut) {
    SCOPED_TRACE(absl::StrCat("cut at ", cut));
    WriteFile(segs[1], std::string_view(pristine).substr(0, cut));
    std::unique_ptr<Wal> wal;
    Replayed r = OpenAndReplay(dir.path(), Opts(), &wal);
    ASSERT_NE(wal, nullptr);
    EXPECT_THAT(r.records, ElementsAre(first[0]));
    EXPECT_EQ(r.stats.truncated_bytes,
              cut < format::kSegmentHeaderSize ? cut : cut - format::kSegmentHeaderSize);
    EXPECT_EQ(r.stats.corrupt_records, 0u);
    ASSERT_TRUE(AppendWait(*wal, "next").ok());
    ASSERT_TRUE(wal->Close().ok());
    Replayed again = ReplayAll(dir.path());
    EXPECT_THAT(again.records, ElementsAre(first[0], Pair(2, "next")));
    EXPECT_EQ(again.stats.corrupt_records, 0u);
    EXPECT_EQ(again.stats.truncated_bytes, 0u);
    fs::remove(segs[1]);  // if "next" went to a new segment, it is named 2 too
    for (const std::string& s : Segments(dir.path())) ASSERT_TRUE(s == segs[0]);
  }
}

TEST(WalTest, ZeroFilledTailIsATornTail) {
  TempDir dir;
  Records written = WriteRecords(dir.path(), 5);
  const std::string seg = Segments(dir.path()).at(0);
  const uint64_t size = fs::file_size(seg);
  {
    std::ofstream out(seg, std::ios::binary | std::ios::app);
    const std::string zeros(4096, '\0');
    out.write(zeros.data(), zeros.size());
  }
  std::unique_ptr<Wal> wal;
  Replayed r = OpenAndReplay(dir.path(), Opts(), &wal);
  EXPECT_EQ(r.records, written);
  EXPECT_EQ(r.stats.truncated_bytes, 4096u);
  EXPECT_EQ(r.stats.corrupt_records, 0u);
  EXPECT_EQ(fs::file_size(seg), size);
  ASSERT_TRUE(AppendWait(*wal, "after zeros").ok());
  ASSERT_TRUE(wal->Close().ok());
  written.emplace_back(6, "after zeros");
  EXPECT_EQ(ReplayAll(dir.path()).records, written);
}

// A power loss can persist a file's new size before its data: the tail is
// then a whole record header followed by zeros, or a record with a bad CRC.
TEST(WalTest, TailRecordWithBadPayloadIsTruncatedNotCounted) {
  TempDir dir;
  Records written = WriteRecords(dir.path(), 4);
  const std::string seg = Segments(dir.path()).at(0);
  std::string data = ReadFile(seg);
  const uint64_t last = RecordOffsets(seg).back();
  data[last + format::kRecordHeaderSize + 1] ^= 0x40;
  WriteFile(seg, data);
  Replayed r = ReplayAll(dir.path());
  EXPECT_EQ(r.records, Records(written.begin(), written.end() - 1));
  EXPECT_EQ(r.stats.corrupt_records, 0u);
  EXPECT_EQ(r.stats.truncated_bytes, data.size() - last);
}

// --- corruption in the middle ---

TEST(WalTest, BitFlipInAMiddleRecordSkipsOnlyThatRecord) {
  TempDir dir;
  Records written = WriteRecords(dir.path(), 5);
  const std::string seg = Segments(dir.path()).at(0);
  const std::string pristine = ReadFile(seg);
  const std::vector<uint64_t> offsets = RecordOffsets(seg);
  const uint64_t victim = offsets[2];
  const uint64_t victim_size = offsets[3] - offsets[2];
  Records expected = written;
  expected.erase(expected.begin() + 2);

  // Every header byte (magic, length, seq, payload CRC, header CRC) and a
  // spread of payload bytes, each flipped in two bit positions.
  std::vector<uint64_t> positions;
  for (uint64_t i = 0; i < victim_size; i += (i < format::kRecordHeaderSize ? 1 : 5)) {
    positions.push_back(victim + i);
  }
  positions.push_back(victim + victim_size - 1);
  for (uint64_t at : positions) {
    for (uint8_t mask : {uint8_t{0x01}, uint8_t{0x80}}) {
      SCOPED_TRACE(absl::StrCat("flip at ", at, " mask ", mask));
      std::string data = pristine;
      data[at] ^= static_cast<char>(mask);
      WriteFile(seg, data);
      Replayed r = ReplayAll(dir.path());
      EXPECT_EQ(r.records, expected);
      EXPECT_EQ(r.stats.corrupt_records, 1u);
      EXPECT_EQ(r.stats.truncated_bytes, 0u);
      ASSERT_EQ(r.damage.size(), 1u);
      EXPECT_EQ(r.damage[0].offset, victim);
      EXPECT_EQ(r.damage[0].bytes, victim_size);
      EXPECT_FALSE(r.damage[0].truncated);
      EXPECT_EQ(fs::file_size(seg), pristine.size());  // nothing cut
    }
  }
}

TEST(WalTest, CorruptLengthFieldResynchronises) {
  TempDir dir;
  Records written = WriteRecords(dir.path(), 6);
  const std::string seg = Segments(dir.path()).at(0);
  const std::string pristine = ReadFile(seg);
  const uint64_t victim = RecordOffsets(seg)[1];
  Records expected = written;
  expected.erase(expected.begin() + 1);

  // Lengths: huge, past the end of the file, too short, zero. The header CRC
  // no longer matches, so the reader scans for the next record.
  for (uint32_t length : {0xFFFFFFFFu, format::kMaxRecordBytes, 100000u, 3u, 0u}) {
    SCOPED_TRACE(absl::StrCat("length ", length));
    std::string data = pristine;
    format::EncodeFixed32(data.data() + victim + 4, length);
    WriteFile(seg, data);
    Replayed r = ReplayAll(dir.path());
    EXPECT_EQ(r.records, expected);
    EXPECT_EQ(r.stats.corrupt_records, 1u);
    EXPECT_EQ(r.stats.truncated_bytes, 0u);
  }

  // A length above the maximum under a valid header CRC (a writer bug, not a
  // bit flip) is refused without allocating, and skipped the same way.
  std::string data = pristine;
  format::EncodeFixed32(data.data() + victim + 4, format::kMaxRecordBytes + 1);
  format::EncodeFixed32(data.data() + victim + 20, crc32c::Value(data.data() + victim, 20));
  WriteFile(seg, data);
  Replayed r = ReplayAll(dir.path());
  EXPECT_EQ(r.records, expected);
  EXPECT_EQ(r.stats.corrupt_records, 1u);
  ASSERT_EQ(r.damage.size(), 1u);
  EXPECT_THAT(r.damage[0].reason, HasSubstr("implausible length"));
}

TEST(WalTest, ZerosInTheMiddleAreSkipped) {
  TempDir dir;
  Records written = WriteRecords(dir.path(), 5);
  const std::string seg = Segments(dir.path()).at(0);
  std::string data = ReadFile(seg);
  const std::vector<uint64_t> offsets = RecordOffsets(seg);
  // Records 1 and 2 (a page that never reached the disk).
  std::fill(data.begin() + offsets[1], data.begin() + offsets[3], '\0');
  WriteFile(seg, data);
  Replayed r = ReplayAll(dir.path());
  EXPECT_THAT(r.records, ElementsAre(written[0], written[3], written[4]));
  EXPECT_EQ(r.stats.corrupt_records, 1u);  // one damaged region
  EXPECT_EQ(r.stats.truncated_bytes, 0u);
}

TEST(WalTest, DamageInEarlierSegmentsDoesNotStopReplay) {
  TempDir dir;
  Records written = WriteRecords(dir.path(), 30, Opts(SyncPolicy::kNone, 300));
  std::vector<std::string> segs = Segments(dir.path());
  ASSERT_GE(segs.size(), 4u);

  // Segment 0: a bad payload CRC in its first record. Segment 1: a torn tail
  // (its last record cut in half). Segment 2: a zeroed segment header.
  std::set<uint64_t> lost;
  auto seq_at = [&](const std::string& seg, uint64_t offset) {
    std::string d = ReadFile(seg);
    return format::DecodeFixed64(d.data() + offset + 8);
  };
  {
    std::string d = ReadFile(segs[0]);
    const uint64_t off = RecordOffsets(segs[0])[0];
    lost.insert(seq_at(segs[0], off));
    d[off + format::kRecordHeaderSize] ^= 1;
    WriteFile(segs[0], d);
  }
  {
    std::string d = ReadFile(segs[1]);
    const uint64_t off = RecordOffsets(segs[1]).back();
    lost.insert(seq_at(segs[1], off));
    d.resize(off + 30);
    WriteFile(segs[1], d);
  }
  {
    std::string d = ReadFile(segs[2]);
    std::fill(d.begin(), d.begin() + format::kSegmentHeaderSize, '\0');
    WriteFile(segs[2], d);
  }
  Records expected;
  for (auto& rec : written) {
    if (!lost.count(rec.first)) expected.push_back(rec);
  }
  Replayed r = ReplayAll(dir.path());
  EXPECT_EQ(r.records, expected);
  EXPECT_EQ(r.stats.corrupt_records, 3u);
  EXPECT_EQ(r.stats.truncated_bytes, 0u);  // only the last segment is ever cut
  EXPECT_EQ(r.stats.segments, segs.size());
  EXPECT_EQ(r.damage.size(), 3u);
}

TEST(WalTest, UnsupportedVersionFailsReplay) {
  TempDir dir;
  WriteRecords(dir.path(), 1);
  const std::string seg = Segments(dir.path()).at(0);
  std::string d = ReadFile(seg);
  d[4] = 2;  // version
  format::EncodeFixed32(d.data() + 16, crc32c::Value(d.data(), 16));
  WriteFile(seg, d);
  absl::StatusOr<std::unique_ptr<Wal>> wal = Wal::Open(dir.path(), Opts());
  ASSERT_TRUE(wal.ok());
  absl::Status s = (*wal)->Replay([](uint64_t, std::string_view) {}, nullptr);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("version 2"));
  EXPECT_EQ(ReadFile(seg), d);  // left alone
}

// --- sync policies ---

TEST(WalTest, EachPolicyAcknowledges) {
  for (SyncPolicy policy : {SyncPolicy::kAlways, SyncPolicy::kBatch, SyncPolicy::kNone}) {
    SCOPED_TRACE(SyncPolicyName(policy));
    TempDir dir;
    TestEnv env;
    Options o = Opts(policy);
    o.env = &env;
    std::unique_ptr<Wal> wal;
    OpenAndReplay(dir.path(), o, &wal);
    for (int i = 0; i < 20; ++i) {
      const uint64_t fsyncs_before = wal->stats().fsyncs;
      uint64_t fsyncs_at_done = 0;
      uint64_t durable_at_done = 0;
      absl::Notification n;
      wal->Append(Payload(i, 50), [&](absl::Status s) {
        EXPECT_TRUE(s.ok()) << s;
        fsyncs_at_done = wal->stats().fsyncs;
        durable_at_done = env.records_durable.load();
        n.Notify();
      });
      n.WaitForNotification();
      if (policy != SyncPolicy::kNone) {
        EXPECT_GT(fsyncs_at_done, fsyncs_before);
        EXPECT_GE(durable_at_done, static_cast<uint64_t>(i + 1));
      }
    }
    EXPECT_EQ(wal->stats().queued_bytes, 0u);
    EXPECT_EQ(wal->stats().appended_records, 20u);
    ASSERT_TRUE(wal->Close().ok());
    EXPECT_EQ(ReplayAll(dir.path()).records.size(), 20u);
  }
}

// 8 threads append without waiting; under kBatch every acknowledgement
// follows an fsync that covered its record, and one fsync covers many.
TEST(WalTest, BatchPolicyGroupCommits) {
  TempDir dir;
  TestEnv env;
  Options o = Opts(SyncPolicy::kBatch);
  o.batch_window = std::chrono::milliseconds(20);
  o.env = &env;
  std::unique_ptr<Wal> wal;
  OpenAndReplay(dir.path(), o, &wal);

  constexpr int kThreads = 8;
  constexpr int kPerThread = 1000;
  std::atomic<uint64_t> acked{0};
  std::atomic<uint64_t> uncovered{0};
  std::atomic<uint64_t> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        wal->Append(absl::StrCat(t, ":", i), [&](absl::Status s) {
          if (!s.ok()) ++errors;
          // Callbacks run one at a time on the writer thread, in write order.
          if (++acked > env.records_durable.load()) ++uncovered;
        });
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(wal->Sync().ok());
  EXPECT_EQ(acked.load(), uint64_t{kThreads * kPerThread});
  EXPECT_EQ(errors.load(), 0u);
  EXPECT_EQ(uncovered.load(), 0u);
  const Stats st = wal->stats();
  EXPECT_EQ(st.appended_records, uint64_t{kThreads * kPerThread});
  EXPECT_EQ(st.queued_bytes, 0u);
  EXPECT_LT(st.fsyncs * 10, st.appended_records) << "fsyncs " << st.fsyncs;
  ASSERT_TRUE(wal->Close().ok());
}

TEST(WalTest, ConcurrentAppendsAreEachReplayedExactlyOnce) {
  TempDir dir;
  std::unique_ptr<Wal> wal;
  OpenAndReplay(dir.path(), Opts(SyncPolicy::kAlways, 64 << 10), &wal);

  constexpr int kThreads = 8;
  constexpr int kPerThread = 1000;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        // Every 50th append waits, so the writer sees both bursts and trickles.
        if (i % 50 == 0) {
          if (AppendWait(*wal, absl::StrCat(t, ":", i)).ok()) ++ok;
        } else {
          wal->Append(absl::StrCat(t, ":", i), [&](absl::Status s) {
            if (s.ok()) ++ok;
          });
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(wal->Close().ok());
  EXPECT_EQ(ok.load(), kThreads * kPerThread);

  Replayed r = ReplayAll(dir.path());
  ASSERT_EQ(r.records.size(), size_t{kThreads * kPerThread});
  std::map<int, int> next_of_thread;
  std::set<std::string> seen;
  uint64_t seq = 0;
  for (const auto& [s, payload] : r.records) {
    EXPECT_EQ(s, seq + 1);
    seq = s;
    EXPECT_TRUE(seen.insert(payload).second) << "duplicate " << payload;
    const size_t colon = payload.find(':');
    const int t = std::stoi(payload.substr(0, colon));
    const int i = std::stoi(payload.substr(colon + 1));
    EXPECT_EQ(i, next_of_thread[t]) << "thread " << t << " out of order";
    next_of_thread[t] = i + 1;
  }
  EXPECT_GT(Segments(dir.path()).size(), 1u);
}

TEST(WalTest, SyncFlushesUnderEveryPolicy) {
  for (SyncPolicy policy : {SyncPolicy::kAlways, SyncPolicy::kBatch, SyncPolicy::kNone}) {
    SCOPED_TRACE(SyncPolicyName(policy));
    TempDir dir;
    TestEnv env;
    Options o = Opts(policy, 1024);                     // several segments: each is left synced
    o.batch_window = std::chrono::milliseconds(60000);  // Sync must not wait for it
    o.env = &env;
    std::unique_ptr<Wal> wal;
    OpenAndReplay(dir.path(), o, &wal);
    std::atomic<int> acked{0};
    for (int i = 0; i < 100; ++i) wal->Append(Payload(i, 30), [&](absl::Status) { ++acked; });
    ASSERT_TRUE(wal->Sync().ok());
    EXPECT_EQ(acked.load(), 100);
    EXPECT_EQ(env.records_durable.load(), 100u);
    EXPECT_GT(wal->stats().segments_created, 2u);
    ASSERT_TRUE(wal->Sync().ok());  // nothing new: still fine
    ASSERT_TRUE(wal->Close().ok());
  }
}

// --- lifecycle ---

TEST(WalTest, CloseIsIdempotentAndLaterAppendsFail) {
  TempDir dir;
  std::unique_ptr<Wal> wal;
  OpenAndReplay(dir.path(), Opts(SyncPolicy::kBatch), &wal);
  std::atomic<int> acked{0};
  for (int i = 0; i < 10; ++i) {
    wal->Append(Payload(i, 20), [&](absl::Status s) {
      EXPECT_TRUE(s.ok());
      ++acked;
    });
  }
  EXPECT_TRUE(wal->Close().ok());
  EXPECT_EQ(acked.load(), 10);  // Close flushed and acknowledged the queue
  EXPECT_TRUE(wal->Close().ok());

  absl::Status after;
  bool called = false;
  wal->Append("late", [&](absl::Status s) {
    after = s;
    called = true;
  });
  EXPECT_TRUE(called);  // refused on the caller's thread
  EXPECT_EQ(after.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(wal->Sync().ok());
  EXPECT_EQ(wal->Replay([](uint64_t, std::string_view) {}, nullptr).code(),
            absl::StatusCode::kFailedPrecondition);
  wal.reset();  // the destructor's Close is a no-op now
  EXPECT_EQ(ReplayAll(dir.path()).records.size(), 10u);
}

TEST(WalTest, ConcurrentClosesAgree) {
  TempDir dir;
  std::unique_ptr<Wal> wal;
  OpenAndReplay(dir.path(), Opts(SyncPolicy::kAlways), &wal);
  for (int i = 0; i < 100; ++i) wal->Append(Payload(i, 20), [](absl::Status) {});
  std::vector<std::thread> closers;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i) {
    closers.emplace_back([&] {
      if (wal->Close().ok()) ++ok;
    });
  }
  for (auto& t : closers) t.join();
  EXPECT_EQ(ok.load(), 4);
  wal.reset();
  EXPECT_EQ(ReplayAll(dir.path()).records.size(), 100u);
}

// Once the writer is joined, a new thread may be given its std::thread::id
// (glibc reuses the descriptor): such a thread is no completion callback, and
// Close and Sync must answer it like any other.
TEST(WalTest, ThreadsStartedAfterCloseAreNotTheWriter) {
  TempDir dir;
  std::unique_ptr<Wal> wal;
  OpenAndReplay(dir.path(), Opts(SyncPolicy::kAlways), &wal);
  ASSERT_TRUE(AppendWait(*wal, "one").ok());
  ASSERT_TRUE(wal->Close().ok());
  for (int i = 0; i < 4; ++i) {
    absl::Status closed;
    absl::Status synced;
    std::thread([&] {
      closed = wal->Close();
      synced = wal->Sync();
    }).join();
    EXPECT_TRUE(closed.ok()) << closed;
    EXPECT_TRUE(synced.ok()) << synced;
  }
}

TEST(WalTest, SyncAndCloseFromACompletionCallbackAreRefused) {
  TempDir dir;
  std::unique_ptr<Wal> wal;
  OpenAndReplay(dir.path(), Opts(SyncPolicy::kAlways), &wal);
  absl::Status synced;
  absl::Status closed;
  absl::Status appended = AppendWait(*wal, "one");
  absl::Notification n;
  wal->Append("two", [&](absl::Status) {
    synced = wal->Sync();
    closed = wal->Close();
    n.Notify();
  });
  n.WaitForNotification();
  ASSERT_TRUE(appended.ok());
  EXPECT_EQ(synced.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(closed.code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(wal->Close().ok());
  EXPECT_EQ(ReplayAll(dir.path()).records.size(), 2u);
}

TEST(WalTest, AppendBeforeReplayAndReplayTwiceAreRefused) {
  TempDir dir;
  absl::StatusOr<std::unique_ptr<Wal>> wal = Wal::Open(dir.path(), Opts());
  ASSERT_TRUE(wal.ok());
  absl::Status s;
  (*wal)->Append("too early", [&](absl::Status st) { s = st; });
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*wal)->stats().appended_records, 0u);
  ASSERT_TRUE((*wal)->Replay([](uint64_t, std::string_view) {}, nullptr).ok());
  EXPECT_EQ((*wal)->Replay([](uint64_t, std::string_view) {}, nullptr).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE((*wal)->Close().ok());
}

TEST(WalTest, DirectoryIsLockedWhileOpen) {
  TempDir dir;
  std::unique_ptr<Wal> first;
  OpenAndReplay(dir.path(), Opts(), &first);
  absl::StatusOr<std::unique_ptr<Wal>> second = Wal::Open(dir.path(), Opts());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(first->Close().ok());
  EXPECT_TRUE(Wal::Open(dir.path(), Opts()).ok());
}

TEST(WalTest, OpenRejectsBadOptions) {
  TempDir dir;
  Options o = Opts();
  o.segment_bytes = 0;
  EXPECT_EQ(Wal::Open(dir.path(), o).status().code(), absl::StatusCode::kInvalidArgument);
  WriteFile(dir.Sub("file"), "x");
  EXPECT_FALSE(Wal::Open(dir.Sub("file"), Opts()).ok());
}

// --- I/O errors ---

TEST(WalTest, FailedWriteIsCutOffAndLaterAppendsFollowValidData) {
  TempDir dir;
  TestEnv env;
  Options o = Opts(SyncPolicy::kAlways);
  o.env = &env;
  std::unique_ptr<Wal> wal;
  OpenAndReplay(dir.path(), o, &wal);
  ASSERT_TRUE(AppendWait(*wal, "one").ok());
  env.partial_bytes = 30;  // the header and part of the payload reach the file
  env.fail_writes = 1;
  absl::Status failed = AppendWait(*wal, std::string(100, 'x'));
  EXPECT_EQ(failed.code(), absl::StatusCode::kResourceExhausted);
  ASSERT_TRUE(AppendWait(*wal, "three").ok());
  EXPECT_EQ(wal->stats().failed_records, 1u);
  EXPECT_EQ(wal->stats().queued_bytes, 0u);
  ASSERT_TRUE(wal->Close().ok());

  Replayed r = ReplayAll(dir.path());
  EXPECT_THAT(r.records, ElementsAre(Pair(1, "one"), Pair(2, "three")));
  EXPECT_EQ(r.stats.corrupt_records, 0u);
  EXPECT_EQ(r.stats.truncated_bytes, 0u);
  EXPECT_EQ(Segments(dir.path()).size(), 1u);
}

TEST(WalTest, FailedWriteAndTruncateMovesToANewSegment) {
  TempDir dir;
  TestEnv env;
  Options o = Opts(SyncPolicy::kAlways);
  o.env = &env;
  std::unique_ptr<Wal> wal;
  OpenAndReplay(dir.path(), o, &wal);
  ASSERT_TRUE(AppendWait(*wal, "one").ok());
  env.partial_bytes = 30;
  env.fail_writes = 1;
  env.fail_truncates = 1;
  EXPECT_FALSE(AppendWait(*wal, std::string(100, 'x')).ok());
  ASSERT_TRUE(AppendWait(*wal, "three").ok());
  ASSERT_TRUE(wal->Close().ok());

  EXPECT_EQ(Segments(dir.path()).size(), 2u);
  Replayed r = ReplayAll(dir.path());
  // The debris stays in the first segment and is skipped; its sequence
  // number is never reused.
  EXPECT_THAT(r.records, ElementsAre(Pair(1, "one"), Pair(3, "three")));
  EXPECT_EQ(r.stats.corrupt_records, 1u);
  EXPECT_EQ(r.stats.truncated_bytes, 0u);
}

TEST(WalTest, FailedFsyncAnswersWithTheErrorAndMovesOn) {
  TempDir dir;
  TestEnv env;
  Options o = Opts(SyncPolicy::kAlways);
  o.env = &env;
  std::unique_ptr<Wal> wal;
  OpenAndReplay(dir.path(), o, &wal);
  ASSERT_TRUE(AppendWait(*wal, "one").ok());
  env.fail_syncs = 1;
  EXPECT_EQ(AppendWait(*wal, "two").code(), absl::StatusCode::kInternal);
  ASSERT_TRUE(AppendWait(*wal, "three").ok());
  EXPECT_EQ(wal->stats().failed_records, 1u);
  ASSERT_TRUE(wal->Close().ok());

  EXPECT_EQ(Segments(dir.path()).size(), 2u);
  Replayed r = ReplayAll(dir.path());
  // "two" reached the file, so it may come back: an error means "not known
  // to be durable", not "absent".
  ASSERT_GE(r.records.size(), 2u);
  EXPECT_THAT(r.records.front(), Pair(1, "one"));
  EXPECT_THAT(r.records.back(), Pair(3, "three"));
  EXPECT_EQ(r.stats.corrupt_records, 0u);
}

TEST(WalTest, FailedSegmentCreationIsRetried) {
  TempDir dir;
  TestEnv env;
  Options o = Opts(SyncPolicy::kBatch);
  o.env = &env;
  std::unique_ptr<Wal> wal;
  OpenAndReplay(dir.path(), o, &wal);
  env.fail_creates = 1;
  EXPECT_EQ(AppendWait(*wal, "one").code(), absl::StatusCode::kPermissionDenied);
  ASSERT_TRUE(AppendWait(*wal, "two").ok());
  ASSERT_TRUE(wal->Close().ok());
  EXPECT_THAT(ReplayAll(dir.path()).records, ElementsAre(Pair(1, "two")));
}

// Like fsync's error reporting: Sync reports each failed append once, to the
// first Sync after it.
TEST(WalTest, SyncReportsFailuresSinceThePreviousSync) {
  TempDir dir;
  TestEnv env;
  Options o = Opts(SyncPolicy::kNone);
  o.env = &env;
  std::unique_ptr<Wal> wal;
  OpenAndReplay(dir.path(), o, &wal);
  ASSERT_TRUE(AppendWait(*wal, "one").ok());
  ASSERT_TRUE(wal->Sync().ok());
  env.fail_writes = 1;
  EXPECT_FALSE(AppendWait(*wal, "two").ok());
  ASSERT_TRUE(AppendWait(*wal, "three").ok());
  absl::Status s = wal->Sync();
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("1 WAL append(s) failed since the previous Sync"));
  EXPECT_TRUE(wal->Sync().ok());
  ASSERT_TRUE(wal->Close().ok());
  EXPECT_THAT(ReplayAll(dir.path()).records, ElementsAre(Pair(1, "one"), Pair(2, "three")));
}

}  // namespace
}  // namespace ariadne::wal

namespace ariadne::wal {
namespace {

TEST(WalSharedAppendTest, SharedPayloadIsWrittenAndReleased) {
  char tmpl[] = "/tmp/ariadne-wal-shared-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  {
    auto wal = Wal::Open(dir, Options{});
    ASSERT_TRUE(wal.ok());
    ASSERT_TRUE((*wal)->Replay([](uint64_t, std::string_view) {}, nullptr).ok());
    auto owner = std::make_shared<std::string>("a payload that the caller keeps alive");
    std::weak_ptr<std::string> watch = owner;
    absl::Notification done;
    (*wal)->AppendShared(*owner, owner, [&](absl::Status s) {
      EXPECT_TRUE(s.ok()) << s;
      done.Notify();
    });
    owner.reset();  // the log holds the only reference now
    done.WaitForNotification();
    EXPECT_TRUE(watch.expired());  // released once written
    (*wal)->AppendShared("no owner: copied", nullptr, [](absl::Status s) { EXPECT_TRUE(s.ok()); });
    ASSERT_TRUE((*wal)->Close().ok());
  }
  auto wal = Wal::Open(dir, Options{});
  ASSERT_TRUE(wal.ok());
  std::vector<std::string> records;
  ASSERT_TRUE(
      (*wal)->Replay([&](uint64_t, std::string_view p) { records.emplace_back(p); }, nullptr).ok());
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0], "a payload that the caller keeps alive");
  EXPECT_EQ(records[1], "no owner: copied");
  ASSERT_TRUE((*wal)->Close().ok());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ariadne::wal
