#pragma once

// Typed interfaces of Confab's actors: each handle says which messages its
// actor takes and what it answers, so a wrong message to it is a compile
// error. An actor whose full interface names types of a lower module
// (cluster's replication log, storage's records) is declared here by the
// part other modules use, and extended where it is made (actors/); the
// larger handle converts to this one.

#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "api/atoms.hpp"
#include "api/ids.hpp"
#include "api/messages.hpp"
#include "api/sinks.hpp"

namespace confab::api {

// A typed handle as messages carry it: handles inside messages (a hub, a
// sync source) travel as caf::actor, and the receiver casts them back.
template <class Handle>
caf::actor untyped(const Handle& h) {
  return caf::actor_cast<caf::actor>(h);
}

// What a room serves, through the room manager of any node, which routes it
// to the room's actor wherever that runs (actors/room_manager.hpp).
using room_service = caf::typed_actor<
    // Creator, name, topic, visibility, encrypted.
    caf::replies_to<create_atom, caller, std::string, std::string, std::string, bool>::with<room_info>,
    caf::replies_to<send_atom, send_request>::with<send_ack>,
    caf::replies_to<join_atom, room_id, caller>::with<room_info>, caf::reacts_to<leave_atom, room_id, caller>,
    caf::reacts_to<invite_atom, room_id, caller, user_info>, caf::reacts_to<typing_atom, room_id, caller, bool>,
    caf::replies_to<read_atom, room_id, caller, seq_t>::with<seq_t, seq_t>,
    caf::replies_to<dm_atom, caller, user_info, bool>::with<room_info>,
    caf::replies_to<history_atom, history_request>::with<history_page>,
    // The thread under a message: its root's JSON and a page of its replies
    // (the request's after and limit; before is not used).
    caf::replies_to<thread_atom, history_request, seq_t>::with<std::string, history_page>,
    caf::replies_to<members_atom, room_id, user_id>::with<std::vector<member_entry>>,
    // Only whether the user is a member: no list (true; empty answer or an error).
    caf::replies_to<members_atom, room_id, user_id, bool>::with<std::vector<member_entry>>,
    caf::replies_to<admin_atom, room_id>::with<room_admin>,
    // Edit (new body, or new e2ee) and delete: the message's new JSON.
    caf::replies_to<edit_atom, room_id, caller, seq_t, std::string, std::string>::with<std::string>,
    caf::replies_to<delete_atom, room_id, caller, seq_t>::with<std::string>,
    caf::replies_to<react_atom, room_id, caller, seq_t, std::string, bool>::with<std::string>,
    // A hub wants the room's events.
    caf::reacts_to<interest_atom, room_id, caf::actor>,
    // Answered once this node holds no room (a drain waits for it).
    caf::replies_to<drain_atom>::with<bool>>;

// One room's actor (actors/room.hpp): the writes the room manager routes to
// it, and its life cycle.
using room_actor = caf::typed_actor<
    caf::replies_to<send_atom, send_request>::with<send_ack>,
    caf::replies_to<join_atom, room_id, caller>::with<room_info>, caf::reacts_to<leave_atom, room_id, caller>,
    caf::reacts_to<invite_atom, room_id, caller, user_info>, caf::reacts_to<typing_atom, room_id, caller, bool>,
    caf::replies_to<read_atom, room_id, caller, seq_t>::with<seq_t, seq_t>,
    caf::replies_to<dm_atom, caller, user_info, bool>::with<room_info>,
    caf::replies_to<create_atom, room_info>::with<room_info>, caf::replies_to<admin_atom, room_id>::with<room_admin>,
    caf::replies_to<edit_atom, room_id, caller, seq_t, std::string, std::string>::with<std::string>,
    caf::replies_to<delete_atom, room_id, caller, seq_t>::with<std::string>,
    caf::replies_to<react_atom, room_id, caller, seq_t, std::string, bool>::with<std::string>,
    // A hub that has nobody in the room any more (hub, generation).
    caf::reacts_to<uninterest_atom, room_id, caf::actor, std::uint64_t>,
    caf::reacts_to<expire_atom>,   // typing ends
    caf::reacts_to<summary_atom>,  // a big room's member changes go out
    caf::reacts_to<tick_atom>,     // idle check
    caf::reacts_to<retire_atom>,   // idle, or its epoch is over
    // The room moves to another node: true once all before it is handled.
    caf::replies_to<handoff_atom>::with<bool>>;

// Presence: a user's status, watchers and notifications, through the
// presence manager of the node that owns the user id
// (actors/presence_manager.hpp).
using presence_service = caf::typed_actor<
    // A session of the user is up (its sender), on the node of this hub.
    caf::reacts_to<session_up_atom, user_id, std::string, caf::actor>,
    caf::reacts_to<status_atom, user_id, std::string>,  // the user chose a status
    // A session (its sender) watches the user: its status JSON now.
    caf::replies_to<watch_atom, user_id, caf::actor>::with<std::string>,
    caf::reacts_to<notify_atom, user_id, std::string>,
    // The status JSON of each user, in order.
    caf::replies_to<get_atom, std::vector<user_id>>::with<std::vector<std::string>>>;

// One user's presence actor (actors/presence.hpp).
using presence_actor = caf::typed_actor<caf::reacts_to<session_up_atom, user_id, std::string, caf::actor>,
                                        caf::reacts_to<status_atom, user_id, std::string>,
                                        caf::replies_to<watch_atom, user_id, caf::actor>::with<std::string>,
                                        caf::reacts_to<notify_atom, user_id, std::string>, caf::reacts_to<retire_atom>,
                                        caf::reacts_to<tick_atom>>;

// Accounts and tokens, served by the account actor of every node
// (actors/account.hpp); a change is made by the owner of the username.
using account_service = caf::typed_actor<
    caf::replies_to<register_atom, std::string, std::string, std::string>::with<user_info>,
    // Many accounts with one password, each logged in (load tests).
    caf::replies_to<register_atom, std::vector<std::string>, std::string>::with<std::vector<login_result>>,
    caf::replies_to<login_atom, std::string, std::string, std::string>::with<login_result>,
    caf::replies_to<verify_atom, std::string>::with<token_claims, user_info>, caf::reacts_to<logout_atom, token_claims>,
    caf::replies_to<profile_atom, user_id, profile_patch>::with<user_info>,
    caf::reacts_to<password_atom, token_claims, std::string, std::string>,
    caf::replies_to<lookup_atom, std::string>::with<user_info>,
    // The key directory (section 7): publish or replace a device's keys,
    // delete one (at the owner of the username), a user's devices (from
    // any node's copy).
    caf::reacts_to<keys_atom, user_id, device_key>, caf::reacts_to<keys_atom, user_id, std::string>,
    caf::replies_to<keys_atom, std::string>::with<std::vector<device_key>>,
    // Copy every user and revocation from the account actor of a node this
    // one joined: how many users were copied.
    caf::replies_to<sync_atom, caf::actor>::with<std::uint64_t>>;

// A node's query pool (actors/reader.hpp): reads straight from its store,
// and the lists gathered from every node's pool (the last `bool`: this
// node's part only).
using reader_service =
    caf::typed_actor<caf::replies_to<history_atom, history_request>::with<history_page>,
                     caf::replies_to<thread_atom, history_request, seq_t>::with<std::string, history_page>,
                     caf::replies_to<members_atom, room_id, user_id>::with<std::vector<member_entry>>,
                     caf::replies_to<members_atom, room_id, user_id, bool>::with<std::vector<member_entry>>,
                     // A user's rooms; the hub gets their events from now on.
                     caf::replies_to<my_rooms_atom, user_id, caf::actor>::with<std::vector<my_room>>,
                     caf::replies_to<my_rooms_atom, user_id, caf::actor, bool>::with<std::vector<my_room>>,
                     caf::replies_to<public_atom, std::string, std::uint32_t>::with<std::vector<room_info>>,
                     // Search (PROTOCOL.md section 9): up to limit + 1 hits of
                     // every node, newest first; a node's own part (the bool).
                     caf::replies_to<search_atom, search_request>::with<std::vector<search_result>>,
                     caf::replies_to<search_atom, search_request, bool>::with<std::vector<search_result>>,
                     caf::replies_to<public_atom, std::string, std::uint32_t, bool>::with<std::vector<room_info>>,
                     // Admin view: this node's actors, a user's sessions here, a kick.
                     caf::replies_to<actors_atom, actor_query>::with<actor_page>,
                     caf::replies_to<sessions_atom, user_id>::with<std::vector<actor_info>>,
                     caf::replies_to<kick_atom, std::string>::with<bool>,
                     // Files stored on this node, and copies other nodes hand it.
                     caf::replies_to<info_atom, std::string>::with<file_info>,
                     caf::replies_to<chunk_atom, std::string, std::uint64_t>::with<std::string>,
                     caf::replies_to<chunk_atom, std::string, std::uint64_t, std::string>::with<bool>,
                     caf::replies_to<finish_atom, file_info>::with<bool>,
                     // The message of a file was deleted: its copy here goes.
                     caf::reacts_to<delete_atom, std::string>,
                     caf::replies_to<thumb_atom, std::string>::with<std::string>,
                     // An upload to this node: the actor the body goes to, once
                     // the declared length (if any) fits the owner's quota here.
                     caf::replies_to<upload_atom, file_info, std::string, bool, std::uint64_t>::with<caf::actor>>;

// A node's HTTP frontends (gateway/http_frontend.hpp, and the admin
// frontend it hands /admin/ and /metrics to): a call net/ parsed, and where
// its answer goes.
using http_service = caf::typed_actor<caf::reacts_to<http_atom, http_call, responder_ptr>>;

// A node's hub (actors/hub.hpp): the sessions of the node, and what reaches
// them. Events come as one shared buffer from this node, as a string from
// others.
using hub_actor =
    caf::typed_actor<caf::reacts_to<subscribe_atom, user_id, sink_ptr>,  // from a session
                     caf::reacts_to<ready_atom, std::vector<room_id>, std::vector<seq_t>>,
                     // A room's event: (room, seq, user it skips, interest generation, event).
                     caf::reacts_to<event_atom, room_id, seq_t, user_id, std::uint64_t, shared_text>,
                     caf::reacts_to<event_atom, room_id, seq_t, user_id, std::uint64_t, std::string>,
                     caf::reacts_to<session_event_atom, caf::actor_addr, shared_text>,
                     caf::reacts_to<session_event_atom, caf::actor_addr, std::string>,
                     caf::reacts_to<user_event_atom, user_id, shared_text>,
                     caf::reacts_to<user_event_atom, user_id, std::string>, caf::reacts_to<view_atom>,
                     // The node's counters (fill_node_status in api/messages.hpp says which).
                     caf::replies_to<stats_atom>::with<std::vector<std::uint64_t>>,
                     caf::reacts_to<dm_atom, user_id, user_id>,  // a direct room was made
                     // A token was revoked (user, jti), or all before a time but one.
                     caf::reacts_to<revoke_atom, user_id, std::string>,
                     caf::reacts_to<revoke_atom, user_id, std::int64_t, std::string>,
                     caf::reacts_to<membership_atom, room_id, user_id, bool>, caf::reacts_to<shutdown_atom>>;

// A client's session (actors/session.hpp): its socket's frames, and what the
// node tells it.
using session_actor =
    caf::typed_actor<caf::reacts_to<frame_atom, std::string>,  // a text frame from the client
                     caf::reacts_to<closed_atom>,              // the socket closed
                     caf::reacts_to<timeout_atom>,             // the time to authenticate is up
                     caf::reacts_to<tick_atom>,                // look at sends that wait
                     // A token was revoked (jti), or all issued before a time but one.
                     caf::reacts_to<revoke_atom, std::string>, caf::reacts_to<revoke_atom, std::int64_t, std::string>,
                     caf::reacts_to<expire_atom>,           // the token expired
                     caf::reacts_to<kick_atom>,             // an admin ends the session
                     caf::reacts_to<view_atom>,             // the cluster changed
                     caf::reacts_to<watch_atom, user_id>>;  // a direct room with this user was made

// Node-local workers. A password hasher (actors/hasher.hpp): a hash of a
// new password, and whether a password matches a stored hash.
using hasher_actor = caf::typed_actor<caf::replies_to<hash_atom, std::string>::with<std::string>,
                                      caf::replies_to<check_atom, std::string, std::string>::with<bool>>;
// The group commit (actors/syncer.hpp): the store's write count `ticket`
// is durable once it answers (with the count it made durable).
using syncer_actor = caf::typed_actor<caf::replies_to<fsync_atom, std::uint64_t>::with<std::uint64_t>>;
// Thumbnails of image files (actors/thumbnailer.hpp), by file id.
using thumbnailer_actor = caf::typed_actor<caf::reacts_to<thumb_atom, std::string>>;
// The push webhook's queue (actors/pusher.hpp): a body to post; the
// transport's answer and the retry timer come back to it.
using pusher_actor = caf::typed_actor<caf::reacts_to<push_atom, std::string>, caf::reacts_to<pushed_atom, bool>,
                                      caf::reacts_to<retry_atom>>;

}  // namespace confab::api
