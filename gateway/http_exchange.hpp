#pragma once

// One HTTP API exchange as the frontends (client API, admin API) see it: the
// parsed call, its path and query, its JSON body, and where the answer goes.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "api/errors.hpp"
#include "api/sinks.hpp"
#include "wire/codec.hpp"

namespace confab::gateway {

// One HTTP exchange: the parsed call and where its answer goes.
struct exchange {
  api::http_call call;
  api::responder_ptr out;
  std::vector<std::string> path;
  std::map<std::string, std::string> query;
  wire::request_body body;  // read only by the decoders of wire/

  void respond(unsigned status, std::string body_text = {}) const {
    api::http_reply r;
    r.status = status;
    r.body = std::move(body_text);
    out->respond(std::move(r));
  }
  // status 0: the code's own status.
  void respond_error(const caf::error& err, unsigned status = 0) const;
  void bad(const std::string& why) const;
};
using exchange_ptr = std::shared_ptr<exchange>;

// Splits the target into path segments and query parameters.
void split_target(exchange& ex);
// "%41" as A; "+" as a space in a query string (plus_is_space), as itself in
// a path segment.
[[nodiscard]] std::string url_decode(const std::string& s, bool plus_is_space = true);
// The exchange of a call net/ handed to a frontend, its target split.
[[nodiscard]] exchange_ptr open_exchange(api::http_call call, api::responder_ptr out);
// Parses the body into ex.body (wire/); answers 400 and returns false otherwise.
bool parse_body(exchange& ex);

}  // namespace confab::gateway
