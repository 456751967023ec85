#include "cli/query_command.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <ctime>
#include <map>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace ariadne::cli {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

namespace {

std::string UrlEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

// GET http://host:port/target; returns the body of a 2xx answer, or the
// server's error message.
absl::StatusOr<std::string> HttpGet(const std::string& server, const std::string& target) {
  std::string_view rest = server;
  if (rest.substr(0, 7) == "http://") rest.remove_prefix(7);
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  const size_t colon = rest.rfind(':');
  const std::string host(rest.substr(0, colon));
  const std::string port(colon == std::string_view::npos ? "80" : rest.substr(colon + 1));
  try {
    boost::asio::io_context io;
    tcp::resolver resolver(io);
    beast::tcp_stream stream(io);
    stream.expires_after(std::chrono::seconds(30));
    stream.connect(resolver.resolve(host, port));
    http::request<http::empty_body> req(http::verb::get, target, 11);
    req.set(http::field::host, host);
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(1ull << 30);
    http::read(stream, buffer, parser);
    auto res = parser.release();
    beast::error_code ignored;  // closing after a complete read
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    if (res.result_int() / 100 != 2) {
      return absl::UnavailableError(
          absl::StrCat("server answered ", res.result_int(), ": ", res.body()));
    }
    return std::move(res.body());
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("cannot query ", server, ": ", e.what()));
  }
}

std::string FormatDuration(double micros) {
  char buf[32];
  if (micros >= 1e6) {
    snprintf(buf, sizeof(buf), "%.2fs", micros / 1e6);
  } else if (micros >= 1e3) {
    snprintf(buf, sizeof(buf), "%.2fms", micros / 1e3);
  } else {
    snprintf(buf, sizeof(buf), "%.0fus", micros);
  }
  return buf;
}

std::string FormatTime(uint64_t micros) {
  const time_t seconds = static_cast<time_t>(micros / 1000000);
  struct tm tm;
  gmtime_r(&seconds, &tm);
  char buf[40];
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  return absl::StrCat(buf, ".", absl::Dec(micros / 1000 % 1000, absl::kZeroPad3), "Z");
}

struct SpanView {
  std::string id, parent, service, operation;
  uint64_t start = 0, duration = 0;
  bool error = false;
};

// The spans of one Jaeger-model trace object.
std::vector<SpanView> SpansOf(const rapidjson::Value& trace) {
  std::map<std::string, std::string> services;
  if (trace.HasMember("processes") && trace["processes"].IsObject()) {
    for (auto& p : trace["processes"].GetObject()) {
      if (p.value.HasMember("serviceName") && p.value["serviceName"].IsString()) {
        services[p.name.GetString()] = p.value["serviceName"].GetString();
      }
    }
  }
  std::vector<SpanView> out;
  if (!trace.HasMember("spans") || !trace["spans"].IsArray()) return out;
  for (const auto& s : trace["spans"].GetArray()) {
    SpanView v;
    if (s.HasMember("spanID") && s["spanID"].IsString()) v.id = s["spanID"].GetString();
    if (s.HasMember("operationName") && s["operationName"].IsString()) {
      v.operation = s["operationName"].GetString();
    }
    if (s.HasMember("startTime") && s["startTime"].IsUint64()) v.start = s["startTime"].GetUint64();
    if (s.HasMember("duration") && s["duration"].IsUint64()) v.duration = s["duration"].GetUint64();
    if (s.HasMember("processID") && s["processID"].IsString()) {
      v.service = services[s["processID"].GetString()];
    }
    if (s.HasMember("references") && s["references"].IsArray()) {
      for (const auto& r : s["references"].GetArray()) {
        if (r.HasMember("refType") && r["refType"] == "CHILD_OF" && r.HasMember("spanID")) {
          v.parent = r["spanID"].GetString();
          break;
        }
      }
    }
    if (s.HasMember("tags") && s["tags"].IsArray()) {
      for (const auto& t : s["tags"].GetArray()) {
        if (t.HasMember("key") && t["key"] == "error" && t.HasMember("value") &&
            t["value"].IsBool() && t["value"].GetBool()) {
          v.error = true;
        }
      }
    }
    out.push_back(std::move(v));
  }
  return out;
}

void PrintTree(const std::vector<SpanView>& spans, const std::string& parent, int depth,
               std::map<std::string, std::vector<const SpanView*>>& children, uint64_t t0) {
  for (const SpanView* s : children[parent]) {
    std::printf("%*s%s %s: %s  [+%s]%s\n", depth * 2, "", FormatDuration(s->duration).c_str(),
                s->service.c_str(), s->operation.c_str(),
                FormatDuration(static_cast<double>(s->start - t0)).c_str(),
                s->error ? "  ERROR" : "");
    if (depth < 200) PrintTree(spans, s->id, depth + 1, children, t0);
  }
}

absl::StatusOr<rapidjson::Document> GetJson(const std::string& server, const std::string& target) {
  auto body = HttpGet(server, target);
  if (!body.ok()) return body.status();
  rapidjson::Document doc;
  doc.Parse(body->data(), body->size());
  if (doc.HasParseError() || !doc.IsObject()) {
    return absl::InternalError("the server's answer is not JSON");
  }
  return doc;
}

}  // namespace

int RunQueryTrace(const QueryCommand& c) {
  auto doc = GetJson(c.server, "/api/traces/" + UrlEncode(c.trace_id));
  if (!doc.ok()) {
    std::fprintf(stderr, "ariadne query: %s\n", std::string(doc.status().message()).c_str());
    return 1;
  }
  if (!(*doc).HasMember("data") || !(*doc)["data"].IsArray() || (*doc)["data"].Empty()) {
    std::fprintf(stderr, "ariadne query: trace %s not found\n", c.trace_id.c_str());
    return 1;
  }
  auto spans = SpansOf((*doc)["data"][0]);
  std::map<std::string, const SpanView*> by_id;
  for (const auto& s : spans) by_id[s.id] = &s;
  std::map<std::string, std::vector<const SpanView*>> children;
  uint64_t t0 = UINT64_MAX;
  for (const auto& s : spans) {
    // A span whose parent is missing is shown as a root.
    children[by_id.count(s.parent) ? s.parent : ""].push_back(&s);
    t0 = std::min(t0, s.start);
  }
  for (auto& [parent, list] : children) {
    std::sort(list.begin(), list.end(),
              [](const SpanView* a, const SpanView* b) { return a->start < b->start; });
  }
  std::printf("trace %s: %zu spans, started %s\n", c.trace_id.c_str(), spans.size(),
              FormatTime(t0).c_str());
  PrintTree(spans, "", 0, children, t0);
  return 0;
}

int RunQuerySearch(const QueryCommand& c) {
  std::string target = absl::StrCat("/api/traces?limit=", c.limit);
  if (!c.service.empty()) absl::StrAppend(&target, "&service=", UrlEncode(c.service));
  if (!c.operation.empty()) absl::StrAppend(&target, "&operation=", UrlEncode(c.operation));
  for (const auto& t : c.tags) {
    std::string tag = t;
    if (size_t eq = tag.find('='); eq != std::string::npos) tag[eq] = ':';
    absl::StrAppend(&target, "&tag=", UrlEncode(tag));
  }
  if (!c.min_duration.empty()) absl::StrAppend(&target, "&minDuration=", UrlEncode(c.min_duration));
  if (!c.max_duration.empty()) absl::StrAppend(&target, "&maxDuration=", UrlEncode(c.max_duration));
  if (!c.lookback.empty()) absl::StrAppend(&target, "&lookback=", UrlEncode(c.lookback));
  auto doc = GetJson(c.server, target);
  if (!doc.ok()) {
    std::fprintf(stderr, "ariadne query: %s\n", std::string(doc.status().message()).c_str());
    return 1;
  }
  std::printf("%-32s  %-24s  %-30s  %6s  %10s  %s\n", "TRACE ID", "START (UTC)", "ROOT", "SPANS",
              "DURATION", "ERRORS");
  size_t n = 0;
  if ((*doc).HasMember("data") && (*doc)["data"].IsArray()) {
    for (const auto& trace : (*doc)["data"].GetArray()) {
      auto spans = SpansOf(trace);
      if (spans.empty()) continue;
      uint64_t t0 = UINT64_MAX, t1 = 0;
      int errors = 0;
      const SpanView* root = &spans[0];
      for (const auto& s : spans) {
        t0 = std::min(t0, s.start);
        t1 = std::max(t1, s.start + s.duration);
        errors += s.error;
        if (s.parent.empty() && s.start <= root->start) root = &s;
      }
      const std::string id = trace.HasMember("traceID") && trace["traceID"].IsString()
                                 ? trace["traceID"].GetString()
                                 : "";
      const std::string name = absl::StrCat(root->service, ": ", root->operation);
      std::printf("%-32s  %-24s  %-30.30s  %6zu  %10s  %d\n", id.c_str(), FormatTime(t0).c_str(),
                  name.c_str(), spans.size(), FormatDuration(static_cast<double>(t1 - t0)).c_str(),
                  errors);
      ++n;
    }
  }
  std::printf("%zu traces\n", n);
  return 0;
}

}  // namespace ariadne::cli
