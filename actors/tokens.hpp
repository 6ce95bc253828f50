#pragma once

// Access tokens: JWT with HS256 (HMAC-SHA-256 from OpenSSL) over the node
// secret. Claims: sub (user id), usr (username), jti, iat_ms, exp (seconds).

#include <string>
#include <string_view>

#include <caf/expected.hpp>

#include "api/messages.hpp"

namespace confab::actors::tokens {

[[nodiscard]] std::string sign(const std::string& secret, const api::token_claims& claims);
// Checks signature, shape and expiry; revocation is the account actor's job.
[[nodiscard]] caf::expected<api::token_claims> verify(const std::string& secret, std::string_view token,
                                                      std::int64_t now_ms);

}  // namespace confab::actors::tokens
