#include "store/block.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "encode/test_batches.h"
#include "model/value_format.h"
#include "store/block_format.h"
#include "store/head.h"

namespace ariadne::store {
namespace {

namespace fs = std::filesystem;
using model::AnyValue;
using model::SpanBatch;
using model::SpanKind;
using model::SpanRef;
using model::TraceId;
using model::ValueType;

// ---------------------------------------------------------------------------
// A canonical text form of a span with every field (resolved resource and
// scope included), for field-by-field comparison.

std::string Esc(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '|') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

void DumpAttrs(const SpanBatch& b, model::Range r, std::string* out);
void DumpValue(const SpanBatch& b, const AnyValue& v, std::string* out) {
  char buf[40];
  switch (v.type) {
    case ValueType::kEmpty:
      *out += "E";
      break;
    case ValueType::kString:
      *out += "S(" + Esc(v.bytes) + ")";
      break;
    case ValueType::kBytes:
      *out += "B(" + Esc(v.bytes) + ")";
      break;
    case ValueType::kBool:
      *out += v.bool_value ? "T" : "F";
      break;
    case ValueType::kInt:
      *out += "I" + std::to_string(v.int_value);
      break;
    case ValueType::kDouble: {
      uint64_t bits;
      std::memcpy(&bits, &v.double_value, 8);
      std::snprintf(buf, sizeof(buf), "D%016" PRIx64, bits);
      *out += buf;
      break;
    }
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
  }
}
void DumpAttrs(const SpanBatch& b, model::Range r, std::string* out) {
  for (uint32_t i = 0; i < r.count; ++i) {
    const model::KeyValue& kv = b.attributes[r.first + i];
    *out += Esc(kv.key) + "=";
    DumpValue(b, kv.value, out);
    *out += ";";
  }
}

std::string DumpSpan(const SpanBatch& b, uint32_t row) {
  std::ostringstream o;
  o << model::ToHex(b.trace_id[row]) << "|" << model::ToHex(b.span_id[row]) << "|"
    << model::ToHex(b.parent_span_id[row]) << "|ts=" << Esc(b.trace_state[row])
    << "|flags=" << b.flags[row] << "|name=" << Esc(b.name[row])
    << "|kind=" << static_cast<int>(b.kind[row]) << "|" << b.start_unix_nano[row] << "-"
    << b.end_unix_nano[row] << "|status=" << static_cast<int>(b.status_code[row]) << ":"
    << Esc(b.status_message[row]) << "|dropped=" << b.dropped_attributes_count[row] << ","
    << b.dropped_events_count[row] << "," << b.dropped_links_count[row];
  std::string s = o.str();
  s += "|attrs=";
  DumpAttrs(b, b.span_attributes[row], &s);
  s += "|events=";
  for (uint32_t i = 0; i < b.span_events[row].count; ++i) {
    const model::Event& e = b.events[b.span_events[row].first + i];
    s += std::to_string(e.time_unix_nano) + ":" + Esc(e.name) + ":";
    DumpAttrs(b, e.attributes, &s);
    s += ":" + std::to_string(e.dropped_attributes_count) + ",";
  }
  s += "|links=";
  for (uint32_t i = 0; i < b.span_links[row].count; ++i) {
    const model::Link& l = b.links[b.span_links[row].first + i];
    s += model::ToHex(l.trace_id) + ":" + model::ToHex(l.span_id) + ":" + Esc(l.trace_state) + ":";
    DumpAttrs(b, l.attributes, &s);
    s += ":" + std::to_string(l.dropped_attributes_count) + ":" + std::to_string(l.flags) + ",";
  }
  const model::Scope& sc = b.scopes[b.scope[row]];
  s += "|scope=" + Esc(sc.name) + ":" + Esc(sc.version) + ":" + Esc(sc.schema_url) + ":" +
       std::to_string(sc.dropped_attributes_count) + ":";
  DumpAttrs(b, sc.attributes, &s);
  const model::Resource& r = b.resources[sc.resource];
  s += "|resource=" + Esc(r.service_name) + ":" + Esc(r.schema_url) + ":" +
       std::to_string(r.dropped_attributes_count) + ":";
  DumpAttrs(b, r.attributes, &s);
  return s;
}

// ---------------------------------------------------------------------------
// Test data.

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/block_test.XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Microservice-like spans: `traces` traces of a few services each, batched
// per export (every batch repeats its resources). Starts are unique.
struct GenOptions {
  int traces = 1000;
  uint64_t seed = 1;
  bool unknown_service = true;  // one service without service.name
};

std::vector<std::shared_ptr<const SpanBatch>> Generate(const GenOptions& opt) {
  std::mt19937_64 rng(opt.seed);
  const std::vector<std::string> services = {"frontend", "cart",     "checkout", "payment",
                                             "shipping", "currency", "email",    "recommendation"};
  const std::vector<std::string> routes = {"/api/cart", "/api/checkout", "/api/products/{id}",
                                           "/api/recommendations", "/api/currency"};
  std::vector<std::shared_ptr<const SpanBatch>> out;
  std::shared_ptr<SpanBatch> b;
  std::map<std::pair<int, int>, uint32_t> scope_of;  // (service, instance) -> scope
  auto new_batch = [&] {
    if (b) out.push_back(b);
    b = std::make_shared<SpanBatch>();
    scope_of.clear();
  };
  auto scope_for = [&](int service, int instance) -> uint32_t {
    auto it = scope_of.find({service, instance});
    if (it != scope_of.end()) return it->second;
    model::Resource r;
    const bool unnamed = opt.unknown_service && service == 7 && instance == 0;
    std::vector<model::KeyValue> kvs;
    std::string name = services[service];
    if (!unnamed) {
      r.service_name = b->Copy(name);
      kvs.push_back({b->Copy("service.name"), AnyValue::String(r.service_name)});
    }
    kvs.push_back({b->Copy("service.instance.id"),
                   AnyValue::String(b->Copy(name + "-" + std::to_string(instance) + "-7f9c"))});
    kvs.push_back({b->Copy("host.name"),
                   AnyValue::String(b->Copy("host-" + std::to_string((service + instance) % 5)))});
    kvs.push_back({b->Copy("telemetry.sdk.language"),
                   AnyValue::String(b->Copy(service % 2 ? "go" : "java"))});
    kvs.push_back({b->Copy("process.pid"), AnyValue::Int(1000 + service * 10 + instance)});
    r.attributes = {static_cast<uint32_t>(b->attributes.size()), static_cast<uint32_t>(kvs.size())};
    for (auto& kv : kvs) b->attributes.push_back(kv);
    r.schema_url = b->Copy("https://opentelemetry.io/schemas/1.21.0");
    b->resources.push_back(r);
    model::Scope s;
    s.name = b->Copy("io.opentelemetry.http");
    s.version = b->Copy("1.30.0");
    s.resource = static_cast<uint32_t>(b->resources.size() - 1);
    b->scopes.push_back(s);
    const uint32_t idx = static_cast<uint32_t>(b->scopes.size() - 1);
    scope_of[{service, instance}] = idx;
    return idx;
  };
  uint64_t clock = 1700000000000000000ull;
  uint64_t unique = 0;
  for (int t = 0; t < opt.traces; ++t) {
    if (t % 50 == 0) new_batch();
    TraceId tid;
    for (auto& x : tid) x = static_cast<uint8_t>(rng());
    clock += 1000000 + rng() % 1000000;
    const int spans = 4 + static_cast<int>(rng() % 13);
    std::vector<model::SpanId> ids;
    std::vector<int> svc;
    std::vector<uint64_t> start;
    const int route = static_cast<int>(rng() % routes.size());
    for (int i = 0; i < spans; ++i) {
      const uint32_t row = b->AddSpan();
      b->trace_id[row] = tid;
      model::SpanId sid;
      for (auto& x : sid) x = static_cast<uint8_t>(rng());
      b->span_id[row] = sid;
      int parent = i == 0 ? -1 : static_cast<int>(rng() % i);
      int service = i == 0 ? 0 : (i % 2 ? svc[parent] : 1 + static_cast<int>(rng() % 7));
      const bool client = i > 0 && service == svc[parent];
      if (parent >= 0) b->parent_span_id[row] = ids[parent];
      b->kind[row] = i == 0 ? SpanKind::kServer : client ? SpanKind::kClient : SpanKind::kServer;
      // Unique starts: the trace's clock plus a per-span offset and a counter.
      const uint64_t s = (parent < 0 ? clock : start[parent] + 1000 + rng() % 200000) +
                         (++unique % 1000);
      b->start_unix_nano[row] = s;
      const uint64_t dur = 20000 + (rng() % 1000) * (rng() % 1000) * 10;
      b->end_unix_nano[row] = s + dur;
      const bool error = rng() % 50 == 0;
      b->status_code[row] = error ? model::StatusCode::kError : model::StatusCode::kUnset;
      if (error) b->status_message[row] = b->Copy("upstream connect error");
      b->scope[row] = scope_for(service, static_cast<int>(rng() % 3));
      const std::string op = i == 0 ? "GET " + routes[route]
                                    : (client ? "call " : "hipstershop.") + services[service] +
                                          "/" + std::to_string(rng() % 4);
      b->name[row] = b->Copy(op);
      std::vector<model::KeyValue> kvs;
      auto str = [&](const char* k, const std::string& v) {
        kvs.push_back({b->Copy(k), AnyValue::String(b->Copy(v))});
      };
      str("http.method", rng() % 4 ? "GET" : "POST");
      str("http.route", routes[(route + i) % routes.size()]);
      kvs.push_back({b->Copy("http.status_code"), AnyValue::Int(error ? 500 : 200)});
      str("net.peer.name", services[(service + 1) % services.size()]);
      str("rpc.system", "grpc");
      kvs.push_back({b->Copy("net.peer.port"), AnyValue::Int(8080 + service)});
      str("user.id", "user-" + std::to_string(rng() % 2000));
      char req[17];
      std::snprintf(req, sizeof(req), "%016" PRIx64, static_cast<uint64_t>(rng()));
      str("request.id", req);
      b->span_attributes[row] = {static_cast<uint32_t>(b->attributes.size()),
                                 static_cast<uint32_t>(kvs.size())};
      for (auto& kv : kvs) b->attributes.push_back(kv);
      if (error) {
        model::Event e;
        e.time_unix_nano = s + dur / 2;
        e.name = b->Copy("exception");
        e.attributes = {static_cast<uint32_t>(b->attributes.size()), 1};
        b->attributes.push_back(
            {b->Copy("exception.message"), AnyValue::String(b->Copy("connection reset"))});
        b->span_events[row] = {static_cast<uint32_t>(b->events.size()), 1};
        b->events.push_back(e);
      }
      b->flags[row] = 0x100;
      ids.push_back(sid);
      svc.push_back(service);
      start.push_back(s);
    }
  }
  new_batch();
  return out;
}

std::vector<SpanRef> RefsOf(const std::vector<std::shared_ptr<const SpanBatch>>& batches) {
  std::vector<SpanRef> refs;
  for (const auto& b : batches) {
    for (uint32_t row = 0; row < b->size(); ++row) refs.push_back({b, row});
  }
  return refs;
}

std::string OnlyBlockDir(const std::string& blocks) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(blocks)) names.push_back(e.path().filename());
  EXPECT_EQ(names.size(), 1u);
  return names.empty() ? "" : blocks + "/" + names[0];
}

std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}
void WriteAll(const std::string& path, std::string_view data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
}

// The chunk directory of a block file (test-side parser of the format).
std::vector<std::pair<uint64_t, uint32_t>> Chunks(const std::string& file) {
  using namespace block_format;
  const std::string data = ReadAll(file);
  In footer(std::string_view(data).substr(data.size() - kFooterSize));
  const uint64_t dir_offset = footer.Fixed64();
  const uint32_t dir_len = footer.Fixed32();
  In dir(std::string_view(data).substr(dir_offset, dir_len));
  dir.Fixed32();
  dir.Fixed32();
  const uint32_t n = dir.Fixed32();
  dir.Fixed64();
  std::vector<std::pair<uint64_t, uint32_t>> out;
  for (uint32_t i = 0; i < n; ++i) {
    const uint64_t off = dir.Fixed64();
    const uint32_t len = dir.Fixed32();
    dir.Fixed32();
    dir.Fixed32();
    out.emplace_back(off, len);
  }
  return out;
}

// Expected: the input deduplicated by (trace, span id, kind), first wins.
std::multiset<std::string> ExpectedDumps(const std::vector<SpanRef>& refs,
                                         std::map<TraceId, std::vector<std::string>>* by_trace) {
  std::set<std::tuple<TraceId, model::SpanId, SpanKind>> seen;
  std::multiset<std::string> all;
  for (const SpanRef& r : refs) {
    const SpanBatch& b = *r.batch;
    if (!seen.insert({b.trace_id[r.row], b.span_id[r.row], b.kind[r.row]}).second) continue;
    std::string d = DumpSpan(b, r.row);
    all.insert(d);
    if (by_trace) (*by_trace)[b.trace_id[r.row]].push_back(d);
  }
  return all;
}

// ---------------------------------------------------------------------------

TEST(BlockTest, RoundTripEveryField) {
  TempDir tmp;
  const std::string blocks = tmp.path() + "/blocks";
  auto a = encode::testing::BatchA();
  auto b = encode::testing::BatchB(/*invalid_utf8=*/true);
  GenOptions gen;
  gen.traces = 300;
  auto generated = Generate(gen);
  std::vector<SpanRef> refs = encode::testing::MixedRefs(a, b);
  for (const SpanRef& r : RefsOf(generated)) refs.push_back(r);
  // Duplicates: A's spans again (a retried export), and a Zipkin-style
  // shared span id with another kind (kept, as the head keeps it).
  for (uint32_t row = 0; row < a->size(); ++row) refs.push_back({a, row});
  auto shared = std::make_shared<SpanBatch>();
  {
    encode::testing::Builder x(shared.get());
    model::Resource r;
    r.attributes = x.Attrs({{"service.name", x.Str("svc-z")}});
    r.service_name = x.S("svc-z");
    shared->resources.push_back(r);
    shared->scopes.emplace_back();
    const uint32_t row = shared->AddSpan();
    shared->trace_id[row] = a->trace_id[0];
    shared->span_id[row] = a->span_id[0];
    shared->kind[row] = SpanKind::kClient;
    shared->name[row] = x.S("shared");
    shared->start_unix_nano[row] = 1700000000100000000ull;
    shared->end_unix_nano[row] = 1700000000300000000ull;
  }
  refs.push_back({shared, 0});

  std::map<TraceId, std::vector<std::string>> by_trace;
  const std::multiset<std::string> expected = ExpectedDumps(refs, &by_trace);

  BlockMeta in;
  in.level = 2;
  in.wal_seq_max = 77;
  BlockWriterOptions options;
  options.row_group_spans = 64;
  absl::StatusOr<BlockMeta> meta = WriteBlock(blocks, refs, in, options);
  ASSERT_TRUE(meta.ok()) << meta.status();
  EXPECT_EQ(meta->spans, expected.size());
  EXPECT_EQ(meta->traces, by_trace.size());
  EXPECT_EQ(meta->level, 2u);
  EXPECT_EQ(meta->wal_seq_max, 77u);
  EXPECT_GT(meta->row_groups, 5u);
  EXPECT_EQ(meta->min_start_nano, 0u);  // BatchA row 3 has no start
  EXPECT_EQ(meta->id.size(), 32u);

  absl::StatusOr<std::shared_ptr<Block>> block = Block::Open(blocks + "/" + meta->id);
  ASSERT_TRUE(block.ok()) << block.status();
  const BlockMeta& m = (*block)->meta();
  EXPECT_EQ(m.id, meta->id);
  EXPECT_EQ(m.spans, meta->spans);
  EXPECT_EQ(m.bytes, meta->bytes);
  EXPECT_EQ(m.services, meta->services);
  EXPECT_EQ(m.operations, meta->operations);
  EXPECT_EQ(m.created_unix_nano, meta->created_unix_nano);
  EXPECT_TRUE(std::is_sorted(m.services.begin(), m.services.end()));
  EXPECT_NE(std::find(m.services.begin(), m.services.end(), "unknown_service"), m.services.end());
  uint64_t on_disk = 0;
  for (const auto& e : fs::directory_iterator(blocks + "/" + m.id)) on_disk += e.file_size();
  EXPECT_EQ(m.bytes, on_disk);

  ASSERT_TRUE((*block)->Verify().ok()) << (*block)->Verify();

  // Every trace by id equals its input spans, ordered by start.
  for (const auto& [id, dumps] : by_trace) {
    ASSERT_TRUE((*block)->MayContain(id));
    absl::StatusOr<std::shared_ptr<const SpanBatch>> trace = (*block)->GetTrace(id);
    ASSERT_TRUE(trace.ok()) << trace.status();
    const SpanBatch& t = **trace;
    std::vector<std::string> got;
    for (uint32_t row = 0; row < t.size(); ++row) {
      got.push_back(DumpSpan(t, row));
      if (row > 0) {
        EXPECT_LE(t.start_unix_nano[row - 1], t.start_unix_nano[row]);
      }
    }
    std::vector<std::string> want = dumps;
    std::sort(got.begin(), got.end());
    std::sort(want.begin(), want.end());
    ASSERT_EQ(got, want) << model::ToHex(id);
  }
  const size_t in_a = by_trace[a->trace_id[0]].size();
  EXPECT_EQ(in_a, 6u);  // A's 4 (once), B's 1, the client span sharing A0's id
  // A trace that is not in the block.
  TraceId absent{};
  absent[0] = 0xee;
  absl::StatusOr<std::shared_ptr<const SpanBatch>> none = (*block)->GetTrace(absent);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE((*none)->empty());

  // Every row group, all spans exactly once.
  std::multiset<std::string> all;
  for (uint32_t g = 0; g < m.row_groups; ++g) {
    absl::StatusOr<std::shared_ptr<const SpanBatch>> rg = (*block)->ReadRowGroup(g);
    ASSERT_TRUE(rg.ok()) << rg.status();
    for (uint32_t row = 0; row < (*rg)->size(); ++row) all.insert(DumpSpan(**rg, row));
  }
  EXPECT_EQ(all, expected);
  EXPECT_FALSE((*block)->ReadRowGroup(m.row_groups).ok());
  EXPECT_GT((*block)->memory_bytes(), 0u);
}

TEST(BlockTest, ReturnedBatchesOwnTheirMemory) {
  TempDir tmp;
  auto a = encode::testing::BatchA();
  std::vector<SpanRef> refs;
  for (uint32_t row = 0; row < a->size(); ++row) refs.push_back({a, row});
  absl::StatusOr<BlockMeta> meta = WriteBlock(tmp.path(), refs, {});
  ASSERT_TRUE(meta.ok()) << meta.status();
  std::shared_ptr<const SpanBatch> trace;
  std::string want;
  {
    absl::StatusOr<std::shared_ptr<Block>> block = Block::Open(tmp.path() + "/" + meta->id);
    ASSERT_TRUE(block.ok()) << block.status();
    trace = *(*block)->GetTrace(a->trace_id[0]);
    ASSERT_EQ(trace->size(), 4u);
    want = DumpSpan(*trace, 1);
  }  // the block is gone: the batch's strings must still be readable
  std::multiset<std::string> got, expected;
  for (uint32_t row = 0; row < trace->size(); ++row) got.insert(DumpSpan(*trace, row));
  for (uint32_t row = 0; row < a->size(); ++row) expected.insert(DumpSpan(*a, row));
  EXPECT_TRUE(got == expected);
  EXPECT_TRUE(DumpSpan(*trace, 1) == want);
}

TEST(BlockTest, SearchAndDependenciesEqualTheHead) {
  TempDir tmp;
  GenOptions gen;
  gen.traces = 400;
  gen.seed = 7;
  auto batches = Generate(gen);
  // Batches in time order: the head's search (newest batch first, stopping
  // well past the limit) then finds exactly the newest traces.
  Head head;
  for (const auto& b : batches) head.Append(b);
  BlockWriterOptions options;
  options.row_group_spans = 256;
  absl::StatusOr<BlockMeta> meta = WriteBlock(tmp.path(), RefsOf(batches), {}, options);
  ASSERT_TRUE(meta.ok()) << meta.status();
  absl::StatusOr<std::shared_ptr<Block>> block = Block::Open(tmp.path() + "/" + meta->id);
  ASSERT_TRUE(block.ok()) << block.status();

  const uint64_t lo = meta->min_start_nano, hi = meta->max_start_nano;
  const uint64_t third = (hi - lo) / 3;
  std::vector<TraceQuery> queries;
  auto add = [&](auto f) {
    TraceQuery q;
    q.limit = 0;  // all: the head's early stop then never applies
    f(q);
    queries.push_back(q);
  };
  add([](TraceQuery&) {});
  add([](TraceQuery& q) { q.service = "cart"; });
  add([](TraceQuery& q) { q.service = "nope"; });
  add([](TraceQuery& q) { q.service = "unknown_service"; });
  add([](TraceQuery& q) {
    q.service = "frontend";
    q.operation = "GET /api/cart";
  });
  add([](TraceQuery& q) { q.operation = "call checkout/2"; });
  add([](TraceQuery& q) { q.operation = "absent op"; });
  add([](TraceQuery& q) { q.kind = SpanKind::kClient; });
  add([](TraceQuery& q) {
    q.service = "checkout";
    q.kind = SpanKind::kServer;
  });
  add([](TraceQuery& q) { q.kind = SpanKind::kProducer; });
  add([](TraceQuery& q) { q.tags = {{"error", "true"}}; });
  add([](TraceQuery& q) { q.tags = {{"error", "false"}, {"http.method", "POST"}}; });
  add([](TraceQuery& q) { q.tags = {{"span.kind", "client"}}; });
  add([](TraceQuery& q) { q.tags = {{"otel.status_code", "error"}}; });
  add([](TraceQuery& q) { q.tags = {{"http.status_code", "500"}}; });
  add([](TraceQuery& q) {
    q.service = "payment";
    q.tags = {{"http.status_code", "200"}, {"http.method", "GET"}};
  });
  add([](TraceQuery& q) { q.tags = {{"http.status_code", "404"}}; });
  add([](TraceQuery& q) { q.tags = {{"host.name", "host-2"}}; });           // resource
  add([](TraceQuery& q) { q.tags = {{"process.pid", "1031"}}; });           // resource int
  add([](TraceQuery& q) { q.tags = {{"telemetry.sdk.language", "rust"}}; });
  add([](TraceQuery& q) { q.tags = {{"user.id", "user-4242"}}; });          // high cardinality
  add([](TraceQuery& q) { q.tags = {{"no.such.key", "x"}}; });
  add([](TraceQuery& q) { q.tags = {{"service.name", "email"}}; });
  add([](TraceQuery& q) { q.min_duration_nano = 5000000; });
  add([](TraceQuery& q) { q.max_duration_nano = 100000; });
  add([](TraceQuery& q) {
    q.min_duration_nano = 1000000;
    q.max_duration_nano = 2000000;
    q.service = "shipping";
  });
  add([&](TraceQuery& q) {
    q.start_min_nano = lo + third;
    q.start_max_nano = lo + 2 * third;
  });
  add([&](TraceQuery& q) { q.start_max_nano = lo - 1; });
  add([&](TraceQuery& q) { q.start_min_nano = hi + 1; });
  add([&](TraceQuery& q) {
    q.start_min_nano = lo + third;
    q.tags = {{"error", "true"}};
  });
  // Limits (starts are unique, so the order is total).
  for (size_t limit : {1, 5, 20}) {
    add([&](TraceQuery& q) { q.limit = limit; });
    add([&](TraceQuery& q) {
      q.limit = limit;
      q.service = "currency";
    });
  }
  // Combinations of every predicate kind the block decides on its raw
  // columns (service via scope -> resource, operation id, kind, start and
  // duration ranges) with tags, limits bounding the top-k.
  for (size_t limit : {0, 3}) {
    add([&](TraceQuery& q) {
      q.limit = limit;
      q.service = "frontend";
      q.operation = "GET /api/cart";
      q.min_duration_nano = 1000000;
    });
    add([&](TraceQuery& q) {
      q.limit = limit;
      q.service = "checkout";
      q.kind = SpanKind::kServer;
      q.start_min_nano = lo + third;
      q.max_duration_nano = 50000000;
    });
    add([&](TraceQuery& q) {
      q.limit = limit;
      q.service = "payment";
      q.tags = {{"http.status_code", "500"}};
    });
    add([&](TraceQuery& q) {
      q.limit = limit;
      q.service = "cart";
      q.tags = {{"span.kind", "SERVER"}, {"host.name", "host-2"}};
    });
    add([&](TraceQuery& q) {
      q.limit = limit;
      q.tags = {{"span.kind", "Server"}, {"error", "true"}};
    });
    add([&](TraceQuery& q) {
      q.limit = limit;
      q.operation = "call checkout/2";
      q.tags = {{"otel.status_code", "unset"}, {"error", "false"}};
    });
    add([&](TraceQuery& q) {
      q.limit = limit;
      q.kind = SpanKind::kClient;
      q.tags = {{"host.name", "host-2"}};
      q.min_duration_nano = 100000;
    });
    add([&](TraceQuery& q) {
      q.limit = limit;
      q.service = "unknown_service";
      q.tags = {{"error", "false"}};
    });
  }
  // A tag value that exists as a user.id, to make sure one query matches.
  {
    const SpanBatch& b = *batches[1];
    for (uint32_t i = 0; i < b.span_attributes[3].count; ++i) {
      const auto& kv = b.attributes[b.span_attributes[3].first + i];
      if (kv.key == "user.id" || kv.key == "request.id") {
        add([&](TraceQuery& q) { q.tags = {{std::string(kv.key), std::string(kv.value.bytes)}}; });
      }
    }
  }

  size_t nonempty = 0;
  for (size_t i = 0; i < queries.size(); ++i) {
    const TraceQuery& q = queries[i];
    std::vector<TraceId> want = head.FindTraceIds(q).value();
    absl::StatusOr<std::vector<std::pair<uint64_t, TraceId>>> got = (*block)->FindTraces(q);
    ASSERT_TRUE(got.ok()) << got.status();
    std::vector<TraceId> got_ids;
    for (const auto& [start, id] : *got) got_ids.push_back(id);
    EXPECT_EQ(got_ids, want) << "query " << i;
    for (size_t j = 1; j < got->size(); ++j) EXPECT_GE((*got)[j - 1].first, (*got)[j].first);
    if (!want.empty()) ++nonempty;
  }
  EXPECT_GT(nonempty, queries.size() / 2);

  for (auto [s, e] : {std::pair<uint64_t, uint64_t>{0, UINT64_MAX},
                      {lo + third, lo + 2 * third},
                      {hi + 1, UINT64_MAX}}) {
    std::vector<Dependency> want = head.Dependencies(s, e).value();
    absl::StatusOr<std::vector<Dependency>> got = (*block)->Dependencies(s, e);
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ((*got)[i].parent, want[i].parent);
      EXPECT_EQ((*got)[i].child, want[i].child);
      EXPECT_EQ((*got)[i].call_count, want[i].call_count);
    }
  }
}

TEST(BlockTest, PublishLeavesOnlyTheBlock) {
  TempDir tmp;
  const std::string blocks = tmp.path() + "/blocks";
  GenOptions gen;
  gen.traces = 20;
  auto batches = Generate(gen);
  absl::StatusOr<BlockMeta> meta = WriteBlock(blocks, RefsOf(batches), {});
  ASSERT_TRUE(meta.ok()) << meta.status();
  const std::string dir = OnlyBlockDir(blocks);
  EXPECT_EQ(fs::path(dir).filename(), meta->id);
  EXPECT_EQ(meta->id.substr(0, 16),
            absl::StrFormat("%016x", meta->min_start_nano / 1000000));
  std::set<std::string> files;
  for (const auto& e : fs::directory_iterator(dir)) files.insert(e.path().filename());
  EXPECT_EQ(files, (std::set<std::string>{"data.blk", "index.blk", "meta.json"}));
  // No spans: nothing is published.
  EXPECT_FALSE(WriteBlock(blocks, {}, {}).ok());
  EXPECT_EQ(OnlyBlockDir(blocks), dir);
}

// A small block for the damage tests.
struct SmallBlock {
  TempDir tmp;
  std::string dir;
  BlockMeta meta;
  std::vector<std::shared_ptr<const SpanBatch>> batches;
  SmallBlock() {
    GenOptions gen;
    gen.traces = 60;
    batches = Generate(gen);
    BlockWriterOptions options;
    options.row_group_spans = 100;
    absl::StatusOr<BlockMeta> m = WriteBlock(tmp.path(), RefsOf(batches), {}, options);
    EXPECT_TRUE(m.ok()) << m.status();
    meta = *m;
    dir = tmp.path() + "/" + meta.id;
  }
};

TEST(BlockTest, DamagedRowGroupIsDataLoss) {
  SmallBlock sb;
  ASSERT_GE(sb.meta.row_groups, 3u);
  // Which trace is in which row group, from the intact block.
  absl::StatusOr<std::shared_ptr<Block>> intact = Block::Open(sb.dir);
  ASSERT_TRUE(intact.ok()) << intact.status();
  auto rg0 = *(*intact)->ReadRowGroup(0);
  auto rg1 = *(*intact)->ReadRowGroup(1);
  const TraceId in0 = rg0->trace_id[0], in1 = rg1->trace_id[0];
  intact->reset();

  const std::string data = sb.dir + "/data.blk";
  auto chunks = Chunks(data);
  const auto [off, len] = chunks[block_format::kBlockChunks + block_format::kColumns * 1 +
                                 block_format::kAttributes];
  std::string bytes = ReadAll(data);
  bytes[off + len / 2] ^= 0x20;
  WriteAll(data, bytes);

  absl::StatusOr<std::shared_ptr<Block>> block = Block::Open(sb.dir);
  ASSERT_TRUE(block.ok()) << block.status();
  EXPECT_TRUE((*block)->GetTrace(in0).ok());
  absl::StatusOr<std::shared_ptr<const SpanBatch>> t = (*block)->GetTrace(in1);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kDataLoss) << t.status();
  EXPECT_NE(t.status().message().find("data.blk"), std::string::npos);
  EXPECT_EQ((*block)->FindTraces({}).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ((*block)->ReadRowGroup(1).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE((*block)->ReadRowGroup(0).ok());
  EXPECT_EQ((*block)->Verify().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ((*block)->Dependencies(0, UINT64_MAX).status().code(), absl::StatusCode::kDataLoss);
}

TEST(BlockTest, EveryByteOfTheFilesIsChecked) {
  SmallBlock sb;
  for (const char* name : {"index.blk", "data.blk"}) {
    const std::string path = sb.dir + "/" + name;
    const std::string original = ReadAll(path);
    // Every byte of a small index; a spread of ~500 positions of data.blk.
    const size_t step = original.size() > 4000 ? original.size() / 500 + 1 : 1;
    for (size_t i = 0; i < original.size(); i += step) {
      std::string bad = original;
      bad[i] ^= 0x01;
      WriteAll(path, bad);
      absl::StatusOr<std::shared_ptr<Block>> block = Block::Open(sb.dir);
      absl::Status s = block.ok() ? (*block)->Verify() : block.status();
      ASSERT_EQ(s.code(), absl::StatusCode::kDataLoss) << name << " byte " << i << ": " << s;
      if (std::string(name) == "index.blk") {
        ASSERT_FALSE(block.ok()) << "byte " << i;
      }
    }
    WriteAll(path, original);
  }
  absl::StatusOr<std::shared_ptr<Block>> block = Block::Open(sb.dir);
  ASSERT_TRUE(block.ok());
  EXPECT_TRUE((*block)->Verify().ok());
}

TEST(BlockTest, TruncatedFilesFailCleanly) {
  SmallBlock sb;
  for (const char* name : {"index.blk", "data.blk", "meta.json"}) {
    const std::string path = sb.dir + "/" + name;
    const std::string original = ReadAll(path);
    for (size_t keep : {size_t{0}, size_t{5}, original.size() / 2, original.size() - 1}) {
      WriteAll(path, std::string_view(original).substr(0, keep));
      absl::StatusOr<std::shared_ptr<Block>> block = Block::Open(sb.dir);
      EXPECT_EQ(block.status().code(), absl::StatusCode::kDataLoss)
          << name << " " << keep << ": " << block.status();
    }
    WriteAll(path, original);
  }
  ::unlink((sb.dir + "/meta.json").c_str());
  EXPECT_FALSE(Block::Open(sb.dir).ok());
  EXPECT_FALSE(Block::Open(sb.tmp.path() + "/no-such-block").ok());
}

TEST(BlockTest, SizeOfTypicalSpans) {
  TempDir tmp;
  GenOptions gen;
  gen.traces = 10000;  // ~100k spans
  gen.seed = 3;
  auto batches = Generate(gen);
  std::vector<SpanRef> refs = RefsOf(batches);
  absl::StatusOr<BlockMeta> meta = WriteBlock(tmp.path(), refs, {});
  ASSERT_TRUE(meta.ok()) << meta.status();
  const std::string dir = tmp.path() + "/" + meta->id;
  const uint64_t data = fs::file_size(dir + "/data.blk");
  const uint64_t index = fs::file_size(dir + "/index.blk");
  const double per_span = static_cast<double>(meta->bytes) / static_cast<double>(meta->spans);
  std::printf("block: %" PRIu64 " spans, %" PRIu64 " traces, %u row groups; data.blk %" PRIu64
              " B, index.blk %" PRIu64 " B, total %" PRIu64 " B = %.2f B/span\n",
              meta->spans, meta->traces, meta->row_groups, data, index, meta->bytes, per_span);
  // Per column, compressed bytes per span (for the format notes).
  auto chunks = Chunks(dir + "/data.blk");
  const char* names[] = {"trace_ids", "span_ids", "parents",  "parent_raw", "starts",
                         "durations", "names",    "scope",    "kind_status", "status_msg",
                         "trace_state", "flags",  "dropped",  "attributes", "events", "links"};
  std::vector<uint64_t> per_col(block_format::kColumns);
  for (size_t i = block_format::kBlockChunks; i < chunks.size(); ++i) {
    per_col[(i - block_format::kBlockChunks) % block_format::kColumns] += chunks[i].second;
  }
  std::printf("  strings %.2f resources %.3f scopes %.3f", chunks[0].second * 1.0 / meta->spans,
              chunks[1].second * 1.0 / meta->spans, chunks[2].second * 1.0 / meta->spans);
  for (size_t c = 0; c < per_col.size(); ++c) {
    std::printf(" %s %.2f", names[c], per_col[c] * 1.0 / meta->spans);
  }
  std::printf(" index %.2f\n", index * 1.0 / meta->spans);
  EXPECT_EQ(meta->spans, refs.size());
  EXPECT_LT(per_span, 200.0);

  absl::StatusOr<std::shared_ptr<Block>> block = Block::Open(dir);
  ASSERT_TRUE(block.ok()) << block.status();
  EXPECT_TRUE((*block)->Verify().ok());
  absl::StatusOr<std::shared_ptr<const SpanBatch>> t = (*block)->GetTrace(refs[5].batch->trace_id[5]);
  ASSERT_TRUE(t.ok());
  EXPECT_GT((*t)->size(), 0u);
  std::printf("  memory_bytes after a search: ");
  TraceQuery q;
  q.service = "payment";
  q.tags = {{"http.status_code", "500"}};
  ASSERT_TRUE((*block)->FindTraces(q).ok());
  std::printf("%" PRIu64 "\n", (*block)->memory_bytes());
}

// ---------------------------------------------------------------------------
// Attribute filters (format version 2).

// A block written from `batches`, opened, with the head holding the same
// spans; `options` as given.
struct HeadAndBlock {
  TempDir tmp;
  Head head;
  BlockMeta meta;
  std::shared_ptr<Block> block;
  HeadAndBlock(const std::vector<std::shared_ptr<const SpanBatch>>& batches,
               const BlockWriterOptions& options) {
    for (const auto& b : batches) head.Append(b);
    absl::StatusOr<BlockMeta> m = WriteBlock(tmp.path(), RefsOf(batches), {}, options);
    EXPECT_TRUE(m.ok()) << m.status();
    meta = *m;
    absl::StatusOr<std::shared_ptr<Block>> b = Block::Open(tmp.path() + "/" + meta.id);
    EXPECT_TRUE(b.ok()) << b.status();
    block = *b;
  }
  // The block's answer against the head's, as trace ids.
  void ExpectSame(const TraceQuery& q, const std::string& what, size_t* nonempty = nullptr) {
    std::vector<TraceId> want = head.FindTraceIds(q).value();
    absl::StatusOr<std::vector<std::pair<uint64_t, TraceId>>> got = block->FindTraces(q);
    ASSERT_TRUE(got.ok()) << got.status();
    std::vector<TraceId> got_ids;
    for (const auto& [start, id] : *got) got_ids.push_back(id);
    EXPECT_EQ(got_ids, want) << what;
    if (nonempty != nullptr && !want.empty()) ++*nonempty;
  }
};

BlockWriterOptions SmallGroups(double filter_bits) {
  BlockWriterOptions options;
  options.row_group_spans = 256;
  options.attribute_filter_bits_per_entry = filter_bits;
  return options;
}

TEST(BlockTest, AttributeFilterSkipsRowGroupsWithoutTheValue) {
  GenOptions gen;
  gen.traces = 1000;
  gen.seed = 11;
  auto batches = Generate(gen);
  HeadAndBlock hb(batches, SmallGroups(10));
  ASSERT_EQ(hb.meta.format_version, 2u);
  const uint32_t groups = hb.meta.row_groups;
  ASSERT_GE(groups, 20u);

  // request.id is unique per span, user.id has 2000 values: neither has
  // postings, so only the filters can rule a row group out.
  TraceQuery q;
  q.limit = 0;
  q.tags = {{"request.id", "0123456789abcdef"}};
  hb.ExpectSame(q, "absent request.id");
  BlockSearchStats st = hb.block->search_stats();
  EXPECT_LE(st.row_groups_read, 1u) << "of " << groups;  // a false positive at most
  EXPECT_EQ(st.row_groups_read + st.row_groups_filtered, groups);

  // A present value: its row group is read, (nearly) all others skipped.
  const SpanBatch& b = *batches[3];
  std::string user, request;
  for (uint32_t i = 0; i < b.span_attributes[7].count; ++i) {
    const auto& kv = b.attributes[b.span_attributes[7].first + i];
    if (kv.key == "request.id") request = std::string(kv.value.bytes);
    if (kv.key == "user.id") user = std::string(kv.value.bytes);
  }
  ASSERT_FALSE(request.empty());
  q.tags = {{"request.id", request}};
  size_t nonempty = 0;
  hb.ExpectSame(q, "present request.id", &nonempty);
  EXPECT_EQ(nonempty, 1u);
  const BlockSearchStats st2 = hb.block->search_stats();
  EXPECT_GE(st2.row_groups_read - st.row_groups_read, 1u);
  EXPECT_LE(st2.row_groups_read - st.row_groups_read, 3u);

  // Two conditions: the filter must hold both.
  q.tags = {{"user.id", user}, {"request.id", "ffffffffffffffff"}};
  hb.ExpectSame(q, "present user.id, absent request.id");
  const BlockSearchStats st3 = hb.block->search_stats();
  EXPECT_LE(st3.row_groups_read - st2.row_groups_read, 2u);

  // The special keys also match by status and kind: never filtered.
  q.tags = {{"error", "false"}};
  hb.ExpectSame(q, "error=false");
  EXPECT_EQ(hb.block->search_stats().row_groups_filtered, st3.row_groups_filtered);
}

TEST(BlockTest, RandomAttributeQueriesEqualTheHead) {
  GenOptions gen;
  gen.traces = 600;
  gen.seed = 23;
  auto batches = Generate(gen);
  HeadAndBlock hb(batches, SmallGroups(4));  // few bits: false positives happen, must not matter
  std::mt19937_64 rng(5);
  // Every attribute a span can be searched by: its own and its resource's.
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const auto& bp : batches) {
    const SpanBatch& b = *bp;
    for (uint32_t row = 0; row < b.size(); ++row) {
      auto take = [&](model::Range r) {
        for (uint32_t i = 0; i < r.count; ++i) {
          const auto& kv = b.attributes[r.first + i];
          pairs.emplace_back(std::string(kv.key), model::ValueToString(b, kv.value));
        }
      };
      if (rng() % 8 != 0) continue;
      take(b.span_attributes[row]);
      take(b.resources[b.scopes[b.scope[row]].resource].attributes);
    }
  }
  ASSERT_GT(pairs.size(), 1000u);
  const std::vector<std::pair<std::string, std::string>> odd = {
      {"request.id", "nope"}, {"user.id", "user-99999"}, {"http.status_code", "201"},
      {"net.peer.port", "8081"}, {"error", "true"}, {"span.kind", "client"},
      {"otel.status_code", "ERROR"}, {"host.name", "host-1"}, {"user.id", ""}};
  size_t nonempty = 0;
  const int kQueries = 400;
  for (int i = 0; i < kQueries; ++i) {
    TraceQuery q;
    q.limit = rng() % 3 == 0 ? 5 : 0;
    const int tags = 1 + static_cast<int>(rng() % 3);
    for (int t = 0; t < tags; ++t) {
      if (rng() % 5 == 0) {
        q.tags.push_back(odd[rng() % odd.size()]);
      } else {
        q.tags.push_back(pairs[rng() % pairs.size()]);
      }
    }
    if (rng() % 4 == 0) q.service = "checkout";
    hb.ExpectSame(q, absl::StrCat("random query ", i));
  }
  for (int i = 0; i < 200; ++i) {  // single tags: most of them match
    TraceQuery q;
    q.limit = 0;
    q.tags = {pairs[rng() % pairs.size()]};
    hb.ExpectSame(q, absl::StrCat("single tag ", i), &nonempty);
  }
  EXPECT_EQ(nonempty, 200u);
  EXPECT_GT(hb.block->search_stats().row_groups_filtered, 0u);
  EXPECT_TRUE(hb.block->Verify().ok());
}

TEST(BlockTest, VersionOneBlocksWithoutFiltersAreRead) {
  GenOptions gen;
  gen.traces = 400;
  gen.seed = 7;
  // Filters off: the writer writes the layout of version 1, as before them.
  HeadAndBlock hb(Generate(gen), SmallGroups(0));
  EXPECT_EQ(hb.meta.format_version, 1u);
  const std::string dir = hb.tmp.path() + "/" + hb.meta.id;
  for (const char* name : {"/index.blk", "/data.blk"}) {
    const std::string bytes = ReadAll(dir + name);
    EXPECT_EQ(bytes[4], 1) << name;                         // header version
    EXPECT_EQ(bytes[bytes.size() - 8], 1) << name;          // footer version
  }
  // index.blk: the four fixed chunks and the pages, nothing after them.
  EXPECT_EQ(Chunks(dir + "/index.blk").size(),
            block_format::kIndexChunks + (hb.meta.traces + block_format::kPageIds - 1) /
                                             block_format::kPageIds);
  EXPECT_NE(ReadAll(dir + "/meta.json").find("\"format_version\":1"), std::string::npos);
  EXPECT_TRUE(hb.block->Verify().ok());
  for (const auto& tags : std::vector<std::vector<std::pair<std::string, std::string>>>{
           {{"user.id", "user-4242"}},
           {{"request.id", "nope"}},
           {{"http.method", "POST"}},
           {{"error", "true"}},
           {{"host.name", "host-2"}, {"http.status_code", "500"}}}) {
    TraceQuery q;
    q.limit = 0;
    q.tags = tags;
    hb.ExpectSame(q, tags[0].first);
  }
  EXPECT_EQ(hb.block->search_stats().row_groups_filtered, 0u);
  EXPECT_GT(hb.block->search_stats().row_groups_read, 0u);
}

TEST(BlockTest, DamagedAttributeFilterIsDataLoss) {
  SmallBlock sb;
  ASSERT_EQ(sb.meta.format_version, 2u);
  const std::string path = sb.dir + "/index.blk";
  const std::string original = ReadAll(path);
  const auto [off, len] = Chunks(path).back();  // the filters: the last chunk
  for (uint32_t at : {0u, len / 2, len - 1}) {
    std::string bad = original;
    bad[off + at] ^= 0x10;
    WriteAll(path, bad);
    absl::StatusOr<std::shared_ptr<Block>> block = Block::Open(sb.dir);
    ASSERT_EQ(block.status().code(), absl::StatusCode::kDataLoss) << at;
    EXPECT_NE(block.status().message().find("index.blk"), std::string::npos);
  }
  WriteAll(path, original);
  absl::StatusOr<std::shared_ptr<Block>> block = Block::Open(sb.dir);
  ASSERT_TRUE(block.ok()) << block.status();
  EXPECT_TRUE((*block)->Verify().ok());
}

}  // namespace
}  // namespace ariadne::store
