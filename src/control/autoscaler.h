// Autoscaler: the controller run live inside `ariadne serve`
// (docs/autoscaling.md#in-the-server).
//
// Stored span batches are pushed to a SpanMeter as they arrive. Every
// interval the autoscaler takes the interval's observation and, for each
// managed service, reads its replicas (desired and ready) from the actuator
// when one can read them, asks the Controller for a decision, applies a
// change through the actuator when one may write, and records the decision.
// The decisions are kept (the last `max_decisions`) for GET
// /api/v1/decisions, and the desired replicas per service for the KEDA
// external scaler and /metrics (`ariadne_autoscaler_desired_replicas`, the
// gauge a Prometheus adapter can hand to an HPA).
//
// Managed services: those named in the options, or, when none are named,
// every service seen in SERVER spans (at most `max_services`). A service
// with no spans in an interval is still decided (its rate is 0).
//
// Without an actuator that reads, the autoscaler assumes its decisions are
// followed: current = its last desired (first `initial_replicas`), ready =
// current. That is the case with KEDA alone, and in dry-run mode without a
// cluster. With one, an actuator error (the deployment does not exist, the
// API server is down) skips that service for the interval; the error is
// logged once per change of message, counted on /metrics and kept with the
// service.
//
// Threading: PushSpans and the readers (Decisions, Desired, MetricsText) are
// thread-safe; Step runs on the autoscaler's own thread after Start, or on
// the caller's in tests. Start/Stop from the owning thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "control/controller.h"
#include "control/decision.h"
#include "control/span_meter.h"
#include "model/span_batch.h"

namespace ariadne::control {

// A deployment's replicas as the cluster reports them.
struct ReplicaCounts {
  int32_t desired = 0;  // spec.replicas
  int32_t ready = 0;    // ready pods
};

// Where decisions go. An actuator may read (the cluster's replica counts),
// write (set the desired replicas), or both.
class Actuator {
 public:
  virtual ~Actuator() = default;
  virtual std::string_view name() const = 0;
  virtual bool CanRead() const = 0;
  virtual bool CanWrite() const = 0;
  virtual absl::StatusOr<ReplicaCounts> Read(std::string_view service) = 0;
  virtual absl::Status Write(std::string_view service, int32_t replicas) = 0;
};

class KubeScaleClient;

// The Kubernetes API: reads the deployment (desired and ready replicas) and
// PATCHes its scale subresource, unless `write` is false (KEDA applies the
// decisions; Kubernetes is only read) or the client is in dry-run mode.
class KubeActuator : public Actuator {
 public:
  KubeActuator(KubeScaleClient* client, bool write) : client_(client), write_(write) {}
  std::string_view name() const override { return "kubernetes"; }
  bool CanRead() const override { return true; }
  bool CanWrite() const override { return write_; }
  absl::StatusOr<ReplicaCounts> Read(std::string_view service) override;
  absl::Status Write(std::string_view service, int32_t replicas) override;

 private:
  KubeScaleClient* client_;  // not owned
  bool write_;
};

struct AutoscalerOptions {
  ControllerOptions controller;       // its interval_s is the control interval
  std::vector<std::pair<std::string, int>> services;  // (name, workers); empty: all seen
  int default_workers = 1;
  double startup_delay_s = 30;
  int initial_replicas = 1;           // assumed when nothing reads the cluster
  size_t max_decisions = 20000;       // kept for the API
  size_t max_services = 1000;         // when managing every service seen
};

// "name" or "name:workers" (workers 1-100000), as in the configuration.
absl::StatusOr<std::pair<std::string, int>> ParseManagedService(std::string_view text,
                                                               int default_workers);

class Autoscaler {
 public:
  // `actuator` may be null (decide and record only); not owned.
  Autoscaler(AutoscalerOptions options, Actuator* actuator);
  ~Autoscaler();  // Stop()
  Autoscaler(const Autoscaler&) = delete;
  Autoscaler& operator=(const Autoscaler&) = delete;

  void PushSpans(const model::SpanBatch& batch);

  // One control step at `now_s` (Unix seconds) over the spans pushed since
  // the previous step, `interval_s` long.
  void Step(double now_s, double interval_s);

  // Steps every interval on a thread of its own, until Stop.
  void Start();
  void Stop();

  // Decisions, newest first: those of `service` ("" = all), with `changes_only`
  // only those that changed the replicas, at most `limit`.
  std::vector<Decision> Decisions(std::string_view service, bool changes_only, size_t limit) const;
  // The last desired replicas of a service; NotFound before its first decision.
  absl::StatusOr<int32_t> Desired(std::string_view service) const;
  // Per managed service: the last decision and the last actuator error ("" if none).
  struct ServiceState {
    std::string service;
    std::optional<Decision> last;
    std::string error;
  };
  std::vector<ServiceState> Services() const;

  // ariadne_autoscaler_* series in the Prometheus text format.
  std::string MetricsText() const;

  const AutoscalerOptions& options() const { return options_; }
  std::string actuator_name() const;  // "none" without one

 private:
  struct State {
    int workers = 1;
    bool has_desired = false;
    int32_t desired = 0;
    int32_t ready = 0;
    std::optional<Decision> last;
    std::string error;
    int64_t ups = 0, downs = 0, keeps = 0, errors = 0;
  };
  State* Managed(std::string_view service);  // mu_ held

  const AutoscalerOptions options_;
  Actuator* const actuator_;
  Controller controller_;  // only Step uses it

  mutable std::mutex meter_mu_;
  SpanMeter meter_;

  mutable std::mutex mu_;
  absl::flat_hash_map<std::string, State> states_;
  std::deque<Decision> decisions_;
  int64_t steps_ = 0;
  int64_t ignored_services_ = 0;

  std::mutex run_mu_;
  std::condition_variable run_cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace ariadne::control
