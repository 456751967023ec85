// Small helpers over librdkafka's C API shared by the publisher, the
// consumer and the mock cluster.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

struct rd_kafka_conf_s;

namespace ariadne::kafka {

// A configuration with these properties set; InvalidArgument naming the
// property librdkafka refuses. The caller owns the result (handed to
// rd_kafka_new, or rd_kafka_conf_destroy).
absl::StatusOr<rd_kafka_conf_s*> NewConf(
    const std::vector<std::pair<std::string, std::string>>& properties);

}  // namespace ariadne::kafka
