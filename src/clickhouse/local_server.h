// LocalClickHouse: a throwaway clickhouse-server on 127.0.0.1, for tests and
// benchmarks (not for production: it runs as the calling user with a data
// directory it is given and the default user open on loopback).
//
// Start writes a config into `dir` (data, tmp, logs under it), picks two free
// loopback ports (HTTP and native), spawns the server and waits until it
// answers SELECT 1. Kill is SIGKILL (a crash); Start again afterwards reuses
// the directory and the ports, as a restarted server would. Stop is SIGTERM
// with a bounded wait, then SIGKILL.
//
// Threading: one thread at a time.
#pragma once

#include <sys/types.h>

#include <string>

#include "absl/status/status.h"

namespace ariadne::clickhouse {

struct LocalServerOptions {
  int max_threads = 2;          // per query
  bool zstd = true;             // zstd for every part (servers without column codecs)
  std::string log_level = "warning";
  // Extra <profiles><default> settings, as XML elements.
  std::string profile_settings =
      "<allow_experimental_low_cardinality_type>1</allow_experimental_low_cardinality_type>";
};

class LocalClickHouse {
 public:
  LocalClickHouse() = default;
  ~LocalClickHouse() { Stop(); }
  LocalClickHouse(const LocalClickHouse&) = delete;
  LocalClickHouse& operator=(const LocalClickHouse&) = delete;

  // The server binary installed here: `clickhouse` (the multi-tool, run as
  // `clickhouse server`) or Debian's clickhouse-server; "" if neither.
  static std::string FindBinary();

  // Starts the server on `dir` (created if needed). Internal if it cannot
  // be spawned or exits; DeadlineExceeded if it does not answer in ~60 s.
  absl::Status Start(const std::string& binary, const std::string& dir,
                     LocalServerOptions options = {});
  // Starts it again with the same binary, directory and ports (after Kill
  // or Stop).
  absl::Status Restart();
  // SIGKILL, and reaps it.
  void Kill();
  // SIGTERM, up to ~30 s for it to exit, then SIGKILL.
  void Stop();

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  int http_port() const { return http_port_; }
  std::string url() const;  // http://127.0.0.1:<http port>
  const std::string& dir() const { return dir_; }

 private:
  absl::Status Spawn();

  std::string binary_;
  std::string dir_;
  LocalServerOptions options_;
  pid_t pid_ = -1;
  int http_port_ = 0;
  int tcp_port_ = 0;
};

// A TCP port on 127.0.0.1 that was free a moment ago; 0 if none.
int FreeLoopbackPort();

}  // namespace ariadne::clickhouse
