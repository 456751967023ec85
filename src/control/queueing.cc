#include "control/queueing.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ariadne::control {

double ErlangC(int servers, double a) {
  if (servers <= 0 || a >= servers) return 1.0;
  if (a <= 0) return 0.0;
  // Erlang B by its recurrence (stable), then C = B / (1 - rho (1 - B)).
  double b = 1.0;
  for (int k = 1; k <= servers; ++k) b = a * b / (k + a * b);
  const double rho = a / servers;
  return b / (1.0 - rho * (1.0 - b));
}

double MeanWait(double rate, double service_s, int servers, double cv2) {
  if (rate <= 0 || service_s <= 0) return 0.0;
  const double a = rate * service_s;
  if (servers <= 0 || a >= servers) return std::numeric_limits<double>::infinity();
  const double c = ErlangC(servers, a);
  return c * service_s / (servers - a) * (1.0 + cv2) / 2.0;
}

double WaitTailProbability(double rate, double service_s, int servers, double t_s, double cv2) {
  if (rate <= 0 || service_s <= 0) return 0.0;
  const double a = rate * service_s;
  if (servers <= 0 || a >= servers) return 1.0;
  const double c = ErlangC(servers, a);
  const double decay = (servers / service_s - rate) * 2.0 / (1.0 + cv2);
  return c * std::exp(-decay * std::max(t_s, 0.0));
}

double WaitQuantile(double rate, double service_s, int servers, double q, double cv2) {
  if (rate <= 0 || service_s <= 0) return 0.0;
  const double a = rate * service_s;
  if (servers <= 0 || a >= servers) return std::numeric_limits<double>::infinity();
  const double c = ErlangC(servers, a);
  const double tail = 1.0 - q;
  if (c <= tail) return 0.0;
  const double decay = (servers / service_s - rate) * 2.0 / (1.0 + cv2);
  return std::log(c / tail) / decay;
}

int SmallestServers(double rate, double service_s, double cv2, double budget_s, double quantile,
                    double max_utilisation, int min_servers, int max_servers) {
  min_servers = std::max(min_servers, 1);
  if (rate <= 0 || service_s <= 0) return std::min(min_servers, max_servers);
  const double a = rate * service_s;
  // Start where the utilisation bound allows, then walk up (bounded by max_servers).
  int c = std::max(min_servers, static_cast<int>(std::ceil(a / max_utilisation - 1e-9)));
  for (; c < max_servers; ++c) {
    if (a / c <= max_utilisation &&
        WaitTailProbability(rate, service_s, c, budget_s, cv2) <= 1.0 - quantile) {
      return c;
    }
  }
  return max_servers;
}

int SmallestReplicas(double rate, double service_s, double cv2, int workers, double budget_s,
                     double quantile, double max_utilisation, int min_replicas, int max_replicas) {
  min_replicas = std::max(min_replicas, 0);
  max_replicas = std::max(max_replicas, min_replicas);
  workers = std::max(workers, 1);
  if (rate <= 0 || service_s <= 0) return min_replicas;
  const double a = rate * service_s;
  int n = std::max({min_replicas, 1,
                    static_cast<int>(std::ceil(a / (max_utilisation * workers) - 1e-9))});
  for (; n < max_replicas; ++n) {
    const double per_replica = rate / n;
    if (per_replica * service_s <= max_utilisation * workers &&
        WaitTailProbability(per_replica, service_s, workers, budget_s, cv2) <= 1.0 - quantile) {
      return n;
    }
  }
  return max_replicas;
}

double ServiceTimeFromResponse(double rate, double response_s, int servers, double cv2) {
  if (response_s <= 0) return 0.0;
  if (rate <= 0 || servers <= 0) return response_s;
  // f(S) = S + W(S) grows with S; S lies in (0, min(response, servers / rate)).
  double lo = 0.0;
  double hi = std::min(response_s, servers / rate);
  for (int i = 0; i < 60; ++i) {
    const double mid = 0.5 * (lo + hi);
    if (mid + MeanWait(rate, mid, servers, cv2) > response_s) {
      hi = mid;
    } else {
      lo = mid;
    }
  }
  return 0.5 * (lo + hi);
}

}  // namespace ariadne::control
