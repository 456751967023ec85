// Tenant ids (docs/security.md#tenants).
//
// A tenant id names a directory under the data dir and a label value, so it
// is kept to what is safe in both: 1 to 64 characters from [A-Za-z0-9_.-],
// not "." or "..". What a request names is checked with ValidateTenantId
// before anything is opened for it.
#pragma once

#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace ariadne {

inline constexpr size_t kMaxTenantIdBytes = 64;

inline absl::Status ValidateTenantId(std::string_view id) {
  if (id.empty()) return absl::InvalidArgumentError("the tenant id is empty");
  if (id.size() > kMaxTenantIdBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("the tenant id is longer than ", kMaxTenantIdBytes, " characters"));
  }
  if (id == "." || id == "..") return absl::InvalidArgumentError("the tenant id is . or ..");
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '-';
    if (!ok) {
      return absl::InvalidArgumentError(
          "the tenant id may only hold letters, digits, '_', '.' and '-'");
    }
  }
  return absl::OkStatus();
}

}  // namespace ariadne
