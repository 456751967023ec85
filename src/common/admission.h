// Admission control: a budget of bytes that requests reserve before they are
// read and release once answered, so memory stays bounded under any flood.
//
// Threading: all methods are thread-safe and lock-free.
#pragma once

#include <atomic>
#include <cstdint>

namespace ariadne {

class Admission {
 public:
  explicit Admission(uint64_t limit_bytes) : limit_(limit_bytes) {}

  // Reserves `bytes` if they fit in what is left; false (and nothing
  // reserved) if not. A single request larger than the whole budget is
  // admitted only when nothing else is in flight.
  [[nodiscard]] bool TryAcquire(uint64_t bytes) {
    uint64_t used = used_.load(std::memory_order_relaxed);
    while (true) {
      if (used != 0 && used + bytes > limit_) return false;
      if (used_.compare_exchange_weak(used, used + bytes, std::memory_order_acq_rel)) {
        return true;
      }
    }
  }
  void Release(uint64_t bytes) { used_.fetch_sub(bytes, std::memory_order_acq_rel); }

  uint64_t used() const { return used_.load(std::memory_order_relaxed); }
  uint64_t limit() const { return limit_; }

 private:
  const uint64_t limit_;
  std::atomic<uint64_t> used_{0};
};

}  // namespace ariadne
