#include "actors/token_bucket.hpp"

#include <algorithm>

namespace confab::actors {

void token_bucket::configure(double rate, double burst, std::int64_t now) {
  rate_ = rate;
  burst_ = burst;
  tokens_ = burst;
  last_ = now;
}

std::uint64_t token_bucket::take(std::int64_t now) {
  tokens_ = std::min(burst_, tokens_ + static_cast<double>(now - last_) * rate_ / 1000.0);
  last_ = now;
  if (tokens_ >= 1) {
    tokens_ -= 1;
    return 0;
  }
  return static_cast<std::uint64_t>((1 - tokens_) * 1000.0 / rate_) + 1;
}

}  // namespace confab::actors
