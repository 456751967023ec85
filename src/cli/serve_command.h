// `ariadne serve`: receivers -> write-ahead log -> head -> query API, in one
// process, until SIGTERM or SIGINT.
#pragma once

#include "cli/config.h"

namespace ariadne::cli {

// Runs the server; returns the process exit code (0 after a clean shutdown).
// The caller must have blocked SIGTERM and SIGINT in every thread.
int RunServe(const ServerConfig& config);

}  // namespace ariadne::cli
