#pragma once

// Rate limits as plain state, each owned by one actor (not thread-safe):
// the token bucket of PROTOCOL.md section 10 (the session keeps one per
// connection, the HTTP frontend one per user that posts) and a sliding
// window of attempts per key (logins per user and address in the account
// actor; registrations, rooms, invites and DMs in the HTTP frontend).

#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>

namespace confab::api {

// Token bucket: `rate` per second sustained, `burst` at once.
class token_bucket {
 public:
  void configure(double rate, double burst, std::int64_t now_ms);
  // 0 when a token was taken, else milliseconds until one is available.
  [[nodiscard]] std::uint64_t take(std::int64_t now_ms);

 private:
  double rate_ = 1;
  double burst_ = 1;
  double tokens_ = 1;
  std::int64_t last_ = 0;
};

// Sliding-window counter per key (a username, a client address, a user id):
// at most `limit` attempts in any `window_ms`.
class attempt_window {
 public:
  void configure(std::uint32_t limit, std::int64_t window_ms) {
    limit_ = limit;
    window_ms_ = window_ms;
  }
  // Milliseconds until another attempt is allowed, 0 when it is allowed now.
  [[nodiscard]] std::int64_t wait_ms(const std::string& key, std::int64_t now);
  void record(const std::string& key, std::int64_t now);
  void clear(const std::string& key) { hits_.erase(key); }

 private:
  void prune(std::deque<std::int64_t>& q, std::int64_t now) const;
  std::uint32_t limit_ = 1;
  std::int64_t window_ms_ = 1;
  std::unordered_map<std::string, std::deque<std::int64_t>> hits_;
};

}  // namespace confab::api
