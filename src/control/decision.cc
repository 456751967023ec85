#include "control/decision.h"

#include "absl/strings/str_format.h"

namespace ariadne::control {
namespace {

std::string Escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += absl::StrFormat("\\u%04x", static_cast<unsigned char>(c));
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string DecisionJson(const Decision& d) {
  const DecisionInputs& i = d.inputs;
  return absl::StrFormat(
      "{\"time_s\":%.3f,\"policy\":\"%s\",\"service\":\"%s\",\"current\":%d,\"desired\":%d,"
      "\"inputs\":{\"rate\":%.4g,\"forecast_rate\":%.4g,\"service_time_s\":%.4g,"
      "\"tail_self_s\":%.4g,\"cv2\":%.3g,\"utilisation\":%.4g,\"forecast_utilisation\":%.4g,"
      "\"wait_budget_s\":%.4g,\"workers\":%d,\"ready\":%d},\"reason\":\"%s\"}",
      d.time_s, Escape(d.policy), Escape(d.service), d.current, d.desired, i.rate,
      i.forecast_rate, i.service_time_s, i.tail_self_s, i.cv2, i.utilisation,
      i.forecast_utilisation, i.wait_budget_s, i.workers, i.ready, Escape(d.reason));
}

}  // namespace ariadne::control
