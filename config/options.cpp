#include "config/options.hpp"

#include <cctype>
#include <sstream>

namespace confab::config {

bool parse_size(const std::string& text, std::uint64_t& out) {
  if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0])))
    return false;
  std::size_t pos = 0;
  unsigned long long value = 0;
  try {
    value = std::stoull(text, &pos);
  } catch (const std::exception&) {
    return false;
  }
  std::uint64_t mult = 1;
  if (pos < text.size()) {
    if (pos + 1 != text.size())
      return false;
    switch (std::toupper(static_cast<unsigned char>(text[pos]))) {
      case 'K':
        mult = 1024ull;
        break;
      case 'M':
        mult = 1024ull * 1024;
        break;
      case 'G':
        mult = 1024ull * 1024 * 1024;
        break;
      default:
        return false;
    }
  }
  if (value > UINT64_MAX / mult)
    return false;
  out = value * mult;
  return true;
}

std::vector<std::string> split_seeds(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty())
      out.push_back(item);
  return out;
}

std::string validate(options& o) {
  if (o.data_dir.empty())
    return "--data-dir must not be empty";
  if (o.tls_cert.empty() != o.tls_key.empty())
    return "--tls-cert and --tls-key go together";
  if (o.replication < 1 || o.replication > 7)
    return "--replication must be 1-7";
  if (!o.seeds.empty() && o.cluster_port == 0)
    return "--seeds needs --cluster-port";
  if (o.cluster_bind.empty())
    return "--cluster-bind must not be empty";
  for (auto& seed : o.seeds) {
    auto colon = seed.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == seed.size() ||
        seed.find_first_not_of("0123456789", colon + 1) != std::string::npos)
      return "--seeds: " + seed + " is not host:port";
  }
  if (o.io_threads < 1 || o.io_threads > 64 || o.actor_threads < 1 || o.actor_threads > 64)
    return "--io-threads and --actor-threads must be 1-64";
  static const char* levels[] = {"trace", "debug", "info", "warn", "error", "off"};
  bool level_ok = false;
  for (auto* l : levels)
    level_ok = level_ok || o.log_level == l;
  if (!level_ok)
    return "--log-level must be one of trace, debug, info, warn, error, off";
  if (o.durability != "fsync" && o.durability != "wal")
    return "--durability must be fsync or wal";
  if (o.log_format != "text" && o.log_format != "json")
    return "--log-format must be text or json";
  auto& l = o.lim;
  if (l.max_frame < 1024 || l.max_body_chars < 1 || l.max_http_body < 1024 || l.history_max < 1 || l.rate_per_s <= 0 ||
      l.rate_burst < 1 || l.max_outbound < 1024 || l.auth_timeout_ms < 1 || l.login_user_failures < 1 ||
      l.login_ip_attempts < 1 || l.token_ttl_s < 1 || l.room_idle_ms < 1)
    return "a limit is out of range";
  if (l.typing_timeout_ms < 1 || l.push_queue < 1 || l.push_backoff_ms < 1)
    return "a limit is out of range";
  if (l.register_per_min < 1)
    return "--register-per-min must be at least 1";
  if (l.rooms_per_min < 1 || l.invites_per_min < 1 || l.dms_per_min < 1)
    return "--rooms-per-min, --invites-per-min and --dms-per-min must be at least 1";
  if (l.max_inbound_frames < 1)
    return "--max-inbound-frames must be at least 1";
  if (l.max_connections < 1 || l.max_connections_per_ip < 1)
    return "--max-connections and --max-connections-per-ip must be at least 1";
  if (!o.push_webhook.empty() && o.push_webhook.rfind("http://", 0) != 0)
    return "--push-webhook must be an http:// URL";
  if (!o.admin_token.empty() && o.admin_token.size() < 16)
    return "--admin-token must have at least 16 characters";
  return {};
}

}  // namespace confab::config
