#pragma once

// The rate limit of PROTOCOL.md section 10 as plain state: the session keeps
// one per connection, the HTTP frontend one per user that posts. Not
// thread-safe: owned by one actor.

#include <cstdint>

namespace confab::actors {

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

}  // namespace confab::actors
