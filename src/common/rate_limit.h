// RateLimiter: token buckets per key (a tenant), for ingest rate limits in
// spans per second (docs/security.md#tenants).
//
// Each key's bucket holds up to `burst` tokens and refills at `rate` per
// second. TryTake(key, n) takes n tokens if the bucket has them. A request
// larger than the whole burst is let through when the bucket is full and
// leaves it in debt, so one big batch is not refused forever and the
// average rate still holds. When refused, `retry_after_s` says when n tokens
// will be there: the Retry-After a client is given.
//
// At most `max_keys` buckets are kept; a new key beyond that replaces the
// one used least recently (a flood of made-up tenant names cannot grow
// memory, and a refused bucket it evicts only comes back full, which the
// rate of new names bounds).
//
// Threading: thread-safe (one mutex; a take is a hash lookup and arithmetic).
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "common/strings.h"

namespace ariadne {

class RateLimiter {
 public:
  struct Options {
    double rate = 0;   // tokens per second; 0 or less: no limit
    double burst = 0;  // bucket size; 0: one second of `rate`
    size_t max_keys = 10000;
  };

  explicit RateLimiter(Options options, std::function<double()> now_s = nullptr)
      : options_(options), now_s_(std::move(now_s)) {
    if (options_.burst <= 0) options_.burst = options_.rate;
    if (options_.max_keys == 0) options_.max_keys = 1;
    if (!now_s_) {
      now_s_ = [] {
        return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
            .count();
      };
    }
  }

  bool enabled() const { return options_.rate > 0; }

  // Takes `n` tokens from `key`'s bucket; false if it has too few, with the
  // wait until it will have them in `retry_after_s` (if not null).
  bool TryTake(std::string_view key, double n, double* retry_after_s = nullptr) {
    if (!enabled()) return true;
    const double now = now_s_();
    std::lock_guard lock(mu_);
    auto it = buckets_.find(AbslView(key));
    if (it == buckets_.end()) {
      if (buckets_.size() >= options_.max_keys) EvictOldest();
      it = buckets_.emplace(std::string(key), Bucket{options_.burst, now}).first;
    }
    Bucket& b = it->second;
    b.tokens = std::min(options_.burst, b.tokens + (now - b.last_s) * options_.rate);
    b.last_s = now;
    constexpr double kEpsilon = 1e-9;  // refills are sums of float products
    if (b.tokens + kEpsilon >= n || (n > options_.burst && b.tokens + kEpsilon >= options_.burst)) {
      b.tokens -= n;
      return true;
    }
    if (retry_after_s != nullptr) {
      *retry_after_s = (std::min(n, options_.burst) - b.tokens) / options_.rate;
    }
    return false;
  }

  size_t keys() const {
    std::lock_guard lock(mu_);
    return buckets_.size();
  }

 private:
  struct Bucket {
    double tokens = 0;
    double last_s = 0;
  };
  void EvictOldest() {
    auto oldest = buckets_.begin();
    for (auto it = buckets_.begin(); it != buckets_.end(); ++it) {
      if (it->second.last_s < oldest->second.last_s) oldest = it;
    }
    if (oldest != buckets_.end()) buckets_.erase(oldest);
  }

  Options options_;
  std::function<double()> now_s_;
  mutable std::mutex mu_;
  absl::flat_hash_map<std::string, Bucket> buckets_;
};

}  // namespace ariadne
