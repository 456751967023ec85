#include "detect/root_cause.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "spdlog/spdlog.h"

namespace ariadne::detect {

namespace {

// A sample of the traces that started in [from, to): `slices` searches of
// equal share, newest first within each slice.
void AddWindow(const store::StorageBackend& store, uint64_t from, uint64_t to,
               const RootCauseOptions& o, RcaData* data, RcaWindow* w) {
  w->start_nanos = from;
  w->end_nanos = to;
  if (to <= from) return;
  const size_t slices = std::max<size_t>(1, o.slices);
  const uint64_t width = std::max<uint64_t>(1, (to - from) / slices);
  absl::flat_hash_set<model::TraceId> seen;
  for (size_t k = 0; k < slices; ++k) {
    store::TraceQuery q;
    q.start_min_nano = from + k * width;
    q.start_max_nano = k + 1 == slices ? to - 1 : from + (k + 1) * width - 1;
    q.limit = std::max<size_t>(1, o.traces_per_window / slices);
    // A store that cannot answer leaves the window with fewer traces (the
    // ranking works from what it has), and says so.
    auto ids = store.FindTraceIds(q);
    if (!ids.ok()) {
      spdlog::warn("root cause: trace search failed: {}", ids.status().ToString());
      continue;
    }
    for (const model::TraceId& id : *ids) {
      if (!seen.insert(id).second) continue;
      auto spans = store.GetTrace(id);
      if (!spans.ok()) {
        spdlog::warn("root cause: reading trace {} failed: {}", model::ToHex(id),
                     spans.status().ToString());
        continue;
      }
      for (const model::SpanRef& s : *spans) data->AddSpan(w, *s.batch, s.row);
    }
  }
  // Spans of sampled traces may reach past the window; the rates are per the window.
  w->start_nanos = from;
  w->end_nanos = to;
}

}  // namespace

std::vector<RcaCandidate> RankFromStore(const store::StorageBackend& store,
                                        const analytics::SeriesStore* series,
                                        uint64_t opened, uint64_t now,
                                        const RootCauseOptions& o) {
  RcaData data;
  const uint64_t a0 = opened > o.before_nanos ? opened - o.before_nanos : 0;
  const uint64_t n0 = a0 > o.normal_nanos ? a0 - o.normal_nanos : 0;
  AddWindow(store, n0, a0, o, &data, &data.normal);
  AddWindow(store, a0, std::max(now, a0 + 1), o, &data, &data.anomalous);
  if (series != nullptr) {
    for (const char* name : {"cpu_cores", "memory_bytes"}) {
      for (const analytics::Series& s : series->Query(name, {}, n0, now)) {
        std::string service;
        for (const auto& [k, v] : s.labels) {
          if (k == "service") service = v;
        }
        if (service.empty()) continue;
        RcaResource r;
        r.service = service;
        r.name = name;
        for (const analytics::Point& p : s.points) {
          r.times.push_back(p.time_nanos);
          r.values.push_back(p.value);
        }
        data.resources.push_back(std::move(r));
      }
    }
  }
  return RankRootCauses(data, o.rca);
}

RootCauseRanker::RootCauseRanker(const store::StorageBackend* store,
                                 const analytics::SeriesStore* series, IncidentManager* incidents,
                                 RootCauseOptions options)
    : store_(store), series_(series), incidents_(incidents), options_(std::move(options)) {}

RootCauseRanker::~RootCauseRanker() { Stop(); }

void RootCauseRanker::Start() {
  thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!stop_) {
      lock.unlock();
      RunOnce();
      lock.lock();
      cv_.wait_for(lock, options_.interval, [this] { return stop_; });
    }
  });
}

void RootCauseRanker::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void RootCauseRanker::RunOnce() {
  const uint64_t now = incidents_->now_nanos();
  const std::vector<Incident> incidents = incidents_->Incidents(/*open_only=*/false);
  // Forget incidents the manager forgot.
  absl::flat_hash_set<uint64_t> known;
  for (const Incident& i : incidents) known.insert(i.id);
  absl::erase_if(ranked_at_, [&](const auto& e) { return !known.contains(e.first); });
  for (const Incident& i : incidents) {
    auto it = ranked_at_.find(i.id);
    // A resolved incident is ranked once, over its lifetime, if it never was
    // (series time can pass an incident's whole life between two looks).
    const uint64_t end = i.open ? now : i.resolved_nanos;
    if (!i.open && (it != ranked_at_.end() || now > i.resolved_nanos + options_.settle_nanos)) {
      continue;
    }
    if (end < i.opened_nanos + options_.min_after_nanos && i.open) continue;
    if (it != ranked_at_.end()) {
      if (now < it->second + options_.refresh_nanos) continue;
      if (it->second >= i.opened_nanos + options_.settle_nanos) continue;
    }
    auto candidates = RankFromStore(*store_, series_, i.opened_nanos, end, options_);
    ranked_at_[i.id] = now;
    if (!candidates.empty()) {
      spdlog::info("incident {}: likeliest cause {} ({})", i.id, candidates[0].service,
                   candidates[0].explanation);
    }
    incidents_->SetRootCauses(i.id, std::move(candidates), now);
  }
}

}  // namespace ariadne::detect
