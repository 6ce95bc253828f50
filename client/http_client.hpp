#pragma once

// One-shot HTTP(S) requests to a Confab node, for command-line tools and
// tests. Each call runs its own io_context on the calling thread and returns
// when the answer is read or a deadline passed; nothing is shared between
// calls. Beast stays inside http_client.cpp so that users of this header do
// not pay for compiling it.

#include <chrono>
#include <optional>
#include <string>

#include "client/url.hpp"

namespace confab::client {

struct http_result {
  unsigned status = 0;
  std::string body;
};

struct http_request {
  std::string method = "GET";
  std::string target;  // absolute path and query, already percent-encoded
  std::string body;    // sent as application/json when not empty
  std::string bearer;  // Authorization: Bearer <bearer> when not empty
};

// Where a request failed: before a connection existed (the node is not
// reachable) or while talking to it (it took the connection but gave no
// usable answer). Callers word the two differently.
enum class failure_stage { none, connect, exchange };

// An answer (any HTTP status), or why there is none.
struct http_outcome {
  std::optional<http_result> result;
  failure_stage stage = failure_stage::none;
  std::string error;
};

struct http_options {
  // Applies to connecting (TCP and TLS handshake) and, afresh, to sending the
  // request and reading the answer, so a dead node cannot hang the caller.
  std::chrono::milliseconds timeout{10'000};
  // PEM file of trusted certificates for https://; empty: the system's.
  std::string ca_file;
};

// Never throws: every failure, including TLS set-up, is in the outcome.
[[nodiscard]] http_outcome perform(const base_url& url, const http_request& request, const http_options& options = {});

}  // namespace confab::client
