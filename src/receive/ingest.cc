#include "receive/ingest.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "encode/encode.h"

namespace ariadne::receive {

std::string_view ProtocolName(Protocol p) {
  switch (p) {
    case Protocol::kOtlpGrpc:
      return "otlp_grpc";
    case Protocol::kOtlpHttpProto:
      return "otlp_http_protobuf";
    case Protocol::kOtlpHttpJson:
      return "otlp_http_json";
    case Protocol::kZipkin:
      return "zipkin";
    case Protocol::kCount:
      break;
  }
  return "unknown";
}

void Ingester::Submit(model::SpanBatch batch, std::string_view raw_otlp,
                      std::function<void(absl::Status)> done) {
  if (batch.empty()) {
    done(absl::OkStatus());
    return;
  }
  const uint64_t in_use =
      max_head_bytes_ == 0 ? 0 : head_bytes_in_use_ ? head_bytes_in_use_() : head_->memory_bytes();
  if (max_head_bytes_ != 0 && in_use >= max_head_bytes_) {
    done(absl::UnavailableError(absl::StrCat("the in-memory head holds ", in_use,
                                             " bytes, at its limit of ", max_head_bytes_,
                                             " (limits.max_head_bytes)")));
    return;
  }
  auto shared = std::make_shared<const model::SpanBatch>(std::move(batch));
  absl::ReaderMutexLock cut_lock(&cut_mu_);
  const uint64_t epoch = epoch_;
  std::atomic<int64_t>& inflight = inflight_[epoch & 1];
  inflight.fetch_add(1, std::memory_order_acq_rel);
  auto finish = [this, head = head_, shared, epoch, &inflight,
                 done = std::move(done)](absl::Status status) {
    const bool ok = status.ok();
    if (ok) head->Append(shared, epoch);
    if (inflight.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      absl::MutexLock l(&drained_mu_);  // wakes a Cut waiting for the epoch to drain
    }
    done(std::move(status));
    if (ok && stored_listener_) stored_listener_(shared);
  };
  std::function<void(absl::Status)> logged = std::move(finish);
  if (run_after_log_) {
    logged = [this, finish = std::move(logged)](absl::Status status) mutable {
      run_after_log_([finish = std::move(finish), status = std::move(status)]() mutable {
        finish(std::move(status));
      });
    };
  }
  if (!raw_otlp.empty()) {
    // The record is the request body the batch already holds: no copy.
    wal_->AppendShared(raw_otlp, shared, std::move(logged));
  } else {
    std::string record;
    encode::EncodeOtlpProto(*shared, &record);
    wal_->Append(std::move(record), std::move(logged));
  }
}

absl::StatusOr<Ingester::CutPoint> Ingester::Cut() {
  CutPoint cut;
  absl::Notification rotated;
  absl::StatusOr<uint64_t> seq;
  {
    absl::WriterMutexLock cut_lock(&cut_mu_);
    cut.epoch = epoch_++;
    wal_->Rotate([&](absl::StatusOr<uint64_t> s) {
      seq = std::move(s);
      rotated.Notify();
    });
  }
  rotated.WaitForNotification();
  if (!seq.ok()) return seq.status();
  cut.wal_seq = *seq;
  // Wait for the cut epoch's batches to reach the head (or fail).
  std::atomic<int64_t>& inflight = inflight_[cut.epoch & 1];
  absl::MutexLock l(&drained_mu_);
  drained_mu_.Await(absl::Condition(
      +[](std::atomic<int64_t>* n) { return n->load(std::memory_order_acquire) == 0; },
      &inflight));
  return cut;
}

}  // namespace ariadne::receive
