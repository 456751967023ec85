// Simulated spans -> OTLP ExportTraceServiceRequest (protobuf).
//
// Everything about a span that follows from the topology (its name, kind
// and the attributes of its service, operation and protocol) is encoded once
// per "shape" when the encoder is built; each pod's Resource once when the
// pod is created. Per span only ids, times, status and a few attributes are
// written, which keeps fast runs at millions of spans per second.
//
// Semantic conventions: resources carry service.name, service.instance.id,
// k8s.namespace.name, k8s.deployment.name, k8s.pod.name, telemetry.sdk.*;
// HTTP spans http.request.method, http.route / url.template, url.path,
// server.address, http.response.status_code; RPC spans rpc.system,
// rpc.service, rpc.method (and rpc.grpc.status_code); database client spans
// db.system, db.name, db.operation, db.statement, peer.service,
// server.address. Failed spans: status ERROR with a message and error.type;
// where the error originated, an "exception" event.
//
// Threading: build on one thread; Encode() is const and may run anywhere.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "sim/topology.h"

namespace ariadne::sim {

// How a span ended.
enum class SpanOutcome : uint8_t {
  kOk,
  kError,        // the operation itself failed (the error originates here)
  kDownstream,   // a call it made failed
  kTimeout,      // client: no answer within the call's timeout
  kUnavailable,  // client: no ready replica or a full queue
};

struct SimSpan {
  uint8_t trace_id[16];
  uint64_t span_id = 0;
  uint64_t parent_span_id = 0;  // 0 = root
  Nanos start = 0;
  Nanos end = 0;
  int32_t pod = 0;         // SpanEncoder::AddPod index
  uint32_t shape = 0;      // SpanEncoder::ServerShape / ClientShape
  SpanOutcome outcome = SpanOutcome::kOk;
  uint8_t attempt = 0;     // client: retries before this attempt
  int16_t fault = -1;      // index of the fault that affected it, or -1
};

// The span name of an operation, as its own SERVER span and as callers'
// CLIENT spans name it: "GET /cart", "hipstershop.CartService/GetCart", "HGET".
std::string OperationSpanName(const Service& service, const Operation& op);

class SpanEncoder {
 public:
  SpanEncoder(const Topology& topology, const std::vector<std::string>& fault_ids,
              bool fault_attributes);

  uint32_t ServerShape(int service, int operation) const;
  // The CLIENT span a `caller` makes to callee/operation.
  uint32_t ClientShape(int caller, int callee, int operation) const;

  // Registers a pod (a replica) and returns its index for SimSpan::pod.
  int32_t AddPod(int service, const std::string& pod_name);

  // Appends one ExportTraceServiceRequest with `spans` (reordered: grouped
  // by pod, stable otherwise). Times are simulated + epoch_unix_nano.
  void Encode(std::span<SimSpan> spans, int64_t epoch_unix_nano, std::string* out) const;

 private:
  struct Shape {
    std::string name;
    int kind = 0;                 // OTLP SpanKind value
    Protocol protocol = Protocol::kGrpc;
    std::string attributes;       // encoded KeyValue fields (tag 9); moved into tails
    std::string error_message;    // status message of kError
    std::string tails[5];         // per SpanOutcome: attributes + outcome attributes + status
  };
  const Topology& topology_;
  std::vector<Shape> shapes_;
  std::vector<uint32_t> server_shape_;  // [service][operation] flattened via op_base_
  std::vector<uint32_t> op_base_;       // first index per service
  std::vector<std::vector<std::pair<uint64_t, uint32_t>>> client_shapes_;  // per caller
  std::vector<std::string> resources_;  // encoded Resource messages, per pod
  std::string scope_;                   // encoded InstrumentationScope
  std::vector<std::string> fault_attr_; // encoded sim.fault.id KeyValue per fault
};

}  // namespace ariadne::sim
