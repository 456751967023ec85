// libFuzzer target: the reading of ClickHouse's answers (clickhouse/response.h)
// on arbitrary bytes. The first byte picks the parser (modulo kParsers), the
// rest is the answer's body:
//   0 version (ParseVersionAnswer, ParseVersionNumbers)
//   1 schema version (ParseSchemaVersionAnswer)
//   2 trace range   3 trace spans   4 trace search   5 services
//   6 operations    7 dependencies (the RowBinary answers)
//   8 an exception answer (ClickHouseErrorCode, ClickHouseError)
// Each must answer a value or an error with a message, never crash, and
// answer the same twice. Values are self-consistent: RowBinary rows written
// back (row_binary.h) read back to the same rows and take no more bytes than
// the body (exactly the body where the format has one spelling); numbers
// printed back read back the same; kinds are OTLP kinds. An exception answer
// is never OK and its Status agrees with the code found in the text.
//
// The fuzz build compiles response.cc alone (test/fuzz/CMakeLists.txt),
// without the rest of the ClickHouse backend.
//
// Threading: single-threaded, as libFuzzer calls it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "clickhouse/client.h"
#include "clickhouse/response.h"
#include "clickhouse/row_binary.h"

namespace {

using namespace ariadne::clickhouse;  // NOLINT: a test's own file

constexpr uint8_t kParsers = 9;

void Check(bool ok) {
  if (!ok) std::abort();
}

// A malformed answer is Internal, with a message.
void CheckMalformed(const absl::Status& s, const absl::Status& again) {
  Check(!s.ok() && s.code() == absl::StatusCode::kInternal);
  Check(absl::StartsWith(s.message(), "clickhouse: malformed "));
  Check(s == again);
}

// Rows of a RowBinary answer: written back, they must read back to the same
// rows (bytes are equal where every value has one spelling; a length may be
// spelled longer than needed, so the rewrite is never longer than the body).
template <typename Parse, typename Write>
void CheckRows(std::string_view body, Parse parse, Write write, bool one_spelling) {
  const auto rows = parse(body);
  const auto again = parse(body);
  if (!rows.ok()) {
    CheckMalformed(rows.status(), again.status());
    return;
  }
  Check(again.ok() && *rows == *again);
  Check(rows->size() <= body.size());  // every row takes at least a byte
  std::string rewritten;
  RowBinaryWriter w(&rewritten);
  for (const auto& row : *rows) write(w, row);
  Check(rewritten.size() <= body.size());
  if (one_spelling) Check(rewritten == body);
  const auto reread = parse(rewritten);
  Check(reread.ok() && *reread == *rows);
}

void Version(std::string_view body) {
  const std::string text = ParseVersionAnswer(body);
  Check(text == ParseVersionAnswer(body));
  Check(body.substr(0, text.size()) == text);
  Check(text.empty() || (text.back() != '\n' && text.back() != '\r'));
  for (char c : body.substr(text.size())) Check(c == '\n' || c == '\r');
  const auto v = ParseVersionNumbers(text);
  const auto again = ParseVersionNumbers(text);
  Check(v.ok() == again.ok());
  if (!v.ok()) {
    Check(v.status().code() == absl::StatusCode::kInvalidArgument);
    Check(!v.status().message().empty() && v.status() == again.status());
    return;
  }
  Check(v->major >= 0 && v->minor >= 0);
  Check(v->major == again->major && v->minor == again->minor);
  const auto printed = ParseVersionNumbers(absl::StrCat(v->major, ".", v->minor, ".1"));
  Check(printed.ok() && printed->major == v->major && printed->minor == v->minor);
}

void SchemaVersion(std::string_view body) {
  const auto v = ParseSchemaVersionAnswer(body);
  const auto again = ParseSchemaVersionAnswer(body);
  if (!v.ok()) {
    CheckMalformed(v.status(), again.status());
    return;
  }
  Check(again.ok() && *v == *again);
  const auto printed = ParseSchemaVersionAnswer(absl::StrCat(*v, "\n"));
  Check(printed.ok() && *printed == *v);
}

void ErrorAnswer(std::string_view body) {
  const int code = ClickHouseErrorCode(body);
  Check(code == ClickHouseErrorCode(body));
  Check(code == -1 || body.find("Code: ") != std::string_view::npos);
  for (int http_status : {400, 404, 429, 500, 502, 503, 504}) {
    const absl::Status s = ClickHouseError(http_status, body, "SELECT 1");
    Check(!s.ok() && s == ClickHouseError(http_status, body, "SELECT 1"));
    Check(absl::StartsWith(s.message(), absl::StrCat("clickhouse SELECT 1: HTTP ", http_status)));
    if (code >= 0) Check(absl::StrContains(s.message(), absl::StrCat(", code ", code, ": ")));
    const bool retryable = absl::EndsWith(s.message(), " (retryable)");
    if (s.code() == absl::StatusCode::kUnavailable) Check(retryable);
    if (code == 60 || code == 81) Check(s.code() == absl::StatusCode::kNotFound);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % kParsers) {
    case 0:
      Version(body);
      break;
    case 1:
      SchemaVersion(body);
      break;
    case 2: {
      const auto range = ParseTraceRange(body);
      const auto again = ParseTraceRange(body);
      if (!range.ok()) {
        CheckMalformed(range.status(), again.status());
        break;
      }
      Check(again.ok() && range->first_day == again->first_day &&
            range->last_day == again->last_day && range->rows == again->rows);
      std::string rewritten;
      RowBinaryWriter w(&rewritten);
      w.UInt16(range->first_day);
      w.UInt16(range->last_day);
      w.UInt64(range->rows);
      Check(rewritten == body);
      break;
    }
    case 3: {
      const auto request = ParseTraceSpans(body);
      const auto again = ParseTraceSpans(body);
      if (!request.ok()) {
        CheckMalformed(request.status(), again.status());
        break;
      }
      Check(again.ok() && *request == *again);
      Check(request->size() <= body.size());
      // The blobs joined, as one row, read back the same.
      std::string one_row;
      RowBinaryWriter(&one_row).String(*request);
      const auto reread = ParseTraceSpans(one_row);
      Check(reread.ok() && *reread == *request);
      break;
    }
    case 4:
      CheckRows(
          body, ParseFindTraces,
          [](RowBinaryWriter& w, const auto& row) {
            w.Fixed(row.second.data(), row.second.size());
            w.UInt64(row.first);
          },
          /*one_spelling=*/true);
      break;
    case 5:
      CheckRows(
          body, ParseServices, [](RowBinaryWriter& w, const std::string& s) { w.String(s); },
          /*one_spelling=*/false);
      break;
    case 6: {
      const auto ops = ParseOperations(body);
      if (ops.ok()) {
        for (const auto& op : *ops) Check(op.kind <= ariadne::model::SpanKind::kConsumer);
      }
      CheckRows(
          body, ParseOperations,
          [](RowBinaryWriter& w, const ariadne::store::Operation& op) {
            w.String(op.name);
            w.UInt8(static_cast<uint8_t>(op.kind));
          },
          /*one_spelling=*/false);
      break;
    }
    case 7: {
      // Dependency has no operator==: compare as tuples.
      auto parse = [](std::string_view b)
          -> absl::StatusOr<std::vector<std::tuple<std::string, std::string, uint64_t>>> {
        auto deps = ParseDependencies(b);
        if (!deps.ok()) return deps.status();
        std::vector<std::tuple<std::string, std::string, uint64_t>> out;
        for (auto& d : *deps) out.emplace_back(std::move(d.parent), std::move(d.child), d.call_count);
        return out;
      };
      CheckRows(
          body, parse,
          [](RowBinaryWriter& w, const auto& row) {
            w.String(std::get<0>(row));
            w.String(std::get<1>(row));
            w.UInt64(std::get<2>(row));
          },
          /*one_spelling=*/false);
      break;
    }
    case 8:
      ErrorAnswer(body);
      break;
  }
  return 0;
}
