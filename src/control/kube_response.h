// The Kubernetes API server's answers, as the scale actuator reads them
// (kube_scale.h): a Scale (autoscaling/v1) or a Deployment (apps/v1) in a 2xx
// answer, and the Status object of an error. Network input: fuzzed by
// test/fuzz/kube_response_fuzzer.cc.
//
// Threading: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace ariadne::control {

// A deployment's scale, as the API server reports it.
struct KubeScale {
  int32_t spec_replicas = 0;    // desired
  int32_t status_replicas = 0;  // pods that exist (observed by the controller)
  int32_t ready_replicas = 0;   // ready pods (a Deployment only; the Scale has no such field)
};

// The replicas in an object of kind `want_kind` ("Scale" or "Deployment").
// spec.replicas and status.readyReplicas are omitted when 0 (omitempty);
// status.replicas is required. Internal errors, with an excerpt of the
// body, for anything else: not JSON, another kind, no status, a count that
// is not an int32 >= 0.
absl::StatusOr<KubeScale> ParseKubeScale(std::string_view body, std::string_view want_kind);

// What an error answer says: the message (and reason) of a Kubernetes Status
// object, else an excerpt of the body. Never empty for a non-empty body.
std::string KubeErrorDetail(std::string_view body);

}  // namespace ariadne::control
