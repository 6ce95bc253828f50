#pragma once

// Base URLs and percent-encoding for clients of the Confab HTTP API. Plain
// functions, no I/O: usable from any thread.

#include <optional>
#include <string>
#include <string_view>

namespace confab::client {

// Where a node's HTTP API is: http[s]://host[:port]. `display` is the URL as
// written back to people in messages (no trailing slash).
struct base_url {
  bool tls = false;
  std::string host;
  std::string port;
  std::string display;
};

// A base URL, or why the text is not one.
struct parsed_url {
  std::optional<base_url> url;
  std::string error;
};

// Accepts http://host[:port] and https://host[:port] with an optional
// trailing slash; IPv6 literals as [::1]. A path is refused rather than
// ignored, since every API target is absolute.
[[nodiscard]] parsed_url parse_base_url(std::string_view text);

// Percent-encodes everything but RFC 3986 unreserved characters, so a value
// can be neither a path separator nor a query delimiter.
[[nodiscard]] std::string percent_encode(std::string_view text);

}  // namespace confab::client
