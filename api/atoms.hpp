#pragma once

// Atoms of Confab's actor messages (at most 10 characters each).

#include <caf/atom.hpp>

namespace confab::api {

// session <-> connection bridge
using frame_atom = caf::atom_constant<caf::atom("frame")>;
using closed_atom = caf::atom_constant<caf::atom("closed")>;
using timeout_atom = caf::atom_constant<caf::atom("timeout")>;
// rooms
using send_atom = caf::atom_constant<caf::atom("send")>;
using join_atom = caf::atom_constant<caf::atom("join")>;
using leave_atom = caf::atom_constant<caf::atom("leave")>;
using invite_atom = caf::atom_constant<caf::atom("invite")>;
using create_atom = caf::atom_constant<caf::atom("create")>;
using dm_atom = caf::atom_constant<caf::atom("dm")>;
using idle_atom = caf::atom_constant<caf::atom("idle")>;
using retire_atom = caf::atom_constant<caf::atom("retire")>;
// A big room sends the member changes of the last second (actors/room.cpp).
using summary_atom = caf::atom_constant<caf::atom("summary")>;
using info_atom = caf::atom_constant<caf::atom("info")>;
// reads
using history_atom = caf::atom_constant<caf::atom("history")>;
using members_atom = caf::atom_constant<caf::atom("members")>;
using my_rooms_atom = caf::atom_constant<caf::atom("myrooms")>;
using public_atom = caf::atom_constant<caf::atom("public")>;
// hub
using subscribe_atom = caf::atom_constant<caf::atom("subscribe")>;
using session_event_atom = caf::atom_constant<caf::atom("sessevent")>;
using ready_atom = caf::atom_constant<caf::atom("ready")>;
using unsub_atom = caf::atom_constant<caf::atom("unsub")>;
using event_atom = caf::atom_constant<caf::atom("event")>;
using user_event_atom = caf::atom_constant<caf::atom("userevent")>;
using membership_atom = caf::atom_constant<caf::atom("membership")>;
using shutdown_atom = caf::atom_constant<caf::atom("shutdown")>;
// accounts
using register_atom = caf::atom_constant<caf::atom("register")>;
using login_atom = caf::atom_constant<caf::atom("login")>;
using logout_atom = caf::atom_constant<caf::atom("logout")>;
using verify_atom = caf::atom_constant<caf::atom("verify")>;
using lookup_atom = caf::atom_constant<caf::atom("lookup")>;
using profile_atom = caf::atom_constant<caf::atom("profile")>;
using keys_atom = caf::atom_constant<caf::atom("keys")>;
using password_atom = caf::atom_constant<caf::atom("password")>;
using hash_atom = caf::atom_constant<caf::atom("hash")>;
using check_atom = caf::atom_constant<caf::atom("check")>;
// presence, typing, read markers, notifications
using presence_atom = caf::atom_constant<caf::atom("presence")>;
using session_up_atom = caf::atom_constant<caf::atom("sessionup")>;
using status_atom = caf::atom_constant<caf::atom("status")>;
using watch_atom = caf::atom_constant<caf::atom("watch")>;
using get_atom = caf::atom_constant<caf::atom("get")>;
using notify_atom = caf::atom_constant<caf::atom("notify")>;
using typing_atom = caf::atom_constant<caf::atom("typing")>;
using expire_atom = caf::atom_constant<caf::atom("expire")>;
using read_atom = caf::atom_constant<caf::atom("read")>;
using push_atom = caf::atom_constant<caf::atom("push")>;
using pushed_atom = caf::atom_constant<caf::atom("pushed")>;
using retry_atom = caf::atom_constant<caf::atom("retry")>;
// files
using chunk_atom = caf::atom_constant<caf::atom("chunk")>;
using finish_atom = caf::atom_constant<caf::atom("finish")>;
using abort_atom = caf::atom_constant<caf::atom("abort")>;
using thumb_atom = caf::atom_constant<caf::atom("thumb")>;
using upload_atom = caf::atom_constant<caf::atom("upload")>;
// http
using http_atom = caf::atom_constant<caf::atom("http")>;
// cluster: node links, membership, routing between nodes
using challenge_atom = caf::atom_constant<caf::atom("challenge")>;
using hello_atom = caf::atom_constant<caf::atom("hello")>;
using admit_atom = caf::atom_constant<caf::atom("admit")>;
using ping_atom = caf::atom_constant<caf::atom("ping")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using view_atom = caf::atom_constant<caf::atom("view")>;
using wait_atom = caf::atom_constant<caf::atom("wait")>;
using stats_atom = caf::atom_constant<caf::atom("stats")>;
using nodes_atom = caf::atom_constant<caf::atom("nodes")>;
using sync_atom = caf::atom_constant<caf::atom("sync")>;
using fsync_atom = caf::atom_constant<caf::atom("fsync")>;
using replicate_atom = caf::atom_constant<caf::atom("replicate")>;
using revoke_atom = caf::atom_constant<caf::atom("revoke")>;
using expire_atom = caf::atom_constant<caf::atom("expire")>;
using holds_atom = caf::atom_constant<caf::atom("holds")>;
using forward_atom = caf::atom_constant<caf::atom("forward")>;
using interest_atom = caf::atom_constant<caf::atom("interest")>;
using uninterest_atom = caf::atom_constant<caf::atom("uninterest")>;
using admin_atom = caf::atom_constant<caf::atom("admin")>;
using handoff_atom = caf::atom_constant<caf::atom("handoff")>;
// admin: actor listing, kicks, drains
using actors_atom = caf::atom_constant<caf::atom("actors")>;
using sessions_atom = caf::atom_constant<caf::atom("sessions")>;
using kick_atom = caf::atom_constant<caf::atom("kick")>;
using drain_atom = caf::atom_constant<caf::atom("drain")>;
using leave_atom = caf::atom_constant<caf::atom("leave")>;
// replicated rooms (docs/REPLICATION.md)
using prepare_atom = caf::atom_constant<caf::atom("prepare")>;
using append_atom = caf::atom_constant<caf::atom("append")>;
using take_atom = caf::atom_constant<caf::atom("take")>;
using fetch_atom = caf::atom_constant<caf::atom("fetch")>;
using peers_atom = caf::atom_constant<caf::atom("peers")>;
using write_atom = caf::atom_constant<caf::atom("write")>;
using resign_atom = caf::atom_constant<caf::atom("resign")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using replace_atom = caf::atom_constant<caf::atom("replace")>;
using repair_atom = caf::atom_constant<caf::atom("repair")>;
using copies_atom = caf::atom_constant<caf::atom("copies")>;
using remove_atom = caf::atom_constant<caf::atom("remove")>;
using dropped_atom = caf::atom_constant<caf::atom("dropped")>;
// edits and deletes of messages (PROTOCOL.md section 8); delete also drops a file
using edit_atom = caf::atom_constant<caf::atom("edit")>;
using delete_atom = caf::atom_constant<caf::atom("delete")>;
using react_atom = caf::atom_constant<caf::atom("react")>;
// a page of a thread's replies
using thread_atom = caf::atom_constant<caf::atom("thread")>;
// full-text search of messages
using search_atom = caf::atom_constant<caf::atom("search")>;

}  // namespace confab::api
