// RootCauseRanker: the trace-based root-cause ranking (rca.h) for the
// server's live incidents.
//
// For an open incident it reads from the store a sample of the traces that
// started in the anomalous window [opened − before, now] and in the normal
// window [opened − before − normal, opened − before) — `slices` evenly
// spaced searches per window, so that the sample covers the whole window —
// plus the services' CPU and memory series, ranks, and hands the result to
// the IncidentManager. It ranks an incident again every `refresh` of series
// time while it is open and younger than `settle` (the evidence is clearest
// in the first minutes; later, recovery and side effects mix in). An
// incident that resolved before it was ever ranked (series time can pass a
// whole incident between two looks, e.g. replayed or simulated traffic) is
// ranked once over its lifetime, if it resolved less than `settle` ago.
//
// Threading: its own thread (Start/Stop); the store and the series store are
// read under their own locks.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "analytics/series_store.h"
#include "detect/incidents.h"
#include "detect/rca.h"
#include "store/backend.h"

namespace ariadne::detect {

struct RootCauseOptions {
  uint64_t before_nanos = 60'000'000'000ull;         // anomalous window starts this long before opening
  uint64_t normal_nanos = 15 * 60'000'000'000ull;    // normal window length
  uint64_t min_after_nanos = 30'000'000'000ull;      // first ranking this long after opening
  uint64_t refresh_nanos = 60'000'000'000ull;
  uint64_t settle_nanos = 10 * 60'000'000'000ull;
  size_t traces_per_window = 2000;
  size_t slices = 10;
  std::chrono::milliseconds interval{2000};  // how often the thread looks (wall time)
  RcaOptions rca;
};

// Builds the windows for an incident opened at `opened_nanos`, as of series
// time `now_nanos`, and ranks.
std::vector<RcaCandidate> RankFromStore(const store::StorageBackend& store,
                                        const analytics::SeriesStore* series,
                                        uint64_t opened_nanos, uint64_t now_nanos,
                                        const RootCauseOptions& options);

class RootCauseRanker {
 public:
  RootCauseRanker(const store::StorageBackend* store, const analytics::SeriesStore* series,
                  IncidentManager* incidents, RootCauseOptions options = {});
  ~RootCauseRanker();  // Stop()s
  void Start();
  void Stop();
  // One pass: ranks every incident that is due (tests call it directly).
  void RunOnce();

 private:
  const store::StorageBackend* store_;
  const analytics::SeriesStore* series_;
  IncidentManager* incidents_;
  const RootCauseOptions options_;
  absl::flat_hash_map<uint64_t, uint64_t> ranked_at_;  // incident id -> series time; RunOnce's thread only
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace ariadne::detect
