#pragma once

// Password hashes: Argon2id at libsodium's "interactive" cost (2 passes over
// 64 MiB, one lane), stored in the PHC string format that libsodium's
// crypto_pwhash_str writes and that every Argon2 library reads:
//   $argon2id$v=19$m=65536,t=2,p=1$<salt, base64>$<hash, base64>
// The hashing itself is libargon2's (the reference implementation) because it
// lets the caller lend the 64 MiB work area: each hashing thread keeps one,
// pre-faulted, instead of mapping and faulting 64 MiB for every login.
// Call hash and check only from threads that may block (the hasher actors).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace confab::actors::passwords {

// A parsed PHC string of Argon2id.
struct phc {
  std::uint32_t version = 0;
  std::uint32_t m_kib = 0;
  std::uint32_t t = 0;
  std::uint32_t p = 0;
  std::string salt;
  std::string hash;
};

// nullopt unless `encoded` is an Argon2id PHC string whose costs a node will
// pay (at most 256 MiB, 16 passes, 4 lanes) with a salt of 8 to 64 bytes and
// a hash of 16 to 64 (libsodium's bounds): a stored record is not trusted to
// pick the work.
[[nodiscard]] std::optional<phc> parse(std::string_view encoded);
[[nodiscard]] std::string format(const phc& x);

// A new salted hash of `password`; nullopt when the work area cannot be had.
[[nodiscard]] std::optional<std::string> hash(std::string_view password);
// A hash of the same cost as hash()'s that no password matches (random
// salt and hash): checked against for unknown usernames, so that they cost
// what known ones do. Made without hashing.
[[nodiscard]] std::string dummy();
// True when `password` hashes to `encoded`; false for any other password or
// for an `encoded` that does not parse.
[[nodiscard]] bool check(std::string_view encoded, std::string_view password);

}  // namespace confab::actors::passwords
