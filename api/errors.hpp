#pragma once

// Error codes of PROTOCOL.md as caf::error values. The context of such an error
// carries the human message and, for rate limits, retry_after_ms.

#include <cstdint>
#include <string>
#include <string_view>

#include <caf/error.hpp>
#include <caf/fwd.hpp>

namespace confab::api {

enum class errc : std::uint8_t {
  invalid_request = 1,
  unauthorized,
  invalid_credentials,
  forbidden,
  not_found,
  conflict,
  username_taken,
  too_large,
  rate_limited,
  unavailable,
  unknown_op,
  not_member,
  quota_exceeded,
  internal,
};

// The wire name of a code ("not_member").
[[nodiscard]] std::string_view code_name(errc code);
// HTTP status of a code.
[[nodiscard]] unsigned http_status(errc code);

[[nodiscard]] caf::error fail(errc code, std::string message, std::uint64_t retry_after_ms = 0);

// Reads back what fail() stored; errors of other categories (CAF's own, e.g. a
// request timeout) come out as `unavailable`.
struct failure {
  errc code = errc::internal;
  std::string message;
  std::uint64_t retry_after_ms = 0;
};
[[nodiscard]] failure describe(const caf::error& err);

// The default handler of every long-lived actor that other nodes can reach:
// a message no handler matches (from a peer, or a type this build does not
// know) is counted (confab_unexpected_messages_total) and dropped, and a
// request gets `unexpected_message`; CAF's own default prints each one.
caf::result<caf::message> drop_unexpected(caf::scheduled_actor* self, caf::message_view& msg);

}  // namespace confab::api
