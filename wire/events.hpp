#pragma once

// The data of the events actors emit besides messages (PROTOCOL.md section
// 3: member, typing, notification, presence), the push webhook's body, and
// the fields the room reads back from a stored message. Actors pass plain
// values and get text: they never see JSON.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <caf/expected.hpp>

#include "api/ids.hpp"
#include "api/messages.hpp"

namespace confab::wire {

// {room, user, action}: action is "joined", "left" or "invited".
[[nodiscard]] std::string member_event_json(const api::room_id& room, const std::string& username, const char* action);
// A big room's member changes of the last second: {room, members, changes:
// [{user, action}], more}; `changes` lists the first ones, `more` counts the rest.
[[nodiscard]] std::string member_summary_json(const api::room_id& room, std::size_t members,
                                              const std::vector<std::pair<std::string, std::string>>& changes,
                                              std::uint64_t more);
// {room, user, active}
[[nodiscard]] std::string typing_event_json(const api::room_id& room, const std::string& username, bool active);
// {room, seq, from, reason, preview?}: the preview is the body's first 100
// code points; none for an encrypted message (no body: nullopt).
[[nodiscard]] std::string notification_json(const api::room_id& room, api::seq_t seq, const std::string& from,
                                            const char* reason, const std::optional<std::string>& body);
// {status, last_seen?}: last_seen (ms) only when offline and known.
[[nodiscard]] std::string presence_json(const std::string& status, std::int64_t last_seen);
// {user, status, last_seen?}: the presence event.
[[nodiscard]] std::string presence_event_json(const std::string& username, const std::string& status,
                                              std::int64_t last_seen);
// {user, notification}: what the push webhook gets for a user with no
// session; notification_json is already encoded.
[[nodiscard]] std::string push_json(const std::string& username, const std::string& notification_json);

// The ack of a stored message (a retried client_msg_id): its msg_id and ts
// read from the stored text, which the ack carries whole; unavailable when
// the text is not a JSON object.
[[nodiscard]] caf::expected<api::send_ack> stored_ack(const api::room_id& room, api::seq_t seq, std::string text);

// A stored message after an edit (PROTOCOL.md section 8): the new body, or
// the new e2ee object (then the body stays absent), and edited_at (ms).
// forbidden unless `editor` sent it; invalid_request when it is deleted.
[[nodiscard]] caf::expected<std::string> edited_message(std::string_view stored, const std::string& editor,
                                                        const std::string& body, const std::string& e2ee,
                                                        std::int64_t now);
// A stored message after a delete: deleted: true, no body, file or e2ee.
struct deleted_message {
  std::string text;
  std::string file_id;   // the file it had (its bytes go too), or empty
  bool changed = false;  // false: it was deleted already
};
// forbidden unless `deleter` sent it or `owner` (the room's owner) is set.
[[nodiscard]] caf::expected<deleted_message> delete_message(std::string_view stored, const std::string& deleter,
                                                            bool owner);
// A stored message after `username`'s reaction `emoji` was added (active)
// or removed; nullopt when that changes nothing (doing it twice). The
// stored reactions keep every user; client_message shows at most 20.
// invalid_request for a deleted message.
[[nodiscard]] caf::expected<std::optional<std::string>> reacted_message(std::string_view stored,
                                                                        const std::string& username,
                                                                        const std::string& emoji, bool active);
// Threads (PROTOCOL.md section 8). A root's stored JSON keeps the seqs of
// all its replies (thread_replies, never shown to clients) and its
// thread_summary {replies, last_ts, participants}: replies and last_ts
// count the replies that are not deleted, participants are their senders
// (each once, in order of their first reply, at most 20).
// The thread a stored message replies in (its root's seq), or 0.
[[nodiscard]] api::seq_t thread_of(std::string_view stored);
// The seqs of a root's replies, in order (none for a message without).
[[nodiscard]] std::vector<api::seq_t> thread_replies(std::string_view stored);
// The root after reply `seq` from `username` at `ts` was added; the same
// text when it is counted already (applying it twice changes nothing);
// invalid_request for a deleted message that has no thread yet.
[[nodiscard]] caf::expected<std::string> thread_added(std::string_view root, api::seq_t seq,
                                                      const std::string& username, std::int64_t ts);
// The root with its summary counted again from its replies' stored JSON
// (after one was deleted): no thread_summary once none is left.
[[nodiscard]] caf::expected<std::string> thread_recounted(std::string_view root,
                                                          const std::vector<std::string>& replies);
// A stored message as clients get it: each reaction's users cut to the
// first 20 (its count stays the number of all of them), a root's
// thread_replies left out.
[[nodiscard]] std::string client_message(std::string stored);
// The ok of `edit` ({room, seq, edited_at}) or `delete` ({room, seq}),
// from the message's new JSON.
[[nodiscard]] std::string update_reply_json(std::string_view message, bool edit);
// GET /rooms/{room}/threads/{seq}: {root, messages, has_more}, every
// message as client_message shows it.
[[nodiscard]] std::string thread_page_json(std::string root, const api::history_page& page);

}  // namespace confab::wire
