// confabctl: the admin command line. One admin API call per run (PROTOCOL.md
// section 4), shown as a table or, with --json, as the JSON answer itself.
// Exit codes: 0 done, 1 the call failed (refused, unreachable, API error),
// 2 the command line is wrong.

#include <boost/program_options.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/admin_client.hpp"
#include "cluster/certs.hpp"

namespace po = boost::program_options;
using json = nlohmann::json;

namespace {

using namespace confab::client;

constexpr std::string_view default_url = "http://127.0.0.1:8080";

constexpr std::string_view commands_help =
    "commands:\n"
    "  nodes                      the cluster's nodes\n"
    "  actors [--node N] [--kind K] [--q TEXT] [--sort S] [--limit N] [--offset N]\n"
    "                             live actors (kind: room, session, presence, hub, ...;\n"
    "                             sort: mailbox, processed, last_active, since, id)\n"
    "  room ID                    one room: owner, members, last_seq\n"
    "  user NAME                  one user: presence and open sessions\n"
    "  kick SESSION               close a session's socket (code 4003)\n"
    "  drain NODE                 hand a node's rooms to the others and stop it\n"
    "  remove NODE                drop a node that is down for good: its rooms get\n"
    "                             new copies on the other nodes\n"
    "  cert ca --dir DIR [--days N]\n"
    "                             make a cluster CA: DIR/ca.pem and DIR/ca.key (mode 0600)\n"
    "  cert node --dir DIR --node-id ID [--host H]... [--days N]\n"
    "                             make DIR/ID.pem and DIR/ID.key signed by DIR's CA\n"
    "                             (no --url or --token needed for cert)\n";

struct usage_error {
  std::string message;
};

[[nodiscard]] std::string env_or(const char* name, std::string_view fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : std::string(fallback);
}

// -- rendering -------------------------------------------------------------------

[[nodiscard]] std::size_t display_width(std::string_view s) {
  // UTF-8 continuation bytes take no column; names may be non-ASCII
  return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

[[nodiscard]] std::string text_of(const json& v) {
  if (v.is_null())
    return "-";
  if (v.is_string())
    return v.get<std::string>();
  if (v.is_array()) {
    std::string out;
    for (const auto& e : v) {
      if (!out.empty())
        out += ',';
      out += text_of(e);
    }
    return out.empty() ? "-" : out;
  }
  return v.dump();
}

[[nodiscard]] std::string field(const json& obj, const char* name) {
  auto it = obj.find(name);
  return it == obj.end() ? "-" : text_of(*it);
}

// 42s, 5m03s, 1h02m, 3d04h: two units are enough to read at a glance.
[[nodiscard]] std::string duration(long long ms) {
  if (ms < 0)
    ms = 0;
  long long s = ms / 1000;
  char buf[32];
  if (s < 60)
    std::snprintf(buf, sizeof buf, "%llds", s);
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%lldm%02llds", s / 60, s % 60);
  else if (s < 86400)
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", s / 3600, s % 3600 / 60);
  else
    std::snprintf(buf, sizeof buf, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
  return buf;
}

[[nodiscard]] std::string uptime(const json& obj) {
  auto it = obj.find("uptime_ms");
  return it != obj.end() && it->is_number() ? duration(it->get<long long>()) : "-";
}

// A millisecond epoch as "3m12s ago"; the clocks of tool and node may differ a little.
[[nodiscard]] std::string age(const json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end() || !it->is_number() || it->get<long long>() <= 0)
    return "-";
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch());
  return duration(now.count() - it->get<long long>()) + " ago";
}

class table {
 public:
  // A header ending in '>' is right-aligned (numbers), the '>' is not shown.
  explicit table(std::vector<std::string> headers) {
    for (auto& h : headers) {
      bool right = !h.empty() && h.back() == '>';
      if (right)
        h.pop_back();
      right_.push_back(right);
      rows_.empty() ? rows_.push_back({h}) : rows_[0].push_back(h);
    }
  }

  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }

  void print(std::ostream& os) const {
    std::vector<std::size_t> widths(right_.size(), 0);
    for (const auto& r : rows_)
      for (std::size_t i = 0; i < r.size() && i < widths.size(); ++i)
        widths[i] = std::max(widths[i], display_width(r[i]));
    for (const auto& r : rows_) {
      std::string line;
      for (std::size_t i = 0; i < r.size() && i < widths.size(); ++i) {
        std::string pad(widths[i] - display_width(r[i]), ' ');
        bool last = i + 1 == r.size();
        line += right_[i] ? pad + r[i] : (last ? r[i] : r[i] + pad);
        if (!last)
          line += "  ";
      }
      // an empty last cell would leave the padding of the one before it
      line.erase(line.find_last_not_of(' ') + 1);
      os << line << '\n';
    }
  }

 private:
  std::vector<bool> right_;
  std::vector<std::vector<std::string>> rows_;
};

// "key:   value" lines: `order` first, then whatever else the server sent.
void print_fields(std::ostream& os, const json& obj, const std::vector<std::string>& order, std::string_view indent,
                  const std::map<std::string, std::function<std::string(const json&)>>& shown = {}) {
  std::vector<std::string> keys = order;
  for (const auto& [k, v] : obj.items())
    if (std::find(keys.begin(), keys.end(), k) == keys.end() && !v.is_object() &&
        !(v.is_array() && !v.empty() && v.front().is_object()))
      keys.push_back(k);
  std::size_t width = 0;
  for (const auto& k : keys)
    width = std::max(width, k.size());
  for (const auto& k : keys) {
    if (!obj.contains(k))
      continue;
    auto s = shown.find(k);
    os << indent << k << ':' << std::string(width - k.size() + 2, ' ')
       << (s != shown.end() ? s->second(obj) : text_of(obj[k])) << '\n';
  }
}

void show_nodes(const json& a) {
  table t({"ID", "STATUS", "ADDRESS", "HTTP", "ROOMS>", "SESSIONS>", "PRESENCES>", "UPTIME>"});
  for (const auto& n : a.value("nodes", json::array()))
    t.add({field(n, "id"), field(n, "status"), field(n, "address"), field(n, "http"), field(n, "rooms"),
           field(n, "sessions"), field(n, "presences"), uptime(n)});
  t.print(std::cout);
}

void show_actors(const json& a) {
  table t({"NODE", "KIND", "ID", "MAILBOX>", "PROCESSED>", "LAST-ACTIVE", "DETAIL"});
  auto actors = a.value("actors", json::array());
  for (const auto& x : actors)
    t.add({field(x, "node"), field(x, "kind"), field(x, "id"), field(x, "mailbox"), field(x, "processed"),
           age(x, "last_active"), field(x, "detail")});
  t.print(std::cout);
  auto offset = a.value("offset", 0L);
  std::cout << actors.size() << " of " << field(a, "total") << " actors";
  if (offset > 0)
    std::cout << " (from offset " << offset << ")";
  std::cout << '\n';
}

void show_room(const json& a) {
  print_fields(
      std::cout, a,
      {"room", "name", "kind", "visibility", "owner", "replicas", "members", "online_members", "last_seq", "mailbox"},
      "");
}

void show_user(const json& a) {
  const auto user = a.value("user", json::object());
  print_fields(std::cout, user, {"id", "username", "display_name"}, "");
  const auto presence = a.value("presence", json::object());
  if (!presence.empty()) {
    std::cout << "presence:\n";
    print_fields(std::cout, presence, {"status", "last_seen"}, "  ",
                 {{"last_seen", [](const json& p) { return age(p, "last_seen"); }}});
  }
  auto sessions = a.value("sessions", json::array());
  std::cout << "\nsessions: " << sessions.size() << '\n';
  if (sessions.empty())
    return;
  table t({"ID", "NODE", "SINCE", "REMOTE"});
  for (const auto& s : sessions)
    t.add({field(s, "id"), field(s, "node"), age(s, "since"), field(s, "remote")});
  t.print(std::cout);
}

// -- the call ----------------------------------------------------------------------

struct command {
  std::string name;
  std::string argument;  // the ID/NAME/SESSION/NODE of commands that take one
  actor_filter filter;
};

[[nodiscard]] int report_failure(const admin_client& c, const http_outcome& out) {
  if (!out.result) {
    std::cerr << "confabctl: " << (out.stage == failure_stage::connect ? "cannot reach " : "no answer from ")
              << c.url().display << ": " << out.error << '\n';
    return 1;
  }
  const auto& r = *out.result;
  if (r.status == 401) {
    std::cerr << "confabctl: unauthorized: the admin token was refused\n";
    return 1;
  }
  auto e = parse_api_error(r.body);
  if (!e.code.empty()) {
    std::cerr << "confabctl: " << e.code << ": " << (e.message.empty() ? "(no message)" : e.message) << " (HTTP "
              << r.status << ")\n";
  } else {
    std::cerr << "confabctl: HTTP " << r.status << " from " << c.url().display << ": "
              << (r.body.empty() ? "(empty answer)" : r.body.substr(0, 300)) << '\n';
  }
  return 1;
}

[[nodiscard]] int run(const admin_client& c, const command& cmd, bool as_json) {
  http_outcome out;
  if (cmd.name == "nodes")
    out = c.nodes();
  else if (cmd.name == "actors")
    out = c.actors(cmd.filter);
  else if (cmd.name == "room")
    out = c.room(cmd.argument);
  else if (cmd.name == "user")
    out = c.user(cmd.argument);
  else if (cmd.name == "kick")
    out = c.kick(cmd.argument);
  else
    out = c.node_action(cmd.argument, cmd.name);
  if (!out.result || out.result->status < 200 || out.result->status >= 300)
    return report_failure(c, out);

  const auto& body = out.result->body;
  json answer = body.empty() ? json::object() : json::parse(body, nullptr, false);
  if (answer.is_discarded()) {
    std::cerr << "confabctl: the answer of " << c.url().display << " is not JSON: " << body.substr(0, 300) << '\n';
    return 1;
  }
  if (as_json) {
    std::cout << answer.dump(2) << '\n';
    return 0;
  }
  if (cmd.name == "nodes")
    show_nodes(answer);
  else if (cmd.name == "actors")
    show_actors(answer);
  else if (cmd.name == "room")
    show_room(answer);
  else if (cmd.name == "user")
    show_user(answer);
  else if (cmd.name == "kick")
    std::cout << "kicked session " << cmd.argument << '\n';
  else
    std::cout << "node " << answer.value("node", cmd.argument) << " is " << answer.value("status", cmd.name) << '\n';
  return 0;
}

// -- the command line -----------------------------------------------------------------

[[nodiscard]] command parse_command(const std::vector<std::string>& words) {
  if (words.empty())
    throw usage_error{"no command given"};
  command cmd{words.front(), {}, {}};
  std::vector<std::string> rest(words.begin() + 1, words.end());
  static const std::map<std::string, std::string> argument_names = {
      {"room", "ID"}, {"user", "NAME"}, {"kick", "SESSION"}, {"drain", "NODE"}, {"remove", "NODE"}};

  po::options_description d;
  po::positional_options_description pos;
  if (cmd.name == "actors") {
    long limit = 0;
    long offset = 0;
    // clang-format off
    d.add_options()
      ("node", po::value(&cmd.filter.node), "")
      ("kind", po::value(&cmd.filter.kind), "")
      ("q", po::value(&cmd.filter.q), "")
      ("sort", po::value(&cmd.filter.sort), "")
      ("limit", po::value(&limit), "")
      ("offset", po::value(&offset), "");
    // clang-format on
    po::variables_map vm;
    po::store(po::command_line_parser(rest).options(d).positional(pos).run(), vm);
    po::notify(vm);
    if (vm.count("limit") != 0U)
      cmd.filter.limit = limit;
    if (vm.count("offset") != 0U)
      cmd.filter.offset = offset;
  } else if (cmd.name == "nodes") {
    po::variables_map vm;  // nodes takes nothing: parsing only rejects extra words
    po::store(po::command_line_parser(rest).options(d).positional(pos).run(), vm);
  } else if (argument_names.contains(cmd.name)) {
    d.add_options()("argument", po::value(&cmd.argument), "");
    pos.add("argument", 1);
    po::variables_map vm;
    po::store(po::command_line_parser(rest).options(d).positional(pos).run(), vm);
    po::notify(vm);
    if (cmd.argument.empty())
      throw usage_error{cmd.name + " needs " + argument_names.at(cmd.name)};
  } else {
    throw usage_error{"unknown command '" + cmd.name + "'"};
  }
  return cmd;
}

// `cert ca` and `cert node`: files on this machine, no node involved.
[[nodiscard]] int run_cert(const std::vector<std::string>& words) {
  if (words.size() < 2 || (words[1] != "ca" && words[1] != "node"))
    throw usage_error{"cert needs ca or node"};
  std::string dir, node_id;
  std::vector<std::string> hosts;
  int days = 0;
  po::options_description d;
  // clang-format off
  d.add_options()
    ("dir", po::value(&dir), "")
    ("days", po::value(&days), "")
    ("node-id", po::value(&node_id), "")
    ("host", po::value(&hosts), "");
  // clang-format on
  po::variables_map vm;
  po::store(po::command_line_parser(std::vector<std::string>(words.begin() + 2, words.end())).options(d).run(), vm);
  po::notify(vm);
  if (dir.empty())
    throw usage_error{"cert " + words[1] + " needs --dir"};
  bool ca = words[1] == "ca";
  if (ca && (vm.count("node-id") != 0U || vm.count("host") != 0U))
    throw usage_error{"cert ca takes --dir and --days only"};
  if (!ca && node_id.empty())
    throw usage_error{"cert node needs --node-id"};
  if (days == 0)
    days = ca ? 3650 : 1825;  // ten years for the CA, five for a node
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  auto err = ca ? confab::cluster::make_ca(dir, days) : confab::cluster::make_node_cert(dir, node_id, hosts, days);
  if (!err.empty()) {
    std::cerr << "confabctl: " << err << '\n';
    return 1;
  }
  if (ca)
    std::cout << "made " << dir << "/ca.pem and " << dir << "/ca.key (keep ca.key off the nodes)\n";
  else
    std::cout << "made " << dir << "/" << node_id << ".pem and " << dir << "/" << node_id << ".key\n";
  return 0;
}

void print_usage(std::ostream& os, const po::options_description& global) {
  os << "usage: confabctl [options] <command> [args]\n\n" << commands_help << '\n' << global;
}

}  // namespace

int main(int argc, char** argv) {
  std::string url_text;
  std::string token;
  std::string ca_file;
  double timeout_s = 10;
  po::options_description global("options");
  // clang-format off
  global.add_options()
    ("help,h", "print this help and exit")
    ("url", po::value(&url_text), "node to ask, http[s]://host:port (env CONFAB_URL; default http://127.0.0.1:8080)")
    ("token", po::value(&token), "admin token (env CONFAB_ADMIN_TOKEN)")
    ("json", "print the JSON answer instead of a table")
    ("ca-file", po::value(&ca_file), "PEM certificates to trust for https:// (default: the system's)")
    ("timeout", po::value(&timeout_s)->default_value(10), "seconds to connect, and again to get the answer");
  // clang-format on
  po::options_description hidden;
  hidden.add_options()("words", po::value<std::vector<std::string>>(), "");
  po::options_description all;
  all.add(global).add(hidden);
  po::positional_options_description pos;
  pos.add("words", -1);

  try {
    po::variables_map vm;
    // Global options are read anywhere; the command's own options and operands
    // stay unrecognized here and are parsed per command below.
    auto parsed = po::command_line_parser(argc, argv).options(all).positional(pos).allow_unregistered().run();
    po::store(parsed, vm);
    po::notify(vm);
    if (vm.count("help") != 0U) {
      print_usage(std::cout, global);
      return 0;
    }
    auto words = po::collect_unrecognized(parsed.options, po::include_positional);
    if (!words.empty() && words.front() == "cert")
      return run_cert(words);
    auto cmd = parse_command(words);

    if (url_text.empty())
      url_text = env_or("CONFAB_URL", default_url);
    if (token.empty())
      token = env_or("CONFAB_ADMIN_TOKEN", "");
    if (token.empty())
      throw usage_error{"no admin token: pass --token or set CONFAB_ADMIN_TOKEN"};
    if (!(timeout_s > 0) || timeout_s > 3600)
      throw usage_error{"--timeout must be more than 0 and at most 3600 seconds"};
    auto url = parse_base_url(url_text);
    if (!url.url)
      throw usage_error{"--url " + url_text + ": " + url.error};

    http_options options;
    options.timeout = std::chrono::milliseconds(static_cast<long long>(timeout_s * 1000));
    options.ca_file = ca_file;
    admin_client client(std::move(*url.url), std::move(token), std::move(options));
    return run(client, cmd, vm.count("json") != 0U);
  } catch (const usage_error& e) {
    std::cerr << "confabctl: " << e.message << "\n\n";
    print_usage(std::cerr, global);
    return 2;
  } catch (const po::error& e) {
    std::cerr << "confabctl: " << e.what() << "\n\n";
    print_usage(std::cerr, global);
    return 2;
  } catch (const json::exception& e) {
    // a 2xx answer whose JSON does not have the contract's shape
    std::cerr << "confabctl: unexpected answer: " << e.what() << '\n';
    return 1;
  }
}
