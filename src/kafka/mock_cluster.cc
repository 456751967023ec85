#include "kafka/mock_cluster.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "kafka/util.h"
#include "spdlog/spdlog.h"

namespace ariadne::kafka {

int RunKafkaMock(const MockClusterOptions& options) {
  if (options.brokers < 1 || options.partitions < 1) {
    spdlog::error("kafka-mock: --brokers and --partitions must be at least 1");
    return 2;
  }
  // The mock cluster lives in a client handle; a producer that never
  // produces is the smallest one.
  auto conf = NewConf({});
  if (!conf.ok()) {
    spdlog::error("kafka-mock: {}", std::string(conf.status().message()));
    return 1;
  }
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, *conf, err, sizeof(err));
  if (rk == nullptr) {
    spdlog::error("kafka-mock: {}", err);
    return 1;
  }
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(rk, options.brokers);
  if (cluster == nullptr) {
    spdlog::error("kafka-mock: cannot create a mock cluster");
    rd_kafka_destroy(rk);
    return 1;
  }
  if (!options.topic.empty()) {
    const rd_kafka_resp_err_t e =
        rd_kafka_mock_topic_create(cluster, options.topic.c_str(), options.partitions,
                                   std::min(options.brokers, 3));
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      spdlog::error("kafka-mock: cannot create topic {}: {}", options.topic, rd_kafka_err2str(e));
      rd_kafka_mock_cluster_destroy(cluster);
      rd_kafka_destroy(rk);
      return 1;
    }
  }
  const std::string bootstrap = rd_kafka_mock_cluster_bootstraps(cluster);
  spdlog::info("kafka mock cluster: {} brokers at {}", options.brokers, bootstrap);
  if (!options.listen_file.empty()) {
    const std::string tmp = options.listen_file + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << "{\"bootstrap\":\"" << bootstrap << "\"}\n";
    }
    std::error_code ec;
    std::filesystem::rename(tmp, options.listen_file, ec);
    if (ec) {
      spdlog::error("kafka-mock: cannot write {}: {}", options.listen_file, ec.message());
    }
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int sig = 0;
  sigwait(&set, &sig);
  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(rk);
  return 0;
}

}  // namespace ariadne::kafka
