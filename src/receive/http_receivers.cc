#include "receive/http_receivers.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <protozero/pbf_writer.hpp>

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "receive/gzip.h"

namespace ariadne::receive {

using serve::HttpRequest;
using serve::HttpResponse;
using serve::Responder;

std::string EncodeExportResponse(int64_t rejected_spans, std::string_view error_message) {
  std::string out;
  if (rejected_spans == 0 && error_message.empty()) return out;
  protozero::pbf_writer response(out);
  protozero::pbf_writer partial(response, 1);  // partial_success
  if (rejected_spans != 0) partial.add_int64(1, rejected_spans);
  if (!error_message.empty()) partial.add_string(2, error_message.data(), error_message.size());
  return out;
}

std::string EncodeRpcStatus(int code, std::string_view message) {
  std::string out;
  protozero::pbf_writer status(out);
  if (code != 0) status.add_int32(1, code);
  if (!message.empty()) status.add_string(2, message.data(), message.size());
  return out;
}

std::string EncodeRpcStatusWithRetryInfo(int code, std::string_view message, double delay_s) {
  std::string out = EncodeRpcStatus(code, message);
  std::string retry_info;
  {
    protozero::pbf_writer info(retry_info);
    protozero::pbf_writer delay(info, 1);  // retry_delay: google.protobuf.Duration
    const double whole = delay_s < 0 ? 0 : delay_s;
    const auto seconds = static_cast<int64_t>(whole);
    const auto nanos = static_cast<int32_t>((whole - static_cast<double>(seconds)) * 1e9);
    if (seconds != 0) delay.add_int64(1, seconds);
    if (nanos != 0) delay.add_int32(2, nanos);
  }
  protozero::pbf_writer status(out);
  protozero::pbf_writer any(status, 3);  // details: google.protobuf.Any
  constexpr std::string_view kType = "type.googleapis.com/google.rpc.RetryInfo";
  any.add_string(1, kType.data(), kType.size());
  any.add_bytes(2, retry_info.data(), retry_info.size());
  return out;
}

absl::StatusOr<SpanSink*> RouteBatch(SpanSink* own, const ReceiverOptions& options,
                                     std::string_view tenant, size_t spans,
                                     IngestCounters& counters, double* retry_after_s) {
  SpanSink* sink = own;
  // A request without spans has nothing to store: it creates no tenant.
  if (options.route && spans > 0) {
    auto routed = options.route(tenant);
    if (!routed.ok()) {
      counters.unknown_tenant_requests.fetch_add(1, std::memory_order_relaxed);
      counters.refused_requests.fetch_add(1, std::memory_order_relaxed);
      return routed.status();
    }
    sink = *routed;
  }
  if (options.rate_limiter != nullptr && spans > 0 &&
      !options.rate_limiter->TryTake(tenant, static_cast<double>(spans), retry_after_s)) {
    counters.rate_limited_requests.fetch_add(1, std::memory_order_relaxed);
    counters.refused_requests.fetch_add(1, std::memory_order_relaxed);
    return absl::ResourceExhaustedError(absl::StrCat(
        tenant.empty() ? std::string("the server") : absl::StrCat("tenant \"", AbslView(tenant), "\""),
        " is over its ingest rate limit (limits.spans_per_second)"));
  }
  return sink;
}

int HttpStatusOfRefusal(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    default:
      return 503;
  }
}

namespace {

constexpr int kGrpcInvalidArgument = 3;
constexpr int kGrpcResourceExhausted = 8;
constexpr int kGrpcUnavailable = 14;
constexpr int kGrpcUnauthenticated = 16;

bool IsJson(std::string_view content_type) { return content_type == "application/json"; }

std::string JsonStatus(int code, std::string_view message) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.StartObject();
  w.Key("code");
  w.Int(code);
  w.Key("message");
  w.String(message.data(), static_cast<rapidjson::SizeType>(message.size()));
  w.EndObject();
  return sb.GetString();
}

int GrpcCodeForHttp(int status) {
  switch (status) {
    case 429:
      return kGrpcResourceExhausted;
    case 503:
      return kGrpcUnavailable;
    case 401:  // a missing or invalid bearer token (docs/security.md)
      return kGrpcUnauthenticated;
    default:
      return kGrpcInvalidArgument;
  }
}

HttpResponse PlainText(int status, std::string message) {
  HttpResponse r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::move(message);
  r.body.push_back('\n');
  return r;
}

// The body after Content-Encoding, or the HTTP answer that refuses it.
absl::StatusOr<std::string> Inflate(HttpRequest& request, uint64_t max_bytes, int* http_status) {
  if (request.content_encoding.empty() || request.content_encoding == "identity") {
    return std::move(request.body);
  }
  if (request.content_encoding != "gzip") {
    *http_status = 415;
    return absl::InvalidArgumentError(absl::StrCat("unsupported Content-Encoding \"",
                                                   request.content_encoding,
                                                   "\" (supported: gzip, identity)"));
  }
  auto inflated = Gunzip(request.body, max_bytes);
  if (!inflated.ok()) {
    *http_status = inflated.status().code() == absl::StatusCode::kResourceExhausted ? 413 : 400;
  }
  return inflated;
}

// The HTTP status and Retry-After for an ingest that could not be done.
HttpResponse RefusedByIngest(serve::HttpHandler* handler, const absl::Status& status,
                             std::string_view content_type, double retry_after) {
  const int http = HttpStatusOfRefusal(status);
  if (http == 400 || http == 401) {
    return handler->ErrorResponse(http, std::string(status.message()), content_type);
  }
  HttpResponse r = handler->ErrorResponse(
      http, absl::StrCat("spans could not be stored, retry later: ", status.message()),
      content_type);
  r.headers.emplace_back("Retry-After", std::to_string(std::max<int64_t>(
                                            1, static_cast<int64_t>(std::ceil(retry_after)))));
  return r;
}

}  // namespace

HttpResponse OtlpHttpHandler::ErrorResponse(int status, std::string message,
                                            std::string_view request_content_type) {
  HttpResponse r;
  r.status = status;
  const int code = GrpcCodeForHttp(status);
  if (IsJson(request_content_type) || request_content_type.rfind("application/json", 0) == 0) {
    r.content_type = "application/json";
    r.body = JsonStatus(code, message);
  } else {
    r.content_type = "application/x-protobuf";
    r.body = EncodeRpcStatus(code, message);
  }
  return r;
}

void OtlpHttpHandler::Handle(HttpRequest request, Responder respond) {
  if (request.path != "/v1/traces") {
    respond(PlainText(404, absl::StrCat("no such endpoint ", request.path,
                                        " (OTLP/HTTP traces are POSTed to /v1/traces)")));
    return;
  }
  if (request.method != "POST") {
    HttpResponse r = PlainText(405, "use POST for /v1/traces");
    r.headers.emplace_back("Allow", "POST");
    respond(std::move(r));
    return;
  }
  const bool json = IsJson(request.content_type);
  if (!json && request.content_type != "application/x-protobuf") {
    respond(ErrorResponse(415,
                          absl::StrCat("unsupported Content-Type \"", request.content_type,
                                       "\" (use application/x-protobuf or application/json)"),
                          "application/x-protobuf"));
    return;
  }
  const Protocol protocol = json ? Protocol::kOtlpHttpJson : Protocol::kOtlpHttpProto;
  IngestCounters& counters = ingester_->counters(protocol);
  counters.requests.fetch_add(1, std::memory_order_relaxed);
  int http_status = 400;
  auto body = Inflate(request, options_.max_request_bytes, &http_status);
  if (!body.ok()) {
    counters.malformed_requests.fetch_add(1, std::memory_order_relaxed);
    respond(ErrorResponse(http_status, std::string(body.status().message()), request.content_type));
    return;
  }
  decode::DecodeStats stats;
  auto batch = json ? decode::DecodeOtlpJson(std::move(*body), options_.limits, &stats)
                    : decode::DecodeOtlpProto(std::move(*body), options_.limits, &stats);
  if (!batch.ok()) {
    counters.malformed_requests.fetch_add(1, std::memory_order_relaxed);
    respond(ErrorResponse(400, std::string(batch.status().message()), request.content_type));
    return;
  }
  // The log record is the body itself when every span was kept.
  std::string_view raw;
  if (!json && stats.rejected_spans == 0 && !batch->empty()) raw = batch->raw_input();
  const std::string content_type = request.content_type;
  double retry_after = options_.retry_after_seconds;
  auto sink = RouteBatch(ingester_, options_, request.tenant, batch->size(), counters, &retry_after);
  if (!sink.ok()) {
    respond(RefusedByIngest(this, sink.status(), content_type, retry_after));
    return;
  }
  (*sink)->Submit(
      std::move(*batch), raw,
      [this, respond = std::move(respond), stats, json, content_type,
       &counters](absl::Status status) {
        if (!status.ok()) {
          counters.refused_requests.fetch_add(1, std::memory_order_relaxed);
          respond(RefusedByIngest(this, status, content_type, options_.retry_after_seconds));
          return;
        }
        counters.accepted_spans.fetch_add(stats.accepted_spans, std::memory_order_relaxed);
        counters.rejected_spans.fetch_add(stats.rejected_spans, std::memory_order_relaxed);
        HttpResponse r;
        if (json) {
          r.content_type = "application/json";
          if (stats.rejected_spans == 0) {
            r.body = "{}";
          } else {
            rapidjson::StringBuffer sb;
            rapidjson::Writer<rapidjson::StringBuffer> w(sb);
            w.StartObject();
            w.Key("partialSuccess");
            w.StartObject();
            w.Key("rejectedSpans");
            const std::string rejected = std::to_string(stats.rejected_spans);
            w.String(rejected.c_str());
            w.Key("errorMessage");
            w.String(stats.error_message.data(),
                     static_cast<rapidjson::SizeType>(stats.error_message.size()));
            w.EndObject();
            w.EndObject();
            r.body = sb.GetString();
          }
        } else {
          r.content_type = "application/x-protobuf";
          r.body = EncodeExportResponse(stats.rejected_spans, stats.error_message);
        }
        respond(std::move(r));
      });
}

void ZipkinHandler::Handle(HttpRequest request, Responder respond) {
  if (request.path != "/api/v2/spans") {
    respond(PlainText(404, absl::StrCat("no such endpoint ", request.path,
                                        " (Zipkin v2 spans are POSTed to /api/v2/spans)")));
    return;
  }
  if (request.method != "POST") {
    HttpResponse r = PlainText(405, "use POST for /api/v2/spans");
    r.headers.emplace_back("Allow", "POST");
    respond(std::move(r));
    return;
  }
  if (!request.content_type.empty() && request.content_type != "application/json") {
    respond(PlainText(415, absl::StrCat("unsupported Content-Type \"", request.content_type,
                                        "\" (Zipkin v2 JSON: use application/json)")));
    return;
  }
  IngestCounters& counters = ingester_->counters(Protocol::kZipkin);
  counters.requests.fetch_add(1, std::memory_order_relaxed);
  int http_status = 400;
  auto body = Inflate(request, options_.max_request_bytes, &http_status);
  if (!body.ok()) {
    counters.malformed_requests.fetch_add(1, std::memory_order_relaxed);
    respond(PlainText(http_status, std::string(body.status().message())));
    return;
  }
  decode::DecodeStats stats;
  auto batch = decode::DecodeZipkinJson(std::move(*body), options_.limits, &stats);
  if (!batch.ok()) {
    counters.malformed_requests.fetch_add(1, std::memory_order_relaxed);
    respond(PlainText(400, std::string(batch.status().message())));
    return;
  }
  if (batch->empty() && stats.rejected_spans > 0) {
    counters.rejected_spans.fetch_add(stats.rejected_spans, std::memory_order_relaxed);
    respond(PlainText(400, absl::StrCat("all ", stats.rejected_spans,
                                        " spans were rejected: ", stats.error_message)));
    return;
  }
  double retry_after = options_.retry_after_seconds;
  auto sink = RouteBatch(ingester_, options_, request.tenant, batch->size(), counters, &retry_after);
  if (!sink.ok()) {
    const int http = HttpStatusOfRefusal(sink.status());
    HttpResponse r = PlainText(http, std::string(sink.status().message()));
    if (http == 429 || http == 503) {
      r.headers.emplace_back("Retry-After", std::to_string(std::max<int64_t>(
                                                1, static_cast<int64_t>(std::ceil(retry_after)))));
    }
    respond(std::move(r));
    return;
  }
  (*sink)->Submit(
      std::move(*batch), {},
      [this, respond = std::move(respond), stats, &counters](absl::Status status) {
        if (!status.ok()) {
          counters.refused_requests.fetch_add(1, std::memory_order_relaxed);
          HttpResponse r =
              PlainText(status.code() == absl::StatusCode::kResourceExhausted ? 429 : 503,
                        absl::StrCat("spans could not be stored, retry later: ", status.message()));
          r.headers.emplace_back("Retry-After", std::to_string(options_.retry_after_seconds));
          respond(std::move(r));
          return;
        }
        counters.accepted_spans.fetch_add(stats.accepted_spans, std::memory_order_relaxed);
        counters.rejected_spans.fetch_add(stats.rejected_spans, std::memory_order_relaxed);
        HttpResponse r =
            PlainText(202, stats.rejected_spans == 0
                               ? std::string()
                               : absl::StrCat(stats.rejected_spans,
                                              " spans were rejected: ", stats.error_message));
        if (stats.rejected_spans == 0) r.body.clear();
        respond(std::move(r));
      });
}

}  // namespace ariadne::receive
