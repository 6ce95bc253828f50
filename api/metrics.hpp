#pragma once

// The node's Prometheus counters (GET /metrics). One instance per process,
// shared by every layer: net counts connections, storage times its writes,
// actors count messages and errors. Every field is a relaxed atomic, so
// counting costs one uncontended add on any thread. Labels are fixed sets
// (error codes, surfaces, directions): never a user, room or session id.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "api/errors.hpp"

namespace confab::api {

// Buckets fixed at construction; observe() is lock-free.
class histogram {
 public:
  explicit histogram(std::vector<double> bounds_s);
  void observe(std::chrono::nanoseconds took);
  // Appends the _bucket, _sum and _count lines of `name`.
  void write(std::string& out, const std::string& name) const;
  // Observations so far.
  [[nodiscard]] std::uint64_t count() const;

 private:
  std::vector<double> bounds_;
  std::vector<std::atomic<std::uint64_t>> counts_;  // per bucket, last is +Inf
  std::atomic<std::uint64_t> sum_ns_{0};
};

struct metrics {
  std::atomic<std::int64_t> http_connections{0};
  std::atomic<std::int64_t> ws_connections{0};
  std::atomic<std::uint64_t> messages_in{0};         // stored by rooms held here
  std::atomic<std::uint64_t> room_events{0};         // events emitted by rooms held here
  std::atomic<std::uint64_t> remote_copies{0};       // copies of them sent to hubs of other nodes
  std::atomic<std::uint64_t> messages_delivered{0};  // message events written to sessions here
  std::atomic<std::uint64_t> handoffs_out{0};
  std::atomic<std::uint64_t> handoffs_in{0};
  std::atomic<std::uint64_t> replica_entries_in{0};  // log entries copies here took from owners
  std::atomic<std::uint64_t> slow_consumers{0};
  std::atomic<std::uint64_t> ws_read_pauses{0};  // sockets that stopped reading for their session
  std::atomic<std::uint64_t> rate_limited_ws{0};
  std::atomic<std::uint64_t> rate_limited_http{0};
  std::atomic<std::uint64_t> webhook_dropped{0};
  std::atomic<std::uint64_t> refused_node_full{0};      // client connections over --max-connections
  std::atomic<std::uint64_t> refused_address_full{0};   // ... over --max-connections-per-ip
  std::atomic<std::uint64_t> cluster_tls_refused{0};    // handshakes the cluster port's TLS ended
  std::atomic<std::uint64_t> unexpected_messages{0};    // messages no handler matched (e.g. from a peer)
  std::array<std::atomic<std::uint64_t>, 32> errors{};  // by errc value
  histogram send_ack{{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10}};
  histogram db_write{{0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01, 0.1}};
  // One group commit: an fsync of the WAL (actors/syncer.hpp).
  histogram db_fsync{{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1}};
  // From sending a batch of log entries to a follower until it acknowledged
  // them (written and, with fsync, durable there): the replication lag.
  histogram replication_lag{{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10}};

  void error(errc code) {
    errors[static_cast<std::size_t>(code) % errors.size()].fetch_add(1, std::memory_order_relaxed);
  }
  // The counters above in the text exposition format (gauges that depend on
  // actors, such as sessions, are written by the caller).
  void write(std::string& out) const;
};

// This process's counters.
[[nodiscard]] metrics& node_metrics();

// Appends "# HELP", "# TYPE" and one unlabelled sample.
void write_metric(std::string& out, const char* name, const char* type, const char* help, double value);

// Times a scope into a histogram.
class timed {
 public:
  explicit timed(histogram& h) : h_(h), start_(std::chrono::steady_clock::now()) {}
  ~timed() { h_.observe(std::chrono::steady_clock::now() - start_); }
  timed(const timed&) = delete;
  timed& operator=(const timed&) = delete;

 private:
  histogram& h_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace confab::api
