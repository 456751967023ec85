// The embedded store end to end in one process: the head cut into blocks by
// the flusher, queries over head + blocks against a head that kept
// everything, retention, damaged blocks, and what a restart finds.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "store/block_set.h"
#include "store/embedded.h"
#include "store/flusher.h"
#include "store/head.h"

namespace ariadne::store {
namespace {

// The answer of a backend that must answer (the head, the embedded store).
template <typename T>
T Ok(absl::StatusOr<T> answer) {
  EXPECT_TRUE(answer.ok()) << answer.status();
  return *std::move(answer);
}

namespace fs = std::filesystem;
using model::SpanBatch;
using model::SpanKind;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = fs::temp_directory_path().string() + "/ariadne-storage-test-XXXXXX";
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A batch of `traces` traces of 3-6 spans over a few services, with string,
// int and high-cardinality attributes and some errors; deterministic.
std::shared_ptr<const SpanBatch> MakeBatch(uint32_t seed, int traces, uint64_t base_nano) {
  std::mt19937_64 rng(seed);
  auto b = std::make_shared<SpanBatch>();
  const char* services[] = {"frontend", "cart", "checkout", "payment"};
  for (int s = 0; s < 4; ++s) {
    model::Resource r;
    r.service_name = b->Copy(services[s]);
    r.attributes = {static_cast<uint32_t>(b->attributes.size()), 1};
    b->attributes.push_back({"service.name", model::AnyValue::String(r.service_name)});
    b->resources.push_back(r);
    model::Scope sc;
    sc.resource = static_cast<uint32_t>(s);
    sc.name = b->Copy("test-scope");
    b->scopes.push_back(sc);
  }
  const char* names[] = {"GET /", "GetCart", "PlaceOrder", "Charge", "SELECT"};
  for (int t = 0; t < traces; ++t) {
    model::TraceId tid;
    for (auto& byte : tid) byte = static_cast<uint8_t>(rng());
    const int spans = 3 + static_cast<int>(rng() % 4);
    const uint64_t start = base_nano + rng() % 1'000'000'000;
    std::vector<model::SpanId> ids;
    for (int i = 0; i < spans; ++i) {
      const uint32_t row = b->AddSpan();
      model::SpanId sid;
      for (auto& byte : sid) byte = static_cast<uint8_t>(rng() | 1);
      b->trace_id[row] = tid;
      b->span_id[row] = sid;
      if (i > 0) b->parent_span_id[row] = ids[rng() % ids.size()];
      ids.push_back(sid);
      const int svc = i == 0 ? 0 : static_cast<int>(rng() % 4);
      b->scope[row] = static_cast<uint32_t>(svc);
      b->name[row] = b->Copy(names[i == 0 ? 0 : 1 + rng() % 4]);
      b->kind[row] = i == 0 ? SpanKind::kServer : (rng() % 2 ? SpanKind::kClient : SpanKind::kServer);
      b->start_unix_nano[row] = start + static_cast<uint64_t>(i) * 1000;
      b->end_unix_nano[row] = b->start_unix_nano[row] + 1000 + rng() % 50'000'000;
      const uint32_t first = static_cast<uint32_t>(b->attributes.size());
      const int code = rng() % 10 == 0 ? 500 : 200;
      b->attributes.push_back({"http.response.status_code", model::AnyValue::Int(code)});
      b->attributes.push_back({"user.id", model::AnyValue::String(b->Copy("u" + std::to_string(rng() % 5000)))});
      b->attributes.push_back({"region", model::AnyValue::String(rng() % 2 ? "eu" : "us")});
      b->span_attributes[row] = {first, 3};
      if (code == 500) b->status_code[row] = model::StatusCode::kError;
    }
  }
  return b;
}

std::vector<TraceQuery> Queries(uint64_t base) {
  std::vector<TraceQuery> qs;
  TraceQuery q;
  q.limit = 1000;
  qs.push_back(q);
  q.service = "cart";
  qs.push_back(q);
  q.operation = "GetCart";
  qs.push_back(q);
  q.kind = SpanKind::kClient;
  qs.push_back(q);
  TraceQuery t;
  t.limit = 1000;
  t.tags = {{"http.response.status_code", "500"}};
  qs.push_back(t);
  t.tags = {{"error", "true"}, {"region", "eu"}};
  qs.push_back(t);
  t.tags = {{"user.id", "u42"}};
  qs.push_back(t);
  t.tags = {{"user.id", "no-such-user"}};
  qs.push_back(t);
  TraceQuery d;
  d.limit = 1000;
  d.min_duration_nano = 20'000'000;
  d.max_duration_nano = 30'000'000;
  qs.push_back(d);
  TraceQuery w;
  w.limit = 7;
  w.start_min_nano = base + 2'000'000'000;
  w.start_max_nano = base + 4'500'000'000;
  qs.push_back(w);
  return qs;
}

struct Fixture {
  TempDir dir;
  Head head;
  Head reference;  // everything, never cut
  std::unique_ptr<BlockSet> blocks;
  uint64_t epoch = 1;
  uint64_t wal_seq = 0;
  std::vector<uint64_t> removed_through;
  std::unique_ptr<Flusher> flusher;

  Fixture() {
    auto set = BlockSet::Open(dir.path() + "/blocks");
    EXPECT_TRUE(set.ok()) << set.status();
    blocks = *std::move(set);
    FlusherOptions o;
    o.writer.row_group_spans = 256;  // several row groups per block
    flusher = std::make_unique<Flusher>(
        &head, blocks.get(),
        [this]() -> absl::StatusOr<HeadCut> { return HeadCut{epoch++, wal_seq}; },
        [this](uint64_t seq) -> absl::StatusOr<int> {
          removed_through.push_back(seq);
          return 0;
        },
        o);
  }
  void Append(std::shared_ptr<const SpanBatch> b) {
    ++wal_seq;
    head.Append(b, epoch);
    reference.Append(b);
  }
};

void ExpectSameAnswers(const StorageBackend& store, const Head& reference, uint64_t base) {
  for (const TraceQuery& q : Queries(base)) {
    const auto want = Ok(reference.FindTraces(q));
    const auto got = Ok(store.FindTraces(q));
    EXPECT_EQ(got, want) << "service=" << q.service << " op=" << q.operation << " tags="
                         << q.tags.size() << " limit=" << q.limit;
    for (const auto& [start, id] : want) {
      const auto a = Ok(reference.GetTrace(id));
      const auto b = Ok(store.GetTrace(id));
      ASSERT_EQ(a.size(), b.size());
      for (size_t i = 0; i < a.size(); ++i) {
        EXPECT_EQ(a[i].batch->span_id[a[i].row], b[i].batch->span_id[b[i].row]);
        EXPECT_EQ(a[i].batch->name[a[i].row], b[i].batch->name[b[i].row]);
        EXPECT_EQ(a[i].batch->end_unix_nano[a[i].row], b[i].batch->end_unix_nano[b[i].row]);
      }
    }
  }
  EXPECT_EQ(Ok(store.Services()), Ok(reference.Services()));
  EXPECT_EQ(Ok(store.Operations("cart", std::nullopt)), Ok(reference.Operations("cart", std::nullopt)));
  EXPECT_EQ(Ok(store.Operations("cart", SpanKind::kClient)), Ok(reference.Operations("cart", SpanKind::kClient)));
}

constexpr uint64_t kBase = 1'700'000'000'000'000'000;

TEST(StorageTest, FlushedBlocksAnswerLikeTheHead) {
  Fixture f;
  EmbeddedStore store(&f.head, f.blocks.get());
  for (uint32_t i = 0; i < 6; ++i) {
    f.Append(MakeBatch(i, 200, kBase + i * 1'000'000'000ull));
    if (i % 2 == 1) {
      ASSERT_TRUE(f.flusher->FlushNow().ok());
    }
  }
  f.Append(MakeBatch(99, 50, kBase + 6'000'000'000ull));  // stays in the head
  EXPECT_EQ(f.blocks->stats().blocks, 3u);
  EXPECT_EQ(f.head.stats().batches, 1u);
  EXPECT_EQ(f.removed_through, (std::vector<uint64_t>{2, 4, 6}));
  EXPECT_EQ(f.blocks->covered_wal_seq(), 6u);
  ExpectSameAnswers(store, f.reference, kBase);
  // Dependencies: same edges and counts (no trace crosses a cut here).
  const auto a = Ok(f.reference.Dependencies(0, UINT64_MAX));
  const auto b = Ok(store.Dependencies(0, UINT64_MAX));
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].parent, b[i].parent);
    EXPECT_EQ(a[i].child, b[i].child);
    EXPECT_EQ(a[i].call_count, b[i].call_count);
  }

  // A restart finds the same blocks and the covered log position.
  auto reopened = BlockSet::Open(f.dir.path() + "/blocks");
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->stats().blocks, 3u);
  EXPECT_EQ((*reopened)->covered_wal_seq(), 6u);
}

uint64_t DirBytes(const std::string& dir) {
  uint64_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) n += e.file_size();
  }
  return n;
}

TEST(StorageTest, RetentionDropsWholeBlocksAndFreesDisk) {
  Fixture f;
  // Three blocks an hour apart in span time.
  for (uint32_t i = 0; i < 3; ++i) {
    f.Append(MakeBatch(i, 300, kBase + i * 3600'000'000'000ull));
    ASSERT_TRUE(f.flusher->FlushNow().ok());
  }
  const uint64_t before = DirBytes(f.dir.path() + "/blocks");
  auto removed = f.blocks->ApplyRetention(kBase + 3600'000'000'000ull, 0);
  EXPECT_EQ(removed.size(), 1u);  // only the first block ended before that
  const uint64_t after = DirBytes(f.dir.path() + "/blocks");
  EXPECT_LT(after, before * 3 / 4) << before << " -> " << after;
  EXPECT_EQ(f.blocks->stats().blocks, 2u);
  // By size: keep at most one block's worth.
  removed = f.blocks->ApplyRetention(0, after / 2 + 1);
  EXPECT_EQ(removed.size(), 1u);
  EXPECT_EQ(f.blocks->stats().blocks, 1u);
  EXPECT_EQ(f.blocks->stats().retention_removed, 2u);
  // The newest survives: its traces are still found.
  EmbeddedStore store(&f.head, f.blocks.get());
  TraceQuery q;
  q.limit = 5;
  EXPECT_EQ(Ok(store.FindTraces(q)).size(), 5u);
  // The covered position outlives the blocks.
  auto reopened = BlockSet::Open(f.dir.path() + "/blocks");
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->covered_wal_seq(), 3u);
}

TEST(StorageTest, DamagedBlockIsSkippedAndCounted) {
  Fixture f;
  f.Append(MakeBatch(1, 300, kBase));
  ASSERT_TRUE(f.flusher->FlushNow().ok());
  f.Append(MakeBatch(2, 300, kBase + 10'000'000'000ull));
  ASSERT_TRUE(f.flusher->FlushNow().ok());
  auto snapshot = f.blocks->Snapshot();
  ASSERT_EQ(snapshot.size(), 2u);
  // Flip bytes in the middle of the older block's data.
  const std::string data = snapshot[1]->dir() + "/data.blk";
  {
    std::fstream file(data, std::ios::in | std::ios::out | std::ios::binary);
    const auto size = fs::file_size(data);
    for (uint64_t off = size / 3; off < size / 3 + 64; ++off) {
      file.seekg(static_cast<std::streamoff>(off));
      char c = 0;
      file.read(&c, 1);
      file.seekp(static_cast<std::streamoff>(off));
      c = static_cast<char>(c ^ 0x5a);
      file.write(&c, 1);
    }
  }
  EmbeddedStore store(&f.head, f.blocks.get());
  TraceQuery q;
  q.limit = 100000;
  const auto found = Ok(store.FindTraces(q));  // reads every row group of both
  EXPECT_EQ(f.blocks->stats().damaged, 1u);
  EXPECT_EQ(f.blocks->stats().blocks, 1u);
  // The good block still answers.
  EXPECT_GE(found.size(), 300u);
  EXPECT_EQ(Ok(store.FindTraces(q)).size(), 300u);
}

TEST(StorageTest, OpenRemovesHalfWrittenBlocks) {
  TempDir dir;
  fs::create_directories(dir.path() + "/blocks/tmp-0000000000000001abcdef0123456789");
  fs::create_directories(dir.path() + "/blocks/00000000000000020000000000000002");  // no meta.json
  std::ofstream(dir.path() + "/blocks/00000000000000020000000000000002/data.blk") << "partial";
  auto set = BlockSet::Open(dir.path() + "/blocks");
  ASSERT_TRUE(set.ok());
  EXPECT_EQ((*set)->stats().blocks, 0u);
  EXPECT_TRUE(fs::is_empty(dir.path() + "/blocks"));
}

}  // namespace
}  // namespace ariadne::store
