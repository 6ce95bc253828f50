#include "client/url.hpp"

#include <algorithm>
#include <cctype>

namespace confab::client {

namespace {

[[nodiscard]] bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

[[nodiscard]] bool unreserved(unsigned char c) {
  return std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_' || c == '~';
}

}  // namespace

parsed_url parse_base_url(std::string_view text) {
  base_url u;
  std::string_view rest;
  if (text.starts_with("http://")) {
    rest = text.substr(7);
  } else if (text.starts_with("https://")) {
    u.tls = true;
    rest = text.substr(8);
  } else {
    return {std::nullopt, "the URL must start with http:// or https://"};
  }
  if (rest.ends_with('/'))
    rest.remove_suffix(1);
  if (rest.find_first_of("/?#@") != std::string_view::npos)
    return {std::nullopt, "the URL must be scheme://host[:port] without a path"};
  std::string_view port;
  if (rest.starts_with('[')) {
    auto close = rest.find(']');
    if (close == std::string_view::npos)
      return {std::nullopt, "unterminated IPv6 address in the URL"};
    u.host = std::string(rest.substr(1, close - 1));
    auto after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':')
        return {std::nullopt, "unexpected text after the IPv6 address in the URL"};
      port = after.substr(1);
    }
  } else {
    auto colon = rest.find(':');
    u.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos)
      port = rest.substr(colon + 1);
  }
  if (u.host.empty())
    return {std::nullopt, "the URL has no host"};
  if (port.empty()) {
    u.port = u.tls ? "443" : "80";
  } else if (!all_digits(port) || port.size() > 5 || std::stoul(std::string(port)) > 65535 ||
             std::stoul(std::string(port)) == 0) {
    return {std::nullopt, "the URL's port must be a number from 1 to 65535"};
  } else {
    u.port = std::string(port);
  }
  u.display = std::string(text.substr(0, text.ends_with('/') ? text.size() - 1 : text.size()));
  return {std::move(u), {}};
}

std::string percent_encode(std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (unreserved(c)) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 0xF];
    }
  }
  return out;
}

}  // namespace confab::client
