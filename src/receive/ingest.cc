#include "receive/ingest.h"

#include <memory>

#include "encode/encode.h"

namespace ariadne::receive {

std::string_view ProtocolName(Protocol p) {
  switch (p) {
    case Protocol::kOtlpGrpc: return "otlp_grpc";
    case Protocol::kOtlpHttpProto: return "otlp_http_protobuf";
    case Protocol::kOtlpHttpJson: return "otlp_http_json";
    case Protocol::kZipkin: return "zipkin";
    case Protocol::kCount: break;
  }
  return "unknown";
}

void Ingester::Submit(model::SpanBatch batch, std::string_view raw_otlp,
                      std::function<void(absl::Status)> done) {
  if (batch.empty()) {
    done(absl::OkStatus());
    return;
  }
  std::string record;
  if (!raw_otlp.empty()) {
    record.assign(raw_otlp);
  } else {
    encode::EncodeOtlpProto(batch, &record);
  }
  auto shared = std::make_shared<const model::SpanBatch>(std::move(batch));
  auto finish = [head = head_, shared, done = std::move(done)](absl::Status status) {
    if (status.ok()) head->Append(shared);
    done(std::move(status));
  };
  if (!run_after_log_) {
    wal_->Append(std::move(record), std::move(finish));
    return;
  }
  wal_->Append(std::move(record), [this, finish = std::move(finish)](absl::Status status) mutable {
    run_after_log_([finish = std::move(finish), status = std::move(status)]() mutable {
      finish(std::move(status));
    });
  });
}

}  // namespace ariadne::receive
