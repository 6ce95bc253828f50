#include "gateway/http_frontend.hpp"

#include <algorithm>

#include <caf/event_based_actor.hpp>

#include "api/atoms.hpp"
#include "api/clock.hpp"
#include "api/errors.hpp"
#include "api/hex.hpp"
#include "api/metrics.hpp"
#include "api/sinks.hpp"
#include "gateway/admin_frontend.hpp"
#include "gateway/byte_range.hpp"
#include "gateway/command_path.hpp"
#include "gateway/file_chunks.hpp"
#include "gateway/file_names.hpp"
#include "gateway/find_file.hpp"
#include "gateway/http_exchange.hpp"
#include "gateway/presence_query.hpp"
#include "gateway/static_files.hpp"
#include "wire/codec.hpp"
#include "wire/commands.hpp"

namespace confab::gateway {

using api::errc;
using api::fail;

namespace {

using self_ptr = http_frontend_self*;
constexpr auto request_timeout = std::chrono::seconds(10);

// Reads a non-negative integer query parameter; answers 400 on junk.
bool query_seq(const exchange& ex, const char* key, std::uint64_t& out) {
  std::optional<std::uint64_t> value;
  std::string error;
  if (!wire::query_number(ex.query, key, value, error)) {
    ex.bad(error);
    return false;
  }
  out = value.value_or(out);
  return true;
}

template <class F>
void with_auth(self_ptr self, const exchange_ptr& ex, F f) {
  const auto& h = ex->call.authorization;
  static const std::string bearer = "Bearer ";
  if (h.size() <= bearer.size() || h.compare(0, bearer.size(), bearer) != 0)
    return ex->respond_error(fail(errc::unauthorized, "missing bearer token"));
  self->request(self->state.ctx->place->self().accounts, request_timeout, api::verify_atom::value,
                h.substr(bearer.size()))
      .then([=](const api::token_claims& c, const api::user_info& u) { f(c, u); },
            [=](caf::error&) { ex->respond_error(fail(errc::unauthorized, "invalid or revoked token")); });
}

// Resolves a username, then calls f with its user.
template <class F>
void with_user(self_ptr self, const exchange_ptr& ex, const std::string& username, F f) {
  self->request(self->state.ctx->place->account(username), request_timeout, api::lookup_atom::value, username)
      .then([=](const api::user_info& u) { f(u); }, [=](caf::error& err) { ex->respond_error(err); });
}

// Calls f with the presence ({status, last_seen?} JSON) of each of `users`.
template <class F>
void with_presence(self_ptr self, std::vector<api::user_id> users, F f) {
  query_presence(self, *self->state.ctx->place, std::move(users), f);
}

// An authenticated call's handler.
struct authed {
  api::token_claims who;
  api::user_info user;
};

// Counts one attempt of `key` in `window`; false once it answered 429 with
// `why` and when to retry.
bool within(api::attempt_window& window, const exchange_ptr& ex, const std::string& key, const std::string& why) {
  auto now = api::now_ms();
  if (auto wait = window.wait_ms(key, now); wait > 0) {
    ex->respond_error(fail(errc::rate_limited, why, static_cast<std::uint64_t>(wait)));
    return false;
  }
  window.record(key, now);
  return true;
}

// Per-user limits on what reaches other people (--rooms-per-min,
// --invites-per-min, --dms-per-min, per node).
bool within(api::attempt_window& window, const exchange_ptr& ex, const authed& a, const char* what) {
  return within(window, ex, a.who.who.id.value, std::string("too many ") + what + " this minute");
}

void register_user(self_ptr self, const exchange_ptr& ex) {
  auto cmd = wire::decode_register(ex->body);
  if (!cmd)
    return ex->respond_error(cmd.error());
  // Every attempt counts, valid or not: a flood from one address stops here.
  if (!within(self->state.registrations, ex, ex->call.remote, "too many registrations from this address"))
    return;
  self->request(self->state.ctx->place->account(cmd->username), request_timeout, api::register_atom::value,
                cmd->username, cmd->password, cmd->display_name)
      .then([=](const api::user_info& u) { ex->respond(201, wire::user_reply_json(u)); },
            [=](caf::error& err) { ex->respond_error(err); });
}

void login(self_ptr self, const exchange_ptr& ex) {
  auto cmd = wire::decode_login(ex->body);
  if (!cmd)
    return ex->respond_error(cmd.error());
  self->request(self->state.ctx->place->account(cmd->username), request_timeout, api::login_atom::value, cmd->username,
                cmd->password, ex->call.remote)
      .then([=](const api::login_result& r) { ex->respond(200, wire::login_reply_json(r)); },
            [=](caf::error& err) { ex->respond_error(err); });
}

void logout(self_ptr self, const exchange_ptr& ex, const authed& a) {
  self->request(self->state.ctx->place->account(a.who.who.username), request_timeout, api::logout_atom::value, a.who)
      .then([=]() { ex->respond(204); }, [=](caf::error& err) { ex->respond_error(err); });
}

void patch_me(self_ptr self, const exchange_ptr& ex, const authed& a) {
  auto patch = wire::decode_profile_patch(ex->body);
  if (!patch)
    return ex->respond_error(patch.error());
  self->request(self->state.ctx->place->account(a.who.who.username), request_timeout, api::profile_atom::value,
                a.who.who.id, *patch)
      .then([=](const api::user_info& u) { ex->respond(200, wire::user_reply_json(u)); },
            [=](caf::error& err) { ex->respond_error(err); });
}

void change_password(self_ptr self, const exchange_ptr& ex, const authed& a) {
  auto cmd = wire::decode_password_change(ex->body);
  if (!cmd)
    return ex->respond_error(cmd.error());
  self->request(self->state.ctx->place->account(a.who.who.username), request_timeout, api::password_atom::value, a.who,
                cmd->old_password, cmd->new_password)
      .then([=]() { ex->respond(204); }, [=](caf::error& err) { ex->respond_error(err); });
}

void get_user(self_ptr self, const exchange_ptr& ex, const authed&) {
  with_user(self, ex, ex->path[3], [=](const api::user_info& u) {
    with_presence(self, {u.id}, [=](const std::vector<std::string>& presence) {
      ex->respond(200, wire::user_presence_json(u, presence.at(0)));
    });
  });
}

void open_dm(self_ptr self, const exchange_ptr& ex, const authed& a) {
  auto cmd = wire::decode_dm(ex->body);
  if (!cmd)
    return ex->respond_error(cmd.error());
  if (!within(self->state.dms, ex, a, "direct rooms opened"))
    return;
  auto encrypted = cmd->encrypted;
  with_user(self, ex, cmd->username, [=](const api::user_info& other) {
    self->request(self->state.ctx->place->self().rooms, request_timeout, api::dm_atom::value, a.who.who, other,
                  encrypted)
        .then([=](const api::room_info& r) { ex->respond(200, wire::room_reply_json(r)); },
              [=](caf::error& err) { ex->respond_error(err); });
  });
}

// The key directory (PROTOCOL.md section 7): a device's keys change at the
// owner of the username; any node answers a read from its copy.
void put_device(self_ptr self, const exchange_ptr& ex, const authed& a) {
  auto keys = wire::decode_device_keys(ex->body, ex->path[4]);
  if (!keys)
    return ex->respond_error(keys.error());
  self->request(self->state.ctx->place->account(a.who.who.username), request_timeout, api::keys_atom::value,
                a.who.who.id, std::move(*keys))
      .then([=]() { ex->respond(204); }, [=](caf::error& err) { ex->respond_error(err); });
}

void delete_device(self_ptr self, const exchange_ptr& ex, const authed& a) {
  self->request(self->state.ctx->place->account(a.who.who.username), request_timeout, api::keys_atom::value,
                a.who.who.id, ex->path[4])
      .then([=]() { ex->respond(204); }, [=](caf::error& err) { ex->respond_error(err); });
}

void get_keys(self_ptr self, const exchange_ptr& ex, const authed&) {
  self->request(self->state.ctx->place->self().accounts, request_timeout, api::keys_atom::value, ex->path[3])
      .then([=](const std::vector<api::device_key>& devices) { ex->respond(200, wire::devices_json(devices)); },
            [=](caf::error& err) { ex->respond_error(err); });
}

void create_room(self_ptr self, const exchange_ptr& ex, const authed& a) {
  auto cmd = wire::decode_create_room(ex->body);
  if (!cmd)
    return ex->respond_error(cmd.error());
  if (!within(self->state.room_creations, ex, a, "rooms created"))
    return;
  self->request(self->state.ctx->place->self().rooms, request_timeout, api::create_atom::value, a.who.who, cmd->name,
                cmd->topic, cmd->visibility, cmd->encrypted)
      .then([=](const api::room_info& r) { ex->respond(201, wire::room_reply_json(r)); },
            [=](caf::error& err) { ex->respond_error(err); });
}

void my_rooms(self_ptr self, const exchange_ptr& ex, const authed& a) {
  self->request(self->state.ctx->place->reader(), request_timeout, api::my_rooms_atom::value, a.who.who.id,
                caf::actor{})
      .then([=](const std::vector<api::my_room>& rooms) { ex->respond(200, wire::my_rooms_json(rooms)); },
            [=](caf::error& err) { ex->respond_error(err); });
}

// Pages by room id: `after` is the last id of the page before.
void public_rooms(self_ptr self, const exchange_ptr& ex, const authed&) {
  std::uint64_t limit = 100;
  if (!query_seq(*ex, "limit", limit))
    return;
  if (limit < 1 || limit > 500)
    return ex->bad("limit must be 1-500");
  auto it = ex->query.find("after");
  std::string after = it == ex->query.end() ? std::string() : it->second;
  self->request(self->state.ctx->place->reader(), request_timeout, api::public_atom::value, after,
                static_cast<std::uint32_t>(limit))
      .then([=](const std::vector<api::room_info>& rooms) { ex->respond(200, wire::rooms_json(rooms)); },
            [=](caf::error& err) { ex->respond_error(err); });
}

// The sender's own send limit covers edits and deletes too.
bool over_send_limit(self_ptr self, const exchange_ptr& ex, const authed& a) {
  auto& st = self->state;
  auto [it, fresh] = st.send_buckets.try_emplace(a.who.who.id);
  if (fresh)
    it->second.configure(st.ctx->lim.rate_per_s, st.ctx->lim.rate_burst, api::now_ms());
  if (auto wait = it->second.take(api::now_ms()); wait > 0) {
    ex->respond_error(fail(errc::rate_limited, "too many messages", wait));
    return true;
  }
  return false;
}

void post_message(self_ptr self, const exchange_ptr& ex, const authed& a) {
  auto& st = self->state;
  auto cmd = wire::decode_send(ex->body, api::room_id{ex->path[3]}, {st.ctx->lim.max_body_chars, false});
  if (!cmd)
    return ex->respond_error(cmd.error());
  if (over_send_limit(self, ex, a))
    return;
  submit_send(self, st.ctx->place, a.who.who, std::move(*cmd), caf::duration{request_timeout},
              [ex](caf::expected<api::send_ack> ack) {
                if (!ack)
                  return ex->respond_error(ack.error());
                ex->respond(201, R"({"message":)" + ack->message_json + "}");
              });
}

// The seq in /rooms/{room}/messages/{seq}, or why it is none.
caf::expected<api::seq_t> path_seq(const exchange_ptr& ex) {
  const auto& s = ex->path[5];
  if (s.empty() || s.size() > 19 || s.find_first_not_of("0123456789") != std::string::npos || s[0] == '0')
    return fail(errc::invalid_request, "the path names no message seq");
  return api::seq_t{std::stoull(s)};
}

void patch_message(self_ptr self, const exchange_ptr& ex, const authed& a) {
  auto& st = self->state;
  api::room_id room{ex->path[3]};
  auto seq = path_seq(ex);
  if (!seq)
    return ex->respond_error(seq.error());
  auto cmd = wire::decode_edit(ex->body, room, *seq, st.ctx->lim.max_body_chars);
  if (!cmd)
    return ex->respond_error(cmd.error());
  if (over_send_limit(self, ex, a))
    return;
  self->request(st.ctx->place->room(room), request_timeout, api::edit_atom::value, room, a.who.who, *seq, cmd->body,
                cmd->e2ee)
      .then([ex](const std::string& m) { ex->respond(200, R"({"message":)" + m + "}"); },
            [ex](caf::error& err) { ex->respond_error(err); });
}

void delete_message(self_ptr self, const exchange_ptr& ex, const authed& a) {
  api::room_id room{ex->path[3]};
  auto seq = path_seq(ex);
  if (!seq)
    return ex->respond_error(seq.error());
  if (over_send_limit(self, ex, a))
    return;
  self->request(self->state.ctx->place->room(room), request_timeout, api::delete_atom::value, room, a.who.who, *seq)
      .then([ex](const std::string&) { ex->respond(204); }, [ex](caf::error& err) { ex->respond_error(err); });
}

// PUT (add) and DELETE (remove) /rooms/{room}/messages/{seq}/reactions/{emoji}.
void react(self_ptr self, const exchange_ptr& ex, const authed& a) {
  api::room_id room{ex->path[3]};
  auto seq = path_seq(ex);
  if (!seq)
    return ex->respond_error(seq.error());
  auto cmd = wire::react_of(room, *seq, url_decode(ex->path[7], false), ex->call.method == "PUT");
  if (!cmd)
    return ex->respond_error(cmd.error());
  if (over_send_limit(self, ex, a))
    return;
  self->request(self->state.ctx->place->room(room), request_timeout, api::react_atom::value, room, a.who.who, *seq,
                cmd->emoji, cmd->active)
      .then([ex](const std::string&) { ex->respond(204); }, [ex](caf::error& err) { ex->respond_error(err); });
}

void get_messages(self_ptr self, const exchange_ptr& ex, const authed& a) {
  auto cmd = wire::decode_history_query(ex->query, api::room_id{ex->path[3]}, self->state.ctx->lim.history_max);
  if (!cmd)
    return ex->respond_error(cmd.error());
  submit_history(self, *self->state.ctx->place, a.who.who.id, *cmd, caf::duration{request_timeout},
                 [ex](caf::expected<api::history_page> page) {
                   if (!page)
                     return ex->respond_error(page.error());
                   ex->respond(200, wire::history_page_json(*page));
                 });
}

// GET /rooms/{room}/threads/{seq}?after=&limit=: the root and a page of
// its replies, oldest first.
void get_thread(self_ptr self, const exchange_ptr& ex, const authed& a) {
  auto seq = path_seq(ex);
  if (!seq)
    return ex->respond_error(seq.error());
  auto cmd = wire::decode_history_query(ex->query, api::room_id{ex->path[3]}, self->state.ctx->lim.history_max);
  if (!cmd)
    return ex->respond_error(cmd.error());
  if (cmd->has_before)
    return ex->respond_error(fail(errc::invalid_request, "a thread pages with after, not before"));
  api::history_request h{a.who.who.id, cmd->room, false, 0, cmd->has_after, cmd->after, cmd->limit};
  self->request(self->state.ctx->place->room(cmd->room), request_timeout, api::thread_atom::value, h, *seq)
      .then([ex](std::string& root,
                 const api::history_page& page) { ex->respond(200, wire::thread_page_json(std::move(root), page)); },
            [ex](caf::error& err) { ex->respond_error(err); });
}

// GET /search?q=&room=&limit=&before=: every node's hits in the caller's
// rooms, newest first (PROTOCOL.md section 9).
void get_search(self_ptr self, const exchange_ptr& ex, const authed& a) {
  std::map<std::string, std::string> decoded;
  for (auto& [k, v] : ex->query)
    decoded[k] = url_decode(v);
  auto req = wire::decode_search_query(decoded);
  if (!req)
    return ex->respond_error(req.error());
  req->user = a.who.who.id;
  auto limit = req->limit;
  self->request(self->state.ctx->place->reader(), request_timeout, api::search_atom::value, *req)
      .then([ex, limit](
                const std::vector<api::search_result>& hits) { ex->respond(200, wire::search_page_json(hits, limit)); },
            [ex](caf::error& err) { ex->respond_error(err); });
}

// Every member, or with `limit` (1-1000) a page by username: those after
// `after`, and `next` (the page's last name) when more follow.
void get_members(self_ptr self, const exchange_ptr& ex, const authed& a) {
  api::room_id room{ex->path[3]};
  std::uint64_t limit = 0;
  if (!query_seq(*ex, "limit", limit))
    return;
  auto paged = ex->query.count("limit") > 0 || ex->query.count("after") > 0;
  if (paged && ex->query.count("limit") == 0)
    limit = 100;
  if (paged && (limit < 1 || limit > 1000))
    return ex->bad("limit must be 1-1000");
  auto it = ex->query.find("after");
  std::string after = it == ex->query.end() ? std::string() : it->second;
  self->request(self->state.ctx->place->room(room), request_timeout, api::members_atom::value, room, a.who.who.id)
      .then(
          [=](std::vector<api::member_entry>& members) {
            std::string next;
            if (paged) {
              std::sort(members.begin(), members.end(),
                        [](const auto& x, const auto& y) { return x.user.username < y.user.username; });
              auto from =
                  std::upper_bound(members.begin(), members.end(), after,
                                   [](const std::string& name, const auto& m) { return name < m.user.username; });
              members.erase(members.begin(), from);
              if (members.size() > limit) {
                members.resize(limit);
                next = members.back().user.username;
              }
            }
            std::vector<api::user_id> ids;
            for (auto& m : members)
              ids.push_back(m.user.id);
            with_presence(self, ids, [=](const std::vector<std::string>& presence) {
              ex->respond(200, wire::members_json(members, presence, next));
            });
          },
          [=](caf::error& err) { ex->respond_error(err); });
}

void join_room(self_ptr self, const exchange_ptr& ex, const authed& a) {
  api::room_id room{ex->path[3]};
  self->request(self->state.ctx->place->room(room), request_timeout, api::join_atom::value, room, a.who.who)
      .then([=](const api::room_info& r) { ex->respond(200, wire::room_reply_json(r)); },
            [=](caf::error& err) { ex->respond_error(err); });
}

void leave_room(self_ptr self, const exchange_ptr& ex, const authed& a) {
  api::room_id room{ex->path[3]};
  self->request(self->state.ctx->place->room(room), request_timeout, api::leave_atom::value, room, a.who.who)
      .then([=]() { ex->respond(204); }, [=](caf::error& err) { ex->respond_error(err); });
}

void invite(self_ptr self, const exchange_ptr& ex, const authed& a) {
  api::room_id room{ex->path[3]};
  auto username = wire::decode_username(ex->body);
  if (!username)
    return ex->respond_error(username.error());
  if (!within(self->state.invites, ex, a, "invites"))
    return;
  with_user(self, ex, *username, [=](const api::user_info& invitee) {
    self->request(self->state.ctx->place->room(room), request_timeout, api::invite_atom::value, room, a.who.who,
                  invitee)
        .then([=]() { ex->respond(204); }, [=](caf::error& err) { ex->respond_error(err); });
  });
}

// Checks that the user may see `room`'s files (one key read, not the
// member list), then calls f.
template <class F>
void with_membership(self_ptr self, const exchange_ptr& ex, const api::room_id& room, const authed& a, F f) {
  self->request(self->state.ctx->place->room(room), request_timeout, api::members_atom::value, room, a.who.who.id, true)
      .then([=](const std::vector<api::member_entry>&) { f(); }, [=](caf::error& err) { ex->respond_error(err); });
}

void upload(self_ptr self, const exchange_ptr& ex, const authed& a) {
  auto& ctx = *self->state.ctx;
  api::room_id room{ex->path[3]};
  if (!ex->call.is_upload)
    return ex->bad("upload body missing");
  if (ex->call.filename.size() > 255 || !wire::is_utf8(ex->call.filename))
    return ex->bad("X-Filename must be valid UTF-8 of at most 255 bytes");
  auto name = sanitize_name(ex->call.filename);
  if (name.empty())
    return ex->bad("X-Filename must name the file");
  if (ex->call.encrypted != "" && ex->call.encrypted != "0" && ex->call.encrypted != "1")
    return ex->bad("X-Encrypted must be 1 (or 0)");
  if (ex->call.has_content_length && ex->call.content_length > ctx.lim.max_file_size)
    return ex->respond_error(fail(errc::too_large, "file is over the limit"));
  with_membership(self, ex, room, a, [=] {
    auto& place = *self->state.ctx->place;
    api::file_info draft;
    draft.id = api::random_id(place.file_prefix());
    draft.name = name;
    draft.room = room;
    draft.owner = a.who.who.id;
    draft.encrypted = ex->call.encrypted == "1";
    // This node's readers check the quota and start the upload next to the store.
    self->request(place.reader(), request_timeout, api::upload_atom::value, std::move(draft), ex->call.content_type,
                  ex->call.has_content_length, ex->call.content_length)
        .then([ex](caf::actor& uploader) { ex->out->proceed(uploader); },
              [ex](caf::error& err) { ex->respond_error(err); });
  });
}

// The file named in the path, if the caller may see it, and the reader pool
// of the node that has it (null: this node).
template <class F>
void with_file(self_ptr self, const exchange_ptr& ex, const authed& a, F f) {
  auto& ctx = *self->state.ctx;
  find_file(self, *ctx.place, ex->path[3], [=](caf::expected<api::file_info> file, api::reader_service from) {
    if (!file)
      return ex->respond_error(file.error());
    with_membership(self, ex, file->room, a, [=, f_info = *file] { f(f_info, from); });
  });
}

void download(self_ptr self, const exchange_ptr& ex, const authed& a) {
  with_file(self, ex, a, [=](const api::file_info& f, const api::reader_service& from) {
    api::http_reply r;
    auto etag = "\"" + f.sha256 + "\"";
    r.headers = {{"ETag", etag},
                 {"Accept-Ranges", "bytes"},
                 {"Content-Disposition", disposition(f.content_type, f.name)},
                 {"X-Content-Type-Options", "nosniff"},
                 {"Cache-Control", "private, max-age=31536000, immutable"}};
    r.content_type = f.content_type;
    if (ex->call.if_none_match == etag || ex->call.if_none_match == "*") {
      r.status = 304;
      return ex->out->respond(std::move(r));
    }
    byte_range range{0, f.size == 0 ? 0 : f.size - 1};
    auto kind = parse_range(ex->call.range, f.size, range);
    if (kind == range_kind::unsatisfiable) {
      r.status = 416;
      r.headers.emplace_back("Content-Range", "bytes */" + std::to_string(f.size));
      r.content_type.clear();
      return ex->out->respond(std::move(r));
    }
    if (kind == range_kind::partial) {
      r.status = 206;
      r.headers.emplace_back("Content-Range", "bytes " + std::to_string(range.first) + "-" +
                                                  std::to_string(range.last) + "/" + std::to_string(f.size));
    }
    if (f.size > 0) {
      r.length = range.last - range.first + 1;
      r.source = chunk_source(remote_chunks(from, f.id), range.first, range.last);
    }
    ex->out->respond(std::move(r));
  });
}

void thumbnail(self_ptr self, const exchange_ptr& ex, const authed& a) {
  with_file(self, ex, a, [=](const api::file_info& f, const api::reader_service& from) {
    if (!f.thumbnail)
      return ex->respond_error(fail(errc::not_found, "no thumbnail yet"));
    auto reply = [ex](std::string jpeg) {
      api::http_reply r;
      r.content_type = "image/jpeg";
      r.body = std::move(jpeg);
      r.headers = {{"X-Content-Type-Options", "nosniff"}, {"Cache-Control", "private, max-age=31536000, immutable"}};
      ex->out->respond(std::move(r));
    };
    self->request(from, request_timeout, api::thumb_atom::value, f.id)
        .then([reply](std::string& jpeg) { reply(std::move(jpeg)); },
              [ex](caf::error& err) { ex->respond_error(err); });
  });
}

void file_info(self_ptr self, const exchange_ptr& ex, const authed& a) {
  with_file(self, ex, a,
            [=](const api::file_info& f, const api::reader_service&) { ex->respond(200, wire::file_reply_json(f)); });
}

using handler = void (*)(self_ptr, const exchange_ptr&, const authed&);

// One row of the route table: a path shape ("*" matches one segment).
struct route_entry {
  std::vector<std::string_view> shape;
  std::string_view method;
  handler fn;  // null: register or login (no token)
};

const std::vector<route_entry>& routes() {
  static const std::vector<route_entry> table{
      {{"register"}, "POST", nullptr},
      {{"login"}, "POST", nullptr},
      {{"logout"}, "POST", logout},
      {{"me"},
       "GET",
       [](self_ptr, const exchange_ptr& ex, const authed& a) { ex->respond(200, wire::user_reply_json(a.user)); }},
      {{"me"}, "PATCH", patch_me},
      {{"me", "password"}, "POST", change_password},
      {{"users", "*"}, "GET", get_user},
      {{"dm"}, "POST", open_dm},
      {{"keys", "devices", "*"}, "PUT", put_device},
      {{"keys", "devices", "*"}, "DELETE", delete_device},
      {{"keys", "*"}, "GET", get_keys},
      {{"rooms"}, "POST", create_room},
      {{"rooms"}, "GET", my_rooms},
      {{"rooms", "public"}, "GET", public_rooms},
      {{"rooms", "*", "messages"}, "GET", get_messages},
      {{"rooms", "*", "messages"}, "POST", post_message},
      {{"rooms", "*", "messages", "*"}, "PATCH", patch_message},
      {{"rooms", "*", "messages", "*"}, "DELETE", delete_message},
      {{"rooms", "*", "messages", "*", "reactions", "*"}, "PUT", react},
      {{"rooms", "*", "messages", "*", "reactions", "*"}, "DELETE", react},
      {{"rooms", "*", "threads", "*"}, "GET", get_thread},
      {{"search"}, "GET", get_search},
      {{"rooms", "*", "members"}, "GET", get_members},
      {{"rooms", "*", "join"}, "POST", join_room},
      {{"rooms", "*", "leave"}, "POST", leave_room},
      {{"rooms", "*", "invite"}, "POST", invite},
      {{"rooms", "*", "files"}, "POST", upload},
      {{"files", "*"}, "GET", download},
      {{"files", "*", "thumbnail"}, "GET", thumbnail},
      {{"files", "*", "info"}, "GET", file_info},
  };
  return table;
}

bool matches(const route_entry& r, const std::vector<std::string>& path) {
  if (path.size() != r.shape.size() + 2)
    return false;
  for (std::size_t i = 0; i < r.shape.size(); ++i)
    if (r.shape[i] != "*" && r.shape[i] != path[i + 2])
      return false;
  // "rooms/public" is the directory, not a room called "public".
  return !(r.shape.size() == 3 && r.shape[0] == "rooms" && path[3] == "public");
}

void route(self_ptr self, const exchange_ptr& ex) {
  auto& p = ex->path;
  if (ex->call.body_too_large)
    return ex->respond_error(fail(errc::too_large, "request body is over the limit"));
  if (p.size() == 1 && p[0] == "healthz" && ex->call.method == "GET")
    return ex->respond(200, wire::health_json(self->state.ctx->node_id));
  if ((!p.empty() && p[0] == "admin") || (p.size() == 1 && p[0] == "metrics" && ex->call.method == "GET"))
    return self->send(self->state.admin, api::http_atom::value, std::move(ex->call), std::move(ex->out));
  // The web client: its page at /, its files under /client/.
  if (ex->call.method == "GET" && (p.empty() || p[0] == "client")) {
    return serve_static(*self->state.ctx->web, "client", *ex);
  }
  if (p.size() < 3 || p[0] != "api" || p[1] != "v1")
    return ex->respond_error(fail(errc::not_found, "no such endpoint"));
  bool path_known = false;
  for (auto& r : routes()) {
    if (!matches(r, p))
      continue;
    path_known = true;
    if (r.method != ex->call.method)
      continue;
    if (r.fn == nullptr) {
      if (!parse_body(*ex))
        return;
      return p[2] == "register" ? register_user(self, ex) : login(self, ex);
    }
    // Authenticate first: a caller without a valid token learns nothing else.
    auto fn = r.fn;
    return with_auth(self, ex, [=](const api::token_claims& c, const api::user_info& u) {
      if (parse_body(*ex))
        fn(self, ex, authed{c, u});
    });
  }
  if (path_known)
    return ex->respond_error(fail(errc::invalid_request, "method not allowed here"), 405);
  ex->respond_error(fail(errc::not_found, "no such endpoint"));
}

}  // namespace

api::http_service::behavior_type http_frontend(self_ptr self, context_ptr ctx) {
  self->state.ctx = std::move(ctx);
  self->state.admin = self->spawn<caf::linked>(admin_frontend, self->state.ctx);
  auto& lim = self->state.ctx->lim;
  self->state.registrations.configure(lim.register_per_min, 60000);
  self->state.room_creations.configure(lim.rooms_per_min, 60000);
  self->state.invites.configure(lim.invites_per_min, 60000);
  self->state.dms.configure(lim.dms_per_min, 60000);
  self->probe_as(self->state.ctx->actors, "http_frontend", "http_frontend");
  api::log_stray_errors(self, "HTTP frontend");
  return {
      [=](api::http_atom, api::http_call& call, api::responder_ptr& out) {
        route(self, open_exchange(std::move(call), std::move(out)));
      },
  };
}

}  // namespace confab::gateway
