#include "bench/payloads.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <map>
#include <random>
#include <string_view>
#include <utility>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace ariadne::bench {
namespace {

namespace otlp_collector = opentelemetry::proto::collector::trace::v1;
namespace otlp_common = opentelemetry::proto::common::v1;
namespace otlp_trace = opentelemetry::proto::trace::v1;

constexpr int kPodsPerService = 3;
constexpr int kNodes = 6;

struct Service {
  std::string_view name;
  std::string_view version;
  std::string_view language;     // telemetry.sdk.language
  std::string_view sdk_version;  // telemetry.sdk.version
  std::string_view rpc_service;  // "" for the HTTP frontend
  std::array<std::string_view, 5> operations;
  std::string_view db_system;  // "" if the service has no database
  std::string_view db_name;
};

// The OpenTelemetry demo's services (operations abridged or invented where
// the demo has fewer than five).
constexpr std::array<Service, 10> kServices = {{
    {"frontend",
     "1.10.0",
     "go",
     "1.24.0",
     "",
     {"GET /", "GET /product/{id}", "POST /cart", "GET /cart", "POST /cart/checkout"},
     "",
     ""},
    {"cartservice",
     "1.10.0",
     "dotnet",
     "1.7.0",
     "oteldemo.CartService",
     {"AddItem", "GetCart", "EmptyCart", "RemoveItem", "UpdateQuantity"},
     "redis",
     "0"},
    {"productcatalogservice",
     "1.10.0",
     "go",
     "1.24.0",
     "oteldemo.ProductCatalogService",
     {"ListProducts", "GetProduct", "SearchProducts", "GetCategories", "GetPrices"},
     "postgresql",
     "catalog"},
    {"currencyservice",
     "1.10.0",
     "cpp",
     "1.13.0",
     "oteldemo.CurrencyService",
     {"GetSupportedCurrencies", "Convert", "GetRates", "RefreshRates", "Health"},
     "",
     ""},
    {"paymentservice",
     "1.10.0",
     "nodejs",
     "1.21.0",
     "oteldemo.PaymentService",
     {"Charge", "Refund", "Authorize", "Capture", "Validate"},
     "postgresql",
     "payments"},
    {"shippingservice",
     "1.10.0",
     "rust",
     "0.22.1",
     "oteldemo.ShippingService",
     {"GetQuote", "ShipOrder", "TrackOrder", "CancelShipment", "ListCarriers"},
     "",
     ""},
    {"emailservice",
     "1.10.0",
     "ruby",
     "1.4.0",
     "oteldemo.EmailService",
     {"SendOrderConfirmation", "SendWelcome", "SendReset", "Unsubscribe", "RenderTemplate"},
     "",
     ""},
    {"checkoutservice",
     "1.10.0",
     "go",
     "1.24.0",
     "oteldemo.CheckoutService",
     {"PlaceOrder", "PrepareOrder", "ValidateOrder", "GetOrder", "CancelOrder"},
     "postgresql",
     "orders"},
    {"recommendationservice",
     "1.10.0",
     "python",
     "1.23.0",
     "oteldemo.RecommendationService",
     {"ListRecommendations", "GetSimilar", "GetTrending", "Train", "Health"},
     "mongodb",
     "recommendations"},
    {"adservice",
     "1.10.0",
     "java",
     "1.35.0",
     "oteldemo.AdService",
     {"GetAds", "GetAdsByCategory", "GetRandomAds", "RecordImpression", "RecordClick"},
     "",
     ""},
}};

constexpr std::array<std::string_view, 4> kUserAgents = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.2 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "python-requests/2.31.0",
};

enum class Category { kServer, kClient, kDatabase, kInternal };

struct SpanNode {
  int service = 0;
  int operation = 0;
  int callee = -1;  // kClient: the called service
  Category category = Category::kServer;
  std::array<uint8_t, 8> id{};
  int parent = -1;  // index into the trace's spans
  uint64_t start = 0;
  uint64_t duration = 0;
  bool error = false;
  bool error_origin = false;  // the span where the failure happened
};

class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}

  uint64_t Uniform(uint64_t lo, uint64_t hi) {  // [lo, hi]
    return std::uniform_int_distribution<uint64_t>(lo, hi)(rng_);
  }
  int Index(size_t n) { return static_cast<int>(Uniform(0, n - 1)); }
  double Unit() { return std::uniform_real_distribution<double>(0, 1)(rng_); }
  bool Chance(double p) { return Unit() < p; }
  double Normal(double mean, double stddev) {
    return std::normal_distribution<double>(mean, stddev)(rng_);
  }
  template <size_t N>
  void Bytes(std::array<uint8_t, N>* out) {
    for (auto& b : *out) b = static_cast<uint8_t>(rng_());
  }
  std::string Hex(int digits) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string s(digits, '0');
    for (char& c : s) c = kHex[rng_() & 15];
    return s;
  }

 private:
  std::mt19937_64 rng_;
};

void AddString(google::protobuf::RepeatedPtrField<otlp_common::KeyValue>* attributes,
               std::string_view key, std::string_view value) {
  otlp_common::KeyValue* kv = attributes->Add();
  kv->set_key(std::string(key));
  kv->mutable_value()->set_string_value(std::string(value));
}
void AddInt(google::protobuf::RepeatedPtrField<otlp_common::KeyValue>* attributes,
            std::string_view key, int64_t value) {
  otlp_common::KeyValue* kv = attributes->Add();
  kv->set_key(std::string(key));
  kv->mutable_value()->set_int_value(value);
}
void AddDouble(google::protobuf::RepeatedPtrField<otlp_common::KeyValue>* attributes,
               std::string_view key, double value) {
  otlp_common::KeyValue* kv = attributes->Add();
  kv->set_key(std::string(key));
  kv->mutable_value()->set_double_value(value);
}
void AddBool(google::protobuf::RepeatedPtrField<otlp_common::KeyValue>* attributes,
             std::string_view key, bool value) {
  otlp_common::KeyValue* kv = attributes->Add();
  kv->set_key(std::string(key));
  kv->mutable_value()->set_bool_value(value);
}

std::string PodName(int service, int pod) {
  // Deterministic ReplicaSet hash and pod suffix, shaped like Kubernetes'.
  static constexpr std::string_view kSuffixes[kPodsPerService] = {"x2k4p", "9qzt7", "m5wbc"};
  static constexpr std::string_view kHashes[] = {"7d9f8b6c5", "5c8d7f9b4", "6b4f9c8d7", "8f7c6d5b9",
                                                 "9b8c7d6f5"};
  return std::string(kServices[service].name) + "-" +
         std::string(kHashes[service % std::size(kHashes)]) + "-" + std::string(kSuffixes[pod]);
}

void FillResource(int service, int pod, otlp_trace::ResourceSpans* rs) {
  const Service& s = kServices[service];
  auto* a = rs->mutable_resource()->mutable_attributes();
  AddString(a, "service.name", s.name);
  AddString(a, "service.namespace", "opentelemetry-demo");
  AddString(a, "service.version", s.version);
  AddString(a, "service.instance.id", PodName(service, pod));
  AddString(a, "host.name", "node-" + std::to_string((service * kPodsPerService + pod) % kNodes));
  AddString(a, "k8s.namespace.name", "shop");
  AddString(a, "k8s.pod.name", PodName(service, pod));
  AddString(a, "k8s.deployment.name", s.name);
  AddString(a, "deployment.environment", "production");
  AddString(a, "telemetry.sdk.name", "opentelemetry");
  AddString(a, "telemetry.sdk.language", s.language);
  AddString(a, "telemetry.sdk.version", s.sdk_version);
  rs->set_schema_url("https://opentelemetry.io/schemas/1.21.0");
}

std::string_view ScopeName(Category c) {
  switch (c) {
    case Category::kServer:
      return "io.opentelemetry.instrumentation.server";
    case Category::kClient:
      return "io.opentelemetry.instrumentation.client";
    case Category::kDatabase:
      return "io.opentelemetry.instrumentation.db";
    case Category::kInternal:
      return "app";
  }
  return "app";
}

std::string SpanName(const SpanNode& n) {
  const Service& s = kServices[n.service];
  switch (n.category) {
    case Category::kServer:
      if (s.rpc_service.empty()) return std::string(s.operations[n.operation]);
      return std::string(s.rpc_service) + "/" + std::string(s.operations[n.operation]);
    case Category::kClient: {
      const Service& callee = kServices[n.callee];
      return std::string(callee.rpc_service) + "/" + std::string(callee.operations[n.operation]);
    }
    case Category::kDatabase:
      if (s.db_system == "redis") return n.operation % 2 == 0 ? "HGET" : "HMSET";
      return (n.operation % 2 == 0 ? "SELECT " : "UPDATE ") + std::string(s.db_name);
    case Category::kInternal:
      return std::string(s.operations[n.operation]) + ".process";
  }
  return "span";
}

void FillAttributes(const SpanNode& n, Generator* g, const std::string& user,
                    otlp_trace::Span* span) {
  const Service& s = kServices[n.service];
  auto* a = span->mutable_attributes();
  switch (n.category) {
    case Category::kServer: {
      const bool http = s.rpc_service.empty();
      const int status = n.error ? 500 : (g->Chance(0.03) ? 404 : 200);
      if (http) {
        const std::string_view route = s.operations[n.operation];
        const size_t space = route.find(' ');
        AddString(a, "http.method", route.substr(0, space));
        AddString(a, "http.route", route.substr(space + 1));
        std::string target(route.substr(space + 1));
        if (const size_t brace = target.find("{id}"); brace != std::string::npos) {
          target.replace(brace, 4, g->Hex(10));
        }
        AddString(a, "http.target", target);
        AddString(a, "http.scheme", "http");
        AddInt(a, "http.status_code", status);
        AddString(a, "user_agent.original", kUserAgents[g->Index(kUserAgents.size())]);
      } else {
        AddString(a, "rpc.system", "grpc");
        AddString(a, "rpc.service", s.rpc_service);
        AddString(a, "rpc.method", s.operations[n.operation]);
        AddInt(a, "rpc.grpc.status_code", n.error ? 13 : 0);
        AddString(a, "http.method", "POST");
        AddInt(a, "http.status_code", status);
      }
      AddString(a, "net.host.name", s.name);
      AddString(
          a, "net.peer.ip",
          "10.42." + std::to_string(g->Uniform(0, 7)) + "." + std::to_string(g->Uniform(2, 254)));
      AddString(a, "enduser.id", user);
      AddInt(a, "http.request_content_length", static_cast<int64_t>(g->Uniform(0, 4096)));
      AddBool(a, "app.cache_hit", g->Chance(0.7));
      break;
    }
    case Category::kClient: {
      const Service& callee = kServices[n.callee];
      AddString(a, "rpc.system", "grpc");
      AddString(a, "rpc.service", callee.rpc_service);
      AddString(a, "rpc.method", callee.operations[n.operation]);
      AddString(a, "net.peer.name", callee.name);
      AddInt(a, "net.peer.port", 8080);
      AddString(a, "http.method", "POST");
      AddInt(a, "http.status_code", n.error ? 500 : 200);
      AddString(a, "enduser.id", user);
      AddInt(a, "app.retry_count", g->Chance(0.95) ? 0 : static_cast<int64_t>(g->Uniform(1, 3)));
      AddDouble(a, "app.timeout_seconds", 0.5 * static_cast<double>(g->Uniform(1, 10)));
      break;
    }
    case Category::kDatabase: {
      AddString(a, "db.system", s.db_system);
      AddString(a, "db.name", s.db_name);
      const bool read = n.operation % 2 == 0;
      AddString(a, "db.operation", read ? "SELECT" : "UPDATE");
      if (s.db_system == "redis") {
        AddString(a, "db.statement", (read ? "HGET cart:" : "HMSET cart:") + user);
      } else {
        AddString(a, "db.statement",
                  read ? "SELECT id, name, price_usd FROM " + std::string(s.db_name) +
                             " WHERE owner = $1 LIMIT 20"
                       : "UPDATE " + std::string(s.db_name) +
                             " SET state = $1, updated_at = now() WHERE id = $2");
      }
      AddString(a, "db.user", "app");
      AddString(a, "net.peer.name", std::string(s.db_system) + "." + "shop.svc.cluster.local");
      AddInt(a, "net.peer.port", s.db_system == "redis" ? 6379 : 5432);
      AddInt(a, "db.rows_affected", static_cast<int64_t>(g->Uniform(0, 20)));
      AddDouble(a, "db.pool.utilization", g->Unit());
      AddBool(a, "db.cached_plan", g->Chance(0.8));
      break;
    }
    case Category::kInternal: {
      AddString(a, "code.function", std::string(s.operations[n.operation]) + "Handler");
      AddString(a, "code.namespace", std::string(s.name) + ".internal");
      AddInt(a, "code.lineno", static_cast<int64_t>(g->Uniform(20, 900)));
      AddInt(a, "thread.id", static_cast<int64_t>(g->Uniform(1, 64)));
      AddString(a, "thread.name", "worker-" + std::to_string(g->Uniform(1, 16)));
      AddString(a, "enduser.id", user);
      AddString(a, "app.session.id", g->Hex(16));
      AddInt(a, "app.items.count", static_cast<int64_t>(g->Uniform(0, 12)));
      AddDouble(a, "app.order.amount_usd",
                std::round(static_cast<double>(g->Uniform(100, 50000))) / 100.0);
      AddBool(a, "app.feature.recommendations", g->Chance(0.5));
      break;
    }
  }
}

// A trace of `n` spans as a tree, with times nested inside parents.
std::vector<SpanNode> MakeTrace(int n, uint64_t now, Generator* g) {
  std::vector<SpanNode> spans;
  spans.reserve(n);
  SpanNode root;
  root.service = 0;  // frontend
  root.operation = g->Index(5);
  root.category = Category::kServer;
  g->Bytes(&root.id);
  // Root latency: log-normal around 40 ms, 1 ms .. 5 s; started within the last 30 s.
  root.duration =
      static_cast<uint64_t>(std::clamp(std::exp(g->Normal(std::log(40e6), 1.0)), 1e6, 5e9));
  root.start = now - root.duration - g->Uniform(0, 30'000'000'000ull);
  spans.push_back(root);
  std::vector<int> can_call = {0};  // SERVER and INTERNAL spans make calls
  auto child_of = [&](int parent, SpanNode node) {
    const SpanNode& p = spans[parent];
    node.parent = parent;
    g->Bytes(&node.id);
    node.duration = std::max<uint64_t>(
        1000, static_cast<uint64_t>(static_cast<double>(p.duration) * (0.05 + 0.45 * g->Unit())));
    node.start = p.start +
                 static_cast<uint64_t>(static_cast<double>(p.duration - node.duration) * g->Unit());
    spans.push_back(node);
    return static_cast<int>(spans.size()) - 1;
  };
  while (static_cast<int>(spans.size()) < n) {
    const int parent = can_call[g->Index(can_call.size())];
    const int service = spans[parent].service;
    const double r = g->Unit();
    const int left = n - static_cast<int>(spans.size());
    if (r < 0.55 && left >= 2) {
      SpanNode client;
      client.service = service;
      client.callee = 1 + g->Index(kServices.size() - 1);
      if (client.callee == service) client.callee = 1 + (client.callee % (kServices.size() - 1));
      client.operation = g->Index(5);
      client.category = Category::kClient;
      const int c = child_of(parent, client);
      SpanNode server;
      server.service = client.callee;
      server.operation = client.operation;
      server.category = Category::kServer;
      const int s = child_of(c, server);
      // The server span sits inside the client span, less the network time.
      spans[s].duration = std::max<uint64_t>(1000, spans[c].duration * 9 / 10);
      spans[s].start = spans[c].start + (spans[c].duration - spans[s].duration) / 2;
      can_call.push_back(s);
    } else if (r < 0.75 && !kServices[service].db_system.empty()) {
      SpanNode db;
      db.service = service;
      db.operation = g->Index(5);
      db.category = Category::kDatabase;
      child_of(parent, db);
    } else {
      SpanNode internal;
      internal.service = service;
      internal.operation = spans[parent].operation;
      internal.category = Category::kInternal;
      can_call.push_back(child_of(parent, internal));
    }
  }
  // Errors: a few spans fail, and their callers up to the root see it.
  if (g->Chance(0.05)) {
    const int origin = g->Index(spans.size());
    spans[origin].error_origin = true;
    for (int i = origin; i >= 0; i = spans[i].parent) spans[i].error = true;
  }
  return spans;
}

Payload MakeRequest(int target_spans, uint64_t now, Generator* g, PayloadSet* totals) {
  otlp_collector::ExportTraceServiceRequest request;
  std::map<std::pair<int, int>, otlp_trace::ResourceSpans*> resources;  // (service, pod)
  std::map<std::pair<otlp_trace::ResourceSpans*, Category>, otlp_trace::ScopeSpans*> scopes;
  Payload payload;
  while (payload.spans < target_spans) {
    const int n = std::min<int>(static_cast<int>(g->Uniform(5, 50)),
                                target_spans - static_cast<int>(payload.spans));
    std::vector<SpanNode> trace = MakeTrace(n, now, g);
    std::array<uint8_t, 16> trace_id;
    g->Bytes(&trace_id);
    std::array<int, kServices.size()> pod;
    for (int& p : pod) p = g->Index(kPodsPerService);
    const std::string user = "user-" + std::to_string(g->Uniform(1, 20000));
    for (const SpanNode& node : trace) {
      otlp_trace::ResourceSpans*& rs = resources[{node.service, pod[node.service]}];
      if (rs == nullptr) {
        rs = request.add_resource_spans();
        FillResource(node.service, pod[node.service], rs);
      }
      otlp_trace::ScopeSpans*& ss = scopes[{rs, node.category}];
      if (ss == nullptr) {
        ss = rs->add_scope_spans();
        ss->mutable_scope()->set_name(std::string(ScopeName(node.category)));
        ss->mutable_scope()->set_version(std::string(kServices[node.service].sdk_version));
      }
      otlp_trace::Span* span = ss->add_spans();
      span->set_trace_id(trace_id.data(), trace_id.size());
      span->set_span_id(node.id.data(), node.id.size());
      if (node.parent >= 0) {
        span->set_parent_span_id(trace[node.parent].id.data(), trace[node.parent].id.size());
      }
      span->set_flags(0x101);  // sampled; the parent-is-remote bit is known
      span->set_name(SpanName(node));
      switch (node.category) {
        case Category::kServer:
          span->set_kind(otlp_trace::Span::SPAN_KIND_SERVER);
          break;
        case Category::kClient:
        case Category::kDatabase:
          span->set_kind(otlp_trace::Span::SPAN_KIND_CLIENT);
          break;
        case Category::kInternal:
          span->set_kind(otlp_trace::Span::SPAN_KIND_INTERNAL);
          break;
      }
      span->set_start_time_unix_nano(node.start);
      span->set_end_time_unix_nano(node.start + node.duration);
      FillAttributes(node, g, user, span);
      totals->span_attributes += span->attributes_size();
      if (node.category == Category::kServer && g->Chance(0.15)) {
        auto* e = span->add_events();
        e->set_time_unix_nano(node.start + node.duration / 10);
        e->set_name("message");
        AddString(e->mutable_attributes(), "message.type", "RECEIVED");
        AddInt(e->mutable_attributes(), "message.id", 1);
        AddInt(e->mutable_attributes(), "message.uncompressed_size",
               static_cast<int64_t>(g->Uniform(16, 4096)));
      }
      if (node.category == Category::kDatabase && g->Chance(0.1)) {
        auto* e = span->add_events();
        e->set_time_unix_nano(node.start + node.duration / 2);
        e->set_name("cache miss");
        AddString(e->mutable_attributes(), "cache.key", "k:" + g->Hex(12));
      }
      if (node.error) {
        span->mutable_status()->set_code(otlp_trace::Status::STATUS_CODE_ERROR);
        span->mutable_status()->set_message("upstream request failed: deadline exceeded");
        ++totals->error_spans;
        if (node.error_origin) {
          auto* e = span->add_events();
          e->set_time_unix_nano(node.start + node.duration);
          e->set_name("exception");
          AddString(e->mutable_attributes(), "exception.type", "DeadlineExceeded");
          AddString(e->mutable_attributes(), "exception.message",
                    "context deadline exceeded after 500ms");
          AddString(e->mutable_attributes(), "exception.stacktrace",
                    "DeadlineExceeded: context deadline exceeded\n  at call (client.go:212)\n"
                    "  at handler (server.go:88)\n  at serve (server.go:41)");
        }
      }
      totals->events += span->events_size();
    }
    payload.spans += n;
    ++payload.traces;
  }
  request.SerializeToString(&payload.bytes);
  return payload;
}

}  // namespace

PayloadSet GeneratePayloads(const PayloadOptions& options) {
  Generator g(options.seed);
  const uint64_t now =
      options.now_unix_nanos != 0
          ? options.now_unix_nanos
          : static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count());
  PayloadSet set;
  set.payloads.reserve(options.requests);
  for (int i = 0; i < options.requests; ++i) {
    Payload p = MakeRequest(std::max(1, options.spans_per_request), now, &g, &set);
    set.spans += p.spans;
    set.traces += p.traces;
    set.bytes += static_cast<int64_t>(p.bytes.size());
    set.payloads.push_back(std::move(p));
  }
  return set;
}

}  // namespace ariadne::bench
