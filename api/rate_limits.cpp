#include "api/rate_limits.hpp"

#include <algorithm>

namespace confab::api {

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

void attempt_window::prune(std::deque<std::int64_t>& q, std::int64_t now) const {
  while (!q.empty() && q.front() <= now - window_ms_)
    q.pop_front();
}

std::int64_t attempt_window::wait_ms(const std::string& key, std::int64_t now) {
  auto it = hits_.find(key);
  if (it == hits_.end())
    return 0;
  prune(it->second, now);
  if (it->second.empty()) {
    hits_.erase(it);
    return 0;
  }
  if (it->second.size() < limit_)
    return 0;
  return it->second.front() + window_ms_ - now;
}

void attempt_window::record(const std::string& key, std::int64_t now) {
  auto& q = hits_[key];
  prune(q, now);
  q.push_back(now);
  // Bound memory under a spray of keys: drop keys whose window has passed.
  if (hits_.size() > 100000)
    std::erase_if(hits_, [&](auto& kv) { return kv.second.empty() || kv.second.back() <= now - window_ms_; });
}

}  // namespace confab::api
