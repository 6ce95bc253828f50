#pragma once

// What net/ implements for actors: an actor never holds a socket, only a
// weak_ptr to one of these, and each call posts onto the connection's strand.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>

#include "api/messages.hpp"

namespace confab::api {

// A WebSocket connection as its session actor sees it. Thread-safe.
class connection_sink {
 public:
  virtual ~connection_sink() = default;
  // Queues one text frame; the connection closes itself with 1008 when its
  // outbound queue passes the limit.
  virtual void send_text(shared_text frame) = 0;
  virtual void close(std::uint16_t code, std::string reason) = 0;
  // Bytes queued for the socket and not yet written (admin view).
  [[nodiscard]] virtual std::size_t queued_bytes() const = 0;
  // The session has handled one inbound frame. The connection stops reading
  // while --max-inbound-frames of its frames wait unhandled (backpressure on
  // the client's TCP stream instead of a growing mailbox).
  virtual void frame_handled() {}
};
using sink_ptr = std::weak_ptr<connection_sink>;

// One HTTP request as net/ parsed it.
struct http_call {
  std::string method;
  std::string target;  // path and query
  std::string authorization;
  std::string body;
  std::string remote;      // client address
  std::string request_id;  // names the request in log lines
  bool body_too_large = false;
  // Headers the file routes read.
  std::string range;
  std::string if_none_match;
  std::string filename;   // X-Filename
  std::string encrypted;  // X-Encrypted: "1" is an end-to-end encrypted file
  std::string content_type;
  bool has_content_length = false;
  std::uint64_t content_length = 0;
  // The body was not read: it streams to an uploader once the call is allowed.
  bool is_upload = false;
};

// A response body produced piece by piece (file downloads). next() is called
// on the connection's thread, one piece at a time; it calls `done` exactly
// once with the piece, on any thread (the bytes may come from another node);
// an empty piece ends the body.
class body_source {
 public:
  virtual ~body_source() = default;
  virtual void next(std::function<void(std::string piece)> done) = 0;
};

struct http_reply {
  unsigned status = 200;
  std::string body;  // JSON unless content_type says otherwise
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  // When set, the body streams from here instead: `length` bytes in all.
  std::shared_ptr<body_source> source;
  std::uint64_t length = 0;
};

// Where the answer to one http_call goes. Thread-safe. Exactly one respond()
// per call; an upload gets proceed() first, then its uploader responds.
class http_responder {
 public:
  virtual ~http_responder() = default;
  virtual void respond(http_reply reply) = 0;
  // Upload allowed: stream the body to `uploader` as chunk messages.
  virtual void proceed(caf::actor uploader) = 0;
};
using responder_ptr = std::shared_ptr<http_responder>;

// The answer to one chunk of an upload: the next may be read (or not).
class chunk_ack {
 public:
  virtual ~chunk_ack() = default;
  virtual void done(bool ok) = 0;
};
using chunk_ack_ptr = std::shared_ptr<chunk_ack>;

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
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(confab::api::chunk_ack_ptr)
