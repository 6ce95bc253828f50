#pragma once

// The Range header of a file download (RFC 9110, one range). Pure.

#include <cstdint>
#include <string>

namespace confab::gateway {

// One byte range of a file of `size` bytes, from a Range header.
struct byte_range {
  std::uint64_t first = 0;
  std::uint64_t last = 0;  // inclusive
};
enum class range_kind { whole, partial, unsatisfiable };
[[nodiscard]] range_kind parse_range(const std::string& header, std::uint64_t size, byte_range& out);

}  // namespace confab::gateway
