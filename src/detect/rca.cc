#include "detect/rca.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "store/query.h"

namespace ariadne::detect {

uint32_t RcaData::Intern(std::string_view name) {
  if (names_.empty()) {
    names_.emplace_back();
    ids_.emplace("", 0);
  }
  auto [it, inserted] = ids_.try_emplace(std::string(name), static_cast<uint32_t>(names_.size()));
  if (inserted) names_.emplace_back(name);
  return it->second;
}

int64_t RcaData::Find(std::string_view name) const {
  auto it = ids_.find(absl::string_view(name.data(), name.size()));
  return it == ids_.end() ? -1 : static_cast<int64_t>(it->second);
}

void RcaData::Add(RcaWindow* w, std::string_view trace_id, uint64_t span_id, uint64_t parent_id,
                  std::string_view service, std::string_view operation, model::SpanKind kind,
                  uint64_t start_nanos, uint64_t end_nanos, bool error, std::string_view peer) {
  auto [it, inserted] =
      traces_.try_emplace(std::string(trace_id), static_cast<uint32_t>(trace_names_.size()));
  if (inserted) trace_names_.emplace_back(trace_id);
  w->trace.push_back(it->second);
  w->span_id.push_back(span_id);
  w->parent_id.push_back(parent_id);
  w->service.push_back(Intern(service));
  w->operation.push_back(Intern(operation));
  w->peer.push_back(peer.empty() ? 0 : Intern(peer));
  w->kind.push_back(kind);
  w->start.push_back(start_nanos);
  w->end.push_back(std::max(start_nanos, end_nanos));
  w->error.push_back(error ? 1 : 0);
  if (w->start_nanos == 0 || start_nanos < w->start_nanos) w->start_nanos = start_nanos;
  w->end_nanos = std::max(w->end_nanos, end_nanos);
}

namespace {

uint64_t IdOf(const uint8_t* b) {
  uint64_t v;
  std::memcpy(&v, b, 8);
  return v;
}

// The peer a client span names (analytics' service graph uses the same attributes).
std::string_view PeerOf(const model::SpanBatch& b, uint32_t row) {
  if (b.kind[row] != model::SpanKind::kClient && b.kind[row] != model::SpanKind::kProducer) return {};
  std::string_view peer_service, db_system, server_address;
  const model::Range r = b.span_attributes[row];
  for (uint32_t i = r.first; i < r.first + r.count; ++i) {
    const model::KeyValue& kv = b.attributes[i];
    if (kv.value.type != model::ValueType::kString || kv.value.bytes.empty()) continue;
    if (kv.key == "peer.service") peer_service = kv.value.bytes;
    else if (kv.key == "db.system" || kv.key == "db.system.name") db_system = kv.value.bytes;
    else if (kv.key == "server.address") server_address = kv.value.bytes;
  }
  if (!peer_service.empty()) return peer_service;
  if (!db_system.empty()) return db_system;
  return server_address;
}

}  // namespace

void RcaData::AddSpan(RcaWindow* w, const model::SpanBatch& b, uint32_t row) {
  const uint64_t span = IdOf(b.span_id[row].data());
  if (span == 0) return;
  Add(w, model::ToHex(b.trace_id[row]), span, IdOf(b.parent_span_id[row].data()),
      store::ServiceOf(b, row),
      b.name[row], b.kind[row], b.start_unix_nano[row], b.end_unix_nano[row],
      b.status_code[row] == model::StatusCode::kError, PeerOf(b, row));
}

void RcaData::AddBatch(RcaWindow* w, const model::SpanBatch& b, uint64_t from, uint64_t to) {
  for (uint32_t row = 0; row < b.size(); ++row) {
    const uint64_t start = b.start_unix_nano[row];
    if (start >= from && start < to) AddSpan(w, b, row);
  }
  if (from < w->start_nanos || w->start_nanos == 0) w->start_nanos = from;
  if (to > w->end_nanos && to != UINT64_MAX) w->end_nanos = to;
}

namespace {

constexpr int kLatency = 0, kNetwork = 1, kErrors = 2, kBehaviour = 3, kResource = 4,
              kTraffic = 5, kKinds = 6;
constexpr const char* kKindNames[kKinds] = {"latency",   "network",  "errors",
                                            "behaviour", "resource", "traffic"};

uint64_t Key(uint32_t service, uint32_t operation) {
  return (static_cast<uint64_t>(service) << 32) | operation;
}

// What one window says about one (service, operation).
struct OpStats {
  std::vector<double> self;         // self time of its spans that are not calls out, seconds
  std::vector<uint32_t> self_span;  // the span of each self value
  std::vector<double> gap;          // time between the caller's span and this server span, s
  std::vector<uint32_t> gap_span;
  uint32_t spans = 0;
  uint32_t error_origins = 0;
  std::vector<uint32_t> origin_spans;
  // Per chunk of the window (see Analyse): spans and error origins.
  absl::flat_hash_map<uint32_t, uint32_t> chunk_spans;
  absl::flat_hash_map<uint32_t, uint32_t> chunk_origins;
  absl::flat_hash_map<uint64_t, uint32_t> signatures;  // call set -> spans
  std::vector<std::pair<uint64_t, uint32_t>> span_signatures;  // (signature, span)
};

struct WindowStats {
  double seconds = 1;
  size_t traces = 0;
  // The window cut into chunks as long as the anomalous window, so that the
  // normal window's own variation from one such stretch to the next is
  // known: a chunk per span, and traces per chunk.
  std::vector<uint32_t> chunk;
  absl::flat_hash_map<uint32_t, uint32_t> chunk_traces;
  absl::flat_hash_map<uint64_t, OpStats> ops;
  absl::flat_hash_map<uint64_t, uint32_t> edges;  // caller service -> callee service: calls
  // Per caller -> callee: how long the callee took to answer each call (its
  // server span; for an uninstrumented peer, the caller's call span),
  // seconds. The callee's own side, not the caller's: a CPU-starved caller
  // also takes longer around every call it makes.
  struct Waits {
    std::vector<double> seconds;
    std::vector<uint32_t> span;
    std::vector<uint32_t> chunk;
  };
  absl::flat_hash_map<uint64_t, Waits> waits;
  // Requests each service served: its spans with no parent of its own
  // service (roots, and spans called from another service), in all and per
  // chunk; and calls to uninstrumented peers (leaf client spans naming them).
  absl::flat_hash_map<uint32_t, uint32_t> entries;
  absl::flat_hash_map<uint32_t, uint32_t> peer_calls;
  absl::flat_hash_map<uint32_t, absl::flat_hash_map<uint32_t, uint32_t>> chunk_entries;
  std::vector<uint32_t> entry_span;  // per service: an entry span (exemplar)
};

uint64_t Mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  return h * 0xff51afd7ed558ccdull;
}

WindowStats Analyse(const RcaWindow& w, uint64_t chunk_nanos) {
  WindowStats st;
  const size_t n = w.size();
  st.chunk.resize(n, 0);
  if (chunk_nanos > 0) {
    for (size_t i = 0; i < n; ++i) {
      st.chunk[i] = static_cast<uint32_t>((w.start[i] - std::min(w.start[i], w.start_nanos)) / chunk_nanos);
    }
  }
  st.seconds = std::max(1.0, static_cast<double>(w.end_nanos - std::min(w.start_nanos, w.end_nanos)) / 1e9);
  // Spans by (trace, span id); children in CSR form.
  absl::flat_hash_map<std::pair<uint32_t, uint64_t>, uint32_t> index;
  index.reserve(n);
  absl::flat_hash_map<uint32_t, uint32_t> trace_chunk;  // a trace's chunk: its first span's
  for (uint32_t i = 0; i < n; ++i) {
    index.try_emplace({w.trace[i], w.span_id[i]}, i);
    auto [it, inserted] = trace_chunk.try_emplace(w.trace[i], st.chunk[i]);
    if (!inserted) it->second = std::min(it->second, st.chunk[i]);
  }
  st.traces = trace_chunk.size();
  for (const auto& [t, c] : trace_chunk) ++st.chunk_traces[c];
  std::vector<int64_t> parent(n, -1);
  std::vector<uint32_t> child_count(n + 1, 0);
  for (uint32_t i = 0; i < n; ++i) {
    if (w.parent_id[i] == 0) continue;
    auto it = index.find({w.trace[i], w.parent_id[i]});
    if (it == index.end() || it->second == i) continue;
    parent[i] = it->second;
    ++child_count[it->second];
  }
  std::vector<uint32_t> first(n + 1, 0);
  for (uint32_t i = 0; i < n; ++i) first[i + 1] = first[i] + child_count[i];
  std::vector<uint32_t> children(first[n]);
  {
    std::vector<uint32_t> fill(first.begin(), first.end() - 1);
    for (uint32_t i = 0; i < n; ++i) {
      if (parent[i] >= 0) children[fill[parent[i]]++] = i;
    }
  }
  // Whether a span of another service fails below each span: children before
  // parents, so process spans by decreasing depth.
  std::vector<uint32_t> depth(n, 0);
  std::vector<uint32_t> order;
  order.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    if (parent[i] < 0) order.push_back(i);
  }
  for (size_t k = 0; k < order.size(); ++k) {  // breadth first; bounded by n (a tree)
    const uint32_t i = order[k];
    for (uint32_t c = first[i]; c < first[i + 1]; ++c) {
      depth[children[c]] = depth[i] + 1;
      order.push_back(children[c]);
    }
  }
  // failing_below[i]: services (as a flag) with an error at or below i;
  // we need "an error span of a service other than i's below i".
  std::vector<uint32_t> err_service(n, UINT32_MAX);  // some failing service at/below, or none
  std::vector<uint8_t> err_mixed(n, 0);              // more than one failing service at/below
  std::vector<double> covered(n, 0);
  for (size_t k = order.size(); k-- > 0;) {
    const uint32_t i = order[k];
    // A failing call with nothing below names its (uninstrumented) peer.
    const bool leaf_call = first[i + 1] == first[i] && w.peer[i] != 0 &&
                           (w.kind[i] == model::SpanKind::kClient ||
                            w.kind[i] == model::SpanKind::kProducer);
    const uint32_t own = leaf_call ? w.peer[i] : w.service[i];
    uint32_t es = w.error[i] ? own : UINT32_MAX;
    bool mixed = false;
    bool other_fails = false;
    // Self time: the span minus the union of its children's intervals.
    std::vector<std::pair<uint64_t, uint64_t>> iv;
    bool calls_out = false;
    for (uint32_t c = first[i]; c < first[i + 1]; ++c) {
      const uint32_t ch = children[c];
      if (w.service[ch] != w.service[i]) calls_out = true;
      if (err_service[ch] != UINT32_MAX) {
        if (err_mixed[ch] || err_service[ch] != w.service[i]) other_fails = true;
        if (es == UINT32_MAX) es = err_service[ch];
        else if (es != err_service[ch]) mixed = true;
        mixed = mixed || err_mixed[ch];
      }
      iv.emplace_back(std::max(w.start[ch], w.start[i]), std::min(w.end[ch], w.end[i]));
    }
    err_service[i] = es;
    err_mixed[i] = mixed;
    std::sort(iv.begin(), iv.end());
    uint64_t cov = 0, cur_s = 0, cur_e = 0;
    bool open = false;
    for (auto [s, e] : iv) {
      if (e <= s) continue;
      if (!open || s > cur_e) {
        if (open) cov += cur_e - cur_s;
        cur_s = s;
        cur_e = e;
        open = true;
      } else {
        cur_e = std::max(cur_e, e);
      }
    }
    if (open) cov += cur_e - cur_s;
    const double dur = static_cast<double>(w.end[i] - w.start[i]) / 1e9;
    const double self = std::max(0.0, dur - static_cast<double>(cov) / 1e9);

    // Attribute: a call to an uninstrumented peer with nothing below spends
    // its time at the peer.
    const uint32_t service = own;
    const bool is_call = (w.kind[i] == model::SpanKind::kClient ||
                          w.kind[i] == model::SpanKind::kProducer || calls_out) &&
                         first[i + 1] > first[i] && calls_out;
    OpStats& os = st.ops[Key(service, w.operation[i])];
    ++os.spans;
    ++os.chunk_spans[st.chunk[i]];
    if (!is_call) {
      os.self.push_back(self);
      os.self_span.push_back(i);
    }
    if (service != w.service[i]) {
      ++st.peer_calls[service];
      ++st.edges[Key(w.service[i], service)];
    } else if (parent[i] < 0 || w.service[parent[i]] != service) {
      ++st.entries[service];
      ++st.chunk_entries[service][st.chunk[i]];
    }
    // A server span called from another service: the time between the two.
    if (parent[i] >= 0 && w.service[parent[i]] != w.service[i]) {
      const uint32_t p = static_cast<uint32_t>(parent[i]);
      const double pdur = static_cast<double>(w.end[p] - w.start[p]) / 1e9;
      if (first[p + 1] - first[p] == 1) {
        os.gap.push_back(std::max(0.0, pdur - dur));
        os.gap_span.push_back(i);
        WindowStats::Waits& wt = st.waits[Key(w.service[p], service)];
        wt.seconds.push_back(dur);
        wt.span.push_back(i);
        wt.chunk.push_back(st.chunk[i]);
      }
      ++st.edges[Key(w.service[p], service)];
    }
    if (service != w.service[i]) {  // a call to a peer: the caller waits its whole length
      WindowStats::Waits& wt = st.waits[Key(w.service[i], service)];
      wt.seconds.push_back(dur);
      wt.span.push_back(i);
      wt.chunk.push_back(st.chunk[i]);
    }
    // The set of calls the span made.
    uint64_t sig = 0x12345;
    std::vector<uint64_t> calls;
    for (uint32_t c = first[i]; c < first[i + 1]; ++c) {
      calls.push_back(Key(w.service[children[c]], w.operation[children[c]]));
    }
    std::sort(calls.begin(), calls.end());
    calls.erase(std::unique(calls.begin(), calls.end()), calls.end());
    for (uint64_t c : calls) sig = Mix(sig, c);
    ++os.signatures[sig];
    os.span_signatures.emplace_back(sig, i);
    // Where errors originate: a failing span with no failing span of another
    // service (or peer) below it.
    if (w.error[i] && !other_fails) {
      const uint32_t blame = own;
      // (Last: inserting may move `os`.)
      OpStats& target = st.ops[Key(blame, w.operation[i])];
      ++target.error_origins;
      ++target.chunk_origins[st.chunk[i]];
      target.origin_spans.push_back(i);
    }
  }
  return st;
}

double Quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  const size_t k = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<ptrdiff_t>(k), v.end());
  return v[k];
}

struct Found {
  double added = 0;  // per second
  double normal = 0;
  double anomalous = 0;
  std::vector<uint32_t> spans;  // exemplar spans (anomalous window), best first
};

// The standard deviation of `values` (0 with fewer than 3).
double Spread(const std::vector<double>& values) {
  if (values.size() < 3) return 0;
  double sum = 0, sum2 = 0;
  for (double v : values) {
    sum += v;
    sum2 += v * v;
  }
  const double n = static_cast<double>(values.size());
  return std::sqrt(std::max(0.0, sum2 / n - (sum / n) * (sum / n)));
}

// How much more of `a` lies above the normal median than `n` has, in
// seconds per second of the anomalous window; nothing if within noise. The
// noise is the larger of the sampling error of the anomalous mean and the
// spread of the same mean over the normal window's chunks (`n_chunk`: each
// normal value's chunk), so that what varies anyway from one stretch of
// normal time to the next is not evidence.
bool ExcessOverMedian(const std::vector<double>& n, const std::vector<uint32_t>& n_chunk,
                      const std::vector<double>& a, const std::vector<uint32_t>& a_spans,
                      double seconds, const RcaOptions& o, Found* f) {
  if (n.size() < o.min_normal_spans || a.empty()) return false;
  const double med = Quantile(n, 0.5);
  double sum = 0, sum2 = 0;
  absl::flat_hash_map<uint32_t, std::pair<double, uint32_t>> chunks;
  for (size_t i = 0; i < n.size(); ++i) {
    const double e = std::max(0.0, n[i] - med);
    sum += e;
    sum2 += e * e;
    auto& c = chunks[n_chunk[i]];
    c.first += e;
    ++c.second;
  }
  const double mean_n = sum / static_cast<double>(n.size());
  const double sd_n = std::sqrt(std::max(0.0, sum2 / static_cast<double>(n.size()) - mean_n * mean_n));
  std::vector<double> chunk_means;
  for (const auto& [c, v] : chunks) {
    if (v.second >= 3) chunk_means.push_back(v.first / v.second);
  }
  double sum_a = 0;
  for (double x : a) sum_a += std::max(0.0, x - med);
  const double mean_a = sum_a / static_cast<double>(a.size());
  // The standard error of the anomalous mean under the normal distribution,
  // with a floor (1% of the median, 10 µs) so identical normal values do not
  // make every change significant.
  const double se = std::max(sd_n, std::max(0.01 * med, 1e-5)) / std::sqrt(static_cast<double>(a.size()));
  if ((mean_a - mean_n) / std::max(se, Spread(chunk_means)) < o.min_z) return false;
  f->added = (mean_a - mean_n) * static_cast<double>(a.size()) / seconds;
  f->normal = med;
  f->anomalous = Quantile(a, 0.5);
  std::vector<uint32_t> idx(a.size());
  std::iota(idx.begin(), idx.end(), 0);
  const size_t k = std::min(idx.size(), o.exemplars);
  std::partial_sort(idx.begin(), idx.begin() + static_cast<ptrdiff_t>(k), idx.end(),
                    [&](uint32_t x, uint32_t y) { return a[x] > a[y]; });
  for (size_t j = 0; j < k; ++j) f->spans.push_back(a_spans[idx[j]]);
  return true;
}

// A count above what the normal rate (count / base) predicts: beyond
// Poisson noise and beyond the rate's spread over the normal window's chunks
// (`chunk_rates`). Sets the added count per second.
bool ExcessCount(double normal_count, double normal_base, double anomalous_count,
                 double anomalous_base, const std::vector<double>& chunk_rates, double seconds,
                 const RcaOptions& o, Found* f) {
  if (anomalous_count <= 0 || anomalous_base <= 0) return false;
  const double rate_n = normal_base > 0 ? normal_count / normal_base : 0;
  const double rate_a = anomalous_count / anomalous_base;
  const double expected = rate_n * anomalous_base;
  const double noise = std::max(std::sqrt(expected + 1) / anomalous_base, Spread(chunk_rates));
  if ((rate_a - rate_n) / noise < o.min_z) return false;
  f->added = (anomalous_count - expected) / seconds;
  f->normal = rate_n;
  f->anomalous = rate_a;
  return true;
}

// Per chunk: numerator / denominator, for chunks with a denominator of at least `min`.
std::vector<double> ChunkRates(const absl::flat_hash_map<uint32_t, uint32_t>& numerator,
                               const absl::flat_hash_map<uint32_t, uint32_t>& denominator,
                               uint32_t min) {
  std::vector<double> out;
  for (const auto& [c, d] : denominator) {
    if (d < min) continue;
    auto it = numerator.find(c);
    out.push_back(it == numerator.end() ? 0.0 : static_cast<double>(it->second) / d);
  }
  return out;
}

struct ServiceEvidence {
  std::array<double, kKinds> amount{};  // summed over operations
  std::array<Found, kKinds> best{};     // strongest operation per kind
  std::array<uint32_t, kKinds> best_op{};
  std::array<std::string, kKinds> best_name{};
  std::array<uint64_t, kKinds> first{};
};

std::string Ms(double seconds) { return absl::StrFormat("%.3g ms", seconds * 1e3); }

std::string Explain(const RcaData& data, const std::string& service, const RcaEvidence& e) {
  const std::string where = e.operation.empty() ? service : service + " " + e.operation;
  if (e.kind == "latency") {
    return absl::StrFormat("self time of %s rose from %s to %s (median), %.3g s more per second",
                           where, Ms(e.normal), Ms(e.anomalous), e.added);
  }
  if (e.kind == "network") {
    return absl::StrFormat("calls to %s spend %s instead of %s between caller and server", where,
                           Ms(e.anomalous), Ms(e.normal));
  }
  if (e.kind == "errors") {
    return absl::StrFormat("errors originate in %s: %.3g per second more (%.2g%% of its spans, %.2g%% before)",
                           where, e.added, 100 * e.anomalous, 100 * e.normal);
  }
  if (e.kind == "behaviour") {
    return absl::StrFormat("%s makes calls it rarely made before in %.2g%% of its spans (%.2g%% before)",
                           where, 100 * e.anomalous, 100 * e.normal);
  }
  if (e.kind == "traffic") {
    return absl::StrFormat("%s served %.3g requests per second instead of %.3g while its callers "
                           "kept calling",
                           service, e.anomalous, e.normal);
  }
  (void)data;
  return absl::StrFormat("%s of %s rose from %.4g to %.4g", e.operation, service, e.normal,
                         e.anomalous);
}

}  // namespace

std::vector<RcaCandidate> RankRootCauses(const RcaData& data, const RcaOptions& o) {
  const uint64_t chunk = std::max<uint64_t>(
      1'000'000'000ull, data.anomalous.end_nanos - std::min(data.anomalous.end_nanos, data.anomalous.start_nanos));
  const WindowStats ns = Analyse(data.normal, chunk);
  const WindowStats as = Analyse(data.anomalous, 0);
  const double secs = as.seconds;
  absl::flat_hash_map<uint32_t, ServiceEvidence> ev;
  // Services only resource series name get ids past the interned names.
  std::vector<std::string> extra;
  auto id_of = [&](const std::string& name) -> uint32_t {
    if (auto id = data.Find(name); id >= 0) return static_cast<uint32_t>(id);
    for (size_t i = 0; i < extra.size(); ++i) {
      if (extra[i] == name) return static_cast<uint32_t>(data.names() + i);
    }
    extra.push_back(name);
    return static_cast<uint32_t>(data.names() + extra.size() - 1);
  };
  auto name_of = [&](uint32_t id) -> const std::string& {
    return id < data.names() ? data.Name(id) : extra[id - data.names()];
  };
  auto record = [&](uint32_t service, int kind, uint32_t op, const std::string& name, Found f) {
    ServiceEvidence& e = ev[service];
    e.amount[kind] += f.added;
    if (f.added > e.best[kind].added) {
      e.best[kind] = std::move(f);
      e.best_op[kind] = op;
      e.best_name[kind] = name;
    }
  };
  static const OpStats kEmpty;
  for (const auto& [key, a] : as.ops) {
    const uint32_t service = static_cast<uint32_t>(key >> 32);
    const uint32_t op = static_cast<uint32_t>(key);
    auto nit = ns.ops.find(key);
    const OpStats& n = nit == ns.ops.end() ? kEmpty : nit->second;
    Found f;
    std::vector<uint32_t> chunks;
    for (uint32_t span : n.self_span) chunks.push_back(ns.chunk[span]);
    if (ExcessOverMedian(n.self, chunks, a.self, a.self_span, secs, o, &f)) {
      record(service, kLatency, op, data.Name(op), std::move(f));
    }
    f = Found();
    chunks.clear();
    for (uint32_t span : n.gap_span) chunks.push_back(ns.chunk[span]);
    if (ExcessOverMedian(n.gap, chunks, a.gap, a.gap_span, secs, o, &f)) {
      record(service, kNetwork, op, data.Name(op), std::move(f));
    }
    f = Found();
    // Error origins, against the traffic: the normal rate per trace.
    if (ExcessCount(n.error_origins, static_cast<double>(ns.traces), a.error_origins,
                    static_cast<double>(as.traces), ChunkRates(n.chunk_origins, ns.chunk_traces, 10),
                    secs, o, &f)) {
      f.normal = n.spans ? static_cast<double>(n.error_origins) / n.spans : 0;
      f.anomalous = a.spans ? static_cast<double>(a.error_origins) / a.spans : 0;
      for (size_t j = 0; j < std::min(o.exemplars, a.origin_spans.size()); ++j) {
        f.spans.push_back(a.origin_spans[j]);
      }
      record(service, kErrors, op, data.Name(op), std::move(f));
    }
    // Behaviour: spans whose call set the normal window rarely had.
    if (n.spans >= o.min_normal_spans && a.spans > 0) {
      const double rare = o.rare_signature * n.spans;
      double rare_n = 0;
      absl::flat_hash_map<uint32_t, uint32_t> rare_chunks;
      for (const auto& [sig, span] : n.span_signatures) {
        if (n.signatures.at(sig) < rare) {
          ++rare_n;
          ++rare_chunks[ns.chunk[span]];
        }
      }
      double rare_a = 0;
      std::vector<uint32_t> spans;
      for (const auto& [sig, span] : a.span_signatures) {
        auto it = n.signatures.find(sig);
        if (it == n.signatures.end() || it->second < rare) {
          ++rare_a;
          if (spans.size() < o.exemplars) spans.push_back(span);
        }
      }
      f = Found();
      if (ExcessCount(rare_n, n.spans, rare_a, a.spans, ChunkRates(rare_chunks, n.chunk_spans, 10),
                      secs, o, &f)) {
        f.spans = std::move(spans);
        record(service, kBehaviour, op, data.Name(op), std::move(f));
      }
    }
  }
  // Traffic: requests a service stopped serving although its callers kept
  // coming (a crash, a hang, a lost route). Its expected count is its normal
  // rate scaled by how its callers' own traffic changed (for a root, whose
  // callers are not traced, by nothing: users are assumed to keep coming);
  // the noise is Poisson's and the spread of its count over the normal
  // window's chunks.
  {
    // Chunks with spans, but not the last one if it is cut short by the
    // window's end.
    const double chunk_secs = static_cast<double>(chunk) / 1e9;
    const auto full_chunks = static_cast<uint32_t>(ns.seconds / chunk_secs);
    std::vector<uint32_t> active_chunks;
    {
      absl::flat_hash_set<uint32_t> seen(ns.chunk.begin(), ns.chunk.end());
      for (uint32_t c : seen) {
        if (c < full_chunks) active_chunks.push_back(c);
      }
    }
    const double secs_n = std::min(ns.seconds, std::max(1.0, active_chunks.size() * chunk_secs));
    auto ratio = [&](uint32_t svc) {
      auto n = ns.entries.find(svc);
      if (n == ns.entries.end() || n->second == 0) return 1.0;
      auto a = as.entries.find(svc);
      const double count_a = a == as.entries.end() ? 0.0 : a->second;
      return (count_a / secs) / (n->second / secs_n);
    };
    for (const auto& [svc, count_n] : ns.entries) {
      double weight = 0, scaled = 0;
      for (const auto& [edge, calls] : ns.edges) {
        const uint32_t caller = static_cast<uint32_t>(edge >> 32);
        if (static_cast<uint32_t>(edge) != svc || caller == svc) continue;
        weight += calls;
        scaled += calls * ratio(caller);
      }
      const double r = weight > 0 ? scaled / weight : 1.0;
      const double expected = count_n / secs_n * r * secs;
      auto a = as.entries.find(svc);
      const double observed = a == as.entries.end() ? 0.0 : a->second;
      const double missing = expected - observed;
      if (missing <= 0 || missing < 0.3 * expected) continue;
      std::vector<double> counts;
      auto ce = ns.chunk_entries.find(svc);
      for (uint32_t c : active_chunks) {
        double n = 0;
        if (ce != ns.chunk_entries.end()) {
          auto it = ce->second.find(c);
          if (it != ce->second.end()) n = it->second;
        }
        counts.push_back(n * secs / chunk_secs);
      }
      if (missing / std::max(std::sqrt(expected + 1), r * Spread(counts)) < o.min_z) continue;
      Found f;
      f.added = missing / secs;
      f.normal = count_n / secs_n;
      f.anomalous = observed / secs;
      record(svc, kTraffic, 0, "", std::move(f));
    }
  }
  // Resources: how far above its normal range a series went, and when first.
  const bool own_range = data.resources_normal_end > data.resources_normal_start;
  const uint64_t n0 = own_range ? data.resources_normal_start : data.normal.start_nanos;
  const uint64_t n1 = own_range ? data.resources_normal_end : data.normal.end_nanos;
  const uint64_t a0 = data.anomalous.start_nanos, a1 = data.anomalous.end_nanos;
  for (const RcaResource& r : data.resources) {
    std::vector<double> normal;
    for (size_t i = 0; i < r.times.size() && i < r.values.size(); ++i) {
      if (r.times[i] >= n0 && r.times[i] < n1 && std::isfinite(r.values[i])) normal.push_back(r.values[i]);
    }
    if (normal.size() < 3) continue;
    const double med = Quantile(normal, 0.5);
    std::vector<double> dev;
    for (double v : normal) dev.push_back(std::abs(v - med));
    const double scale = 1.4826 * Quantile(dev, 0.5) + 0.05 * std::abs(med) + 1e-12;
    double z = 0, peak = med;
    uint64_t first = 0;
    for (size_t i = 0; i < r.times.size() && i < r.values.size(); ++i) {
      if (r.times[i] < a0 || r.times[i] >= a1 || !std::isfinite(r.values[i])) continue;
      const double zi = (r.values[i] - med) / scale;
      if (zi >= o.min_z && first == 0) first = r.times[i];
      if (zi > z) {
        z = zi;
        peak = r.values[i];
      }
    }
    if (z < o.min_z) continue;
    Found f;
    f.added = std::log1p(z);
    f.normal = med;
    f.anomalous = peak;
    ServiceEvidence& e = ev[id_of(r.service)];
    e.amount[kResource] += f.added;
    if (f.added > e.best[kResource].added) {
      e.best[kResource] = f;
      e.best_name[kResource] = r.name;
      e.first[kResource] = first;
    }
  }
  if (ev.empty()) return {};

  // Blocking: a caller whose requests wait longer on a callee holds its
  // workers longer, and its own requests queue for them; that added self
  // time is the callee's doing. Up to the time the callee's answers added,
  // the caller's added self time moves to the callee.
  for (const auto& [edge, wa] : as.waits) {
    const uint32_t caller = static_cast<uint32_t>(edge >> 32);
    const uint32_t callee = static_cast<uint32_t>(edge);
    if (caller == callee) continue;
    auto ce = ev.find(caller);
    if (ce == ev.end() || ce->second.amount[kLatency] <= 0) continue;
    auto nw = ns.waits.find(edge);
    if (nw == ns.waits.end()) continue;
    Found f;
    if (!ExcessOverMedian(nw->second.seconds, nw->second.chunk, wa.seconds, wa.span, secs, o, &f)) {
      continue;
    }
    const double moved = std::min(ce->second.amount[kLatency], f.added);
    ce->second.amount[kLatency] -= moved;
    ServiceEvidence& target = ev[callee];
    target.amount[kLatency] += moved;
    if (target.best[kLatency].added <= 0) {
      f.added = moved;
      target.best[kLatency] = std::move(f);
      target.best_name[kLatency] = "";
    }
  }
  // Shares per kind, summed.
  std::array<double, kKinds> total{};
  for (const auto& [s, e] : ev) {
    for (int k = 0; k < kKinds; ++k) total[k] += e.amount[k];
  }
  std::vector<uint32_t> services;
  absl::flat_hash_map<uint32_t, size_t> pos;
  for (const auto& [s, e] : ev) {
    pos[s] = services.size();
    services.push_back(s);
  }
  // Services in the anomalous call graph without evidence take part in the walk.
  for (const auto& [edge, calls] : as.edges) {
    for (uint32_t s : {static_cast<uint32_t>(edge >> 32), static_cast<uint32_t>(edge)}) {
      if (pos.try_emplace(s, services.size()).second) services.push_back(s);
    }
  }
  const size_t m = services.size();
  std::vector<double> base(m, 0);
  double base_sum = 0;
  for (size_t i = 0; i < m; ++i) {
    auto it = ev.find(services[i]);
    if (it == ev.end()) continue;
    for (int k = 0; k < kKinds; ++k) {
      if (total[k] > 0) base[i] += it->second.amount[k] / total[k];
    }
    base_sum += base[i];
  }
  for (double& b : base) b /= base_sum;
  // Random walk with restart: from a service to a callee in proportion to the
  // callee's evidence, or stay in proportion to its own; restart by evidence.
  std::vector<std::vector<size_t>> callees(m);
  for (const auto& [edge, calls] : as.edges) {
    const size_t from = pos[static_cast<uint32_t>(edge >> 32)];
    const size_t to = pos[static_cast<uint32_t>(edge)];
    if (from != to) callees[from].push_back(to);
  }
  const double eps = 0.01 / static_cast<double>(m);
  std::vector<double> pr(base), next(m);
  for (int iter = 0; iter < 100; ++iter) {
    std::fill(next.begin(), next.end(), 0.0);
    for (size_t i = 0; i < m; ++i) {
      double w = base[i] + eps;
      for (size_t c : callees[i]) w += base[c] + eps;
      next[i] += 0.85 * pr[i] * (base[i] + eps) / w;
      for (size_t c : callees[i]) next[c] += 0.85 * pr[i] * (base[c] + eps) / w;
    }
    for (size_t i = 0; i < m; ++i) next[i] += 0.15 * base[i];
    pr.swap(next);
  }
  const double pr_sum = std::accumulate(pr.begin(), pr.end(), 0.0);
  std::vector<double> final_score(m);
  double fs_sum = 0;
  for (size_t i = 0; i < m; ++i) {
    final_score[i] = (1 - o.walk_weight) * base[i] + o.walk_weight * (pr_sum > 0 ? pr[i] / pr_sum : 0);
    fs_sum += final_score[i];
  }
  std::vector<size_t> order(m);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t x, size_t y) {
    if (final_score[x] != final_score[y]) return final_score[x] > final_score[y];
    return name_of(services[x]) < name_of(services[y]);
  });
  std::vector<RcaCandidate> out;
  for (size_t i : order) {
    if (out.size() >= o.max_candidates) break;
    if (final_score[i] / fs_sum < 0.005) break;
    auto it = ev.find(services[i]);
    if (it == ev.end()) continue;  // no evidence of its own: only a waypoint of the walk
    const ServiceEvidence& e = it->second;
    RcaCandidate c;
    c.service = name_of(services[i]);
    c.score = final_score[i] / fs_sum;
    std::vector<int> kinds;
    for (int k = 0; k < kKinds; ++k) {
      if (e.amount[k] > 0) kinds.push_back(k);
    }
    std::sort(kinds.begin(), kinds.end(), [&](int x, int y) {
      return e.amount[x] / total[x] > e.amount[y] / total[y];
    });
    std::vector<std::string> lines;
    for (int k : kinds) {
      RcaEvidence r;
      r.kind = kKindNames[k];
      r.operation = e.best_name[k];
      r.share = e.amount[k] / total[k];
      r.added = e.best[k].added;
      r.normal = e.best[k].normal;
      r.anomalous = e.best[k].anomalous;
      r.first_nanos = e.first[k];
      if (c.operation.empty() && k != kResource) c.operation = r.operation;
      for (uint32_t span : e.best[k].spans) {
        const std::string& t = data.TraceName(data.anomalous.trace[span]);
        if (c.exemplar_trace_ids.size() < o.exemplars &&
            std::find(c.exemplar_trace_ids.begin(), c.exemplar_trace_ids.end(), t) ==
                c.exemplar_trace_ids.end()) {
          c.exemplar_trace_ids.push_back(t);
        }
      }
      if (lines.size() < 2) lines.push_back(Explain(data, c.service, r));
      c.evidence.push_back(std::move(r));
    }
    c.explanation = absl::StrJoin(lines, "; ");
    out.push_back(std::move(c));
  }
  return out;
}

std::string RcaCandidatesJson(const std::vector<RcaCandidate>& candidates) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  auto str = [&](const std::string& s) {
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  };
  w.StartArray();
  for (const RcaCandidate& c : candidates) {
    w.StartObject();
    w.Key("service");
    str(c.service);
    w.Key("operation");
    str(c.operation);
    w.Key("score");
    w.Double(c.score);
    w.Key("explanation");
    str(c.explanation);
    w.Key("evidence");
    w.StartArray();
    for (const RcaEvidence& e : c.evidence) {
      w.StartObject();
      w.Key("kind");
      str(e.kind);
      w.Key("operation");
      str(e.operation);
      w.Key("share");
      w.Double(e.share);
      w.Key("normal");
      w.Double(e.normal);
      w.Key("anomalous");
      w.Double(e.anomalous);
      if (e.first_nanos != 0) {
        w.Key("first");
        w.Uint64(e.first_nanos);
      }
      w.EndObject();
    }
    w.EndArray();
    w.Key("exemplar_trace_ids");
    w.StartArray();
    for (const std::string& t : c.exemplar_trace_ids) str(t);
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  return sb.GetString();
}

}  // namespace ariadne::detect
