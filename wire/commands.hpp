#pragma once

// Decoding client commands: the fields of a WebSocket frame or an HTTP body
// into the validated structs of api/commands.hpp, with the error PROTOCOL.md
// gives for each broken rule (invalid_request or too_large). Also the reply
// bodies both transports share.

#include <cstddef>
#include <string>

#include <caf/expected.hpp>

#include "api/commands.hpp"
#include "api/messages.hpp"
#include "wire/codec.hpp"

namespace confab::wire {

struct send_rules {
  std::size_t max_body_chars = 0;
  bool client_msg_id_required = true;  // WebSocket: yes; HTTP: optional
};
// `room` comes from the frame's field or the URL, whichever the transport has.
[[nodiscard]] caf::expected<api::send_command> decode_send(const json& obj, api::room_id room, const send_rules& rules);

// {"messages":[...],"has_more":bool}: a history page, the same on both transports.
[[nodiscard]] std::string history_page_json(const api::history_page& page);

}  // namespace confab::wire
