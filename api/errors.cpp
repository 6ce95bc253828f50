#include "api/errors.hpp"

#include <caf/atom.hpp>
#include <caf/make_message.hpp>
#include <caf/result.hpp>
#include <caf/scheduled_actor.hpp>
#include <caf/sec.hpp>

#include "api/metrics.hpp"

namespace confab::api {

namespace {
constexpr caf::atom_value category = caf::atom("confab");
}

std::string_view code_name(errc code) {
  switch (code) {
    case errc::invalid_request:
      return "invalid_request";
    case errc::unauthorized:
      return "unauthorized";
    case errc::invalid_credentials:
      return "invalid_credentials";
    case errc::forbidden:
      return "forbidden";
    case errc::not_found:
      return "not_found";
    case errc::conflict:
      return "conflict";
    case errc::username_taken:
      return "username_taken";
    case errc::too_large:
      return "too_large";
    case errc::rate_limited:
      return "rate_limited";
    case errc::unavailable:
      return "unavailable";
    case errc::unknown_op:
      return "unknown_op";
    case errc::not_member:
      return "not_member";
    case errc::quota_exceeded:
      return "quota_exceeded";
    case errc::internal:
      return "internal";
  }
  return "internal";
}

unsigned http_status(errc code) {
  switch (code) {
    case errc::invalid_request:
    case errc::unknown_op:
      return 400;
    case errc::unauthorized:
    case errc::invalid_credentials:
      return 401;
    case errc::forbidden:
    case errc::not_member:
      return 403;
    case errc::not_found:
      return 404;
    case errc::conflict:
    case errc::username_taken:
      return 409;
    case errc::too_large:
    case errc::quota_exceeded:
      return 413;
    case errc::rate_limited:
      return 429;
    case errc::unavailable:
      return 503;
    case errc::internal:
      return 500;
  }
  return 500;
}

caf::error fail(errc code, std::string message, std::uint64_t retry_after_ms) {
  return caf::error(static_cast<std::uint8_t>(code), category, caf::make_message(std::move(message), retry_after_ms));
}

failure describe(const caf::error& err) {
  failure out;
  if (err.category() != category) {
    out.code = errc::unavailable;
    out.message = "temporarily unavailable";
    return out;
  }
  out.code = static_cast<errc>(err.code());
  const auto& ctx = err.context();
  if (ctx.match_elements<std::string, std::uint64_t>()) {
    out.message = ctx.get_as<std::string>(0);
    out.retry_after_ms = ctx.get_as<std::uint64_t>(1);
  }
  return out;
}

caf::result<caf::message> drop_unexpected(caf::scheduled_actor*, caf::message_view&) {
  node_metrics().unexpected_messages.fetch_add(1, std::memory_order_relaxed);
  return caf::sec::unexpected_message;
}

}  // namespace confab::api
