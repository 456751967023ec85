// KedaScaler (keda_scaler.h): the generated synchronous service. Unary calls
// ask the source once. StreamIsActive holds its server thread and polls,
// sleeping on a condition variable that Shutdown signals, so a shutdown ends
// every stream at once; a client's cancellation is seen at the next poll.
#include "control/keda_scaler.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/strings.h"
#include "keda/externalscaler.grpc.pb.h"
#include "serve/grpc_tls.h"

namespace ariadne::control {

class KedaServerHolder {
 public:
  std::unique_ptr<grpc::Server> server;
};

namespace {

constexpr char kServiceKey[] = "service";

grpc::Status ToGrpc(const absl::Status& status) {
  // absl::StatusCode and grpc::StatusCode have the same values.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

// `ScaledObject "shop/cart-so"`: for messages.
std::string Describe(const externalscaler::ScaledObjectRef& ref) {
  return absl::StrCat("ScaledObject \"", ref.namespace_(), "/", ref.name(), "\"");
}

}  // namespace

class KedaScaler::Service final : public externalscaler::ExternalScaler::Service {
 public:
  Service(DesiredReplicasSource source, KedaScalerOptions options)
      : source_(std::move(source)), options_(options) {}

  grpc::Status IsActive(grpc::ServerContext*, const externalscaler::ScaledObjectRef* ref,
                        externalscaler::IsActiveResponse* response) override {
    auto desired = Desired(*ref);
    if (!desired.ok()) return ToGrpc(desired.status());
    response->set_result(*desired > 0);
    return grpc::Status::OK;
  }

  grpc::Status GetMetricSpec(grpc::ServerContext*, const externalscaler::ScaledObjectRef* ref,
                             externalscaler::GetMetricSpecResponse* response) override {
    auto service = ServiceName(*ref);
    if (!service.ok()) return ToGrpc(service.status());
    // Checked, so that a ScaledObject naming an unknown service fails when
    // KEDA creates its HPA rather than at every later poll.
    auto desired = Desired(*ref);
    if (!desired.ok()) return ToGrpc(desired.status());
    externalscaler::MetricSpec* spec = response->add_metricspecs();
    spec->set_metricname(MetricName(*service));
    spec->set_targetsize(1);
    spec->set_targetsizefloat(1.0);
    return grpc::Status::OK;
  }

  // The request's metricName is not checked: KEDA may pass it with its own
  // prefix ("s0-..."), and there is only one metric per ScaledObject.
  grpc::Status GetMetrics(grpc::ServerContext*, const externalscaler::GetMetricsRequest* request,
                          externalscaler::GetMetricsResponse* response) override {
    const externalscaler::ScaledObjectRef& ref = request->scaledobjectref();
    auto service = ServiceName(ref);
    if (!service.ok()) return ToGrpc(service.status());
    auto desired = Desired(ref);
    if (!desired.ok()) return ToGrpc(desired.status());
    externalscaler::MetricValue* value = response->add_metricvalues();
    value->set_metricname(MetricName(*service));
    value->set_metricvalue(*desired);
    value->set_metricvaluefloat(static_cast<double>(*desired));
    return grpc::Status::OK;
  }

  grpc::Status StreamIsActive(grpc::ServerContext* context,
                              const externalscaler::ScaledObjectRef* ref,
                              grpc::ServerWriter<externalscaler::IsActiveResponse>* writer) override {
    {
      absl::MutexLock lock(&mu_);
      if (shutting_down_) return ShuttingDown();
      if (open_streams_ >= options_.max_streams) {
        return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                            absl::StrCat("too many open StreamIsActive calls (limit ",
                                         options_.max_streams, "), retry later"));
      }
      ++open_streams_;
    }
    grpc::Status status = Stream(context, *ref, writer);
    absl::MutexLock lock(&mu_);
    --open_streams_;
    return status;
  }

  void BeginShutdown() {
    absl::MutexLock lock(&mu_);
    shutting_down_ = true;  // wakes every stream's wait (a condition below)
  }

  int open_streams() const {
    absl::MutexLock lock(&mu_);
    return open_streams_;
  }

  const KedaScalerOptions& options() const { return options_; }

 private:
  static grpc::Status ShuttingDown() {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the scaler is shutting down");
  }

  grpc::Status Stream(grpc::ServerContext* context, const externalscaler::ScaledObjectRef& ref,
                      grpc::ServerWriter<externalscaler::IsActiveResponse>* writer) {
    std::optional<bool> sent;
    // Bounded: one poll per interval for at most max_stream_duration.
    const int64_t max_polls =
        std::max<int64_t>(1, options_.max_stream_duration / options_.poll_interval);
    for (int64_t poll = 0; poll < max_polls; ++poll) {
      if (context->IsCancelled()) {
        return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by the client");
      }
      auto desired = Desired(ref);
      if (!desired.ok()) return ToGrpc(desired.status());
      const bool active = *desired > 0;
      if (!sent || *sent != active) {
        externalscaler::IsActiveResponse response;
        response.set_result(active);
        if (!writer->Write(response)) {
          return grpc::Status(grpc::StatusCode::CANCELLED, "the client has gone");
        }
        sent = active;
      }
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&shutting_down_),
                           absl::FromChrono(std::chrono::duration_cast<std::chrono::nanoseconds>(
                               options_.poll_interval)));
      if (shutting_down_) return ShuttingDown();
    }
    return grpc::Status::OK;  // KEDA opens a new stream
  }

  // The service a ScaledObject is about.
  absl::StatusOr<std::string> ServiceName(const externalscaler::ScaledObjectRef& ref) const {
    const auto it = ref.scalermetadata().find(kServiceKey);
    if (it != ref.scalermetadata().end()) {
      if (it->second.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(Describe(ref), ": trigger metadata \"service\" is empty"));
      }
      return it->second;
    }
    if (ref.name().empty()) {
      return absl::InvalidArgumentError(
          "no service: set trigger metadata \"service\" (or name the ScaledObject after the "
          "service)");
    }
    return ref.name();
  }

  absl::StatusOr<int32_t> Desired(const externalscaler::ScaledObjectRef& ref) const {
    auto service = ServiceName(ref);
    if (!service.ok()) return service.status();
    auto desired = source_(*service);
    if (desired.status().code() == absl::StatusCode::kNotFound) {
      return absl::NotFoundError(absl::StrCat("no desired replicas for service \"", *service,
                                              "\" (", Describe(ref), "): ",
                                              desired.status().message()));
    }
    if (!desired.ok()) {
      return absl::Status(desired.status().code(),
                          absl::StrCat("desired replicas for service \"", *service, "\" (",
                                       Describe(ref), "): ", desired.status().message()));
    }
    if (*desired < 0) {
      return absl::InternalError(absl::StrCat("desired replicas for service \"", *service,
                                              "\" are negative: ", *desired));
    }
    return *desired;
  }

  const DesiredReplicasSource source_;
  const KedaScalerOptions options_;
  mutable absl::Mutex mu_;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  int open_streams_ ABSL_GUARDED_BY(mu_) = 0;
};

KedaScaler::KedaScaler(DesiredReplicasSource source, KedaScalerOptions options)
    : service_(std::make_unique<Service>(std::move(source), options)),
      server_(std::make_unique<KedaServerHolder>()) {}

KedaScaler::~KedaScaler() { Shutdown(std::chrono::milliseconds(0)); }

std::string KedaScaler::MetricName(std::string_view service) {
  return absl::StrCat("ariadne-desired-replicas-", AbslView(service));
}

absl::Status KedaScaler::Start(const std::string& address) {
  if (started_) return absl::FailedPreconditionError("keda scaler: started before");
  started_ = true;
  const KedaScalerOptions& o = service_->options();
  if (o.poll_interval.count() <= 0 || o.max_stream_duration.count() <= 0 || o.max_streams < 1) {
    return absl::InvalidArgumentError(
        "keda scaler: poll interval and stream duration must be positive, max streams >= 1");
  }
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address, serve::GrpcServerCredentials(o.tls), &port_);
  builder.RegisterService(service_.get());
  server_->server = builder.BuildAndStart();
  if (server_->server == nullptr || port_ == 0) {
    server_->server.reset();
    return absl::UnavailableError(absl::StrCat("keda scaler: cannot listen on ", address));
  }
  return absl::OkStatus();
}

void KedaScaler::Shutdown(std::chrono::milliseconds deadline) {
  if (server_->server == nullptr) return;
  service_->BeginShutdown();
  server_->server->Shutdown(std::chrono::system_clock::now() + deadline);
  server_->server->Wait();
  server_->server.reset();
}

int KedaScaler::OpenStreamsForTest() const { return service_->open_streams(); }

}  // namespace ariadne::control
