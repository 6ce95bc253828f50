#pragma once

// Message structs exchanged between actors. Each has inspect() so that it can
// later cross node links; shared buffers and sinks are local-only.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/meta/type_name.hpp>

#include "api/ids.hpp"

namespace confab::api {

// An event encoded once to its wire JSON, shared by every receiver.
using shared_text = std::shared_ptr<const std::string>;

struct user_info {
  user_id id;
  std::string username;
  std::string display_name;
  std::string status_text;     // empty: absent
  std::string avatar_file_id;  // empty: absent
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, user_info& x) {
  return f(caf::meta::type_name("confab::user_info"), x.id, x.username, x.display_name, x.status_text,
           x.avatar_file_id);
}

struct room_info {
  room_id id;
  std::string name;
  std::string topic;
  std::string visibility;  // "public" | "private"
  std::string kind;        // "room" | "dm"
  std::int64_t created_at = 0;
  user_id owner;
  // End-to-end encrypted (PROTOCOL.md section 7): private rooms and DMs
  // only, fixed at creation.
  bool encrypted = false;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, room_info& x) {
  return f(caf::meta::type_name("confab::room_info"), x.id, x.name, x.topic, x.visibility, x.kind, x.created_at,
           x.owner, x.encrypted);
}

// The authenticated caller of a request.
struct caller {
  user_id id;
  std::string username;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, caller& x) {
  return f(caf::meta::type_name("confab::caller"), x.id, x.username);
}

struct send_request {
  caller from;
  room_id room;
  std::string body;
  std::string client_msg_id;   // empty: none
  std::uint64_t reply_to = 0;  // 0: none
  std::uint64_t thread = 0;    // the seq whose thread this replies in; 0: none
  std::string file_id;         // empty: none
  // The file's attachment JSON, filled in by the node from file_id (the file
  // may be stored on another node than the room); never from the client.
  std::string attachment;
  std::string e2ee;             // JSON object text (send_command::e2ee); empty: none
  bool encrypted_file = false;  // the attachment's file was uploaded encrypted
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, send_request& x) {
  return f(caf::meta::type_name("confab::send_request"), x.from, x.room, x.body, x.client_msg_id, x.reply_to, x.thread,
           x.file_id, x.attachment, x.e2ee, x.encrypted_file);
}

// One device's public keys in the key directory (PROTOCOL.md section 7),
// base64 as the client published them; empty signing_key / signature:
// absent.
struct device_key {
  std::string device_id;
  std::string identity_key;
  std::string signing_key;
  std::string signature;
  std::int64_t updated_at = 0;  // ms
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, device_key& x) {
  return f(caf::meta::type_name("confab::device_key"), x.device_id, x.identity_key, x.signing_key, x.signature,
           x.updated_at);
}

// The image types that get a thumbnail and are served inline.
[[nodiscard]] inline bool is_image(const std::string& t) {
  return t == "image/png" || t == "image/jpeg" || t == "image/gif" || t == "image/webp";
}

// A stored file. Chunks of chunk_size bytes hold its bytes.
struct file_info {
  static constexpr std::size_t chunk_size = 256 * 1024;
  std::string id;
  std::string name;
  std::uint64_t size = 0;
  std::string content_type;
  std::string sha256;
  room_id room;
  user_id owner;
  std::int64_t created_at = 0;
  std::uint64_t chunks = 0;
  std::uint32_t width = 0;  // images, once the thumbnail is made
  std::uint32_t height = 0;
  bool thumbnail = false;
  // Uploaded with X-Encrypted: 1 (PROTOCOL.md section 7): the bytes are
  // the client's ciphertext; no type is sniffed and no thumbnail made.
  bool encrypted = false;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, file_info& x) {
  return f(caf::meta::type_name("confab::file_info"), x.id, x.name, x.size, x.content_type, x.sha256, x.room, x.owner,
           x.created_at, x.chunks, x.width, x.height, x.thumbnail, x.encrypted);
}

// What a durable send answers: {room, seq, msg_id, ts}, plus the full message
// JSON for the HTTP answer.
struct send_ack {
  room_id room;
  seq_t seq = 0;
  std::string msg_id;
  std::int64_t ts = 0;
  std::string message_json;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, send_ack& x) {
  return f(caf::meta::type_name("confab::send_ack"), x.room, x.seq, x.msg_id, x.ts, x.message_json);
}

struct history_request {
  user_id user;
  room_id room;
  bool has_before = false;  // seq < before
  seq_t before = 0;
  bool has_after = false;  // seq > after; after=0 is "from the start"
  seq_t after = 0;
  std::uint32_t limit = 50;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, history_request& x) {
  return f(caf::meta::type_name("confab::history_request"), x.user, x.room, x.has_before, x.before, x.has_after,
           x.after, x.limit);
}

// Messages as stored: each already its wire JSON.
struct history_page {
  std::vector<std::string> messages;
  bool has_more = false;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, history_page& x) {
  return f(caf::meta::type_name("confab::history_page"), x.messages, x.has_more);
}

struct member_entry {
  user_info user;
  std::string role;  // "owner" | "member"
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, member_entry& x) {
  return f(caf::meta::type_name("confab::member_entry"), x.user, x.role);
}

// One of the caller's rooms with its counters (GET /rooms, the auth reply).
struct my_room {
  room_info room;
  seq_t last_seq = 0;
  seq_t last_read = 0;
  user_id partner;  // the other user of a direct room, else empty
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, my_room& x) {
  return f(caf::meta::type_name("confab::my_room"), x.room, x.last_seq, x.last_read, x.partner);
}

// A search (GET /search, PROTOCOL.md section 9): the caller, the query,
// one room or all (empty), the cursor to go below (empty: the newest), and
// how many.
struct search_request {
  user_id user;
  std::string q;
  room_id room;
  std::string before;
  std::uint32_t limit = 20;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, search_request& x) {
  return f(caf::meta::type_name("confab::search_request"), x.user, x.q, x.room, x.before, x.limit);
}

// One hit: the message as stored now, its room's name, and its sort key
// (newest first when descending; the cursor of the next page).
struct search_result {
  room_id room;
  seq_t seq = 0;
  std::string key;
  std::string message;
  std::string room_name;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, search_result& x) {
  return f(caf::meta::type_name("confab::search_result"), x.room, x.seq, x.key, x.message, x.room_name);
}

struct login_result {
  std::string token;
  std::int64_t expires_at = 0;
  user_info user;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, login_result& x) {
  return f(caf::meta::type_name("confab::login_result"), x.token, x.expires_at, x.user);
}

// A verified access token.
struct token_claims {
  caller who;
  std::string jti;
  std::int64_t issued_at = 0;
  std::int64_t expires_at = 0;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, token_claims& x) {
  return f(caf::meta::type_name("confab::token_claims"), x.who, x.jti, x.issued_at, x.expires_at);
}

struct profile_patch {
  bool set_display_name = false;
  std::string display_name;
  bool set_status_text = false;
  std::string status_text;
  bool set_avatar = false;
  std::string avatar_file_id;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, profile_patch& x) {
  return f(caf::meta::type_name("confab::profile_patch"), x.set_display_name, x.display_name, x.set_status_text,
           x.status_text, x.set_avatar, x.avatar_file_id);
}

// One member of the cluster as the admin API shows it.
struct node_status {
  std::string id;
  std::string address;  // cluster port
  std::string http;     // HTTP port
  std::string status;   // up, suspect, down
  std::uint64_t rooms = 0;
  std::uint64_t sessions = 0;
  std::uint64_t presences = 0;
  std::int64_t uptime_ms = 0;
  std::uint64_t room_events = 0;      // events emitted by rooms held here
  std::uint64_t remote_copies = 0;    // copies of them sent to other nodes' hubs
  std::uint64_t messages = 0;         // messages stored by rooms held here
  std::vector<std::uint64_t> actors;  // live actors, by actor_kinds
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_status& x) {
  return f(caf::meta::type_name("confab::node_status"), x.id, x.address, x.http, x.status, x.rooms, x.sessions,
           x.presences, x.uptime_ms, x.room_events, x.remote_copies, x.messages, x.actors);
}

// The kinds of actors the admin view lists, in the order node_status counts them.
inline const std::vector<std::string>& actor_kinds() {
  static const std::vector<std::string> kinds{
      "room", "session", "presence", "hub", "room_manager", "presence_manager", "account", "reader", "http_frontend"};
  return kinds;
}

// A node's counters as its hub reports them (stats_atom): rooms, room events,
// remote copies, sessions, presences, messages, then one count per actor kind.
inline void fill_node_status(node_status& n, const std::vector<std::uint64_t>& c) {
  if (c.size() < 6)
    return;
  n.rooms = c[0];
  n.room_events = c[1];
  n.remote_copies = c[2];
  n.sessions = c[3];
  n.presences = c[4];
  n.messages = c[5];
  n.actors.assign(c.begin() + 6, c.end());
}

// One actor as the admin view lists it (see api/probe.hpp).
struct actor_info {
  std::string id;
  std::string kind;
  std::string node;
  std::uint64_t mailbox = 0;
  std::uint64_t processed = 0;
  std::int64_t since = 0;
  std::int64_t last_active = 0;
  std::string detail;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, actor_info& x) {
  return f(caf::meta::type_name("confab::actor_info"), x.id, x.kind, x.node, x.mailbox, x.processed, x.since,
           x.last_active, x.detail);
}

// Which actors a listing wants: each node answers its first `limit` in
// `sort` order (and how many matched), the asking node merges them.
struct actor_query {
  std::string kind;  // empty: all
  std::string text;  // lower-case substring of id or detail; empty: all
  std::string sort = "mailbox";
  std::uint64_t limit = 100;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, actor_query& x) {
  return f(caf::meta::type_name("confab::actor_query"), x.kind, x.text, x.sort, x.limit);
}

struct actor_page {
  std::vector<actor_info> actors;
  std::uint64_t total = 0;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, actor_page& x) {
  return f(caf::meta::type_name("confab::actor_page"), x.actors, x.total);
}

// A room as the admin API shows it; owner and replicas are node ids.
struct room_admin {
  room_id room;
  std::string name;
  std::string kind;
  std::string visibility;
  std::string owner;
  std::vector<std::string> replicas;
  std::uint64_t epoch = 0;  // of the owner's term (replicated rooms), else 0
  std::uint64_t members = 0;
  std::vector<user_id> member_ids;
  api::seq_t last_seq = 0;
  std::uint64_t mailbox = 0;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, room_admin& x) {
  return f(caf::meta::type_name("confab::room_admin"), x.room, x.name, x.kind, x.visibility, x.owner, x.replicas,
           x.epoch, x.members, x.member_ids, x.last_seq, x.mailbox);
}

// One piece of a room on its way to a new holder (a handoff): messages in
// seq order, each with its sender's id and client_msg_id so the new holder
// rebuilds the dedupe records; the last piece also carries the room, its
// members and their read markers, and writing it makes the room held there.
struct room_piece {
  room_id room;
  std::vector<seq_t> seqs;
  std::vector<std::string> messages;
  std::vector<user_id> senders;
  std::vector<std::string> client_msg_ids;
  bool last = false;
  room_info info;
  std::vector<user_id> members;
  std::vector<std::string> roles;
  std::vector<seq_t> read_up_to;  // per member, 0: nothing read
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, room_piece& x) {
  return f(caf::meta::type_name("confab::room_piece"), x.room, x.seqs, x.messages, x.senders, x.client_msg_ids, x.last,
           x.info, x.members, x.roles, x.read_up_to);
}

}  // namespace confab::api

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(confab::api::shared_text)
