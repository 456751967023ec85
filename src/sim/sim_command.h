// `ariadne sim`: run a simulated application and ship its spans.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace ariadne::sim {

struct SimCommandOptions {
  std::string topology = "online-boutique";
  std::string duration = "10m";
  double rps = 100;
  std::string profile = "constant";
  uint64_t seed = 1;
  std::string otlp = "http://127.0.0.1:4318";
  std::string out;  // a file instead of --otlp
  bool as_fast_as_possible = false;
  double speed = 1;
  std::vector<std::string> replicas;  // "N" (every service) or "service=N"
  std::string startup_delay;           // overrides every service's
  std::string faults;
  std::string truth;
  std::string scale_api;
  std::string listen_file;
  std::string summary;
  std::string slo = "500ms";
  std::string start_time;
  int batch_spans = 0;  // 0: 512 when paced, 4096 as fast as possible
  int connections = 2;
  bool gzip = false;
  bool fault_attributes = false;
  bool quiet = false;
  bool list_topologies = false;
  std::string print_topology;
};

void AddSimFlags(CLI::App* app, SimCommandOptions* options);
int RunSim(const SimCommandOptions& options);

}  // namespace ariadne::sim
