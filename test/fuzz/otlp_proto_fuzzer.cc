// libFuzzer target: DecodeOtlpProto on arbitrary bytes, with the default
// limits and with tight ones (to reach every limit check and rollback),
// checking the invariants of batch_invariants.h on each result.
#include <cstddef>
#include <cstdint>
#include <string>

#include "decode/decode.h"
#include "test/fuzz/batch_invariants.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  for (const ariadne::decode::Limits& limits :
       {ariadne::decode::Limits(), ariadne::fuzz::TightLimits()}) {
    ariadne::decode::DecodeStats stats;
    const absl::StatusOr<ariadne::model::SpanBatch> batch =
        ariadne::decode::DecodeOtlpProto(body, limits, &stats);
    ariadne::fuzz::CheckResult(batch, stats);
  }
  return 0;
}
