#include "sim/emit.h"

#include <algorithm>
#include <protozero/pbf_writer.hpp>
#include <string_view>

namespace ariadne::sim {
namespace {

constexpr std::string_view kSchemaUrl = "https://opentelemetry.io/schemas/1.26.0";
constexpr std::string_view kScopeName = "ariadne-sim";
constexpr std::string_view kScopeVersion = "0.1.0";

// OTLP field numbers used here (see proto/opentelemetry/proto/trace/v1/trace.proto).
enum : protozero::pbf_tag_type {
  kRequestResourceSpans = 1,
  kResourceSpansResource = 1,
  kResourceSpansScopeSpans = 2,
  kResourceSpansSchemaUrl = 3,
  kResourceAttributes = 1,
  kScopeSpansScope = 1,
  kScopeSpansSpans = 2,
  kScopeNameField = 1,
  kScopeVersionField = 2,
  kSpanTraceId = 1,
  kSpanSpanId = 2,
  kSpanParentSpanId = 4,
  kSpanName = 5,
  kSpanKind = 6,
  kSpanStart = 7,
  kSpanEnd = 8,
  kSpanAttributes = 9,
  kSpanEvents = 11,
  kSpanStatus = 15,
  kEventTime = 1,
  kEventName = 2,
  kEventAttributes = 3,
  kStatusMessage = 2,
  kStatusCode = 3,
  kKeyValueKey = 1,
  kKeyValueValue = 2,
  kAnyString = 1,
  kAnyInt = 3,
};
constexpr int kSpanKindServer = 2;
constexpr int kSpanKindClient = 3;
constexpr int kStatusError = 2;

void AddString(std::string* out, protozero::pbf_tag_type tag, std::string_view key,
               std::string_view value) {
  protozero::pbf_writer w(*out);
  protozero::pbf_writer kv(w, tag);
  kv.add_string(kKeyValueKey, key.data(), key.size());
  protozero::pbf_writer v(kv, kKeyValueValue);
  v.add_string(kAnyString, value.data(), value.size());
}

void AddInt(std::string* out, protozero::pbf_tag_type tag, std::string_view key, int64_t value) {
  protozero::pbf_writer w(*out);
  protozero::pbf_writer kv(w, tag);
  kv.add_string(kKeyValueKey, key.data(), key.size());
  protozero::pbf_writer v(kv, kKeyValueValue);
  v.add_int64(kAnyInt, value);
}

int DefaultPort(const Service& s) {
  switch (s.protocol) {
    case Protocol::kHttp:
      return 8080;
    case Protocol::kGrpc:
      return 50051;
    case Protocol::kThrift:
      return 9090;
    case Protocol::kDatabase:
      break;
  }
  const std::string& d = s.db_system;
  if (d == "redis") return 6379;
  if (d == "mongodb") return 27017;
  if (d == "mysql") return 3306;
  if (d == "postgresql") return 5432;
  if (d == "memcached") return 11211;
  return 0;
}

std::string HttpMethod(const Operation& op) { return op.http_method.empty() ? "GET" : op.http_method; }
std::string HttpRoute(const Operation& op) {
  return op.http_route.empty() ? "/" + op.name : op.http_route;
}
std::string RpcService(const Service& s) { return s.rpc_service.empty() ? s.name : s.rpc_service; }
std::string DbOperation(const Operation& op) {
  return op.db_operation.empty() ? op.name : op.db_operation;
}


// Attributes describing the callee operation; `client` adds the peer.
void AddOperationAttributes(std::string* out, const Service& s, const Operation& op, bool client) {
  const int port = DefaultPort(s);
  switch (s.protocol) {
    case Protocol::kHttp:
      AddString(out, kSpanAttributes, "http.request.method", HttpMethod(op));
      if (client) {
        AddString(out, kSpanAttributes, "url.full",
                  "http://" + s.name + ":" + std::to_string(port) + HttpRoute(op));
        AddString(out, kSpanAttributes, "url.template", HttpRoute(op));
      } else {
        AddString(out, kSpanAttributes, "http.route", HttpRoute(op));
        AddString(out, kSpanAttributes, "url.path", HttpRoute(op));
        AddString(out, kSpanAttributes, "url.scheme", "http");
      }
      break;
    case Protocol::kGrpc:
    case Protocol::kThrift:
      AddString(out, kSpanAttributes, "rpc.system",
                s.protocol == Protocol::kGrpc ? "grpc" : "apache_thrift");
      AddString(out, kSpanAttributes, "rpc.service", RpcService(s));
      AddString(out, kSpanAttributes, "rpc.method", op.name);
      break;
    case Protocol::kDatabase:
      AddString(out, kSpanAttributes, "db.system", s.db_system.empty() ? "other_sql" : s.db_system);
      AddString(out, kSpanAttributes, "db.name", s.name);
      AddString(out, kSpanAttributes, "db.operation", DbOperation(op));
      if (!op.db_statement.empty()) AddString(out, kSpanAttributes, "db.statement", op.db_statement);
      break;
  }
  AddString(out, kSpanAttributes, "server.address", s.name);
  if (port != 0) AddInt(out, kSpanAttributes, "server.port", port);
  if (client) AddString(out, kSpanAttributes, "peer.service", s.name);
}

// The attributes and status that depend on how a span ended, per protocol.
std::string OutcomeTail(Protocol p, SpanOutcome o, std::string_view error_message) {
  std::string out;
  static constexpr int kHttp[] = {200, 500, 500, 504, 503};
  static constexpr int kGrpc[] = {0, 2, 2, 4, 14};
  static constexpr std::string_view kGrpcNames[] = {"OK", "UNKNOWN", "UNKNOWN", "DEADLINE_EXCEEDED",
                                                    "UNAVAILABLE"};
  static constexpr std::string_view kOtherNames[] = {"", "error", "error", "timeout", "unavailable"};
  const int i = static_cast<int>(o);
  switch (p) {
    case Protocol::kHttp:
      AddInt(&out, kSpanAttributes, "http.response.status_code", kHttp[i]);
      if (o != SpanOutcome::kOk) AddString(&out, kSpanAttributes, "error.type", std::to_string(kHttp[i]));
      break;
    case Protocol::kGrpc:
      AddInt(&out, kSpanAttributes, "rpc.grpc.status_code", kGrpc[i]);
      if (o != SpanOutcome::kOk) AddString(&out, kSpanAttributes, "error.type", kGrpcNames[i]);
      break;
    case Protocol::kThrift:
    case Protocol::kDatabase:
      if (o != SpanOutcome::kOk) AddString(&out, kSpanAttributes, "error.type", kOtherNames[i]);
      break;
  }
  if (o != SpanOutcome::kOk) {
    std::string_view message;
    switch (o) {
      case SpanOutcome::kError:
        message = error_message;
        break;
      case SpanOutcome::kDownstream:
        message = "a downstream call failed";
        break;
      case SpanOutcome::kTimeout:
        message = "deadline exceeded";
        break;
      case SpanOutcome::kUnavailable:
        message = "service unavailable";
        break;
      case SpanOutcome::kOk:
        break;
    }
    protozero::pbf_writer w(out);
    protozero::pbf_writer st(w, kSpanStatus);
    st.add_string(kStatusMessage, message.data(), message.size());
    st.add_enum(kStatusCode, kStatusError);
  }
  return out;
}

void PutBigEndian(uint64_t v, char* out) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}

}  // namespace

std::string OperationSpanName(const Service& s, const Operation& op) {
  if (!op.span_name.empty()) return op.span_name;
  switch (s.protocol) {
    case Protocol::kHttp:
      return HttpMethod(op) + " " + HttpRoute(op);
    case Protocol::kGrpc:
    case Protocol::kThrift:
      return RpcService(s) + "/" + op.name;
    case Protocol::kDatabase:
      return DbOperation(op);
  }
  return op.name;
}

SpanEncoder::SpanEncoder(const Topology& topology, const std::vector<std::string>& fault_ids,
                         bool fault_attributes)
    : topology_(topology) {
  {
    protozero::pbf_writer w(scope_);
    w.add_string(kScopeNameField, kScopeName.data(), kScopeName.size());
    w.add_string(kScopeVersionField, kScopeVersion.data(), kScopeVersion.size());
  }
  if (fault_attributes) {
    for (const std::string& id : fault_ids) {
      std::string a;
      AddString(&a, kSpanAttributes, "sim.fault.id", id);
      fault_attr_.push_back(std::move(a));
    }
  }
  auto add_shape = [&](std::string name, int kind, Protocol protocol, std::string attributes,
                       std::string error_message) {
    Shape shape;
    shape.name = std::move(name);
    shape.kind = kind;
    shape.protocol = protocol;
    shape.attributes = std::move(attributes);
    shape.error_message = std::move(error_message);
    shapes_.push_back(std::move(shape));
    return static_cast<uint32_t>(shapes_.size() - 1);
  };
  for (size_t si = 0; si < topology.services.size(); ++si) {
    const Service& s = topology.services[si];
    op_base_.push_back(static_cast<uint32_t>(server_shape_.size()));
    for (const Operation& op : s.operations) {
      std::string attrs;
      AddOperationAttributes(&attrs, s, op, /*client=*/false);
      server_shape_.push_back(add_shape(OperationSpanName(s, op), kSpanKindServer, s.protocol,
                                        std::move(attrs),
                                        s.name + " " + op.name + " failed"));
    }
  }
  client_shapes_.resize(topology.services.size());
  for (size_t ci = 0; ci < topology.services.size(); ++ci) {
    for (const Operation& op : topology.services[ci].operations) {
      for (const Step& step : op.steps) {
        for (const Call& call : step.calls) {
          const uint64_t key = (static_cast<uint64_t>(call.service) << 32) |
                               static_cast<uint32_t>(call.operation);
          auto& list = client_shapes_[ci];
          if (std::any_of(list.begin(), list.end(), [&](const auto& e) { return e.first == key; })) {
            continue;
          }
          const Service& callee = topology.services[call.service];
          const Operation& cop = callee.operations[call.operation];
          std::string attrs;
          AddOperationAttributes(&attrs, callee, cop, /*client=*/true);
          list.emplace_back(key, add_shape(OperationSpanName(callee, cop), kSpanKindClient,
                                           callee.protocol, std::move(attrs),
                                           callee.name + " " + cop.name + " failed"));
        }
      }
    }
  }
  // Precompute each shape's attributes + outcome tail, per outcome.
  for (Shape& shape : shapes_) {
    std::string base = shape.attributes;
    shape.attributes.clear();
    for (int o = 0; o < 5; ++o) {
      shape.tails[o] = base + OutcomeTail(shape.protocol, static_cast<SpanOutcome>(o),
                                          shape.error_message);
    }
  }
}

uint32_t SpanEncoder::ServerShape(int service, int operation) const {
  return server_shape_[op_base_[service] + operation];
}

uint32_t SpanEncoder::ClientShape(int caller, int callee, int operation) const {
  const uint64_t key = (static_cast<uint64_t>(callee) << 32) | static_cast<uint32_t>(operation);
  for (const auto& [k, shape] : client_shapes_[caller]) {
    if (k == key) return shape;
  }
  return 0;  // unreachable for calls in the topology
}

int32_t SpanEncoder::AddPod(int service, const std::string& pod_name) {
  const Service& s = topology_.services[service];
  std::string r;
  AddString(&r, kResourceAttributes, "service.name", s.name);
  AddString(&r, kResourceAttributes, "service.instance.id", pod_name);
  AddString(&r, kResourceAttributes, "k8s.namespace.name", topology_.k8s_namespace);
  AddString(&r, kResourceAttributes, "k8s.deployment.name", s.name);
  AddString(&r, kResourceAttributes, "k8s.pod.name", pod_name);
  AddString(&r, kResourceAttributes, "telemetry.sdk.name", "ariadne-sim");
  AddString(&r, kResourceAttributes, "telemetry.sdk.language", s.language);
  AddString(&r, kResourceAttributes, "telemetry.sdk.version", kScopeVersion);
  resources_.push_back(std::move(r));
  return static_cast<int32_t>(resources_.size() - 1);
}

void SpanEncoder::Encode(std::span<SimSpan> spans, int64_t epoch, std::string* out) const {
  std::stable_sort(spans.begin(), spans.end(),
                   [](const SimSpan& a, const SimSpan& b) { return a.pod < b.pod; });
  protozero::pbf_writer request(*out);
  size_t i = 0;
  char id[8];
  while (i < spans.size()) {
    const int32_t pod = spans[i].pod;
    protozero::pbf_writer rs(request, kRequestResourceSpans);
    rs.add_message(kResourceSpansResource, resources_[pod]);
    {
      protozero::pbf_writer ss(rs, kResourceSpansScopeSpans);
      ss.add_message(kScopeSpansScope, scope_);
      for (; i < spans.size() && spans[i].pod == pod; ++i) {
        const SimSpan& span = spans[i];
        const Shape& shape = shapes_[span.shape];
        protozero::pbf_writer sp(ss, kScopeSpansSpans);
        sp.add_bytes(kSpanTraceId, reinterpret_cast<const char*>(span.trace_id), 16);
        PutBigEndian(span.span_id, id);
        sp.add_bytes(kSpanSpanId, id, 8);
        if (span.parent_span_id != 0) {
          PutBigEndian(span.parent_span_id, id);
          sp.add_bytes(kSpanParentSpanId, id, 8);
        }
        sp.add_string(kSpanName, shape.name);
        sp.add_enum(kSpanKind, shape.kind);
        sp.add_fixed64(kSpanStart, static_cast<uint64_t>(epoch + span.start));
        sp.add_fixed64(kSpanEnd, static_cast<uint64_t>(epoch + span.end));
        // The precomputed attributes and status go straight into the buffer:
        // protozero sizes a submessage from the buffer when it closes.
        out->append(shape.tails[static_cast<int>(span.outcome)]);
        if (span.attempt > 0) {
          AddInt(out, kSpanAttributes,
                 shape.protocol == Protocol::kHttp ? "http.request.resend_count" : "sim.retry",
                 span.attempt);
        }
        if (span.fault >= 0 && static_cast<size_t>(span.fault) < fault_attr_.size()) {
          out->append(fault_attr_[span.fault]);
        }
        if (span.outcome == SpanOutcome::kError) {
          protozero::pbf_writer ev(sp, kSpanEvents);
          ev.add_fixed64(kEventTime, static_cast<uint64_t>(epoch + span.end));
          ev.add_string(kEventName, "exception");
          std::string attrs;
          AddString(&attrs, kEventAttributes, "exception.type", "SimulatedError");
          AddString(&attrs, kEventAttributes, "exception.message", shape.error_message);
          out->append(attrs);
        }
      }
    }
    rs.add_string(kResourceSpansSchemaUrl, kSchemaUrl.data(), kSchemaUrl.size());
  }
}

}  // namespace ariadne::sim
