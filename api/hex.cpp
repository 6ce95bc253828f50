#include "api/hex.hpp"

#include <stdexcept>
#include <vector>

#include <openssl/crypto.h>
#include <openssl/rand.h>

namespace confab::api {

std::string to_hex(const unsigned char* bytes, std::size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(digits[bytes[i] >> 4]);
    out.push_back(digits[bytes[i] & 0xf]);
  }
  return out;
}

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> buf(bytes);
  if (RAND_bytes(buf.data(), static_cast<int>(buf.size())) != 1)
    throw std::runtime_error("RAND_bytes failed");
  return to_hex(buf.data(), buf.size());
}

std::string random_id(const std::string& prefix) {
  return prefix + random_hex(8);
}

bool same_secret(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace confab::api
