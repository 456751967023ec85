#include "sim/topology.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

namespace ariadne::sim {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A small valid topology that the error tests vary.
constexpr char kTiny[] = R"(
name: tiny
services:
  - name: a
    protocol: http
    operations:
      - name: x
        time: 2ms
        calls: [b.y]
  - name: b
    operations:
      - {name: y, time: 1ms}
requests:
  - {name: r, call: a.x}
)";

Topology MustParse(std::string_view yaml) {
  absl::StatusOr<Topology> t = ParseTopology(yaml);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *std::move(t) : Topology{};
}

std::string ParseError(std::string_view yaml) {
  absl::StatusOr<Topology> t = ParseTopology(yaml);
  if (t.ok()) return "(parsed without error)";
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument) << t.status();
  return std::string(t.status().message());
}

// kTiny with `from` replaced by `to` (which must occur).
std::string Tiny(std::string_view from, std::string_view to) {
  std::string s = kTiny;
  const size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

// --- the built-in topologies ---

TEST(BuiltinTopologyTest, NamesInOrder) {
  EXPECT_THAT(BuiltinTopologyNames(),
              ElementsAre("online-boutique", "social-network", "train-ticket", "hotrod"));
  EXPECT_EQ(BuiltinTopologyYaml("no-such-topology"), "");
}

TEST(BuiltinTopologyTest, EveryBuiltinParses) {
  for (const std::string& name : BuiltinTopologyNames()) {
    SCOPED_TRACE(name);
    absl::StatusOr<Topology> t = LoadTopology(name);
    ASSERT_TRUE(t.ok()) << t.status();
    EXPECT_EQ(t->name, name);
    EXPECT_FALSE(t->requests.empty());
    for (const Service& s : t->services) {
      EXPECT_GE(s.replicas, 1) << s.name;
      for (const Operation& op : s.operations) EXPECT_FALSE(op.span_name.empty()) << s.name;
    }
  }
}

TEST(BuiltinTopologyTest, EmbeddedTextIsTheFileInTheSourceTree) {
  for (const std::string& name : BuiltinTopologyNames()) {
    std::ifstream in(std::string(ARIADNE_SIM_TOPOLOGIES_DIR) + "/" + name + ".yaml",
                     std::ios::binary);
    ASSERT_TRUE(in) << name;
    std::stringstream text;
    text << in.rdbuf();
    EXPECT_EQ(BuiltinTopologyYaml(name), text.str()) << name;
  }
}

TEST(BuiltinTopologyTest, UtilisationUnderSixtyPercentAt200Rps) {
  for (const std::string& name : BuiltinTopologyNames()) {
    absl::StatusOr<Topology> t = LoadTopology(name);
    ASSERT_TRUE(t.ok()) << t.status();
    const std::vector<double> busy = ExpectedBusyWorkers(*t, 200);
    ASSERT_EQ(busy.size(), t->services.size());
    double max = 0;
    std::string max_service;
    for (size_t i = 0; i < busy.size(); ++i) {
      const Service& s = t->services[i];
      const double utilisation = busy[i] / (s.replicas * s.workers);
      EXPECT_LT(utilisation, 0.6) << name << " " << s.name << " busy workers " << busy[i];
      EXPECT_GT(busy[i], 0) << name << " " << s.name << " is never called";
      if (utilisation > max) {
        max = utilisation;
        max_service = s.name;
      }
    }
    std::printf("%-16s max utilisation at 200 rps: %.3f (%s)\n", name.c_str(), max,
                max_service.c_str());
  }
}

TEST(BuiltinTopologyTest, OnlineBoutiqueShape) {
  absl::StatusOr<Topology> t = LoadTopology("online-boutique");
  ASSERT_TRUE(t.ok()) << t.status();
  std::vector<std::pair<std::string, double>> mix;
  for (const RequestType& r : t->requests) mix.emplace_back(r.name, r.weight);
  EXPECT_THAT(mix, ElementsAre(std::pair<std::string, double>{"home", 1},
                               std::pair<std::string, double>{"set-currency", 2},
                               std::pair<std::string, double>{"browse-product", 10},
                               std::pair<std::string, double>{"add-to-cart", 2},
                               std::pair<std::string, double>{"view-cart", 3},
                               std::pair<std::string, double>{"checkout", 1}));
  const Service& frontend = t->services[t->FindService("frontend")];
  EXPECT_EQ(frontend.protocol, Protocol::kHttp);
  const Operation& home = frontend.operations[frontend.FindOperation("home")];
  EXPECT_EQ(home.span_name, "GET /");
  // GetSupportedCurrencies, ListProducts, GetCart, 9 x Convert, GetAds.
  ASSERT_EQ(home.steps.size(), 13u);
  const Call& ads = home.steps.back().calls[0];
  EXPECT_EQ(t->services[ads.service].name, "adservice");
  EXPECT_TRUE(ads.optional);
  EXPECT_GT(ads.timeout, 0);

  const Service& cart = t->services[t->FindService("cartservice")];
  EXPECT_EQ(cart.rpc_service, "hipstershop.CartService");
  EXPECT_EQ(cart.operations[cart.FindOperation("GetCart")].span_name,
            "hipstershop.CartService/GetCart");
  const Service& redis = t->services[t->FindService("redis-cart")];
  EXPECT_EQ(redis.protocol, Protocol::kDatabase);
  EXPECT_FALSE(redis.instrumented);
  EXPECT_EQ(redis.db_system, "redis");

  const Service& checkout = t->services[t->FindService("checkoutservice")];
  std::vector<std::string> callees;
  for (const Step& step : checkout.operations[0].steps) {
    const Call& c = step.calls[0];
    callees.push_back(t->services[c.service].operations[c.operation].name);
  }
  EXPECT_THAT(callees, ElementsAre("GetCart", "GetProduct", "Convert", "GetProduct", "Convert",
                                   "GetProduct", "Convert", "GetQuote", "Convert", "Charge",
                                   "ShipOrder", "EmptyCart", "SendOrderConfirmation"));
}

// The deepest chain of calls from `service.operation`, counting itself.
int Depth(const Topology& t, int service, int operation) {
  int deepest = 0;
  for (const Step& step : t.services[service].operations[operation].steps) {
    for (const Call& c : step.calls) deepest = std::max(deepest, Depth(t, c.service, c.operation));
  }
  return deepest + 1;
}

TEST(BuiltinTopologyTest, SocialNetworkTrainTicketAndHotrodShapes) {
  absl::StatusOr<Topology> sn = LoadTopology("social-network");
  ASSERT_TRUE(sn.ok()) << sn.status();
  const Service& compose = sn->services[sn->FindService("compose-post-service")];
  EXPECT_EQ(compose.protocol, Protocol::kThrift);
  ASSERT_EQ(compose.operations[0].steps.size(), 2u);
  EXPECT_TRUE(compose.operations[0].steps[0].parallel);
  EXPECT_EQ(compose.operations[0].steps[0].calls.size(), 4u);
  double total = 0;
  for (const RequestType& r : sn->requests) total += r.weight;
  EXPECT_DOUBLE_EQ(sn->requests[1].weight / total, 0.6);  // read-home-timeline

  absl::StatusOr<Topology> tt = LoadTopology("train-ticket");
  ASSERT_TRUE(tt.ok()) << tt.status();
  int ts_services = 0;
  for (const Service& s : tt->services) {
    if (s.name.starts_with("ts-") && s.name.ends_with("-service")) ++ts_services;
  }
  EXPECT_GE(ts_services, 25);
  const RequestType& preserve = tt->requests[4];
  EXPECT_EQ(preserve.name, "preserve");
  EXPECT_GE(Depth(*tt, preserve.service, preserve.operation), 7);  // ui ... station -> mysql

  absl::StatusOr<Topology> hotrod = LoadTopology("hotrod");
  ASSERT_TRUE(hotrod.ok()) << hotrod.status();
  const Service& frontend = hotrod->services[hotrod->FindService("frontend")];
  const Step& routes = frontend.operations[0].steps.back();
  EXPECT_TRUE(routes.parallel);
  EXPECT_EQ(routes.concurrency, 3);
  EXPECT_EQ(routes.calls.size(), 10u);
  const Service& mysql = hotrod->services[hotrod->FindService("mysql")];
  EXPECT_EQ(mysql.workers, 1);
  EXPECT_TRUE(mysql.instrumented);
  EXPECT_EQ(mysql.operations[0].span_name, "SQL SELECT");
}

TEST(LoadTopologyTest, FromAFileAndMissingFile) {
  const std::string path =
      (std::filesystem::temp_directory_path() / "ariadne_topology_test.yaml").string();
  {
    std::ofstream out(path);
    out << kTiny;
  }
  absl::StatusOr<Topology> t = LoadTopology(path);
  std::filesystem::remove(path);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->name, "tiny");

  absl::StatusOr<Topology> missing = LoadTopology("/nonexistent/topology.yaml");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("online-boutique"));
}

TEST(LoadTopologyTest, FileErrorsNameTheFile) {
  const std::string path =
      (std::filesystem::temp_directory_path() / "ariadne_topology_bad.yaml").string();
  {
    std::ofstream out(path);
    out << Tiny("name: tiny", "name: tiny\nnamspace: x");
  }
  absl::StatusOr<Topology> t = LoadTopology(path);
  std::filesystem::remove(path);
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(t.status().message()), AllOf(HasSubstr(path), HasSubstr("namspace")));
}

// --- parsing ---

TEST(ParseTopologyTest, DefaultsAndDerivedFields) {
  const Topology t = MustParse(R"yaml(
name: t
namespace: shop
network: 1ms
defaults:
  workers: 2
  startup_delay: 5s
  memory: {base: 10Mi}
services:
  - name: web
    protocol: http
    language: python
    workers: 6
    operations:
      - name: home
        http: {method: post, route: /x}
        calls:
          - {call: api.Get, timeout: 1s, retries: 2, retry_backoff: 50ms, probability: 0.5, optional: true}
          - {call: api.Get, repeat: 2}
          - parallel: [api.Get, {call: db.find, repeat: 3}]
            concurrency: 2
      - name: about
  - name: api
    protocol: grpc
    replicas: 0
    queue_limit: 10
    hold_worker: true
    cpu_request: 500m
    memory: {per_request: 1Ki, limit: 2Gi}
    operations:
      - {name: Get, time: {mean: 2ms, cv: 0.5}, error_rate: 0.01}
  - name: db
    protocol: database
    db_system: mongodb
    operations:
      - {name: find, span_name: find users, db: {statement: "db.users.find()"}}
requests:
  - {call: web.home, weight: 3}
  - {name: about, call: web.about, weight: 0.5}
)yaml");
  EXPECT_EQ(t.name, "t");
  EXPECT_EQ(t.k8s_namespace, "shop");
  EXPECT_EQ(t.network.kind, Distribution::Kind::kConstant);
  EXPECT_DOUBLE_EQ(t.network.mean_s, 0.001);
  ASSERT_EQ(t.services.size(), 3u);

  const Service& web = t.services[0];
  EXPECT_EQ(web.protocol, Protocol::kHttp);
  EXPECT_EQ(web.language, "python");
  EXPECT_EQ(web.workers, 6);
  EXPECT_EQ(web.startup_delay, 5 * kSecond);
  EXPECT_DOUBLE_EQ(web.memory_base_bytes, 10 << 20);
  EXPECT_TRUE(web.instrumented);
  const Operation& home = web.operations[0];
  EXPECT_EQ(home.http_method, "POST");
  EXPECT_EQ(home.http_route, "/x");
  EXPECT_EQ(home.span_name, "POST /x");
  EXPECT_EQ(web.operations[1].http_method, "GET");
  EXPECT_EQ(web.operations[1].http_route, "/about");
  EXPECT_EQ(web.operations[1].span_name, "GET /about");
  EXPECT_DOUBLE_EQ(web.operations[1].service_time.mean_s, 0);

  ASSERT_EQ(home.steps.size(), 4u);  // the call, 2 repeats, the parallel group
  const Call& first = home.steps[0].calls[0];
  EXPECT_FALSE(home.steps[0].parallel);
  EXPECT_EQ(first.service, 1);
  EXPECT_EQ(first.operation, 0);
  EXPECT_EQ(first.timeout, kSecond);
  EXPECT_EQ(first.retries, 2);
  EXPECT_EQ(first.retry_backoff, 50 * kMillisecond);
  EXPECT_DOUBLE_EQ(first.probability, 0.5);
  EXPECT_TRUE(first.optional);
  EXPECT_EQ(home.steps[1].calls.size(), 1u);
  EXPECT_FALSE(home.steps[1].calls[0].optional);
  EXPECT_EQ(home.steps[1].calls[0].timeout, 0);
  const Step& group = home.steps[3];
  EXPECT_TRUE(group.parallel);
  EXPECT_EQ(group.concurrency, 2);
  ASSERT_EQ(group.calls.size(), 4u);
  EXPECT_EQ(group.calls[0].service, 1);
  for (int i = 1; i < 4; ++i) EXPECT_EQ(group.calls[i].service, 2);

  const Service& api = t.services[1];
  EXPECT_EQ(api.replicas, 0);
  EXPECT_EQ(api.workers, 2);  // from defaults
  EXPECT_EQ(api.queue_limit, 10);
  EXPECT_TRUE(api.hold_worker);
  EXPECT_DOUBLE_EQ(api.cpu_request, 0.5);
  EXPECT_DOUBLE_EQ(api.memory_base_bytes, 10 << 20);
  EXPECT_DOUBLE_EQ(api.memory_per_request_bytes, 1024);
  EXPECT_DOUBLE_EQ(api.memory_limit_bytes, 2.0 * (1 << 30));
  EXPECT_EQ(api.rpc_service, "api");
  EXPECT_EQ(api.operations[0].span_name, "api/Get");
  EXPECT_EQ(api.operations[0].service_time.kind, Distribution::Kind::kLognormal);
  EXPECT_DOUBLE_EQ(api.operations[0].service_time.cv, 0.5);
  EXPECT_DOUBLE_EQ(api.operations[0].error_rate, 0.01);

  const Service& db = t.services[2];
  EXPECT_FALSE(db.instrumented);
  EXPECT_EQ(db.db_system, "mongodb");
  EXPECT_EQ(db.operations[0].db_operation, "find");
  EXPECT_EQ(db.operations[0].db_statement, "db.users.find()");
  EXPECT_EQ(db.operations[0].span_name, "find users");

  ASSERT_EQ(t.requests.size(), 2u);
  EXPECT_EQ(t.requests[0].name, "home");  // defaults to the operation's name
  EXPECT_EQ(t.requests[0].weight, 3);
  EXPECT_EQ(t.requests[1].service, 0);
  EXPECT_EQ(t.requests[1].operation, 1);
}

TEST(ParseTopologyTest, EmptyCallsMeansNone) {
  const Topology t = MustParse(Tiny("calls: [b.y]", "calls:"));
  EXPECT_TRUE(t.services[0].operations[0].steps.empty());
}

TEST(ParseTopologyTest, NetworkDefault) {
  const Topology t = MustParse(kTiny);
  EXPECT_EQ(t.network.kind, Distribution::Kind::kLognormal);
  EXPECT_DOUBLE_EQ(t.network.mean_s, 0.0003);
  EXPECT_DOUBLE_EQ(t.network.cv, 0.5);
  EXPECT_EQ(t.k8s_namespace, "default");
  EXPECT_EQ(t.services[1].protocol, Protocol::kGrpc);
  EXPECT_EQ(t.services[1].workers, 4);
}

TEST(ParseTopologyTest, Distributions) {
  auto time_of = [](std::string_view time) {
    const Topology t = MustParse(Tiny("time: 1ms", "time: " + std::string(time)));
    return t.services.empty() ? Distribution{} : t.services[1].operations[0].service_time;
  };
  Distribution d = time_of("1.5ms");
  EXPECT_EQ(d.kind, Distribution::Kind::kConstant);
  EXPECT_DOUBLE_EQ(d.mean_s, 0.0015);
  d = time_of("0.25");  // bare numbers are seconds
  EXPECT_DOUBLE_EQ(d.mean_s, 0.25);
  d = time_of("{mean: 3ms}");
  EXPECT_EQ(d.kind, Distribution::Kind::kConstant);
  d = time_of("{mean: 2ms, cv: 1.5}");
  EXPECT_EQ(d.kind, Distribution::Kind::kLognormal);
  EXPECT_DOUBLE_EQ(d.cv, 1.5);
  d = time_of("{dist: lognormal, mean: 2ms}");
  EXPECT_EQ(d.kind, Distribution::Kind::kLognormal);
  EXPECT_DOUBLE_EQ(d.cv, 0);
  d = time_of("{dist: exponential, mean: 2ms}");
  EXPECT_EQ(d.kind, Distribution::Kind::kExponential);
  EXPECT_DOUBLE_EQ(d.mean_s, 0.002);
  d = time_of("{dist: constant, mean: 1ms}");
  EXPECT_EQ(d.kind, Distribution::Kind::kConstant);
  d = time_of("{dist: empirical, samples: [5ms, 1ms, 2ms]}");
  EXPECT_EQ(d.kind, Distribution::Kind::kEmpirical);
  EXPECT_THAT(d.samples_s, ElementsAre(0.001, 0.002, 0.005));
  d = time_of("{samples: [1ms]}");
  EXPECT_EQ(d.kind, Distribution::Kind::kEmpirical);
}

TEST(ParseTopologyTest, DistributionErrors) {
  auto error = [](std::string_view time) {
    return ParseError(Tiny("time: 1ms", "time: " + std::string(time)));
  };
  EXPECT_THAT(error("{mean: 1ms, cv: -0.5}"),
              AllOf(HasSubstr("services[1].operations[0].time.cv"), HasSubstr("negative")));
  EXPECT_THAT(error("{dist: exponential, mean: 1ms, cv: 1}"), HasSubstr("only lognormal"));
  EXPECT_THAT(error("{dist: weibull, mean: 1ms}"), HasSubstr("unknown distribution 'weibull'"));
  EXPECT_THAT(error("{dist: lognormal, cv: 1}"), HasSubstr("needs a mean"));
  EXPECT_THAT(error("{dist: empirical}"), HasSubstr("needs samples"));
  EXPECT_THAT(error("{dist: empirical, samples: []}"), HasSubstr("non-empty list"));
  EXPECT_THAT(error("{dist: empirical, samples: [1ms, -2ms]}"),
              AllOf(HasSubstr("time.samples[1]"), HasSubstr("negative")));
  EXPECT_THAT(error("{mean: -1ms}"), HasSubstr("negative duration"));
  EXPECT_THAT(error("{mean: 1ms, stddev: 1ms}"), HasSubstr("unknown key 'stddev'"));
  EXPECT_THAT(error("soon"), HasSubstr("invalid duration 'soon'"));
}

TEST(ParseTopologyTest, UnknownKeysAreErrors) {
  EXPECT_THAT(ParseError(Tiny("name: tiny", "name: tiny\nnamspace: x")),
              AllOf(HasSubstr("unknown key 'namspace'"), HasSubstr("known: name, namespace"),
                    HasSubstr("(line 3)")));
  EXPECT_THAT(ParseError(Tiny("    protocol: http", "    protocol: http\n    replica: 2")),
              AllOf(HasSubstr("services[0]: unknown key 'replica'"), HasSubstr("(line 6)")));
  EXPECT_THAT(ParseError(Tiny("time: 2ms", "time: 2ms\n        timeout: 1s")),
              HasSubstr("services[0].operations[0]: unknown key 'timeout'"));
  EXPECT_THAT(ParseError(Tiny("calls: [b.y]", "calls: [{call: b.y, retry: 1}]")),
              HasSubstr("services[0].operations[0].calls[0]: unknown key 'retry'"));
  EXPECT_THAT(ParseError(Tiny("{name: r, call: a.x}", "{name: r, call: a.x, wieght: 1}")),
              HasSubstr("requests[0]: unknown key 'wieght'"));
  EXPECT_THAT(ParseError(Tiny("name: tiny", "name: tiny\ndefaults: {name: x}")),
              HasSubstr("defaults: unknown key 'name'"));
  EXPECT_THAT(ParseError(Tiny("name: tiny", "name: tiny\nname: again")),
              HasSubstr("duplicate key"));
}

TEST(ParseTopologyTest, UnresolvedReferencesNameThePathAndLine) {
  EXPECT_THAT(ParseError(Tiny("calls: [b.y]", "calls:\n          - b.y\n          - x.y")),
              AllOf(HasSubstr("services[0].operations[0].calls[1]: unknown service 'x' in 'x.y'"),
                    HasSubstr("(line 11)")));
  EXPECT_THAT(ParseError(Tiny("calls: [b.y]", "calls: [b.nope]")),
              AllOf(HasSubstr("services[0].operations[0].calls[0]: unknown operation 'nope' of "
                              "service 'b' (it has: y)"),
                    HasSubstr("(line 9)")));
  EXPECT_THAT(ParseError(Tiny("calls: [b.y]", "calls: [{parallel: [b.y, b.z]}]")),
              HasSubstr("services[0].operations[0].calls[0].parallel[1]: unknown operation 'z'"));
  EXPECT_THAT(ParseError(Tiny("calls: [b.y]", "calls: [by]")),
              HasSubstr("expected \"service.operation\""));
  EXPECT_THAT(ParseError(Tiny("call: a.x}", "call: a.z}")),
              AllOf(HasSubstr("requests[0].call: unknown operation 'z'"), HasSubstr("(line 14)")));
}

TEST(ParseTopologyTest, ServiceNamesMayContainDots) {
  const Topology t = MustParse(R"(
name: dots
services:
  - {name: web.v2, protocol: http, operations: [{name: home, calls: [api.internal.v1.Get]}]}
  - {name: api.internal, operations: [{name: v1.Get}]}
requests: [{call: web.v2.home}]
)");
  ASSERT_EQ(t.services.size(), 2u);
  EXPECT_EQ(t.services[0].operations[0].steps[0].calls[0].service, 1);
}

TEST(ParseTopologyTest, CallCyclesAreErrors) {
  EXPECT_THAT(ParseError(Tiny("calls: [b.y]", "calls: [a.x]")),
              AllOf(HasSubstr("call cycle a.x -> a.x"), HasSubstr("calls[0]")));
  EXPECT_THAT(ParseError(R"(
name: cycle
services:
  - {name: a, operations: [{name: x, calls: [b.y]}]}
  - {name: b, operations: [{name: y, calls: [c.z]}, {name: w}]}
  - {name: c, operations: [{name: z, calls: [b.w, {parallel: [a.x]}]}]}
requests: [{call: a.x}]
)"),
              AllOf(HasSubstr("services[2].operations[0].calls[1].parallel[0]"),
                    HasSubstr("call cycle a.x -> b.y -> c.z -> a.x"), HasSubstr("(line 6)")));
  // Calling another operation of the same service is not a cycle.
  MustParse(R"(
name: no-cycle
services:
  - {name: a, operations: [{name: x, calls: [a.y]}, {name: y}]}
requests: [{call: a.x}]
)");
}

TEST(ParseTopologyTest, InvalidValues) {
  EXPECT_THAT(ParseError(Tiny("protocol: http", "protocol: http\n    workers: 0")),
              AllOf(HasSubstr("services[0].workers: must be at least 1"), HasSubstr("line 6")));
  EXPECT_THAT(ParseError(Tiny("protocol: http", "protocol: http\n    replicas: -1")),
              HasSubstr("services[0].replicas: must be at least 0"));
  EXPECT_THAT(ParseError(Tiny("protocol: http", "protocol: http\n    queue_limit: -1")),
              HasSubstr("services[0].queue_limit"));
  EXPECT_THAT(ParseError(Tiny("protocol: http", "protocol: http\n    workers: 1.5")),
              HasSubstr("expected an integer"));
  EXPECT_THAT(ParseError(Tiny("protocol: http", "protocol: http\n    workers: 99999999999")),
              HasSubstr("services[0].workers: is too large"));
  EXPECT_THAT(ParseError(Tiny("protocol: http", "protocol: http\n    startup_delay: -5s")),
              HasSubstr("services[0].startup_delay: negative duration"));
  EXPECT_THAT(ParseError(Tiny("protocol: http", "protocol: http\n    cpu_request: 0")),
              HasSubstr("greater than 0"));
  EXPECT_THAT(
      ParseError(Tiny("protocol: http", "protocol: http\n    memory: {base: 1Gi, limit: 512Mi}")),
      HasSubstr("memory.limit must be greater than memory.base"));
  EXPECT_THAT(ParseError(Tiny("protocol: http", "protocol: http\n    memory: {base: lots}")),
              HasSubstr("services[0].memory.base: expected a size"));
  EXPECT_THAT(ParseError(Tiny("protocol: http", "protocol: smtp")),
              HasSubstr("unknown protocol 'smtp'"));
  EXPECT_THAT(ParseError(Tiny("protocol: http", "protocol: http\n    hold_worker: maybe")),
              HasSubstr("expected true or false"));
  EXPECT_THAT(ParseError(Tiny("time: 2ms", "time: 2ms\n        error_rate: 1.5")),
              HasSubstr("error_rate: must be between 0 and 1"));
  EXPECT_THAT(ParseError(Tiny("calls: [b.y]", "calls: [{call: b.y, probability: 1.1}]")),
              HasSubstr("calls[0].probability: must be between 0 and 1"));
  EXPECT_THAT(ParseError(Tiny("calls: [b.y]", "calls: [{call: b.y, probability: -0.1}]")),
              HasSubstr("calls[0].probability"));
  EXPECT_THAT(ParseError(Tiny("calls: [b.y]", "calls: [{call: b.y, retries: -1}]")),
              HasSubstr("calls[0].retries"));
  EXPECT_THAT(ParseError(Tiny("calls: [b.y]", "calls: [{call: b.y, timeout: -1s}]")),
              HasSubstr("calls[0].timeout: negative duration"));
  EXPECT_THAT(ParseError(Tiny("calls: [b.y]", "calls: [{call: b.y, repeat: 0}]")),
              HasSubstr("calls[0].repeat: must be between 1"));
  EXPECT_THAT(ParseError(Tiny("calls: [b.y]", "calls: [{parallel: [b.y], concurrency: -1}]")),
              HasSubstr("calls[0].concurrency"));
  EXPECT_THAT(ParseError(Tiny("calls: [b.y]", "calls: [{parallel: []}]")),
              HasSubstr("calls[0].parallel: expected a non-empty list"));
  EXPECT_THAT(ParseError(Tiny("calls: [b.y]", "calls: [{parallel: [{parallel: [b.y]}]}]")),
              HasSubstr("parallel groups cannot nest"));
  EXPECT_THAT(ParseError(Tiny("calls: [b.y]", "calls: [{timeout: 1s}]")),
              HasSubstr("calls[0]: missing key 'call'"));
  EXPECT_THAT(ParseError(Tiny("{name: r, call: a.x}", "{name: r, call: a.x, weight: 0}")),
              HasSubstr("requests[0].weight: must be greater than 0"));
  EXPECT_THAT(ParseError(Tiny("{name: r, call: a.x}", "{name: r, call: a.x, weight: -2}")),
              HasSubstr("requests[0].weight: must be greater than 0"));
}

TEST(ParseTopologyTest, StructuralErrors) {
  EXPECT_THAT(ParseError(Tiny("requests:\n  - {name: r, call: a.x}", "requests: []")),
              HasSubstr("requests: expected a non-empty list of request types"));
  EXPECT_THAT(ParseError(Tiny("requests:\n  - {name: r, call: a.x}", "")),
              HasSubstr("requests: expected a non-empty list"));
  EXPECT_THAT(ParseError(Tiny("  - {name: r, call: a.x}",
                              "  - {name: r, call: a.x}\n  - {name: r, call: b.y}")),
              HasSubstr("duplicate request name 'r'"));
  EXPECT_THAT(ParseError(Tiny("name: tiny", "namespace: x")), HasSubstr("missing key 'name'"));
  EXPECT_THAT(ParseError(""), HasSubstr("empty"));
  EXPECT_THAT(ParseError("name: [unclosed"), HasSubstr("invalid YAML at line"));
  EXPECT_THAT(ParseError(Tiny("  - name: b\n", "  - name: a\n")),
              HasSubstr("duplicate service 'a'"));
  EXPECT_THAT(ParseError(Tiny("{name: y, time: 1ms}", "{name: y}\n      - {name: y}")),
              HasSubstr("duplicate operation 'y' in service 'b'"));
  EXPECT_THAT(ParseError(Tiny("      - {name: y, time: 1ms}", "      []")),
              HasSubstr("services[1].operations: expected a non-empty list"));
  // Databases are leaves, need db_system, and take db: but not http: keys.
  const std::string db =
      Tiny("  - name: b\n", "  - name: b\n    protocol: database\n    db_system: redis\n");
  MustParse(db);
  EXPECT_THAT(ParseError(Tiny("  - name: b\n", "  - name: b\n    protocol: database\n")),
              HasSubstr("services[1]: a database service needs db_system"));
  EXPECT_THAT(ParseError(R"(
name: t
services:
  - {name: a, protocol: http, operations: [{name: x, calls: [db.get]}]}
  - {name: db, protocol: database, db_system: redis, operations: [{name: get, calls: [a.x]}]}
requests: [{call: a.x}]
)"),
              HasSubstr("services[1].operations[0].calls: database operations make no calls"));
  EXPECT_THAT(ParseError(R"(
name: t
services:
  - {name: db, protocol: database, db_system: redis, operations: [{name: get}]}
requests: [{call: db.get}]
)"),
              HasSubstr("requests cannot enter at database service 'db'"));
  EXPECT_THAT(ParseError(Tiny("{name: y, time: 1ms}", "{name: y, http: {route: /y}}")),
              HasSubstr("services[1].operations[0].http: applies only to protocol http"));
  EXPECT_THAT(ParseError(Tiny("time: 2ms", "db: {operation: GET}")),
              HasSubstr("db: applies only to protocol database"));
  EXPECT_THAT(ParseError(Tiny("protocol: http", "protocol: http\n    rpc_service: x.Y")),
              HasSubstr("rpc_service: applies only to protocol grpc or thrift"));
  EXPECT_THAT(ParseError(Tiny("time: 2ms", "http: {route: nope}")),
              HasSubstr("http.route: must start with '/'"));
}

TEST(ParseTopologyTest, InstrumentedDefaults) {
  const std::string yaml = R"(
name: t
defaults: {instrumented: DEFAULT}
services:
  - {name: a, protocol: http, operations: [{name: x, calls: [db.get]}]}
  - {name: db, protocol: database, db_system: redis, OVERRIDE operations: [{name: get}]}
requests: [{call: a.x}]
)";
  auto parse = [&](std::string_view def, std::string_view override) {
    std::string s = yaml;
    s.replace(s.find("DEFAULT"), 7, def);
    s.replace(s.find("OVERRIDE "), 9, override);
    return MustParse(s);
  };
  Topology t = parse("true", "");
  EXPECT_TRUE(t.services[0].instrumented);
  EXPECT_TRUE(t.services[1].instrumented);
  t = parse("false", "instrumented: true, ");
  EXPECT_FALSE(t.services[0].instrumented);
  EXPECT_TRUE(t.services[1].instrumented);
}

// --- durations ---

TEST(ParseDurationTest, Accepts) {
  EXPECT_EQ(*ParseDuration("250us"), 250'000);
  EXPECT_EQ(*ParseDuration("2ms"), 2 * kMillisecond);
  EXPECT_EQ(*ParseDuration("1.5s"), 1'500'000'000);
  EXPECT_EQ(*ParseDuration("10m"), 600 * kSecond);
  EXPECT_EQ(*ParseDuration("1h"), 3600 * kSecond);
  EXPECT_EQ(*ParseDuration("1h30m"), 5400 * kSecond);
  EXPECT_EQ(*ParseDuration("100ns"), 100);
  EXPECT_EQ(*ParseDuration("0"), 0);
  EXPECT_EQ(*ParseDuration("0s"), 0);
  EXPECT_EQ(*ParseDuration("30"), 30 * kSecond);  // bare numbers are seconds
  EXPECT_EQ(*ParseDuration("0.25"), 250 * kMillisecond);
  EXPECT_EQ(*ParseDuration(" 5ms "), 5 * kMillisecond);
}

TEST(ParseDurationTest, Rejects) {
  for (const char* bad :
       {"", "-1s", "-5", "-0.5", "abc", "5 ms", "5x", "inf", "nan", "1e400", "100000000h", "ms"}) {
    absl::StatusOr<Nanos> d = ParseDuration(bad);
    EXPECT_FALSE(d.ok()) << "'" << bad << "' parsed as " << *d;
    EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_THAT(std::string(ParseDuration("-1s").status().message()), HasSubstr("negative"));
  EXPECT_THAT(std::string(ParseDuration("-3").status().message()), HasSubstr("negative"));
}

// --- expected load ---

TEST(ExpectedBusyWorkersTest, HandComputed) {
  const Topology t = MustParse(R"(
name: load
services:
  - name: a
    protocol: http
    operations:
      - name: x
        time: 2ms
        calls:
          - {call: b.y, repeat: 3}
          - {call: b.z, probability: 0.5}
          - parallel: [{call: c.q, repeat: 2}, b.y]
      - name: w
        time: {dist: empirical, samples: [1ms, 3ms]}
        calls: [c.q]
  - name: b
    operations:
      - {name: y, time: {mean: 4ms, cv: 1}, calls: [{call: c.q, probability: 0.5}]}
      - {name: z, time: {dist: exponential, mean: 10ms}}
  - name: c
    protocol: database
    db_system: redis
    operations:
      - {name: q, time: 1ms}
requests:
  - {name: r1, call: a.x, weight: 3}
  - {name: r2, call: a.w, weight: 1}
)");
  // At 100 rps: a.x 75/s, a.w 25/s.
  // a: (75 + 25) x 2ms = 0.2 (w's mean is that of its samples).
  // b.y: 75 x 4 = 300/s x 4ms = 1.2; b.z: 37.5/s x 10ms = 0.375.
  // c.q: 75 x 2 + 25 + 300 x 0.5 = 325/s x 1ms = 0.325.
  const std::vector<double> busy = ExpectedBusyWorkers(t, 100);
  ASSERT_EQ(busy.size(), 3u);
  EXPECT_NEAR(busy[0], 0.2, 1e-12);
  EXPECT_NEAR(busy[1], 1.575, 1e-12);
  EXPECT_NEAR(busy[2], 0.325, 1e-12);
  // Linear in the rate.
  const std::vector<double> doubled = ExpectedBusyWorkers(t, 200);
  EXPECT_NEAR(doubled[1], 3.15, 1e-12);
}

}  // namespace
}  // namespace ariadne::sim
