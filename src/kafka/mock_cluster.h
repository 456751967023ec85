// `ariadne dev kafka-mock`: librdkafka's in-process mock cluster, hosted by
// a process of its own so that integration tests can run receivers and
// ingesters against "Kafka" without a JVM (test/integration/kafka.test.mjs).
// Not for production: the mock keeps everything in memory and implements
// the protocol only as far as librdkafka's own tests need it (produce,
// fetch, consumer groups, offset commits, idempotent producers).
#pragma once

#include <string>

namespace ariadne::kafka {

struct MockClusterOptions {
  int brokers = 3;
  std::string topic;     // if set, created with `partitions` partitions
  int partitions = 4;
  std::string listen_file;  // gets {"bootstrap":"host:port,..."} once up
};

// Runs until SIGTERM or SIGINT (blocked by main). Exit code.
int RunKafkaMock(const MockClusterOptions& options);

}  // namespace ariadne::kafka
