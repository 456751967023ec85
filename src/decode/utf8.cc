#include "decode/utf8.h"

#include <simdjson.h>

namespace ariadne::decode::internal {

bool ValidateUtf8NonAscii(const char* data, size_t size) {
  return simdjson::validate_utf8(data, size);
}

}  // namespace ariadne::decode::internal
