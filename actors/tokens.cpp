#include "actors/tokens.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "api/errors.hpp"
#include "api/hex.hpp"
#include "wire/tokens.hpp"

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
  auto signing_input = header() + "." + b64url(wire::token_payload_json(c));
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
  auto c = wire::decode_token_payload(payload);
  if (!c || c->expires_at <= now)
    return bad();
  return std::move(*c);
}

}  // namespace confab::actors::tokens
