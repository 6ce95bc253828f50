#pragma once

// A client of the admin API (PROTOCOL.md section 4): one method per call,
// each a blocking request on the calling thread (see http_client.hpp). The
// answer is handed back as is; callers decide how to show it.

#include <optional>
#include <string>
#include <string_view>

#include "client/http_client.hpp"
#include "client/url.hpp"

namespace confab::client {

// Filters of GET /admin/api/v1/actors; empty or absent ones are left out so
// the server's defaults apply.
struct actor_filter {
  std::string node;
  std::string kind;
  std::string q;
  std::string sort;
  std::optional<long> limit;
  std::optional<long> offset;
};

// The `error` object of an error answer; empty code when the body is not one.
struct api_error {
  std::string code;
  std::string message;
};

[[nodiscard]] api_error parse_api_error(std::string_view body);

// Targets, exposed for tests: every id is percent-encoded as one segment.
[[nodiscard]] std::string actors_target(const actor_filter& filter);
[[nodiscard]] std::string room_target(std::string_view room);
[[nodiscard]] std::string user_target(std::string_view username);
[[nodiscard]] std::string kick_target(std::string_view session);
// POST /nodes/{node}/{action}: drain or remove.
[[nodiscard]] std::string node_target(std::string_view node, std::string_view action);

class admin_client {
 public:
  admin_client(base_url url, std::string token, http_options options = {});

  [[nodiscard]] const base_url& url() const { return url_; }

  [[nodiscard]] http_outcome nodes() const;
  [[nodiscard]] http_outcome actors(const actor_filter& filter) const;
  [[nodiscard]] http_outcome room(std::string_view room) const;
  [[nodiscard]] http_outcome user(std::string_view username) const;
  [[nodiscard]] http_outcome kick(std::string_view session) const;
  // "drain" or "remove".
  [[nodiscard]] http_outcome node_action(std::string_view node, std::string_view action) const;

 private:
  [[nodiscard]] http_outcome call(std::string method, std::string target) const;

  base_url url_;
  std::string token_;
  http_options options_;
};

}  // namespace confab::client
