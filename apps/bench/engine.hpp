#pragma once

// The load engine: opens connections, logs them in and joins them, then
// offers messages at a fixed rate (open loop) and checks off every expected
// delivery. Single-threaded: everything runs on one io_context, so the bench
// is pinned to one core and its own CPU use is reported.

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "apps/bench/conn.hpp"
#include "apps/bench/protocol.hpp"

namespace confab::bench {

struct engine_options {
  asio::ip::tcp::endpoint server;
  std::string host;                        // Host header
  std::vector<asio::ip::address> sources;  // loopback source addresses, used in turn
  std::size_t window = 256;                // connections being opened or logged in at once
  std::size_t body_size = 100;
  bool echo_counts = true;  // the sender's own copy is a delivery (rooms)
  int server_pid = 0;
};

// One measured interval.
struct step_result {
  double offered_per_s = 0;       // sends
  double offered_deliveries = 0;  // sends x receivers, per second
  double seconds = 0;
  std::uint64_t sent = 0;
  std::uint64_t acked = 0;
  std::uint64_t expected = 0;  // deliveries of this step's messages
  std::uint64_t got = 0;       // ... that arrived (after the drain)
  std::uint64_t duplicates = 0;
  std::uint64_t out_of_order = 0;
  std::uint64_t errors = 0;
  std::uint64_t delivered_in_window = 0;  // any message, arrived during the step
  std::uint64_t items = 0;                // history: messages in the pages
  std::vector<std::int64_t> latency_us;   // this step's deliveries
  std::vector<std::int64_t> ack_us;
  double server_cpu_s = 0;
  double client_cpu_s = 0;
  std::int64_t server_rss_kib = 0;
  double drain_s = 0;
  [[nodiscard]] std::uint64_t lost() const { return expected > got ? expected - got : 0; }
};

class engine : public conn_handler, public protocol_events {
 public:
  engine(engine_options options, std::function<std::unique_ptr<protocol>(protocol_events&)> make);

  asio::io_context& io() { return io_; }
  protocol& proto() { return *proto_; }

  // Opens one connection per (user, secret), then logs each in. Returns false
  // (with the reason) if any fails or the deadline passes.
  bool open_all(const std::vector<std::pair<std::string, std::string>>& users, double deadline_s, double* connect_s,
                double* login_s, std::string& why);
  // Joins connection i to rooms[i] (skipping empty ones), `window` at a time.
  bool join_all(const std::vector<std::string>& rooms, double deadline_s, double* join_s, std::string& why);
  std::vector<conn_ptr>& conns() { return conns_; }

  // Offers `rate` sends per second for `seconds`, each from the next sender
  // in turn (to its room, or to its partner when `direct`), each expected by
  // `receivers(sender)` connections; then waits up to `drain_s` for every
  // delivery. Returns the step's figures.
  step_result run_step(double rate, double seconds, double drain_s, bool direct, bool measured,
                       const std::function<std::uint32_t(const conn&)>& receivers);
  // Closed loop: each connection asks for the last `limit` messages of its
  // room again as soon as the previous page arrives, for `seconds`.
  step_result run_history(double seconds, int limit);
  // Runs the event loop until `done` or the deadline; false on the deadline.
  bool run_until(const std::function<bool()>& done, double deadline_s);

  std::uint64_t failures() const { return failures_; }
  const std::string& first_failure() const { return first_failure_; }

  // conn_handler
  void on_open(conn& c) override;
  void on_frame(conn& c, std::string_view frame) override;
  void on_failed(conn& c, std::string_view what) override;
  // protocol_events
  void ready(conn& c) override;
  void joined(conn& c) override;
  void delivered(conn& c, std::string_view body, std::int64_t seq) override;
  void acked(conn& c, std::uint64_t request) override;
  void history(conn& c, std::size_t messages) override;
  void refused(conn& c, std::string_view code) override;

 private:
  struct message {
    std::int64_t sent_ns;
    std::uint32_t sender;
    std::uint32_t expected;
    std::uint32_t got;
    bool measured;
  };
  void open_next(const std::vector<std::pair<std::string, std::string>>& users);
  void fail(std::string why);
  // True when a phase ended in time with no failure; else sets `why`.
  bool all_done(bool in_time, const char* late, std::string& why) const;

  engine_options opt_;
  asio::io_context io_{1};
  std::unique_ptr<protocol> proto_;
  std::vector<conn_ptr> conns_;
  std::vector<std::int64_t> last_seq_;  // per connection (one room each)
  // Per connection, sends awaiting their ack: (request id, message index).
  std::vector<std::deque<std::pair<std::uint64_t, std::uint32_t>>> pending_acks_;
  std::vector<message> messages_;
  std::size_t opened_ = 0, open_started_ = 0, ready_ = 0, joined_ = 0;
  std::uint64_t failures_ = 0;
  std::string first_failure_;
  step_result* step_ = nullptr;  // the step being measured, if any
  bool in_window_ = false;
  bool history_loop_ = false;
  int history_limit_ = 50;
  std::string padding_;
};

}  // namespace confab::bench
