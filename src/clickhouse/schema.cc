#include "clickhouse/schema.h"

#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "clickhouse/response.h"
#include "clickhouse/row_binary.h"
#include "common/strings.h"
#include "encode/encode.h"
#include "model/value_format.h"
#include "spdlog/spdlog.h"

namespace ariadne::clickhouse {

using model::SpanBatch;
using model::SpanKind;
using model::StatusCode;

absl::StatusOr<ServerFeatures> FeaturesForVersion(std::string_view version) {
  auto numbers = ParseVersionNumbers(version);
  if (!numbers.ok()) return numbers.status();
  ServerFeatures f;
  f.major = numbers->major;
  f.minor = numbers->minor;
  auto at_least = [&f](int major, int minor) {
    return f.major > major || (f.major == major && f.minor >= minor);
  };
  // LowCardinality left its experimental flag in 19.x; codecs came in 19.1
  // but Delta over UInt64 with ZSTD is solid from 19.10; TTL from 19.6;
  // bloom_filter skipping indexes without allow_experimental_* from 20.3.
  f.low_cardinality = at_least(19, 9);
  f.codecs = at_least(19, 10);
  f.ttl = at_least(19, 6);
  f.skip_indexes = at_least(20, 3);
  return f;
}

absl::Status ValidateDatabaseName(std::string_view name) {
  bool ok = !name.empty() && name.size() <= 64;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) {
      ok = false;
    }
  }
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ClickHouse database name \"", AbslView(name), "\" must be 1-64 of [A-Za-z0-9_]"));
  }
  return absl::OkStatus();
}

std::vector<std::string> SchemaStatements(const SchemaOptions& o, const ServerFeatures& f) {
  const std::string& db = o.database;
  const std::string lc = f.low_cardinality ? "LowCardinality(String)" : "String";
  auto codec = [&f](std::string_view c) -> std::string {
    return f.codecs ? absl::StrCat(" CODEC(", AbslView(c), ")") : "";
  };
  auto ttl = [&](std::string_view column) -> std::string {
    if (o.ttl_days == 0 || !f.ttl) return "";
    return absl::StrCat("\nTTL ", AbslView(column), " + toIntervalDay(", o.ttl_days, ")");
  };
  std::vector<std::string> out;
  out.push_back(absl::StrCat("CREATE DATABASE IF NOT EXISTS ", db));
  out.push_back(absl::StrCat("CREATE TABLE IF NOT EXISTS ", db,
                             ".schema_version (\n"
                             "  version UInt32,\n"
                             "  applied_at DateTime DEFAULT now()\n"
                             ") ENGINE = TinyLog"));
  // One row per span. ReplacingMergeTree: a retried insert's copies share
  // the whole sorting key and merge into one; reads dedup until then.
  out.push_back(absl::StrCat(
      "CREATE TABLE IF NOT EXISTS ", db, ".spans (\n",
      "  date Date", codec("Delta, ZSTD(1)"), ",\n",
      "  start_ns UInt64", codec("Delta, ZSTD(1)"), ",\n",
      "  duration_ns UInt64", codec("ZSTD(1)"), ",\n",
      "  service ", lc, ",\n",
      "  name ", lc, ",\n",
      "  kind UInt8,\n",
      "  status_code UInt8,\n",
      "  trace_id FixedString(16)", codec("ZSTD(1)"), ",\n",
      "  span_id FixedString(8)", codec("ZSTD(1)"), ",\n",
      "  parent_span_id FixedString(8)", codec("ZSTD(1)"), ",\n",
      "  attr_keys Array(", lc, ")", codec("ZSTD(1)"), ",\n",
      "  attr_values Array(String)", codec("ZSTD(1)"), ",\n",
      "  res_keys Array(", lc, ")", codec("ZSTD(1)"), ",\n",
      "  res_values Array(String)", codec("ZSTD(1)"), ",\n",
      "  otlp String", codec("ZSTD(3)"),
      f.skip_indexes ? ",\n  INDEX trace_id_bloom trace_id TYPE bloom_filter(0.01) GRANULARITY 4" : "",
      "\n) ENGINE = ReplacingMergeTree()\n"
      "PARTITION BY date\n"
      "ORDER BY (service, name, start_ns, trace_id, span_id, kind)",
      ttl("date"), "\nSETTINGS index_granularity = 8192"));
  // Trace id -> days: per inserted block, so a trace has a row per batch
  // that carried it; GetTrace reads the spans of those days only.
  out.push_back(absl::StrCat("CREATE TABLE IF NOT EXISTS ", db,
                             ".trace_index (\n"
                             "  trace_id FixedString(16),\n"
                             "  min_date Date,\n"
                             "  max_date Date,\n"
                             "  min_start UInt64,\n"
                             "  max_start UInt64\n"
                             ") ENGINE = MergeTree()\n"
                             "PARTITION BY toYYYYMM(max_date)\n"
                             "ORDER BY trace_id",
                             ttl("max_date")));
  out.push_back(absl::StrCat(
      "CREATE MATERIALIZED VIEW IF NOT EXISTS ", db, ".trace_index_mv TO ", db,
      ".trace_index AS\n"
      "SELECT trace_id, min(date) AS min_date, max(date) AS max_date,\n"
      "       min(start_ns) AS min_start, max(start_ns) AS max_start\n"
      "FROM ",
      db, ".spans GROUP BY trace_id"));
  // (service, operation, kind) by day, for the service and operation lists.
  out.push_back(absl::StrCat("CREATE TABLE IF NOT EXISTS ", db,
                             ".operations (\n"
                             "  date Date,\n"
                             "  service ",
                             lc,
                             ",\n"
                             "  name ",
                             lc,
                             ",\n"
                             "  kind UInt8\n"
                             ") ENGINE = ReplacingMergeTree()\n"
                             "PARTITION BY toYYYYMM(date)\n"
                             "ORDER BY (service, name, kind, date)",
                             ttl("date")));
  out.push_back(absl::StrCat("CREATE MATERIALIZED VIEW IF NOT EXISTS ", db, ".operations_mv TO ",
                             db,
                             ".operations AS\n"
                             "SELECT DISTINCT date, service, name, kind FROM ",
                             db, ".spans"));
  return out;
}

absl::StatusOr<ServerFeatures> EnsureSchema(const ClickHouseClient& client,
                                            const SchemaOptions& options) {
  if (auto s = ValidateDatabaseName(options.database); !s.ok()) return s;
  auto version = client.Version();
  if (!version.ok()) return version.status();
  auto features = FeaturesForVersion(*version);
  if (!features.ok()) return features.status();
  if (options.ttl_days != 0 && !features->ttl) {
    spdlog::warn(
        "clickhouse: server {} has no TTL; spans are kept until their day partitions are "
        "dropped by hand (ALTER TABLE {}.spans DROP PARTITION 'YYYY-MM-DD')",
        *version, options.database);
  }
  const std::vector<std::string> statements = SchemaStatements(options, *features);
  // The database and the version table first: they say what else to do.
  for (size_t i = 0; i < 2; ++i) {
    if (auto r = client.Query(statements[i]); !r.ok()) return r.status();
  }
  auto current = client.Query(
      absl::StrCat("SELECT max(version) FROM ", options.database, ".schema_version FORMAT TSV"));
  if (!current.ok()) return current.status();
  auto schema_version = ParseSchemaVersionAnswer(*current);
  if (!schema_version.ok()) return schema_version.status();
  const uint32_t have = *schema_version;
  if (have > kSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "ClickHouse database ", options.database, " has schema version ", have,
        "; this Ariadne knows up to ", kSchemaVersion, " (upgrade Ariadne)"));
  }
  // Version 1 is the first: creating is migrating from 0. Later versions add
  // their ALTERs here, applied in order from `have` + 1.
  for (size_t i = 2; i < statements.size(); ++i) {
    if (auto r = client.Query(statements[i]); !r.ok()) return r.status();
  }
  if (have < kSchemaVersion) {
    auto r = client.Query(absl::StrCat("INSERT INTO ", options.database,
                                       ".schema_version (version) VALUES (", kSchemaVersion, ")"));
    if (!r.ok()) return r.status();
    spdlog::info("clickhouse: schema of {} at version {} (server {})", options.database,
                 kSchemaVersion, *version);
  }
  return features;
}

std::string InsertSpansSql(std::string_view database) {
  return absl::StrCat("INSERT INTO ", AbslView(database),
                      ".spans (date, start_ns, duration_ns, service, name, kind, status_code, "
                      "trace_id, span_id, parent_span_id, attr_keys, attr_values, res_keys, "
                      "res_values, otlp) FORMAT RowBinary");
}

uint16_t DayOf(uint64_t unix_nano) {
  const uint64_t day = unix_nano / 86'400'000'000'000ull;
  return static_cast<uint16_t>(std::min<uint64_t>(day, kLastDay));
}

namespace {

// The searchable text of an attribute value: what SpanMatches compares.
std::string_view SearchText(const SpanBatch& b, const model::AnyValue& v, std::string* scratch) {
  if (v.type == model::ValueType::kString) return v.bytes;
  *scratch = model::ValueToString(b, v);
  return *scratch;
}

void WriteAttributes(const SpanBatch& b, model::Range attrs, RowBinaryWriter& w) {
  w.VarUInt(attrs.count);
  for (uint32_t i = 0; i < attrs.count; ++i) w.String(b.attributes[attrs.first + i].key);
  w.VarUInt(attrs.count);
  std::string scratch;
  for (uint32_t i = 0; i < attrs.count; ++i) {
    w.String(SearchText(b, b.attributes[attrs.first + i].value, &scratch));
  }
}

}  // namespace

void EncodeSpanRows(const SpanBatch& batch, std::string* out) {
  RowBinaryWriter w(out);
  // A non-owning pointer: the encoder wants SpanRefs, the batch outlives it.
  const std::shared_ptr<const SpanBatch> view(std::shared_ptr<const SpanBatch>(), &batch);
  std::string otlp;
  for (uint32_t row = 0; row < batch.size(); ++row) {
    const uint64_t start = batch.start_unix_nano[row];
    w.UInt16(DayOf(start));
    w.UInt64(start);
    w.UInt64(batch.duration_nano(row));
    w.String(store::ServiceOf(batch, row));
    w.String(batch.name[row]);
    w.UInt8(static_cast<uint8_t>(batch.kind[row]));
    w.UInt8(static_cast<uint8_t>(batch.status_code[row]));
    w.Fixed(batch.trace_id[row].data(), 16);
    w.Fixed(batch.span_id[row].data(), 8);
    w.Fixed(batch.parent_span_id[row].data(), 8);
    WriteAttributes(batch, batch.span_attributes[row], w);
    const model::Scope& scope = batch.scopes[batch.scope[row]];
    WriteAttributes(batch, batch.resources[scope.resource].attributes, w);
    otlp.clear();
    const model::SpanRef ref{view, row};
    encode::EncodeOtlpProto(std::span<const model::SpanRef>(&ref, 1), &otlp);
    w.String(otlp);
  }
}

std::string Quote(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('\'');
  for (unsigned char c : s) {
    if (c == '\'' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20 || c >= 0x7f) {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out.push_back('\'');
  return out;
}

std::string IdLiteral(std::span<const uint8_t> id) {
  return absl::StrCat("toFixedString(unhex('", model::ToHex(id), "'), ", id.size(), ")");
}

std::string DateLiteral(uint32_t day) {
  // Howard Hinnant's civil_from_days.
  const int64_t z = static_cast<int64_t>(day) + 719468;
  const int64_t era = z / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  const int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  char buf[48];  // room for any int, to keep -Wformat-truncation quiet
  std::snprintf(buf, sizeof buf, "'%04d-%02d-%02d'", static_cast<int>(y), static_cast<int>(m),
                static_cast<int>(d));
  return buf;
}

namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return absl::EqualsIgnoreCase(AbslView(a), AbslView(b));
}

// "column IN (a, b)" for the enum values `match` accepts, "" if none.
template <typename Match>
std::string EnumIn(std::string_view column, int count, Match match) {
  std::vector<std::string> in;
  for (int v = 0; v < count; ++v) {
    if (match(v)) in.push_back(std::to_string(v));
  }
  if (in.empty()) return "";
  return absl::StrCat(AbslView(column), " IN (", absl::StrJoin(in, ", "), ")");
}

// One tag condition, as TagMatches (store/head.cc) decides it: the special
// keys' meaning, or a span attribute, or a resource attribute.
std::string TagSql(std::string_view key, std::string_view value) {
  std::vector<std::string> any;
  if (key == "error") {
    any.push_back(value == "true" ? "status_code = 2" : "status_code != 2");
  } else if (key == "span.kind") {
    std::string in = EnumIn("kind", 6, [&](int k) {
      std::string_view name = model::SpanKindShortName(static_cast<SpanKind>(k));
      return EqualsIgnoreCase(name.empty() ? "unspecified" : name, value);
    });
    if (!in.empty()) any.push_back(std::move(in));
  } else if (key == "otel.status_code") {
    std::string in = EnumIn("status_code", 3, [&](int c) {
      std::string_view name = model::StatusCodeName(static_cast<StatusCode>(c));
      name.remove_prefix(sizeof("STATUS_CODE_") - 1);
      return EqualsIgnoreCase(name, value);
    });
    if (!in.empty()) any.push_back(std::move(in));
  }
  const std::string pair = absl::StrCat("(k, v) -> k = ", Quote(key), " AND v = ", Quote(value));
  any.push_back(absl::StrCat("arrayExists(", pair, ", attr_keys, attr_values)"));
  any.push_back(absl::StrCat("arrayExists(", pair, ", res_keys, res_values)"));
  return absl::StrCat("(", absl::StrJoin(any, " OR "), ")");
}

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

}  // namespace

std::string SpanConditionsSql(const store::TraceQuery& q) {
  std::vector<std::string> all;
  if (q.start_min_nano > 0 || q.start_max_nano < kMax) {
    // The day column first: it prunes partitions.
    all.push_back(absl::StrCat("date >= ", DateLiteral(DayOf(q.start_min_nano)),
                               " AND date <= ", DateLiteral(DayOf(q.start_max_nano))));
  }
  if (!q.service.empty()) all.push_back(absl::StrCat("service = ", Quote(q.service)));
  if (!q.operation.empty()) all.push_back(absl::StrCat("name = ", Quote(q.operation)));
  if (q.kind) all.push_back(absl::StrCat("kind = ", static_cast<int>(*q.kind)));
  if (q.start_min_nano > 0) all.push_back(absl::StrCat("start_ns >= ", q.start_min_nano));
  if (q.start_max_nano < kMax) all.push_back(absl::StrCat("start_ns <= ", q.start_max_nano));
  if (q.min_duration_nano > 0) all.push_back(absl::StrCat("duration_ns >= ", q.min_duration_nano));
  if (q.max_duration_nano < kMax) {
    all.push_back(absl::StrCat("duration_ns <= ", q.max_duration_nano));
  }
  for (const auto& [key, value] : q.tags) all.push_back(TagSql(key, value));
  if (all.empty()) return "1";
  return absl::StrJoin(all, " AND ");
}

std::string FindTracesSql(std::string_view database, const store::TraceQuery& q) {
  std::string sql = absl::StrCat("SELECT trace_id, max(start_ns) AS newest FROM ",
                                 AbslView(database), ".spans WHERE ", SpanConditionsSql(q),
                                 " GROUP BY trace_id ORDER BY newest DESC, trace_id ASC");
  if (q.limit > 0) absl::StrAppend(&sql, " LIMIT ", q.limit);
  sql += " FORMAT RowBinary";
  return sql;
}

std::string TraceRangeSql(std::string_view database, const model::TraceId& id) {
  return absl::StrCat("SELECT min(min_date), max(max_date), count() FROM ", AbslView(database),
                      ".trace_index WHERE trace_id = ", IdLiteral(id), " FORMAT RowBinary");
}

std::string TraceSpansSql(std::string_view database, const model::TraceId& id,
                          uint16_t first_day, uint16_t last_day) {
  return absl::StrCat("SELECT otlp FROM ", AbslView(database), ".spans WHERE date >= ",
                      DateLiteral(first_day), " AND date <= ", DateLiteral(last_day),
                      " AND trace_id = ", IdLiteral(id), " FORMAT RowBinary");
}

std::string ServicesSql(std::string_view database) {
  return absl::StrCat("SELECT DISTINCT service FROM ", AbslView(database),
                      ".operations ORDER BY service FORMAT RowBinary");
}

std::string OperationsSql(std::string_view database, std::string_view service,
                          std::optional<SpanKind> kind) {
  std::string sql = absl::StrCat("SELECT DISTINCT name, kind FROM ", AbslView(database),
                                 ".operations WHERE service = ", Quote(service));
  if (kind) absl::StrAppend(&sql, " AND kind = ", static_cast<int>(*kind));
  sql += " ORDER BY name, kind FORMAT RowBinary";
  return sql;
}

std::string DependenciesSql(std::string_view database, uint64_t start_nano, uint64_t end_nano) {
  const std::string db(database);
  const uint16_t first = DayOf(start_nano), last = DayOf(end_nano);
  // Children: distinct (a retried insert's copy counts once) spans with a
  // parent, started in the range. Parents: the spans of those children's
  // traces from the day before the range to the day after (a parent
  // starts around its child, within a day in any trace seen), one row per
  // (trace, span id) so that the join gives each child one parent. (Not
  // ANY JOIN: its meaning changed in 20.x to one row per key on both sides.)
  // Subqueries have aliases: newer servers require them in joins.
  const std::string in_range =
      absl::StrCat("date >= ", DateLiteral(first), " AND date <= ", DateLiteral(last),
                   " AND start_ns >= ", start_nano, " AND start_ns <= ", end_nano);
  const model::SpanId zero{};
  return absl::StrCat(
      "SELECT parent_service, service, count() AS calls FROM (\n"
      "  SELECT DISTINCT trace_id, span_id, kind, parent_span_id, service FROM ",
      db, ".spans\n  WHERE ", in_range, " AND parent_span_id != ", IdLiteral(zero),
      "\n) AS children ALL INNER JOIN (\n"
      "  SELECT trace_id, span_id AS parent_span_id, any(service) AS parent_service FROM ",
      db, ".spans\n  WHERE date >= ", DateLiteral(first > 0 ? first - 1 : 0),
      " AND date <= ", DateLiteral(last < kLastDay ? last + 1 : last),
      " AND trace_id IN (SELECT trace_id FROM ", db, ".spans WHERE ", in_range,
      ")\n  GROUP BY trace_id, span_id\n) AS parents USING (trace_id, parent_span_id)\n"
      "WHERE parent_service != service\n"
      "GROUP BY parent_service, service ORDER BY parent_service, service FORMAT RowBinary");
}

}  // namespace ariadne::clickhouse
