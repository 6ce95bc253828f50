#pragma once

// Client commands after wire/ decoded and checked them: every rule about a
// command's fields (types, required ones, lengths) is applied once, in
// wire/commands.cpp, whichever transport (WebSocket frame or HTTP body) it
// came in; what is left to the actors is what needs state (membership, the
// file's owner, rate limits).

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "api/ids.hpp"

namespace confab::api {

// `send` (WebSocket) and POST /rooms/{room}/messages (HTTP).
struct send_command {
  room_id room;
  std::string body;            // empty only when file_id or e2ee is set
  std::string client_msg_id;   // empty: none (HTTP only)
  std::uint64_t reply_to = 0;  // 0: none
  std::uint64_t thread = 0;    // a reply in the thread of this seq; 0: none
  std::string file_id;         // empty: none
  // End-to-end encrypted content (PROTOCOL.md section 7): a JSON object,
  // checked for shape and size only; empty: none.
  std::string e2ee;
};

// `history` (WebSocket) and GET /rooms/{room}/messages (HTTP).
struct history_command {
  room_id room;
  bool has_before = false;  // seq < before
  seq_t before = 0;
  bool has_after = false;  // seq > after
  seq_t after = 0;
  std::uint32_t limit = 50;
};

// `edit` (WebSocket) and PATCH /rooms/{room}/messages/{seq} (HTTP): the new
// body, or in an encrypted room a new e2ee object (PROTOCOL.md section 8).
struct edit_command {
  room_id room;
  seq_t seq = 0;
  std::string body;  // empty when e2ee is set
  std::string e2ee;  // JSON object text, as send_command's; empty: none
};

// `delete` (WebSocket) and DELETE /rooms/{room}/messages/{seq} (HTTP).
struct delete_command {
  room_id room;
  seq_t seq = 0;
};

// `react` (WebSocket) and PUT/DELETE .../messages/{seq}/reactions/{emoji}.
struct react_command {
  room_id room;
  seq_t seq = 0;
  std::string emoji;  // 1-32 bytes of UTF-8
  bool active = false;
};

// The other WebSocket requests (PROTOCOL.md section 3).
struct auth_command {
  std::string token;
};
struct join_command {
  room_id room;
};
struct leave_command {
  room_id room;
};
struct typing_command {
  room_id room;
  bool active = false;
};
struct read_command {
  room_id room;
  seq_t seq = 0;
};
struct presence_command {
  std::string status;  // online, away or dnd
};
struct watch_command {
  std::vector<std::string> users;  // usernames
};
struct ping_command {};

// The HTTP bodies of PROTOCOL.md section 2 (the profile patch is
// api::profile_patch).
struct register_command {  // POST /auth/register
  std::string username;
  std::string password;
  std::string display_name;  // empty: none
};
struct login_command {  // POST /auth/login
  std::string username;
  std::string password;
};
struct password_command {  // POST /me/password
  std::string old_password;
  std::string new_password;
};
struct create_room_command {  // POST /rooms
  std::string name;
  std::string topic;       // empty: none
  std::string visibility;  // public or private
  bool encrypted = false;  // private only
};

struct dm_command {  // POST /dm
  std::string username;
  bool encrypted = false;  // takes effect when this call creates the room
};

using client_command =
    std::variant<auth_command, send_command, history_command, join_command, leave_command, typing_command, read_command,
                 presence_command, watch_command, ping_command, edit_command, delete_command, react_command>;

}  // namespace confab::api
