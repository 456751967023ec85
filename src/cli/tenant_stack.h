// What `ariadne serve` keeps per tenant (docs/security.md#tenants), and the
// parts of it the single-tenant server shares.
//
//  - EmbeddedParts: the write-ahead log, head, blocks and flusher of one
//    data directory, with the Ingester that is their SpanSink.
//  - Analysis: analytics → detection → incidents → root causes.
//  - TenantStack: both, plus a QueryApi that sees only them.
//  - TenantRegistry: the tenants of a server started with tenants.enabled,
//    each under <data_dir>/tenants/<id>; opened at start for the ones on
//    disk, and on first ingest for new ones (at most tenants.max).
//  - TenantQueryRouter: the query listener's handler with tenants: the
//    probes, /metrics and the UI's files are the server's; every /api/ path
//    goes to the tenant the tenant header names (a tenant that never sent a
//    span sees an empty store).
//
// Isolation is by construction: a tenant's spans only reach its own log and
// head, its analytics only see its own batches, and its QueryApi only holds
// pointers to its own store, series, incidents (and the autoscaler, for the
// one tenant it works for).
//
// Threading: TenantRegistry's methods may be called from any thread; a
// TenantStack is opened, started and stopped by the registry.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "analytics/analytics.h"
#include "cli/config.h"
#include "detect/detection.h"
#include "detect/incidents.h"
#include "detect/notify.h"
#include "detect/root_cause.h"
#include "query/api.h"
#include "receive/ingest.h"
#include "serve/http_server.h"
#include "store/block_set.h"
#include "store/embedded.h"
#include "store/flusher.h"
#include "store/head.h"
#include "wal/wal.h"

namespace ariadne::control {
class Autoscaler;
}

namespace ariadne::cli {

using Executor = std::function<void(std::function<void()>)>;

struct EmbeddedParts {
  std::unique_ptr<wal::Wal> log;
  std::unique_ptr<store::BlockSet> blocks;
  std::unique_ptr<store::Head> head;
  std::unique_ptr<store::EmbeddedStore> store;
  std::unique_ptr<receive::Ingester> ingester;
  std::unique_ptr<store::Flusher> flusher;
};

// Opens the log and blocks under `dir` (created if missing) with `config`'s
// settings. Ingest is refused while `head_bytes_in_use` (the head's own size
// if empty) is at `max_head_bytes`.
absl::StatusOr<EmbeddedParts> OpenEmbedded(const ServerConfig& config, const std::string& dir,
                                           Executor post_to_io, uint64_t max_head_bytes,
                                           std::function<uint64_t()> head_bytes_in_use = {});

// Replays the log into the head, skipping what the blocks already cover.
absl::Status ReplayEmbedded(EmbeddedParts& parts);

// Prometheus text for the log, head and blocks of `parts`.
std::string EmbeddedMetricsText(const EmbeddedParts& parts, uint64_t max_head_bytes);

struct Analysis {
  std::unique_ptr<detect::IncidentManager> incidents;  // detection calls it
  std::unique_ptr<detect::Detection> detection;        // outlives analytics, which calls it
  std::unique_ptr<analytics::Analytics> analytics;
  std::unique_ptr<detect::RootCauseRanker> root_causes;  // reads incidents, the store, series

  void Start();
  void Stop();
  std::string MetricsText() const;
};

// Analytics and everything that stands on it, reading `backend` for root
// causes; incidents go to `notifier` (may be null) with a "tenant" label
// when `tenant` is not empty. The root-cause ranker is started; analytics
// waits for Start().
Analysis BuildAnalysis(const ServerConfig& config, const store::StorageBackend* backend,
                       detect::Notifier* notifier, const std::string& tenant);

class TenantStack {
 public:
  const std::string& id() const { return id_; }
  receive::SpanSink* sink() { return parts_.ingester.get(); }
  query::QueryApi* api() { return api_.get(); }
  const EmbeddedParts& parts() const { return parts_; }
  Analysis& analysis() { return analysis_; }

 private:
  friend class TenantRegistry;
  std::string id_;
  EmbeddedParts parts_;
  Analysis analysis_;  // reads parts_
  std::unique_ptr<query::QueryApi> api_;
};

struct TenantRegistryOptions {
  const ServerConfig* config = nullptr;
  Executor post_to_io;
  uint64_t max_head_bytes = 0;  // over every tenant's head together
  detect::Notifier* notifier = nullptr;
  // The autoscaler and the tenant it works for (config->autoscaler_tenant).
  control::Autoscaler* autoscaler = nullptr;
  const query::StaticFiles* ui = nullptr;
  std::function<uint64_t()> now_nanos;
};

class TenantRegistry {
 public:
  explicit TenantRegistry(TenantRegistryOptions options);
  ~TenantRegistry();  // StopAll()s

  // Opens (and replays) every tenant found under <data_dir>/tenants.
  absl::Status OpenExisting();
  // Starts the tenants opened so far and every later one.
  void StartAll();
  void StopAll();

  // The tenant's stack, opened (and started, after StartAll) if new.
  // InvalidArgument for a bad or missing id, ResourceExhausted past
  // tenants.max, Unavailable if its directory cannot be opened.
  absl::StatusOr<TenantStack*> GetOrOpen(std::string_view id);
  // The tenant's stack if it exists, else null; never opens one.
  TenantStack* Find(std::string_view id);

  size_t size();
  uint64_t HeadBytes();
  // Every tenant's storage and analytics metrics, labelled tenant="<id>".
  std::string MetricsText();
  // An empty view for a tenant without data, and its store.
  query::QueryApi* empty_api() { return empty_api_.get(); }
  const store::StorageBackend* empty_store() const { return empty_store_.get(); }

 private:
  absl::StatusOr<std::unique_ptr<TenantStack>> Open(const std::string& id);
  void StartOne(TenantStack& t);

  const TenantRegistryOptions options_;
  std::unique_ptr<store::StorageBackend> empty_store_;
  std::unique_ptr<query::QueryApi> empty_api_;
  absl::Mutex mu_;
  // Stacks are never removed while the server runs, so a pointer handed out
  // stays valid until StopAll.
  absl::flat_hash_map<std::string, std::unique_ptr<TenantStack>> tenants_ ABSL_GUARDED_BY(mu_);
  std::vector<TenantStack*> order_ ABSL_GUARDED_BY(mu_);
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

// The query listener's handler with tenants (see the top of this file).
class TenantQueryRouter : public serve::HttpHandler {
 public:
  // `server` answers the probes, /metrics and the UI's files.
  TenantQueryRouter(query::QueryApi* server, TenantRegistry* tenants, std::string header)
      : server_(server), tenants_(tenants), header_(std::move(header)) {}
  void Handle(serve::HttpRequest request, serve::Responder respond) override;
  serve::HttpResponse ErrorResponse(int status, std::string message,
                                    std::string_view request_content_type) override {
    return server_->ErrorResponse(status, std::move(message), request_content_type);
  }

 private:
  query::QueryApi* const server_;
  TenantRegistry* const tenants_;
  const std::string header_;
};

}  // namespace ariadne::cli
