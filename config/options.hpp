#pragma once

// Start-up options of confabd: flags, CONFAB_* environment, config file.
// Leaf module: no CAF, Beast or RocksDB here.

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace confab::config {

struct limits {
  std::size_t max_frame = 64 * 1024;
  std::size_t max_body_chars = 8000;
  std::size_t max_http_body = 1024 * 1024;
  std::size_t history_max = 200;
  double rate_per_s = 20;
  double rate_burst = 50;
  std::size_t max_outbound = 4 * 1024 * 1024;
  std::uint32_t max_inbound_frames = 64;  // unhandled frames per socket before it stops reading
  std::uint32_t auth_timeout_ms = 10000;
  std::uint32_t login_user_failures = 10;
  std::uint32_t login_user_window_s = 900;
  std::uint32_t login_ip_attempts = 60;
  std::uint32_t login_ip_window_s = 60;
  std::uint32_t register_per_min = 10;  // registrations per client address
  std::uint32_t rooms_per_min = 10;     // per user: rooms created
  std::uint32_t invites_per_min = 60;   // per user: invites sent
  std::uint32_t dms_per_min = 30;       // per user: direct rooms opened
  std::uint64_t token_ttl_s = 7 * 24 * 3600;
  std::uint32_t room_idle_ms = 60000;
  std::uint64_t max_file_size = 25 * 1024 * 1024;
  std::uint32_t typing_timeout_ms = 6000;
  // Rooms with more members than this (invited ones count) send `member`
  // events only to the user concerned and a `member_summary` a second to all.
  std::uint32_t member_events_max = 1000;
  std::uint32_t watch_max = 500;
  std::uint32_t push_retries = 5;
  std::uint32_t push_backoff_ms = 500;
  std::uint32_t push_queue = 10000;
  std::uint64_t user_quota = 1024ull * 1024 * 1024;
  std::size_t max_connections = 18000;
  std::size_t max_connections_per_ip = 2000;
};

struct options {
  std::uint16_t http_port = 8080;
  std::string bind = "127.0.0.1";
  std::string data_dir = "./data";
  std::string node_id;  // empty: derived from host and ports
  std::uint16_t cluster_port = 0;
  std::string cluster_bind = "127.0.0.1";
  // PEM files of mutual TLS between nodes; empty: <data_dir>/cluster/...
  std::string cluster_ca;
  std::string cluster_cert;
  std::string cluster_key;
  std::vector<std::string> seeds;
  unsigned replication = 1;
  std::string admin_token;  // empty: generated at start
  std::string secret_file;  // empty: <data_dir>/secret
  std::string tls_cert;
  std::string tls_key;
  std::string push_webhook;
  std::string durability = "fsync";  // fsync (group commit) or wal
  bool search = true;                // keep the full-text index (GET /search)
  std::string log_level = "info";
  std::string log_format = "text";  // text or json (one object a line)
  std::string web_dir;              // the console and web client; empty: this build's web/
  unsigned io_threads = 1;
  unsigned actor_threads = 2;
  limits lim;
};

// Checks ranges and combinations; empty when fine, else one line.
[[nodiscard]] std::string validate(options& o);

// "a,b" -> {"a", "b"}
[[nodiscard]] std::vector<std::string> split_seeds(const std::string& s);

// "25M" -> 26214400; K, M, G suffixes (powers of 1024). False on bad input.
[[nodiscard]] bool parse_size(const std::string& text, std::uint64_t& out);

}  // namespace confab::config
