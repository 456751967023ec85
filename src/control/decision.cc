#include "control/decision.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>

namespace ariadne::control {

std::string DecisionJson(const Decision& d) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  const auto str = [&](const char* key, const std::string& v) {
    w.Key(key);
    w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
  };
  // Numbers JSON cannot hold (a model's infinite wait) are null.
  const auto num = [&](const char* key, double v) {
    w.Key(key);
    if (std::isfinite(v)) {
      w.Double(v);
    } else {
      w.Null();
    }
  };
  const DecisionInputs& i = d.inputs;
  w.StartObject();
  num("time_s", d.time_s);
  str("policy", d.policy);
  str("service", d.service);
  w.Key("current");
  w.Int(d.current);
  w.Key("desired");
  w.Int(d.desired);
  w.Key("inputs");
  w.StartObject();
  num("rate", i.rate);
  num("forecast_rate", i.forecast_rate);
  num("service_time_s", i.service_time_s);
  num("tail_self_s", i.tail_self_s);
  num("cv2", i.cv2);
  num("utilisation", i.utilisation);
  num("forecast_utilisation", i.forecast_utilisation);
  num("wait_budget_s", i.wait_budget_s);
  w.Key("workers");
  w.Int(i.workers);
  w.Key("ready");
  w.Int(i.ready);
  w.EndObject();
  str("reason", d.reason);
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace ariadne::control
