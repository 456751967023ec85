// The ClickHouse backend's pure parts: version detection and the DDL per
// version, the read SQL, RowBinary, string quoting and error mapping.
#include <gtest/gtest.h>

#include "clickhouse/client.h"
#include "clickhouse/response.h"
#include "clickhouse/row_binary.h"
#include "clickhouse/schema.h"
#include "encode/encode.h"

namespace ariadne::clickhouse {
namespace {

bool Contains(const std::string& s, std::string_view part) {
  return s.find(part) != std::string::npos;
}

TEST(ClickHouseSchemaTest, FeaturesByVersion) {
  auto old = FeaturesForVersion("18.16.1");
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->major, 18);
  EXPECT_EQ(old->minor, 16);
  EXPECT_FALSE(old->low_cardinality);
  EXPECT_FALSE(old->codecs);
  EXPECT_FALSE(old->ttl);
  EXPECT_FALSE(old->skip_indexes);
  auto mid = FeaturesForVersion("19.9.2.4");
  ASSERT_TRUE(mid.ok());
  EXPECT_TRUE(mid->low_cardinality);
  EXPECT_FALSE(mid->codecs);
  EXPECT_TRUE(mid->ttl);
  auto recent = FeaturesForVersion("23.8.2.7");
  ASSERT_TRUE(recent.ok());
  EXPECT_TRUE(recent->low_cardinality && recent->codecs && recent->ttl && recent->skip_indexes);
  EXPECT_FALSE(FeaturesForVersion("").ok());
  EXPECT_FALSE(FeaturesForVersion("v23").ok());
}

TEST(ClickHouseSchemaTest, OldServerDdlUsesNoNewFeatures) {
  SchemaOptions o;
  o.database = "traces";
  o.ttl_days = 7;  // ignored: 18.16 has no TTL
  const auto stmts = SchemaStatements(o, *FeaturesForVersion("18.16.1"));
  ASSERT_EQ(stmts.size(), 7u);
  EXPECT_EQ(stmts[0], "CREATE DATABASE IF NOT EXISTS traces");
  for (const std::string& s : stmts) {
    EXPECT_FALSE(Contains(s, "LowCardinality")) << s;
    EXPECT_FALSE(Contains(s, "CODEC")) << s;
    EXPECT_FALSE(Contains(s, "TTL")) << s;
    EXPECT_FALSE(Contains(s, "INDEX")) << s;
  }
  EXPECT_TRUE(Contains(stmts[1], "traces.schema_version"));
  EXPECT_TRUE(Contains(stmts[2], "CREATE TABLE IF NOT EXISTS traces.spans ("));
  EXPECT_TRUE(Contains(stmts[2], "service String,"));
  EXPECT_TRUE(Contains(stmts[2], "attr_keys Array(String),"));
  EXPECT_TRUE(Contains(stmts[2], "ENGINE = ReplacingMergeTree()\nPARTITION BY date\n"
                                 "ORDER BY (service, name, start_ns, trace_id, span_id, kind)"));
  EXPECT_TRUE(Contains(stmts[4], "MATERIALIZED VIEW IF NOT EXISTS traces.trace_index_mv TO "
                                 "traces.trace_index"));
  EXPECT_TRUE(Contains(stmts[6], "operations_mv TO traces.operations"));
}

TEST(ClickHouseSchemaTest, NewServerDdlUsesLowCardinalityCodecsTtlAndIndex) {
  SchemaOptions o;
  o.ttl_days = 14;
  const auto stmts = SchemaStatements(o, *FeaturesForVersion("23.8.2.7"));
  ASSERT_EQ(stmts.size(), 7u);
  const std::string& spans = stmts[2];
  EXPECT_TRUE(Contains(spans, "service LowCardinality(String),")) << spans;
  EXPECT_TRUE(Contains(spans, "name LowCardinality(String),"));
  EXPECT_TRUE(Contains(spans, "attr_keys Array(LowCardinality(String)) CODEC(ZSTD(1)),"));
  EXPECT_TRUE(Contains(spans, "start_ns UInt64 CODEC(Delta, ZSTD(1)),"));
  EXPECT_TRUE(Contains(spans, "otlp String CODEC(ZSTD(3))"));
  EXPECT_TRUE(Contains(spans, "INDEX trace_id_bloom trace_id TYPE bloom_filter(0.01) GRANULARITY 4"));
  EXPECT_TRUE(Contains(spans, "\nTTL date + toIntervalDay(14)\nSETTINGS index_granularity = 8192"));
  EXPECT_TRUE(Contains(stmts[3], "TTL max_date + toIntervalDay(14)"));
  EXPECT_TRUE(Contains(stmts[5], "service LowCardinality(String)"));
  EXPECT_TRUE(Contains(stmts[5], "TTL date + toIntervalDay(14)"));
  // No TTL unless asked.
  o.ttl_days = 0;
  for (const std::string& s : SchemaStatements(o, *FeaturesForVersion("23.8"))) {
    EXPECT_FALSE(Contains(s, "TTL")) << s;
  }
}

TEST(ClickHouseSchemaTest, DatabaseNames) {
  EXPECT_TRUE(ValidateDatabaseName("ariadne_1").ok());
  EXPECT_FALSE(ValidateDatabaseName("").ok());
  EXPECT_FALSE(ValidateDatabaseName("a-b").ok());
  EXPECT_FALSE(ValidateDatabaseName("a; DROP TABLE x").ok());
}

TEST(ClickHouseSqlTest, QuoteEscapesEverythingOdd) {
  EXPECT_EQ(Quote("plain"), "'plain'");
  EXPECT_EQ(Quote("it's \\ ok"), "'it\\'s \\\\ ok'");
  EXPECT_EQ(Quote(std::string_view("a\0b\n\xff", 5)), "'a\\x00b\\x0a\\xff'");
}

TEST(ClickHouseSqlTest, Dates) {
  EXPECT_EQ(DateLiteral(0), "'1970-01-01'");
  EXPECT_EQ(DateLiteral(19675), "'2023-11-14'");
  EXPECT_EQ(DateLiteral(kLastDay), "'2105-12-31'");
  EXPECT_EQ(DayOf(1'700'000'000'000'000'000ull), 19675);
  EXPECT_EQ(DayOf(UINT64_MAX), kLastDay);
}

TEST(ClickHouseSqlTest, EmptyQueryMatchesAll) {
  store::TraceQuery q;
  q.limit = 0;
  EXPECT_EQ(SpanConditionsSql(q), "1");
  EXPECT_EQ(FindTracesSql("db", q),
            "SELECT trace_id, max(start_ns) AS newest FROM db.spans WHERE 1 GROUP BY trace_id "
            "ORDER BY newest DESC, trace_id ASC FORMAT RowBinary");
}

TEST(ClickHouseSqlTest, EveryConditionIsPushedDown) {
  store::TraceQuery q;
  q.service = "cart";
  q.operation = "Get'Cart";
  q.kind = model::SpanKind::kClient;
  q.start_min_nano = 1'700'000'000'000'000'000ull;
  q.start_max_nano = 1'700'000'100'000'000'000ull;
  q.min_duration_nano = 5;
  q.max_duration_nano = 10;
  q.limit = 20;
  EXPECT_EQ(SpanConditionsSql(q),
            "date >= '2023-11-14' AND date <= '2023-11-14' AND service = 'cart' AND "
            "name = 'Get\\'Cart' AND kind = 3 AND start_ns >= 1700000000000000000 AND "
            "start_ns <= 1700000100000000000 AND duration_ns >= 5 AND duration_ns <= 10");
  EXPECT_TRUE(Contains(FindTracesSql("db", q), " LIMIT 20 FORMAT RowBinary"));
}

TEST(ClickHouseSqlTest, TagsIncludingTheSpecialKeys) {
  store::TraceQuery q;
  q.tags = {{"region", "eu"}};
  EXPECT_EQ(SpanConditionsSql(q),
            "(arrayExists((k, v) -> k = 'region' AND v = 'eu', attr_keys, attr_values) OR "
            "arrayExists((k, v) -> k = 'region' AND v = 'eu', res_keys, res_values))");
  q.tags = {{"error", "true"}};
  EXPECT_TRUE(Contains(SpanConditionsSql(q), "(status_code = 2 OR arrayExists("));
  q.tags = {{"error", "false"}};
  EXPECT_TRUE(Contains(SpanConditionsSql(q), "(status_code != 2 OR arrayExists("));
  q.tags = {{"span.kind", "SERVER"}};
  EXPECT_TRUE(Contains(SpanConditionsSql(q), "(kind IN (2) OR arrayExists("));
  q.tags = {{"span.kind", "unspecified"}};
  EXPECT_TRUE(Contains(SpanConditionsSql(q), "(kind IN (0) OR arrayExists("));
  q.tags = {{"span.kind", "bogus"}};  // only an attribute can match
  EXPECT_TRUE(Contains(SpanConditionsSql(q), "(arrayExists("));
  q.tags = {{"otel.status_code", "error"}};
  EXPECT_TRUE(Contains(SpanConditionsSql(q), "(status_code IN (2) OR arrayExists("));
  q.tags = {{"otel.status_code", "Unset"}};
  EXPECT_TRUE(Contains(SpanConditionsSql(q), "(status_code IN (0) OR arrayExists("));
}

TEST(ClickHouseSqlTest, TraceAndListQueries) {
  model::TraceId id{};
  id[15] = 0xab;
  EXPECT_EQ(TraceRangeSql("db", id),
            "SELECT min(min_date), max(max_date), count() FROM db.trace_index WHERE trace_id = "
            "toFixedString(unhex('000000000000000000000000000000ab'), 16) FORMAT RowBinary");
  EXPECT_EQ(TraceSpansSql("db", id, 0, 1),
            "SELECT otlp FROM db.spans WHERE date >= '1970-01-01' AND date <= '1970-01-02' AND "
            "trace_id = toFixedString(unhex('000000000000000000000000000000ab'), 16) FORMAT "
            "RowBinary");
  EXPECT_EQ(ServicesSql("db"), "SELECT DISTINCT service FROM db.operations ORDER BY service FORMAT RowBinary");
  EXPECT_EQ(OperationsSql("db", "cart", model::SpanKind::kServer),
            "SELECT DISTINCT name, kind FROM db.operations WHERE service = 'cart' AND kind = 2 "
            "ORDER BY name, kind FORMAT RowBinary");
  const std::string deps = DependenciesSql("db", 0, 86'400'000'000'000ull);
  EXPECT_TRUE(Contains(deps, ") AS children ALL INNER JOIN (")) << deps;
  EXPECT_TRUE(Contains(deps, "GROUP BY trace_id, span_id\n) AS parents USING"));
  EXPECT_TRUE(Contains(deps, "USING (trace_id, parent_span_id)"));
  EXPECT_FALSE(Contains(deps, "ANY"));
  EXPECT_TRUE(Contains(deps, "date >= '1970-01-01' AND date <= '1970-01-03' AND trace_id IN"));
}

TEST(RowBinaryTest, RoundTrip) {
  std::string buf;
  RowBinaryWriter w(&buf);
  w.UInt8(7);
  w.UInt16(0x1234);
  w.UInt64(0x0102030405060708ull);
  w.VarUInt(300);
  w.String("héllo");
  w.String(std::string(200, 'x'));
  const uint8_t id[4] = {1, 2, 3, 4};
  w.Fixed(id, 4);
  EXPECT_EQ(buf.substr(0, 3), std::string("\x07\x34\x12", 3));
  EXPECT_EQ(buf.substr(3, 8), std::string("\x08\x07\x06\x05\x04\x03\x02\x01", 8));
  EXPECT_EQ(buf.substr(11, 2), std::string("\xac\x02", 2));  // LEB128 of 300
  RowBinaryReader r(buf);
  uint8_t a;
  uint16_t b;
  uint64_t c, d;
  std::string_view s, t;
  uint8_t f[4];
  ASSERT_TRUE(r.UInt8(&a) && r.UInt16(&b) && r.UInt64(&c) && r.VarUInt(&d) && r.String(&s) &&
              r.String(&t) && r.Fixed(f, 4));
  EXPECT_EQ(a, 7);
  EXPECT_EQ(b, 0x1234);
  EXPECT_EQ(c, 0x0102030405060708ull);
  EXPECT_EQ(d, 300u);
  EXPECT_EQ(s, "héllo");
  EXPECT_EQ(t.size(), 200u);
  EXPECT_EQ(f[3], 4);
  EXPECT_TRUE(r.done());
  EXPECT_FALSE(r.UInt8(&a));
  RowBinaryReader cut(std::string_view(buf).substr(0, 14));  // mid-string
  ASSERT_TRUE(cut.UInt8(&a) && cut.UInt16(&b) && cut.UInt64(&c) && cut.VarUInt(&d));
  EXPECT_FALSE(cut.String(&s));
}

TEST(RowBinaryTest, SpanRows) {
  model::SpanBatch b;
  model::Resource r;
  r.service_name = b.Copy("cart");
  r.attributes = {0, 1};
  b.attributes.push_back({"service.name", model::AnyValue::String("cart")});
  b.resources.push_back(r);
  b.scopes.push_back({});
  const uint32_t row = b.AddSpan();
  b.trace_id[row][0] = 1;
  b.span_id[row][0] = 2;
  b.name[row] = b.Copy("GetCart");
  b.kind[row] = model::SpanKind::kServer;
  b.start_unix_nano[row] = 86'400'000'000'000ull + 5;
  b.end_unix_nano[row] = b.start_unix_nano[row] + 10;
  b.span_attributes[row] = {1, 2};
  b.attributes.push_back({"http.response.status_code", model::AnyValue::Int(500)});
  b.attributes.push_back({"ok", model::AnyValue::Bool(true)});
  std::string rows;
  EncodeSpanRows(b, &rows);
  RowBinaryReader rd(rows);
  uint16_t day;
  uint64_t start, duration, n;
  std::string_view service, name, k, v, otlp;
  uint8_t kind, status;
  model::TraceId tid;
  model::SpanId sid, parent;
  ASSERT_TRUE(rd.UInt16(&day) && rd.UInt64(&start) && rd.UInt64(&duration) &&
              rd.String(&service) && rd.String(&name) && rd.UInt8(&kind) && rd.UInt8(&status) &&
              rd.Fixed(tid.data(), 16) && rd.Fixed(sid.data(), 8) && rd.Fixed(parent.data(), 8));
  EXPECT_EQ(day, 1);
  EXPECT_EQ(duration, 10u);
  EXPECT_EQ(service, "cart");
  EXPECT_EQ(name, "GetCart");
  EXPECT_EQ(kind, 2);
  EXPECT_EQ(tid, b.trace_id[row]);
  ASSERT_TRUE(rd.VarUInt(&n));
  ASSERT_EQ(n, 2u);
  ASSERT_TRUE(rd.String(&k) && rd.String(&k) && rd.VarUInt(&n) && rd.String(&v));
  EXPECT_EQ(k, "ok");
  EXPECT_EQ(v, "500");  // values as SpanMatches compares them
  ASSERT_TRUE(rd.String(&v));
  EXPECT_EQ(v, "true");
  ASSERT_TRUE(rd.VarUInt(&n) && rd.String(&k) && rd.VarUInt(&n) && rd.String(&v));
  EXPECT_EQ(k, "service.name");
  EXPECT_EQ(v, "cart");
  ASSERT_TRUE(rd.String(&otlp));
  std::string want;
  const std::shared_ptr<const model::SpanBatch> view(std::shared_ptr<const model::SpanBatch>(), &b);
  const model::SpanRef ref{view, row};
  encode::EncodeOtlpProto(std::span<const model::SpanRef>(&ref, 1), &want);
  EXPECT_EQ(otlp, want);
  EXPECT_TRUE(rd.done());
}

TEST(ClickHouseErrorTest, CodesAndRetryability) {
  const std::string old_text =
      "Code: 62, e.displayText() = DB::Exception: Syntax error: failed at position 1, e.what() = "
      "DB::Exception\n";
  EXPECT_EQ(ClickHouseErrorCode(old_text), 62);
  absl::Status s = ClickHouseError(500, old_text, "SELECT");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(std::string(s.message()), "code 62")) << s;
  EXPECT_TRUE(Contains(std::string(s.message()), "Syntax error")) << s;
  EXPECT_FALSE(ClickHouseRetryable(s));
  const std::string new_text = "Code: 252. DB::Exception: Too many parts (300). (TOO_MANY_PARTS)";
  EXPECT_EQ(ClickHouseErrorCode(new_text), 252);
  s = ClickHouseError(500, new_text, "INSERT");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(ClickHouseRetryable(s));
  EXPECT_EQ(ClickHouseError(404, "Code: 60, Table db.x doesn't exist", "x").code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(ClickHouseError(500, "Code: 1000, something", "x").code(), absl::StatusCode::kInternal);
  EXPECT_EQ(ClickHouseError(503, "proxy says no", "x").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ClickHouseErrorCode("no code here"), -1);
  EXPECT_TRUE(ClickHouseRetryable(absl::UnavailableError("refused")));
  EXPECT_TRUE(ClickHouseRetryable(absl::DeadlineExceededError("timeout")));
  EXPECT_FALSE(ClickHouseRetryable(absl::CancelledError("stop")));
}

TEST(ClickHouseClientTest, RejectsBadUrls) {
  ClickHouseOptions o;
  o.url = "https://ch:8443";
  EXPECT_FALSE(ClickHouseClient::Create(o).ok());
  o.url = "http://127.0.0.1:8123";
  EXPECT_TRUE(ClickHouseClient::Create(o).ok());
  EXPECT_EQ(UrlEncode("a b&c=d"), "a%20b%26c%3Dd");
}

// Answers as clickhouse-server 18.16 sends them for the backend's statements
// (the seed corpus of test/fuzz/clickhouse_response_fuzzer.cc holds them too).

TEST(ClickHouseResponseTest, Version) {
  EXPECT_EQ(ParseVersionAnswer("18.16.1\n"), "18.16.1");
  EXPECT_EQ(ParseVersionAnswer("23.8.2.7\r\n"), "23.8.2.7");
  EXPECT_EQ(ParseVersionAnswer(""), "");
  auto v = ParseVersionNumbers("23.8.2.7");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->major, 23);
  EXPECT_EQ(v->minor, 8);
  v = ParseVersionNumbers("18.16");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->minor, 16);
  for (std::string_view bad : {"", "v23.8", "23", "23.", "23.x", "-1.2", "1.-2", "+1.2",
                               "99999999999.1", "1.99999999999"}) {
    const auto r = ParseVersionNumbers(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_TRUE(Contains(std::string(r.status().message()), "is not major.minor")) << r.status();
  }
  EXPECT_FALSE(FeaturesForVersion("-1.2").ok());
}

TEST(ClickHouseResponseTest, SchemaVersion) {
  EXPECT_EQ(*ParseSchemaVersionAnswer("0\n"), 0u);  // max() of an empty table
  EXPECT_EQ(*ParseSchemaVersionAnswer("1\n"), 1u);
  EXPECT_EQ(*ParseSchemaVersionAnswer("1\r\n"), 1u);
  EXPECT_EQ(*ParseSchemaVersionAnswer("4294967295"), 4294967295u);
  EXPECT_EQ(*ParseSchemaVersionAnswer("\\N\n"), 0u);
  // Formerly read as 0 (no schema yet): a newer schema would have been
  // "migrated" over.
  for (std::string_view bad : {"", "\n", "x\n", "1 2\n", "-1\n", "+1\n", "4294967296\n",
                               "1\n\n", "Code: 60, e.displayText() = DB::Exception"}) {
    const auto r = ParseSchemaVersionAnswer(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInternal);
    EXPECT_TRUE(Contains(std::string(r.status().message()), "schema version query")) << r.status();
  }
}

TEST(ClickHouseResponseTest, TraceRange) {
  const std::string answer("SNSN\x01\0\0\0\0\0\0\0", 12);
  auto r = ParseTraceRange(answer);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->first_day, 0x4e53);
  EXPECT_EQ(r->last_day, 0x4e53);
  EXPECT_EQ(r->rows, 1u);
  r = ParseTraceRange(std::string(12, '\0'));  // a trace the index does not know
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->rows, 0u);
  EXPECT_FALSE(ParseTraceRange(answer.substr(0, 11)).ok());
  EXPECT_FALSE(ParseTraceRange("").ok());
  const auto extra = ParseTraceRange(answer + answer);
  ASSERT_FALSE(extra.ok());
  EXPECT_EQ(extra.status().message(),
            "clickhouse: malformed RowBinary answer to the trace range query");
}

TEST(ClickHouseResponseTest, TraceSpans) {
  std::string answer;
  RowBinaryWriter w(&answer);
  w.String("\x0a\x02");
  w.String("");
  w.String(std::string(300, 'b'));  // a two-byte length
  auto r = ParseTraceSpans(answer);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, "\x0a\x02" + std::string(300, 'b'));
  EXPECT_EQ(*ParseTraceSpans(""), "");
  EXPECT_FALSE(ParseTraceSpans(std::string_view(answer).substr(0, answer.size() - 1)).ok());
  EXPECT_FALSE(ParseTraceSpans("\x80").ok());  // a length cut short
}

TEST(ClickHouseResponseTest, FindTraces) {
  std::string answer;
  RowBinaryWriter w(&answer);
  model::TraceId a{}, b{};
  a[0] = 0x4b;
  b[15] = 7;
  w.Fixed(a.data(), a.size());
  w.UInt64(1732464000010000000ull);
  w.Fixed(b.data(), b.size());
  w.UInt64(5);
  auto r = ParseFindTraces(answer);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0], std::make_pair(uint64_t{1732464000010000000ull}, a));
  EXPECT_EQ((*r)[1], std::make_pair(uint64_t{5}, b));
  EXPECT_TRUE(ParseFindTraces("")->empty());
  EXPECT_FALSE(ParseFindTraces(std::string_view(answer).substr(0, 23)).ok());
}

TEST(ClickHouseResponseTest, ServicesOperationsDependencies) {
  auto services = ParseServices(std::string("\x04" "cart" "\x08" "frontend" "\x00", 15));
  ASSERT_TRUE(services.ok()) << services.status();
  EXPECT_EQ(*services, (std::vector<std::string>{"cart", "frontend", ""}));
  EXPECT_FALSE(ParseServices("\x05" "cart").ok());

  const std::string ops("\x13" "CartService/GetCart" "\x03" "\x09" "GET /cart" "\x02", 32);
  auto operations = ParseOperations(ops);
  ASSERT_TRUE(operations.ok()) << operations.status();
  ASSERT_EQ(operations->size(), 2u);
  EXPECT_EQ((*operations)[0].name, "CartService/GetCart");
  EXPECT_EQ((*operations)[0].kind, model::SpanKind::kClient);
  EXPECT_EQ((*operations)[1].kind, model::SpanKind::kServer);
  EXPECT_TRUE(ParseOperations("")->empty());
  EXPECT_FALSE(ParseOperations(ops.substr(0, ops.size() - 1)).ok());
  EXPECT_TRUE(ParseOperations("\x01x\x05").ok());  // consumer, the last kind
  EXPECT_FALSE(ParseOperations("\x01x\x06").ok());  // no such kind

  const std::string deps("\x08" "frontend" "\x04" "cart" "\x01\0\0\0\0\0\0\0", 22);
  auto dependencies = ParseDependencies(deps);
  ASSERT_TRUE(dependencies.ok()) << dependencies.status();
  ASSERT_EQ(dependencies->size(), 1u);
  EXPECT_EQ((*dependencies)[0].parent, "frontend");
  EXPECT_EQ((*dependencies)[0].child, "cart");
  EXPECT_EQ((*dependencies)[0].call_count, 1u);
  const auto cut = ParseDependencies(deps.substr(0, 21));
  ASSERT_FALSE(cut.ok());
  EXPECT_EQ(cut.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(cut.status().message(),
            "clickhouse: malformed RowBinary answer to the dependencies query");
}

TEST(ClickHouseResponseTest, ExceptionAnswers) {
  // 18.16, and the newer form.
  EXPECT_EQ(ClickHouseError(404,
                            "Code: 81, e.displayText() = DB::Exception: Database nope doesn't "
                            "exist, e.what() = DB::Exception\n",
                            "SELECT")
                .code(),
            absl::StatusCode::kNotFound);
  const absl::Status s = ClickHouseError(
      404,
      "Code: 60. DB::Exception: Table ariadne.nope does not exist. (UNKNOWN_TABLE) (version "
      "23.8.2.7 (official build))\n",
      "SELECT");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(Contains(std::string(s.message()), "clickhouse SELECT: HTTP 404, code 60: ")) << s;
  // A proxy's page: no code, the HTTP status decides.
  const std::string page = "<html><head><title>502 Bad Gateway</title></head></html>\r\n";
  EXPECT_EQ(ClickHouseErrorCode(page), -1);
  EXPECT_EQ(ClickHouseError(502, page, "x").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ClickHouseErrorCode("Code: "), -1);
  EXPECT_EQ(ClickHouseErrorCode("Code: x"), -1);
  EXPECT_EQ(ClickHouseErrorCode("Code: 99999999999"), -1);
  // A code out of range is no code: the HTTP status decides.
  EXPECT_EQ(ClickHouseError(400, "Code: 99999999999", "x").code(),
            ClickHouseError(400, "no code", "x").code());
}

}  // namespace
}  // namespace ariadne::clickhouse
