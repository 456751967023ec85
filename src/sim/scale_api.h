// The simulator's Kubernetes face, on one HTTP listener:
//
//   GET   /apis/apps/v1/namespaces/{ns}/deployments/{name}/scale
//   PUT   same, with an autoscaling/v1 Scale body
//   PATCH same, Content-Type application/merge-patch+json,
//         application/strategic-merge-patch+json or application/json-patch+json
//   GET   /apis/apps/v1/namespaces/{ns}/deployments[/{name}]   (apps/v1 Deployment
//         objects with spec.replicas and status.replicas/readyReplicas/availableReplicas)
//   GET   /metrics   cAdvisor and kube-state-metrics series for every pod and
//         deployment (see docs/sim.md)
//   GET   /healthz
//
// Errors are Kubernetes Status objects (kind: Status, reason NotFound,
// BadRequest, UnsupportedMediaType, MethodNotAllowed) with the matching code.
//
// Threading: Handle() runs on the HTTP server's threads; ClusterControl is
// thread-safe.
#pragma once

#include "serve/http_server.h"
#include "sim/cluster.h"

namespace ariadne::sim {

class ScaleApi : public serve::HttpHandler {
 public:
  explicit ScaleApi(ClusterControl* cluster) : cluster_(cluster) {}
  void Handle(serve::HttpRequest request, serve::Responder respond) override;
  serve::HttpResponse ErrorResponse(int status, std::string message,
                                    std::string_view request_content_type) override;

 private:
  ClusterControl* cluster_;  // not owned
};

}  // namespace ariadne::sim
