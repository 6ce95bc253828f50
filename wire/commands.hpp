#pragma once

// Decoding client commands: the fields of a WebSocket frame or an HTTP body
// into the validated structs of api/commands.hpp, with the error PROTOCOL.md
// gives for each broken rule (invalid_request or too_large). Also the reply
// bodies both transports share.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <caf/expected.hpp>

#include "api/commands.hpp"
#include "api/messages.hpp"
#include "wire/codec.hpp"

namespace confab::wire {

// The largest e2ee object of a send, as JSON (PROTOCOL.md section 7).
inline constexpr std::size_t max_e2ee_bytes = 48 * 1024;

struct send_rules {
  std::size_t max_body_chars = 0;
  bool client_msg_id_required = true;  // WebSocket: yes; HTTP: optional
};
// `room` comes from the frame's field or the URL, whichever the transport has.
[[nodiscard]] caf::expected<api::send_command> decode_send(const json& obj, api::room_id room, const send_rules& rules);
// A reaction change, its emoji checked (1-32 bytes of UTF-8).
[[nodiscard]] caf::expected<api::react_command> react_of(api::room_id room, api::seq_t seq, std::string emoji,
                                                         bool active);
// The new content of an edit (`body`, or `e2ee` as a send has it), the seq
// already read (from the frame, or the HTTP path).
[[nodiscard]] caf::expected<api::edit_command> decode_edit(const json& obj, api::room_id room, api::seq_t seq,
                                                           std::size_t max_body_chars);

// A number of an HTTP query string: true and `out` untouched when absent,
// true and set for up to 19 decimal digits, else false with `error` set.
[[nodiscard]] bool query_number(const std::map<std::string, std::string>& query, const char* key,
                                std::optional<std::uint64_t>& out, std::string& error);

// GET /rooms/{room}/messages?before=&after=&limit=: the same rules as the
// history frame (limit 1 to history_max, 50 when absent).
[[nodiscard]] caf::expected<api::history_command> decode_history_query(const std::map<std::string, std::string>& query,
                                                                       api::room_id room, std::uint64_t history_max);

// GET /search?q=&room=&limit=&before= (values percent-decoded already): q
// 1-500 bytes of UTF-8, limit 1-50 (20 when absent), room and before
// (the cursor) at most 200 bytes; the caller is filled in by the gateway.
[[nodiscard]] caf::expected<api::search_request> decode_search_query(const std::map<std::string, std::string>& query);
// {results:[{message, room_name}], next?}: the first `limit` of `hits`
// (each message as clients see it); next when there are more.
[[nodiscard]] std::string search_page_json(const std::vector<api::search_result>& hits, std::uint32_t limit);

// The limits a frame is checked against (config::limits, which wire/ does
// not include).
struct frame_rules {
  std::size_t max_body_chars = 0;
  std::uint64_t history_max = 0;
  std::size_t watch_max = 0;
};

// One WebSocket frame, decoded. `status` not ok: the socket closes (1007).
// Otherwise `id` is the request's id as JSON text ("null" when it has none
// or one that is neither number nor string: then `id_ok` is false), `op` its
// op ("" when absent or not a string), and `command` the validated request
// or the error to answer it with (unknown_op for an op PROTOCOL.md does not
// have; unauthorized for an auth without a token). The session decides what
// to do in which state (auth first, rate limit, then the command).
struct decoded_frame {
  parse_status status = parse_status::ok;
  std::string id = "null";
  bool id_ok = false;
  std::string op;
  caf::expected<api::client_command> command = api::client_command{api::ping_command{}};
};
[[nodiscard]] decoded_frame decode_frame(std::string_view text, const frame_rules& rules);

// HTTP bodies (a JSON object already), checked as PROTOCOL.md section 2 says;
// a broken rule is invalid_request with the reason.
[[nodiscard]] caf::expected<api::register_command> decode_register(const json& body);
[[nodiscard]] caf::expected<api::login_command> decode_login(const json& body);
// PATCH /me: only the fields present change (null clears status_text and
// avatar_file_id).
[[nodiscard]] caf::expected<api::profile_patch> decode_profile_patch(const json& body);
[[nodiscard]] caf::expected<api::password_command> decode_password_change(const json& body);
[[nodiscard]] caf::expected<api::create_room_command> decode_create_room(const json& body);
// PUT /keys/devices/{device_id} (PROTOCOL.md section 7): device_id of 1-64
// letters, digits, '-' or '_'; identity_key the base64 of 32 bytes (X25519);
// signing_key (Ed25519, 32 bytes) and signature (64 bytes) base64, both or
// neither. The keys are not checked further: the clients verify them.
[[nodiscard]] caf::expected<api::device_key> decode_device_keys(const json& body, const std::string& device_id);
// {devices:[{device_id, identity_key, signing_key?, signature?, updated_at}]}
[[nodiscard]] std::string devices_json(const std::vector<api::device_key>& devices);
// {user, devices}: the keys event, when a user's device list changed.
[[nodiscard]] std::string keys_event_json(const std::string& username, const std::vector<api::device_key>& devices);
// {username, encrypted?}: POST /dm.
[[nodiscard]] caf::expected<api::dm_command> decode_dm(const json& body);
// {username}: POST /rooms/{room}/invite.
[[nodiscard]] caf::expected<std::string> decode_username(const json& body);

// Replies (the `data` of an ok frame, or an HTTP body).
// {"messages":[...],"has_more":bool}: a history page, the same on both transports.
[[nodiscard]] std::string history_page_json(const api::history_page& page);
// {room, seq, msg_id, ts}: the ack of a send.
[[nodiscard]] std::string send_ack_json(const api::send_ack& ack);
// {room, last_read, unread}: the answer to read.
[[nodiscard]] std::string read_reply_json(const api::room_id& room, api::seq_t last_read, api::seq_t last_seq);
// {room: {...}}: the answer to join, and HTTP's room answers.
[[nodiscard]] std::string room_reply_json(const api::room_info& room);
// {user: {...}}, and with the user's presence JSON text.
[[nodiscard]] std::string user_reply_json(const api::user_info& user);
[[nodiscard]] std::string user_presence_json(const api::user_info& user, const std::string& presence);
// {token, expires_at, user}: the answer to login.
[[nodiscard]] std::string login_reply_json(const api::login_result& r);
// {rooms: [...]}: GET /rooms (with counters) and GET /rooms/public.
[[nodiscard]] std::string my_rooms_json(const std::vector<api::my_room>& rooms);
[[nodiscard]] std::string rooms_json(const std::vector<api::room_info>& rooms);
// {members: [{user, role, presence}], next?}: presence[i] is members[i]'s JSON
// text; `next` only when not empty.
[[nodiscard]] std::string members_json(const std::vector<api::member_entry>& members,
                                       const std::vector<std::string>& presence, const std::string& next = {});
// {file: {...}}
[[nodiscard]] std::string file_reply_json(const api::file_info& f);
// {status: "ok", node}: GET /healthz.
[[nodiscard]] std::string health_json(const std::string& node);
// {presence: {username: presence, ...}}; each presence is JSON text as the
// presence actor encoded it.
[[nodiscard]] std::string watch_reply_json(const std::vector<std::pair<std::string, std::string>>& presence);
// {user, session, node, rooms: [counters...]}: the answer to auth.
[[nodiscard]] std::string auth_reply_json(const api::user_info& user, const std::string& session,
                                          const std::string& node, const std::vector<api::my_room>& rooms);

}  // namespace confab::wire
