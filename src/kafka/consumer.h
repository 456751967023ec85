// KafkaConsumer: the ingest role's reader of the span topic (docs/scaling.md).
//
// One thread consumes `topic` in consumer group `group` and hands every
// message's batch to a SpanSink (the write-ahead log ingester, the
// ClickHouse sink, or analytics alone). Offsets are committed by hand, and
// only for messages whose batch the sink acknowledged (durable as the sink
// promises): the thread takes a window of messages (at most max_messages,
// or max_inflight_bytes of payload), submits them all, waits for every
// answer, submits again — after a backoff — those refused (the sink's
// queue full, ClickHouse down), and commits the window once all of it is
// stored. A crash before the commit redelivers the window to whichever
// member owns the partitions next: at-least-once. Duplicates are removed
// when read, by span id (the head and blocks, and ClickHouseBackend, each
// return one span per span id and kind).
//
// A message is an ExportTraceServiceRequest in protobuf (what
// KafkaPublisher writes); it is decoded by the network path's decoder
// (decode::DecodeOtlpProto, fuzzed by test/fuzz) without the per-span
// limits, which the receiver applied. An undecodable message is logged,
// counted and skipped (committed), so that one bad message cannot stop a
// partition.
//
// Threading: Start and Stop from the owning thread; stats from any.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/span_batch.h"
#include "receive/sink.h"

struct rd_kafka_s;

namespace ariadne::kafka {

struct ConsumerOptions {
  std::string brokers;
  std::string topic = "ariadne-spans";
  std::string group = "ariadne-ingest";
  size_t max_inflight_bytes = size_t{64} << 20;  // payload bytes per window
  int max_messages = 2000;                       // messages per window
  std::chrono::milliseconds initial_backoff{100};
  std::chrono::milliseconds max_backoff{5000};
};

struct ConsumerStats {
  uint64_t messages = 0;     // stored (acknowledged by the sink)
  uint64_t spans = 0;
  uint64_t undecodable = 0;  // skipped
  uint64_t retries = 0;      // submissions refused and tried again
  uint64_t commits = 0;
  uint64_t commit_failures = 0;
};

// A message's batch, as the consumer decodes it; `rejected` (if not null)
// gets the number of spans the decoder rejected (0 for what a receiver
// published).
absl::StatusOr<model::SpanBatch> DecodeMessage(std::string_view payload,
                                               uint64_t* rejected = nullptr);

class KafkaConsumer {
 public:
  // `sink` must outlive the consumer. InvalidArgument for a configuration
  // librdkafka refuses.
  static absl::StatusOr<std::unique_ptr<KafkaConsumer>> Create(ConsumerOptions options,
                                                                receive::SpanSink* sink);
  ~KafkaConsumer();

  void Start();
  // Stops taking messages; the window in progress is finished (stored and
  // committed) unless it is still refused after `grace`, then left
  // uncommitted (redelivered). Leaves the group.
  void Stop(std::chrono::milliseconds grace = std::chrono::milliseconds(10000));

  ConsumerStats stats() const;

 private:
  struct Message;
  KafkaConsumer(ConsumerOptions options, receive::SpanSink* sink)
      : options_(std::move(options)), sink_(sink) {}
  void Run();
  // Submits the window until all of it is stored; false if stopping won.
  bool StoreWindow(std::vector<Message>& window);
  void Commit(const std::vector<Message>& window);

  const ConsumerOptions options_;
  receive::SpanSink* const sink_;
  rd_kafka_s* rk_ = nullptr;
  std::atomic<bool> stop_{false};
  // steady_clock nanoseconds after which a refused window is given up;
  // written before stop_ is set.
  std::atomic<int64_t> stop_deadline_ns_{0};
  std::thread thread_;
  std::atomic<uint64_t> messages_{0}, spans_{0}, undecodable_{0}, retries_{0}, commits_{0},
      commit_failures_{0};
};

}  // namespace ariadne::kafka
