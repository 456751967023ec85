// Reading the Kubernetes API server's answers (kube_response.h) with
// simdjson's DOM parser (answers are small).
#include "control/kube_response.h"

#include <simdjson.h>

#include <limits>
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/http_client.h"
#include "common/strings.h"

namespace ariadne::control {
namespace {

namespace dom = simdjson::dom;

// An int32 field at `object[key]`: nullopt if absent, error if not an integer.
absl::StatusOr<std::optional<int32_t>> IntField(dom::object object, std::string_view key) {
  dom::element e;
  if (object.at_key(key).get(e) != simdjson::SUCCESS) return std::nullopt;
  int64_t v = 0;
  if (e.get_int64().get(v) != simdjson::SUCCESS || v < 0 ||
      v > std::numeric_limits<int32_t>::max()) {
    return absl::InternalError(
        absl::StrCat("\"", AbslView(key), "\" is not a replica count: ", simdjson::to_string(e)));
  }
  return static_cast<int32_t>(v);
}

// The Scale in a 2xx answer. spec.replicas is omitted when 0 (omitempty in
// the Kubernetes type); status.replicas is required.
}  // namespace

absl::StatusOr<KubeScale> ParseKubeScale(std::string_view body, std::string_view want_kind) {
  dom::parser parser;
  dom::element root;
  if (parser.parse(body.data(), body.size()).get(root) != simdjson::SUCCESS) {
    return absl::InternalError(absl::StrCat("the answer is not JSON: ", BodyExcerpt(body)));
  }
  dom::object object, spec, status;
  std::string_view kind;
  if (root.get_object().get(object) != simdjson::SUCCESS ||
      object.at_key("kind").get_string().get(kind) != simdjson::SUCCESS || kind != want_kind) {
    return absl::InternalError(absl::StrCat("the answer is not a ", AbslView(want_kind), ": ",
                                            BodyExcerpt(body)));
  }
  KubeScale out;
  if (object.at_key("spec").get_object().get(spec) == simdjson::SUCCESS) {
    auto replicas = IntField(spec, "replicas");
    if (!replicas.ok()) return replicas.status();
    out.spec_replicas = replicas->value_or(0);
  }
  if (object.at_key("status").get_object().get(status) != simdjson::SUCCESS) {
    return absl::InternalError(absl::StrCat("the ", AbslView(want_kind),
                                            " has no status: ", BodyExcerpt(body)));
  }
  auto replicas = IntField(status, "replicas");
  if (!replicas.ok()) return replicas.status();
  out.status_replicas = replicas->value_or(0);
  if (want_kind == "Deployment") {  // readyReplicas is omitted when 0
    auto ready = IntField(status, "readyReplicas");
    if (!ready.ok()) return ready.status();
    out.ready_replicas = ready->value_or(0);
  }
  return out;
}

// What an error answer says: the message (and reason) of a Kubernetes
// Status object, else (no Status, or one with an empty message) an excerpt
// of the body, which is never empty.
std::string KubeErrorDetail(std::string_view body) {
  dom::parser parser;
  dom::element root;
  dom::object object;
  std::string_view kind, message, reason;
  if (parser.parse(body.data(), body.size()).get(root) == simdjson::SUCCESS &&
      root.get_object().get(object) == simdjson::SUCCESS &&
      object.at_key("kind").get_string().get(kind) == simdjson::SUCCESS && kind == "Status" &&
      object.at_key("message").get_string().get(message) == simdjson::SUCCESS &&
      !message.empty()) {
    if (object.at_key("reason").get_string().get(reason) == simdjson::SUCCESS &&
        !reason.empty()) {
      return absl::StrCat(AbslView(message), " (reason ", AbslView(reason), ")");
    }
    return std::string(message);
  }
  return BodyExcerpt(body);
}

}  // namespace ariadne::control
