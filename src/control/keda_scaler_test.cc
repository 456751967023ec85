// KedaScaler as KEDA sees it: a real gRPC server on 127.0.0.1 and the
// generated client stub, over a source the test changes.
#include "control/keda_scaler.h"

#include <gmock/gmock.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/proto_buffer_writer.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "keda/externalscaler.grpc.pb.h"

namespace ariadne::control {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

// Desired replicas per service, set by the test; Unavailable when `down`.
class Decisions {
 public:
  void Set(const std::string& service, int32_t replicas) {
    absl::MutexLock lock(&mu_);
    desired_[service] = replicas;
  }
  void SetDown(bool down) {
    absl::MutexLock lock(&mu_);
    down_ = down;
  }
  DesiredReplicasSource Source() {
    return [this](std::string_view service) -> absl::StatusOr<int32_t> {
      absl::MutexLock lock(&mu_);
      if (down_) return absl::UnavailableError("the controller is not running");
      auto it = desired_.find(std::string(service));
      if (it == desired_.end()) return absl::NotFoundError("no decision yet");
      return it->second;
    };
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, int32_t> desired_ ABSL_GUARDED_BY(mu_);
  bool down_ ABSL_GUARDED_BY(mu_) = false;
};

externalscaler::ScaledObjectRef Ref(const std::string& name, const std::string& service) {
  externalscaler::ScaledObjectRef ref;
  ref.set_name(name);
  ref.set_namespace_("shop");
  if (!service.empty()) (*ref.mutable_scalermetadata())["service"] = service;
  return ref;
}

// A context whose deadline bounds every blocking call of the test.
std::unique_ptr<grpc::ClientContext> Context() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + 20s);
  return context;
}

class KedaScalerTest : public ::testing::Test {
 protected:
  void Start(KedaScalerOptions options) {
    scaler_ = std::make_unique<KedaScaler>(decisions_.Source(), options);
    const absl::Status st = scaler_->Start("127.0.0.1:0");
    ASSERT_TRUE(st.ok()) << st;
    ASSERT_NE(scaler_->port(), 0);
    stub_ = externalscaler::ExternalScaler::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(scaler_->port()), grpc::InsecureChannelCredentials()));
  }
  void SetUp() override {
    decisions_.Set("cartservice", 3);
    decisions_.Set("frontend", 0);
    Start({.poll_interval = 20ms});
  }

  // Polls (bounded) until the scaler has `n` open streams.
  bool WaitForOpenStreams(int n) {
    for (int i = 0; i < 500; ++i) {
      if (scaler_->OpenStreamsForTest() == n) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  Decisions decisions_;
  std::unique_ptr<KedaScaler> scaler_;
  std::unique_ptr<externalscaler::ExternalScaler::Stub> stub_;
};

TEST_F(KedaScalerTest, GetMetricSpecIsOneMetricWithTargetOne) {
  externalscaler::GetMetricSpecResponse response;
  grpc::Status st = stub_->GetMetricSpec(Context().get(), Ref("cart-so", "cartservice"), &response);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(response.metricspecs_size(), 1);
  EXPECT_EQ(response.metricspecs(0).metricname(), "ariadne-desired-replicas-cartservice");
  EXPECT_EQ(response.metricspecs(0).targetsize(), 1);
  EXPECT_EQ(response.metricspecs(0).targetsizefloat(), 1.0);
  EXPECT_EQ(KedaScaler::MetricName("cartservice"), "ariadne-desired-replicas-cartservice");
}

TEST_F(KedaScalerTest, GetMetricsIsTheDesiredReplicas) {
  externalscaler::GetMetricsRequest request;
  *request.mutable_scaledobjectref() = Ref("cart-so", "cartservice");
  request.set_metricname("s0-ariadne-desired-replicas-cartservice");  // as KEDA may prefix it
  externalscaler::GetMetricsResponse response;
  grpc::Status st = stub_->GetMetrics(Context().get(), request, &response);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(response.metricvalues_size(), 1);
  EXPECT_EQ(response.metricvalues(0).metricname(), "ariadne-desired-replicas-cartservice");
  EXPECT_EQ(response.metricvalues(0).metricvalue(), 3);
  EXPECT_EQ(response.metricvalues(0).metricvaluefloat(), 3.0);

  decisions_.Set("cartservice", 12);
  response.Clear();
  st = stub_->GetMetrics(Context().get(), request, &response);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(response.metricvalues(0).metricvalue(), 12);
  EXPECT_EQ(response.metricvalues(0).metricvaluefloat(), 12.0);
}

TEST_F(KedaScalerTest, IsActiveMeansDesiredAboveZero) {
  externalscaler::IsActiveResponse response;
  grpc::Status st = stub_->IsActive(Context().get(), Ref("cart-so", "cartservice"), &response);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_TRUE(response.result());
  st = stub_->IsActive(Context().get(), Ref("frontend-so", "frontend"), &response);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_FALSE(response.result());
}

TEST_F(KedaScalerTest, WithoutMetadataTheScaledObjectNameIsTheService) {
  externalscaler::GetMetricSpecResponse spec;
  grpc::Status st = stub_->GetMetricSpec(Context().get(), Ref("cartservice", ""), &spec);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(spec.metricspecs(0).metricname(), "ariadne-desired-replicas-cartservice");
  externalscaler::IsActiveResponse active;
  st = stub_->IsActive(Context().get(), Ref("cartservice", ""), &active);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_TRUE(active.result());
}

TEST_F(KedaScalerTest, UnknownServiceIsNotFound) {
  const auto ref = Ref("checkout-so", "checkout");
  externalscaler::IsActiveResponse active;
  grpc::Status st = stub_->IsActive(Context().get(), ref, &active);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(st.error_message(), HasSubstr("no desired replicas for service \"checkout\""));
  EXPECT_THAT(st.error_message(), HasSubstr("ScaledObject \"shop/checkout-so\""));

  externalscaler::GetMetricSpecResponse spec;
  st = stub_->GetMetricSpec(Context().get(), ref, &spec);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << st.error_message();

  externalscaler::GetMetricsRequest request;
  *request.mutable_scaledobjectref() = ref;
  externalscaler::GetMetricsResponse values;
  st = stub_->GetMetrics(Context().get(), request, &values);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << st.error_message();

  auto context = Context();
  auto reader = stub_->StreamIsActive(context.get(), ref);
  EXPECT_FALSE(reader->Read(&active));
  st = reader->Finish();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << st.error_message();
}

TEST_F(KedaScalerTest, MissingServiceIsInvalidArgument) {
  externalscaler::IsActiveResponse active;
  grpc::Status st = stub_->IsActive(Context().get(), Ref("", ""), &active);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(), HasSubstr("trigger metadata \"service\""));

  externalscaler::ScaledObjectRef empty = Ref("cart-so", "");
  (*empty.mutable_scalermetadata())["service"] = "";
  externalscaler::GetMetricSpecResponse spec;
  st = stub_->GetMetricSpec(Context().get(), empty, &spec);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(), HasSubstr("is empty"));

  externalscaler::GetMetricsRequest request;  // no scaledObjectRef at all
  externalscaler::GetMetricsResponse values;
  st = stub_->GetMetrics(Context().get(), request, &values);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
}

TEST_F(KedaScalerTest, SourceErrorsKeepTheirCode) {
  decisions_.SetDown(true);
  externalscaler::IsActiveResponse active;
  grpc::Status st = stub_->IsActive(Context().get(), Ref("cart-so", "cartservice"), &active);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(st.error_message(), HasSubstr("the controller is not running"));
}

TEST_F(KedaScalerTest, StreamIsActiveSendsNowAndOnEveryChange) {
  auto context = Context();
  auto reader = stub_->StreamIsActive(context.get(), Ref("frontend-so", "frontend"));
  externalscaler::IsActiveResponse active;
  ASSERT_TRUE(reader->Read(&active));
  EXPECT_FALSE(active.result());  // the state now

  decisions_.Set("frontend", 4);
  ASSERT_TRUE(reader->Read(&active));
  EXPECT_TRUE(active.result());

  // No message while the state stays the same: the next one is the change.
  decisions_.Set("frontend", 6);
  std::this_thread::sleep_for(100ms);  // five polls
  decisions_.Set("frontend", 0);
  ASSERT_TRUE(reader->Read(&active));
  EXPECT_FALSE(active.result());

  EXPECT_EQ(scaler_->OpenStreamsForTest(), 1);
  context->TryCancel();
  EXPECT_FALSE(reader->Read(&active));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(WaitForOpenStreams(0));  // the server saw the cancellation
}

TEST_F(KedaScalerTest, ShutdownEndsOpenStreams) {
  auto context = Context();
  auto reader = stub_->StreamIsActive(context.get(), Ref("cart-so", "cartservice"));
  externalscaler::IsActiveResponse active;
  ASSERT_TRUE(reader->Read(&active));
  EXPECT_TRUE(active.result());
  const auto start = std::chrono::steady_clock::now();
  scaler_->Shutdown(10s);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);  // not the deadline
  EXPECT_FALSE(reader->Read(&active));
  const grpc::Status st = reader->Finish();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE) << st.error_message();
  EXPECT_THAT(st.error_message(), HasSubstr("shutting down"));
}

TEST_F(KedaScalerTest, StreamsAreBoundedInNumberAndDuration) {
  scaler_.reset();
  Start({.poll_interval = 20ms, .max_stream_duration = 200ms, .max_streams = 1});

  auto first_context = Context();
  auto first = stub_->StreamIsActive(first_context.get(), Ref("cart-so", "cartservice"));
  externalscaler::IsActiveResponse active;
  ASSERT_TRUE(first->Read(&active));
  ASSERT_TRUE(WaitForOpenStreams(1));

  auto second_context = Context();
  auto second = stub_->StreamIsActive(second_context.get(), Ref("cart-so", "cartservice"));
  EXPECT_FALSE(second->Read(&active));
  const grpc::Status st = second->Finish();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << st.error_message();

  // The first ends by itself after max_stream_duration, with OK.
  EXPECT_FALSE(first->Read(&active));
  EXPECT_TRUE(first->Finish().ok());
}

// KEDA's newer, optional StreamMetricSpec: not served, so a client gets
// UNIMPLEMENTED (and KEDA falls back to GetMetricSpec). Called by its full
// method name, as a KEDA that knows it would.
TEST_F(KedaScalerTest, StreamMetricSpecIsUnimplemented) {
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(scaler_->port()),
                                     grpc::InsecureChannelCredentials());
  grpc::GenericStub generic(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  externalscaler::ScaledObjectRef ref;
  ref.set_name("cartservice");
  grpc::ByteBuffer request;
  bool own = false;
  using Serializer = grpc::SerializationTraits<externalscaler::ScaledObjectRef>;
  ASSERT_TRUE(Serializer::Serialize(ref, &request, &own).ok());
  grpc::CompletionQueue cq;
  auto call = generic.PrepareCall(&context, "/externalscaler.ExternalScaler/StreamMetricSpec", &cq);
  void* tag = nullptr;
  bool ok = false;
  call->StartCall(reinterpret_cast<void*>(1));
  ASSERT_TRUE(cq.Next(&tag, &ok));
  call->Write(request, reinterpret_cast<void*>(2));
  ASSERT_TRUE(cq.Next(&tag, &ok));
  call->WritesDone(reinterpret_cast<void*>(3));
  ASSERT_TRUE(cq.Next(&tag, &ok));
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(4));
  while (cq.Next(&tag, &ok)) {
    if (tag == reinterpret_cast<void*>(4)) break;
  }
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED) << status.error_message();
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
}

TEST(KedaScaler, StartChecksOptionsAndAddress) {
  const DesiredReplicasSource source = [](std::string_view) { return 1; };
  KedaScaler bad(source, {.poll_interval = 0ms});
  EXPECT_EQ(bad.Start("127.0.0.1:0").code(), absl::StatusCode::kInvalidArgument);
  KedaScaler unusable(source);
  EXPECT_EQ(unusable.Start("256.0.0.1:1").code(), absl::StatusCode::kUnavailable);
  KedaScaler twice(source);
  ASSERT_TRUE(twice.Start("127.0.0.1:0").ok());
  EXPECT_EQ(twice.Start("127.0.0.1:0").code(), absl::StatusCode::kFailedPrecondition);
}

// TLS with client certificates: a CA, a server certificate for 127.0.0.1 and
// a client certificate, made with the openssl CLI in a temporary directory.
class KedaScalerTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kOpenssl)) GTEST_SKIP() << kOpenssl << " is not installed";
    char tmpl[] = "/tmp/ariadne-keda-tls-XXXXXX";
    dir_ = mkdtemp(tmpl);
    Run("req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=test-ca -keyout " + P("ca.key") +
        " -out " + P("ca.pem"));
    std::ofstream(P("ext.cnf")) << "subjectAltName=IP:127.0.0.1\n";
    for (const std::string name : {"server", "client"}) {
      Run("req -newkey rsa:2048 -nodes -subj /CN=" + name + " -keyout " + P(name + ".key") +
          " -out " + P(name + ".csr"));
      Run("x509 -req -in " + P(name + ".csr") + " -CA " + P("ca.pem") + " -CAkey " + P("ca.key") +
          " -set_serial 7 -days 2 -extfile " + P("ext.cnf") + " -out " + P(name + ".pem"));
    }
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  std::string P(const std::string& name) const { return dir_ + "/" + name; }
  std::string Read(const std::string& name) const {
    std::ifstream in(P(name));
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  void Run(const std::string& args) {
    const std::string cmd = std::string(kOpenssl) + " " + args + " >/dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }
  grpc::Status IsActive(const std::shared_ptr<grpc::ChannelCredentials>& credentials, int port) {
    auto stub = externalscaler::ExternalScaler::NewStub(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(port), credentials));
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + 5s);
    externalscaler::IsActiveResponse response;
    return stub->IsActive(context.get(), Ref("cart-so", "cartservice"), &response);
  }

  static constexpr char kOpenssl[] = "/usr/bin/openssl";
  std::string dir_;
};

TEST_F(KedaScalerTlsTest, ServesTlsWithClientCertificatesOnly) {
  const DesiredReplicasSource source = [](std::string_view) { return 2; };
  KedaScalerOptions options;
  options.tls = {P("server.pem"), P("server.key"), P("ca.pem")};
  KedaScaler scaler(source, options);
  ASSERT_TRUE(scaler.Start("127.0.0.1:0").ok());

  grpc::SslCredentialsOptions with_cert;
  with_cert.pem_root_certs = Read("ca.pem");
  with_cert.pem_private_key = Read("client.key");
  with_cert.pem_cert_chain = Read("client.pem");
  const grpc::Status ok = IsActive(grpc::SslCredentials(with_cert), scaler.port());
  EXPECT_TRUE(ok.ok()) << ok.error_message();

  // A plaintext client and a TLS client without a certificate get nothing.
  EXPECT_FALSE(IsActive(grpc::InsecureChannelCredentials(), scaler.port()).ok());
  grpc::SslCredentialsOptions no_cert;
  no_cert.pem_root_certs = Read("ca.pem");
  EXPECT_FALSE(IsActive(grpc::SslCredentials(no_cert), scaler.port()).ok());
}

}  // namespace
}  // namespace ariadne::control
