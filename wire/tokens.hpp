#pragma once

// The JSON payload of a session token (actors/tokens.hpp signs and checks
// the token around it): {sub, usr, jti, iat_ms, exp} with exp in seconds.

#include <optional>
#include <string>
#include <string_view>

#include "api/messages.hpp"

namespace confab::wire {

[[nodiscard]] std::string token_payload_json(const api::token_claims& c);
// The claims of a payload; nullopt unless it is an object with every field
// of the right type (the caller checks the signature first, expiry after).
[[nodiscard]] std::optional<api::token_claims> decode_token_payload(std::string_view payload);

}  // namespace confab::wire
