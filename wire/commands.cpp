#include "wire/commands.hpp"

namespace confab::wire {

using api::errc;
using api::fail;

caf::expected<api::send_command> decode_send(const json& obj, api::room_id room, const send_rules& rules) {
  std::string error;
  auto body = string_field(obj, "body", false, error);
  auto cmid = string_field(obj, "client_msg_id", rules.client_msg_id_required, error);
  auto reply_to = seq_field(obj, "reply_to", error);
  auto file_id = error.empty() ? string_field(obj, "file_id", false, error) : std::nullopt;
  if (!error.empty())
    return fail(errc::invalid_request, error);
  if (cmid && (cmid->empty() || cmid->size() > 128))
    return fail(errc::invalid_request, "client_msg_id must have 1-128 characters");
  if (file_id && file_id->empty())
    return fail(errc::invalid_request, "file_id must not be empty");
  if ((!body || body->empty()) && !file_id)
    return fail(errc::invalid_request, "body must not be empty");
  if (body && code_points(*body) > rules.max_body_chars)
    return fail(errc::too_large, "body is over the limit");
  return api::send_command{std::move(room), body.value_or(""), cmid.value_or(""), reply_to.value_or(0),
                           file_id.value_or("")};
}

std::string history_page_json(const api::history_page& page) {
  return R"({"messages":)" + join_array(page.messages) + R"(,"has_more":)" + (page.has_more ? "true" : "false") + "}";
}

}  // namespace confab::wire
