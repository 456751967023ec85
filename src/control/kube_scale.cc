// KubeScaleClient (kube_scale.h): one SendHttp exchange per call; the answer
// is a Scale (2xx) or, for an error, usually a Kubernetes Status object,
// both read with simdjson's DOM parser (answers are small).
#include "control/kube_scale.h"

#include <simdjson.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "control/kube_response.h"

namespace ariadne::control {

namespace {

namespace dom = simdjson::dom;

// Largest answer read: a Scale or a Status is well under a kilobyte.
constexpr size_t kMaxAnswerBytes = 1 << 20;
// Largest token file read (a service-account JWT is about 1 KiB).
constexpr std::streamsize kMaxTokenBytes = 64 << 10;

// A DNS-1123 subdomain (deployment names; `label` also bars dots and caps the
// length at 63, for namespaces). Checked so a name cannot change the path.
bool IsDnsName(std::string_view s, bool label) {
  if (s.empty() || s.size() > (label ? 63u : 253u)) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    const bool edge = i == 0 || i + 1 == s.size();
    if (alnum) continue;
    if (edge) return false;
    if (c == '-' || (!label && c == '.')) continue;
    return false;
  }
  return true;
}

std::string Quoted(std::string_view s) { return absl::StrCat("\"", AbslView(s), "\""); }

// Reads the whole (small) file at `path`.
absl::StatusOr<std::string> ReadSmallFile(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::FailedPreconditionError(absl::StrCat("cannot read ", AbslView(what), " file ",
                                                      Quoted(path), ": ", std::strerror(errno)));
  }
  std::string data(static_cast<size_t>(kMaxTokenBytes) + 1, '\0');
  in.read(data.data(), kMaxTokenBytes + 1);
  if (in.bad()) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read ", AbslView(what), " file ", Quoted(path), ": read error"));
  }
  data.resize(static_cast<size_t>(in.gcount()));
  if (data.size() > static_cast<size_t>(kMaxTokenBytes)) {
    return absl::FailedPreconditionError(absl::StrCat(AbslView(what), " file ", Quoted(path),
                                                      " is over ", kMaxTokenBytes, " bytes"));
  }
  std::string trimmed(absl::StripAsciiWhitespace(data));
  if (trimmed.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(AbslView(what), " file ", Quoted(path), " is empty"));
  }
  return trimmed;
}

}  // namespace

absl::StatusOr<KubeScaleOptions> InClusterKubeScaleOptions(
    std::string k8s_namespace,
    const std::function<std::optional<std::string>(const char*)>& getenv) {
  const auto env = [&](const char* name) -> std::optional<std::string> {
    if (getenv) return getenv(name);
    const char* v = std::getenv(name);
    return v != nullptr ? std::optional<std::string>(v) : std::nullopt;
  };
  const std::optional<std::string> host = env("KUBERNETES_SERVICE_HOST");
  const std::optional<std::string> port = env("KUBERNETES_SERVICE_PORT");
  if (!host || host->empty() || !port || port->empty()) {
    return absl::FailedPreconditionError(
        "not running in a Kubernetes pod: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT "
        "are not set; give the API server's URL instead");
  }
  KubeScaleOptions options;
  const bool ipv6 = host->find(':') != std::string::npos;
  options.base_url = absl::StrCat("http://", ipv6 ? "[" : "", *host, ipv6 ? "]" : "", ":", *port);
  options.token_file = kServiceAccountTokenPath;
  if (k8s_namespace.empty()) {
    auto ns = ReadSmallFile(kServiceAccountNamespacePath, "service-account namespace");
    if (!ns.ok()) return ns.status();
    k8s_namespace = std::move(*ns);
  }
  options.k8s_namespace = std::move(k8s_namespace);
  return options;
}

absl::StatusOr<std::unique_ptr<KubeScaleClient>> KubeScaleClient::Create(
    KubeScaleOptions options) {
  auto base = ParseHttpUrl(options.base_url, "Kubernetes API server URL");
  if (!base.ok()) return base.status();
  if (!base->query.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("Kubernetes API server URL ",
                                                   Quoted(options.base_url),
                                                   ": a query is not allowed"));
  }
  while (!base->path.empty() && base->path.back() == '/') base->path.pop_back();
  if (!IsDnsName(options.k8s_namespace, /*label=*/true)) {
    return absl::InvalidArgumentError(
        absl::StrCat("namespace ", Quoted(options.k8s_namespace),
                     " is not a DNS-1123 label (lower-case letters, digits and '-', at most 63)"));
  }
  if (options.timeout.count() <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Kubernetes API timeout must be positive, not ", options.timeout.count(), " ms"));
  }
  return std::unique_ptr<KubeScaleClient>(new KubeScaleClient(std::move(options), *std::move(base)));
}

KubeScaleClient::KubeScaleClient(KubeScaleOptions options, HttpUrl base)
    : options_(std::move(options)), base_(std::move(base)) {}

HttpUrl KubeScaleClient::ScaleHttpUrl(std::string_view deployment, bool scale) const {
  HttpUrl url = base_;
  url.path = absl::StrCat(base_.path, "/apis/apps/v1/namespaces/", options_.k8s_namespace,
                          "/deployments/", AbslView(deployment), scale ? "/scale" : "");
  return url;
}

std::string KubeScaleClient::ScaleUrl(std::string_view deployment) const {
  return ScaleHttpUrl(deployment, /*scale=*/true).ToString();
}

absl::StatusOr<std::string> KubeScaleClient::Authorization() const {
  if (!options_.token.empty()) return absl::StrCat("Bearer ", options_.token);
  if (options_.token_file.empty()) return std::string();
  auto token = ReadSmallFile(options_.token_file, "bearer token");
  if (!token.ok()) return token.status();
  return absl::StrCat("Bearer ", *token);
}

absl::StatusOr<KubeScale> KubeScaleClient::Call(std::string_view deployment, HttpMethod method,
                                                std::string body, bool scale) const {
  const std::string who = absl::StrCat("deployment ", Quoted(deployment), " in namespace ",
                                       Quoted(options_.k8s_namespace));
  if (!IsDnsName(deployment, /*label=*/false)) {
    return absl::InvalidArgumentError(
        absl::StrCat(who, ": not a DNS-1123 name (lower-case letters, digits, '-' and '.')"));
  }
  auto authorization = Authorization();
  if (!authorization.ok()) {
    return absl::Status(authorization.status().code(),
                        absl::StrCat(who, ": ", authorization.status().message()));
  }
  const HttpUrl url = ScaleHttpUrl(deployment, scale);
  HttpRequest request;
  request.method = method;
  request.target = url.Target();
  request.authorization = *std::move(authorization);
  if (method == HttpMethod::kPatch) request.content_type = "application/merge-patch+json";
  request.body = std::move(body);
  const std::string call =
      absl::StrCat(who, ": ", AbslView(HttpMethodName(method)), " ", url.ToString());

  auto answer = SendHttp(url, request, options_.timeout, {}, kMaxAnswerBytes);
  if (!answer.ok()) {
    return absl::Status(answer.status().code(),
                        absl::StrCat(who, ": ", answer.status().message()));
  }
  if (answer->status < 200 || answer->status > 299) {
    return absl::Status(HttpStatusCode(answer->status),
                        absl::StrCat(call, " answered HTTP ", answer->status, ": ",
                                     KubeErrorDetail(answer->body)));
  }
  auto parsed = ParseKubeScale(answer->body, scale ? "Scale" : "Deployment");
  if (!parsed.ok()) {
    return absl::Status(parsed.status().code(),
                        absl::StrCat(call, ": ", parsed.status().message()));
  }
  return *parsed;
}

absl::StatusOr<KubeScale> KubeScaleClient::GetScale(std::string_view deployment) const {
  return Call(deployment, HttpMethod::kGet, "", /*scale=*/true);
}

absl::StatusOr<KubeScale> KubeScaleClient::GetDeployment(std::string_view deployment) const {
  return Call(deployment, HttpMethod::kGet, "", /*scale=*/false);
}

absl::StatusOr<KubeScale> KubeScaleClient::SetReplicas(std::string_view deployment,
                                                       int32_t replicas) {
  if (replicas < 0) {
    return absl::InvalidArgumentError(absl::StrCat("deployment ", Quoted(deployment),
                                                   ": replicas must be >= 0, not ", replicas));
  }
  if (options_.dry_run) {
    absl::MutexLock lock(&mu_);
    recorded_.push_back({std::string(deployment), replicas});
    if (recorded_.size() > kMaxRecordedCommands) recorded_.pop_front();
    return KubeScale{.spec_replicas = replicas, .status_replicas = 0};
  }
  return Call(deployment, HttpMethod::kPatch,
              absl::StrCat("{\"spec\":{\"replicas\":", replicas, "}}"), /*scale=*/true);
}

std::vector<KubeScaleCommand> KubeScaleClient::RecordedCommands() const {
  absl::MutexLock lock(&mu_);
  return {recorded_.begin(), recorded_.end()};
}

}  // namespace ariadne::control
