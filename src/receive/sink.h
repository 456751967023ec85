// SpanSink: where a receiver hands a decoded, admitted batch.
//
// Three implementations, chosen by `ariadne serve` (docs/scaling.md):
//  - receive::Ingester (ingest.h): the write-ahead log and the head of the
//    embedded store (storage.backend: embedded);
//  - receive::ClickHouseSink (clickhouse_sink.h): a ClickHouseWriter's
//    acknowledged inserts (storage.backend: clickhouse);
//  - kafka::KafkaPublisher (kafka/publisher.h): a Kafka topic, acknowledged
//    by the producer's delivery report (kafka.brokers set, role receive
//    without local ingest).
// The receivers only know this interface: `done` is the client's answer
// (OK = durable as the sink promises; ResourceExhausted → 429 /
// RESOURCE_EXHAUSTED, anything else → 503 / UNAVAILABLE, both retryable).
//
// Threading: Submit may be called from any thread; `done` must not block.
// The stored listener runs after `done`, with every batch the sink stored,
// on the thread that answered.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "absl/status/status.h"
#include "model/span_batch.h"

namespace ariadne::receive {

enum class Protocol : uint8_t { kOtlpGrpc = 0, kOtlpHttpProto, kOtlpHttpJson, kZipkin, kCount };
std::string_view ProtocolName(Protocol p);  // label value on /metrics

struct IngestCounters {
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> accepted_spans{0};
  std::atomic<uint64_t> rejected_spans{0};  // invalid spans (partial success)
  std::atomic<uint64_t> malformed_requests{0};
  std::atomic<uint64_t> refused_requests{0};  // overload or storage failure
  std::atomic<uint64_t> rate_limited_requests{0};  // over the tenant's rate (also refused)
  std::atomic<uint64_t> unknown_tenant_requests{0};  // no valid tenant, or no room for it
};

class SpanSink {
 public:
  virtual ~SpanSink() = default;

  // `raw_otlp`, if not empty, is the protobuf encoding of exactly this batch
  // and lives in memory the batch owns (its adopted request body, when no
  // span was rejected); a sink that needs the OTLP bytes uses it as-is
  // instead of encoding the batch.
  virtual void Submit(model::SpanBatch batch, std::string_view raw_otlp,
                      std::function<void(absl::Status)> done) = 0;

  // Called with every batch once it is stored and its client has been
  // answered (analytics' Enqueue, the autoscaler's PushSpans). Set before
  // the first Submit; it must not block.
  using StoredListener = std::function<void(const std::shared_ptr<const model::SpanBatch>&)>;
  void SetStoredListener(StoredListener listener) { stored_listener_ = std::move(listener); }

  IngestCounters& counters(Protocol p) { return counters_[static_cast<size_t>(p)]; }
  const IngestCounters& counters(Protocol p) const { return counters_[static_cast<size_t>(p)]; }

 protected:
  StoredListener stored_listener_;

 private:
  std::array<IngestCounters, static_cast<size_t>(Protocol::kCount)> counters_;
};

}  // namespace ariadne::receive
