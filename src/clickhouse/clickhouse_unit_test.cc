// The ClickHouse backend's pure parts: version detection and the DDL per
// version, the read SQL, RowBinary, string quoting and error mapping.
#include <gtest/gtest.h>

#include "clickhouse/client.h"
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

}  // namespace
}  // namespace ariadne::clickhouse
