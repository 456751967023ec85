#include "receive/otlp_grpc.h"

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/resource_quota.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include <chrono>

#include "absl/strings/str_cat.h"
#include "serve/grpc_tls.h"

namespace ariadne::receive {

class GrpcServerHolder {
 public:
  std::unique_ptr<grpc::Server> server;
};

namespace {

// Export calls served at once on one connection (the HTTP/2 setting).
constexpr int kMaxConcurrentStreams = 64;

constexpr char kExportMethod[] = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

grpc::ByteBuffer ToByteBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

// One Export call: read the request, decode, ingest, answer.
class ExportReactor : public grpc::ServerGenericBidiReactor {
 public:
  ExportReactor(SpanSink* ingester, const ReceiverOptions* options, Admission* admission,
                std::string tenant)
      : ingester_(ingester), options_(options), admission_(admission), tenant_(std::move(tenant)) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no request message received"));
      return;
    }
    IngestCounters& counters = ingester_->counters(Protocol::kOtlpGrpc);
    counters.requests.fetch_add(1, std::memory_order_relaxed);
    const uint64_t size = request_.Length();
    if (admission_ != nullptr) {
      if (!admission_->TryAcquire(size)) {
        counters.refused_requests.fetch_add(1, std::memory_order_relaxed);
        const std::string message = "server is overloaded: too much data in flight, retry later";
        Finish(grpc::Status(
            grpc::StatusCode::RESOURCE_EXHAUSTED, message,
            EncodeRpcStatusWithRetryInfo(grpc::StatusCode::RESOURCE_EXHAUSTED, message,
                                         options_->retry_after_seconds)));
        return;
      }
      reserved_ = size;
    }
    std::string body;
    body.reserve(size);
    std::vector<grpc::Slice> slices;
    if (!request_.Dump(&slices).ok()) {
      Done(grpc::Status(grpc::StatusCode::INTERNAL, "cannot read request bytes"));
      return;
    }
    for (const grpc::Slice& s : slices) {
      body.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
    request_.Clear();
    decode::DecodeStats stats;
    auto batch = decode::DecodeOtlpProto(std::move(body), options_->limits, &stats);
    if (!batch.ok()) {
      counters.malformed_requests.fetch_add(1, std::memory_order_relaxed);
      Done(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::string(batch.status().message())));
      return;
    }
    std::string_view raw;
    if (stats.rejected_spans == 0 && !batch->empty()) raw = batch->raw_input();
    double retry_after = options_->retry_after_seconds;
    auto sink = RouteBatch(ingester_, *options_, tenant_, batch->size(), counters, &retry_after);
    if (!sink.ok()) {
      Done(Refusal(sink.status(), retry_after));
      return;
    }
    (*sink)->Submit(std::move(*batch), raw, [this, stats, &counters](absl::Status status) {
      if (!status.ok()) {
        counters.refused_requests.fetch_add(1, std::memory_order_relaxed);
        Done(Refusal(status, options_->retry_after_seconds));
        return;
      }
      counters.accepted_spans.fetch_add(stats.accepted_spans, std::memory_order_relaxed);
      counters.rejected_spans.fetch_add(stats.rejected_spans, std::memory_order_relaxed);
      response_ = ToByteBuffer(EncodeExportResponse(stats.rejected_spans, stats.error_message));
      ReleaseReservation();
      StartWriteAndFinish(&response_, grpc::WriteOptions(), grpc::Status::OK);
    });
  }

  void OnDone() override {
    ReleaseReservation();
    delete this;
  }

 private:
  // The gRPC answer to a refused batch: RESOURCE_EXHAUSTED carries a
  // RetryInfo (so exporters retry it), the rest map as HttpStatusOfRefusal.
  static grpc::Status Refusal(const absl::Status& status, double retry_after_s) {
    switch (status.code()) {
      case absl::StatusCode::kInvalidArgument:
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::string(status.message()));
      case absl::StatusCode::kUnauthenticated:
        return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, std::string(status.message()));
      case absl::StatusCode::kResourceExhausted: {
        const std::string message =
            absl::StrCat("spans could not be stored, retry later: ", status.message());
        return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, message,
                            EncodeRpcStatusWithRetryInfo(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                                         message, retry_after_s));
      }
      default:
        return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                            absl::StrCat("spans could not be stored, retry later: ",
                                         status.message()));
    }
  }
  void Done(grpc::Status status) {
    ReleaseReservation();
    Finish(status);
  }
  void ReleaseReservation() {
    if (reserved_ > 0) admission_->Release(reserved_);
    reserved_ = 0;
  }

  SpanSink* const ingester_;
  const ReceiverOptions* const options_;
  Admission* const admission_;
  const std::string tenant_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
  uint64_t reserved_ = 0;
};

// A call answered at once, without reading its message.
class Finished : public grpc::ServerGenericBidiReactor {
 public:
  explicit Finished(grpc::Status status) { Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace

class OtlpGrpcReceiver::Service : public grpc::CallbackGenericService {
 public:
  Service(SpanSink* ingester, ReceiverOptions options, Admission* admission, TokenSet* tokens)
      : ingester_(ingester),
        options_(std::move(options)),
        admission_(admission),
        tokens_(tokens != nullptr && !tokens->open() ? tokens : nullptr) {}

  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override {
    const auto& metadata = ctx->client_metadata();
    std::string tenant;
    if (!options_.tenant_metadata_key.empty()) {
      const auto t = metadata.find(options_.tenant_metadata_key);
      if (t != metadata.end()) tenant.assign(t->second.data(), t->second.size());
    }
    // First, so that nothing (not even which methods exist) is told to a
    // client without a token.
    if (tokens_ != nullptr) {
      const auto it = metadata.find(serve::kGrpcAuthorizationKey);
      const std::string_view value = it == metadata.end()
                                         ? std::string_view()
                                         : std::string_view(it->second.data(), it->second.size());
      if (!tokens_->Check(value, tenant)) {
        return new Finished(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "unauthorized"));
      }
    }
    if (ctx->method() != kExportMethod) {
      return new Finished(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                                       absl::StrCat("unknown method ", ctx->method(),
                                                    " (this port serves ", kExportMethod, ")")));
    }
    return new ExportReactor(ingester_, &options_, admission_, std::move(tenant));
  }

  const ReceiverOptions& options() const { return options_; }

 private:
  SpanSink* const ingester_;
  const ReceiverOptions options_;
  Admission* const admission_;
  TokenSet* const tokens_;
};

OtlpGrpcReceiver::OtlpGrpcReceiver(SpanSink* ingester, ReceiverOptions options,
                                   Admission* admission, GrpcSecurity security)
    : service_(std::make_unique<Service>(ingester, std::move(options), admission, security.tokens)),
      admission_limit_(admission != nullptr ? admission->limit() : 0),
      tls_(std::move(security.tls)),
      server_(std::make_unique<GrpcServerHolder>()) {}

OtlpGrpcReceiver::~OtlpGrpcReceiver() { Shutdown(0); }

absl::Status OtlpGrpcReceiver::Start(const std::string& address) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address, serve::GrpcServerCredentials(tls_), &port_);
  builder.RegisterCallbackGenericService(service_.get());
  const uint64_t max = service_->options().max_request_bytes;
  builder.SetMaxReceiveMessageSize(static_cast<int>(std::min<uint64_t>(max, INT32_MAX)));
  // gRPC reads a whole message before the reactor sees it, so the admission
  // budget alone cannot bound what it buffers: its own memory quota and a
  // cap on concurrent calls per connection do.
  if (admission_limit_ > 0) {
    grpc::ResourceQuota quota("otlp_grpc");
    quota.Resize(static_cast<size_t>(admission_limit_));
    builder.SetResourceQuota(quota);
  }
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, kMaxConcurrentStreams);
  server_->server = builder.BuildAndStart();
  if (server_->server == nullptr || port_ == 0) {
    return absl::UnavailableError(absl::StrCat("otlp_grpc: cannot listen on ", address));
  }
  return absl::OkStatus();
}

void OtlpGrpcReceiver::Shutdown(int deadline_seconds) {
  if (server_->server == nullptr) return;
  server_->server->Shutdown(std::chrono::system_clock::now() +
                            std::chrono::seconds(deadline_seconds));
  server_->server->Wait();
  server_->server.reset();
}

}  // namespace ariadne::receive
