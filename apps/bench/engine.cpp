#include "apps/bench/engine.hpp"

#include <charconv>
#include <chrono>

#include <boost/asio/steady_timer.hpp>

#include "apps/bench/probes.hpp"

namespace confab::bench {

namespace {

constexpr std::int64_t ns_per_s = 1'000'000'000;

double seconds_since(std::int64_t start_ns) {
  return static_cast<double>(now_ns() - start_ns) / 1e9;
}

}  // namespace

engine::engine(engine_options options, std::function<std::unique_ptr<protocol>(protocol_events&)> make)
    : opt_(std::move(options)), proto_(make(*this)) {}

bool engine::run_until(const std::function<bool()>& done, double deadline_s) {
  auto end = now_ns() + static_cast<std::int64_t>(deadline_s * 1e9);
  while (!done()) {
    if (now_ns() >= end)
      return false;
    io_.restart();
    io_.run_one_for(std::chrono::milliseconds(20));
  }
  return true;
}

void engine::fail(std::string why) {
  if (failures_++ == 0)
    first_failure_ = std::move(why);
}

// ---- connections -----------------------------------------------------------

void engine::open_next(const std::vector<std::pair<std::string, std::string>>& users) {
  while (open_started_ < users.size() && open_started_ - (opened_ + failures_) < opt_.window) {
    auto i = open_started_++;
    auto c = std::make_shared<conn>(io_, i, *this);
    c->user = users[i].first;
    c->secret = users[i].second;
    conns_[i] = c;
    c->open(opt_.sources[i % opt_.sources.size()], opt_.server, proto_->path(), opt_.host, proto_->subprotocol());
  }
}

bool engine::open_all(const std::vector<std::pair<std::string, std::string>>& users, double deadline_s,
                      double* connect_s, double* login_s, std::string& why) {
  conns_.assign(users.size(), nullptr);
  last_seq_.assign(users.size(), 0);
  pending_acks_.assign(users.size(), {});
  opened_ = open_started_ = ready_ = 0;
  auto start = now_ns();
  // Sockets first (TCP and WebSocket handshake), then logins, so that each
  // rate is measured on its own.
  bool ok = run_until(
      [&] {
        open_next(users);
        return opened_ + failures_ >= users.size();
      },
      deadline_s);
  *connect_s = seconds_since(start);
  if (!all_done(ok, "connections not open in time", why))
    return false;
  auto login_start = now_ns();
  std::size_t started = 0;
  ok = run_until(
      [&] {
        while (started < conns_.size() && started - ready_ < opt_.window)
          proto_->start(*conns_[started++]);
        return ready_ + failures_ >= conns_.size();
      },
      deadline_s);
  *login_s = seconds_since(login_start);
  return all_done(ok, "logins not done in time", why);
}

bool engine::join_all(const std::vector<std::string>& rooms, double deadline_s, double* join_s, std::string& why) {
  joined_ = 0;
  auto n = std::min(conns_.size(), rooms.size());
  std::size_t want = 0, next = 0, sent = 0;
  for (std::size_t i = 0; i < n; ++i)
    want += rooms[i].empty() ? 0 : 1;
  auto start = now_ns();
  bool ok = run_until(
      [&] {
        // At most `window` joins unanswered at a time.
        while (next < n && sent - joined_ < opt_.window) {
          auto i = next++;
          if (rooms[i].empty())
            continue;
          conns_[i]->rooms = {rooms[i]};
          proto_->join(*conns_[i], rooms[i]);
          ++sent;
        }
        return joined_ + failures_ >= want;
      },
      deadline_s);
  *join_s = seconds_since(start);
  return all_done(ok, "joins not answered in time", why);
}

bool engine::all_done(bool in_time, const char* late, std::string& why) const {
  if (in_time && failures_ == 0)
    return true;
  why = failures_ ? first_failure_ : late;
  return false;
}

void engine::on_open(conn&) {
  ++opened_;
}
void engine::on_frame(conn& c, std::string_view frame) {
  proto_->frame(c, frame);
}
void engine::on_failed(conn& c, std::string_view what) {
  fail("connection " + std::to_string(c.index) + " (" + c.user + "): " + std::string(what));
}
void engine::ready(conn&) {
  ++ready_;
}
void engine::joined(conn&) {
  ++joined_;
}
void engine::refused(conn& c, std::string_view code) {
  if (step_)
    ++step_->errors;
  fail("connection " + std::to_string(c.index) + " (" + c.user + ") got error " + std::string(code));
}

// ---- messages --------------------------------------------------------------

// A body is "m<index> " padded with 'x' to the body size; the index names the
// message record, which holds the send time and who should receive it.
void engine::delivered(conn& c, std::string_view body, std::int64_t seq) {
  auto now = now_ns();
  if (body.size() < 2 || body[0] != 'm')
    return;
  std::uint32_t idx = 0;
  auto [p, ec] = std::from_chars(body.data() + 1, body.data() + body.size(), idx);
  if (ec != std::errc() || idx >= messages_.size())
    return;
  auto& m = messages_[idx];
  if (!opt_.echo_counts && m.sender == c.index)
    return;
  if (seq != 0) {
    if (seq <= last_seq_[c.index] && step_)
      ++step_->out_of_order;
    last_seq_[c.index] = std::max(last_seq_[c.index], seq);
  }
  if (++m.got > m.expected && step_ && m.measured)
    ++step_->duplicates;
  if (step_) {
    if (in_window_)
      ++step_->delivered_in_window;
    if (m.measured)
      step_->latency_us.push_back((now - m.sent_ns) / 1000);
  }
}

void engine::acked(conn& c, std::uint64_t request) {
  auto& q = pending_acks_[c.index];
  while (!q.empty() && q.front().first < request)
    q.pop_front();  // an answer that never came would show as an error instead
  if (q.empty() || q.front().first != request)
    return;
  auto& m = messages_[q.front().second];
  q.pop_front();
  if (step_ && m.measured) {
    ++step_->acked;
    step_->ack_us.push_back((now_ns() - m.sent_ns) / 1000);
  }
}

step_result engine::run_step(double rate, double seconds, double drain_s, bool direct, bool measured,
                             const std::function<std::uint32_t(const conn&)>& receivers) {
  step_result r;
  r.offered_per_s = rate;
  step_ = &r;
  if (padding_.size() != opt_.body_size)
    padding_.assign(opt_.body_size, 'x');
  auto first = messages_.size();
  std::uint64_t fanout = 0;
  std::size_t next_sender = 0;
  auto server_cpu0 = process_cpu_s(opt_.server_pid);
  auto client_cpu0 = self_cpu_s();
  auto start = now_ns();
  auto end = start + static_cast<std::int64_t>(seconds * 1e9);
  in_window_ = true;
  // A 1 ms tick sends whatever the schedule says is due by now, so a late
  // tick sends a burst: the offered rate does not bend to the server.
  asio::steady_timer tick(io_);
  bool sending = true;
  std::function<void()> on_tick = [&] {
    auto now = now_ns();
    auto until = std::min(now, end);
    auto due = static_cast<std::uint64_t>(rate * static_cast<double>(until - start) / 1e9);
    char head[32];
    while (r.sent < due) {
      auto& c = *conns_[next_sender++ % conns_.size()];
      auto idx = static_cast<std::uint32_t>(messages_.size());
      auto want = receivers(c);
      messages_.push_back({now_ns(), static_cast<std::uint32_t>(c.index), want, 0, measured});
      fanout += want;
      auto n = std::to_chars(head, head + sizeof head, idx).ptr - head;
      std::string body(1, 'm');
      body.append(head, static_cast<std::size_t>(n)).push_back(' ');
      if (body.size() < opt_.body_size)
        body.append(padding_, 0, opt_.body_size - body.size());
      auto req = direct ? proto_->send_direct(c, body) : proto_->send_room(c, c.rooms.front(), body);
      if (req != 0)
        pending_acks_[c.index].emplace_back(req, idx);
      ++r.sent;
    }
    if (now >= end) {
      sending = false;
      return;
    }
    tick.expires_after(std::chrono::milliseconds(1));
    tick.async_wait([&](const boost::system::error_code&) { on_tick(); });
  };
  on_tick();
  run_until([&] { return !sending; }, seconds + 5);
  r.seconds = seconds_since(start);
  in_window_ = false;
  r.server_cpu_s = process_cpu_s(opt_.server_pid) - server_cpu0;
  r.client_cpu_s = self_cpu_s() - client_cpu0;
  r.server_rss_kib = process_rss_kib(opt_.server_pid);
  r.offered_deliveries = static_cast<double>(fanout) / seconds;
  // Drain: wait for the step's deliveries, up to drain_s.
  auto drain_start = now_ns();
  // Deliveries only ever rise, so the first incomplete message only moves on.
  std::size_t checked = first;
  run_until(
      [&] {
        while (checked < messages_.size() && messages_[checked].got >= messages_[checked].expected)
          ++checked;
        return checked == messages_.size();
      },
      drain_s);
  r.drain_s = seconds_since(drain_start);
  for (auto i = first; i < messages_.size(); ++i) {
    r.expected += messages_[i].expected;
    r.got += std::min(messages_[i].got, messages_[i].expected);
  }
  step_ = nullptr;
  return r;
}

// ---- history ---------------------------------------------------------------

void engine::history(conn& c, std::size_t messages) {
  if (!step_)
    return;
  step_->latency_us.push_back((now_ns() - c.sent_ns) / 1000);
  step_->items += messages;
  ++step_->acked;
  if (history_loop_ && c.rooms.size() == 1) {
    c.sent_ns = now_ns();
    ++step_->sent;
    proto_->fetch_history(c, c.rooms.front(), history_limit_);
  }
}

step_result engine::run_history(double seconds, int limit) {
  step_result r;
  step_ = &r;
  history_limit_ = limit;
  history_loop_ = true;
  auto server_cpu0 = process_cpu_s(opt_.server_pid);
  auto client_cpu0 = self_cpu_s();
  auto start = now_ns();
  for (auto& c : conns_) {
    if (c->rooms.empty())
      continue;
    c->sent_ns = now_ns();
    ++r.sent;
    proto_->fetch_history(*c, c->rooms.front(), limit);
  }
  run_until([] { return false; }, seconds);
  history_loop_ = false;
  r.seconds = seconds_since(start);
  r.server_cpu_s = process_cpu_s(opt_.server_pid) - server_cpu0;
  r.client_cpu_s = self_cpu_s() - client_cpu0;
  r.server_rss_kib = process_rss_kib(opt_.server_pid);
  r.offered_per_s = static_cast<double>(r.sent) / r.seconds;
  // Let the last requests answer so that none is counted lost.
  run_until([&] { return r.acked >= r.sent; }, 20);
  r.expected = r.sent;
  r.got = r.acked;
  r.delivered_in_window = r.acked;
  step_ = nullptr;
  return r;
}

}  // namespace confab::bench
