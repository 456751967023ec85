// KafkaPublisher: the SpanSink of a receiver that publishes to Kafka
// (docs/scaling.md) instead of storing.
//
// Submit produces the batch's OTLP protobuf bytes (the request body when no
// span was rejected, else the batch encoded by encode::EncodeOtlpProto) as
// one message to `topic`, keyed by the batch's first trace id, and answers
// the client from the producer's delivery report: OK once every in-sync
// replica has the message (acks=all, idempotent producer, so a retried
// produce is not duplicated by the broker). A batch is not split per trace:
// one message per request keeps the client's answer one delivery report,
// and an ingester stores a batch whole whatever traces it holds; a batch
// with spans of several traces lands on its first trace's partition (the
// analyze role's note in docs/scaling.md says what that means).
//
// Refusals: the producer's local queue full → ResourceExhausted (429 /
// RESOURCE_EXHAUSTED), a failed or timed-out delivery → Unavailable (503 /
// UNAVAILABLE); both retryable by the client.
//
// Threading: Submit from any thread; delivery reports are served by the
// publisher's poll thread and posted through `run_after_ack` if given.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "receive/sink.h"

struct rd_kafka_s;
struct rd_kafka_topic_s;

namespace ariadne::kafka {

struct PublisherOptions {
  std::string brokers;  // bootstrap servers, host:port[,host:port...]
  std::string topic = "ariadne-spans";
  // How long a message may wait for its delivery before the client is
  // answered "unavailable".
  int message_timeout_ms = 30000;
  // The producer's local queue (librdkafka queue.buffering.max.kbytes).
  int queue_kbytes = 256 * 1024;
};

struct PublisherStats {
  uint64_t produced = 0;   // messages delivered
  uint64_t failed = 0;     // delivery reports with an error
  uint64_t refused = 0;    // queue full
  uint64_t bytes = 0;      // payload bytes delivered
};

class KafkaPublisher : public receive::SpanSink {
 public:
  using Executor = std::function<void(std::function<void()>)>;
  // InvalidArgument for a configuration librdkafka refuses.
  static absl::StatusOr<std::unique_ptr<KafkaPublisher>> Create(PublisherOptions options,
                                                                 Executor run_after_ack = {});
  ~KafkaPublisher() override;

  void Submit(model::SpanBatch batch, std::string_view raw_otlp,
              std::function<void(absl::Status)> done) override;

  // Waits up to `timeout_ms` for outstanding deliveries, then stops the poll
  // thread; messages still undelivered are answered Unavailable.
  void Stop(int timeout_ms);

  PublisherStats stats() const;

 private:
  struct Pending;
  KafkaPublisher(PublisherOptions options, Executor run_after_ack)
      : options_(std::move(options)), run_after_ack_(std::move(run_after_ack)) {}
  static void OnDelivery(rd_kafka_s* rk, const void* message, void* opaque);
  void Finish(Pending* pending, absl::Status status);

  const PublisherOptions options_;
  const Executor run_after_ack_;
  rd_kafka_s* rk_ = nullptr;
  rd_kafka_topic_s* topic_ = nullptr;
  std::atomic<bool> stop_{false};
  std::thread poller_;
  std::atomic<uint64_t> produced_{0}, failed_{0}, refused_{0}, bytes_{0};
};

}  // namespace ariadne::kafka
