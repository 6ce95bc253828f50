#pragma once

// The admin API's bodies (PROTOCOL.md section 4): the cluster's nodes, a
// room's view, actor pages, a user with sessions, node actions, bulk users.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "api/messages.hpp"
#include "wire/codec.hpp"

namespace confab::wire {

// Whether a presence JSON text (wire::presence_json) says anything but offline.
[[nodiscard]] bool is_online(const std::string& presence_json);

// {nodes: [{id, address, http, status, rooms, ..., actors: {kind: n}}]}
[[nodiscard]] std::string nodes_json(const std::vector<api::node_status>& nodes);
// {room, name, kind, visibility, owner, replicas, epoch, members,
// online_members, last_seq, mailbox}
[[nodiscard]] std::string room_admin_json(const api::room_admin& r, std::size_t online);
// {actors: [...], total, offset, limit}
[[nodiscard]] std::string actor_page_json(const std::vector<api::actor_info>& actors, std::uint64_t total,
                                          std::uint64_t offset, std::uint64_t limit);
// {user, presence, sessions: [{id, node, since, remote}]}; the session's
// detail is its remote address.
[[nodiscard]] std::string admin_user_json(const api::user_info& user, const std::string& presence_json,
                                          const std::vector<api::actor_info>& sessions);
// {node, status}: a drain or remove accepted.
[[nodiscard]] std::string node_action_json(const std::string& node, const std::string& status);

// POST /admin/users: {usernames: [1..max names], password}.
struct bulk_users {
  std::vector<std::string> usernames;
  std::string password;
};
[[nodiscard]] caf::expected<bulk_users> decode_bulk_users(const json& body, std::size_t max);
// {users: [{user, token, expires_at}]}
[[nodiscard]] std::string bulk_users_json(const std::vector<api::login_result>& made);

}  // namespace confab::wire
