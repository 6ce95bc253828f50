#pragma once

// Lower-case hex of bytes: ids, nonces, digests and secrets in text.

#include <cstddef>
#include <string>

namespace confab::api {

[[nodiscard]] std::string to_hex(const unsigned char* bytes, std::size_t n);

}  // namespace confab::api
