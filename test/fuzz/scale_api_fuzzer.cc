// libFuzzer target: the simulator's Kubernetes scale API (sim/scale_api.h),
// driven through ScaleApi::Handle directly (no server, no sockets) against an
// in-memory cluster.
//
// Input layout:
//   byte 0  method        (kMethods[b % size])
//   byte 1  content type  (kContentTypes[b % size])
//   byte 2  path          (kPaths[b % size] if below its size; otherwise the
//                          path is the text up to the first NUL)
//   rest    body
//
// Invariants checked on every request:
//  - the responder is called exactly once, before Handle returns (the scale
//    API answers synchronously);
//  - the status is one the API documents (200, 400, 404, 405, 415, 422, and
//    500/503 only when SetReplicas failed that way);
//  - every JSON answer is valid JSON (simdjson, which also checks UTF-8);
//    every error is a metav1.Status whose code is the HTTP status; a 405
//    carries Allow;
//  - SetReplicas is called at most once, only for PUT or PATCH of a scale
//    subresource, and only with 0 <= n; after it succeeded the answer is a 200
//    Scale whose spec.replicas is n.
// ScaleApi::ErrorResponse (the server's own refusals) gets the same checks
// with the body as its message.
#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/scale_api.h"

namespace {

using ariadne::serve::HttpRequest;
using ariadne::serve::HttpResponse;
using ariadne::sim::ClusterControl;
using ariadne::sim::ClusterSnapshot;

#define FUZZ_CHECK(cond)                                                           \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                \
    }                                                                              \
  } while (0)

constexpr std::string_view kMethods[] = {"GET",  "PUT", "PATCH", "POST",
                                         "DELETE", "HEAD", "put", ""};
constexpr std::string_view kContentTypes[] = {
    "",
    "application/json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/json-patch+json",
    "application/apply-patch+yaml",
    "text/plain",
    "application/json-patch+json; charset=utf-8",
};
constexpr std::string_view kPaths[] = {
    "/apis/apps/v1/namespaces/shop/deployments/cartservice/scale",
    "/apis/apps/v1/namespaces/shop/deployments/frontend/scale",  // lags (see below)
    "/apis/apps/v1/namespaces/shop/deployments/redis/scale",
    "/apis/apps/v1/namespaces/shop/deployments/flaky/scale",     // SetReplicas: Unavailable
    "/apis/apps/v1/namespaces/shop/deployments/broken/scale",    // SetReplicas: Internal
    "/apis/apps/v1/namespaces/shop/deployments/vanishing/scale", // gone after SetReplicas
    "/apis/apps/v1/namespaces/shop/deployments/unknown/scale",
    "/apis/apps/v1/namespaces/other/deployments/cartservice/scale",
    "/apis/apps/v1/namespaces/shop/deployments",
    "/apis/apps/v1/namespaces/shop/deployments/cartservice",
    "/metrics",
    "/healthz",
};
constexpr size_t kPathModes = 2 * std::size(kPaths);  // half the values: a literal path

constexpr int32_t kMaxReplicas = 50;

// The engine's stand-in, fresh for every input. "frontend" records a scale
// but shows it only later (as the engine applies it at its next step);
// "flaky" and "broken" fail; "vanishing" is gone once scaled.
class FuzzCluster : public ClusterControl {
 public:
  FuzzCluster() {
    snapshot_.k8s_namespace = "shop";
    snapshot_.sim_seconds = 12.5;
    snapshot_.unix_millis = 1'700'000'012'500;
    for (const char* name : {"cartservice", "frontend", "redis", "flaky", "broken", "vanishing"}) {
      snapshot_.deployments.push_back({.name = name,
                                       .spec_replicas = 2,
                                       .status_replicas = 2,
                                       .ready_replicas = 1,
                                       .cpu_request_cores = 0.25,
                                       .memory_limit_bytes = 256.0 * 1024 * 1024,
                                       .generation = 4});
      snapshot_.pods.push_back({.deployment = name,
                                .pod = std::string(name) + "-5d8f7c9b6d-x2k4p",
                                .ready = true,
                                .cpu_seconds_total = 1.5,
                                .memory_working_set_bytes = 64e6});
    }
    snapshot_.deployments[2].spec_replicas = 0;  // redis: scaled to zero
  }

  ClusterSnapshot Snapshot() const override { return snapshot_; }

  absl::Status SetReplicas(std::string_view deployment, int32_t replicas) override {
    FUZZ_CHECK(replicas >= 0);
    FUZZ_CHECK(!called);  // one request, at most one scale
    called = true;
    set_to = replicas;
    if (replicas > kMaxReplicas) {
      return absl::InvalidArgumentError("replicas must be between 0 and 50 in this simulation");
    }
    if (deployment == "flaky") return absl::UnavailableError("the simulation is stopping");
    if (deployment == "broken") return absl::InternalError("engine failure");
    for (auto it = snapshot_.deployments.begin(); it != snapshot_.deployments.end(); ++it) {
      if (it->name != deployment) continue;
      if (deployment == "vanishing") {
        snapshot_.deployments.erase(it);
      } else if (deployment != "frontend" && it->spec_replicas != replicas) {
        it->spec_replicas = replicas;
        ++it->generation;
      }
      succeeded = true;
      return absl::OkStatus();
    }
    return absl::NotFoundError("no such deployment");
  }

  bool called = false;
  bool succeeded = false;
  int32_t set_to = -1;

 private:
  ClusterSnapshot snapshot_;
};

bool Has(std::string_view s, std::string_view part) { return s.find(part) != s.npos; }

// An error answer must be a metav1.Status whose code is the HTTP status.
void CheckStatus(const HttpResponse& r, simdjson::dom::element root) {
  simdjson::dom::object obj;
  FUZZ_CHECK(root.get_object().get(obj) == simdjson::SUCCESS);
  std::string_view s;
  int64_t code = 0;
  FUZZ_CHECK(obj["kind"].get_string().get(s) == simdjson::SUCCESS && s == "Status");
  FUZZ_CHECK(obj["apiVersion"].get_string().get(s) == simdjson::SUCCESS && s == "v1");
  FUZZ_CHECK(obj["status"].get_string().get(s) == simdjson::SUCCESS && s == "Failure");
  FUZZ_CHECK(obj["message"].get_string().get(s) == simdjson::SUCCESS);
  FUZZ_CHECK(obj["reason"].get_string().get(s) == simdjson::SUCCESS && !s.empty());
  FUZZ_CHECK(obj["code"].get_int64().get(code) == simdjson::SUCCESS && code == r.status);
}

// Parses a JSON answer; it must be valid (simdjson also rejects bad UTF-8).
simdjson::dom::element ParseJson(simdjson::dom::parser& parser, const HttpResponse& r) {
  FUZZ_CHECK(r.content_type == "application/json");
  simdjson::dom::element root;
  const simdjson::error_code e = parser.parse(r.body).get(root);
  if (e != simdjson::SUCCESS) {
    std::fprintf(stderr, "invalid JSON answer (%s), status %d: %s\n", simdjson::error_message(e),
                 r.status, r.body.c_str());
  }
  FUZZ_CHECK(e == simdjson::SUCCESS);
  return root;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  HttpRequest request;
  request.method = std::string(kMethods[data[0] % std::size(kMethods)]);
  request.content_type = std::string(kContentTypes[data[1] % std::size(kContentTypes)]);
  std::string_view rest = input.substr(3);
  const size_t path_mode = data[2] % kPathModes;
  if (path_mode < std::size(kPaths)) {
    request.path = std::string(kPaths[path_mode]);
  } else {
    const size_t nul = rest.find('\0');
    request.path = std::string(rest.substr(0, nul));
    rest = nul == rest.npos ? std::string_view() : rest.substr(nul + 1);
  }
  request.body = std::string(rest);
  const std::string method = request.method;
  const std::string path = request.path;

  FuzzCluster cluster;
  ariadne::sim::ScaleApi api(&cluster);
  int calls = 0;
  std::optional<HttpResponse> response;
  api.Handle(std::move(request), [&](HttpResponse r) {
    ++calls;
    response = std::move(r);
  });
  FUZZ_CHECK(calls == 1);
  const HttpResponse& r = *response;

  std::string_view trimmed = path;
  while (trimmed.ends_with('/')) trimmed.remove_suffix(1);
  const bool scale = trimmed.starts_with("/apis/") && trimmed.ends_with("/scale");
  if (cluster.called) {
    FUZZ_CHECK(method == "PUT" || method == "PATCH");
    FUZZ_CHECK(scale);
  }
  const int st = r.status;
  switch (st) {
    case 200:
    case 400:
    case 404:
    case 405:
    case 415:
    case 422:
      break;
    case 500:
    case 503:
      FUZZ_CHECK(cluster.called && !cluster.succeeded);
      break;
    default:
      std::fprintf(stderr, "undocumented status %d\n", st);
      std::abort();
  }

  simdjson::dom::parser parser;
  if (st == 200) {
    if (path == "/metrics" || path == "/healthz" || path == "/livez" || path == "/readyz") {
      FUZZ_CHECK(method == "GET");
      FUZZ_CHECK(!r.body.empty());
    } else {
      const simdjson::dom::element root = ParseJson(parser, r);
      FUZZ_CHECK(root.is_object());
      if (cluster.succeeded) {
        // The answer is the Scale with the new spec, lag or not.
        std::string_view kind;
        int64_t replicas = -1;
        FUZZ_CHECK(root["kind"].get_string().get(kind) == simdjson::SUCCESS && kind == "Scale");
        FUZZ_CHECK(root.at_pointer("/spec/replicas").get_int64().get(replicas) ==
                   simdjson::SUCCESS);
        FUZZ_CHECK(replicas == cluster.set_to);
      }
    }
  } else {
    // "vanishing" answers 404 after a successful SetReplicas; nothing else
    // fails once the scale was applied.
    FUZZ_CHECK(!cluster.succeeded || (st == 404 && Has(path, "/vanishing/")));
    CheckStatus(r, ParseJson(parser, r));
    if (st == 405) {
      bool allow = false;
      for (const auto& [k, v] : r.headers) allow |= k == "Allow" && !v.empty();
      FUZZ_CHECK(allow);
    }
  }

  // The server's own refusals (413, 429, 503, 400) through ErrorResponse.
  const int codes[] = {400, 413, 429, 503};
  const HttpResponse e =
      api.ErrorResponse(codes[data[0] % std::size(codes)], std::string(rest), "application/json");
  FUZZ_CHECK(e.status == codes[data[0] % std::size(codes)]);
  CheckStatus(e, ParseJson(parser, e));
  return 0;
}
