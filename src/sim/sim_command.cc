#include "sim/sim_command.h"

#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/strings.h"
#include "fmt/format.h"
#include "sim/engine.h"
#include "sim/faults.h"
#include "sim/profile.h"
#include "sim/scale_api.h"
#include "sim/sink.h"
#include "sim/topology.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"

namespace ariadne::sim {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::Status WriteFile(const std::string& path, const std::string& content) {
  if (path == "-") {
    std::fwrite(content.data(), 1, content.size(), stdout);
    std::fflush(stdout);
    return absl::OkStatus();
  }
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc | std::ios::binary);
    out << content;
    if (!out.good()) return absl::UnavailableError(absl::StrCat("cannot write ", tmp));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot rename ", tmp, ": ", ec.message()));
  return absl::OkStatus();
}

int64_t NowUnixNano() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Clock(Nanos t) {
  const int64_t s = t / kSecond;
  if (s >= 3600) return fmt::format("{}h{:02}m{:02}s", s / 3600, s / 60 % 60, s % 60);
  return fmt::format("{}m{:02}s", s / 60, s % 60);
}

// Sets *stop on SIGINT or SIGTERM (blocked in every thread by main) until
// `done`.
void WatchSignals(std::atomic<bool>* stop, const std::atomic<bool>* done) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  const timespec wait{0, 200'000'000};
  while (!done->load()) {
    if (sigtimedwait(&set, nullptr, &wait) > 0) {
      stop->store(true);
      return;
    }
  }
}

}  // namespace

void AddSimFlags(CLI::App* app, SimCommandOptions* o) {
  app->add_option("--topology", o->topology,
                  "Built-in topology (online-boutique, social-network, train-ticket, hotrod) or a YAML file")
      ->capture_default_str();
  app->add_option("--duration", o->duration, "Simulated time to run (e.g. 10m, 1h)")->capture_default_str();
  app->add_option("--rps", o->rps, "Requests per second (the base of the rate profile)")
      ->capture_default_str();
  app->add_option("--profile", o->profile,
                  "Rate profile: constant, ramp:TO, step:RPS@T,..., diurnal:AMP[:PERIOD], "
                  "spike:F@T+LEN, csv:PATH")
      ->capture_default_str();
  app->add_option("--seed", o->seed, "Random seed; the same seed gives the same spans")
      ->capture_default_str();
  app->add_option("--otlp", o->otlp,
                  "Where spans go: http://host:port (OTLP/HTTP), grpc://host:port, a file path "
                  "(.jsonl: OTLP/JSON lines, else length-prefixed protobuf), or 'none'")
      ->capture_default_str();
  app->add_option("--out", o->out, "Write spans to this file instead of --otlp");
  app->add_flag("--as-fast-as-possible", o->as_fast_as_possible,
                "Do not pace: simulate as fast as the CPU allows, with simulated timestamps");
  app->add_option("--speed", o->speed, "Simulated seconds per wall second when paced")
      ->capture_default_str();
  app->add_option("--replicas", o->replicas,
                  "Initial replicas: N for every service, or SERVICE=N (repeatable; overrides the "
                  "topology)");
  app->add_option("--startup-delay", o->startup_delay,
                  "Time a new replica takes to become ready, for every service (overrides the topology)");
  app->add_option("--faults", o->faults, "Faults YAML file (docs/sim.md)");
  app->add_option("--truth", o->truth, "Write the faults' ground truth here (JSON lines)");
  app->add_option("--scale-api", o->scale_api,
                  "Serve the Kubernetes scale API and pod metrics on this address (e.g. 127.0.0.1:8001)");
  app->add_option("--listen-file", o->listen_file,
                  "Write the scale API's bound address as JSON to this file once serving");
  app->add_option("--summary", o->summary, "Write the summary as JSON to this file ('-' = stdout)");
  app->add_option("--slo", o->slo, "End-to-end latency objective for the summary")->capture_default_str();
  app->add_option("--start-time", o->start_time,
                  "Timestamp of simulated time 0 (RFC 3339); default now, or when running as fast "
                  "as possible, now minus the duration");
  app->add_option("--batch-spans", o->batch_spans, "Spans per export request (0 = automatic)");
  app->add_option("--connections", o->connections, "Parallel export connections")->capture_default_str();
  app->add_flag("--gzip", o->gzip, "Compress OTLP/HTTP requests");
  app->add_flag("--fault-attributes", o->fault_attributes,
                "Label spans affected by a fault with sim.fault.id (for debugging; real services "
                "do not know their faults)");
  app->add_flag("-q,--quiet", o->quiet, "No progress line");
  app->add_flag("--list-topologies", o->list_topologies, "Print the built-in topologies and exit");
  app->add_option("--print-topology", o->print_topology,
                  "Print a built-in topology's YAML (to copy and edit) and exit");
}

int RunSim(const SimCommandOptions& o) {
  if (o.list_topologies) {
    for (const std::string& name : BuiltinTopologyNames()) std::printf("%s\n", name.c_str());
    return 0;
  }
  if (!o.print_topology.empty()) {
    std::string_view yaml = BuiltinTopologyYaml(o.print_topology);
    if (yaml.empty()) {
      std::fprintf(stderr, "ariadne sim: no built-in topology '%s'\n", o.print_topology.c_str());
      return 2;
    }
    std::fwrite(yaml.data(), 1, yaml.size(), stdout);
    return 0;
  }
  // Spans may go to standard output ("-"): logs go to standard error.
  spdlog::set_default_logger(spdlog::stderr_color_mt("sim"));
  auto fail = [](const absl::Status& s) {
    std::fprintf(stderr, "ariadne sim: %s\n", std::string(s.message()).c_str());
    return 2;
  };
  auto topology = LoadTopology(o.topology);
  if (!topology.ok()) return fail(topology.status());
  for (const std::string& item : o.replicas) {
    const size_t eq = item.find('=');
    const std::string name = eq == std::string::npos ? "" : item.substr(0, eq);
    const std::string count = eq == std::string::npos ? item : item.substr(eq + 1);
    char* end = nullptr;
    const long n = std::strtol(count.c_str(), &end, 10);
    if (count.empty() || *end != '\0' || n < 0 || n > 1000) {
      return fail(absl::InvalidArgumentError(
          absl::StrCat("--replicas '", item, "': expected N or SERVICE=N with 0 <= N <= 1000")));
    }
    if (name.empty()) {
      for (Service& svc : topology->services) svc.replicas = static_cast<int>(n);
      continue;
    }
    const int s = topology->FindService(name);
    if (s < 0) {
      return fail(absl::InvalidArgumentError(
          absl::StrCat("--replicas '", item, "': no service '", name, "' in ", topology->name)));
    }
    topology->services[s].replicas = static_cast<int>(n);
  }
  if (!o.startup_delay.empty()) {
    auto delay = ParseDuration(o.startup_delay);
    if (!delay.ok()) return fail(delay.status());
    for (Service& svc : topology->services) svc.startup_delay = *delay;
  }
  auto duration = ParseDuration(o.duration);
  if (!duration.ok()) return fail(duration.status());
  if (*duration <= 0) return fail(absl::InvalidArgumentError("--duration must be > 0"));
  auto slo = ParseDuration(o.slo);
  if (!slo.ok()) return fail(slo.status());
  auto profile = RateProfile::Parse(o.profile, o.rps, *duration);
  if (!profile.ok()) return fail(profile.status());
  if (!o.as_fast_as_possible && !(o.speed > 0)) {
    return fail(absl::InvalidArgumentError("--speed must be > 0"));
  }

  SimOptions options;
  options.seed = o.seed;
  options.duration = *duration;
  options.profile = *profile;
  options.speed = o.as_fast_as_possible ? 0 : o.speed;
  options.slo = *slo;
  options.fault_attributes = o.fault_attributes;
  options.batch_spans = o.batch_spans > 0 ? o.batch_spans : (o.as_fast_as_possible ? 4096 : 512);
  if (!o.start_time.empty()) {
    absl::Time t;
    std::string err;
    if (!absl::ParseTime(absl::RFC3339_full, o.start_time, &t, &err)) {
      return fail(absl::InvalidArgumentError(
          absl::StrCat("--start-time '", o.start_time, "' is not RFC 3339: ", err)));
    }
    options.epoch_unix_nano = absl::ToUnixNanos(t);
  } else if (o.as_fast_as_possible) {
    options.epoch_unix_nano = (NowUnixNano() / kSecond) * kSecond - *duration;
  } else {
    options.epoch_unix_nano = NowUnixNano();
  }
  if (!o.faults.empty()) {
    auto text = ReadFile(o.faults);
    if (!text.ok()) return fail(text.status());
    auto faults = ParseFaults(*text, *topology);
    if (!faults.ok()) return fail(faults.status());
    options.faults = std::move(*faults);
  }
  if (!o.truth.empty()) {
    std::string lines;
    for (const Fault& f : options.faults) {
      lines += FaultTruthJson(f, *topology, options.epoch_unix_nano);
      lines += '\n';
    }
    if (auto s = WriteFile(o.truth, lines); !s.ok()) return fail(s);
  }

  std::unique_ptr<SpanSink> sink;
  const std::string target = !o.out.empty() ? o.out : o.otlp;
  if (target != "none" && !target.empty()) {
    SinkOptions sink_options;
    sink_options.connections = o.connections;
    sink_options.gzip = o.gzip;
    auto opened = OpenSink(target, sink_options);
    if (!opened.ok()) return fail(opened.status());
    sink = std::move(*opened);
  }

  Engine engine(*topology, options, sink.get());

  // The scale API, on its own thread.
  boost::asio::io_context io;
  ScaleApi api(&engine);
  std::unique_ptr<serve::HttpServer> server;
  std::thread io_thread;
  if (!o.scale_api.empty()) {
    serve::HttpServerOptions http_options;
    server = std::make_unique<serve::HttpServer>(io, "scale-api", &api, http_options);
    if (auto s = server->Listen(o.scale_api); !s.ok()) return fail(s);
    spdlog::info("scale API and pod metrics on http://{}", server->address());
    if (!o.listen_file.empty()) {
      const std::string json = fmt::format("{{\"scale_api\":\"{}\"}}\n", server->address());
      if (auto s = WriteFile(o.listen_file, json); !s.ok()) return fail(s);
    }
    io_thread = std::thread([&io] { io.run(); });
  }

  std::atomic<bool> stop{false}, done{false};
  std::thread signals(WatchSignals, &stop, &done);
  const bool tty = isatty(STDERR_FILENO) == 1;
  auto last_line = std::chrono::steady_clock::now();
  int64_t last_spans = 0;
  auto progress = [&](const Progress& p) {
    if (o.quiet) return;
    const auto now = std::chrono::steady_clock::now();
    const double dt = std::chrono::duration<double>(now - last_line).count();
    if (!tty && dt < 10 && p.sim_time < p.duration) return;
    const double rate = dt > 0 ? static_cast<double>(p.spans - last_spans) / dt : 0;
    last_line = now;
    last_spans = p.spans;
    std::fprintf(stderr, "%s%s / %s  %lld requests  %lld errors  %lld spans  %.0f spans/s%s",
                 tty ? "\r" : "", Clock(p.sim_time).c_str(), Clock(p.duration).c_str(),
                 static_cast<long long>(p.requests), static_cast<long long>(p.errors),
                 static_cast<long long>(p.spans), rate, tty ? "   " : "\n");
  };
  Summary summary = engine.Run(&stop, progress);
  if (!o.quiet && tty) std::fprintf(stderr, "\n");
  done.store(true);
  signals.join();

  int rc = 0;
  if (sink != nullptr) {
    if (auto s = sink->Close(std::chrono::seconds(30)); !s.ok()) {
      spdlog::error("spans not delivered: {}", StdView(s.message()));
      rc = 1;
    }
    summary.sink = sink->stats();
  }
  if (server != nullptr) {
    server->StopAccepting();
    io.stop();
    io_thread.join();
  }
  std::fprintf(stderr, "%s", summary.ToText().c_str());
  if (!o.summary.empty()) {
    if (auto s = WriteFile(o.summary, summary.ToJson() + "\n"); !s.ok()) return fail(s);
  }
  return stop.load() ? 130 : rc;
}

}  // namespace ariadne::sim
