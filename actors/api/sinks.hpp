#pragma once

// What net/ implements for actors: an actor never holds a socket, only a
// weak_ptr to one of these, and each call posts onto the connection's strand.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>

#include "actors/api/messages.hpp"

namespace confab::api {

// A WebSocket connection as its session actor sees it. Thread-safe.
class connection_sink {
 public:
  virtual ~connection_sink() = default;
  // Queues one text frame; the connection closes itself with 1008 when its
  // outbound queue passes the limit.
  virtual void send_text(shared_text frame) = 0;
  virtual void close(std::uint16_t code, std::string reason) = 0;
};
using sink_ptr = std::weak_ptr<connection_sink>;

// One HTTP request as net/ parsed it.
struct http_call {
  std::string method;
  std::string target;  // path and query
  std::string authorization;
  std::string body;
  std::string remote;  // client address
  bool body_too_large = false;
};

struct http_reply {
  unsigned status = 200;
  std::string body;  // JSON unless content_type says otherwise
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
};

// Where the answer to one http_call goes. Thread-safe, called exactly once.
class http_responder {
 public:
  virtual ~http_responder() = default;
  virtual void respond(http_reply reply) = 0;
};
using responder_ptr = std::shared_ptr<http_responder>;

// Delivers one offline notification (a JSON body) to the push webhook.
// Thread-safe; `done` runs on another thread, exactly once per post.
class push_transport {
 public:
  virtual ~push_transport() = default;
  virtual void post(std::string body, std::function<void(bool delivered)> done) = 0;
};

}  // namespace confab::api

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(confab::api::sink_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(confab::api::responder_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(confab::api::http_call)
