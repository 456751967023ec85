#include "kafka/publisher.h"

#include <librdkafka/rdkafka.h>

#include "absl/strings/str_cat.h"
#include "encode/encode.h"
#include "kafka/util.h"
#include "spdlog/spdlog.h"

namespace ariadne::kafka {

// What a message in flight carries: the payload (or the batch owning it)
// and the client's answer.
struct KafkaPublisher::Pending {
  std::shared_ptr<const model::SpanBatch> batch;
  std::string encoded;  // when the request body could not be used
  std::function<void(absl::Status)> done;
};

absl::StatusOr<std::unique_ptr<KafkaPublisher>> KafkaPublisher::Create(PublisherOptions options,
                                                                       Executor run_after_ack) {
  std::unique_ptr<KafkaPublisher> p(new KafkaPublisher(std::move(options), std::move(run_after_ack)));
  auto conf = NewConf({
      {"bootstrap.servers", p->options_.brokers},
      {"enable.idempotence", "true"},  // implies acks=all, retries without reordering
      {"acks", "all"},
      {"linger.ms", "1"},
      {"message.timeout.ms", absl::StrCat(p->options_.message_timeout_ms)},
      {"queue.buffering.max.kbytes", absl::StrCat(p->options_.queue_kbytes)},
      {"compression.codec", "lz4"},
  });
  if (!conf.ok()) return conf.status();
  rd_kafka_conf_set_dr_msg_cb(*conf, [](rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque) {
    OnDelivery(rk, m, opaque);
  });
  rd_kafka_conf_set_opaque(*conf, p.get());
  char err[512];
  p->rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, *conf, err, sizeof(err));
  if (p->rk_ == nullptr) {
    rd_kafka_conf_destroy(*conf);
    return absl::InvalidArgumentError(absl::StrCat("kafka producer: ", err));
  }
  p->topic_ = rd_kafka_topic_new(p->rk_, p->options_.topic.c_str(), nullptr);
  if (p->topic_ == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "kafka topic ", p->options_.topic, ": ", rd_kafka_err2str(rd_kafka_last_error())));
  }
  p->poller_ = std::thread([raw = p.get()] {
    while (!raw->stop_.load()) rd_kafka_poll(raw->rk_, 100);
  });
  return p;
}

KafkaPublisher::~KafkaPublisher() {
  Stop(0);
  if (topic_ != nullptr) rd_kafka_topic_destroy(topic_);
  if (rk_ != nullptr) rd_kafka_destroy(rk_);
}

void KafkaPublisher::Stop(int timeout_ms) {
  if (rk_ == nullptr || stop_.exchange(true)) return;
  if (poller_.joinable()) poller_.join();
  rd_kafka_flush(rk_, timeout_ms);  // serves delivery reports meanwhile
  // Whatever is still queued is failed by purge: its reports say so.
  rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  rd_kafka_poll(rk_, 0);
}

void KafkaPublisher::Submit(model::SpanBatch batch, std::string_view raw_otlp,
                            std::function<void(absl::Status)> done) {
  if (batch.empty()) {
    done(absl::OkStatus());
    return;
  }
  auto* pending = new Pending;
  pending->batch = std::make_shared<const model::SpanBatch>(std::move(batch));
  pending->done = std::move(done);
  std::string_view payload = raw_otlp;
  if (payload.empty()) {
    encode::EncodeOtlpProto(*pending->batch, &pending->encoded);
    payload = pending->encoded;
  }
  const model::TraceId& first = pending->batch->trace_id[0];
  // No copy (flags 0): the payload lives in `pending` until the report.
  const int rc = rd_kafka_produce(topic_, RD_KAFKA_PARTITION_UA, 0,
                                  const_cast<char*>(payload.data()), payload.size(), first.data(),
                                  first.size(), pending);
  if (rc != 0) {
    const rd_kafka_resp_err_t err = rd_kafka_last_error();
    refused_.fetch_add(1);
    auto done_now = std::move(pending->done);
    delete pending;
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      done_now(absl::ResourceExhaustedError("the Kafka producer's queue is full"));
    } else {
      done_now(absl::UnavailableError(
          absl::StrCat("cannot produce to Kafka topic ", options_.topic, ": ",
                       rd_kafka_err2str(err))));
    }
  }
}

void KafkaPublisher::OnDelivery(rd_kafka_s* rk, const void* message, void* opaque) {
  auto* self = static_cast<KafkaPublisher*>(opaque);
  const auto* m = static_cast<const rd_kafka_message_t*>(message);
  auto* pending = static_cast<Pending*>(m->_private);
  if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    self->failed_.fetch_add(1);
    self->Finish(pending, absl::UnavailableError(absl::StrCat(
                              "Kafka did not confirm the batch: ", rd_kafka_err2str(m->err))));
    return;
  }
  self->produced_.fetch_add(1);
  self->bytes_.fetch_add(m->len);
  self->Finish(pending, absl::OkStatus());
}

void KafkaPublisher::Finish(Pending* pending, absl::Status status) {
  auto finish = [this, pending, status = std::move(status)] {
    std::unique_ptr<Pending> owned(pending);
    // No stored listener: a published batch is not stored yet (analytics
    // reads what ingesters store, or its own consumer group).
    owned->done(status);
  };
  if (run_after_ack_) {
    run_after_ack_(std::move(finish));
  } else {
    finish();
  }
}

PublisherStats KafkaPublisher::stats() const {
  return {produced_.load(), failed_.load(), refused_.load(), bytes_.load()};
}

}  // namespace ariadne::kafka
