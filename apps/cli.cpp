// Command line, CONFAB_* environment and config file, read with
// Boost.Program_options into config::options (which config/ validates).

#include "apps/cli.hpp"

#include <boost/program_options.hpp>

#include <fstream>
#include <sstream>

namespace po = boost::program_options;

namespace confab::apps {

using namespace config;

namespace {

po::options_description describe(options& o, std::string& config_file, std::string& seeds, std::string& max_file_size,
                                 std::string& user_quota, std::string& admin_token_file) {
  auto& l = o.lim;
  po::options_description d("confabd options");
  // clang-format off
  d.add_options()
    ("help", "print this help and exit")
    ("config", po::value(&config_file), "config file with key = value lines")
    ("http-port", po::value(&o.http_port)->default_value(o.http_port), "client port (0: any free port)")
    ("bind", po::value(&o.bind)->default_value(o.bind), "address to listen on")
    ("data-dir", po::value(&o.data_dir)->default_value(o.data_dir), "RocksDB and files of this node")
    ("node-id", po::value(&o.node_id), "stable name of this node")
    ("cluster-port", po::value(&o.cluster_port)->default_value(0), "node-to-node port (mutual TLS)")
    ("cluster-bind", po::value(&o.cluster_bind)->default_value(o.cluster_bind), "address the cluster port listens on")
    ("cluster-ca", po::value(&o.cluster_ca), "PEM cluster CA (default <data-dir>/cluster/ca.pem)")
    ("cluster-cert", po::value(&o.cluster_cert), "PEM certificate of this node (default <data-dir>/cluster/node.pem)")
    ("cluster-key", po::value(&o.cluster_key), "PEM key of this node (default <data-dir>/cluster/node.key)")
    ("seeds", po::value(&seeds), "comma-separated host:port of nodes to join")
    ("replication", po::value(&o.replication)->default_value(3), "copies of each room's history")
    ("admin-token", po::value(&o.admin_token), "bearer token for the admin API")
    ("admin-token-file", po::value(&admin_token_file), "file whose first line is the admin token (kept out of ps)")
    ("secret-file", po::value(&o.secret_file), "token signing key (default <data-dir>/secret)")
    ("tls-cert", po::value(&o.tls_cert), "PEM certificate chain: serve HTTPS/WSS")
    ("tls-key", po::value(&o.tls_key), "PEM private key")
    ("push-webhook", po::value(&o.push_webhook), "URL for offline notifications")
    ("max-file-size", po::value(&max_file_size)->default_value("25M"), "largest upload (K, M, G)")
    ("user-quota", po::value(&user_quota)->default_value("1G"), "bytes of files each user may store (K, M, G)")
    ("log-level", po::value(&o.log_level)->default_value(o.log_level), "trace|debug|info|warn|error|off")
    ("log-format", po::value(&o.log_format)->default_value(o.log_format), "text|json (one JSON object a line)")
    ("durability", po::value(&o.durability)->default_value(o.durability), "fsync: an ack waits for a group commit (fsync of the WAL); wal: for the WAL write only")
    ("search", po::value(&o.search)->default_value(o.search), "keep a full-text index of the messages (GET /api/v1/search); false: none, search answers 503")
    ("web-dir", po::value(&o.web_dir)->default_value(CONFAB_WEB_DIR), "files of the admin console (admin/) and web client")
    ("io-threads", po::value(&o.io_threads)->default_value(o.io_threads), "socket threads")
    ("actor-threads", po::value(&o.actor_threads)->default_value(o.actor_threads), "actor scheduler threads")
    ("max-frame", po::value(&l.max_frame)->default_value(l.max_frame), "largest WebSocket frame (bytes)")
    ("max-body-chars", po::value(&l.max_body_chars)->default_value(l.max_body_chars), "largest message body (code points)")
    ("max-http-body", po::value(&l.max_http_body)->default_value(l.max_http_body), "largest JSON request body (bytes)")
    ("history-max", po::value(&l.history_max)->default_value(l.history_max), "largest history page")
    ("rate-per-s", po::value(&l.rate_per_s)->default_value(l.rate_per_s), "requests per second per session")
    ("rate-burst", po::value(&l.rate_burst)->default_value(l.rate_burst), "request burst per session")
    ("max-outbound", po::value(&l.max_outbound)->default_value(l.max_outbound), "outbound bytes queued per socket")
    ("auth-timeout-ms", po::value(&l.auth_timeout_ms)->default_value(l.auth_timeout_ms), "time to send auth")
    ("login-user-failures", po::value(&l.login_user_failures)->default_value(l.login_user_failures), "failed logins per username per window")
    ("login-user-window-s", po::value(&l.login_user_window_s)->default_value(l.login_user_window_s), "window for failed logins per username")
    ("login-ip-attempts", po::value(&l.login_ip_attempts)->default_value(l.login_ip_attempts), "login attempts per address per window")
    ("login-ip-window-s", po::value(&l.login_ip_window_s)->default_value(l.login_ip_window_s), "window for login attempts per address")
    ("register-per-min", po::value(&l.register_per_min)->default_value(l.register_per_min), "registrations per client address per minute")
    ("token-ttl-s", po::value(&l.token_ttl_s)->default_value(l.token_ttl_s), "access token lifetime")
    ("room-idle-ms", po::value(&l.room_idle_ms)->default_value(l.room_idle_ms), "idle period: a room or presence actor idle for one to two of these is passivated")
    ("typing-timeout-ms", po::value(&l.typing_timeout_ms)->default_value(l.typing_timeout_ms), "typing ends this long after the last refresh")
    ("member-events-max", po::value(&l.member_events_max)->default_value(l.member_events_max), "rooms with more members send member changes as one member_summary event a second")
    ("push-retries", po::value(&l.push_retries)->default_value(l.push_retries), "webhook retries after the first attempt")
    ("push-backoff-ms", po::value(&l.push_backoff_ms)->default_value(l.push_backoff_ms), "first webhook retry delay (doubles)")
    ("push-queue", po::value(&l.push_queue)->default_value(l.push_queue), "webhook notifications waiting at most")
    ("rooms-per-min", po::value(&l.rooms_per_min)->default_value(l.rooms_per_min), "rooms one user may create per minute (then 429)")
    ("invites-per-min", po::value(&l.invites_per_min)->default_value(l.invites_per_min), "invites one user may send per minute (then 429)")
    ("dms-per-min", po::value(&l.dms_per_min)->default_value(l.dms_per_min), "direct rooms one user may open per minute (then 429)")
    ("max-inbound-frames", po::value(&l.max_inbound_frames)->default_value(l.max_inbound_frames), "frames of one socket waiting for its session before the socket stops reading")
    ("max-connections", po::value(&l.max_connections)->default_value(l.max_connections), "open client connections (then 503)")
    ("max-connections-per-ip", po::value(&l.max_connections_per_ip)->default_value(l.max_connections_per_ip), "open client connections from one address (then 429)");
  // clang-format on
  return d;
}

// CONFAB_HTTP_PORT -> http-port; other variables are not ours.
std::string env_name(const po::options_description& d, const std::string& var) {
  static const std::string prefix = "CONFAB_";
  if (var.rfind(prefix, 0) != 0)
    return {};
  std::string name = var.substr(prefix.size());
  for (auto& c : name)
    c = c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (name == "config" || d.find_nothrow(name, false) != nullptr)
    return name;
  return {};
}

}  // namespace

parse_result parse(int argc, const char* const* argv) {
  options o;
  std::string config_file, seeds, max_file_size, user_quota, admin_token_file;
  auto desc = describe(o, config_file, seeds, max_file_size, user_quota, admin_token_file);
  po::variables_map vm;
  try {
    po::positional_options_description none;  // a stray word is an error
    po::store(po::command_line_parser(argc, argv).options(desc).positional(none).run(), vm);
    if (vm.count("help")) {
      std::ostringstream out;
      out << desc;
      return help_text{out.str()};
    }
    po::store(po::parse_environment(desc, [&](const std::string& var) { return env_name(desc, var); }), vm);
    if (vm.count("config")) {
      auto file = vm["config"].as<std::string>();
      std::ifstream in(file);
      if (!in)
        return parse_error{"cannot read config file " + file};
      po::store(po::parse_config_file(in, desc, false), vm);
    }
    po::notify(vm);
  } catch (const po::error& e) {
    return parse_error{e.what()};
  }
  o.seeds = split_seeds(seeds);
  if (!parse_size(max_file_size, o.lim.max_file_size) || o.lim.max_file_size == 0)
    return parse_error{"--max-file-size: not a size: " + max_file_size};
  if (!parse_size(user_quota, o.lim.user_quota))
    return parse_error{"--user-quota: not a size: " + user_quota};
  if (!admin_token_file.empty()) {
    if (!o.admin_token.empty())
      return parse_error{"--admin-token and --admin-token-file exclude each other"};
    std::ifstream in(admin_token_file);
    if (!in || !std::getline(in, o.admin_token) || o.admin_token.empty())
      return parse_error{"cannot read an admin token from --admin-token-file " + admin_token_file};
  }
  if (o.secret_file.empty())
    o.secret_file = o.data_dir + "/secret";
  for (auto [file, name] : {std::pair{&o.cluster_ca, "ca.pem"}, std::pair{&o.cluster_cert, "node.pem"},
                            std::pair{&o.cluster_key, "node.key"}})
    if (file->empty())
      *file = o.data_dir + "/cluster/" + name;
  if (auto err = validate(o); !err.empty())
    return parse_error{err};
  return o;
}

}  // namespace confab::apps
