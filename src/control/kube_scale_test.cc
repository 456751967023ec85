// KubeScaleClient against the simulator's real scale API (sim::ScaleApi over
// serve::HttpServer, backed by a real sim::Engine that is not running: its
// snapshot shows a scale command at once), and against a one-shot peer that
// records the request headers and answers what a test tells it (the scale
// API does not look at Authorization).
#include "control/kube_scale.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "serve/http_server.h"
#include "sim/engine.h"
#include "sim/scale_api.h"
#include "sim/topology.h"

namespace ariadne::control {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using ::testing::HasSubstr;

constexpr char kTopology[] = R"(
name: shop
namespace: shop
network: 0s
services:
  - name: frontend
    protocol: http
    replicas: 1
    workers: 4
    operations:
      - name: home
        time: 1ms
        calls: [cartservice.get]
  - name: cartservice
    protocol: grpc
    replicas: 2
    workers: 4
    operations:
      - name: get
        time: 1ms
requests:
  - {name: home, call: frontend.home, weight: 1}
)";

// The sim's scale API on 127.0.0.1, its io_context on a thread.
class ScaleApiServer {
 public:
  explicit ScaleApiServer(sim::ClusterControl* cluster)
      : api_(cluster), server_(io_, "scale-api", &api_, {}), work_(io_.get_executor()) {
    const absl::Status st = server_.Listen("127.0.0.1:0");
    EXPECT_TRUE(st.ok()) << st;
    thread_ = std::thread([this] { io_.run(); });
  }
  ~ScaleApiServer() {
    server_.StopAccepting();
    work_.reset();
    io_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_.port()); }

 private:
  sim::ScaleApi api_;
  asio::io_context io_;
  serve::HttpServer server_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::thread thread_;
};

// Answers `answers.size()` connections, one request each, in order, and
// records each request's method, target and headers.
class RecordingPeer {
 public:
  struct Answer {
    int status = 200;
    std::string body;
  };
  struct Seen {
    std::string method, target, authorization, content_type, body;
  };

  explicit RecordingPeer(std::vector<Answer> answers)
      : acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
    thread_ = std::thread([this, answers = std::move(answers)] {
      for (const Answer& a : answers) {  // bounded: one connection per answer
        beast::error_code ec;
        asio::ip::tcp::socket socket(io_);
        acceptor_.accept(socket, ec);
        if (ec) return;
        beast::flat_buffer buffer;
        http::request<http::string_body> req;
        http::read(socket, buffer, req, ec);
        if (ec) return;
        {
          std::lock_guard lock(mu_);
          seen_.push_back({std::string(req.method_string()), std::string(req.target()),
                           std::string(req[http::field::authorization]),
                           std::string(req[http::field::content_type]), req.body()});
        }
        http::response<http::string_body> res(static_cast<http::status>(a.status), 11);
        res.set(http::field::content_type, "application/json");
        res.body() = a.body;
        res.prepare_payload();
        http::write(socket, res, ec);
        socket.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
      }
    });
  }
  ~RecordingPeer() {
    beast::error_code ignored;
    acceptor_.close(ignored);  // ends a pending accept
    thread_.join();
  }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
  }
  std::vector<Seen> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
  std::mutex mu_;
  std::vector<Seen> seen_;
  std::thread thread_;
};

constexpr char kScale[] =
    R"({"kind":"Scale","apiVersion":"autoscaling/v1","metadata":{"name":"cartservice"},)"
    R"("spec":{"replicas":3},"status":{"replicas":2,"selector":"app=cartservice"}})";

class KubeScaleTest : public ::testing::Test {
 protected:
  KubeScaleTest() {
    auto topology = sim::ParseTopology(kTopology);
    EXPECT_TRUE(topology.ok()) << topology.status();
    topology_ = *topology;
    sim::SimOptions options;
    options.max_replicas = 50;
    engine_ = std::make_unique<sim::Engine>(topology_, options, nullptr);
    server_ = std::make_unique<ScaleApiServer>(engine_.get());
  }

  std::unique_ptr<KubeScaleClient> Client(KubeScaleOptions options) {
    if (options.base_url.empty()) options.base_url = server_->url();
    auto client = KubeScaleClient::Create(std::move(options));
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }
  std::unique_ptr<KubeScaleClient> Client() { return Client({.k8s_namespace = "shop"}); }

  int32_t EngineSpec(std::string_view name) {
    for (const auto& d : engine_->Snapshot().deployments) {
      if (d.name == name) return d.spec_replicas;
    }
    return -1;
  }

  std::string TempFile(std::string_view name, std::string_view contents) {
    const std::string path = ::testing::TempDir() + "/kube_scale_test_" + std::string(name);
    std::ofstream(path, std::ios::trunc) << contents;
    return path;
  }

  sim::Topology topology_;
  std::unique_ptr<sim::Engine> engine_;
  std::unique_ptr<ScaleApiServer> server_;
};

TEST_F(KubeScaleTest, GetReadsSpecAndStatusReplicas) {
  auto client = Client();
  auto scale = client->GetScale("cartservice");
  ASSERT_TRUE(scale.ok()) << scale.status();
  EXPECT_EQ(scale->spec_replicas, 2);
  EXPECT_EQ(scale->status_replicas, 2);
  scale = client->GetScale("frontend");
  ASSERT_TRUE(scale.ok()) << scale.status();
  EXPECT_EQ(scale->spec_replicas, 1);
}

TEST_F(KubeScaleTest, PatchSetsReplicasInTheSimulator) {
  auto client = Client();
  auto scale = client->SetReplicas("cartservice", 7);
  ASSERT_TRUE(scale.ok()) << scale.status();
  EXPECT_EQ(scale->spec_replicas, 7);
  EXPECT_EQ(EngineSpec("cartservice"), 7);
  EXPECT_EQ(EngineSpec("frontend"), 1);
  scale = client->GetScale("cartservice");
  ASSERT_TRUE(scale.ok()) << scale.status();
  EXPECT_EQ(scale->spec_replicas, 7);
  // To zero and back.
  ASSERT_TRUE(client->SetReplicas("cartservice", 0).ok());
  EXPECT_EQ(EngineSpec("cartservice"), 0);
  ASSERT_TRUE(client->SetReplicas("cartservice", 1).ok());
  EXPECT_EQ(EngineSpec("cartservice"), 1);
  EXPECT_TRUE(client->RecordedCommands().empty());
}

TEST_F(KubeScaleTest, DeploymentShowsReadyReplicas) {
  auto client = Client();
  auto d = client->GetDeployment("cartservice");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->spec_replicas, 2);
  EXPECT_EQ(d->status_replicas, 2);
  EXPECT_EQ(d->ready_replicas, 2);
  // A scale-up is desired at once; the new pods are not ready until the
  // simulation starts them.
  ASSERT_TRUE(client->SetReplicas("cartservice", 5).ok());
  d = client->GetDeployment("cartservice");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->spec_replicas, 5);
  EXPECT_LE(d->ready_replicas, 2);
  EXPECT_EQ(client->GetDeployment("nosuchservice").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(KubeScaleTest, UnknownDeploymentOrNamespaceIsNotFound) {
  auto client = Client();
  auto scale = client->GetScale("checkout");
  ASSERT_EQ(scale.status().code(), absl::StatusCode::kNotFound) << scale.status();
  EXPECT_THAT(std::string(scale.status().message()),
              HasSubstr("deployment \"checkout\" in namespace \"shop\""));
  EXPECT_THAT(std::string(scale.status().message()), HasSubstr("GET " + server_->url()));
  EXPECT_THAT(std::string(scale.status().message()),
              HasSubstr("answered HTTP 404: deployments.apps \"checkout\" not found "
                        "(reason NotFound)"));
  scale = client->SetReplicas("checkout", 3);
  ASSERT_EQ(scale.status().code(), absl::StatusCode::kNotFound) << scale.status();
  EXPECT_THAT(std::string(scale.status().message()), HasSubstr("PATCH "));

  scale = Client({.k8s_namespace = "default"})->GetScale("cartservice");
  ASSERT_EQ(scale.status().code(), absl::StatusCode::kNotFound) << scale.status();
  EXPECT_THAT(std::string(scale.status().message()), HasSubstr("in namespace \"default\""));
}

TEST_F(KubeScaleTest, RefusedValueIsInvalidArgumentWithTheServersMessage) {
  auto client = Client();
  auto scale = client->SetReplicas("cartservice", 51);
  ASSERT_EQ(scale.status().code(), absl::StatusCode::kInvalidArgument) << scale.status();
  EXPECT_THAT(std::string(scale.status().message()), HasSubstr("HTTP 422"));
  EXPECT_THAT(std::string(scale.status().message()), HasSubstr("between 0 and 50"));
  EXPECT_EQ(EngineSpec("cartservice"), 2);
  // Checked before any request.
  scale = client->SetReplicas("cartservice", -1);
  ASSERT_EQ(scale.status().code(), absl::StatusCode::kInvalidArgument) << scale.status();
  EXPECT_THAT(std::string(scale.status().message()), HasSubstr(">= 0"));
}

TEST_F(KubeScaleTest, BadTokenFileIsAnErrorNamingTheFile) {
  const std::string missing = ::testing::TempDir() + "/kube_scale_test_no_such_token";
  std::filesystem::remove(missing);
  auto client = Client({.k8s_namespace = "shop", .token_file = missing});
  auto scale = client->GetScale("cartservice");
  ASSERT_EQ(scale.status().code(), absl::StatusCode::kFailedPrecondition) << scale.status();
  EXPECT_THAT(std::string(scale.status().message()), HasSubstr("deployment \"cartservice\""));
  EXPECT_THAT(std::string(scale.status().message()),
              HasSubstr("cannot read bearer token file \"" + missing + "\""));
  EXPECT_EQ(client->SetReplicas("cartservice", 4).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(EngineSpec("cartservice"), 2);  // nothing was sent

  const std::string empty = TempFile("empty_token", " \n");
  scale = Client({.k8s_namespace = "shop", .token_file = empty})->GetScale("cartservice");
  ASSERT_EQ(scale.status().code(), absl::StatusCode::kFailedPrecondition) << scale.status();
  EXPECT_THAT(std::string(scale.status().message()), HasSubstr("is empty"));
}

TEST_F(KubeScaleTest, ServerDownIsUnavailable) {
  const std::string url = server_->url();
  server_.reset();  // the port is closed now
  auto client = Client({.base_url = url, .k8s_namespace = "shop"});
  auto scale = client->GetScale("cartservice");
  ASSERT_EQ(scale.status().code(), absl::StatusCode::kUnavailable) << scale.status();
  EXPECT_THAT(std::string(scale.status().message()), HasSubstr("deployment \"cartservice\""));
  EXPECT_THAT(std::string(scale.status().message()), HasSubstr("connect to " + url));
  EXPECT_EQ(client->SetReplicas("cartservice", 3).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(KubeScaleTest, DryRunRecordsAndSendsNothing) {
  auto client = Client({.k8s_namespace = "shop", .dry_run = true});
  auto scale = client->SetReplicas("cartservice", 9);
  ASSERT_TRUE(scale.ok()) << scale.status();
  EXPECT_EQ(scale->spec_replicas, 9);
  ASSERT_TRUE(client->SetReplicas("frontend", 3).ok());
  EXPECT_EQ(EngineSpec("cartservice"), 2);
  EXPECT_EQ(EngineSpec("frontend"), 1);
  const auto recorded = client->RecordedCommands();
  ASSERT_EQ(recorded.size(), 2u);
  EXPECT_EQ(recorded[0].deployment, "cartservice");
  EXPECT_EQ(recorded[0].replicas, 9);
  EXPECT_EQ(recorded[1].deployment, "frontend");
  // Reads still read.
  scale = client->GetScale("cartservice");
  ASSERT_TRUE(scale.ok()) << scale.status();
  EXPECT_EQ(scale->spec_replicas, 2);
}

TEST(KubeScaleClient, SendsTheMergePatchAndTheBearerTokenReadOnEveryCall) {
  const std::string token_file = ::testing::TempDir() + "/kube_scale_test_token";
  std::ofstream(token_file, std::ios::trunc) << "first-token\n";
  RecordingPeer peer({{200, kScale}, {200, kScale}, {200, kScale}});
  auto client =
      KubeScaleClient::Create({.base_url = peer.url() + "/proxy/", .k8s_namespace = "shop",
                               .token_file = token_file});
  ASSERT_TRUE(client.ok()) << client.status();
  auto scale = (*client)->GetScale("cartservice");
  ASSERT_TRUE(scale.ok()) << scale.status();
  EXPECT_EQ(scale->spec_replicas, 3);
  EXPECT_EQ(scale->status_replicas, 2);
  std::ofstream(token_file, std::ios::trunc) << "second-token";  // rotated
  ASSERT_TRUE((*client)->SetReplicas("cartservice", 3).ok());

  auto with_token = KubeScaleClient::Create(
      {.base_url = peer.url(), .k8s_namespace = "shop", .token = "fixed"});
  ASSERT_TRUE(with_token.ok());
  ASSERT_TRUE((*with_token)->GetScale("cartservice").ok());

  const auto seen = peer.seen();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].method, "GET");
  EXPECT_EQ(seen[0].target, "/proxy/apis/apps/v1/namespaces/shop/deployments/cartservice/scale");
  EXPECT_EQ(seen[0].authorization, "Bearer first-token");
  EXPECT_EQ(seen[1].method, "PATCH");
  EXPECT_EQ(seen[1].target, seen[0].target);
  EXPECT_EQ(seen[1].authorization, "Bearer second-token");
  EXPECT_EQ(seen[1].content_type, "application/merge-patch+json");
  EXPECT_EQ(seen[1].body, R"({"spec":{"replicas":3}})");
  EXPECT_EQ(seen[2].authorization, "Bearer fixed");
}

TEST(KubeScaleClient, ReadsTheApiServersAnswersAndStatusObjects) {
  RecordingPeer peer({
      // Scaled to zero: spec.replicas is omitted (omitempty).
      {200, R"({"kind":"Scale","spec":{},"status":{"replicas":1}})"},
      {401,
       R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
       R"("message":"Unauthorized","reason":"Unauthorized","code":401})"},
      {403,
       R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":)"
       R"("deployments.apps \"cartservice\" is forbidden: User \"system:serviceaccount:shop:ariadne\" )"
       R"(cannot patch resource \"deployments/scale\" in API group \"apps\" in the namespace )"
       R"(\"shop\"","reason":"Forbidden","code":403})"},
      {502, "<html>bad gateway</html>"},
      {200, R"({"kind":"Deployment"})"},
  });
  auto client = KubeScaleClient::Create({.base_url = peer.url(), .k8s_namespace = "shop"});
  ASSERT_TRUE(client.ok());
  auto scale = (*client)->GetScale("cartservice");
  ASSERT_TRUE(scale.ok()) << scale.status();
  EXPECT_EQ(scale->spec_replicas, 0);
  EXPECT_EQ(scale->status_replicas, 1);

  scale = (*client)->GetScale("cartservice");
  EXPECT_EQ(scale.status().code(), absl::StatusCode::kUnauthenticated) << scale.status();
  EXPECT_THAT(std::string(scale.status().message()),
              HasSubstr("answered HTTP 401: Unauthorized (reason Unauthorized)"));

  scale = (*client)->SetReplicas("cartservice", 2);
  EXPECT_EQ(scale.status().code(), absl::StatusCode::kPermissionDenied) << scale.status();
  EXPECT_THAT(std::string(scale.status().message()),
              HasSubstr("cannot patch resource \"deployments/scale\""));

  scale = (*client)->GetScale("cartservice");
  EXPECT_EQ(scale.status().code(), absl::StatusCode::kUnavailable) << scale.status();
  EXPECT_THAT(std::string(scale.status().message()),
              HasSubstr("answered HTTP 502: <html>bad gateway</html>"));

  scale = (*client)->GetScale("cartservice");
  EXPECT_EQ(scale.status().code(), absl::StatusCode::kInternal) << scale.status();
  EXPECT_THAT(std::string(scale.status().message()), HasSubstr("not a Scale"));
}

// A Status without a message (the fuzz target found one) still says
// something: an excerpt of the answer.
TEST(KubeResponse, ErrorDetailIsNeverEmpty) {
  EXPECT_EQ(KubeErrorDetail(R"({"kind":"Status","message":"not found","reason":"NotFound"})"),
            "not found (reason NotFound)");
  const std::string empty_message = R"({"kind":"Status","message":"","code":404})";
  EXPECT_EQ(KubeErrorDetail(empty_message), empty_message);
  EXPECT_EQ(KubeErrorDetail("  "), "(empty body)");
  EXPECT_FALSE(KubeErrorDetail("\x01").empty());
}

TEST(KubeScaleClient, CreateAndNamesAreChecked) {
  EXPECT_EQ(KubeScaleClient::Create({.base_url = "https://10.0.0.1:443"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(
      std::string(KubeScaleClient::Create({.base_url = "https://10.0.0.1"}).status().message()),
      HasSubstr("TLS is later work"));
  EXPECT_EQ(KubeScaleClient::Create({.base_url = "http://127.0.0.1:1", .k8s_namespace = "Shop"})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(KubeScaleClient::Create({.base_url = "http://127.0.0.1:1", .timeout = {}})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  auto client = KubeScaleClient::Create({.base_url = "http://127.0.0.1:1"});
  ASSERT_TRUE(client.ok());
  for (const char* bad : {"", "../x", "a/b", "Cart", "-a", "a?b=1"}) {
    EXPECT_EQ((*client)->GetScale(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ((*client)->ScaleUrl("cart"),
            "http://127.0.0.1:1/apis/apps/v1/namespaces/default/deployments/cart/scale");
}

TEST(KubeScaleClient, InClusterOptionsFromTheEnvironment) {
  std::map<std::string, std::string> env = {{"KUBERNETES_SERVICE_HOST", "10.96.0.1"},
                                            {"KUBERNETES_SERVICE_PORT", "443"}};
  const auto getenv = [&env](const char* name) -> std::optional<std::string> {
    auto it = env.find(name);
    return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
  auto options = InClusterKubeScaleOptions("shop", getenv);
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->base_url, "http://10.96.0.1:443");
  EXPECT_EQ(options->token_file, kServiceAccountTokenPath);
  EXPECT_EQ(options->k8s_namespace, "shop");
  EXPECT_TRUE(KubeScaleClient::Create(*options).ok());

  env["KUBERNETES_SERVICE_HOST"] = "fd00::1";
  options = InClusterKubeScaleOptions("shop", getenv);
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->base_url, "http://[fd00::1]:443");

  env.erase("KUBERNETES_SERVICE_PORT");
  options = InClusterKubeScaleOptions("shop", getenv);
  EXPECT_EQ(options.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(options.status().message()), HasSubstr("KUBERNETES_SERVICE_HOST"));
}

}  // namespace
}  // namespace ariadne::control
