#include "actors/tokens.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <nlohmann/json.hpp>

#include "api/errors.hpp"
#include "api/hex.hpp"

namespace confab::actors::tokens {

namespace {

std::string b64url(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  out.resize(static_cast<std::size_t>(n));
  while (!out.empty() && out.back() == '=')
    out.pop_back();
  for (auto& c : out)
    c = c == '+' ? '-' : c == '/' ? '_' : c;
  return out;
}

bool unb64url(std::string_view in, std::string& out) {
  std::string s(in);
  for (auto& c : s) {
    if (c == '-')
      c = '+';
    else if (c == '_')
      c = '/';
    else if (c == '+' || c == '/' || c == '=')
      return false;
  }
  std::size_t pad = (4 - s.size() % 4) % 4;
  if (pad == 3)
    return false;
  s.append(pad, '=');
  out.assign(3 * s.size() / 4 + 1, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
  if (n < 0)
    return false;
  out.resize(static_cast<std::size_t>(n) - pad);
  return true;
}

std::string hmac(const std::string& secret, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  return std::string(reinterpret_cast<char*>(mac), len);
}

const std::string& header() {
  static const std::string h = b64url(R"({"alg":"HS256","typ":"JWT"})");
  return h;
}

}  // namespace

std::string sign(const std::string& secret, const api::token_claims& c) {
  nlohmann::json payload{{"sub", c.who.id.value},
                         {"usr", c.who.username},
                         {"jti", c.jti},
                         {"iat_ms", c.issued_at},
                         {"exp", c.expires_at / 1000}};
  auto signing_input = header() + "." + b64url(payload.dump());
  return signing_input + "." + b64url(hmac(secret, signing_input));
}

caf::expected<api::token_claims> verify(const std::string& secret, std::string_view token, std::int64_t now) {
  auto bad = [] { return api::fail(api::errc::unauthorized, "invalid or expired token"); };
  auto dot1 = token.find('.');
  auto dot2 = token.rfind('.');
  if (dot1 == std::string_view::npos || dot1 == dot2 || token.substr(0, dot1) != header())
    return bad();
  std::string sig;
  if (!unb64url(token.substr(dot2 + 1), sig))
    return bad();
  auto expected = hmac(secret, token.substr(0, dot2));
  if (!api::same_secret(sig, expected))
    return bad();
  std::string payload;
  if (!unb64url(token.substr(dot1 + 1, dot2 - dot1 - 1), payload))
    return bad();
  auto j = nlohmann::json::parse(payload, nullptr, false);
  if (!j.is_object() || !j.contains("sub") || !j["sub"].is_string() || !j.contains("usr") || !j["usr"].is_string() ||
      !j.contains("jti") || !j["jti"].is_string() || !j.contains("exp") || !j["exp"].is_number_integer() ||
      !j.contains("iat_ms") || !j["iat_ms"].is_number_integer())
    return bad();
  api::token_claims c;
  c.who.id = api::user_id{j["sub"].get<std::string>()};
  c.who.username = j["usr"].get<std::string>();
  c.jti = j["jti"].get<std::string>();
  c.issued_at = j["iat_ms"].get<std::int64_t>();
  c.expires_at = j["exp"].get<std::int64_t>() * 1000;
  if (c.expires_at <= now)
    return bad();
  return c;
}

}  // namespace confab::actors::tokens
