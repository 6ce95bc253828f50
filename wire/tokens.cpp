#include "wire/tokens.hpp"

#include <limits>

#include "wire/codec.hpp"

namespace confab::wire {

std::string token_payload_json(const api::token_claims& c) {
  return json{{"sub", c.who.id.value},
              {"usr", c.who.username},
              {"jti", c.jti},
              {"iat_ms", c.issued_at},
              {"exp", c.expires_at / 1000}}
      .dump();
}

std::optional<api::token_claims> decode_token_payload(std::string_view payload) {
  auto j = json::parse(payload, nullptr, false);
  if (!j.is_object() || !j.contains("sub") || !j["sub"].is_string() || !j.contains("usr") || !j["usr"].is_string() ||
      !j.contains("jti") || !j["jti"].is_string() || !j.contains("exp") || !j["exp"].is_number_integer() ||
      !j.contains("iat_ms") || !j["iat_ms"].is_number_integer())
    return std::nullopt;
  // exp is seconds; past this it would not fit in milliseconds.
  auto exp = j["exp"].get<std::int64_t>();
  if (exp < 0 || exp > std::numeric_limits<std::int64_t>::max() / 1000)
    return std::nullopt;
  api::token_claims c;
  c.who.id = api::user_id{j["sub"].get<std::string>()};
  c.who.username = j["usr"].get<std::string>();
  c.jti = j["jti"].get<std::string>();
  c.issued_at = j["iat_ms"].get<std::int64_t>();
  c.expires_at = exp * 1000;
  return c;
}

}  // namespace confab::wire
