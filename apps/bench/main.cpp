// confab-bench: load generator and benchmark for Confab, and for ejabberd
// through XMPP over WebSocket, with the same workloads and the same clock.
// docs/PERFORMANCE.md describes the method; --help lists the flags.

#include <sys/utsname.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <iostream>
#include <optional>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include "apps/bench/engine.hpp"
#include "apps/bench/probes.hpp"
#include "client/http_client.hpp"
#include "client/url.hpp"

namespace po = boost::program_options;
using json = nlohmann::json;

namespace confab::bench {
namespace {

struct options {
  std::string url = "http://127.0.0.1:8080";
  std::string protocol = "confab";
  std::string workload = "rooms";
  std::string admin_token;
  std::string password = "bench-password";
  std::string prefix;
  std::string xmpp_domain = "localhost";
  std::string muc_domain = "conference.localhost";
  std::string label;
  std::size_t connections = 1000;
  std::size_t rooms = 100;
  std::size_t members = 50;
  std::size_t pairs = 1000;
  std::size_t history_messages = 100'000;
  std::size_t history_clients = 1000;
  std::size_t body_size = 100;
  std::size_t sources = 8;
  std::size_t window = 256;
  std::string rate = "max";
  double start_rate = 0;
  double factor = 1.5;
  std::size_t max_steps = 12;
  double duration = 10;
  double warmup = 3;
  double drain = 20;
  double setup_timeout = 300;
  int server_pid = 0;
};

// ---- set-up through the HTTP API -------------------------------------------

struct http_api {
  client::base_url url;
  std::string admin_token;

  json call(const std::string& method, const std::string& target, const json& body, const std::string& bearer,
            unsigned want) const {
    client::http_request req{method, target, body.is_null() ? "" : body.dump(), bearer};
    client::http_options o;
    o.timeout = std::chrono::seconds(60);
    auto out = client::perform(url, req, o);
    if (!out.result)
      throw std::runtime_error(method + " " + target + ": " + out.error);
    if (out.result->status != want)
      throw std::runtime_error(method + " " + target + ": HTTP " + std::to_string(out.result->status) + " " +
                               out.result->body.substr(0, 200));
    return out.result->body.empty() ? json() : json::parse(out.result->body);
  }

  // Users made in bulk through the admin API; (username, token) each.
  std::vector<std::pair<std::string, std::string>> users(const std::string& prefix, std::size_t n,
                                                         const std::string& password) const {
    std::vector<std::pair<std::string, std::string>> out;
    for (std::size_t from = 0; from < n; from += 10'000) {
      json names = json::array();
      for (auto i = from; i < std::min(n, from + 10'000); ++i)
        names.push_back(prefix + std::to_string(i));
      auto made =
          call("POST", "/admin/api/v1/users", json{{"usernames", names}, {"password", password}}, admin_token, 201);
      for (auto& u : made["users"])
        out.emplace_back(u["user"]["username"].get<std::string>(), u["token"].get<std::string>());
    }
    return out;
  }

  std::string room(const std::string& token, const std::string& name) const {
    return call("POST", "/api/v1/rooms", json{{"name", name}, {"visibility", "public"}}, token, 201)["room"]["id"];
  }

  std::string dm(const std::string& token, const std::string& other) const {
    return call("POST", "/api/v1/dm", json{{"username", other}}, token, 200)["room"]["id"];
  }
};

// ---- reporting ---------------------------------------------------------------

double ms(std::int64_t us) {
  return static_cast<double>(us) / 1000.0;
}

struct step_report {
  json j;
  bool saturated = false;
};

step_report report(step_result& r, std::size_t connections, std::int64_t rss_base_kib, bool history) {
  step_report out;
  auto lat = r.latency_us;
  double delivered = static_cast<double>(r.delivered_in_window) / r.seconds;
  double complete = r.expected ? static_cast<double>(r.got) / static_cast<double>(r.expected) : 1.0;
  auto p99 = percentile(lat, 99);
  double client_cores = r.client_cpu_s / r.seconds;
  out.j = {{"offered_per_s", std::round(r.offered_per_s)},
           {"offered_deliveries_per_s", std::round(r.offered_deliveries)},
           {"delivered_per_s", std::round(delivered)},
           {"acked_per_s", std::round(static_cast<double>(r.acked) / r.seconds)},
           {"p50_ms", ms(percentile(lat, 50))},
           {"p90_ms", ms(percentile(lat, 90))},
           {"p99_ms", ms(p99)},
           {"p999_ms", ms(percentile(lat, 99.9))},
           {"max_ms", ms(percentile(lat, 100))},
           {"ack_p50_ms", ms(percentile(r.ack_us, 50))},
           {"ack_p99_ms", ms(percentile(r.ack_us, 99))},
           {"sent", r.sent},
           {"expected", r.expected},
           {"received", r.got},
           {"completeness", complete},
           {"lost", r.lost()},
           {"duplicates", r.duplicates},
           {"out_of_order", r.out_of_order},
           {"errors", r.errors},
           {"seconds", r.seconds},
           {"drain_s", r.drain_s},
           {"server_cpu_cores", r.server_cpu_s / r.seconds},
           {"server_us_per_delivery",
            r.delivered_in_window ? r.server_cpu_s * 1e6 / static_cast<double>(r.delivered_in_window) : 0.0},
           {"client_cpu_cores", client_cores},
           {"client_bound", client_cores > 0.8},
           {"server_rss_kib", r.server_rss_kib},
           {"rss_per_conn_kib", connections && r.server_rss_kib ? static_cast<double>(r.server_rss_kib - rss_base_kib) /
                                                                      static_cast<double>(connections)
                                                                : 0.0}};
  if (history)
    out.j["messages_per_page"] = r.acked ? static_cast<double>(r.items) / static_cast<double>(r.acked) : 0.0;
  // History is a closed loop (each reader asks again on each answer), so its
  // latency is queueing by design: only a lost answer saturates it.
  out.saturated = history ? r.lost() > 0
                          : delivered < 0.9 * r.offered_deliveries || ms(p99) > 100 || r.lost() > 0 ||
                                r.duplicates > 0 || r.out_of_order > 0;
  out.j["saturated"] = out.saturated;
  return out;
}

void print_step_header() {
  std::printf("%10s %12s %12s %8s %8s %8s %8s %9s %8s %8s %7s %9s\n", "offered/s", "deliver/s", "delivered/s", "p50 ms",
              "p99 ms", "p99.9", "max ms", "complete", "srv cpu", "us/deliv", "client", "rss MiB");
}

void print_step(const json& s) {
  std::printf("%10.0f %12.0f %12.0f %8.2f %8.2f %8.2f %8.2f %8.2f%% %8.2f %8.2f %7.2f %9.1f%s\n",
              s["offered_per_s"].get<double>(), s["offered_deliveries_per_s"].get<double>(),
              s["delivered_per_s"].get<double>(), s["p50_ms"].get<double>(), s["p99_ms"].get<double>(),
              s["p999_ms"].get<double>(), s["max_ms"].get<double>(), 100 * s["completeness"].get<double>(),
              s["server_cpu_cores"].get<double>(), s["server_us_per_delivery"].get<double>(),
              s["client_cpu_cores"].get<double>(), static_cast<double>(s["server_rss_kib"].get<std::int64_t>()) / 1024,
              s["saturated"].get<bool>() ? "  saturated" : (s["client_bound"].get<bool>() ? "  client-bound" : ""));
  std::fflush(stdout);
}

json machine() {
  utsname u{};
  uname(&u);
  std::string model;
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);)
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  return {{"nproc", sysconf(_SC_NPROCESSORS_ONLN)}, {"kernel", u.release}, {"cpu", model}};
}

json top_json(const cpu_snapshot& before) {
  json out = json::array();
  for (auto& t : top_cpu(before, snapshot_cpu(), 5))
    out.push_back({{"pid", t.pid}, {"name", t.name}, {"cpu_s", t.cpu_s}});
  return out;
}

// ---- workloads -----------------------------------------------------------------

class runner {
 public:
  explicit runner(const options& o) : o_(o) {
    auto parsed = client::parse_base_url(o.url);
    if (!parsed.url)
      throw std::runtime_error("--url: " + parsed.error);
    api_.url = *parsed.url;
    api_.admin_token = o.admin_token;
    engine_options eo;
    eo.server = {asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(std::stoi(api_.url.port))};
    if (api_.url.host != "127.0.0.1" && api_.url.host != "localhost")
      eo.server.address(asio::ip::make_address(api_.url.host));
    if (!eo.server.address().is_loopback())
      throw std::runtime_error("confab-bench only loads loopback servers (127.0.0.0/8)");
    eo.host = api_.url.host;
    for (std::size_t i = 0; i < std::max<std::size_t>(o.sources, 1); ++i)
      eo.sources.push_back(asio::ip::make_address("127.0.0." + std::to_string(2 + i)));
    eo.window = o.window;
    eo.body_size = std::max<std::size_t>(o.body_size, 16);
    eo.server_pid = o.server_pid;
    eo.echo_counts = o.workload != "dm";
    xmpp_ = o.protocol == "xmpp";
    engine_ = std::make_unique<engine>(eo, [&](protocol_events& ev) {
      return xmpp_ ? make_xmpp_protocol(ev, o.xmpp_domain) : make_confab_protocol(ev);
    });
    prefix_ = o.prefix.empty() ? (xmpp_ ? "u" : "b" + std::to_string(getpid()) + "_") : o.prefix;
  }

  json run() {
    json out{{"workload", o_.workload},
             {"protocol", o_.protocol},
             {"server", o_.label.empty() ? o_.protocol : o_.label},
             {"machine", machine()}};
    auto snap = snapshot_cpu();
    rss_base_ = process_rss_kib(o_.server_pid);
    if (o_.workload == "idle")
      idle(out);
    else if (o_.workload == "rooms")
      rooms(out, o_.rooms, o_.members);
    else if (o_.workload == "bigroom")
      rooms(out, 1, o_.members);
    else if (o_.workload == "dm")
      dm(out);
    else if (o_.workload == "history")
      history(out);
    else
      throw std::runtime_error("unknown workload " + o_.workload);
    out["top_cpu"] = top_json(snap);
    return out;
  }

 private:
  // Users for n connections: tokens from the admin API (Confab) or the
  // password the users were registered with (XMPP).
  std::vector<std::pair<std::string, std::string>> users(std::size_t n) {
    if (!xmpp_)
      return api_.users(prefix_, n, o_.password);
    std::vector<std::pair<std::string, std::string>> out;
    for (std::size_t i = 0; i < n; ++i)
      out.emplace_back(prefix_ + std::to_string(i), o_.password);
    return out;
  }

  // Room r's address: a Confab room made by its first member, or a MUC JID.
  std::vector<std::string> make_rooms(const std::vector<std::pair<std::string, std::string>>& us, std::size_t count,
                                      std::size_t members) {
    std::vector<std::string> ids;
    for (std::size_t r = 0; r < count; ++r) {
      auto n = std::to_string(r);
      if (xmpp_)
        ids.push_back(std::string(1, 'r')
                          .append(std::to_string(getpid()))
                          .append("_")
                          .append(n)
                          .append("@")
                          .append(o_.muc_domain));
      else
        ids.push_back(api_.room(us[r * members].second, std::string("bench ").append(n)));
    }
    return ids;
  }

  void open(const std::vector<std::pair<std::string, std::string>>& us, json& out) {
    double connect_s = 0, login_s = 0;
    std::string why;
    if (!engine_->open_all(us, o_.setup_timeout, &connect_s, &login_s, why))
      throw std::runtime_error("opening connections: " + why);
    out["connections"] = us.size();
    out["connect_per_s"] = std::round(static_cast<double>(us.size()) / connect_s);
    out["logins_per_s"] = std::round(static_cast<double>(us.size()) / login_s);
    std::printf("%zu connections: %.0f connects/s, %.0f logins/s\n", us.size(),
                static_cast<double>(us.size()) / connect_s, static_cast<double>(us.size()) / login_s);
  }

  void join(const std::vector<std::string>& per_conn, json& out) {
    double join_s = 0;
    std::string why;
    if (!engine_->join_all(per_conn, o_.setup_timeout, &join_s, why))
      throw std::runtime_error("joining rooms: " + why);
    out["joins_per_s"] = std::round(static_cast<double>(per_conn.size()) / join_s);
  }

  // Waits until the server is quiet after set-up (joins to a big room go on
  // fanning out member events after their answers), so that a step measures
  // only its own load: quiet is under 10 % of a core over half a second.
  void settle(json& out) {
    if (o_.server_pid <= 0)
      return;
    auto start = now_ns();
    auto mark = start;
    auto cpu = process_cpu_s(o_.server_pid);
    engine_->run_until(
        [&] {
          if (now_ns() - mark < 500'000'000)
            return false;
          auto now_cpu = process_cpu_s(o_.server_pid);
          bool quiet = now_cpu - cpu < 0.05;
          cpu = now_cpu;
          mark = now_ns();
          return quiet;
        },
        o_.setup_timeout);
    out["settle_s"] = static_cast<double>(now_ns() - start) / 1e9;
  }

  void idle(json& out) {
    auto n = o_.connections;
    auto members = std::max<std::size_t>(o_.members, 1);
    auto us = users(n);
    auto count = (n + members - 1) / members;
    auto ids = make_rooms(us, count, members);
    rss_base_ = process_rss_kib(o_.server_pid);
    open(us, out);
    std::vector<std::string> per_conn(n);
    for (std::size_t i = 0; i < n; ++i)
      per_conn[i] = ids[i / members];
    join(per_conn, out);
    settle(out);
    auto cpu0 = process_cpu_s(o_.server_pid);
    engine_->run_until([] { return false; }, o_.duration);
    auto rss = process_rss_kib(o_.server_pid);
    out["idle_server_cpu_cores"] = (process_cpu_s(o_.server_pid) - cpu0) / o_.duration;
    out["server_rss_base_kib"] = rss_base_;
    out["server_rss_kib"] = rss;
    out["rss_per_conn_kib"] = rss ? static_cast<double>(rss - rss_base_) / static_cast<double>(n) : 0.0;
    out["failures"] = engine_->failures();
    std::printf("idle: %zu connections, server RSS %.1f MiB (%.2f KiB per connection above %.1f MiB)\n", n,
                static_cast<double>(rss) / 1024, out["rss_per_conn_kib"].get<double>(),
                static_cast<double>(rss_base_) / 1024);
  }

  // Steps of rising offered rate until one saturates (or the listed rates).
  void steps(json& out, bool direct, std::uint32_t receivers, double default_start) {
    std::vector<double> rates;
    bool search = o_.rate == "max";
    if (!search) {
      std::stringstream in(o_.rate);
      for (std::string part; std::getline(in, part, ',');)
        rates.push_back(std::stod(part));
    }
    double rate = search ? (o_.start_rate > 0 ? o_.start_rate : default_start) : rates.front();
    auto fanout = [receivers](const conn&) { return receivers; };
    if (o_.warmup > 0)
      engine_->run_step(rate, o_.warmup, o_.drain, direct, false, fanout);
    json list = json::array();
    json knee;
    print_step_header();
    for (std::size_t i = 0; i < (search ? o_.max_steps : rates.size()); ++i) {
      if (!search)
        rate = rates[i];
      auto r = engine_->run_step(rate, o_.duration, o_.drain, direct, true, fanout);
      auto s = report(r, engine_->conns().size(), rss_base_, false);
      print_step(s.j);
      list.push_back(s.j);
      if (!s.saturated)
        knee = s.j;
      if (s.saturated && search)
        break;
      rate *= o_.factor;
    }
    out["steps"] = list;
    out["knee"] = knee;
  }

  void rooms(json& out, std::size_t count, std::size_t members) {
    auto us = users(count * members);
    auto ids = make_rooms(us, count, members);
    rss_base_ = process_rss_kib(o_.server_pid);
    open(us, out);
    std::vector<std::string> per_conn(us.size());
    for (std::size_t i = 0; i < us.size(); ++i)
      per_conn[i] = ids[i / members];
    join(per_conn, out);
    settle(out);
    out["rooms"] = count;
    out["members"] = members;
    // Start near 10,000 offered deliveries per second.
    steps(out, false, static_cast<std::uint32_t>(members), std::max(1.0, 10'000.0 / static_cast<double>(members)));
  }

  void dm(json& out) {
    auto us = users(o_.pairs * 2);
    rss_base_ = process_rss_kib(o_.server_pid);
    open(us, out);
    auto& conns = engine_->conns();
    for (std::size_t p = 0; p < o_.pairs; ++p) {
      auto& a = *conns[2 * p];
      auto& b = *conns[2 * p + 1];
      if (xmpp_) {
        a.peer = b.user + "@" + o_.xmpp_domain;
        b.peer = a.user + "@" + o_.xmpp_domain;
      } else {
        a.peer = b.peer = api_.dm(a.secret, b.user);
      }
    }
    out["pairs"] = o_.pairs;
    settle(out);
    steps(out, true, 1, 2000);
  }

  void history(json& out) {
    if (!engine_->proto().has_history())
      throw std::runtime_error("the " + o_.protocol + " protocol has no history call in this bench");
    // One writer fills the room alone, then the readers join.
    auto us = users(o_.history_clients + 1);
    auto ids = make_rooms(us, 1, us.size());
    open(us, out);
    std::vector<std::string> writer(us.size());
    writer[0] = ids[0];
    join(writer, out);
    auto& conns = engine_->conns();
    std::vector<conn_ptr> readers(conns.begin() + 1, conns.end());
    conns.resize(1);
    auto fill_rate = 20'000.0;
    auto fill = engine_->run_step(fill_rate, static_cast<double>(o_.history_messages) / fill_rate, 60, false, true,
                                  [](const conn&) { return 1u; });
    out["filled"] = fill.got;
    if (fill.lost() > 0)
      throw std::runtime_error("filling the history room lost " + std::to_string(fill.lost()) + " messages (" +
                               std::to_string(fill.errors) + " refused, first: " + engine_->first_failure() +
                               "); a server with the default per-session rate limit needs a higher --rate-per-s");
    conns.insert(conns.end(), readers.begin(), readers.end());
    std::vector<std::string> per_conn(conns.size(), ids[0]);
    per_conn[0].clear();
    join(per_conn, out);
    conns.erase(conns.begin());  // the writer does not read
    settle(out);
    auto r = engine_->run_history(o_.duration, 50);
    auto s = report(r, conns.size(), rss_base_, true);
    print_step_header();
    print_step(s.j);
    out["steps"] = json::array({s.j});
    out["knee"] = s.j;
  }

  const options& o_;
  http_api api_;
  std::unique_ptr<engine> engine_;
  bool xmpp_ = false;
  std::string prefix_;
  std::int64_t rss_base_ = 0;
};

}  // namespace
}  // namespace confab::bench

int main(int argc, char** argv) {
  using confab::bench::options;
  options o;
  po::options_description desc("confab-bench [flags]; docs/PERFORMANCE.md explains the workloads");
  // clang-format off
  desc.add_options()
    ("help", "this text")
    ("url", po::value(&o.url)->default_value(o.url), "server base URL (loopback only)")
    ("protocol", po::value(&o.protocol)->default_value(o.protocol), "confab or xmpp")
    ("workload", po::value(&o.workload)->default_value(o.workload), "idle, rooms, bigroom, dm or history")
    ("admin-token", po::value(&o.admin_token), "Confab admin token (users are made in bulk)")
    ("password", po::value(&o.password)->default_value(o.password), "users' password")
    ("prefix", po::value(&o.prefix), "username prefix (XMPP: the registered users' prefix, default u)")
    ("xmpp-domain", po::value(&o.xmpp_domain)->default_value(o.xmpp_domain), "XMPP host")
    ("muc-domain", po::value(&o.muc_domain)->default_value(o.muc_domain), "XMPP MUC service")
    ("label", po::value(&o.label), "server name in the output")
    ("connections", po::value(&o.connections)->default_value(o.connections), "idle: connections")
    ("rooms", po::value(&o.rooms)->default_value(o.rooms), "rooms: rooms")
    ("members", po::value(&o.members)->default_value(o.members), "members per room (idle, rooms, bigroom)")
    ("pairs", po::value(&o.pairs)->default_value(o.pairs), "dm: pairs")
    ("history-messages", po::value(&o.history_messages)->default_value(o.history_messages), "history: room size")
    ("history-clients", po::value(&o.history_clients)->default_value(o.history_clients), "history: readers")
    ("body-size", po::value(&o.body_size)->default_value(o.body_size), "message body bytes")
    ("sources", po::value(&o.sources)->default_value(o.sources), "source addresses 127.0.0.2 and up")
    ("window", po::value(&o.window)->default_value(o.window), "connections opening at once")
    ("rate", po::value(&o.rate)->default_value(o.rate), "sends/s: a list (1000,2000) or max (step up until saturated)")
    ("start-rate", po::value(&o.start_rate), "first sends/s of a max search")
    ("factor", po::value(&o.factor)->default_value(o.factor), "rate growth per step")
    ("max-steps", po::value(&o.max_steps)->default_value(o.max_steps), "steps of a max search")
    ("duration", po::value(&o.duration)->default_value(o.duration), "seconds per step (idle: time held)")
    ("warmup", po::value(&o.warmup)->default_value(o.warmup), "seconds of unmeasured load first")
    ("drain", po::value(&o.drain)->default_value(o.drain), "seconds to wait for late deliveries")
    ("setup-timeout", po::value(&o.setup_timeout)->default_value(o.setup_timeout), "seconds for connecting and joining")
    ("server-pid", po::value(&o.server_pid), "server process for CPU and RSS readings");
  // clang-format on
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "confab-bench: " << e.what() << "\n" << desc;
    return 2;
  }
  if (vm.count("help")) {
    std::cout << desc;
    return 0;
  }
  if (o.protocol != "confab" && o.protocol != "xmpp") {
    std::cerr << "confab-bench: --protocol must be confab or xmpp\n";
    return 2;
  }
  if (o.protocol == "confab" && o.admin_token.empty()) {
    std::cerr << "confab-bench: --admin-token is needed to make Confab users\n";
    return 2;
  }
  confab::bench::raise_open_files();
  try {
    confab::bench::runner r(o);
    auto out = r.run();
    std::cout << out.dump() << std::endl;
    // A max search ends on a step that may have lost messages (that is how
    // saturation shows); listed rates must lose none. Duplicates and
    // reordering are wrong at any rate.
    bool clean = true;
    for (auto& s : out.value("steps", nlohmann::json::array()))
      clean = clean && (o.rate == "max" || s["lost"] == 0) && s["duplicates"] == 0 && s["out_of_order"] == 0;
    return clean ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "confab-bench: " << e.what() << "\n";
    return 1;
  }
}
