// gzip bodies (Content-Encoding: gzip), inflated with a hard output limit so
// a small compressed body cannot expand without bound.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace ariadne::receive {

// Inflates a gzip (or zlib) stream. InvalidArgument for a corrupt or
// truncated stream; ResourceExhausted if the output would pass `max_bytes`.
absl::StatusOr<std::string> Gunzip(std::string_view compressed, uint64_t max_bytes);

// Compresses with gzip framing (tests, the load generator, the simulator's
// OTLP/HTTP sink). `level` as zlib's (1 fastest .. 9 smallest, -1 default).
// Empty on a zlib failure or an input over 4 GiB (one deflate() call).
std::string Gzip(std::string_view data, int level = -1);

}  // namespace ariadne::receive
