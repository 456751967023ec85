// Text forms of attribute values, shared by tag matching and display.
#pragma once

#include <string>

#include "model/span_batch.h"

namespace ariadne::model {

// Strings as-is, ints in decimal, doubles in shortest round-trip form, bools
// as true/false, bytes in base64, arrays and kvlists as compact JSON.
std::string ValueToString(const SpanBatch& batch, const AnyValue& value);

// Standard base64 with padding.
std::string Base64Encode(std::string_view bytes);

}  // namespace ariadne::model
