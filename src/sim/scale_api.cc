#include "sim/scale_api.h"

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <limits>
#include <optional>
#include <unordered_map>

namespace ariadne::sim {

using serve::HttpRequest;
using serve::HttpResponse;
using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

namespace {

constexpr std::string_view kMergePatch = "application/merge-patch+json";
constexpr std::string_view kStrategicMergePatch = "application/strategic-merge-patch+json";
constexpr std::string_view kJsonPatch = "application/json-patch+json";
constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

// ---------------------------------------------------------------------------
// JSON output

// `s` with every byte that is not part of a well-formed UTF-8 sequence
// (RFC 3629: no overlong forms, surrogates or code points over U+10FFFF)
// replaced by U+FFFD, as the API server's encoding/json does.
std::string ValidUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 16);
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    size_t len = 0;
    uint32_t cp = 0, min = 0;
    if ((c & 0xe0) == 0xc0) {
      len = 2, cp = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3, cp = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4, cp = c & 0x07, min = 0x10000;
    }
    bool ok = len > 0 && len <= s.size() - i;
    for (size_t k = 1; ok && k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      ok = (cc & 0xc0) == 0x80;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (ok && cp >= min && cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff)) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out += "\xef\xbf\xbd";  // U+FFFD
      ++i;
    }
  }
  return out;
}

// Strings from the request (a name in the path, the Content-Type) may be any
// bytes; the answer must still be JSON, so they are made valid UTF-8 first.
void Str(JsonWriter& w, std::string_view s) {
  if (simdjson::validate_utf8(s.data(), s.size())) {
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
    return;
  }
  const std::string valid = ValidUtf8(s);
  w.String(valid.data(), static_cast<rapidjson::SizeType>(valid.size()));
}

void KeyStr(JsonWriter& w, std::string_view key, std::string_view value) {
  Str(w, key);
  Str(w, value);
}

HttpResponse Json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = std::move(body);
  return r;
}

std::string_view ReasonFor(int code) {
  switch (code) {
    case 400:
      return "BadRequest";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 405:
      return "MethodNotAllowed";
    case 409:
      return "Conflict";
    case 413:
      return "RequestEntityTooLarge";
    case 415:
      return "UnsupportedMediaType";
    case 422:
      return "Invalid";
    case 429:
      return "TooManyRequests";
    case 503:
      return "ServiceUnavailable";
    case 504:
      return "Timeout";
    default:
      return code >= 500 ? "InternalError" : "BadRequest";
  }
}

// A field error of an Invalid (422) Status: details.causes[].
struct Cause {
  std::string reason{};  // FieldValueInvalid, FieldValueRequired, ...
  std::string message{};
  std::string field{};
};

// metav1.Status with status "Failure". `details` is written when it has a
// name or causes (Kubernetes omits it for BadRequest).
struct Failure {
  int code = 500;
  std::string message{};
  std::string name{};   // details.name
  std::string group{};  // details.group
  std::string kind{};   // details.kind
  std::vector<Cause> causes{};
  bool empty_details = false;  // write "details":{} (NotFound of a path, 405)
};

HttpResponse StatusResponse(const Failure& f) {
  rapidjson::StringBuffer sb;
  JsonWriter w(sb);
  w.StartObject();
  KeyStr(w, "kind", "Status");
  KeyStr(w, "apiVersion", "v1");
  w.Key("metadata");
  w.StartObject();
  w.EndObject();
  KeyStr(w, "status", "Failure");
  KeyStr(w, "message", f.message);
  KeyStr(w, "reason", ReasonFor(f.code));
  if (!f.name.empty() || !f.kind.empty() || !f.causes.empty() || f.empty_details) {
    w.Key("details");
    w.StartObject();
    if (!f.name.empty()) KeyStr(w, "name", f.name);
    if (!f.group.empty()) KeyStr(w, "group", f.group);
    if (!f.kind.empty()) KeyStr(w, "kind", f.kind);
    if (!f.causes.empty()) {
      w.Key("causes");
      w.StartArray();
      for (const Cause& c : f.causes) {
        w.StartObject();
        KeyStr(w, "reason", c.reason);
        KeyStr(w, "message", c.message);
        KeyStr(w, "field", c.field);
        w.EndObject();
      }
      w.EndArray();
    }
    w.EndObject();
  }
  w.Key("code");
  w.Int(f.code);
  w.EndObject();
  return Json(f.code, sb.GetString());
}

HttpResponse BadRequest(std::string message) {
  return StatusResponse({.code = 400, .message = std::move(message)});
}

HttpResponse DeploymentNotFound(std::string_view name) {
  return StatusResponse({.code = 404,
                         .message = fmt::format("deployments.apps \"{}\" not found", name),
                         .name = std::string(name),
                         .group = "apps",
                         .kind = "deployments"});
}

HttpResponse PathNotFound() {
  return StatusResponse({.code = 404,
                         .message = "the server could not find the requested resource",
                         .empty_details = true});
}

HttpResponse MethodNotAllowed(std::string_view method, std::string_view allow) {
  HttpResponse r = StatusResponse(
      {.code = 405,
       .message = fmt::format("the server does not allow this method on the requested resource "
                              "(method {}; allowed: {})",
                              method, allow),
       .empty_details = true});
  r.headers.emplace_back("Allow", std::string(allow));
  return r;
}

HttpResponse UnsupportedMediaType(std::string_view content_type, std::string_view accepted) {
  return StatusResponse(
      {.code = 415,
       .message = fmt::format("the body of the request was in an unknown format (Content-Type "
                              "\"{}\") - accepted media types include: {}",
                              content_type, accepted)});
}

// 422 Invalid for a Scale, as the API server's validation reports it.
HttpResponse InvalidScale(std::string_view name, Cause cause) {
  std::string message = fmt::format("Scale.autoscaling \"{}\" is invalid: {}: {}", name,
                                    cause.field, cause.message);
  return StatusResponse({.code = 422,
                         .message = std::move(message),
                         .name = std::string(name),
                         .group = "autoscaling",
                         .kind = "Scale",
                         .causes = {std::move(cause)}});
}

// A deterministic UUID-shaped uid for an object, stable across calls.
std::string Uid(std::string_view ns, std::string_view name) {
  auto fnv = [&](uint64_t h) {
    for (std::string_view part : {ns, std::string_view("/"), name}) {
      for (unsigned char c : part) {
        h ^= c;
        h *= 1099511628211ull;
      }
    }
    return h;
  };
  const uint64_t a = fnv(14695981039346656037ull);
  const uint64_t b = fnv(0x9e3779b97f4a7c15ull);
  return fmt::format("{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xffff,
                     a & 0xfff, 0x8000 | ((b >> 48) & 0x3fff), b & 0xffffffffffffull);
}

// The simulation's start, in the spans' clock, as RFC 3339 (seconds).
std::string CreationTimestamp(const ClusterSnapshot& s) {
  const int64_t start_ms = s.unix_millis - std::llround(s.sim_seconds * 1000.0);
  std::time_t t = static_cast<std::time_t>(start_ms >= 0 ? start_ms / 1000 : 0);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

// Kubernetes quantities: "250m" / "2" cores; "512Mi" / "1Gi" / plain bytes.
std::string CpuQuantity(double cores) {
  const int64_t milli = std::llround(cores * 1000.0);
  if (milli % 1000 == 0) return std::to_string(milli / 1000);
  return fmt::format("{}m", milli);
}

std::string MemoryQuantity(double bytes) {
  const int64_t b = std::llround(bytes);
  if (b == 0) return "0";
  for (auto [unit, suffix] : {std::pair<int64_t, const char*>{int64_t{1} << 40, "Ti"},
                              {int64_t{1} << 30, "Gi"},
                              {int64_t{1} << 20, "Mi"},
                              {int64_t{1} << 10, "Ki"}}) {
    if (b % unit == 0) return fmt::format("{}{}", b / unit, suffix);
  }
  return std::to_string(b);
}

void WriteObjectMeta(JsonWriter& w, const ClusterSnapshot& s, const DeploymentStatus& d,
                     bool deployment) {
  w.Key("metadata");
  w.StartObject();
  KeyStr(w, "name", d.name);
  KeyStr(w, "namespace", s.k8s_namespace);
  KeyStr(w, "uid", Uid(s.k8s_namespace, d.name));
  KeyStr(w, "resourceVersion", std::to_string(d.generation));
  if (deployment) {
    w.Key("generation");
    w.Int64(d.generation);
  }
  KeyStr(w, "creationTimestamp", CreationTimestamp(s));
  if (deployment) {
    w.Key("labels");
    w.StartObject();
    KeyStr(w, "app", d.name);
    w.EndObject();
    w.Key("annotations");
    w.StartObject();
    KeyStr(w, "deployment.kubernetes.io/revision", "1");
    w.EndObject();
  }
  w.EndObject();
}

std::string ScaleJson(const ClusterSnapshot& s, const DeploymentStatus& d) {
  rapidjson::StringBuffer sb;
  JsonWriter w(sb);
  w.StartObject();
  KeyStr(w, "kind", "Scale");
  KeyStr(w, "apiVersion", "autoscaling/v1");
  WriteObjectMeta(w, s, d, false);
  w.Key("spec");
  w.StartObject();
  w.Key("replicas");
  w.Int(d.spec_replicas);
  w.EndObject();
  w.Key("status");
  w.StartObject();
  w.Key("replicas");
  w.Int(d.status_replicas);
  KeyStr(w, "selector", "app=" + d.name);
  w.EndObject();
  w.EndObject();
  return sb.GetString();
}

// An apps/v1 Deployment; `with_type` is false for items of a list (the API
// server leaves out their kind and apiVersion).
void WriteDeployment(JsonWriter& w, const ClusterSnapshot& s, const DeploymentStatus& d,
                     bool with_type) {
  w.StartObject();
  if (with_type) {
    KeyStr(w, "kind", "Deployment");
    KeyStr(w, "apiVersion", "apps/v1");
  }
  WriteObjectMeta(w, s, d, true);

  w.Key("spec");
  w.StartObject();
  w.Key("replicas");
  w.Int(d.spec_replicas);
  w.Key("selector");
  w.StartObject();
  w.Key("matchLabels");
  w.StartObject();
  KeyStr(w, "app", d.name);
  w.EndObject();
  w.EndObject();
  w.Key("template");
  w.StartObject();
  w.Key("metadata");
  w.StartObject();
  w.Key("labels");
  w.StartObject();
  KeyStr(w, "app", d.name);
  w.EndObject();
  w.EndObject();
  w.Key("spec");
  w.StartObject();
  w.Key("containers");
  w.StartArray();
  w.StartObject();
  KeyStr(w, "name", d.name);
  KeyStr(w, "image", "ariadne-sim/" + d.name);
  w.Key("resources");
  w.StartObject();
  if (d.cpu_request_cores > 0) {
    w.Key("requests");
    w.StartObject();
    KeyStr(w, "cpu", CpuQuantity(d.cpu_request_cores));
    w.EndObject();
  }
  if (d.memory_limit_bytes > 0) {
    w.Key("limits");
    w.StartObject();
    KeyStr(w, "memory", MemoryQuantity(d.memory_limit_bytes));
    w.EndObject();
  }
  w.EndObject();  // resources
  w.EndObject();  // container
  w.EndArray();
  w.EndObject();  // template.spec
  w.EndObject();  // template
  w.EndObject();  // spec

  w.Key("status");
  w.StartObject();
  w.Key("observedGeneration");
  w.Int64(d.generation);
  w.Key("replicas");
  w.Int(d.status_replicas);
  w.Key("updatedReplicas");
  w.Int(d.status_replicas);
  w.Key("readyReplicas");
  w.Int(d.ready_replicas);
  w.Key("availableReplicas");
  w.Int(d.ready_replicas);
  if (d.spec_replicas > d.ready_replicas) {
    w.Key("unavailableReplicas");
    w.Int(d.spec_replicas - d.ready_replicas);
  }
  w.EndObject();
  w.EndObject();
}

const DeploymentStatus* Find(const ClusterSnapshot& s, std::string_view name) {
  for (const auto& d : s.deployments) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

// ---------------------------------------------------------------------------
// Prometheus text format (version 0.0.4)

void AppendEscaped(std::string& out, std::string_view s, bool quote) {
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quote && c == '"') {
      out += "\\\"";
    } else {
      out.push_back(c);
    }
  }
}

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

class MetricsText {
 public:
  void Family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    AppendEscaped(out_, help, false);
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
    name_ = std::string(name);
  }

  void Sample(std::initializer_list<std::pair<std::string_view, std::string_view>> labels,
              double value) {
    out_ += name_;
    if (labels.size() > 0) {
      out_ += '{';
      bool first = true;
      for (const auto& [k, v] : labels) {
        if (!first) out_ += ',';
        first = false;
        out_ += k;
        out_ += "=\"";
        AppendEscaped(out_, v, true);
        out_ += '"';
      }
      out_ += '}';
    }
    out_ += ' ';
    out_ += FormatValue(value);
    out_ += '\n';
  }

  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
  std::string name_;
};

std::string RenderMetrics(const ClusterSnapshot& s) {
  MetricsText m;
  const std::string_view ns = s.k8s_namespace;
  std::unordered_map<std::string_view, const DeploymentStatus*> by_name;
  for (const auto& d : s.deployments) by_name.emplace(d.name, &d);

  // cAdvisor (kubelet /metrics/cadvisor).
  m.Family("container_cpu_usage_seconds_total", "counter",
           "Cumulative cpu time consumed in seconds.");
  for (const auto& p : s.pods) {
    m.Sample({{"namespace", ns}, {"pod", p.pod}, {"container", p.deployment}},
             p.cpu_seconds_total);
  }
  m.Family("container_memory_working_set_bytes", "gauge", "Current working set in bytes.");
  for (const auto& p : s.pods) {
    m.Sample({{"namespace", ns}, {"pod", p.pod}, {"container", p.deployment}},
             p.memory_working_set_bytes);
  }

  // kube-state-metrics: deployments.
  struct DeploymentGauge {
    std::string_view name;
    std::string_view help;
    int32_t DeploymentStatus::*field;
  };
  for (const DeploymentGauge& g : {
           DeploymentGauge{"kube_deployment_spec_replicas",
                           "Number of desired pods for a deployment.",
                           &DeploymentStatus::spec_replicas},
           DeploymentGauge{"kube_deployment_status_replicas",
                           "The number of replicas per deployment.",
                           &DeploymentStatus::status_replicas},
           DeploymentGauge{"kube_deployment_status_replicas_ready",
                           "The number of ready replicas per deployment.",
                           &DeploymentStatus::ready_replicas},
           DeploymentGauge{"kube_deployment_status_replicas_available",
                           "The number of available replicas per deployment.",
                           &DeploymentStatus::ready_replicas},
       }) {
    m.Family(g.name, "gauge", g.help);
    for (const auto& d : s.deployments) {
      m.Sample({{"namespace", ns}, {"deployment", d.name}}, d.*g.field);
    }
  }

  // kube-state-metrics: pods.
  m.Family("kube_pod_status_ready", "gauge", "Describes whether the pod is ready to serve requests.");
  for (const auto& p : s.pods) {
    m.Sample({{"namespace", ns}, {"pod", p.pod}, {"condition", "true"}}, p.ready ? 1 : 0);
    m.Sample({{"namespace", ns}, {"pod", p.pod}, {"condition", "false"}}, p.ready ? 0 : 1);
    m.Sample({{"namespace", ns}, {"pod", p.pod}, {"condition", "unknown"}}, 0);
  }
  m.Family("kube_pod_container_status_restarts_total", "counter",
           "The number of container restarts per container.");
  for (const auto& p : s.pods) {
    m.Sample({{"namespace", ns}, {"pod", p.pod}, {"container", p.deployment}}, p.restarts);
  }
  m.Family("kube_pod_container_resource_requests", "gauge",
           "The number of requested request resource by a container.");
  for (const auto& p : s.pods) {
    auto it = by_name.find(p.deployment);
    if (it == by_name.end()) continue;
    m.Sample({{"namespace", ns},
              {"pod", p.pod},
              {"container", p.deployment},
              {"resource", "cpu"},
              {"unit", "core"}},
             it->second->cpu_request_cores);
  }
  m.Family("kube_pod_container_resource_limits", "gauge",
           "The number of requested limit resource by a container.");
  for (const auto& p : s.pods) {
    auto it = by_name.find(p.deployment);
    if (it == by_name.end()) continue;
    m.Sample({{"namespace", ns},
              {"pod", p.pod},
              {"container", p.deployment},
              {"resource", "memory"},
              {"unit", "byte"}},
             it->second->memory_limit_bytes);
  }

  m.Family("ariadne_sim_time_seconds", "gauge", "Simulated time since the start of the run.");
  m.Sample({}, s.sim_seconds);
  return m.Take();
}

// ---------------------------------------------------------------------------
// Request bodies

// A replica count read from a body, or the answer that refuses it.
struct ReplicasOrError {
  std::optional<int32_t> replicas{};  // unset: the body does not set it
  std::optional<HttpResponse> error{};
};

std::string_view TypeName(simdjson::dom::element e) {
  switch (e.type()) {
    case simdjson::dom::element_type::ARRAY:
      return "array";
    case simdjson::dom::element_type::OBJECT:
      return "object";
    case simdjson::dom::element_type::INT64:
    case simdjson::dom::element_type::UINT64:
      return "integer";
    case simdjson::dom::element_type::DOUBLE:
      return "number";
    case simdjson::dom::element_type::STRING:
      return "string";
    case simdjson::dom::element_type::BOOL:
      return "boolean";
    case simdjson::dom::element_type::NULL_VALUE:
      return "null";
  }
  return "value";
}

// `value` as a replica count: 400 for a non-integer or one beyond int32, 422
// for a negative one.
ReplicasOrError ReadReplicas(simdjson::dom::element value, std::string_view name,
                             std::string_view where) {
  int64_t n = 0;
  if (value.type() == simdjson::dom::element_type::NULL_VALUE) {
    return {.error = InvalidScale(name, {.reason = "FieldValueRequired",
                                         .message = "Required value",
                                         .field = "spec.replicas"})};
  }
  if (value.type() != simdjson::dom::element_type::INT64 || value.get_int64().get(n)) {
    return {.error = BadRequest(fmt::format(
                "{}: spec.replicas must be an integer, got {} {}", where, TypeName(value),
                simdjson::minify(value)))};
  }
  if (n > std::numeric_limits<int32_t>::max() || n < std::numeric_limits<int32_t>::min()) {
    return {.error = BadRequest(
                fmt::format("{}: spec.replicas {} is out of range for int32", where, n))};
  }
  if (n < 0) {
    return {.error = InvalidScale(
                name, {.reason = "FieldValueInvalid",
                       .message = fmt::format("Invalid value: {}: must be greater than or equal "
                                              "to 0",
                                              n),
                       .field = "spec.replicas"})};
  }
  return {.replicas = static_cast<int32_t>(n)};
}

simdjson::dom::parser& ThreadParser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

// Parses `body`; on failure sets `error` to the 400 answer.
std::optional<simdjson::dom::element> ParseBody(const std::string& body, std::string_view what,
                                                std::optional<HttpResponse>* error) {
  simdjson::padded_string padded(body);
  simdjson::dom::element root;
  // The dom parser copies strings into its own buffers: the element outlives
  // `padded`, until the next parse on this thread.
  if (auto e = ThreadParser().parse(padded).get(root); e != simdjson::SUCCESS) {
    *error = BadRequest(
        fmt::format("{} is not valid JSON: {}", what, simdjson::error_message(e)));
    return std::nullopt;
  }
  return root;
}

// PUT: an autoscaling/v1 Scale whose spec.replicas is required.
ReplicasOrError ReadScaleBody(const std::string& body, std::string_view name) {
  ReplicasOrError out;
  auto root = ParseBody(body, "the Scale", &out.error);
  if (!root) return out;
  if (!root->is_object()) {
    out.error = BadRequest(
        fmt::format("the Scale must be a JSON object, got {}", TypeName(*root)));
    return out;
  }
  simdjson::dom::object obj;
  if (root->get_object().get(obj)) return out;  // checked above
  std::string_view s;
  if (simdjson::dom::element v; obj.at_key("kind").get(v) == simdjson::SUCCESS) {
    if (v.get_string().get(s) || s != "Scale") {
      out.error = BadRequest(fmt::format("the object's kind is {}, expected \"Scale\"",
                                         simdjson::minify(v)));
      return out;
    }
  }
  if (simdjson::dom::element v; obj.at_key("apiVersion").get(v) == simdjson::SUCCESS) {
    if (v.get_string().get(s) || s != "autoscaling/v1") {
      out.error = BadRequest(
          fmt::format("the API version in the data ({}) does not match the expected API "
                      "version (autoscaling/v1)",
                      simdjson::minify(v)));
      return out;
    }
  }
  if (simdjson::dom::element v; obj.at_pointer("/metadata/name").get(v) == simdjson::SUCCESS) {
    if (v.get_string().get(s) || (!s.empty() && s != name)) {
      out.error = BadRequest(fmt::format(
          "the name of the object ({}) does not match the name on the URL ({})",
          simdjson::minify(v), name));
      return out;
    }
  }
  simdjson::dom::element spec;
  if (obj.at_key("spec").get(spec) == simdjson::SUCCESS && !spec.is_object() && !spec.is_null()) {
    out.error = BadRequest(
        fmt::format("the Scale's spec must be an object, got {}", TypeName(spec)));
    return out;
  }
  simdjson::dom::element replicas;
  if (obj.at_pointer("/spec/replicas").get(replicas) != simdjson::SUCCESS) {
    out.error = InvalidScale(
        name, {.reason = "FieldValueRequired", .message = "Required value", .field = "spec.replicas"});
    return out;
  }
  return ReadReplicas(replicas, name, "the Scale");
}

// Merge patch and strategic merge patch: {"spec": {"replicas": N}}; a patch
// that does not set spec.replicas changes nothing.
ReplicasOrError ReadMergePatch(const std::string& body, std::string_view name) {
  ReplicasOrError out;
  auto root = ParseBody(body, "the merge patch", &out.error);
  if (!root) return out;
  if (!root->is_object()) {
    out.error = BadRequest(
        fmt::format("the merge patch must be a JSON object, got {}", TypeName(*root)));
    return out;
  }
  simdjson::dom::element spec;
  if (root->at_key("spec").get(spec) != simdjson::SUCCESS) return out;
  if (!spec.is_object()) {
    out.error = BadRequest(
        fmt::format("the merge patch's spec must be an object, got {}", TypeName(spec)));
    return out;
  }
  simdjson::dom::element replicas;
  if (spec.at_key("replicas").get(replicas) != simdjson::SUCCESS) {
    return out;
  }
  return ReadReplicas(replicas, name, "the merge patch");
}

// JSON patch (RFC 6902): "replace"/"add" and "test" on /spec/replicas, applied
// in order against `current`.
ReplicasOrError ReadJsonPatch(const std::string& body, std::string_view name, int32_t current) {
  ReplicasOrError out;
  auto root = ParseBody(body, "the JSON patch", &out.error);
  if (!root) return out;
  if (!root->is_array()) {
    out.error = BadRequest(fmt::format(
        "the JSON patch must be an array of operations, got {}", TypeName(*root)));
    return out;
  }
  simdjson::dom::array ops;
  if (root->get_array().get(ops)) return out;  // checked above
  int32_t value = current;
  size_t index = 0;
  for (simdjson::dom::element op_element : ops) {
    const std::string where = fmt::format("JSON patch operation {}", index++);
    simdjson::dom::object op;
    std::string_view kind, path;
    if (op_element.get_object().get(op) || op.at_key("op").get_string().get(kind) ||
        op.at_key("path").get_string().get(path)) {
      out.error = BadRequest(fmt::format(
          "{}: must be an object with string members \"op\" and \"path\", got {}", where,
          simdjson::minify(op_element)));
      return out;
    }
    if (kind != "replace" && kind != "add" && kind != "test") {
      out.error = StatusResponse(
          {.code = 422,
           .message = fmt::format("{}: operation \"{}\" is not supported; the simulator's Scale "
                                  "accepts replace, add and test on /spec/replicas",
                                  where, kind)});
      return out;
    }
    if (path != "/spec/replicas") {
      out.error = StatusResponse(
          {.code = 422,
           .message = fmt::format("{}: path \"{}\" is not supported; the simulator's Scale "
                                  "accepts replace, add and test on /spec/replicas",
                                  where, path)});
      return out;
    }
    simdjson::dom::element v;
    if (op.at_key("value").get(v) != simdjson::SUCCESS) {
      out.error = BadRequest(fmt::format("{}: \"{}\" needs a \"value\"", where, kind));
      return out;
    }
    if (kind == "test") {
      int64_t want = 0;
      if (v.type() != simdjson::dom::element_type::INT64 || v.get_int64().get(want) ||
          want != value) {
        out.error = StatusResponse(
            {.code = 422,
             .message = fmt::format("{}: testing value /spec/replicas failed: want {}, have {}",
                                    where, simdjson::minify(v), value)});
        return out;
      }
      continue;
    }
    ReplicasOrError r = ReadReplicas(v, name, where);
    if (r.error) return r;
    value = *r.replicas;
    out.replicas = value;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Routing

struct Route {
  enum Kind { kUnknown, kDeploymentList, kDeployment, kScale } kind = kUnknown;
  std::string ns;
  std::string name;
};

Route Parse(std::string_view path) {
  constexpr std::string_view kPrefix = "/apis/apps/v1/namespaces/";
  Route r;
  if (!path.starts_with(kPrefix)) return r;
  path.remove_prefix(kPrefix.size());
  while (path.ends_with('/')) path.remove_suffix(1);
  std::vector<std::string_view> parts;
  while (!path.empty()) {
    const size_t slash = path.find('/');
    parts.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  if (parts.size() < 2 || parts.size() > 4 || parts[1] != "deployments") return r;
  for (std::string_view p : parts) {
    if (p.empty()) return r;
  }
  r.ns = std::string(parts[0]);
  if (parts.size() == 2) {
    r.kind = Route::kDeploymentList;
  } else if (parts.size() == 3) {
    r.kind = Route::kDeployment;
    r.name = std::string(parts[2]);
  } else if (parts[3] == "scale") {
    r.kind = Route::kScale;
    r.name = std::string(parts[2]);
  }
  return r;
}

HttpResponse Text(int status, std::string content_type, std::string body) {
  HttpResponse r;
  r.status = status;
  r.content_type = std::move(content_type);
  r.body = std::move(body);
  return r;
}

HttpResponse GetDeployments(const ClusterSnapshot& s, const Route& route) {
  rapidjson::StringBuffer sb;
  JsonWriter w(sb);
  if (route.kind == Route::kDeployment) {
    const DeploymentStatus* d = route.ns == s.k8s_namespace ? Find(s, route.name) : nullptr;
    if (d == nullptr) return DeploymentNotFound(route.name);
    WriteDeployment(w, s, *d, true);
    return Json(200, sb.GetString());
  }
  // A list in another namespace is empty, as for a namespace without
  // deployments.
  int64_t version = 0;
  for (const auto& d : s.deployments) version += d.generation;
  w.StartObject();
  KeyStr(w, "kind", "DeploymentList");
  KeyStr(w, "apiVersion", "apps/v1");
  w.Key("metadata");
  w.StartObject();
  KeyStr(w, "resourceVersion", std::to_string(version));
  w.EndObject();
  w.Key("items");
  w.StartArray();
  if (route.ns == s.k8s_namespace) {
    for (const auto& d : s.deployments) WriteDeployment(w, s, d, false);
  }
  w.EndArray();
  w.EndObject();
  return Json(200, sb.GetString());
}

HttpResponse FromSetReplicasError(const absl::Status& status, std::string_view name) {
  switch (status.code()) {
    case absl::StatusCode::kNotFound:
      return DeploymentNotFound(name);
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return InvalidScale(name, {.reason = "FieldValueInvalid",
                                 .message = std::string(status.message()),
                                 .field = "spec.replicas"});
    case absl::StatusCode::kUnavailable:
      return StatusResponse({.code = 503, .message = std::string(status.message())});
    default:
      return StatusResponse({.code = 500, .message = std::string(status.message())});
  }
}

}  // namespace

// ---------------------------------------------------------------------------

void ScaleApi::Handle(HttpRequest request, serve::Responder respond) {
  const std::string& path = request.path;
  const std::string& method = request.method;
  const bool get = method == "GET";

  if (path == "/healthz" || path == "/livez" || path == "/readyz") {
    if (!get) return respond(MethodNotAllowed(method, "GET"));
    return respond(Text(200, "text/plain; charset=utf-8", "ok"));
  }
  if (path == "/metrics") {
    if (!get) return respond(MethodNotAllowed(method, "GET"));
    return respond(Text(200, std::string(kMetricsContentType), RenderMetrics(cluster_->Snapshot())));
  }

  const Route route = Parse(path);
  if (route.kind == Route::kUnknown) return respond(PathNotFound());
  if (route.kind != Route::kScale) {
    if (!get) return respond(MethodNotAllowed(method, "GET"));
    return respond(GetDeployments(cluster_->Snapshot(), route));
  }

  // The scale subresource.
  if (!get && method != "PUT" && method != "PATCH") {
    return respond(MethodNotAllowed(method, "GET, PUT, PATCH"));
  }
  const std::string_view ct = request.content_type;
  if (method == "PUT" && !ct.empty() && ct != "application/json") {
    return respond(UnsupportedMediaType(ct, "application/json"));
  }
  if (method == "PATCH" && ct != kMergePatch && ct != kStrategicMergePatch && ct != kJsonPatch) {
    return respond(UnsupportedMediaType(
        ct, fmt::format("{}, {}, {}", kJsonPatch, kMergePatch, kStrategicMergePatch)));
  }

  ClusterSnapshot snapshot = cluster_->Snapshot();
  const DeploymentStatus* d =
      route.ns == snapshot.k8s_namespace ? Find(snapshot, route.name) : nullptr;
  if (d == nullptr) return respond(DeploymentNotFound(route.name));
  if (get) return respond(Json(200, ScaleJson(snapshot, *d)));

  ReplicasOrError wanted;
  if (method == "PUT") {
    wanted = ReadScaleBody(request.body, route.name);
  } else if (ct == kJsonPatch) {
    wanted = ReadJsonPatch(request.body, route.name, d->spec_replicas);
  } else {
    wanted = ReadMergePatch(request.body, route.name);
  }
  if (wanted.error) return respond(std::move(*wanted.error));
  if (!wanted.replicas) return respond(Json(200, ScaleJson(snapshot, *d)));  // nothing to change

  if (absl::Status st = cluster_->SetReplicas(route.name, *wanted.replicas); !st.ok()) {
    return respond(FromSetReplicasError(st, route.name));
  }
  // Answer with the new spec, even if the simulation applies it only at its
  // next step. (`d` points into the snapshot about to be replaced.)
  const int64_t generation_before = d->generation;
  d = nullptr;
  snapshot = cluster_->Snapshot();
  const DeploymentStatus* now =
      route.ns == snapshot.k8s_namespace ? Find(snapshot, route.name) : nullptr;
  if (now == nullptr) return respond(DeploymentNotFound(route.name));
  DeploymentStatus answer = *now;
  if (answer.spec_replicas != *wanted.replicas) {
    answer.spec_replicas = *wanted.replicas;
    answer.generation = std::max(answer.generation, generation_before) + 1;
  }
  respond(Json(200, ScaleJson(snapshot, answer)));
}

HttpResponse ScaleApi::ErrorResponse(int status, std::string message,
                                     std::string_view request_content_type) {
  return StatusResponse({.code = status, .message = std::move(message)});
}

}  // namespace ariadne::sim
