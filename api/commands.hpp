#pragma once

// Client commands after wire/ decoded and checked them: every rule about a
// command's fields (types, required ones, lengths) is applied once, in
// wire/commands.cpp, whichever transport (WebSocket frame or HTTP body) it
// came in; what is left to the actors is what needs state (membership, the
// file's owner, rate limits).

#include <cstdint>
#include <string>

#include "api/ids.hpp"

namespace confab::api {

// `send` (WebSocket) and POST /rooms/{room}/messages (HTTP).
struct send_command {
  room_id room;
  std::string body;            // empty only when file_id is set
  std::string client_msg_id;   // empty: none (HTTP only)
  std::uint64_t reply_to = 0;  // 0: none
  std::string file_id;         // empty: none
};

}  // namespace confab::api
