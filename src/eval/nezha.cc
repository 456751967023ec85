#include "eval/nezha.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "eval/nab.h"
#include "simdjson.h"

namespace ariadne::eval {

namespace {

namespace fs = std::filesystem;

constexpr std::string_view kSpanHeader =
    "TraceID,SpanID,ParentID,PodName,OperationName,StartTimeUnixNano,EndTimeUnixNano,Duration";
constexpr std::string_view kErrorOperation = "BasicErrorController.error";
constexpr int64_t kWindowSeconds = 180;           // three one-minute files
constexpr int64_t kResourceNormalSeconds = 1200;  // before the injection

absl::string_view AV(std::string_view s) { return absl::string_view(s.data(), s.size()); }

absl::Status LineError(const std::string& file, size_t line, std::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(file, ":", line, ": ", AV(message)));
}

absl::StatusOr<std::vector<NezhaSpan>> LoadSpans(const fs::path& path, const std::string& name) {
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  std::vector<NezhaSpan> spans;
  size_t line = 0;
  for (absl::string_view row : absl::StrSplit(*text, '\n')) {
    ++line;
    if (!row.empty() && row.back() == '\r') row.remove_suffix(1);
    if (line == 1) {
      if (row != AV(kSpanHeader)) return LineError(name, line, "unexpected header");
      continue;
    }
    if (row.empty()) continue;
    std::vector<absl::string_view> f = absl::StrSplit(row, ',');
    if (f.size() != 8) return LineError(name, line, "expected 8 columns");
    NezhaSpan s;
    s.trace_id = std::string(f[0]);
    if (!absl::SimpleHexAtoi(f[1], &s.span_id) || s.span_id == 0) {
      return LineError(name, line, "bad SpanID");
    }
    if (f[2] != "root" && !absl::SimpleHexAtoi(f[2], &s.parent_id)) {
      return LineError(name, line, "bad ParentID");
    }
    s.service = ServiceOfPod(std::string_view(f[3].data(), f[3].size()));
    s.operation = std::string(f[4]);
    if (!absl::SimpleAtoi(f[5], &s.start_nanos) || !absl::SimpleAtoi(f[6], &s.end_nanos)) {
      return LineError(name, line, "bad start or end time");
    }
    spans.push_back(std::move(s));
  }
  // The request a service failed: the parent of its error controller's span.
  absl::flat_hash_map<std::pair<std::string_view, uint64_t>, size_t> index;
  for (size_t i = 0; i < spans.size(); ++i) index[{spans[i].trace_id, spans[i].span_id}] = i;
  for (const NezhaSpan& s : spans) {
    if (s.operation != kErrorOperation || s.parent_id == 0) continue;
    auto it = index.find({s.trace_id, s.parent_id});
    if (it != index.end()) spans[it->second].error = true;
  }
  return spans;
}

// cpu_utilisation and memory_utilisation (percent) of a pod's metric file.
absl::Status LoadMetrics(const fs::path& path, const std::string& name,
                         std::vector<detect::RcaResource>* out) {
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  size_t line = 0;
  int ts = -1, pod = -1, cpu = -1, mem = -1;
  detect::RcaResource c, m;
  for (absl::string_view row : absl::StrSplit(*text, '\n')) {
    ++line;
    if (!row.empty() && row.back() == '\r') row.remove_suffix(1);
    if (row.empty()) continue;
    std::vector<absl::string_view> f = absl::StrSplit(row, ',');
    if (line == 1) {
      for (size_t i = 0; i < f.size(); ++i) {
        if (f[i] == "TimeStamp") ts = static_cast<int>(i);
        if (f[i] == "PodName") pod = static_cast<int>(i);
        if (f[i] == "CpuUsageRate(%)") cpu = static_cast<int>(i);
        if (f[i] == "MemoryUsageRate(%)") mem = static_cast<int>(i);
      }
      if (ts < 0 || pod < 0 || cpu < 0 || mem < 0) {
        return LineError(name, line, "missing TimeStamp, PodName, CpuUsageRate(%) or MemoryUsageRate(%)");
      }
      continue;
    }
    if (f.size() <= static_cast<size_t>(std::max({ts, pod, cpu, mem}))) {
      return LineError(name, line, "too few columns");
    }
    int64_t t;
    if (!absl::SimpleAtoi(f[ts], &t)) return LineError(name, line, "bad TimeStamp");
    if (c.service.empty()) {
      c.service = m.service = ServiceOfPod(std::string_view(f[pod].data(), f[pod].size()));
      c.name = "cpu_utilisation";
      m.name = "memory_utilisation";
    }
    double v;
    if (absl::SimpleAtod(f[cpu], &v) && std::isfinite(v)) {
      c.times.push_back(static_cast<uint64_t>(t) * 1'000'000'000ull);
      c.values.push_back(v);
    }
    if (absl::SimpleAtod(f[mem], &v) && std::isfinite(v)) {
      m.times.push_back(static_cast<uint64_t>(t) * 1'000'000'000ull);
      m.values.push_back(v);
    }
  }
  if (!c.service.empty()) {
    out->push_back(std::move(c));
    out->push_back(std::move(m));
  }
  return absl::OkStatus();
}

std::vector<fs::path> Sorted(const fs::path& dir, std::string_view suffix) {
  std::vector<fs::path> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string n = e.path().filename().string();
    if (n.size() > suffix.size() && n.ends_with(suffix)) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

absl::Status LoadDay(const fs::path& root, const std::string& day, NezhaDay* d) {
  d->day = day;
  const fs::path faulty = root / "fault_suffering" / day;
  // Trace files: the faults' windows, then fault-free minutes.
  for (const fs::path& dir : {faulty / "trace", root / "fault_free" / day / "trace"}) {
    for (const fs::path& p : Sorted(dir, "_trace.csv")) {
      const std::string name = fs::relative(p, root).string();
      auto spans = LoadSpans(p, name);
      if (!spans.ok()) return spans.status();
      d->file_names.push_back(name);
      d->files.push_back(*std::move(spans));
    }
  }
  for (const fs::path& p : Sorted(faulty / "metric", "_metric.csv")) {
    if (p.filename().string().rfind("ts-", 0) != 0) continue;  // front_service.csv: no pod
    if (auto s = LoadMetrics(p, fs::relative(p, root).string(), &d->resources); !s.ok()) return s;
  }
  // The fault list, keyed by hour.
  const std::string list_name = day + "-fault_list.json";
  auto text = ReadFile(faulty / list_name);
  if (!text.ok()) return text.status();
  simdjson::dom::parser parser;
  simdjson::dom::object hours;
  if (parser.parse(*text).get_object().get(hours) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(absl::StrCat(list_name, ": not a JSON object"));
  }
  for (auto [hour, list] : hours) {
    simdjson::dom::array entries;
    if (list.get_array().get(entries) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError(absl::StrCat(list_name, ": \"", AV(hour), "\" is not a list"));
    }
    for (simdjson::dom::element e : entries) {
      std::string_view time, pod, type;
      if (e["inject_time"].get_string().get(time) != simdjson::SUCCESS ||
          e["inject_pod"].get_string().get(pod) != simdjson::SUCCESS ||
          e["inject_type"].get_string().get(type) != simdjson::SUCCESS) {
        return absl::InvalidArgumentError(
            absl::StrCat(list_name, ": an entry lacks inject_time, inject_pod or inject_type"));
      }
      NezhaFault f;
      f.day = day;
      f.inject_time = std::string(time);
      if (!ParseTimestamp(time, &f.inject_unix)) {
        return absl::InvalidArgumentError(absl::StrCat(list_name, ": bad inject_time ", AV(time)));
      }
      f.service = ServiceOfPod(pod);
      f.type = std::string(type);
      const absl::CivilMinute minute =
          absl::ToCivilMinute(absl::FromUnixSeconds(f.inject_unix), absl::UTCTimeZone());
      for (int k = 0; k < 3; ++k) {
        const absl::CivilMinute m = minute + k;
        const std::string name = (fs::path("fault_suffering") / day / "trace" /
                                  absl::StrFormat("%02d_%02d_trace.csv", m.hour(), m.minute()))
                                     .string();
        for (size_t i = 0; i < d->file_names.size(); ++i) {
          if (d->file_names[i] == name) f.files.push_back(i);
        }
      }
      if (f.files.empty()) {
        return absl::NotFoundError(
            absl::StrCat(list_name, ": no trace file for the fault at ", AV(time)));
      }
      d->faults.push_back(std::move(f));
    }
  }
  std::sort(d->faults.begin(), d->faults.end(),
            [](const NezhaFault& a, const NezhaFault& b) { return a.inject_unix < b.inject_unix; });
  return absl::OkStatus();
}

}  // namespace

std::string ServiceOfPod(std::string_view pod) {
  size_t end = pod.size();
  for (int k = 0; k < 2; ++k) {
    const size_t dash = pod.rfind('-', end == 0 ? 0 : end - 1);
    if (dash == std::string_view::npos || dash == 0) return std::string(pod);
    end = dash;
  }
  return std::string(pod.substr(0, end));
}

absl::StatusOr<std::vector<NezhaDay>> LoadNezha(const std::string& dir) {
  const fs::path root(dir);
  std::error_code ec;
  if (!fs::is_directory(root / "fault_suffering", ec)) {
    return absl::NotFoundError(absl::StrCat(dir, ": no fault_suffering/ directory"));
  }
  std::vector<std::string> days;
  for (const auto& e : fs::directory_iterator(root / "fault_suffering", ec)) {
    if (e.is_directory()) days.push_back(e.path().filename().string());
  }
  std::sort(days.begin(), days.end());
  std::vector<NezhaDay> out;
  for (const std::string& day : days) {
    NezhaDay d;
    if (auto s = LoadDay(root, day, &d); !s.ok()) return s;
    out.push_back(std::move(d));
  }
  if (out.empty()) return absl::NotFoundError(absl::StrCat(dir, ": no days under fault_suffering/"));
  return out;
}

RcaCaseResult EvaluateNezhaFault(const NezhaDay& day, const NezhaFault& fault,
                                 const detect::RcaOptions& options) {
  RcaCaseResult r;
  r.day = fault.day;
  r.inject_time = fault.inject_time;
  r.truth = fault.service;
  r.type = fault.type;
  const uint64_t inject = static_cast<uint64_t>(fault.inject_unix) * 1'000'000'000ull;
  detect::RcaData data;
  data.anomalous.start_nanos = inject;
  data.anomalous.end_nanos = inject + kWindowSeconds * 1'000'000'000ull;
  auto add = [&](detect::RcaWindow* w, const NezhaSpan& s) {
    data.Add(w, s.trace_id, s.span_id, s.parent_id, s.service, s.operation,
             model::SpanKind::kUnspecified, s.start_nanos, s.end_nanos, s.error);
  };
  for (size_t f = 0; f < day.files.size(); ++f) {
    const bool mine = std::find(fault.files.begin(), fault.files.end(), f) != fault.files.end();
    for (const NezhaSpan& s : day.files[f]) {
      if (!mine) {
        add(&data.normal, s);
      } else if (s.start_nanos >= inject) {
        add(&data.anomalous, s);
      }
    }
  }
  data.resources = day.resources;
  data.resources_normal_start = inject - kResourceNormalSeconds * 1'000'000'000ull;
  data.resources_normal_end = inject;
  r.anomalous_spans = data.anomalous.size();
  r.normal_spans = data.normal.size();
  r.candidates = detect::RankRootCauses(data, options);
  for (size_t i = 0; i < r.candidates.size(); ++i) {
    if (r.candidates[i].service == fault.service) {
      r.rank = static_cast<int>(i + 1);
      break;
    }
  }
  return r;
}

RcaSummary Summarise(const std::vector<RcaCaseResult>& results) {
  RcaSummary s;
  s.cases = results.size();
  if (results.empty()) return s;
  double ac[6] = {0};
  for (const RcaCaseResult& r : results) {
    for (int k = 1; k <= 5; ++k) {
      if (r.rank >= 1 && r.rank <= k) ac[k] += 1;
    }
  }
  const double n = static_cast<double>(results.size());
  s.ac1 = ac[1] / n;
  s.ac3 = ac[3] / n;
  s.avg5 = (ac[1] + ac[2] + ac[3] + ac[4] + ac[5]) / (5 * n);
  return s;
}

void WriteRcaReport(const std::vector<RcaCaseResult>& results, std::ostream& out) {
  auto row = [&](const std::string& name, const std::vector<RcaCaseResult>& rs) {
    const RcaSummary s = Summarise(rs);
    out << absl::StrFormat("| %s | %zu | %.3f | %.3f | %.3f |\n", name, s.cases, s.ac1, s.ac3,
                           s.avg5);
  };
  out << "| faults | cases | AC@1 | AC@3 | Avg@5 |\n|---|---:|---:|---:|---:|\n";
  row("all", results);
  std::map<std::string, std::vector<RcaCaseResult>> by_type;
  for (const RcaCaseResult& r : results) by_type[r.type].push_back(r);
  for (const auto& [type, rs] : by_type) row(type, rs);
  out << "\n| day | injected (UTC) | type | root cause | rank | top 3 |\n|---|---|---|---|---:|---|\n";
  for (const RcaCaseResult& r : results) {
    std::string top;
    for (size_t i = 0; i < std::min<size_t>(3, r.candidates.size()); ++i) {
      absl::StrAppend(&top, i ? ", " : "", r.candidates[i].service,
                      absl::StrFormat(" (%.2f, %s)", r.candidates[i].score,
                                      r.candidates[i].evidence.empty()
                                          ? ""
                                          : r.candidates[i].evidence[0].kind));
    }
    out << absl::StrFormat("| %s | %s | %s | %s | %s | %s |\n", r.day, r.inject_time.substr(11),
                           r.type, r.truth, r.rank ? std::to_string(r.rank) : "-", top);
  }
}

void WriteRcaJson(const std::vector<RcaCaseResult>& results, std::ostream& out) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  auto str = [&](const std::string& s) { w.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); };
  w.StartArray();
  for (const RcaCaseResult& r : results) {
    w.StartObject();
    w.Key("day"); str(r.day);
    w.Key("inject_time"); str(r.inject_time);
    w.Key("type"); str(r.type);
    w.Key("root_cause"); str(r.truth);
    w.Key("rank"); w.Int(r.rank);
    w.Key("anomalous_spans"); w.Uint64(r.anomalous_spans);
    w.Key("normal_spans"); w.Uint64(r.normal_spans);
    w.Key("candidates");
    const std::string candidates = detect::RcaCandidatesJson(r.candidates);
    w.RawValue(candidates.data(), candidates.size(), rapidjson::kArrayType);
    w.EndObject();
  }
  w.EndArray();
  out << sb.GetString() << "\n";
}

}  // namespace ariadne::eval
