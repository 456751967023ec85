#include "sim/faults.h"

#include "sim/yaml_util.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <set>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/strings.h"
#include "fmt/format.h"

namespace ariadne::sim {

using namespace yaml_util;  // NOLINT: the readers below are written in their terms

namespace {

struct TypeInfo {
  Fault::Type type;
  std::string_view name;
  // The keys this type takes besides id, type, start and duration.
  std::vector<std::string_view> keys;
};

const TypeInfo kTypes[] = {
    {Fault::Type::kLatency, "latency", {"service", "operation", "latency"}},
    {Fault::Type::kSlowdown, "slowdown", {"service", "operation", "factor"}},
    {Fault::Type::kErrors, "errors", {"service", "operation", "rate"}},
    {Fault::Type::kCpuSaturation, "cpu_saturation", {"service", "factor"}},
    {Fault::Type::kCrash, "crash", {"service", "replicas"}},
    {Fault::Type::kLeak, "leak", {"service", "rate", "leak_bytes_per_second"}},
    {Fault::Type::kNetworkDelay, "network_delay", {"caller", "callee", "latency"}},
};

constexpr std::string_view kEntryKeys[] = {"id",
                                           "type",
                                           "service",
                                           "operation",
                                           "caller",
                                           "callee",
                                           "start",
                                           "duration",
                                           "latency",
                                           "factor",
                                           "rate",
                                           "replicas",
                                           "leak_bytes_per_second"};

absl::Status ReadService(const YAML::Node& node, std::string_view path, const Topology& topology,
                         int* out) {
  std::string name;
  SIM_RETURN_IF_ERROR(ReadNonEmptyString(node, path, &name));
  *out = topology.FindService(name);
  if (*out < 0) {
    return Error(path, node, Cat("unknown service '", name, "' in topology ", topology.name));
  }
  return absl::OkStatus();
}

bool Calls(const Topology& topology, int caller, int callee) {
  for (const Operation& op : topology.services[caller].operations) {
    for (const Step& step : op.steps) {
      for (const Call& call : step.calls) {
        if (call.service == callee) return true;
      }
    }
  }
  return false;
}

absl::Status ParseFault(const YAML::Node& node, const std::string& path, const Topology& topology,
                        Fault* fault) {
  if (!node.IsMap()) return Error(path, node, "expected a map");
  std::set<std::string> seen;
  for (const auto& kv : node) {
    const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
    if (std::find(std::begin(kEntryKeys), std::end(kEntryKeys), key) == std::end(kEntryKeys)) {
      return Error(path, kv.first,
                   Cat("unknown key '", key, "' (known: ", Join(kEntryKeys, ", "), ")"));
    }
    if (!seen.insert(key).second) return Error(path, kv.first, Cat("duplicate key '", key, "'"));
  }
  const YAML::Node type_node = node["type"];
  if (!type_node) return Error(path, node, "missing key 'type'");
  std::string type_name;
  SIM_RETURN_IF_ERROR(ReadNonEmptyString(type_node, path + ".type", &type_name));
  const TypeInfo* info = nullptr;
  for (const TypeInfo& t : kTypes) {
    if (t.name == type_name) info = &t;
  }
  if (info == nullptr) {
    std::vector<std::string_view> names;
    for (const TypeInfo& t : kTypes) names.push_back(t.name);
    return Error(path + ".type", type_node,
                 Cat("unknown fault type '", type_name, "' (known: ", Join(names, ", "), ")"));
  }
  fault->type = info->type;
  for (const std::string& key : seen) {
    if (key == "id" || key == "type" || key == "start" || key == "duration") continue;
    if (std::find(info->keys.begin(), info->keys.end(), key) == info->keys.end()) {
      return Error(
          path + "." + key, node[key],
          Cat("does not apply to type ", info->name, " (it takes: ", Join(info->keys, ", "), ")"));
    }
  }
  // Every key the type takes is required, but for these.
  auto optional = [&](std::string_view key) {
    return key == "operation" || key == "replicas" ||
           (fault->type == Fault::Type::kLeak && key != "service");
  };
  for (std::string_view key : info->keys) {
    if (!optional(key) && !node[std::string(key)]) {
      return Error(path, node, Cat("type ", info->name, " needs key '", key, "'"));
    }
  }
  for (std::string_view key : {"start", "duration"}) {
    if (!node[std::string(key)]) return Error(path, node, Cat("missing key '", key, "'"));
  }

  if (const YAML::Node n = node["id"]) SIM_RETURN_IF_ERROR(ReadNonEmptyString(n, path + ".id", &fault->id));
  SIM_RETURN_IF_ERROR(ReadDuration(node["start"], path + ".start", &fault->start));
  SIM_RETURN_IF_ERROR(ReadDuration(node["duration"], path + ".duration", &fault->duration));
  if (fault->duration <= 0) return Error(path + ".duration", node["duration"], "must be > 0");
  if (fault->start > std::numeric_limits<Nanos>::max() - fault->duration) {
    return Error(path + ".duration", node["duration"], "start + duration is too far away");
  }
  if (const YAML::Node n = node["service"]) {
    SIM_RETURN_IF_ERROR(ReadService(n, path + ".service", topology, &fault->service));
  }
  if (const YAML::Node n = node["operation"]) {
    std::string name;
    SIM_RETURN_IF_ERROR(ReadNonEmptyString(n, path + ".operation", &name));
    const Service& service = topology.services[fault->service];
    fault->operation = service.FindOperation(name);
    if (fault->operation < 0) {
      return Error(path + ".operation", n,
                   Cat("unknown operation '", name, "' of service '", service.name, "'"));
    }
  }
  if (const YAML::Node n = node["caller"]) {
    SIM_RETURN_IF_ERROR(ReadService(n, path + ".caller", topology, &fault->caller));
  }
  if (const YAML::Node n = node["callee"]) {
    SIM_RETURN_IF_ERROR(ReadService(n, path + ".callee", topology, &fault->callee));
    if (!Calls(topology, fault->caller, fault->callee)) {
      return Error(path + ".callee", n,
                   Cat("service '", topology.services[fault->caller].name, "' never calls '",
                       topology.services[fault->callee].name, "'"));
    }
  }
  if (const YAML::Node n = node["latency"]) {
    SIM_RETURN_IF_ERROR(ReadDuration(n, path + ".latency", &fault->latency));
    if (fault->latency <= 0) return Error(path + ".latency", n, "must be > 0");
  }
  if (const YAML::Node n = node["factor"]) {
    SIM_RETURN_IF_ERROR(ReadDouble(n, path + ".factor", &fault->factor));
    if (fault->factor <= 1) return Error(path + ".factor", n, "must be greater than 1");
  }
  if (const YAML::Node n = node["rate"]) {
    SIM_RETURN_IF_ERROR(ReadDouble(n, path + ".rate", &fault->rate));
    if (fault->type == Fault::Type::kErrors && (fault->rate <= 0 || fault->rate > 1)) {
      return Error(path + ".rate", n, "must be in (0, 1]");
    }
    if (fault->rate < 0) return Error(path + ".rate", n, "must not be negative");
  }
  if (const YAML::Node n = node["replicas"]) {
    long long replicas = 0;
    bool ok = n.IsScalar();
    try {
      if (ok) replicas = n.as<long long>();
    } catch (const YAML::Exception&) {
      ok = false;
    }
    if (!ok || replicas < 1 || replicas > std::numeric_limits<int>::max()) {
      return Error(path + ".replicas", n, "expected an integer of at least 1");
    }
    fault->replicas = static_cast<int>(replicas);
  }
  if (const YAML::Node n = node["leak_bytes_per_second"]) {
    SIM_RETURN_IF_ERROR(
        ReadBytes(n, path + ".leak_bytes_per_second", &fault->leak_bytes_per_second));
  }
  if (fault->type == Fault::Type::kLeak && fault->rate <= 0 && fault->leak_bytes_per_second <= 0) {
    return Error(path, node, "type leak needs rate or leak_bytes_per_second greater than 0");
  }
  return absl::OkStatus();
}

std::string Rfc3339(int64_t unix_nano) {
  return absl::FormatTime("%Y-%m-%d%ET%H:%M:%E9SZ", absl::FromUnixNanos(unix_nano),
                          absl::UTCTimeZone());
}

}  // namespace

std::string_view FaultTypeName(Fault::Type type) {
  for (const TypeInfo& t : kTypes) {
    if (t.type == type) return t.name;
  }
  return "unknown";
}

absl::StatusOr<std::vector<Fault>> ParseFaults(std::string_view yaml, const Topology& topology) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        Cat("faults: invalid YAML at line ", e.mark.line + 1, ": ", e.msg));
  }
  std::vector<Fault> faults;
  if (!root.IsDefined() || root.IsNull()) return faults;  // an empty file: no faults
  if (!root.IsMap()) return Error("faults", root, "expected a map with the key 'faults'");
  for (const auto& kv : root) {
    if (!kv.first.IsScalar() || kv.first.Scalar() != "faults") {
      return Error("faults", kv.first,
                   Cat("unknown top-level key '", kv.first.IsScalar() ? kv.first.Scalar() : "",
                       "' (known: faults)"));
    }
  }
  const YAML::Node list = root["faults"];
  if (!list || list.IsNull()) return faults;
  if (!list.IsSequence()) return Error("faults", list, "expected a list of faults");
  std::set<std::string> ids;
  try {
    for (size_t i = 0; i < list.size(); ++i) {
      Fault fault;
      std::string path = Cat("faults[", i, "]");
      if (list[i].IsMap() && list[i]["id"] && list[i]["id"].IsScalar()) {
        path += Cat(" (", list[i]["id"].Scalar(), ")");
      }
      SIM_RETURN_IF_ERROR(ParseFault(list[i], path, topology, &fault));
      if (fault.id.empty()) fault.id = Cat("f", i + 1);
      if (!ids.insert(fault.id).second) {
        return Error(path, list[i], Cat("duplicate fault id '", fault.id, "'"));
      }
      faults.push_back(std::move(fault));
    }
  } catch (const YAML::Exception& e) {  // not expected: every access is checked
    return absl::InvalidArgumentError(Cat("faults: ", e.what()));
  }
  return faults;
}

std::string FaultTruthJson(const Fault& fault, const Topology& topology, int64_t epoch_unix_nano) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  auto string = [&](std::string_view s) {
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  };
  auto service_name = [&](int index) -> std::string_view {
    if (index < 0 || index >= static_cast<int>(topology.services.size())) return "";
    return topology.services[index].name;
  };
  const int64_t start = epoch_unix_nano + fault.start;
  const int64_t end = epoch_unix_nano + fault.end();
  w.StartObject();
  string("id");
  string(fault.id);
  string("type");
  string(FaultTypeName(fault.type));
  if (fault.service >= 0) {
    string("service");
    string(service_name(fault.service));
    if (fault.operation >= 0) {
      string("operation");
      string(topology.services[fault.service].operations[fault.operation].name);
    }
  }
  if (fault.caller >= 0) {
    string("caller");
    string(service_name(fault.caller));
  }
  if (fault.callee >= 0) {
    string("callee");
    string(service_name(fault.callee));
  }
  string("start");
  string(Rfc3339(start));
  string("end");
  string(Rfc3339(end));
  string("start_unix_nano");
  w.Int64(start);
  string("end_unix_nano");
  w.Int64(end);
  string("params");
  w.StartObject();
  switch (fault.type) {
    case Fault::Type::kLatency:
    case Fault::Type::kNetworkDelay:
      string("latency_ms");
      w.Double(static_cast<double>(fault.latency) / kMillisecond);
      break;
    case Fault::Type::kSlowdown:
    case Fault::Type::kCpuSaturation:
      string("factor");
      w.Double(fault.factor);
      break;
    case Fault::Type::kErrors:
      string("rate");
      w.Double(fault.rate);
      break;
    case Fault::Type::kCrash:
      string("replicas");
      w.Int(fault.replicas);
      break;
    case Fault::Type::kLeak:
      string("rate");
      w.Double(fault.rate);
      string("leak_bytes_per_second");
      w.Double(fault.leak_bytes_per_second);
      break;
  }
  w.EndObject();
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace ariadne::sim
