#pragma once

// The JSON codec of PROTOCOL.md: objects, replies and events out, requests
// in. Events are encoded once by the actor that emits them; the text is then
// shared by every receiver.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <caf/expected.hpp>
#include <nlohmann/json.hpp>

#include "api/errors.hpp"
#include "api/messages.hpp"

namespace confab::wire {

using json = nlohmann::json;

[[nodiscard]] json user_json(const api::user_info& user);
[[nodiscard]] json room_json(const api::room_info& room);
// {room + {last_seq, last_read, unread}} for GET /rooms.
[[nodiscard]] json my_room_json(const api::my_room& r);
// {room: id, last_seq, last_read, unread} for the auth reply.
[[nodiscard]] json room_counters_json(const api::my_room& r);

// {id, name, size, content_type, sha256, width?, height?, thumbnail?}
[[nodiscard]] json file_json(const api::file_info& f);
// {id, name, size, content_type}: what a message carries.
[[nodiscard]] json attachment_json(const api::file_info& f);

struct message_fields {
  api::room_id room;
  api::seq_t seq = 0;
  std::string msg_id;
  std::string from;  // username
  std::int64_t ts = 0;
  std::string body;
  std::string client_msg_id;
  std::uint64_t reply_to = 0;
  std::string file;          // attachment JSON object, empty: none
  std::string e2ee;          // JSON object (then no body); empty: none
  std::uint64_t thread = 0;  // the thread's root; 0: none
};
[[nodiscard]] std::string message_json(const message_fields& m);

// {"op":<op>,"data":<data_json>} with data already encoded.
[[nodiscard]] std::string event(std::string_view op, std::string_view data_json);
[[nodiscard]] api::shared_text shared_event(std::string_view op, std::string_view data_json);
// {"op":"ok","id":<id>,"data":<data_json>}; id is the request's id as JSON text.
[[nodiscard]] std::string ok_reply(std::string_view id_json, std::string_view data_json);
[[nodiscard]] std::string error_reply(std::string_view id_json, const api::failure& f);
// {"error":{"code","message"[,"retry_after_ms"]}} for HTTP.
[[nodiscard]] std::string http_error(const api::failure& f);
// JSON array text of already encoded elements.
[[nodiscard]] std::string join_array(const std::vector<std::string>& elements);

// Number of Unicode code points of valid UTF-8.
[[nodiscard]] std::size_t code_points(std::string_view utf8);

// Whether `text` is valid UTF-8 (RFC 3629: no overlong forms, no surrogates,
// nothing past U+10FFFF), which is what JSON output needs.
[[nodiscard]] bool is_utf8(std::string_view text);

// A parsed JSON text, or why it is not a JSON object.
enum class parse_status { ok, not_json, not_object };
[[nodiscard]] parse_status parse_object(std::string_view text, json& out);

// An HTTP request's body, parsed here for the decoders of commands.hpp and
// admin.hpp, which take it wherever they take a JSON object; the frontends
// hold it and hand it on without reading it. An empty body is {}.
class request_body {
 public:
  request_body() = default;
  explicit request_body(json object) : object_(std::move(object)) {}
  // invalid_request "body must be a JSON object" unless `text` is empty or
  // one JSON object.
  [[nodiscard]] static caf::expected<request_body> parse(std::string_view text);
  [[nodiscard]] bool is_object() const { return object_.is_object(); }
  operator const json&() const { return object_; }  // NOLINT: the decoders' argument

 private:
  json object_ = json::object();
};

// Field readers for request validation: on a missing required field or a wrong
// type they set `error` and return nullopt.
[[nodiscard]] std::optional<std::string> string_field(const json& obj, const char* key, bool required,
                                                      std::string& error);
[[nodiscard]] std::optional<std::uint64_t> seq_field(const json& obj, const char* key, std::string& error);
[[nodiscard]] std::optional<bool> bool_field(const json& obj, const char* key, std::string& error);

}  // namespace confab::wire
