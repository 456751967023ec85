#include "eval/nezha.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"

namespace ariadne::eval {
namespace {

namespace fs = std::filesystem;

TEST(NezhaTest, ServiceOfPod) {
  EXPECT_EQ(ServiceOfPod("ts-auth-service-7f8d7d756d-k7b9j"), "ts-auth-service");
  EXPECT_EQ(ServiceOfPod("redis-5c8d-x1"), "redis");
  EXPECT_EQ(ServiceOfPod("solo"), "solo");
  EXPECT_EQ(ServiceOfPod("a-b"), "a-b");
}

class TempDir {
 public:
  TempDir() {
    std::string t = (fs::temp_directory_path() / "nezha_test_XXXXXX").string();
    path_ = mkdtemp(t.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void Write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

constexpr const char* kHeader =
    "TraceID,SpanID,ParentID,PodName,OperationName,StartTimeUnixNano,EndTimeUnixNano,Duration\n";

// One minute of traces: gateway -> (HTTP GET) -> food; food's self time is
// `food_ms`; every fifth trace food fails (error controller span) if `fail`.
std::string Minute(int64_t minute_unix, int food_ms, bool fail) {
  std::string s = kHeader;
  for (int t = 0; t < 60; ++t) {
    const int64_t start = (minute_unix + t) * 1'000'000'000;
    const int64_t food_end = start + 2'000'000 + food_ms * 1'000'000;
    const std::string trace = absl::StrFormat("%016x%016x", minute_unix, t);
    auto span = [&](const char* id, const char* parent, const char* pod, const char* op, int64_t b,
                    int64_t e) {
      absl::StrAppend(&s, trace, ",", id, ",", parent, ",", pod, ",", op, ",", b, ",", e, ",",
                      (e - b) / 1000, "\n");
    };
    span("00000000000000a1", "root", "ts-gateway-service-6f6c-h5m2n", "/*", start, food_end + 2'000'000);
    span("00000000000000a2", "00000000000000a1", "ts-gateway-service-6f6c-h5m2n", "HTTP GET",
         start + 500'000, food_end + 1'000'000);
    span("00000000000000a3", "00000000000000a2", "ts-food-service-f575-k8vqf", "/foods", start + 1'000'000,
         food_end);
    if (fail && t % 5 == 0) {
      span("00000000000000a4", "00000000000000a3", "ts-food-service-f575-k8vqf",
           "BasicErrorController.error", food_end - 500'000, food_end - 100'000);
    }
  }
  return s;
}

TEST(NezhaTest, LoadsADayAndRanksTheChangedService) {
  TempDir dir;
  const fs::path day = dir.path() / "fault_suffering" / "2023-01-29";
  // 08:00..08:09 normal, the fault at 08:05:00 (files 08_05..08_07).
  const int64_t base = 1674979200;  // 2023-01-29 08:00:00 UTC
  for (int m = 0; m < 10; ++m) {
    const bool faulty = m >= 5 && m <= 7;
    Write(day / "trace" / absl::StrFormat("08_%02d_trace.csv", m),
          Minute(base + 60 * m, faulty ? 40 : 3, faulty));
  }
  Write(day / "2023-01-29-fault_list.json",
        R"({"08": [{"inject_time": "2023-01-29 08:05:00", "inject_timestamp": "1",
                    "inject_pod": "ts-food-service-f575-k8vqf", "inject_type": "exception"}]})");
  std::string metric =
      "Time,TimeStamp,PodName,CpuUsage(m),CpuUsageRate(%),MemoryUsage(Mi),MemoryUsageRate(%)\n";
  for (int m = -30; m < 10; ++m) {
    absl::StrAppend(&metric, "x,", base + 60 * m, ",ts-food-service-f575-k8vqf,1,",
                    m >= 5 ? "80" : (m % 2 ? "10" : "11"), ",1,", "NaN", "\n");
  }
  Write(day / "metric" / "ts-food-service-f575-k8vqf_metric.csv", metric);

  auto days = LoadNezha(dir.path().string());
  ASSERT_TRUE(days.ok()) << days.status();
  ASSERT_EQ(days->size(), 1u);
  const NezhaDay& d = (*days)[0];
  ASSERT_EQ(d.files.size(), 10u);
  ASSERT_EQ(d.faults.size(), 1u);
  EXPECT_EQ(d.faults[0].service, "ts-food-service");
  EXPECT_EQ(d.faults[0].files.size(), 3u);
  ASSERT_EQ(d.resources.size(), 2u);  // cpu and memory
  EXPECT_EQ(d.resources[0].values.size(), 40u);
  EXPECT_EQ(d.resources[1].values.size(), 0u);  // NaN is no sample
  // The error controller's span marks the request it failed.
  int errors = 0;
  for (const NezhaSpan& s : d.files[d.faults[0].files[0]]) {
    if (s.error) {
      ++errors;
      EXPECT_EQ(s.operation, "/foods");
    }
  }
  EXPECT_EQ(errors, 12);

  const RcaCaseResult r = EvaluateNezhaFault(d, d.faults[0]);
  EXPECT_EQ(r.anomalous_spans, 3u * (60 * 3 + 12));
  EXPECT_EQ(r.normal_spans, 7u * 60 * 3);
  ASSERT_FALSE(r.candidates.empty());
  EXPECT_EQ(r.rank, 1);
  std::set<std::string> kinds;
  for (const auto& e : r.candidates[0].evidence) kinds.insert(e.kind);
  EXPECT_TRUE(kinds.count("latency") && kinds.count("errors") && kinds.count("resource"));
  std::ostringstream report, json;
  WriteRcaReport({r}, report);
  WriteRcaJson({r}, json);
  EXPECT_NE(report.str().find("| all | 1 | 1.000 | 1.000 | 1.000 |"), std::string::npos) << report.str();
  EXPECT_NE(json.str().find("\"root_cause\":\"ts-food-service\""), std::string::npos);
}

TEST(NezhaTest, BadInputNamesFileAndLine) {
  TempDir dir;
  const fs::path day = dir.path() / "fault_suffering" / "2023-01-29";
  Write(day / "trace" / "08_00_trace.csv", std::string(kHeader) + "a,zz,root,p-x-y,op,1,2,1\n");
  Write(day / "2023-01-29-fault_list.json", "{}");
  auto days = LoadNezha(dir.path().string());
  ASSERT_FALSE(days.ok());
  EXPECT_NE(days.status().message().find("08_00_trace.csv:2: bad SpanID"), std::string::npos)
      << days.status();
  EXPECT_FALSE(LoadNezha((dir.path() / "none").string()).ok());
}

TEST(NezhaTest, Summary) {
  std::vector<RcaCaseResult> rs(4);
  rs[0].rank = 1;
  rs[1].rank = 2;
  rs[2].rank = 4;
  rs[3].rank = 0;
  const RcaSummary s = Summarise(rs);
  EXPECT_DOUBLE_EQ(s.ac1, 0.25);
  EXPECT_DOUBLE_EQ(s.ac3, 0.5);
  EXPECT_DOUBLE_EQ(s.avg5, (1 + 2 + 2 + 3 + 3) / 20.0);
}

// The real data (../shared/datasets/nezha): what the README says it holds.
TEST(NezhaTest, RealData) {
  const char* env = std::getenv("NEZHA_DIR");
  const std::string dir = env ? env : ARIADNE_NEZHA_DIR;
  auto days = LoadNezha(dir);
  ASSERT_TRUE(days.ok()) << days.status();
  const NezhaDay* d29 = nullptr;
  for (const NezhaDay& d : *days) {
    if (d.day == "2023-01-29") d29 = &d;
  }
  ASSERT_NE(d29, nullptr);
  EXPECT_EQ(d29->faults.size(), 28u);
  size_t faulty_spans = 0, free_spans = 0;
  for (size_t f = 0; f < d29->files.size(); ++f) {
    (d29->file_names[f].rfind("fault_free", 0) == 0 ? free_spans : faulty_spans) +=
        d29->files[f].size();
  }
  EXPECT_EQ(faulty_spans, 328'848u);
  EXPECT_EQ(free_spans, 4'890u);  // the README says 4,889; the file has 4,890 rows
  for (const NezhaFault& f : d29->faults) EXPECT_EQ(f.files.size(), 3u) << f.inject_time;
  // One case end to end: the ranking runs and the truth is looked up in it.
  const RcaCaseResult r = EvaluateNezhaFault(*d29, d29->faults.back());
  EXPECT_GT(r.anomalous_spans, 1000u);
  EXPECT_GT(r.normal_spans, 100'000u);
  ASSERT_FALSE(r.candidates.empty());
  for (size_t i = 0; i < r.candidates.size(); ++i) {
    EXPECT_EQ(r.candidates[i].service == r.truth, r.rank == static_cast<int>(i + 1));
  }
}

}  // namespace
}  // namespace ariadne::eval
