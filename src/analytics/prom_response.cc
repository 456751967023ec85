// ParseQueryRangeResponse (prom_client.h): the JSON answers of Prometheus'
// /api/v1/query_range and /api/v1/query, read with simdjson's DOM.
//
// The shape (https://prometheus.io/docs/prometheus/latest/querying/api/):
//   {"status":"success","data":{"resultType":"matrix","result":[
//      {"metric":{"__name__":"up","job":"x"},"values":[[1700000000.123,"1"],...]}]}}
//   {"status":"success","data":{"resultType":"vector","result":[
//      {"metric":{...},"value":[1700000000.123,"1"]}]}}
//   {"status":"error","errorType":"bad_data","error":"parse error ..."}
// Sample values are strings: a Go float ("1.5", "1e+06"), "NaN", "+Inf" or
// "-Inf". This file has no I/O, so the fuzz build compiles it alone.
//
// Threading: a pure function; each call has its own parser.
#include <simdjson.h>

#include <charconv>
#include <cmath>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/cord.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "analytics/prom_client.h"
#include "common/strings.h"

namespace ariadne::analytics {

namespace {

namespace dom = simdjson::dom;

// Longest piece of the input quoted in an error message.
constexpr size_t kQuotedBytes = 40;

std::string Quote(std::string_view s) {
  std::string out = "\"";
  out += absl::CHexEscape(AbslView(s.substr(0, kQuotedBytes)));
  if (s.size() > kQuotedBytes) out += "...";
  out += '"';
  return out;
}

std::string_view TypeName(dom::element e) {
  switch (e.type()) {
    case dom::element_type::ARRAY:
      return "an array";
    case dom::element_type::OBJECT:
      return "an object";
    case dom::element_type::INT64:
    case dom::element_type::UINT64:
    case dom::element_type::DOUBLE:
      return "a number";
    case dom::element_type::STRING:
      return "a string";
    case dom::element_type::BOOL:
      return "a boolean";
    case dom::element_type::NULL_VALUE:
      return "null";
  }
  return "of an unknown type";
}

absl::Status Invalid(std::string_view path, std::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid Prometheus response: ", AbslView(path), ": ", AbslView(what)));
}

absl::Status WrongType(std::string_view path, std::string_view expected, dom::element e) {
  return Invalid(path,
                 absl::StrCat("must be ", AbslView(expected), ", not ", AbslView(TypeName(e))));
}

absl::Status Missing(std::string_view path, std::string_view field) {
  return Invalid(path, absl::StrCat("missing field \"", AbslView(field), "\""));
}

// The field `name` of `object` into *out; false if absent.
bool Field(dom::object object, std::string_view name, dom::element* out) {
  return object.at_key(name).get(*out) == simdjson::SUCCESS;
}

// A sample value as Prometheus formats it (Go's strconv.FormatFloat, or
// "NaN", "+Inf", "-Inf").
bool ParseValue(std::string_view s, double* out) {
  if (s == "NaN") {
    *out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  if (s == "+Inf" || s == "Inf") {
    *out = std::numeric_limits<double>::infinity();
    return true;
  }
  if (s == "-Inf") {
    *out = -std::numeric_limits<double>::infinity();
    return true;
  }
  if (s.empty()) return false;
  double v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return false;
  *out = v;
  return true;
}

// [<unix seconds>, "<value>"]
absl::Status ParseSample(dom::element e, const std::string& path, std::pair<double, double>* out) {
  dom::array pair;
  if (e.get_array().get(pair) != simdjson::SUCCESS) {
    return WrongType(path, "an array [time, \"value\"]", e);
  }
  if (pair.size() != 2) {
    return Invalid(path, absl::StrCat("must be [time, \"value\"], not an array of ", pair.size(),
                                      " elements"));
  }
  dom::element time;
  dom::element value;
  if (pair.at(0).get(time) != simdjson::SUCCESS || pair.at(1).get(value) != simdjson::SUCCESS) {
    return Invalid(path, "unreadable array");  // size() said 2; not expected
  }
  double t = 0;
  if (time.get_double().get(t) != simdjson::SUCCESS) {
    return WrongType(absl::StrCat(path, "[0]"), "a number (unix seconds)", time);
  }
  if (!std::isfinite(t)) return Invalid(absl::StrCat(path, "[0]"), "time is not finite");
  std::string_view text;
  if (value.get_string().get(text) != simdjson::SUCCESS) {
    return WrongType(absl::StrCat(path, "[1]"), "a string (the sample value)", value);
  }
  double v = 0;
  if (!ParseValue(text, &v)) {
    return Invalid(absl::StrCat(path, "[1]"), absl::StrCat(Quote(text), " is not a number"));
  }
  *out = {t, v};
  return absl::OkStatus();
}

absl::Status ParseLabels(dom::element e, const std::string& path, Labels* out) {
  dom::object metric;
  if (e.get_object().get(metric) != simdjson::SUCCESS) return WrongType(path, "an object", e);
  for (dom::key_value_pair kv : metric) {
    std::string_view value;
    if (kv.value.get_string().get(value) != simdjson::SUCCESS) {
      return WrongType(absl::StrCat(path, ".", AbslView(kv.key)), "a string", kv.value);
    }
    out->emplace_back(std::string(kv.key), std::string(value));
  }
  SortLabels(out);
  for (size_t i = 1; i < out->size(); ++i) {
    if ((*out)[i - 1].first == (*out)[i].first) {
      return Invalid(path, absl::StrCat("label ", Quote((*out)[i].first), " appears twice"));
    }
  }
  return absl::OkStatus();
}

// One element of data.result.
absl::Status ParseSeries(dom::element e, const std::string& path, bool matrix, PromSeries* out) {
  dom::object series;
  if (e.get_object().get(series) != simdjson::SUCCESS) return WrongType(path, "an object", e);
  dom::element field;
  if (Field(series, "metric", &field)) {
    if (absl::Status s = ParseLabels(field, absl::StrCat(path, ".metric"), &out->labels); !s.ok()) {
      return s;
    }
  }
  dom::element ignored;
  if (matrix) {
    if (!Field(series, "values", &field)) {
      if (Field(series, "histograms", &ignored)) return absl::OkStatus();  // native histograms
      return Missing(path, "values");
    }
    const std::string values_path = absl::StrCat(path, ".values");
    dom::array values;
    if (field.get_array().get(values) != simdjson::SUCCESS) {
      return WrongType(values_path, "an array", field);
    }
    size_t i = 0;
    for (dom::element sample : values) {
      std::pair<double, double> parsed;
      if (absl::Status s = ParseSample(sample, absl::StrCat(values_path, "[", i, "]"), &parsed);
          !s.ok()) {
        return s;
      }
      out->samples.push_back(parsed);
      ++i;
    }
    return absl::OkStatus();
  }
  if (!Field(series, "value", &field)) {
    if (Field(series, "histogram", &ignored)) return absl::OkStatus();  // a native histogram
    return Missing(path, "value");
  }
  std::pair<double, double> parsed;
  if (absl::Status s = ParseSample(field, absl::StrCat(path, ".value"), &parsed); !s.ok()) {
    return s;
  }
  out->samples.push_back(parsed);
  return absl::OkStatus();
}

absl::StatusCode CodeOfErrorType(std::string_view type) {
  if (type == "bad_data") return absl::StatusCode::kInvalidArgument;
  if (type == "timeout") return absl::StatusCode::kDeadlineExceeded;
  if (type == "canceled") return absl::StatusCode::kCancelled;
  if (type == "unavailable") return absl::StatusCode::kUnavailable;
  if (type == "not_found") return absl::StatusCode::kNotFound;
  if (type == "execution" || type == "internal") return absl::StatusCode::kInternal;
  return absl::StatusCode::kUnknown;
}

absl::Status PrometheusError(dom::object root) {
  std::string_view type;
  std::string_view message;
  dom::element field;
  // Absent or not a string: left empty, and the message says so.
  if (Field(root, "errorType", &field) && field.get_string().get(type) != simdjson::SUCCESS) {
    type = {};
  }
  if (Field(root, "error", &field) && field.get_string().get(message) != simdjson::SUCCESS) {
    message = {};
  }
  absl::Status status(
      CodeOfErrorType(type),
      absl::StrCat("Prometheus error ", type.empty() ? "(no errorType)" : AbslView(type), ": ",
                   message.empty() ? "(no message)" : AbslView(message)));
  status.SetPayload(AbslView(kPromErrorTypePayload), absl::Cord(AbslView(type)));
  return status;
}

}  // namespace

absl::StatusOr<std::vector<PromSeries>> ParseQueryRangeResponse(std::string_view body) {
  const simdjson::padded_string padded(body.data(), body.size());
  dom::parser parser;
  dom::element root;
  if (const simdjson::error_code error = parser.parse(padded).get(root);
      error != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(absl::StrCat("invalid Prometheus response: not JSON (",
                                                   simdjson::error_message(error), ")"));
  }
  dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS) {
    return WrongType("the answer", "a JSON object", root);
  }
  dom::element field;
  if (!Field(object, "status", &field)) return Missing("the answer", "status");
  std::string_view status;
  if (field.get_string().get(status) != simdjson::SUCCESS) {
    return WrongType("status", "a string", field);
  }
  if (status == "error") return PrometheusError(object);
  if (status != "success") {
    return Invalid("status", absl::StrCat(Quote(status), " is neither \"success\" nor \"error\""));
  }

  if (!Field(object, "data", &field)) return Missing("the answer", "data");
  dom::object data;
  if (field.get_object().get(data) != simdjson::SUCCESS) {
    return WrongType("data", "an object", field);
  }
  if (!Field(data, "resultType", &field)) return Missing("data", "resultType");
  std::string_view result_type;
  if (field.get_string().get(result_type) != simdjson::SUCCESS) {
    return WrongType("data.resultType", "a string", field);
  }
  const bool matrix = result_type == "matrix";
  if (!matrix && result_type != "vector") {
    return Invalid("data.resultType", absl::StrCat(Quote(result_type),
                                                   " is not supported (expected \"matrix\" or "
                                                   "\"vector\")"));
  }
  if (!Field(data, "result", &field)) return Missing("data", "result");
  std::vector<PromSeries> out;
  if (field.is_null()) return out;  // Go's nil slice: no series
  dom::array result;
  if (field.get_array().get(result) != simdjson::SUCCESS) {
    return WrongType("data.result", "an array", field);
  }
  size_t i = 0;
  for (dom::element e : result) {
    PromSeries series;
    if (absl::Status s = ParseSeries(e, absl::StrCat("data.result[", i, "]"), matrix, &series);
        !s.ok()) {
      return s;
    }
    out.push_back(std::move(series));
    ++i;
  }
  return out;
}

}  // namespace ariadne::analytics
