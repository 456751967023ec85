#include "control/span_meter.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/strings.h"


namespace ariadne::control {
namespace {

uint64_t IdOf(const model::SpanId& id) {
  uint64_t v;
  std::memcpy(&v, id.data(), sizeof v);
  return v;
}

// Nearest-rank quantile; reorders `v`.
double Quantile(std::vector<float>* v, double q) {
  if (v->empty()) return 0;
  const size_t n = v->size();
  size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(n)));
  rank = std::clamp<size_t>(rank, 1, n);
  std::nth_element(v->begin(), v->begin() + static_cast<std::ptrdiff_t>(rank - 1), v->end());
  return (*v)[rank - 1];
}

}  // namespace

SpanMeter::SpanMeter(double tail_quantile, size_t reservoir, size_t max_pending)
    : tail_quantile_(tail_quantile),
      reservoir_(std::max<size_t>(reservoir, 1)),
      max_pending_(std::max<size_t>(max_pending, 16)) {}

uint64_t SpanMeter::NextRandom() {  // splitmix64: deterministic, no state to share
  uint64_t z = (rng_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void SpanMeter::PushSpans(const model::SpanBatch& batch) {
  // Children first: within a batch a child precedes its parent only if it
  // ended first, which it always does, but spans are grouped by pod in a
  // batch, so take the batch's children before its servers.
  for (uint32_t i = 0; i < batch.size(); ++i) {
    if (batch.kind[i] != model::SpanKind::kClient || model::IsZero(batch.parent_span_id[i])) {
      continue;
    }
    if (pending_.size() >= max_pending_) {
      // Bounded: drop the windows of parents that never came (crashed pods).
      pending_.clear();
    }
    Window& w = pending_[IdOf(batch.parent_span_id[i])];
    if (w.last_end == 0) {
      w.first_start = batch.start_unix_nano[i];
      w.last_end = batch.end_unix_nano[i];
    } else {
      w.first_start = std::min(w.first_start, batch.start_unix_nano[i]);
      w.last_end = std::max(w.last_end, batch.end_unix_nano[i]);
    }
  }
  std::vector<Acc*> scope_acc;  // node_hash_map: stable across insertions
  for (uint32_t i = 0; i < batch.size(); ++i) {
    if (batch.kind[i] != model::SpanKind::kServer) continue;
    const double duration = static_cast<double>(batch.duration_nano(i)) / 1e9;
    double covered = 0;
    if (auto it = pending_.find(IdOf(batch.span_id[i])); it != pending_.end()) {
      if (it->second.last_end > it->second.first_start) {
        covered = static_cast<double>(it->second.last_end - it->second.first_start) / 1e9;
      }
      pending_.erase(it);
    }
    const double self = std::max(duration - covered, 0.0);
    // One lookup per scope of the batch, not per span.
    const uint32_t scope = batch.scope[i];
    if (scope >= scope_acc.size()) scope_acc.resize(scope + 1, nullptr);
    if (scope_acc[scope] == nullptr) {
      const absl::string_view name = AbslView(batch.service(i));
      auto it = acc_.find(name);
      if (it == acc_.end()) it = acc_.emplace(std::string(name), Acc{}).first;
      scope_acc[scope] = &it->second;
    }
    Acc& a = *scope_acc[scope];
    ++a.spans;
    ++total_server_spans_;
    if (batch.status_code[i] == model::StatusCode::kError) ++a.errors;
    a.sum_self += self;
    a.sum_self2 += self * self;
    a.sum_duration += duration;
    ++a.seen;
    if (a.reservoir.size() < reservoir_) {
      a.reservoir.push_back(static_cast<float>(self));
    } else {
      const uint64_t j = NextRandom() % static_cast<uint64_t>(a.seen);
      if (j < reservoir_) a.reservoir[j] = static_cast<float>(self);
    }
    if (model::IsZero(batch.parent_span_id[i])) {
      ++requests_;
      ++total_requests_;
    }
  }
}

IntervalObservation SpanMeter::TakeInterval(double seconds) {
  IntervalObservation o;
  o.seconds = seconds;
  o.requests = requests_;
  o.visits_per_request = total_requests_ > 0 ? static_cast<double>(total_server_spans_) /
                                                   static_cast<double>(total_requests_)
                                             : 0;
  for (auto& [name, a] : acc_) {
    if (a.spans == 0) continue;
    ServiceObservation s;
    s.service = name;
    s.spans = a.spans;
    s.errors = a.errors;
    const double n = static_cast<double>(a.spans);
    s.rate = seconds > 0 ? n / seconds : 0;
    s.mean_self_s = a.sum_self / n;
    s.mean_duration_s = a.sum_duration / n;
    const double var = std::max(a.sum_self2 / n - s.mean_self_s * s.mean_self_s, 0.0);
    s.self_cv2 = s.mean_self_s > 0 ? var / (s.mean_self_s * s.mean_self_s) : 1.0;
    s.tail_self_s = Quantile(&a.reservoir, tail_quantile_);
    o.services.push_back(std::move(s));
  }
  std::sort(o.services.begin(), o.services.end(),
            [](const ServiceObservation& x, const ServiceObservation& y) {
              return x.service < y.service;
            });
  acc_.clear();
  requests_ = 0;
  return o;
}

}  // namespace ariadne::control
