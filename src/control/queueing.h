// Queueing formulas the controller sizes services with (docs/autoscaling.md).
//
// A service with c workers in total (replicas x workers per replica), Poisson
// arrivals at `rate` per second and a mean service time `service_s` is an
// M/G/c queue. Erlang C gives the M/M/c answers exactly; for a general
// service-time distribution we use the Allen-Cunneen approximation, which
// scales the M/M/c waiting time by (1 + cv^2) / 2, where cv is the service
// time's coefficient of variation. The tail of the waiting time is taken as
// exponential past the probability of waiting (exact for M/M/c):
//   P(W > t) = C(c, a) * exp(-(c / S - rate) * t * 2 / (1 + cv^2)).
//
// Threading: pure functions; call them from anywhere.
#pragma once

namespace ariadne::control {

// Erlang C: the probability that an arrival waits, for `servers` servers
// and an offered load `a` = rate x service time (in erlangs). 1 when a >=
// servers (the queue is unstable). Numerically stable for thousands of servers.
double ErlangC(int servers, double a);

// Mean waiting time in the queue (seconds, service excluded) of M/G/c with
// the given squared coefficient of variation of the service time (1 for
// exponential: then it is M/M/c). +infinity when unstable.
double MeanWait(double rate, double service_s, int servers, double cv2 = 1.0);

// P(wait > t) under the approximation above; 1 when unstable.
double WaitTailProbability(double rate, double service_s, int servers, double t_s,
                           double cv2 = 1.0);

// The quantile q (0..1) of the waiting time; +infinity when unstable.
double WaitQuantile(double rate, double service_s, int servers, double q, double cv2 = 1.0);

// The smallest number of servers (at least `min_servers`, at most
// `max_servers`) such that utilisation rate x S / c <= max_utilisation and
// P(wait > budget_s) <= 1 - quantile. `max_servers` if none qualifies.
int SmallestServers(double rate, double service_s, double cv2, double budget_s, double quantile,
                    double max_utilisation, int min_servers, int max_servers);

// The same for replicas that each queue their own arrivals (the simulator's
// and Kubernetes' round-robin across pods): the smallest n in
// [min_replicas, max_replicas] such that one replica with `workers` servers
// and rate / n arrivals meets both bounds. `max_replicas` if none does.
int SmallestReplicas(double rate, double service_s, double cv2, int workers, double budget_s,
                     double quantile, double max_utilisation, int min_replicas, int max_replicas);

// The mean service time S for which S + MeanWait(rate, S, servers, cv2)
// equals `response_s` (a measured time in the service: waiting + service),
// found by bisection: the service time hidden under the queueing a span's
// self time includes. `response_s` itself when rate is 0.
double ServiceTimeFromResponse(double rate, double response_s, int servers, double cv2 = 1.0);

}  // namespace ariadne::control
