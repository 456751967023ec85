// `ariadne query`: read traces from a running server's query API.
//   ariadne query trace <trace-id>          an indented span tree with durations
//   ariadne query search --service S ...    a table of matching traces
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ariadne::cli {

struct QueryCommand {
  std::string server = "http://127.0.0.1:16686";
  std::string trace_id;  // for `trace`
  // for `search`
  std::string service;
  std::string operation;
  std::vector<std::string> tags;  // key=value
  std::string min_duration;
  std::string max_duration;
  std::string lookback = "1h";
  uint32_t limit = 20;
};

int RunQueryTrace(const QueryCommand& command);
int RunQuerySearch(const QueryCommand& command);

}  // namespace ariadne::cli
