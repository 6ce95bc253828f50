#include "gateway/byte_range.hpp"

#include <algorithm>

namespace confab::gateway {

range_kind parse_range(const std::string& header, std::uint64_t size, byte_range& out) {
  static const std::string unit = "bytes=";
  if (header.rfind(unit, 0) != 0 || header.find(',') != std::string::npos)
    return range_kind::whole;  // other units and several ranges: the whole file
  auto spec = header.substr(unit.size());
  auto dash = spec.find('-');
  if (dash == std::string::npos)
    return range_kind::whole;
  auto first_text = spec.substr(0, dash);
  auto last_text = spec.substr(dash + 1);
  auto number = [](const std::string& s, std::uint64_t& v) {
    if (s.empty() || s.size() > 19 || s.find_first_not_of("0123456789") != std::string::npos)
      return false;
    v = std::stoull(s);
    return true;
  };
  std::uint64_t a = 0, b = 0;
  if (first_text.empty()) {  // the last n bytes
    if (!number(last_text, b) || b == 0)
      return range_kind::whole;
    if (size == 0)
      return range_kind::unsatisfiable;
    out = {size - std::min(b, size), size - 1};
    return range_kind::partial;
  }
  if (!number(first_text, a))
    return range_kind::whole;
  if (a >= size)
    return range_kind::unsatisfiable;
  if (last_text.empty())
    b = size - 1;
  else if (!number(last_text, b) || b < a)
    return range_kind::whole;
  out = {a, std::min(b, size - 1)};
  return range_kind::partial;
}

}  // namespace confab::gateway
