// libFuzzer target: ParseKubeScale and KubeErrorDetail (control/kube_response.h),
// the reading of the Kubernetes API server's answers, on arbitrary bytes.
// They must answer replicas or an Internal error with a message, never crash;
// counts are never negative; an error's detail is never empty for a
// non-empty body; parsing is deterministic.
//
// Threading: single-threaded, as libFuzzer calls it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "control/kube_response.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using ariadne::control::KubeErrorDetail;
  using ariadne::control::ParseKubeScale;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  for (std::string_view kind : {"Scale", "Deployment"}) {
    const auto scale = ParseKubeScale(bytes, kind);
    const auto again = ParseKubeScale(bytes, kind);
    if (scale.ok() != again.ok()) std::abort();
    if (scale.ok()) {
      if (scale->spec_replicas < 0 || scale->status_replicas < 0 || scale->ready_replicas < 0) {
        std::abort();
      }
      if (scale->spec_replicas != again->spec_replicas ||
          scale->status_replicas != again->status_replicas ||
          scale->ready_replicas != again->ready_replicas) {
        std::abort();
      }
      if (kind == "Scale" && scale->ready_replicas != 0) std::abort();
    } else {
      if (scale.status().code() != absl::StatusCode::kInternal) std::abort();
      if (scale.status().message().empty()) std::abort();
    }
  }
  if (!bytes.empty() && KubeErrorDetail(bytes).empty()) std::abort();
  return 0;
}
