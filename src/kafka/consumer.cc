#include "kafka/consumer.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <map>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/strings.h"
#include "decode/decode.h"
#include "kafka/util.h"
#include "spdlog/spdlog.h"

namespace ariadne::kafka {

struct KafkaConsumer::Message {
  int32_t partition = 0;
  int64_t offset = 0;
  std::string payload;
  bool stored = false;
};

absl::StatusOr<model::SpanBatch> DecodeMessage(std::string_view payload, uint64_t* rejected) {
  // The receiver applied the limits when it admitted the batch.
  const decode::Limits unlimited = decode::Limits::Admitted();
  decode::DecodeStats stats;
  auto batch = decode::DecodeOtlpProto(std::string(payload), unlimited, &stats);
  if (rejected != nullptr) *rejected = stats.rejected_spans;
  return batch;
}

absl::StatusOr<std::unique_ptr<KafkaConsumer>> KafkaConsumer::Create(ConsumerOptions options,
                                                                     receive::SpanSink* sink) {
  std::unique_ptr<KafkaConsumer> c(new KafkaConsumer(std::move(options), sink));
  auto conf = NewConf({
      {"bootstrap.servers", c->options_.brokers},
      {"group.id", c->options_.group},
      {"enable.auto.commit", "false"},        // committed after the sink stored
      {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", "earliest"},      // a new group reads what is there
      {"enable.partition.eof", "false"},
      {"session.timeout.ms", "10000"},
      {"heartbeat.interval.ms", "1000"},
  });
  if (!conf.ok()) return conf.status();
  char err[512];
  c->rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, *conf, err, sizeof(err));
  if (c->rk_ == nullptr) {
    rd_kafka_conf_destroy(*conf);
    return absl::InvalidArgumentError(absl::StrCat("kafka consumer: ", err));
  }
  rd_kafka_poll_set_consumer(c->rk_);
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, c->options_.topic.c_str(), RD_KAFKA_PARTITION_UA);
  const rd_kafka_resp_err_t e = rd_kafka_subscribe(c->rk_, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::InvalidArgumentError(
        absl::StrCat("kafka: cannot subscribe to ", c->options_.topic, ": ", rd_kafka_err2str(e)));
  }
  return c;
}

KafkaConsumer::~KafkaConsumer() {
  Stop(std::chrono::milliseconds(0));
  if (rk_ != nullptr) rd_kafka_destroy(rk_);
}

void KafkaConsumer::Start() {
  thread_ = std::thread([this] { Run(); });
}

void KafkaConsumer::Stop(std::chrono::milliseconds grace) {
  if (rk_ == nullptr) return;
  if (!stop_.load()) {
    stop_deadline_ns_.store(
        std::chrono::duration_cast<std::chrono::nanoseconds>(
            (std::chrono::steady_clock::now() + grace).time_since_epoch())
            .count());
    stop_.store(true);
  }
  if (thread_.joinable()) thread_.join();
}

void KafkaConsumer::Run() {
  while (!stop_.load()) {
    std::vector<Message> window;
    size_t bytes = 0;
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, 100);
    while (m != nullptr) {
      if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        spdlog::warn("kafka consumer ({}): {}", options_.group, rd_kafka_message_errstr(m));
      } else {
        Message msg;
        msg.partition = m->partition;
        msg.offset = m->offset;
        msg.payload.assign(static_cast<const char*>(m->payload), m->len);
        bytes += m->len;
        window.push_back(std::move(msg));
      }
      rd_kafka_message_destroy(m);
      if (window.size() >= static_cast<size_t>(options_.max_messages) ||
          bytes >= options_.max_inflight_bytes) {
        break;
      }
      m = rd_kafka_consumer_poll(rk_, 0);
    }
    if (window.empty()) continue;
    if (!StoreWindow(window)) break;  // left uncommitted: redelivered
    Commit(window);
  }
  rd_kafka_consumer_close(rk_);
}

bool KafkaConsumer::StoreWindow(std::vector<Message>& window) {
  auto backoff = options_.initial_backoff;
  for (;;) {
    // Shared with the answers, which may still be unwinding when the wait
    // below returns.
    struct Round {
      absl::Mutex mu;
      size_t outstanding ABSL_GUARDED_BY(mu) = 0;
      absl::Status last_error ABSL_GUARDED_BY(mu);
    };
    auto round = std::make_shared<Round>();
    std::vector<std::tuple<Message*, model::SpanBatch, bool>> todo;
    for (Message& msg : window) {
      if (msg.stored) continue;
      uint64_t rejected = 0;
      auto batch = DecodeMessage(msg.payload, &rejected);
      if (!batch.ok()) {
        undecodable_.fetch_add(1);
        spdlog::warn("kafka message {}/{} offset {} does not decode, skipped: {}", options_.topic,
                     msg.partition, msg.offset, StdView(batch.status().message()));
        msg.stored = true;
        continue;
      }
      todo.emplace_back(&msg, *std::move(batch), rejected == 0);
    }
    if (todo.empty()) return true;
    {
      absl::MutexLock l(&round->mu);
      round->outstanding = todo.size();
    }
    for (auto& [msg, batch, whole] : todo) {
      const size_t spans = batch.size();
      // The message is the batch's protobuf: the WAL ingester logs it as is.
      const std::string_view raw = whole ? batch.raw_input() : std::string_view();
      sink_->Submit(std::move(batch), raw,
                    [this, round, msg = msg, spans](absl::Status s) {
                      absl::MutexLock l(&round->mu);
                      if (s.ok()) {
                        msg->stored = true;
                        messages_.fetch_add(1);
                        spans_.fetch_add(spans);
                      } else {
                        round->last_error = std::move(s);
                      }
                      --round->outstanding;
                    });
    }
    absl::Status last_error;
    {
      absl::MutexLock l(&round->mu);
      round->mu.Await(absl::Condition(
          +[](Round* r) ABSL_NO_THREAD_SAFETY_ANALYSIS { return r->outstanding == 0; }, round.get()));
      last_error = round->last_error;
    }
    if (last_error.ok()) return true;
    retries_.fetch_add(1);
    spdlog::warn("kafka consumer ({}): storing a window failed, retrying in {} ms: {}",
                 options_.group, backoff.count(), StdView(last_error.message()));
    // Sleep in small steps so that Stop is seen; past the stop grace the
    // window is given up (uncommitted, so redelivered to the next owner).
    for (auto slept = std::chrono::milliseconds(0); slept < backoff;
         slept += std::chrono::milliseconds(10)) {
      if (stop_.load() &&
          std::chrono::duration_cast<std::chrono::nanoseconds>(
              std::chrono::steady_clock::now().time_since_epoch())
                  .count() > stop_deadline_ns_.load()) {
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

void KafkaConsumer::Commit(const std::vector<Message>& window) {
  std::map<int32_t, int64_t> next;  // partition → offset after the last stored
  for (const Message& msg : window) {
    int64_t& n = next[msg.partition];
    n = std::max(n, msg.offset + 1);
  }
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(next.size()));
  for (const auto& [partition, offset] : next) {
    rd_kafka_topic_partition_list_add(list, options_.topic.c_str(), partition)->offset = offset;
  }
  const rd_kafka_resp_err_t e = rd_kafka_commit(rk_, list, 0);  // synchronous
  rd_kafka_topic_partition_list_destroy(list);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    // Typically a rebalance took the partitions away: the new owner reads
    // the window again and the read path drops the duplicates.
    commit_failures_.fetch_add(1);
    spdlog::warn("kafka consumer ({}): commit failed: {}", options_.group, rd_kafka_err2str(e));
    return;
  }
  commits_.fetch_add(1);
}

ConsumerStats KafkaConsumer::stats() const {
  return {messages_.load(), spans_.load(), undecodable_.load(),
          retries_.load(),  commits_.load(), commit_failures_.load()};
}

}  // namespace ariadne::kafka
