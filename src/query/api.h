// The query API on :16686: Jaeger's HTTP API (/api/...) in Jaeger's JSON
// model, Jaeger's stable v3 HTTP API (/api/v3/...) in OTLP/JSON, the
// analytics series (/api/v1/series..., and Jaeger's SPM /api/metrics/...,
// see metrics_api.h), and the operational endpoints /healthz, /readyz and
// /metrics.
//
// Threading: as HttpHandler; reads the store (head and blocks) concurrently with ingest.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "serve/http_server.h"
#include "detect/detection.h"
#include "detect/incidents.h"
#include "store/backend.h"

namespace ariadne::analytics {
class Analytics;
}

namespace ariadne::control {
class Autoscaler;
}

namespace ariadne::query {

class StaticFiles;

struct ApiOptions {
  // Unix nanoseconds now (a clock tests can replace).
  std::function<uint64_t()> now_nanos;
  // Text for /metrics in the Prometheus exposition format.
  std::function<std::string()> metrics_text;
  size_t default_limit = 20;
  size_t max_limit = 10000;
  // The series analytics derives (/api/v1/series, /api/metrics/*) and the
  // service graph (/api/dependencies). Null: analytics is disabled; the
  // series endpoints answer 503 (/api/metrics/* 501, as Jaeger does without
  // a metrics store) and /api/dependencies reads the spans only.
  const analytics::Analytics* analytics = nullptr;
  // Anomalies for GET /api/v1/anomalies; 503 there when null.
  const detect::Detection* detection = nullptr;
  // Incidents for GET /api/v1/incidents; 503 there when null.
  const detect::IncidentManager* incidents = nullptr;
  // The autoscaler, for GET /api/v1/decisions and /api/v1/autoscaler; 503
  // there when null.
  const control::Autoscaler* autoscaler = nullptr;
  // The web UI's files, for GET paths outside the API; null: those are 404.
  const StaticFiles* ui = nullptr;
};

class QueryApi : public serve::HttpHandler {
 public:
  QueryApi(const store::StorageBackend* store, ApiOptions options);

  void Handle(serve::HttpRequest request, serve::Responder respond) override;
  serve::HttpResponse ErrorResponse(int status, std::string message,
                                    std::string_view request_content_type) override;

  // /readyz answers 200 once this is set (after the log has been replayed).
  void SetReady(bool ready) { ready_.store(ready); }

 private:
  serve::HttpResponse Route(const serve::HttpRequest& request);
  serve::HttpResponse Services() const;
  serve::HttpResponse Operations(std::string_view service, std::string_view kind,
                                 bool names_only) const;
  serve::HttpResponse Traces(const serve::HttpRequest& request) const;
  serve::HttpResponse Trace(std::string_view id) const;
  serve::HttpResponse Dependencies(const serve::HttpRequest& request) const;
  serve::HttpResponse Anomalies(const serve::HttpRequest& request) const;
  serve::HttpResponse Incidents(const serve::HttpRequest& request) const;
  serve::HttpResponse CriticalPath(std::string_view id) const;
  serve::HttpResponse Decisions(const serve::HttpRequest& request) const;
  serve::HttpResponse AutoscalerState() const;
  serve::HttpResponse SeriesEndpoint(std::string_view path, const serve::HttpRequest& request) const;
  serve::HttpResponse MetricsEndpoint(std::string_view which,
                                      const serve::HttpRequest& request) const;
  serve::HttpResponse V3Services() const;
  serve::HttpResponse V3Operations(const serve::HttpRequest& request) const;
  serve::HttpResponse V3Traces(const serve::HttpRequest& request) const;
  serve::HttpResponse V3Trace(std::string_view id) const;

  const store::StorageBackend* const head_;  // the store: head and blocks
  const ApiOptions options_;
  std::atomic<bool> ready_{false};
};

}  // namespace ariadne::query
