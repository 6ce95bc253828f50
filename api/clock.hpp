#pragma once

// The wall clock every module stamps with.

#include <cstdint>

namespace confab::api {

// Milliseconds since the Unix epoch.
[[nodiscard]] std::int64_t now_ms();

}  // namespace confab::api
