#include "sim/scale_api.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

namespace ariadne::sim {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

// The engine's stand-in: two deployments and their pods, in memory. With
// `lag`, SetReplicas is recorded but the snapshot does not show it yet (as
// when the simulation applies it at its next step).
class FakeCluster : public ClusterControl {
 public:
  FakeCluster() {
    snapshot_.k8s_namespace = "shop";
    snapshot_.sim_seconds = 90.5;
    snapshot_.unix_millis = 1'700'000'090'500;  // start: 2023-11-14T22:13:20Z
    snapshot_.deployments = {
        {.name = "cartservice",
         .spec_replicas = 2,
         .status_replicas = 2,
         .ready_replicas = 1,
         .cpu_request_cores = 0.25,
         .memory_limit_bytes = 512.0 * 1024 * 1024,
         .generation = 3},
        {.name = "frontend",
         .spec_replicas = 1,
         .status_replicas = 1,
         .ready_replicas = 1,
         .cpu_request_cores = 1,
         .memory_limit_bytes = 1e9,
         .generation = 1},
    };
    snapshot_.pods = {
        {.deployment = "cartservice",
         .pod = "cartservice-5d8f7c9b6d-x2k4p",
         .ready = true,
         .cpu_seconds_total = 12.5,
         .memory_working_set_bytes = 100e6,
         .restarts = 0},
        {.deployment = "cartservice",
         .pod = "cartservice-5d8f7c9b6d-q9z7w",
         .ready = false,
         .cpu_seconds_total = 0.125,
         .memory_working_set_bytes = 20e6,
         .restarts = 2},
        {.deployment = "frontend",
         .pod = "frontend-7c9b6d5d8f-a1b2c",
         .ready = true,
         .cpu_seconds_total = 40,
         .memory_working_set_bytes = 300e6,
         .restarts = 0},
    };
  }

  ClusterSnapshot Snapshot() const override {
    std::lock_guard lock(mu_);
    return snapshot_;
  }

  absl::Status SetReplicas(std::string_view deployment, int32_t replicas) override {
    std::lock_guard lock(mu_);
    calls_.emplace_back(deployment, replicas);
    if (replicas < 0 || replicas > kMaxReplicas) {
      return absl::InvalidArgumentError("replicas must be between 0 and 50 in this simulation");
    }
    for (auto& d : snapshot_.deployments) {
      if (d.name != deployment) continue;
      if (!lag && d.spec_replicas != replicas) {
        d.spec_replicas = replicas;
        ++d.generation;
      }
      return absl::OkStatus();
    }
    return absl::NotFoundError("no such deployment");
  }

  std::vector<std::pair<std::string, int32_t>> calls() const {
    std::lock_guard lock(mu_);
    return calls_;
  }

  void Mutate(const std::function<void(ClusterSnapshot&)>& f) {
    std::lock_guard lock(mu_);
    f(snapshot_);
  }

  static constexpr int32_t kMaxReplicas = 50;
  std::atomic<bool> lag{false};

 private:
  mutable std::mutex mu_;
  ClusterSnapshot snapshot_;
  std::vector<std::pair<std::string, int32_t>> calls_;
};

struct Reply {
  int status = 0;
  std::string content_type;
  std::string body;
  std::string allow;
  rapidjson::Document json;
};

// A real HTTP server for `handler` on 127.0.0.1, its io_context on a thread.
class TestServer {
 public:
  TestServer(serve::HttpHandler* handler, serve::HttpServerOptions options)
      : server_(io_, "scale-api", handler, options), work_(io_.get_executor()) {
    const absl::Status st = server_.Listen("127.0.0.1:0");
    EXPECT_TRUE(st.ok()) << st;
    thread_ = std::thread([this] { io_.run(); });
  }
  ~TestServer() {
    server_.StopAccepting();
    work_.reset();
    io_.stop();
    thread_.join();
  }
  uint16_t port() const { return server_.port(); }

 private:
  asio::io_context io_;
  serve::HttpServer server_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::thread thread_;
};

class ScaleApiTest : public ::testing::Test {
 protected:
  void SetUp() override { server_ = std::make_unique<TestServer>(&api_, serve::HttpServerOptions{}); }

  Reply Send(http::verb method, const std::string& target, std::string body = "",
             std::string content_type = "") {
    asio::io_context io;
    asio::ip::tcp::socket socket(io);
    socket.connect({asio::ip::make_address("127.0.0.1"), server_->port()});
    http::request<http::string_body> req(method, target, 11);
    req.set(http::field::host, "127.0.0.1");
    if (!content_type.empty()) req.set(http::field::content_type, content_type);
    req.body() = std::move(body);
    req.prepare_payload();
    http::write(socket, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(socket, buffer, res);
    beast::error_code ignored;
    socket.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);

    Reply r;
    r.status = res.result_int();
    r.content_type = std::string(res[http::field::content_type]);
    r.allow = std::string(res[http::field::allow]);
    r.body = res.body();
    if (r.content_type == "application/json") {
      r.json.Parse(r.body.c_str());
      EXPECT_FALSE(r.json.HasParseError()) << r.body;
    }
    return r;
  }

  Reply Get(const std::string& target) { return Send(http::verb::get, target); }

  static constexpr const char* kCartScale =
      "/apis/apps/v1/namespaces/shop/deployments/cartservice/scale";

  FakeCluster cluster_;
  ScaleApi api_{&cluster_};
  std::unique_ptr<TestServer> server_;
};

std::string Member(const rapidjson::Value& v, std::initializer_list<const char*> path) {
  const rapidjson::Value* cur = &v;
  for (const char* key : path) {
    if (!cur->IsObject() || !cur->HasMember(key)) return "<missing>";
    cur = &(*cur)[key];
  }
  if (cur->IsString()) return cur->GetString();
  if (cur->IsInt64()) return std::to_string(cur->GetInt64());
  return "<other>";
}

// Checks a Status object and returns its message.
std::string ExpectStatus(const Reply& r, int code, const char* reason) {
  EXPECT_EQ(r.status, code) << r.body;
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(Member(r.json, {"kind"}), "Status");
  EXPECT_EQ(Member(r.json, {"apiVersion"}), "v1");
  EXPECT_EQ(Member(r.json, {"status"}), "Failure");
  EXPECT_EQ(Member(r.json, {"reason"}), reason) << r.body;
  EXPECT_EQ(Member(r.json, {"code"}), std::to_string(code));
  return Member(r.json, {"message"});
}

TEST_F(ScaleApiTest, GetScaleIsAnAutoscalingV1Scale) {
  Reply r = Get(kCartScale);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "application/json");
  const std::string uid = Member(r.json, {"metadata", "uid"});
  EXPECT_EQ(uid.size(), 36u) << uid;
  EXPECT_EQ(r.body,
            "{\"kind\":\"Scale\",\"apiVersion\":\"autoscaling/v1\",\"metadata\":{\"name\":"
            "\"cartservice\",\"namespace\":\"shop\",\"uid\":\"" +
                uid +
                "\",\"resourceVersion\":\"3\",\"creationTimestamp\":\"2023-11-14T22:13:20Z\"},"
                "\"spec\":{\"replicas\":2},\"status\":{\"replicas\":2,\"selector\":"
                "\"app=cartservice\"}}");
  // The uid is stable and differs between deployments.
  EXPECT_EQ(Member(Get(kCartScale).json, {"metadata", "uid"}), uid);
  EXPECT_NE(
      Member(Get("/apis/apps/v1/namespaces/shop/deployments/frontend/scale").json,
             {"metadata", "uid"}),
      uid);
  EXPECT_TRUE(cluster_.calls().empty());
}

TEST_F(ScaleApiTest, UnknownDeploymentOrNamespaceIsNotFound) {
  const std::string want =
      "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
      "\"message\":\"deployments.apps \\\"x\\\" not found\",\"reason\":\"NotFound\","
      "\"details\":{\"name\":\"x\",\"group\":\"apps\",\"kind\":\"deployments\"},\"code\":404}";
  Reply r = Get("/apis/apps/v1/namespaces/shop/deployments/x/scale");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, want);
  r = Send(http::verb::put, "/apis/apps/v1/namespaces/shop/deployments/x/scale",
           R"({"spec":{"replicas":1}})", "application/json");
  EXPECT_EQ(r.body, want);
  r = Get("/apis/apps/v1/namespaces/default/deployments/cartservice/scale");
  ExpectStatus(r, 404, "NotFound");
  EXPECT_EQ(Member(r.json, {"details", "name"}), "cartservice");
  ExpectStatus(Get("/apis/apps/v1/namespaces/shop/deployments/cartservice/status"), 404,
               "NotFound");
  ExpectStatus(Get("/api/v1/namespaces/shop/pods"), 404, "NotFound");
  EXPECT_TRUE(cluster_.calls().empty());
}

TEST_F(ScaleApiTest, PutSetsReplicas) {
  Reply r = Send(http::verb::put, kCartScale,
                 R"({"kind":"Scale","apiVersion":"autoscaling/v1",
                     "metadata":{"name":"cartservice","namespace":"shop","resourceVersion":"3"},
                     "spec":{"replicas":5},"status":{"replicas":2}})",
                 "application/json");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Member(r.json, {"kind"}), "Scale");
  EXPECT_EQ(Member(r.json, {"spec", "replicas"}), "5");
  EXPECT_EQ(Member(r.json, {"status", "replicas"}), "2");
  EXPECT_EQ(Member(r.json, {"metadata", "resourceVersion"}), "4");
  EXPECT_EQ(cluster_.calls(), (std::vector<std::pair<std::string, int32_t>>{{"cartservice", 5}}));
  EXPECT_EQ(Member(Get(kCartScale).json, {"spec", "replicas"}), "5");

  // Scaling to zero is allowed.
  r = Send(http::verb::put, kCartScale, R"({"spec":{"replicas":0}})", "application/json");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Member(r.json, {"spec", "replicas"}), "0");
  EXPECT_EQ(cluster_.calls().back(), (std::pair<std::string, int32_t>{"cartservice", 0}));
}

TEST_F(ScaleApiTest, AnswerShowsTheRequestBeforeTheSimulationAppliesIt) {
  cluster_.lag = true;
  Reply r = Send(http::verb::put, kCartScale, R"({"spec":{"replicas":7}})", "application/json");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Member(r.json, {"spec", "replicas"}), "7");
  EXPECT_EQ(Member(r.json, {"metadata", "resourceVersion"}), "4");
  EXPECT_EQ(Member(Get(kCartScale).json, {"spec", "replicas"}), "2");  // not applied yet
}

TEST_F(ScaleApiTest, MergePatchAndStrategicMergePatch) {
  Reply r = Send(http::verb::patch, kCartScale, R"({"spec":{"replicas":4}})",
                 "application/merge-patch+json");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Member(r.json, {"spec", "replicas"}), "4");
  r = Send(http::verb::patch, "/apis/apps/v1/namespaces/shop/deployments/frontend/scale",
           R"({"spec":{"replicas":3}})", "application/strategic-merge-patch+json; charset=utf-8");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Member(r.json, {"metadata", "name"}), "frontend");
  EXPECT_EQ(Member(r.json, {"spec", "replicas"}), "3");
  // A patch that does not touch spec.replicas changes nothing.
  r = Send(http::verb::patch, kCartScale, R"({"metadata":{"labels":{"a":"b"}}})",
           "application/merge-patch+json");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Member(r.json, {"spec", "replicas"}), "4");
  EXPECT_EQ(cluster_.calls(),
            (std::vector<std::pair<std::string, int32_t>>{{"cartservice", 4}, {"frontend", 3}}));
}

TEST_F(ScaleApiTest, JsonPatchWithTest) {
  Reply r = Send(http::verb::patch, kCartScale,
                 R"([{"op":"test","path":"/spec/replicas","value":2},
                     {"op":"replace","path":"/spec/replicas","value":6}])",
                 "application/json-patch+json");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Member(r.json, {"spec", "replicas"}), "6");
  r = Send(http::verb::patch, kCartScale, R"([{"op":"add","path":"/spec/replicas","value":8}])",
           "application/json-patch+json");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Member(r.json, {"spec", "replicas"}), "8");

  // A failing test refuses the whole patch.
  r = Send(http::verb::patch, kCartScale,
           R"([{"op":"test","path":"/spec/replicas","value":2},
               {"op":"replace","path":"/spec/replicas","value":1}])",
           "application/json-patch+json");
  EXPECT_NE(ExpectStatus(r, 422, "Invalid").find("test"), std::string::npos) << r.body;
  // Tests see the operations before them.
  r = Send(http::verb::patch, kCartScale,
           R"([{"op":"replace","path":"/spec/replicas","value":3},
               {"op":"test","path":"/spec/replicas","value":3}])",
           "application/json-patch+json");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(cluster_.calls(), (std::vector<std::pair<std::string, int32_t>>{
                                  {"cartservice", 6}, {"cartservice", 8}, {"cartservice", 3}}));

  ExpectStatus(Send(http::verb::patch, kCartScale,
                    R"([{"op":"remove","path":"/spec/replicas"}])", "application/json-patch+json"),
               422, "Invalid");
  ExpectStatus(Send(http::verb::patch, kCartScale,
                    R"([{"op":"replace","path":"/status/replicas","value":1}])",
                    "application/json-patch+json"),
               422, "Invalid");
  ExpectStatus(Send(http::verb::patch, kCartScale, R"({"op":"replace"})",
                    "application/json-patch+json"),
               400, "BadRequest");
  ExpectStatus(Send(http::verb::patch, kCartScale, R"([{"op":"replace","path":"/spec/replicas"}])",
                    "application/json-patch+json"),
               400, "BadRequest");
  EXPECT_EQ(cluster_.calls().size(), 3u);
}

TEST_F(ScaleApiTest, UnsupportedMediaType) {
  for (const char* ct : {"application/json", "application/apply-patch+yaml", "text/plain"}) {
    Reply r = Send(http::verb::patch, kCartScale, R"({"spec":{"replicas":4}})", ct);
    EXPECT_NE(ExpectStatus(r, 415, "UnsupportedMediaType").find("merge-patch"), std::string::npos);
  }
  ExpectStatus(Send(http::verb::put, kCartScale, R"({"spec":{"replicas":4}})", "application/yaml"),
               415, "UnsupportedMediaType");
  EXPECT_TRUE(cluster_.calls().empty());
}

TEST_F(ScaleApiTest, MethodNotAllowed) {
  Reply r = Send(http::verb::post, kCartScale, R"({"spec":{"replicas":4}})", "application/json");
  ExpectStatus(r, 405, "MethodNotAllowed");
  EXPECT_EQ(r.allow, "GET, PUT, PATCH");
  ExpectStatus(Send(http::verb::delete_, kCartScale), 405, "MethodNotAllowed");
  r = Send(http::verb::put, "/apis/apps/v1/namespaces/shop/deployments/cartservice",
           R"({"spec":{"replicas":4}})", "application/json");
  ExpectStatus(r, 405, "MethodNotAllowed");
  EXPECT_EQ(r.allow, "GET");
  ExpectStatus(Send(http::verb::post, "/metrics"), 405, "MethodNotAllowed");
  EXPECT_TRUE(cluster_.calls().empty());
}

TEST_F(ScaleApiTest, MalformedBodiesAreBadRequests) {
  struct Case {
    http::verb method;
    const char* content_type;
    const char* body;
    const char* message_part;
  };
  for (const Case& c : {
           Case{http::verb::put, "application/json", "{\"spec\":", "not valid JSON"},
           Case{http::verb::put, "application/json", "", "not valid JSON"},
           Case{http::verb::put, "application/json", "[1]", "must be a JSON object"},
           Case{http::verb::put, "application/json", R"({"spec":{"replicas":"3"}})",
                "must be an integer, got string"},
           Case{http::verb::put, "application/json", R"({"spec":{"replicas":2.5}})",
                "must be an integer, got number"},
           Case{http::verb::put, "application/json", R"({"spec":{"replicas":3000000000}})",
                "out of range"},
           Case{http::verb::put, "application/json", R"({"spec":3})", "spec must be an object"},
           Case{http::verb::put, "application/json",
                R"({"metadata":{"name":"frontend"},"spec":{"replicas":3}})",
                "does not match the name on the URL"},
           Case{http::verb::put, "application/json",
                R"({"kind":"Deployment","spec":{"replicas":3}})", "expected \"Scale\""},
           Case{http::verb::put, "application/json",
                R"({"apiVersion":"apps/v1","spec":{"replicas":3}})", "API version"},
           Case{http::verb::patch, "application/merge-patch+json", "{nope}", "not valid JSON"},
           Case{http::verb::patch, "application/merge-patch+json", R"({"spec":{"replicas":true}})",
                "must be an integer, got boolean"},
           Case{http::verb::patch, "application/json-patch+json",
                R"([{"op":"replace","path":"/spec/replicas","value":"2"}])",
                "must be an integer, got string"},
       }) {
    Reply r = Send(c.method, kCartScale, c.body, c.content_type);
    const std::string message = ExpectStatus(r, 400, "BadRequest");
    EXPECT_NE(message.find(c.message_part), std::string::npos) << c.body << " -> " << message;
  }
  EXPECT_TRUE(cluster_.calls().empty());
}

TEST_F(ScaleApiTest, InvalidValuesAre422) {
  Reply r = Send(http::verb::put, kCartScale, R"({"spec":{"replicas":-1}})", "application/json");
  EXPECT_EQ(ExpectStatus(r, 422, "Invalid"),
            "Scale.autoscaling \"cartservice\" is invalid: spec.replicas: Invalid value: -1: must "
            "be greater than or equal to 0");
  EXPECT_EQ(Member(r.json, {"details", "kind"}), "Scale");
  ASSERT_TRUE(r.json["details"]["causes"].IsArray());
  EXPECT_EQ(Member(r.json["details"]["causes"][0], {"field"}), "spec.replicas");
  EXPECT_EQ(Member(r.json["details"]["causes"][0], {"reason"}), "FieldValueInvalid");

  ExpectStatus(Send(http::verb::patch, kCartScale, R"({"spec":{"replicas":-3}})",
                    "application/merge-patch+json"),
               422, "Invalid");
  ExpectStatus(Send(http::verb::patch, kCartScale,
                    R"([{"op":"replace","path":"/spec/replicas","value":-3}])",
                    "application/json-patch+json"),
               422, "Invalid");
  r = Send(http::verb::put, kCartScale, R"({"kind":"Scale","spec":{}})", "application/json");
  EXPECT_NE(ExpectStatus(r, 422, "Invalid").find("Required value"), std::string::npos);
  EXPECT_TRUE(cluster_.calls().empty());

  // Beyond what the simulator allows: the engine's message, as a 422.
  r = Send(http::verb::put, kCartScale, R"({"spec":{"replicas":51}})", "application/json");
  EXPECT_NE(ExpectStatus(r, 422, "Invalid").find("between 0 and 50"), std::string::npos);
  EXPECT_EQ(cluster_.calls(), (std::vector<std::pair<std::string, int32_t>>{{"cartservice", 51}}));
  EXPECT_EQ(Member(Get(kCartScale).json, {"spec", "replicas"}), "2");
}

TEST_F(ScaleApiTest, Deployments) {
  Reply r = Get("/apis/apps/v1/namespaces/shop/deployments/cartservice");
  ASSERT_EQ(r.status, 200) << r.body;
  const auto& d = r.json;
  EXPECT_EQ(Member(d, {"kind"}), "Deployment");
  EXPECT_EQ(Member(d, {"apiVersion"}), "apps/v1");
  EXPECT_EQ(Member(d, {"metadata", "name"}), "cartservice");
  EXPECT_EQ(Member(d, {"metadata", "namespace"}), "shop");
  EXPECT_EQ(Member(d, {"metadata", "generation"}), "3");
  EXPECT_EQ(Member(d, {"metadata", "resourceVersion"}), "3");
  EXPECT_EQ(Member(d, {"metadata", "uid"}), Member(Get(kCartScale).json, {"metadata", "uid"}));
  EXPECT_EQ(Member(d, {"spec", "replicas"}), "2");
  EXPECT_EQ(Member(d, {"spec", "selector", "matchLabels", "app"}), "cartservice");
  EXPECT_EQ(Member(d, {"spec", "template", "metadata", "labels", "app"}), "cartservice");
  const auto& container = d["spec"]["template"]["spec"]["containers"][0];
  EXPECT_EQ(Member(container, {"name"}), "cartservice");
  EXPECT_EQ(Member(container, {"resources", "requests", "cpu"}), "250m");
  EXPECT_EQ(Member(container, {"resources", "limits", "memory"}), "512Mi");
  EXPECT_EQ(Member(d, {"status", "replicas"}), "2");
  EXPECT_EQ(Member(d, {"status", "readyReplicas"}), "1");
  EXPECT_EQ(Member(d, {"status", "availableReplicas"}), "1");
  EXPECT_EQ(Member(d, {"status", "updatedReplicas"}), "2");
  EXPECT_EQ(Member(d, {"status", "unavailableReplicas"}), "1");
  EXPECT_EQ(Member(d, {"status", "observedGeneration"}), "3");

  r = Get("/apis/apps/v1/namespaces/shop/deployments");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Member(r.json, {"kind"}), "DeploymentList");
  EXPECT_EQ(Member(r.json, {"apiVersion"}), "apps/v1");
  EXPECT_EQ(Member(r.json, {"metadata", "resourceVersion"}), "4");
  ASSERT_TRUE(r.json["items"].IsArray());
  ASSERT_EQ(r.json["items"].Size(), 2u);
  EXPECT_EQ(Member(r.json["items"][1], {"metadata", "name"}), "frontend");
  EXPECT_EQ(Member(r.json["items"][1], {"spec", "template", "spec", "containers"}), "<other>");
  EXPECT_EQ(Member(r.json["items"][1]["spec"]["template"]["spec"]["containers"][0],
                   {"resources", "requests", "cpu"}),
            "1");
  EXPECT_EQ(Member(r.json["items"][1]["spec"]["template"]["spec"]["containers"][0],
                   {"resources", "limits", "memory"}),
            "1000000000");
  EXPECT_EQ(Member(r.json["items"][1], {"status", "unavailableReplicas"}), "<missing>");

  // Another namespace has no deployments.
  r = Get("/apis/apps/v1/namespaces/default/deployments/");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json["items"].Size(), 0u);
  ExpectStatus(Get("/apis/apps/v1/namespaces/shop/deployments/nope"), 404, "NotFound");
}

// One sample of the Prometheus text format.
struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  std::string value;
};

// Parses `name{k="v",...} value`, undoing label escapes; fails the test on
// anything else (such as a timestamp after the value).
std::optional<Sample> ParseSample(const std::string& line) {
  Sample s;
  size_t i = line.find_first_of("{ ");
  if (i == std::string::npos) return std::nullopt;
  s.name = line.substr(0, i);
  if (line[i] == '{') {
    ++i;
    while (line[i] != '}') {
      const size_t eq = line.find("=\"", i);
      if (eq == std::string::npos) return std::nullopt;
      std::string key = line.substr(i, eq - i);
      std::string value;
      size_t j = eq + 2;
      for (; j < line.size() && line[j] != '"'; ++j) {
        if (line[j] == '\\') {
          ++j;
          value.push_back(line[j] == 'n' ? '\n' : line[j]);
        } else {
          value.push_back(line[j]);
        }
      }
      if (j >= line.size()) return std::nullopt;
      s.labels[key] = value;
      i = j + 1;
      if (line[i] == ',') ++i;
    }
    ++i;
  }
  if (i >= line.size() || line[i] != ' ') return std::nullopt;
  s.value = line.substr(i + 1);
  if (s.value.empty() || s.value.find(' ') != std::string::npos) return std::nullopt;
  return s;
}

struct Exposition {
  std::vector<Sample> samples;
  std::map<std::string, std::string> types;

  // The value of the one sample of `name` with these labels (a subset).
  std::string Value(const std::string& name, const std::map<std::string, std::string>& labels) {
    std::vector<std::string> found;
    for (const Sample& s : samples) {
      if (s.name != name) continue;
      bool match = true;
      for (const auto& [k, v] : labels) {
        auto it = s.labels.find(k);
        match = match && it != s.labels.end() && it->second == v;
      }
      if (match) found.push_back(s.value);
    }
    return found.size() == 1 ? found[0] : "<" + std::to_string(found.size()) + " samples>";
  }
};

Exposition ParseExposition(const std::string& text) {
  Exposition e;
  std::set<std::string> helped, finished;
  std::string current;
  size_t start = 0;
  EXPECT_TRUE(text.ends_with('\n'));
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    std::string line = text.substr(start, end - start);
    start = end + 1;
    if (line.starts_with("# HELP ")) {
      const std::string name = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_TRUE(helped.insert(name).second) << "two HELP lines for " << name;
      continue;
    }
    if (line.starts_with("# TYPE ")) {
      const size_t sp = line.find(' ', 7);
      const std::string name = line.substr(7, sp - 7);
      EXPECT_TRUE(helped.count(name)) << "TYPE before HELP for " << name;
      e.types[name] = line.substr(sp + 1);
      if (!current.empty()) finished.insert(current);
      current = name;
      continue;
    }
    auto sample = ParseSample(line);
    EXPECT_TRUE(sample.has_value()) << "unparseable line: " << line;
    if (!sample) continue;
    EXPECT_EQ(sample->name, current) << "sample outside its family: " << line;
    EXPECT_FALSE(finished.count(sample->name)) << "family split: " << line;
    e.samples.push_back(std::move(*sample));
  }
  return e;
}

TEST_F(ScaleApiTest, Metrics) {
  Reply r = Get("/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
  Exposition e = ParseExposition(r.body);

  const std::map<std::string, std::string> want_types = {
      {"container_cpu_usage_seconds_total", "counter"},
      {"container_memory_working_set_bytes", "gauge"},
      {"kube_deployment_spec_replicas", "gauge"},
      {"kube_deployment_status_replicas", "gauge"},
      {"kube_deployment_status_replicas_ready", "gauge"},
      {"kube_deployment_status_replicas_available", "gauge"},
      {"kube_pod_status_ready", "gauge"},
      {"kube_pod_container_status_restarts_total", "counter"},
      {"kube_pod_container_resource_requests", "gauge"},
      {"kube_pod_container_resource_limits", "gauge"},
      {"ariadne_sim_time_seconds", "gauge"},
  };
  EXPECT_EQ(e.types, want_types);

  const std::string q = "cartservice-5d8f7c9b6d-q9z7w";
  const std::string x = "cartservice-5d8f7c9b6d-x2k4p";
  EXPECT_EQ(e.Value("container_cpu_usage_seconds_total",
                    {{"namespace", "shop"}, {"pod", x}, {"container", "cartservice"}}),
            "12.5");
  EXPECT_EQ(e.Value("container_cpu_usage_seconds_total", {{"pod", q}}), "0.125");
  EXPECT_EQ(e.Value("container_memory_working_set_bytes",
                    {{"namespace", "shop"}, {"pod", "frontend-7c9b6d5d8f-a1b2c"},
                     {"container", "frontend"}}),
            "300000000");
  EXPECT_EQ(e.Value("kube_deployment_spec_replicas",
                    {{"namespace", "shop"}, {"deployment", "cartservice"}}),
            "2");
  EXPECT_EQ(e.Value("kube_deployment_status_replicas", {{"deployment", "cartservice"}}), "2");
  EXPECT_EQ(e.Value("kube_deployment_status_replicas_ready", {{"deployment", "cartservice"}}),
            "1");
  EXPECT_EQ(e.Value("kube_deployment_status_replicas_available", {{"deployment", "frontend"}}),
            "1");
  EXPECT_EQ(e.Value("kube_pod_status_ready", {{"pod", x}, {"condition", "true"}}), "1");
  EXPECT_EQ(e.Value("kube_pod_status_ready", {{"pod", q}, {"condition", "true"}}), "0");
  EXPECT_EQ(e.Value("kube_pod_status_ready", {{"pod", q}, {"condition", "false"}}), "1");
  EXPECT_EQ(e.Value("kube_pod_container_status_restarts_total",
                    {{"namespace", "shop"}, {"pod", q}, {"container", "cartservice"}}),
            "2");
  EXPECT_EQ(e.Value("kube_pod_container_resource_requests",
                    {{"namespace", "shop"},
                     {"pod", x},
                     {"container", "cartservice"},
                     {"resource", "cpu"},
                     {"unit", "core"}}),
            "0.25");
  EXPECT_EQ(e.Value("kube_pod_container_resource_limits",
                    {{"pod", "frontend-7c9b6d5d8f-a1b2c"}, {"resource", "memory"}, {"unit", "byte"}}),
            "1000000000");
  EXPECT_EQ(e.Value("ariadne_sim_time_seconds", {}), "90.5");
  // Three pods, two deployments: no extra series.
  EXPECT_EQ(e.samples.size(), 3u * 2 + 2u * 4 + 3u * 3 + 3u * 3 + 1u);
  for (const Sample& s : e.samples) {
    if (s.name.starts_with("container_") || s.name.starts_with("kube_pod")) {
      EXPECT_EQ(s.labels.at("namespace"), "shop");
    }
  }

  // Scaling shows in the next scrape.
  ASSERT_EQ(Send(http::verb::patch, kCartScale, R"({"spec":{"replicas":9}})",
                 "application/merge-patch+json")
                .status,
            200);
  e = ParseExposition(Get("/metrics").body);
  EXPECT_EQ(e.Value("kube_deployment_spec_replicas", {{"deployment", "cartservice"}}), "9");
}

TEST_F(ScaleApiTest, MetricsEscapeLabelValues) {
  cluster_.Mutate([](ClusterSnapshot& s) {
    s.k8s_namespace = "we\"ird\\ns\nx";
    s.pods.resize(1);
  });
  Reply r = Get("/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find(R"(namespace="we\"ird\\ns\nx")"), std::string::npos) << r.body;
  Exposition e = ParseExposition(r.body);
  EXPECT_EQ(e.Value("container_cpu_usage_seconds_total", {{"namespace", "we\"ird\\ns\nx"}}),
            "12.5");
}

TEST_F(ScaleApiTest, Healthz) {
  Reply r = Get("/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok");
}

TEST_F(ScaleApiTest, ServerRefusalsAreStatusObjects) {
  serve::HttpResponse direct = api_.ErrorResponse(429, "slow down", "application/json");
  EXPECT_EQ(direct.status, 429);
  EXPECT_EQ(direct.content_type, "application/json");
  EXPECT_NE(direct.body.find("\"reason\":\"TooManyRequests\""), std::string::npos);

  serve::HttpServerOptions options;
  options.max_body_bytes = 64;
  server_.reset();
  server_ = std::make_unique<TestServer>(&api_, options);
  Reply r = Send(http::verb::put, kCartScale,
                 R"({"spec":{"replicas":3},"metadata":{"annotations":{"a":")" +
                     std::string(100, 'x') + "\"}}}",
                 "application/json");
  EXPECT_NE(ExpectStatus(r, 413, "RequestEntityTooLarge").find("over the limit"),
            std::string::npos);
  EXPECT_TRUE(cluster_.calls().empty());
}

}  // namespace
}  // namespace ariadne::sim
