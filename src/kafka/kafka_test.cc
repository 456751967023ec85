// The publisher and the consumer against librdkafka's in-process mock
// cluster: a published batch reaches the consumer's sink whole, a refused
// submission is retried, and offsets are committed only for what the sink
// stored (a new member of the group starts after it).
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <chrono>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "decode/decode.h"
#include "encode/encode.h"
#include "encode/test_batches.h"
#include "gtest/gtest.h"
#include "kafka/consumer.h"
#include "kafka/publisher.h"
#include "kafka/util.h"

namespace ariadne::kafka {
namespace {

class MockCluster {
 public:
  explicit MockCluster(const std::string& topic) {
    auto conf = NewConf({});
    char err[512];
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, *conf, err, sizeof(err));
    cluster_ = rd_kafka_mock_cluster_new(rk_, 3);
    rd_kafka_mock_topic_create(cluster_, topic.c_str(), 4, 3);
  }
  ~MockCluster() {
    rd_kafka_mock_cluster_destroy(cluster_);
    rd_kafka_destroy(rk_);
  }
  std::string bootstrap() const { return rd_kafka_mock_cluster_bootstraps(cluster_); }

 private:
  rd_kafka_t* rk_;
  rd_kafka_mock_cluster_t* cluster_;
};

// Records what it is given; refuses the first `refuse` submissions.
class RecordingSink : public receive::SpanSink {
 public:
  explicit RecordingSink(int refuse) : refuse_(refuse) {}
  void Submit(model::SpanBatch batch, std::string_view raw,
              std::function<void(absl::Status)> done) override {
    {
      absl::MutexLock l(&mu_);
      if (refuse_ > 0) {
        --refuse_;
        done(absl::ResourceExhaustedError("full"));
        return;
      }
      spans_ += batch.size();
      ++batches_;
      raw_sizes_.push_back(raw.size());
    }
    done(absl::OkStatus());
  }
  size_t batches() {
    absl::MutexLock l(&mu_);
    return batches_;
  }
  size_t spans() {
    absl::MutexLock l(&mu_);
    return spans_;
  }

 private:
  absl::Mutex mu_;
  int refuse_;
  size_t batches_ = 0, spans_ = 0;
  std::vector<size_t> raw_sizes_;
};

std::string Encoded() {
  std::string out;
  encode::EncodeOtlpProto(*encode::testing::BatchA(), &out);
  return out;
}

absl::Status Publish(KafkaPublisher* p, const std::string& body) {
  decode::DecodeStats ds;
  auto batch = decode::DecodeOtlpProto(body, decode::Limits{}, &ds);
  if (!batch.ok()) return batch.status();
  const std::string_view raw = batch->raw_input();
  absl::Mutex mu;
  bool answered = false;
  absl::Status result;
  p->Submit(*std::move(batch), raw, [&](absl::Status s) {
    absl::MutexLock l(&mu);
    result = std::move(s);
    answered = true;
  });
  absl::MutexLock l(&mu);
  mu.Await(absl::Condition(&answered));
  return result;
}

bool WaitFor(const std::function<bool()>& done) {
  for (int i = 0; i < 600; ++i) {  // bounded: 60 s
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return done();
}

TEST(KafkaTest, PublishedBatchesAreConsumedRetriedAndCommitted) {
  MockCluster cluster("spans");
  PublisherOptions po;
  po.brokers = cluster.bootstrap();
  po.topic = "spans";
  auto publisher = KafkaPublisher::Create(po);
  ASSERT_TRUE(publisher.ok()) << publisher.status();
  const std::string body = Encoded();
  const size_t spans_per_batch = encode::testing::BatchA()->size();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Publish(publisher->get(), body).ok());
  EXPECT_EQ((*publisher)->stats().produced, 5u);

  ConsumerOptions co;
  co.brokers = cluster.bootstrap();
  co.topic = "spans";
  co.group = "g";
  co.initial_backoff = std::chrono::milliseconds(10);
  {
    RecordingSink sink(/*refuse=*/2);
    auto consumer = KafkaConsumer::Create(co, &sink);
    ASSERT_TRUE(consumer.ok()) << consumer.status();
    (*consumer)->Start();
    ASSERT_TRUE(WaitFor([&] { return sink.batches() >= 5; }));
    ASSERT_TRUE(WaitFor([&] { return (*consumer)->stats().commits > 0 &&
                                     (*consumer)->stats().messages == 5; }));
    EXPECT_EQ(sink.spans(), 5 * spans_per_batch);
    EXPECT_GE((*consumer)->stats().retries, 1u);
    (*consumer)->Stop();
  }
  // The group committed all five: a new member gets only what comes next.
  ASSERT_TRUE(Publish(publisher->get(), body).ok());
  RecordingSink sink(0);
  auto consumer = KafkaConsumer::Create(co, &sink);
  ASSERT_TRUE(consumer.ok());
  (*consumer)->Start();
  ASSERT_TRUE(WaitFor([&] { return sink.batches() >= 1; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(sink.batches(), 1u);
  (*consumer)->Stop();
  (*publisher)->Stop(1000);
}

TEST(KafkaTest, UndecodableMessageIsSkipped) {
  EXPECT_FALSE(DecodeMessage("\xff\xff\xff not protobuf").ok());
  uint64_t rejected = 1;
  auto batch = DecodeMessage(Encoded(), &rejected);
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ(rejected, 0u);
  EXPECT_EQ(batch->size(), encode::testing::BatchA()->size());
}

}  // namespace
}  // namespace ariadne::kafka
