#include "kafka/util.h"

#include <librdkafka/rdkafka.h>

#include "absl/strings/str_cat.h"

namespace ariadne::kafka {

absl::StatusOr<rd_kafka_conf_s*> NewConf(
    const std::vector<std::pair<std::string, std::string>>& properties) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  for (const auto& [key, value] : properties) {
    if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), err, sizeof(err)) !=
        RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return absl::InvalidArgumentError(absl::StrCat("kafka property ", key, ": ", err));
    }
  }
  return conf;
}

}  // namespace ariadne::kafka
