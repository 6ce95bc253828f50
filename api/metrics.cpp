#include "api/metrics.hpp"

#include <cstdio>

namespace confab::api {

namespace {

// Counts as integers, bucket bounds and sums in the shortest form.
std::string number(double v) {
  char buf[64];
  if (v == static_cast<double>(static_cast<long long>(v)) && v < 1e15 && v > -1e15)
    std::snprintf(buf, sizeof(buf), "%lld", static_cast<long long>(v));
  else
    std::snprintf(buf, sizeof(buf), "%.9g", v);
  return buf;
}

void header(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void sample(std::string& out, const std::string& name, const std::string& labels, double v) {
  out += name;
  if (!labels.empty())
    out += "{" + labels + "}";
  out += ' ';
  out += number(v);
  out += '\n';
}

std::uint64_t load(const std::atomic<std::uint64_t>& a) {
  return a.load(std::memory_order_relaxed);
}

}  // namespace

histogram::histogram(std::vector<double> bounds_s) : bounds_(std::move(bounds_s)), counts_(bounds_.size() + 1) {}

void histogram::observe(std::chrono::nanoseconds took) {
  double s = std::chrono::duration<double>(took).count();
  std::size_t i = 0;
  while (i < bounds_.size() && s > bounds_[i])
    ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<std::uint64_t>(took.count() > 0 ? took.count() : 0), std::memory_order_relaxed);
}

void histogram::write(std::string& out, const std::string& name) const {
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    cumulative += load(counts_[i]);
    auto le = i < bounds_.size() ? number(bounds_[i]) : std::string("+Inf");
    sample(out, name + "_bucket", "le=\"" + le + "\"", static_cast<double>(cumulative));
  }
  sample(out, name + "_sum", "", static_cast<double>(load(sum_ns_)) / 1e9);
  sample(out, name + "_count", "", static_cast<double>(cumulative));
}

std::uint64_t histogram::count() const {
  std::uint64_t n = 0;
  for (auto& c : counts_)
    n += load(c);
  return n;
}

void write_metric(std::string& out, const char* name, const char* type, const char* help, double value) {
  header(out, name, type, help);
  sample(out, name, "", value);
}

void metrics::write(std::string& out) const {
  header(out, "confab_open_connections", "gauge", "Open client connections by kind.");
  sample(out, "confab_open_connections", "kind=\"http\"", static_cast<double>(http_connections.load()));
  sample(out, "confab_open_connections", "kind=\"websocket\"", static_cast<double>(ws_connections.load()));
  write_metric(out, "confab_messages_in_total", "counter", "Messages stored by the rooms this node holds.",
               static_cast<double>(load(messages_in)));
  write_metric(out, "confab_room_events_total", "counter", "Events emitted by the rooms this node holds.",
               static_cast<double>(load(room_events)));
  write_metric(out, "confab_remote_copies_total", "counter", "Copies of room events sent to hubs of other nodes.",
               static_cast<double>(load(remote_copies)));
  write_metric(out, "confab_messages_delivered_total", "counter", "Message events written to sessions of this node.",
               static_cast<double>(load(messages_delivered)));
  header(out, "confab_send_ack_seconds", "histogram", "Time from a send request to its acknowledgement.");
  send_ack.write(out, "confab_send_ack_seconds");
  header(out, "confab_rocksdb_write_seconds", "histogram", "Time of one RocksDB write batch.");
  db_write.write(out, "confab_rocksdb_write_seconds");
  header(out, "confab_wal_fsync_seconds", "histogram", "Time of one group commit (fsync of the WAL).");
  db_fsync.write(out, "confab_wal_fsync_seconds");
  header(out, "confab_replication_lag_seconds", "histogram",
         "Time from sending log entries to a follower until it acknowledged them (owners only).");
  replication_lag.write(out, "confab_replication_lag_seconds");
  header(out, "confab_handoffs_total", "counter", "Rooms handed to another node (out) or taken over (in).");
  sample(out, "confab_handoffs_total", "direction=\"out\"", static_cast<double>(load(handoffs_out)));
  sample(out, "confab_handoffs_total", "direction=\"in\"", static_cast<double>(load(handoffs_in)));
  write_metric(out, "confab_replica_entries_in_total", "counter",
               "Entries of replicated room logs that this node's copies took from their owners.",
               static_cast<double>(load(replica_entries_in)));
  write_metric(out, "confab_ws_read_pauses_total", "counter",
               "Times a WebSocket stopped reading because its session had --max-inbound-frames unhandled.",
               static_cast<double>(load(ws_read_pauses)));
  write_metric(out, "confab_slow_consumer_disconnects_total", "counter",
               "WebSockets closed because their outbound queue passed the limit.",
               static_cast<double>(load(slow_consumers)));
  header(out, "confab_rate_limited_total", "counter", "Requests refused by a rate limit.");
  sample(out, "confab_rate_limited_total", "surface=\"ws\"", static_cast<double>(load(rate_limited_ws)));
  sample(out, "confab_rate_limited_total", "surface=\"http\"", static_cast<double>(load(rate_limited_http)));
  header(out, "confab_errors_total", "counter", "Error answers sent to clients, by code.");
  for (auto code = static_cast<std::size_t>(errc::invalid_request); code <= static_cast<std::size_t>(errc::internal);
       ++code)
    sample(out, "confab_errors_total", "code=\"" + std::string(code_name(static_cast<errc>(code))) + "\"",
           static_cast<double>(load(errors[code])));
  write_metric(out, "confab_webhook_dropped_total", "counter", "Offline notifications the push webhook never took.",
               static_cast<double>(load(webhook_dropped)));
  header(out, "confab_connections_refused_total", "counter",
         "Client connections refused by a limit: the node's (503) or one address's (429).");
  sample(out, "confab_connections_refused_total", "limit=\"node\"", static_cast<double>(load(refused_node_full)));
  sample(out, "confab_connections_refused_total", "limit=\"address\"", static_cast<double>(load(refused_address_full)));
  write_metric(out, "confab_cluster_tls_refused_total", "counter",
               "Node-link TLS handshakes this node refused (no certificate, another CA, not TLS).",
               static_cast<double>(load(cluster_tls_refused)));
  write_metric(out, "confab_unexpected_messages_total", "counter",
               "Actor messages no handler matched (from a peer node or a bug), dropped.",
               static_cast<double>(load(unexpected_messages)));
}

metrics& node_metrics() {
  static metrics m;
  return m;
}

}  // namespace confab::api
