// The Kubernetes actuator: reads and sets a deployment's replicas through
// the scale subresource of the API server (apps/v1), as `kubectl scale` and
// the HPA controller do:
//
//   GET   /apis/apps/v1/namespaces/{ns}/deployments/{name}/scale
//         -> an autoscaling/v1 Scale: spec.replicas (desired; omitted when
//            0), status.replicas (pods that exist)
//   PATCH same, Content-Type application/merge-patch+json,
//         body {"spec":{"replicas":N}}
//
// A merge patch of spec.replicas alone, not a PUT of the whole Scale: it
// needs no resourceVersion, so it cannot conflict with another writer and
// leaves every other field alone. The calls carry a bearer token, given
// as a string or as a file that is read again on every call (a projected
// service-account token at
// /var/run/secrets/kubernetes.io/serviceaccount/token is rotated by the
// kubelet). The RBAC the token needs: get and patch on deployments/scale in
// the namespace (docs/autoscaling.md#actuators).
//
// Plain http:// only: TLS is later work (ParseHttpUrl refuses https://). A
// real API server answers only https, so until then this reaches it through
// an http endpoint in front of it (`kubectl proxy`), or the simulator's
// scale API (docs/sim.md).
//
// Errors name the deployment, the method and the URL; an HTTP error status
// maps to its Status code (HttpStatusCode) and carries the message of the
// Kubernetes Status object in the body, when it is one. In dry-run mode
// SetReplicas sends nothing and only records what it would have set;
// GetScale still reads.
//
// Threading: a KubeScaleClient may be used from any thread, concurrently;
// each call makes its own connection (SendHttp).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "control/kube_response.h"
#include "absl/synchronization/mutex.h"
#include "common/http_client.h"

namespace ariadne::control {

// Where a pod finds its service account's credentials.
inline constexpr char kServiceAccountTokenPath[] =
    "/var/run/secrets/kubernetes.io/serviceaccount/token";
inline constexpr char kServiceAccountNamespacePath[] =
    "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

struct KubeScaleOptions {
  // The API server: "http://host[:port]" (a path prefix is kept, for a
  // proxy that serves the API under one).
  std::string base_url{};
  // The namespace of the deployments (a DNS-1123 label).
  std::string k8s_namespace = "default";
  // The bearer token: `token` if not empty, else the contents of
  // `token_file` (read on every call, whitespace trimmed) if not empty, else
  // no Authorization header (for `kubectl proxy` or the simulator).
  std::string token{};
  std::string token_file{};
  // Bounds each call (connect, send and read together).
  std::chrono::milliseconds timeout{5000};
  // Record scale commands instead of sending them.
  bool dry_run = false;
};

// Options for a pod in the cluster: base URL from KUBERNETES_SERVICE_HOST
// and KUBERNETES_SERVICE_PORT (as http://, see the TLS note above), the
// service account's token file, and the namespace `k8s_namespace` or, if
// empty, the pod's own (from kServiceAccountNamespacePath). FailedPrecondition
// when the variables are not set (not in a cluster) or the namespace file
// cannot be read. `getenv` is the environment (std::getenv by default;
// tests pass their own).
[[nodiscard]] absl::StatusOr<KubeScaleOptions> InClusterKubeScaleOptions(
    std::string k8s_namespace = "",
    const std::function<std::optional<std::string>(const char*)>& getenv = nullptr);


// A scale command recorded in dry-run mode.
struct KubeScaleCommand {
  std::string deployment{};
  int32_t replicas = 0;
};

class KubeScaleClient {
 public:
  // InvalidArgument for a bad base URL or namespace, or a timeout that is not
  // positive.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<KubeScaleClient>> Create(
      KubeScaleOptions options);

  // GET …/scale. NotFound (the deployment or namespace does not exist),
  // Unauthenticated, PermissionDenied, Unavailable (refused, or 5xx),
  // DeadlineExceeded, FailedPrecondition (the token file cannot be read),
  // InvalidArgument (not a deployment name), Internal (the answer is not a
  // Scale).
  [[nodiscard]] absl::StatusOr<KubeScale> GetScale(std::string_view deployment) const;

  // GET the deployment itself (…/deployments/{name}, which needs `get` on
  // deployments): its spec.replicas, status.replicas and
  // status.readyReplicas. Errors as GetScale (Internal: not a Deployment).
  [[nodiscard]] absl::StatusOr<KubeScale> GetDeployment(std::string_view deployment) const;

  // PATCH …/scale to `replicas` (>= 0); the Scale the server answers with.
  // In dry-run mode: records the command and returns {replicas, 0} without
  // sending anything (no token is read). Errors as GetScale, and
  // InvalidArgument for replicas < 0 or the server refusing the value (422).
  [[nodiscard]] absl::StatusOr<KubeScale> SetReplicas(std::string_view deployment,
                                                      int32_t replicas);

  // The commands recorded in dry-run mode, oldest first (the last
  // kMaxRecordedCommands).
  std::vector<KubeScaleCommand> RecordedCommands() const;
  static constexpr size_t kMaxRecordedCommands = 1000;

  bool dry_run() const { return options_.dry_run; }
  const std::string& k8s_namespace() const { return options_.k8s_namespace; }
  // The URL of a deployment's scale subresource (no check of the name).
  std::string ScaleUrl(std::string_view deployment) const;

 private:
  KubeScaleClient(KubeScaleOptions options, HttpUrl base);

  // The deployment's URL, with "/scale" when `scale`.
  HttpUrl ScaleHttpUrl(std::string_view deployment, bool scale) const;
  // Sends one request to `deployment`'s scale subresource and parses the
  // Scale in a 2xx answer.
  absl::StatusOr<KubeScale> Call(std::string_view deployment, HttpMethod method,
                                 std::string body, bool scale) const;
  // The Authorization header value, "" for none.
  absl::StatusOr<std::string> Authorization() const;

  KubeScaleOptions options_;
  HttpUrl base_;
  mutable absl::Mutex mu_;
  std::deque<KubeScaleCommand> recorded_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ariadne::control
