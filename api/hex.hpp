#pragma once

// Lower-case hex of bytes: ids, nonces, digests and secrets in text;
// random ones; and comparing secrets without leaking where they differ.

#include <cstddef>
#include <string>
#include <string_view>

namespace confab::api {

[[nodiscard]] std::string to_hex(const unsigned char* bytes, std::size_t n);
// `bytes` random bytes (OpenSSL's CSPRNG) in hex.
[[nodiscard]] std::string random_hex(std::size_t bytes);
// `prefix` + 16 random hex digits: the ids of users, rooms, messages, files,
// sessions and tokens.
[[nodiscard]] std::string random_id(const std::string& prefix);
// Equal, in a time that depends only on the lengths (OpenSSL CRYPTO_memcmp).
[[nodiscard]] bool same_secret(std::string_view a, std::string_view b);

}  // namespace confab::api
