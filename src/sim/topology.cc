#include "sim/topology.h"

#include "sim/yaml_util.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <functional>
#include <limits>
#include <numeric>
#include <optional>
#include <set>
#include <sstream>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/strings.h"
#include "fmt/format.h"

namespace ariadne::sim {

// The embedded YAML of the built-in topologies, generated at build time from
// src/sim/topologies/*.yaml (see src/sim/CMakeLists.txt).
namespace internal {
extern const int kBuiltinTopologyCount;
extern const std::string_view kBuiltinTopologyNames[];
extern const std::string_view kBuiltinTopologyYamls[];
}  // namespace internal

using namespace yaml_util;  // NOLINT: the readers below are written in their terms

namespace {

// A distribution: a bare duration (constant), or a map
//   {dist: constant|exponential|lognormal|empirical, mean: D, cv: X, samples: [D, ...]}
// where dist defaults to lognormal when cv is given and to constant otherwise.
absl::Status ReadDistribution(const YAML::Node& node, std::string_view path, Distribution* out) {
  Distribution d;
  if (node.IsScalar()) {
    Nanos mean = 0;
    SIM_RETURN_IF_ERROR(ReadDuration(node, path, &mean));
    d.kind = Distribution::Kind::kConstant;
    d.mean_s = static_cast<double>(mean) / kSecond;
    *out = d;
    return absl::OkStatus();
  }
  if (!node.IsMap()) {
    return Error(path, node, "expected a duration such as 2ms or a map such as {mean: 2ms, cv: 1}");
  }
  std::string dist;
  YAML::Node dist_node = Absent(), mean_node = Absent(), cv_node = Absent(),
             samples_node = Absent();
  SIM_RETURN_IF_ERROR(
      ForEachKey(node, path, {"dist", "mean", "cv", "samples"},
                 [&](const std::string& key, const YAML::Node& value, const std::string& key_path) {
                   if (key == "dist") {
                     dist_node.reset(value);
                     return ReadString(value, key_path, &dist);
                   }
                   if (key == "mean") {
                     mean_node.reset(value);
                     Nanos mean = 0;
                     SIM_RETURN_IF_ERROR(ReadDuration(value, key_path, &mean));
                     d.mean_s = static_cast<double>(mean) / kSecond;
                     return absl::OkStatus();
                   }
                   if (key == "cv") {
                     cv_node.reset(value);
                     SIM_RETURN_IF_ERROR(ReadDouble(value, key_path, &d.cv));
                     if (d.cv < 0) return Error(key_path, value, "must not be negative");
                     return absl::OkStatus();
                   }
                   samples_node.reset(value);
                   if (!value.IsSequence() || value.size() == 0) {
                     return Error(key_path, value, "expected a non-empty list of durations");
                   }
                   for (size_t i = 0; i < value.size(); ++i) {
                     Nanos sample = 0;
                     SIM_RETURN_IF_ERROR(ReadDuration(value[i], Index(key_path, i), &sample));
                     d.samples_s.push_back(static_cast<double>(sample) / kSecond);
                   }
                   std::sort(d.samples_s.begin(), d.samples_s.end());
                   return absl::OkStatus();
                 }));
  if (dist.empty()) dist = samples_node ? "empirical" : cv_node ? "lognormal" : "constant";
  const std::string dist_path = Child(path, "dist");
  if (dist == "empirical") {
    d.kind = Distribution::Kind::kEmpirical;
    if (!samples_node) return Error(path, node, "an empirical distribution needs samples");
    if (mean_node) return Error(Child(path, "mean"), mean_node, "does not apply to empirical");
    if (cv_node) return Error(Child(path, "cv"), cv_node, "does not apply to empirical");
  } else if (dist == "constant" || dist == "exponential" || dist == "lognormal") {
    d.kind = dist == "constant"      ? Distribution::Kind::kConstant
             : dist == "exponential" ? Distribution::Kind::kExponential
                                     : Distribution::Kind::kLognormal;
    if (!mean_node) return Error(path, node, Cat("a ", dist, " distribution needs a mean"));
    if (samples_node) {
      return Error(Child(path, "samples"), samples_node, "applies only to dist: empirical");
    }
    if (cv_node && d.kind != Distribution::Kind::kLognormal) {
      return Error(Child(path, "cv"), cv_node,
                   Cat("does not apply to dist: ", dist, " (only lognormal)"));
    }
  } else {
    return Error(dist_path, dist_node,
                 Cat("unknown distribution '", dist,
                     "' (known: constant, exponential, lognormal, empirical)"));
  }
  *out = std::move(d);
  return absl::OkStatus();
}

double Mean(const Distribution& d) {
  if (d.kind == Distribution::Kind::kEmpirical) {
    if (d.samples_s.empty()) return 0;
    return std::accumulate(d.samples_s.begin(), d.samples_s.end(), 0.0) / d.samples_s.size();
  }
  return d.mean_s;
}

std::optional<Protocol> ParseProtocol(std::string_view name) {
  if (name == "http") return Protocol::kHttp;
  if (name == "grpc") return Protocol::kGrpc;
  if (name == "thrift") return Protocol::kThrift;
  if (name == "database") return Protocol::kDatabase;
  return std::nullopt;
}

// Service keys that `defaults` may set (all but the service's identity and
// its protocol-specific names).
constexpr std::string_view kDefaultsKeys[] = {
    "protocol",    "language",      "replicas",    "workers", "queue_limit",
    "hold_worker", "startup_delay", "cpu_request", "memory",  "instrumented"};
constexpr std::string_view kServiceKeys[] = {
    "name",        "protocol",    "language",      "replicas",    "workers",
    "queue_limit", "hold_worker", "startup_delay", "cpu_request", "memory",
    "rpc_service", "db_system",   "instrumented",  "operations"};

// A "service.operation" reference waiting for every service to be known.
struct PendingCall {
  int service;  // the caller
  int operation;
  size_t step;
  size_t call;
  std::string target;
  std::string path;
  YAML::Node node;
};

// One edge of the call graph with where it was written, for cycle messages.
struct Edge {
  int callee_node;
  const PendingCall* call;
};

class Parser {
 public:
  absl::StatusOr<Topology> Parse(const YAML::Node& root) {
    if (!root.IsDefined() || root.IsNull()) return Error("", root, "the document is empty");
    YAML::Node name = Absent(), ns = Absent(), network = Absent(), defaults = Absent(),
               services_node = Absent(), requests = Absent();
    SIM_RETURN_IF_ERROR(
        ForEachKey(root, "", {"name", "namespace", "network", "defaults", "services", "requests"},
                   [&](const std::string& key, const YAML::Node& value, const std::string&) {
                     (key == "name"        ? name
                      : key == "namespace" ? ns
                      : key == "network"   ? network
                      : key == "defaults"  ? defaults
                      : key == "services"  ? services_node
                                           : requests)
                         .reset(value);
                     return absl::OkStatus();
                   }));
    if (!name) return Error("", root, "missing key 'name'");
    SIM_RETURN_IF_ERROR(ReadNonEmptyString(name, "name", &topology_.name));
    if (ns) SIM_RETURN_IF_ERROR(ReadNonEmptyString(ns, "namespace", &topology_.k8s_namespace));
    topology_.network.kind = Distribution::Kind::kLognormal;
    topology_.network.mean_s = 0.0003;
    topology_.network.cv = 0.5;
    if (network) SIM_RETURN_IF_ERROR(ReadDistribution(network, "network", &topology_.network));

    const YAML::Node services = services_node;  // const: lookups never insert
    Service template_service;
    if (defaults) {
      SIM_RETURN_IF_ERROR(ParseServiceKeys(defaults, "defaults", kDefaultsKeys, &template_service,
                                           &defaults_instrumented_));
    }
    if (!services || !services.IsSequence() || services.size() == 0) {
      return Error("services", services ? services : root, "expected a non-empty list of services");
    }
    // Names first, so that calls may refer to services defined further down.
    for (size_t i = 0; i < services.size(); ++i) {
      const std::string path = Index("services", i);
      const YAML::Node& node = services[i];
      if (!node.IsMap()) return Error(path, node, "expected a map");
      if (!node["name"]) return Error(path, node, "missing key 'name'");
      std::string service_name;
      SIM_RETURN_IF_ERROR(ReadNonEmptyString(node["name"], Child(path, "name"), &service_name));
      if (topology_.FindService(service_name) >= 0) {
        return Error(Child(path, "name"), node["name"],
                     Cat("duplicate service '", service_name, "'"));
      }
      Service& service = topology_.services.emplace_back(template_service);
      service.name = std::move(service_name);
    }
    for (size_t i = 0; i < services.size(); ++i) {
      SIM_RETURN_IF_ERROR(ParseService(services[i], Index("services", i), static_cast<int>(i)));
    }
    SIM_RETURN_IF_ERROR(ResolveCalls());
    SIM_RETURN_IF_ERROR(CheckCycles());
    SIM_RETURN_IF_ERROR(ParseRequests(requests, root));
    return std::move(topology_);
  }

 private:
  // The keys of a service (or of `defaults`) except name and operations.
  absl::Status ParseServiceKeys(const YAML::Node& node, std::string_view path,
                                absl::Span<const std::string_view> known, Service* service,
                                std::optional<bool>* instrumented) {
    return ForEachKey(
        node, path, known,
        [&](const std::string& key, const YAML::Node& value, const std::string& key_path) {
          if (key == "name" || key == "operations") return absl::OkStatus();  // by the caller
          if (key == "protocol") {
            std::string text;
            SIM_RETURN_IF_ERROR(ReadString(value, key_path, &text));
            std::optional<Protocol> protocol = ParseProtocol(text);
            if (!protocol) {
              return Error(
                  key_path, value,
                  Cat("unknown protocol '", text, "' (known: http, grpc, thrift, database)"));
            }
            service->protocol = *protocol;
            return absl::OkStatus();
          }
          if (key == "language") return ReadNonEmptyString(value, key_path, &service->language);
          if (key == "replicas") {
            return ReadInt(value, key_path, 0, std::numeric_limits<int>::max(), &service->replicas);
          }
          if (key == "workers") {
            return ReadInt(value, key_path, 1, std::numeric_limits<int>::max(), &service->workers);
          }
          if (key == "queue_limit") {
            return ReadInt(value, key_path, 0, std::numeric_limits<int>::max(),
                           &service->queue_limit);
          }
          if (key == "hold_worker") return ReadBool(value, key_path, &service->hold_worker);
          if (key == "startup_delay") return ReadDuration(value, key_path, &service->startup_delay);
          if (key == "cpu_request") return ReadCores(value, key_path, &service->cpu_request);
          if (key == "memory") return ParseMemory(value, key_path, service);
          if (key == "rpc_service")
            return ReadNonEmptyString(value, key_path, &service->rpc_service);
          if (key == "db_system") return ReadNonEmptyString(value, key_path, &service->db_system);
          if (key == "instrumented") {
            bool b = false;
            SIM_RETURN_IF_ERROR(ReadBool(value, key_path, &b));
            *instrumented = b;
            return absl::OkStatus();
          }
          return Error(key_path, value, "internal: unhandled key");
        });
  }

  static absl::Status ParseMemory(const YAML::Node& node, std::string_view path, Service* service) {
    YAML::Node base = Absent(), limit = Absent();
    SIM_RETURN_IF_ERROR(ForEachKey(
        node, path, {"base", "per_request", "limit"},
        [&](const std::string& key, const YAML::Node& value, const std::string& key_path) {
          if (key == "base") {
            base.reset(value);
            return ReadBytes(value, key_path, &service->memory_base_bytes);
          }
          if (key == "per_request") {
            return ReadBytes(value, key_path, &service->memory_per_request_bytes);
          }
          limit.reset(value);
          return ReadBytes(value, key_path, &service->memory_limit_bytes);
        }));
    if (service->memory_limit_bytes <= service->memory_base_bytes) {
      return Error(Child(path, limit ? "limit" : "base"), limit ? limit : base,
                   "memory.limit must be greater than memory.base");
    }
    return absl::OkStatus();
  }

  absl::Status ParseService(const YAML::Node& node, const std::string& path, int index) {
    Service& service = topology_.services[index];
    std::optional<bool> instrumented = defaults_instrumented_;
    SIM_RETURN_IF_ERROR(ParseServiceKeys(node, path, kServiceKeys, &service, &instrumented));
    const bool rpc = service.protocol == Protocol::kGrpc || service.protocol == Protocol::kThrift;
    const bool database = service.protocol == Protocol::kDatabase;
    if (node["rpc_service"] && !rpc) {
      return Error(Child(path, "rpc_service"), node["rpc_service"],
                   "applies only to protocol grpc or thrift");
    }
    if (node["db_system"] && !database) {
      return Error(Child(path, "db_system"), node["db_system"],
                   "applies only to protocol database");
    }
    if (database && service.db_system.empty()) {
      return Error(path, node, "a database service needs db_system (redis, mongodb, mysql, ...)");
    }
    if (rpc && service.rpc_service.empty()) service.rpc_service = service.name;
    service.instrumented = instrumented.value_or(!database);

    const YAML::Node operations = node["operations"];
    const std::string ops_path = Child(path, "operations");
    if (!operations || !operations.IsSequence() || operations.size() == 0) {
      return Error(ops_path, operations ? operations : node,
                   "expected a non-empty list of operations");
    }
    for (size_t j = 0; j < operations.size(); ++j) {
      SIM_RETURN_IF_ERROR(ParseOperation(operations[j], Index(ops_path, j), index));
    }
    return absl::OkStatus();
  }

  absl::Status ParseOperation(const YAML::Node& node, const std::string& path, int service_index) {
    Service& service = topology_.services[service_index];
    const int op_index = static_cast<int>(service.operations.size());
    Operation& op = service.operations.emplace_back();
    YAML::Node calls = Absent();
    bool has_name = false;
    SIM_RETURN_IF_ERROR(ForEachKey(
        node, path, {"name", "span_name", "http", "db", "time", "error_rate", "calls"},
        [&](const std::string& key, const YAML::Node& value, const std::string& key_path) {
          if (key == "name") {
            has_name = true;
            SIM_RETURN_IF_ERROR(ReadNonEmptyString(value, key_path, &op.name));
            if (service.FindOperation(op.name) != op_index) {
              return Error(
                  key_path, value,
                  Cat("duplicate operation '", op.name, "' in service '", service.name, "'"));
            }
            return absl::OkStatus();
          }
          if (key == "span_name") return ReadNonEmptyString(value, key_path, &op.span_name);
          if (key == "http") {
            if (service.protocol != Protocol::kHttp) {
              return Error(key_path, value, "applies only to protocol http");
            }
            return ForEachKey(value, key_path, {"method", "route"},
                              [&](const std::string& k, const YAML::Node& v, const std::string& p) {
                                if (k == "method") {
                                  SIM_RETURN_IF_ERROR(ReadNonEmptyString(v, p, &op.http_method));
                                  op.http_method = absl::AsciiStrToUpper(op.http_method);
                                  return absl::OkStatus();
                                }
                                SIM_RETURN_IF_ERROR(ReadNonEmptyString(v, p, &op.http_route));
                                if (op.http_route.front() != '/') {
                                  return Error(p, v, "must start with '/'");
                                }
                                return absl::OkStatus();
                              });
          }
          if (key == "db") {
            if (service.protocol != Protocol::kDatabase) {
              return Error(key_path, value, "applies only to protocol database");
            }
            return ForEachKey(value, key_path, {"operation", "statement"},
                              [&](const std::string& k, const YAML::Node& v, const std::string& p) {
                                return k == "operation" ? ReadNonEmptyString(v, p, &op.db_operation)
                                                        : ReadString(v, p, &op.db_statement);
                              });
          }
          if (key == "time") return ReadDistribution(value, key_path, &op.service_time);
          if (key == "error_rate") return ReadProbability(value, key_path, &op.error_rate);
          calls.reset(value);
          return absl::OkStatus();
        }));
    if (!has_name) return Error(path, node, "missing key 'name'");
    switch (service.protocol) {
      case Protocol::kHttp:
        if (op.http_method.empty()) op.http_method = "GET";
        if (op.http_route.empty()) op.http_route = "/" + op.name;
        if (op.span_name.empty()) op.span_name = Cat(op.http_method, " ", op.http_route);
        break;
      case Protocol::kGrpc:
      case Protocol::kThrift:
        if (op.span_name.empty()) op.span_name = Cat(service.rpc_service, "/", op.name);
        break;
      case Protocol::kDatabase:
        if (op.db_operation.empty()) op.db_operation = op.name;
        if (op.span_name.empty()) op.span_name = op.db_operation;
        break;
    }
    if (!calls || calls.IsNull()) return absl::OkStatus();  // "calls:" with nothing: none
    const std::string calls_path = Child(path, "calls");
    if (service.protocol == Protocol::kDatabase) {
      return Error(calls_path, calls, "database operations make no calls (they are leaves)");
    }
    const YAML::Node list = calls;
    if (!list.IsSequence()) return Error(calls_path, list, "expected a list of calls");
    for (size_t k = 0; k < list.size(); ++k) {
      SIM_RETURN_IF_ERROR(ParseStep(list[k], Index(calls_path, k), service_index, op_index));
    }
    return absl::OkStatus();
  }

  // One entry of `calls`: "service.operation", {call: ..., ...} or {parallel: [...]}.
  absl::Status ParseStep(const YAML::Node& node, const std::string& path, int service_index,
                         int op_index) {
    if (node.IsMap() && node["parallel"]) {
      Step step;
      step.parallel = true;
      YAML::Node list_node = Absent();
      SIM_RETURN_IF_ERROR(ForEachKey(
          node, path, {"parallel", "concurrency"},
          [&](const std::string& key, const YAML::Node& value, const std::string& key_path) {
            if (key == "concurrency") {
              return ReadInt(value, key_path, 0, std::numeric_limits<int>::max(),
                             &step.concurrency);
            }
            list_node.reset(value);
            return absl::OkStatus();
          }));
      const YAML::Node list = list_node;
      const std::string list_path = Child(path, "parallel");
      if (!list.IsSequence() || list.size() == 0) {
        return Error(list_path, list, "expected a non-empty list of calls");
      }
      std::vector<Step>& steps = Op(service_index, op_index).steps;
      const size_t step_index = steps.size();
      steps.push_back(std::move(step));
      for (size_t i = 0; i < list.size(); ++i) {
        const std::string item_path = Index(list_path, i);
        if (list[i].IsMap() && list[i]["parallel"]) {
          return Error(item_path, list[i], "parallel groups cannot nest");
        }
        Call call;
        std::string target;
        int repeat = 1;
        SIM_RETURN_IF_ERROR(ParseCall(list[i], item_path, &call, &target, &repeat));
        for (int r = 0; r < repeat; ++r) {
          std::vector<Call>& calls = Op(service_index, op_index).steps[step_index].calls;
          pending_.push_back(
              {service_index, op_index, step_index, calls.size(), target, item_path, list[i]});
          calls.push_back(call);
        }
      }
      return absl::OkStatus();
    }
    Call call;
    std::string target;
    int repeat = 1;
    SIM_RETURN_IF_ERROR(ParseCall(node, path, &call, &target, &repeat));
    for (int r = 0; r < repeat; ++r) {
      std::vector<Step>& steps = Op(service_index, op_index).steps;
      pending_.push_back({service_index, op_index, steps.size(), 0, target, path, node});
      Step step;
      step.calls.push_back(call);
      steps.push_back(std::move(step));
    }
    return absl::OkStatus();
  }

  static absl::Status ParseCall(const YAML::Node& node, const std::string& path, Call* call,
                                std::string* target, int* repeat) {
    if (node.IsScalar()) return ReadNonEmptyString(node, path, target);
    if (!node.IsMap())
      return Error(path, node, "expected \"service.operation\" or a map with call");
    bool has_call = false;
    SIM_RETURN_IF_ERROR(ForEachKey(
        node, path,
        {"call", "timeout", "retries", "retry_backoff", "probability", "optional", "repeat"},
        [&](const std::string& key, const YAML::Node& value, const std::string& key_path) {
          if (key == "call") {
            has_call = true;
            return ReadNonEmptyString(value, key_path, target);
          }
          if (key == "timeout") return ReadDuration(value, key_path, &call->timeout);
          if (key == "retries") return ReadInt(value, key_path, 0, 100, &call->retries);
          if (key == "retry_backoff") return ReadDuration(value, key_path, &call->retry_backoff);
          if (key == "probability") return ReadProbability(value, key_path, &call->probability);
          if (key == "optional") return ReadBool(value, key_path, &call->optional);
          return ReadInt(value, key_path, 1, 10000, repeat);
        }));
    if (!has_call) return Error(path, node, "missing key 'call'");
    return absl::OkStatus();
  }

  Operation& Op(int service, int operation) {
    return topology_.services[service].operations[operation];
  }

  // "service.operation" → indices; the service name is the longest prefix
  // before a '.' that names a service (service names may contain dots).
  bool Resolve(std::string_view target, int* service, int* operation, std::string* why) const {
    int best = -1;
    size_t best_len = 0;
    for (size_t dot = target.find('.'); dot != std::string_view::npos;
         dot = target.find('.', dot + 1)) {
      const int s = topology_.FindService(target.substr(0, dot));
      if (s >= 0) {
        best = s;
        best_len = dot;
      }
    }
    if (best < 0) {
      const size_t dot = target.find('.');
      *why = dot == std::string_view::npos
                 ? Cat("expected \"service.operation\", got '", target, "'")
                 : Cat("unknown service '", target.substr(0, dot), "' in '", target, "'");
      return false;
    }
    const std::string_view op_name = target.substr(best_len + 1);
    const Service& s = topology_.services[best];
    const int o = s.FindOperation(op_name);
    if (o < 0) {
      std::vector<std::string_view> names;
      for (const Operation& op : s.operations) names.push_back(op.name);
      *why = Cat("unknown operation '", op_name, "' of service '", s.name,
                 "' (it has: ", Join(names, ", "), ")");
      return false;
    }
    *service = best;
    *operation = o;
    return true;
  }

  absl::Status ResolveCalls() {
    for (const PendingCall& p : pending_) {
      int service = -1, operation = -1;
      std::string why;
      if (!Resolve(p.target, &service, &operation, &why)) return Error(p.path, p.node, why);
      Call& call = Op(p.service, p.operation).steps[p.step].calls[p.call];
      call.service = service;
      call.operation = operation;
    }
    return absl::OkStatus();
  }

  // The service.operation call graph must be acyclic: a cycle would recurse forever.
  absl::Status CheckCycles() {
    std::vector<int> first(topology_.services.size() + 1, 0);
    for (size_t s = 0; s < topology_.services.size(); ++s) {
      first[s + 1] = first[s] + static_cast<int>(topology_.services[s].operations.size());
    }
    const int n = first.back();
    std::vector<std::vector<Edge>> edges(n);
    for (const PendingCall& p : pending_) {
      const Call& call = Op(p.service, p.operation).steps[p.step].calls[p.call];
      edges[first[p.service] + p.operation].push_back({first[call.service] + call.operation, &p});
    }
    auto name = [&](int node) {
      const int s =
          static_cast<int>(std::upper_bound(first.begin(), first.end(), node) - first.begin()) - 1;
      return Cat(topology_.services[s].name, ".",
                 topology_.services[s].operations[node - first[s]].name);
    };
    enum Color : uint8_t { kWhite, kGrey, kBlack };
    std::vector<Color> color(n, kWhite);
    std::vector<int> stack;  // the grey path
    std::function<absl::Status(int)> visit = [&](int node) -> absl::Status {
      color[node] = kGrey;
      stack.push_back(node);
      for (const Edge& e : edges[node]) {
        if (color[e.callee_node] == kGrey) {
          std::vector<std::string> cycle;
          auto it = std::find(stack.begin(), stack.end(), e.callee_node);
          for (; it != stack.end(); ++it) cycle.push_back(name(*it));
          cycle.push_back(name(e.callee_node));
          return Error(e.call->path, e.call->node, Cat("call cycle ", Join(cycle, " -> ")));
        }
        if (color[e.callee_node] == kWhite) SIM_RETURN_IF_ERROR(visit(e.callee_node));
      }
      stack.pop_back();
      color[node] = kBlack;
      return absl::OkStatus();
    };
    for (int node = 0; node < n; ++node) {
      if (color[node] == kWhite) SIM_RETURN_IF_ERROR(visit(node));
    }
    return absl::OkStatus();
  }

  absl::Status ParseRequests(const YAML::Node& requests, const YAML::Node& root) {
    if (!requests || !requests.IsSequence() || requests.size() == 0) {
      return Error("requests", requests ? requests : root,
                   "expected a non-empty list of request types (the request mix)");
    }
    for (size_t i = 0; i < requests.size(); ++i) {
      const std::string path = Index("requests", i);
      const YAML::Node& node = requests[i];
      RequestType request;
      std::string target;
      YAML::Node call_node = Absent(), name_node = Absent();
      SIM_RETURN_IF_ERROR(ForEachKey(
          node, path, {"name", "call", "weight"},
          [&](const std::string& key, const YAML::Node& value, const std::string& key_path) {
            if (key == "name") {
              name_node.reset(value);
              return ReadNonEmptyString(value, key_path, &request.name);
            }
            if (key == "call") {
              call_node.reset(value);
              return ReadNonEmptyString(value, key_path, &target);
            }
            SIM_RETURN_IF_ERROR(ReadDouble(value, key_path, &request.weight));
            if (request.weight <= 0) return Error(key_path, value, "must be greater than 0");
            return absl::OkStatus();
          }));
      if (!call_node) return Error(path, node, "missing key 'call'");
      std::string why;
      if (!Resolve(target, &request.service, &request.operation, &why)) {
        return Error(Child(path, "call"), call_node, why);
      }
      const Service& entry = topology_.services[request.service];
      if (entry.protocol == Protocol::kDatabase) {
        return Error(Child(path, "call"), call_node,
                     Cat("requests cannot enter at database service '", entry.name, "'"));
      }
      if (request.name.empty()) request.name = entry.operations[request.operation].name;
      for (const RequestType& other : topology_.requests) {
        if (other.name == request.name) {
          return Error(Child(path, "name"), name_node ? name_node : node,
                       Cat("duplicate request name '", request.name, "'"));
        }
      }
      topology_.requests.push_back(std::move(request));
    }
    return absl::OkStatus();
  }

  Topology topology_;
  std::optional<bool> defaults_instrumented_;
  std::vector<PendingCall> pending_;
};

}  // namespace

int Service::FindOperation(std::string_view operation_name) const {
  for (size_t i = 0; i < operations.size(); ++i) {
    if (operations[i].name == operation_name) return static_cast<int>(i);
  }
  return -1;
}

int Topology::FindService(std::string_view service_name) const {
  for (size_t i = 0; i < services.size(); ++i) {
    if (services[i].name == service_name) return static_cast<int>(i);
  }
  return -1;
}

absl::StatusOr<Topology> ParseTopology(std::string_view yaml) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        Cat("topology: invalid YAML at line ", e.mark.line + 1, ": ", e.msg));
  }
  try {
    return Parser().Parse(root);
  } catch (const YAML::Exception& e) {  // not expected: every access is checked
    return absl::InvalidArgumentError(Cat("topology: ", e.what()));
  }
}

absl::StatusOr<Topology> LoadTopology(std::string_view name_or_path) {
  if (std::string_view yaml = BuiltinTopologyYaml(name_or_path); !yaml.empty()) {
    absl::StatusOr<Topology> t = ParseTopology(yaml);
    if (!t.ok()) {  // a broken built-in is a bug; the tests parse them all
      return absl::InternalError(
          Cat("built-in topology ", name_or_path, ": ", StdView(t.status().message())));
    }
    return t;
  }
  std::ifstream in{std::string(name_or_path), std::ios::binary};
  if (!in) {
    return absl::NotFoundError(Cat("no built-in topology or readable file named '", name_or_path,
                                   "' (built-in: ", Join(BuiltinTopologyNames(), ", "), ")"));
  }
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<Topology> t = ParseTopology(text.str());
  if (!t.ok()) {
    return absl::Status(t.status().code(), Cat(name_or_path, ": ", StdView(t.status().message())));
  }
  return t;
}

std::vector<std::string> BuiltinTopologyNames() {
  std::vector<std::string> names;
  for (int i = 0; i < internal::kBuiltinTopologyCount; ++i) {
    names.emplace_back(internal::kBuiltinTopologyNames[i]);
  }
  return names;
}

std::string_view BuiltinTopologyYaml(std::string_view name) {
  for (int i = 0; i < internal::kBuiltinTopologyCount; ++i) {
    if (internal::kBuiltinTopologyNames[i] == name) return internal::kBuiltinTopologyYamls[i];
  }
  return {};
}

std::vector<double> ExpectedBusyWorkers(const Topology& topology, double rps) {
  const size_t num_services = topology.services.size();
  std::vector<int> first(num_services + 1, 0);
  for (size_t s = 0; s < num_services; ++s) {
    first[s + 1] = first[s] + static_cast<int>(topology.services[s].operations.size());
  }
  const int n = first.back();
  std::vector<double> rate(n, 0.0);  // invocations per second of each service.operation
  double total_weight = 0;
  for (const RequestType& r : topology.requests) total_weight += r.weight;
  if (total_weight <= 0) return std::vector<double>(num_services, 0.0);
  for (const RequestType& r : topology.requests) {
    rate[first[r.service] + r.operation] += rps * r.weight / total_weight;
  }
  // Callers before callees: reverse post-order of a depth-first walk (the graph is acyclic).
  std::vector<uint8_t> state(n, 0);  // 0 unvisited, 1 on the path, 2 done
  std::vector<int> post_order;
  std::function<void(int, int)> visit = [&](int s, int o) {
    const int node = first[s] + o;
    state[node] = 1;
    for (const Step& step : topology.services[s].operations[o].steps) {
      for (const Call& c : step.calls) {
        if (state[first[c.service] + c.operation] == 0) visit(c.service, c.operation);
      }
    }
    state[node] = 2;
    post_order.push_back(node);
  };
  for (size_t s = 0; s < num_services; ++s) {
    for (size_t o = 0; o < topology.services[s].operations.size(); ++o) {
      if (state[first[s] + o] == 0) visit(static_cast<int>(s), static_cast<int>(o));
    }
  }
  std::vector<double> busy(num_services, 0.0);
  for (auto it = post_order.rbegin(); it != post_order.rend(); ++it) {
    const int node = *it;
    const int s =
        static_cast<int>(std::upper_bound(first.begin(), first.end(), node) - first.begin()) - 1;
    const Operation& op = topology.services[s].operations[node - first[s]];
    busy[s] += rate[node] * Mean(op.service_time);
    for (const Step& step : op.steps) {
      for (const Call& c : step.calls)
        rate[first[c.service] + c.operation] += rate[node] * c.probability;
    }
  }
  return busy;
}

absl::StatusOr<Nanos> ParseDuration(std::string_view text) {
  const std::string_view s = Strip(text);
  absl::Duration d;
  double seconds = 0;
  if (absl::ParseDuration(AbslView(s), &d)) {
    if (d < absl::ZeroDuration()) {
      return absl::InvalidArgumentError(Cat("negative duration '", s, "'"));
    }
  } else if (!s.empty() &&
             (absl::ascii_isdigit(s.front()) || s.front() == '.' || s.front() == '-' ||
              s.front() == '+') &&
             absl::SimpleAtod(AbslView(s), &seconds) && std::isfinite(seconds)) {
    if (seconds < 0) return absl::InvalidArgumentError(Cat("negative duration '", s, "'"));
    d = seconds > 1e10 ? absl::InfiniteDuration() : absl::Seconds(seconds);
  } else {
    return absl::InvalidArgumentError(
        Cat("invalid duration '", s,
            "' (use e.g. 250us, 2ms, 1.5s, 10m, 1h; bare numbers are seconds)"));
  }
  if (d >= absl::Nanoseconds(std::numeric_limits<int64_t>::max())) {
    return absl::InvalidArgumentError(Cat("duration '", s, "' is too long"));
  }
  return absl::ToInt64Nanoseconds(d);
}

}  // namespace ariadne::sim
