// Compaction: every span kept (traces split across inputs merged, repeated
// spans kept once), levels and log positions, disk bytes, queries alike
// before and after, memory bounded by row groups rather than data, the
// crash between publishing the output and deleting the inputs, the planner,
// the flusher's wiring, and the streaming BlockWriter's contract.
#include "store/compactor.h"

#include <gtest/gtest.h>

#include <cinttypes>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "encode/test_batches.h"
#include "model/span_batch.h"
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
using model::AnyValue;
using model::SpanBatch;
using model::SpanKind;
using model::SpanRef;
using model::TraceId;
using model::ValueType;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = fs::temp_directory_path().string() + "/ariadne-compactor-test-XXXXXX";
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

// A canonical text form of a span with every field (resource and scope
// resolved), for field-by-field comparison.
void DumpAttrs(const SpanBatch& b, model::Range r, std::string* out);
void DumpValue(const SpanBatch& b, const AnyValue& v, std::string* out) {
  switch (v.type) {
    case ValueType::kArray:
      *out += "A[";
      for (uint32_t i = 0; i < v.children.count; ++i) {
        DumpValue(b, b.array_items[v.children.first + i], out);
        *out += ",";
      }
      *out += "]";
      break;
    case ValueType::kKvList:
      *out += "K{";
      DumpAttrs(b, v.children, out);
      *out += "}";
      break;
    case ValueType::kDouble: {
      uint64_t bits;
      std::memcpy(&bits, &v.double_value, 8);
      *out += "D" + std::to_string(bits);
      break;
    }
    case ValueType::kString:
      *out += "S(" + std::string(v.bytes) + ")";
      break;
    case ValueType::kBytes:
      *out += "B(" + std::string(v.bytes) + ")";
      break;
    case ValueType::kBool:
      *out += v.bool_value ? "T" : "F";
      break;
    case ValueType::kInt:
      *out += "I" + std::to_string(v.int_value);
      break;
    case ValueType::kEmpty:
      *out += "E";
      break;
  }
}
void DumpAttrs(const SpanBatch& b, model::Range r, std::string* out) {
  for (uint32_t i = 0; i < r.count; ++i) {
    const model::KeyValue& kv = b.attributes[r.first + i];
    *out += std::string(kv.key) + "=";
    DumpValue(b, kv.value, out);
    *out += ";";
  }
}
std::string DumpSpan(const SpanBatch& b, uint32_t row) {
  std::ostringstream o;
  o << model::ToHex(b.trace_id[row]) << "|" << model::ToHex(b.span_id[row]) << "|"
    << model::ToHex(b.parent_span_id[row]) << "|ts=" << b.trace_state[row]
    << "|flags=" << b.flags[row] << "|name=" << b.name[row]
    << "|kind=" << static_cast<int>(b.kind[row]) << "|" << b.start_unix_nano[row] << "-"
    << b.end_unix_nano[row] << "|status=" << static_cast<int>(b.status_code[row]) << ":"
    << b.status_message[row] << "|dropped=" << b.dropped_attributes_count[row] << ","
    << b.dropped_events_count[row] << "," << b.dropped_links_count[row];
  std::string s = o.str();
  s += "|attrs=";
  DumpAttrs(b, b.span_attributes[row], &s);
  s += "|events=";
  for (uint32_t i = 0; i < b.span_events[row].count; ++i) {
    const model::Event& e = b.events[b.span_events[row].first + i];
    s += std::to_string(e.time_unix_nano) + ":" + std::string(e.name) + ":";
    DumpAttrs(b, e.attributes, &s);
    s += ":" + std::to_string(e.dropped_attributes_count) + ",";
  }
  s += "|links=";
  for (uint32_t i = 0; i < b.span_links[row].count; ++i) {
    const model::Link& l = b.links[b.span_links[row].first + i];
    s += model::ToHex(l.trace_id) + ":" + model::ToHex(l.span_id) + ":" +
         std::string(l.trace_state) + ":";
    DumpAttrs(b, l.attributes, &s);
    s += ":" + std::to_string(l.dropped_attributes_count) + ":" + std::to_string(l.flags) + ",";
  }
  const model::Scope& sc = b.scopes[b.scope[row]];
  s += "|scope=" + std::string(sc.name) + ":" + std::string(sc.version) + ":" +
       std::string(sc.schema_url) + ":" + std::to_string(sc.dropped_attributes_count) + ":";
  DumpAttrs(b, sc.attributes, &s);
  const model::Resource& r = b.resources[sc.resource];
  s += "|resource=" + std::string(r.service_name) + ":" + std::string(r.schema_url) + ":" +
       std::to_string(r.dropped_attributes_count) + ":";
  DumpAttrs(b, r.attributes, &s);
  return s;
}

// `traces` traces of 3-6 spans over four services, with string, int and
// high-cardinality attributes, some errors with an exception event, some
// links and nested values; deterministic.
std::shared_ptr<SpanBatch> MakeBatch(uint32_t seed, int traces, uint64_t base_nano) {
  std::mt19937_64 rng(seed);
  auto b = std::make_shared<SpanBatch>();
  const char* services[] = {"frontend", "cart", "checkout", "payment"};
  for (int s = 0; s < 4; ++s) {
    model::Resource r;
    r.service_name = b->Copy(services[s]);
    r.attributes = {static_cast<uint32_t>(b->attributes.size()), 2};
    b->attributes.push_back({b->Copy("service.name"), AnyValue::String(r.service_name)});
    b->attributes.push_back({b->Copy("host.name"), AnyValue::String(b->Copy("host-" + std::to_string(s % 2)))});
    b->resources.push_back(r);
    model::Scope sc;
    sc.resource = static_cast<uint32_t>(s);
    sc.name = b->Copy("test-scope");
    sc.version = b->Copy("1.0");
    b->scopes.push_back(sc);
  }
  const char* names[] = {"GET /", "GetCart", "PlaceOrder", "Charge", "SELECT"};
  for (int t = 0; t < traces; ++t) {
    TraceId tid;
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
      b->flags[row] = 0x100;
      const uint32_t first = static_cast<uint32_t>(b->attributes.size());
      const int code = rng() % 10 == 0 ? 500 : 200;
      b->attributes.push_back({b->Copy("http.response.status_code"), AnyValue::Int(code)});
      b->attributes.push_back(
          {b->Copy("user.id"), AnyValue::String(b->Copy("u" + std::to_string(rng() % 5000)))});
      b->attributes.push_back({b->Copy("region"), AnyValue::String(b->Copy(rng() % 2 ? "eu" : "us"))});
      char req[17];
      std::snprintf(req, sizeof(req), "%016" PRIx64, static_cast<uint64_t>(rng()));
      b->attributes.push_back({b->Copy("request.id"), AnyValue::String(b->Copy(req))});
      uint32_t n = 4;
      if (rng() % 7 == 0) {  // a nested value
        const uint32_t items = static_cast<uint32_t>(b->array_items.size());
        b->array_items.push_back(AnyValue::Double(0.25));
        b->array_items.push_back(AnyValue::Bool(true));
        b->attributes.push_back({b->Copy("retries"), AnyValue::Array({items, 2})});
        ++n;
      }
      b->span_attributes[row] = {first, n};
      if (code == 500) {
        b->status_code[row] = model::StatusCode::kError;
        b->status_message[row] = b->Copy("upstream connect error");
        model::Event e;
        e.time_unix_nano = b->start_unix_nano[row] + 500;
        e.name = b->Copy("exception");
        e.attributes = {static_cast<uint32_t>(b->attributes.size()), 1};
        b->attributes.push_back({b->Copy("exception.message"), AnyValue::String(b->Copy("reset"))});
        b->span_events[row] = {static_cast<uint32_t>(b->events.size()), 1};
        b->events.push_back(e);
      }
      if (rng() % 11 == 0) {
        model::Link l;
        for (auto& byte : l.trace_id) byte = static_cast<uint8_t>(rng());
        l.span_id = sid;
        l.trace_state = b->Copy("k=v");
        b->span_links[row] = {static_cast<uint32_t>(b->links.size()), 1};
        b->links.push_back(l);
      }
    }
  }
  return b;
}

std::vector<SpanRef> RefsOf(const std::vector<std::shared_ptr<const SpanBatch>>& batches) {
  std::vector<SpanRef> refs;
  for (const auto& b : batches) {
    for (uint32_t row = 0; row < b->size(); ++row) refs.push_back({b, row});
  }
  return refs;
}

std::shared_ptr<Block> WriteAndOpen(const std::string& dir, const std::vector<SpanRef>& refs,
                                    uint32_t level, uint64_t wal_seq,
                                    const BlockWriterOptions& options = {}) {
  BlockMeta meta;
  meta.level = level;
  meta.wal_seq_max = wal_seq;
  absl::StatusOr<BlockMeta> m = WriteBlock(dir, refs, meta, options);
  EXPECT_TRUE(m.ok()) << m.status();
  absl::StatusOr<std::shared_ptr<Block>> b = Block::Open(dir + "/" + m->id);
  EXPECT_TRUE(b.ok()) << b.status();
  return *b;
}

// Every span of the blocks, per trace, as dumps in row order.
std::map<TraceId, std::vector<std::string>> TracesOf(const std::vector<std::shared_ptr<Block>>& blocks) {
  std::map<TraceId, std::vector<std::string>> out;
  for (const auto& block : blocks) {
    for (uint32_t g = 0; g < block->meta().row_groups; ++g) {
      auto rg = block->ReadRowGroup(g);
      EXPECT_TRUE(rg.ok()) << rg.status();
      for (uint32_t r = 0; r < (*rg)->size(); ++r) {
        out[(*rg)->trace_id[r]].push_back(DumpSpan(**rg, r));
      }
    }
  }
  return out;
}

// What a compaction of `inputs` must hold: per trace, the spans of every
// input, a (span id, kind) repeated kept once (the first input's), by start.
std::map<TraceId, std::vector<std::string>> Expected(const std::vector<std::vector<SpanRef>>& inputs) {
  std::map<TraceId, std::vector<std::pair<uint64_t, std::string>>> spans;
  std::set<std::tuple<TraceId, model::SpanId, SpanKind>> seen;
  for (const auto& refs : inputs) {
    // Within an input, WriteBlock's order: by trace, then start.
    std::vector<SpanRef> sorted = refs;
    std::stable_sort(sorted.begin(), sorted.end(), [](const SpanRef& a, const SpanRef& b) {
      return a.batch->start_unix_nano[a.row] < b.batch->start_unix_nano[b.row];
    });
    for (const SpanRef& r : sorted) {
      const SpanBatch& b = *r.batch;
      if (!seen.insert({b.trace_id[r.row], b.span_id[r.row], b.kind[r.row]}).second) continue;
      spans[b.trace_id[r.row]].emplace_back(b.start_unix_nano[r.row], DumpSpan(b, r.row));
    }
  }
  std::map<TraceId, std::vector<std::string>> out;
  for (auto& [id, list] : spans) {
    std::stable_sort(list.begin(), list.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& [start, dump] : list) out[id].push_back(dump);
  }
  return out;
}

uint64_t DirBytes(const std::string& dir) {
  uint64_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) n += e.file_size();
  }
  return n;
}

constexpr uint64_t kBase = 1'700'000'000'000'000'000;

// Three inputs: a trace split across the first two, 40 spans of the first
// repeated in the second (a client's retry), and every field and value type
// (encode::testing::BatchA/BatchB) in the third.
struct ThreeInputs {
  TempDir dir;
  std::vector<std::vector<SpanRef>> refs;
  std::vector<std::shared_ptr<Block>> blocks;
  TraceId split{};
  ThreeInputs() {
    auto a = MakeBatch(1, 300, kBase);
    auto b = MakeBatch(2, 300, kBase + 1'000'000'000);
    // The split trace: the first trace of `a` gets two more spans in `b`'s block.
    split = a->trace_id[0];
    auto extra = std::make_shared<SpanBatch>();
    {
      model::Resource r;
      r.service_name = extra->Copy("late-service");
      extra->resources.push_back(r);
      model::Scope s;
      extra->scopes.push_back(s);
      for (int i = 0; i < 2; ++i) {
        const uint32_t row = extra->AddSpan();
        extra->trace_id[row] = split;
        extra->span_id[row] = encode::testing::MakeSpanId(static_cast<uint8_t>(200 + i));
        extra->parent_span_id[row] = a->span_id[0];
        extra->name[row] = extra->Copy("late child");
        extra->start_unix_nano[row] = a->start_unix_nano[0] + 5000 + i;
        extra->end_unix_nano[row] = extra->start_unix_nano[row] + 10;
      }
    }
    std::vector<std::shared_ptr<const SpanBatch>> first = {a};
    std::vector<SpanRef> second = RefsOf({b, extra});
    for (uint32_t row = 100; row < 140; ++row) second.push_back({a, row});  // repeated
    refs.push_back(RefsOf(first));
    refs.push_back(second);
    refs.push_back(RefsOf({encode::testing::BatchA(), encode::testing::BatchB(true)}));
    BlockWriterOptions o;
    o.row_group_spans = 200;
    blocks.push_back(WriteAndOpen(dir.path(), refs[0], 0, 5, o));
    blocks.push_back(WriteAndOpen(dir.path(), refs[1], 0, 9, o));
    blocks.push_back(WriteAndOpen(dir.path(), refs[2], 0, 7, o));
  }
};

TEST(CompactorTest, KeepsEverySpanMergesSplitTracesAndDropsRepeats) {
  ThreeInputs in;
  const auto expected = Expected(in.refs);
  // The split trace really is in two inputs.
  ASSERT_GT((*in.blocks[0]->GetTrace(in.split))->size(), 0u);
  ASSERT_EQ((*in.blocks[1]->GetTrace(in.split))->size(), 2u);
  uint64_t input_bytes = 0;
  for (const auto& b : in.blocks) input_bytes += b->meta().bytes;

  BlockWriterOptions o;
  o.row_group_spans = 200;
  CompactionStats stats;
  absl::StatusOr<BlockMeta> meta = Compact(in.blocks, in.dir.path(), o, &stats);
  ASSERT_TRUE(meta.ok()) << meta.status();
  EXPECT_EQ(meta->level, 1u);
  EXPECT_EQ(meta->wal_seq_max, 9u);
  EXPECT_EQ(meta->compacted_from,
            (std::vector<std::string>{in.blocks[0]->meta().id, in.blocks[1]->meta().id,
                                      in.blocks[2]->meta().id}));
  EXPECT_EQ(stats.duplicates, 40u);
  uint64_t expected_spans = 0;
  for (const auto& [id, spans] : expected) expected_spans += spans.size();
  EXPECT_EQ(meta->spans, expected_spans);
  EXPECT_EQ(meta->traces, expected.size());
  EXPECT_EQ(stats.output_spans, expected_spans);
  EXPECT_EQ(stats.input_spans, expected_spans + 40);
  EXPECT_EQ(meta->min_start_nano, std::min({in.blocks[0]->meta().min_start_nano,
                                            in.blocks[1]->meta().min_start_nano,
                                            in.blocks[2]->meta().min_start_nano}));

  auto out = Block::Open(in.dir.path() + "/" + meta->id);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE((*out)->Verify().ok()) << (*out)->Verify();
  EXPECT_EQ((*out)->meta().compacted_from, meta->compacted_from);
  const auto got = TracesOf({*out});
  ASSERT_EQ(got.size(), expected.size());
  for (const auto& [id, spans] : expected) {
    ASSERT_TRUE(got.contains(id)) << model::ToHex(id);
    EXPECT_EQ(got.at(id), spans) << model::ToHex(id);
  }
  // The split trace is one trace now, found by id.
  auto split = (*out)->GetTrace(in.split);
  ASSERT_TRUE(split.ok());
  EXPECT_EQ((*split)->size(), expected.at(in.split).size());
  // Shared dictionaries, resources and one index: smaller than the inputs.
  EXPECT_LT(meta->bytes, input_bytes);
  std::printf("inputs %" PRIu64 " B -> output %" PRIu64 " B (%" PRIu64 " spans)\n", input_bytes,
              meta->bytes, meta->spans);
}

std::vector<TraceQuery> Queries() {
  std::vector<TraceQuery> qs;
  TraceQuery q;
  q.limit = 100000;
  qs.push_back(q);
  q.service = "cart";
  qs.push_back(q);
  q.operation = "GetCart";
  qs.push_back(q);
  q.kind = SpanKind::kClient;
  qs.push_back(q);
  TraceQuery t;
  t.limit = 100000;
  t.tags = {{"http.response.status_code", "500"}};
  qs.push_back(t);
  t.tags = {{"error", "true"}, {"region", "eu"}};
  qs.push_back(t);
  t.tags = {{"user.id", "u42"}};
  qs.push_back(t);
  t.tags = {{"host.name", "host-1"}};
  qs.push_back(t);
  t.tags = {{"user.id", "no-such-user"}};
  qs.push_back(t);
  TraceQuery d;
  d.limit = 100000;
  d.min_duration_nano = 20'000'000;
  d.max_duration_nano = 30'000'000;
  qs.push_back(d);
  TraceQuery w;
  w.limit = 7;
  w.start_min_nano = kBase + 2'000'000'000;
  w.start_max_nano = kBase + 4'500'000'000;
  qs.push_back(w);
  return qs;
}

// Every answer of the store, as text.
std::vector<std::string> Answers(const StorageBackend& store) {
  std::vector<std::string> out;
  for (const TraceQuery& q : Queries()) {
    std::string s;
    for (const auto& [start, id] : Ok(store.FindTraces(q))) {
      s += std::to_string(start) + ":" + model::ToHex(id) + ",";
      if (q.limit == 7) {
        for (const SpanRef& r : Ok(store.GetTrace(id))) out.push_back(DumpSpan(*r.batch, r.row));
      }
    }
    out.push_back(s);
  }
  for (const std::string& s : Ok(store.Services())) out.push_back(s);
  for (const Operation& op : Ok(store.Operations("cart", std::nullopt))) out.push_back(op.name);
  return out;
}

TEST(CompactorTest, QueriesAnswerTheSameAfterCompaction) {
  TempDir dir;
  const std::string blocks_dir = dir.path() + "/blocks";
  std::vector<std::shared_ptr<const SpanBatch>> batches;
  for (uint32_t i = 0; i < 4; ++i) {
    batches.push_back(MakeBatch(10 + i, 250, kBase + i * 1'000'000'000ull));
    BlockWriterOptions o;
    o.row_group_spans = 128;
    // Half the inputs in format version 1 (no attribute filters).
    if (i % 2 == 0) o.attribute_filter_bits_per_entry = 0;
    WriteAndOpen(blocks_dir, RefsOf({batches.back()}), 0, i + 1, o);
  }
  auto set = BlockSet::Open(blocks_dir);
  ASSERT_TRUE(set.ok());
  ASSERT_EQ((*set)->stats().blocks, 4u);
  Head head;
  EmbeddedStore store(&head, set->get());
  const std::vector<std::string> before = Answers(store);
  std::map<TraceId, std::vector<std::string>> traces_before;
  for (const auto& b : batches) {
    for (uint32_t r = 0; r < b->size(); ++r) {
      const TraceId& id = b->trace_id[r];
      if (traces_before.contains(id)) continue;
      for (const SpanRef& s : Ok(store.GetTrace(id))) traces_before[id].push_back(DumpSpan(*s.batch, s.row));
    }
  }
  const uint64_t bytes_before = DirBytes(blocks_dir);

  auto inputs = (*set)->Snapshot();
  BlockWriterOptions o;
  o.row_group_spans = 128;
  absl::StatusOr<BlockMeta> meta = Compact(inputs, blocks_dir, o);
  ASSERT_TRUE(meta.ok()) << meta.status();
  auto out = Block::Open(blocks_dir + "/" + meta->id);
  ASSERT_TRUE(out.ok());
  // The merged block has attribute filters, whatever its inputs had: an
  // absent request id reads (nearly) no row group.
  EXPECT_EQ(meta->format_version, 2u);
  EXPECT_TRUE((*out)->Verify().ok());
  {
    TraceQuery q;
    q.tags = {{"request.id", "not-a-request"}};
    EXPECT_TRUE(Ok((*out)->FindTraces(q)).empty());
    const BlockSearchStats st = (*out)->search_stats();
    EXPECT_LE(st.row_groups_read, 1u);
    EXPECT_EQ(st.row_groups_read + st.row_groups_filtered, meta->row_groups);
  }
  ASSERT_TRUE((*set)->Replace(*out, meta->compacted_from).ok());
  EXPECT_EQ((*set)->stats().blocks, 1u);
  for (const auto& b : inputs) EXPECT_FALSE(fs::exists(b->dir())) << b->dir();

  EXPECT_EQ(Answers(store), before);
  for (const auto& [id, spans] : traces_before) {
    std::vector<std::string> now;
    for (const SpanRef& s : Ok(store.GetTrace(id))) now.push_back(DumpSpan(*s.batch, s.row));
    EXPECT_EQ(now, spans);
  }
  // Dependencies: no trace crosses the inputs here, so the same edges.
  const uint64_t bytes_after = DirBytes(blocks_dir);
  EXPECT_LT(bytes_after, bytes_before);
  std::printf("4 blocks %" PRIu64 " B on disk -> 1 block %" PRIu64 " B\n", bytes_before, bytes_after);
}

// The memory bound: compacting 4 inputs of many row groups holds at most
// (inputs + 1) row groups of decoded spans at once, and the same whether
// the inputs hold 40 or 160 row groups each.
TEST(CompactorTest, MemoryIsBoundedByRowGroupsNotByData) {
  constexpr uint32_t kRowGroup = 128;
  constexpr uint32_t kMaxTrace = 6;  // MakeBatch's largest trace
  constexpr uint32_t kInputs = 4;
  uint64_t peak_small = 0;
  for (const int traces : {1100, 4400}) {
    TempDir dir;
    BlockWriterOptions o;
    o.row_group_spans = kRowGroup;
    std::vector<std::shared_ptr<Block>> inputs;
    uint64_t total = 0, groups = 0;
    for (uint32_t i = 0; i < kInputs; ++i) {
      inputs.push_back(WriteAndOpen(dir.path(), RefsOf({MakeBatch(100 + i, traces, kBase)}), 0, 1, o));
      total += inputs.back()->meta().spans;
      groups += inputs.back()->meta().row_groups;
    }
    CompactionStats stats;
    absl::StatusOr<BlockMeta> meta = Compact(inputs, dir.path(), o, &stats);
    ASSERT_TRUE(meta.ok()) << meta.status();
    EXPECT_EQ(meta->spans, total);
    std::printf("%u inputs, %" PRIu64 " row groups, %" PRIu64
                " spans: peak decoded spans alive %" PRIu64 ", writer peak %" PRIu64
                " (bound %u)\n",
                kInputs, groups, total, stats.max_live_spans, stats.max_buffered_spans,
                (kInputs + 1) * (kRowGroup + kMaxTrace));
    // An input row group and the output row group end at the first trace
    // boundary past kRowGroup spans.
    EXPECT_LE(stats.max_buffered_spans, kRowGroup + kMaxTrace - 1);
    EXPECT_LE(stats.max_live_spans, (kInputs + 1) * (kRowGroup + kMaxTrace - 1));
    EXPECT_LT(stats.max_live_spans * 10, total);
    if (traces == 1100) {
      peak_small = stats.max_live_spans;
    } else {
      // Four times the data, not four times the memory.
      EXPECT_LE(stats.max_live_spans, peak_small + kInputs * kMaxTrace);
    }
  }
}

TEST(CompactorTest, CrashBetweenPublishAndRemovalDropsTheInputsAtOpen) {
  ThreeInputs in;
  const auto expected = Expected(in.refs);
  BlockWriterOptions o;
  o.row_group_spans = 200;
  // Published, then "crash": the inputs are not removed.
  absl::StatusOr<BlockMeta> meta = Compact(in.blocks, in.dir.path(), o);
  ASSERT_TRUE(meta.ok()) << meta.status();
  for (const auto& b : in.blocks) ASSERT_TRUE(fs::exists(b->dir()));
  {
    // Meanwhile (both in the set): answers have no repeated span or trace.
    TempDir other;
    auto set = BlockSet::Open(other.path());  // an empty set
    ASSERT_TRUE(set.ok());
    for (const auto& b : in.blocks) (*set)->Add(b);
    (*set)->Add(*Block::Open(in.dir.path() + "/" + meta->id));
    Head head;
    EmbeddedStore store(&head, set->get());
    TraceQuery all;
    all.limit = 100000;
    EXPECT_EQ(Ok(store.FindTraces(all)).size(), expected.size());
    auto trace = Ok(store.GetTrace(in.split));
    EXPECT_EQ(trace.size(), expected.at(in.split).size());
  }
  in.blocks.clear();

  auto set = BlockSet::Open(in.dir.path());
  ASSERT_TRUE(set.ok());
  EXPECT_EQ((*set)->stats().blocks, 1u);
  EXPECT_EQ((*set)->stats().compacted_removed, 3u);
  EXPECT_EQ((*set)->covered_wal_seq(), 9u);
  std::vector<std::string> dirs;
  for (const auto& e : fs::directory_iterator(in.dir.path())) {
    if (e.is_directory()) dirs.push_back(e.path().filename());
  }
  EXPECT_EQ(dirs, std::vector<std::string>{meta->id});
  Head head;
  EmbeddedStore store(&head, set->get());
  TraceQuery all;
  all.limit = 100000;
  EXPECT_EQ(Ok(store.FindTraces(all)).size(), expected.size());
  for (const auto& [id, spans] : expected) {
    std::vector<std::string> got;
    for (const SpanRef& r : Ok(store.GetTrace(id))) got.push_back(DumpSpan(*r.batch, r.row));
    EXPECT_EQ(got, spans);
  }
}

// A block with only a meta (the planner reads nothing else).
class FakeBlock : public Block {
 public:
  FakeBlock(std::string id, uint32_t level, uint64_t min_start, uint64_t max_start, uint64_t bytes) {
    meta_.id = std::move(id);
    meta_.level = level;
    meta_.min_start_nano = min_start;
    meta_.max_start_nano = max_start;
    meta_.bytes = bytes;
  }
  const BlockMeta& meta() const override { return meta_; }
  const std::string& dir() const override { return meta_.id; }
  bool MayContain(const TraceId&) const override { return false; }
  absl::StatusOr<std::shared_ptr<const SpanBatch>> GetTrace(const TraceId&) const override {
    return absl::UnimplementedError("fake");
  }
  absl::StatusOr<std::vector<std::pair<uint64_t, TraceId>>> FindTraces(const TraceQuery&) const override {
    return absl::UnimplementedError("fake");
  }
  absl::StatusOr<std::vector<Dependency>> Dependencies(uint64_t, uint64_t) const override {
    return absl::UnimplementedError("fake");
  }
  absl::StatusOr<std::shared_ptr<const SpanBatch>> ReadRowGroup(uint32_t) const override {
    return absl::UnimplementedError("fake");
  }
  absl::Status Verify() const override { return absl::OkStatus(); }
  uint64_t memory_bytes() const override { return 0; }

 private:
  BlockMeta meta_;
};

std::vector<std::vector<std::string>> Ids(const std::vector<std::vector<std::shared_ptr<Block>>>& groups) {
  std::vector<std::vector<std::string>> out;
  for (const auto& g : groups) {
    out.emplace_back();
    for (const auto& b : g) out.back().push_back(b->meta().id);
  }
  return out;
}

TEST(CompactorTest, PlanGroupsAdjacentBlocksOfOneLevel) {
  constexpr uint64_t kMin = 60'000'000'000;  // a minute
  auto block = [](std::string id, uint32_t level, uint64_t minute, uint64_t bytes = 100) {
    return std::make_shared<FakeBlock>(std::move(id), level, minute * kMin, minute * kMin + 10 * kMin,
                                       bytes);
  };
  CompactionOptions o;
  o.max_inputs = 2;
  // Given in any order; grouped by time.
  std::vector<std::shared_ptr<Block>> five = {block("e", 0, 60), block("a", 0, 0), block("c", 0, 30),
                                              block("b", 0, 15), block("d", 0, 45)};
  EXPECT_EQ(Ids(PlanCompactions(five, o)),
            (std::vector<std::vector<std::string>>{{"a", "b"}, {"c", "d"}}));
  // A run that may still grow waits ...
  o.max_inputs = 8;
  EXPECT_TRUE(PlanCompactions(five, o).empty());
  // ... until a block does not fit: by bytes,
  o.target_block_bytes = 350;
  EXPECT_EQ(Ids(PlanCompactions(five, o)),
            (std::vector<std::vector<std::string>>{{"a", "b", "c"}}));
  // or by time range (the span of a group).
  o.target_block_bytes = 1 << 30;
  o.max_block_span = std::chrono::minutes(50);
  EXPECT_EQ(Ids(PlanCompactions(five, o)),
            (std::vector<std::vector<std::string>>{{"a", "b", "c"}}));
  o.max_block_span = std::chrono::hours(24);
  // Levels never mix; lower levels first; a block that fits with no
  // neighbour is left alone.
  o.max_inputs = 2;
  std::vector<std::shared_ptr<Block>> mixed = {block("x1", 1, 0), block("y0", 0, 5), block("x2", 1, 20),
                                               block("z0", 0, 25), block("big", 0, 50, 5000)};
  o.target_block_bytes = 1000;
  EXPECT_EQ(Ids(PlanCompactions(mixed, o)),
            (std::vector<std::vector<std::string>>{{"y0", "z0"}, {"x1", "x2"}}));
  o.max_inputs = 1;
  EXPECT_TRUE(PlanCompactions(mixed, o).empty());
}

TEST(CompactorTest, FlusherCompactsPublishesAndCounts) {
  TempDir dir;
  auto set = BlockSet::Open(dir.path() + "/blocks");
  ASSERT_TRUE(set.ok());
  Head head, reference;
  uint64_t epoch = 1, wal_seq = 0;
  FlusherOptions fo;
  fo.writer.row_group_spans = 256;
  fo.compaction.max_inputs = 3;
  Flusher flusher(
      &head, set->get(), [&]() -> absl::StatusOr<HeadCut> { return HeadCut{epoch++, wal_seq}; },
      [](uint64_t) -> absl::StatusOr<int> { return 0; }, fo);
  EmbeddedStore store(&head, set->get());
  for (uint32_t i = 0; i < 3; ++i) {
    auto b = MakeBatch(40 + i, 200, kBase + i * 1'000'000'000ull);
    ++wal_seq;
    head.Append(b, epoch);
    reference.Append(b);
    ASSERT_TRUE(flusher.FlushNow().ok());
    if (i < 2) {
      absl::StatusOr<bool> none = flusher.CompactNow();  // 1-2 blocks: a run still growing
      ASSERT_TRUE(none.ok());
      EXPECT_FALSE(*none);
    }
  }
  ASSERT_EQ((*set)->stats().blocks, 3u);
  absl::StatusOr<bool> done = flusher.CompactNow();
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_TRUE(*done);
  EXPECT_EQ((*set)->stats().blocks, 1u);
  EXPECT_EQ((*set)->Snapshot()[0]->meta().level, 1u);
  EXPECT_EQ((*set)->Snapshot()[0]->meta().wal_seq_max, 3u);
  EXPECT_EQ(flusher.stats().compactions, 1u);
  EXPECT_EQ(flusher.stats().compacted_blocks, 3u);
  EXPECT_EQ(flusher.stats().compaction_failures, 0u);
  EXPECT_EQ(Answers(store), Answers(reference));
  absl::StatusOr<bool> again = flusher.CompactNow();
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);
  // A restart finds the one block.
  auto reopened = BlockSet::Open(dir.path() + "/blocks");
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->stats().blocks, 1u);
  EXPECT_EQ((*reopened)->covered_wal_seq(), 3u);
}

TEST(CompactorTest, DamagedInputFailsTheCompactionAndIsReported) {
  TempDir dir;
  const std::string blocks_dir = dir.path() + "/blocks";
  BlockWriterOptions o;
  o.row_group_spans = 64;
  for (uint32_t i = 0; i < 2; ++i) {
    WriteAndOpen(blocks_dir, RefsOf({MakeBatch(60 + i, 100, kBase + i * 1'000'000'000ull)}), 0, i + 1, o);
  }
  auto set = BlockSet::Open(blocks_dir);
  ASSERT_TRUE(set.ok());
  auto snapshot = (*set)->Snapshot();
  // Damage the second row group of one block's data.
  const std::string data = snapshot[0]->dir() + "/data.blk";
  {
    std::fstream f(data, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(data) / 3));
    f.write("\x5a\x5a\x5a\x5a", 4);
  }
  Head head;
  FlusherOptions fo;
  fo.compaction.max_inputs = 2;
  Flusher flusher(
      &head, set->get(), [&]() -> absl::StatusOr<HeadCut> { return HeadCut{1, 0}; },
      [](uint64_t) -> absl::StatusOr<int> { return 0; }, fo);
  absl::StatusOr<bool> r = flusher.CompactNow();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
  EXPECT_EQ(flusher.stats().compaction_failures, 1u);
  EXPECT_EQ((*set)->stats().damaged, 1u);
  EXPECT_EQ((*set)->stats().blocks, 1u);
  // Nothing half-written is left behind, and the damaged block stays on disk.
  size_t tmp = 0, dirs = 0;
  for (const auto& e : fs::directory_iterator(blocks_dir)) {
    if (!e.is_directory()) continue;
    ++dirs;
    if (e.path().filename().string().starts_with("tmp-")) ++tmp;
  }
  EXPECT_EQ(tmp, 0u);
  EXPECT_EQ(dirs, 2u);
}

TEST(BlockWriterTest, StreamsRowGroupsAndRefusesMisuse) {
  TempDir dir;
  auto batch = MakeBatch(7, 40, kBase);
  // The traces in ascending id order.
  std::map<TraceId, std::vector<SpanRef>> traces;
  for (uint32_t r = 0; r < batch->size(); ++r) traces[batch->trace_id[r]].push_back({batch, r});
  BlockWriterOptions o;
  o.row_group_spans = 10;
  {
    auto w = BlockWriter::Create(dir.path(), {}, o);
    ASSERT_TRUE(w.ok());
    auto it = traces.begin();
    auto second = std::next(it);
    ASSERT_TRUE((*w)->AddTrace(second->second).ok());
    EXPECT_EQ((*w)->AddTrace(it->second).code(), absl::StatusCode::kInvalidArgument);  // order
    EXPECT_EQ((*w)->AddTrace(second->second).code(), absl::StatusCode::kInvalidArgument);  // again
    std::vector<SpanRef> two = std::next(second)->second;
    two.push_back(std::next(second, 2)->second[0]);
    EXPECT_EQ((*w)->AddTrace(two).code(), absl::StatusCode::kInvalidArgument);  // two traces
  }
  // Abandoned: nothing left behind.
  EXPECT_TRUE(fs::is_empty(dir.path()));
  {
    auto w = BlockWriter::Create(dir.path(), {}, o);
    ASSERT_TRUE(w.ok());
    EXPECT_FALSE((*w)->Finish().ok());  // no spans
  }
  EXPECT_TRUE(fs::is_empty(dir.path()));

  auto w = BlockWriter::Create(dir.path(), {}, o);
  ASSERT_TRUE(w.ok());
  uint64_t spans = 0, max_trace = 0;
  for (const auto& [id, refs] : traces) {
    std::vector<SpanRef> with_repeat = refs;
    with_repeat.push_back(refs.front());  // kept once
    std::reverse(with_repeat.begin(), with_repeat.end());  // any order within the trace
    ASSERT_TRUE((*w)->AddTrace(with_repeat).ok());
    EXPECT_LT((*w)->buffered_spans(), o.row_group_spans);
    spans += refs.size();
    max_trace = std::max<uint64_t>(max_trace, refs.size());
  }
  EXPECT_LE((*w)->max_buffered_spans(), o.row_group_spans + max_trace - 1);
  absl::StatusOr<BlockMeta> meta = (*w)->Finish();
  ASSERT_TRUE(meta.ok()) << meta.status();
  EXPECT_EQ(meta->spans, spans);
  EXPECT_EQ(meta->traces, traces.size());
  EXPECT_GE(meta->row_groups, spans / (o.row_group_spans + max_trace));
  auto block = Block::Open(dir.path() + "/" + meta->id);
  ASSERT_TRUE(block.ok()) << block.status();
  EXPECT_TRUE((*block)->Verify().ok());
  EXPECT_EQ(TracesOf({*block}), Expected({RefsOf({batch})}));
  EXPECT_FALSE((*w)->Finish().ok());  // once
}

}  // namespace
}  // namespace ariadne::store
