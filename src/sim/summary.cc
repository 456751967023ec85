#include "sim/summary.h"

#include <algorithm>
#include <cmath>

#include "fmt/format.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace ariadne::sim {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void Number(Writer* w, double v) {
  // Three decimals are plenty and keep the JSON diff-friendly.
  w->Double(std::isfinite(v) ? std::round(v * 1000) / 1000 : 0);
}

void WriteLatency(Writer* w, const LatencyStats& s) {
  w->StartObject();
  w->Key("count");
  w->Int64(s.count);
  w->Key("errors");
  w->Int64(s.errors);
  w->Key("slo_violations");
  w->Int64(s.slo_violations);
  w->Key("mean_ms");
  Number(w, s.mean_ms);
  w->Key("p50_ms");
  Number(w, s.p50_ms);
  w->Key("p95_ms");
  Number(w, s.p95_ms);
  w->Key("p99_ms");
  Number(w, s.p99_ms);
  w->Key("max_ms");
  Number(w, s.max_ms);
  w->EndObject();
}

}  // namespace

double Quantile(std::vector<float>* v, double q) {
  if (v->empty()) return 0;
  const size_t n = v->size();
  size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(n)));
  rank = std::clamp<size_t>(rank, 1, n);
  std::nth_element(v->begin(), v->begin() + static_cast<std::ptrdiff_t>(rank - 1), v->end());
  return (*v)[rank - 1];
}

std::string Summary::ToJson() const {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  w.Key("topology");
  w.String(topology.c_str());
  w.Key("seed");
  w.Uint64(seed);
  w.Key("sim_seconds");
  Number(&w, sim_seconds);
  w.Key("wall_seconds");
  Number(&w, wall_seconds);
  w.Key("cpu_seconds");
  Number(&w, cpu_seconds);
  w.Key("spans");
  w.Int64(spans);
  w.Key("spans_per_wall_second");
  Number(&w, wall_seconds > 0 ? static_cast<double>(spans) / wall_seconds : 0);
  w.Key("slo_ms");
  Number(&w, slo_ms);
  w.Key("requests");
  WriteLatency(&w, latency);
  w.Key("unfinished_requests");
  w.Int64(unfinished);
  w.Key("slo_violations_per_minute");
  Number(&w, slo_violations_per_minute);
  w.Key("faults");
  w.Int(faults);
  w.Key("request_types");
  w.StartArray();
  for (const RequestTypeSummary& t : request_types) {
    w.StartObject();
    w.Key("name");
    w.String(t.name.c_str());
    w.Key("latency");
    WriteLatency(&w, t.latency);
    w.EndObject();
  }
  w.EndArray();
  w.Key("services");
  w.StartArray();
  for (const ServiceSummary& s : services) {
    w.StartObject();
    w.Key("name");
    w.String(s.name.c_str());
    w.Key("replica_seconds");
    Number(&w, s.replica_seconds);
    w.Key("ready_replica_seconds");
    Number(&w, s.ready_replica_seconds);
    w.Key("cpu_seconds");
    Number(&w, s.cpu_seconds);
    w.Key("calls");
    w.Int64(s.calls);
    w.Key("errors");
    w.Int64(s.errors);
    w.Key("refused");
    w.Int64(s.refused);
    w.Key("max_replicas");
    w.Int(s.max_replicas);
    w.Key("final_replicas");
    w.Int(s.final_replicas);
    w.EndObject();
  }
  w.EndArray();
  w.Key("minutes");
  w.StartArray();
  for (const MinuteStats& m : minutes) {
    w.StartObject();
    w.Key("start_seconds");
    Number(&w, m.start_seconds);
    w.Key("latency");
    WriteLatency(&w, m.latency);
    w.Key("ready_replicas");
    w.StartArray();
    for (int r : m.ready_replicas) w.Int(r);
    w.EndArray();
    w.Key("cpu_cores");
    w.StartArray();
    for (double c : m.cpu_cores) Number(&w, c);
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.Key("sink");
  w.StartObject();
  w.Key("requests_sent");
  w.Int64(sink.requests_sent);
  w.Key("spans_sent");
  w.Int64(sink.spans_sent);
  w.Key("spans_rejected");
  w.Int64(sink.spans_rejected);
  w.Key("retries");
  w.Int64(sink.retries);
  w.Key("bytes_sent");
  w.Int64(sink.bytes_sent);
  w.EndObject();
  w.EndObject();
  return buffer.GetString();
}

std::string Summary::ToText() const {
  std::string out;
  const double rate = wall_seconds > 0 ? static_cast<double>(spans) / wall_seconds : 0;
  out += fmt::format("{}: {:.0f} s simulated in {:.1f} s ({:.1f} CPU s), {} spans ({:.0f}/s)\n",
                     topology, sim_seconds, wall_seconds, cpu_seconds, spans, rate);
  out += fmt::format(
      "requests {}  errors {} ({:.2f}%)  latency p50 {:.1f} ms  p95 {:.1f} ms  p99 {:.1f} ms\n",
      latency.count, latency.errors,
      latency.count > 0 ? 100.0 * static_cast<double>(latency.errors) / static_cast<double>(latency.count) : 0,
      latency.p50_ms, latency.p95_ms, latency.p99_ms);
  out += fmt::format("SLO {:.0f} ms: {} violations, {:.1f} per minute\n", slo_ms,
                     latency.slo_violations, slo_violations_per_minute);
  if (unfinished > 0) {
    out += fmt::format("{} requests still in flight at the end (not counted above)\n", unfinished);
  }
  out += fmt::format("{:<28} {:>10} {:>10} {:>10} {:>8} {:>8}\n", "service", "calls", "errors",
                     "replica-s", "cpu-s", "max-rep");
  for (const ServiceSummary& s : services) {
    out += fmt::format("{:<28} {:>10} {:>10} {:>10.0f} {:>8.1f} {:>8}\n", s.name, s.calls, s.errors,
                       s.replica_seconds, s.cpu_seconds, s.max_replicas);
  }
  if (sink.requests_sent > 0 || sink.spans_rejected > 0) {
    out += fmt::format("sent {} spans in {} requests ({} rejected, {} retries)\n", sink.spans_sent,
                       sink.requests_sent, sink.spans_rejected, sink.retries);
  }
  return out;
}

}  // namespace ariadne::sim
