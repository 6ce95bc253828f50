// confabd: one Confab node. Parses options, raises the open-files limit,
// starts the node, prints the ready line, and shuts down cleanly on SIGTERM.

#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>

#include <cstdio>
#include <iostream>

#include <sodium.h>
#include <spdlog/spdlog.h>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>

#include "actors/types.hpp"
#include "api/errors.hpp"
#include "apps/cli.hpp"
#include "apps/logging.hpp"
#include "apps/node.hpp"
#include "cluster/certs.hpp"

namespace {

int fail_start(const std::string& message) {
  std::cerr << "confabd: " << message << std::endl;
  return 2;
}

void raise_open_files_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur >= lim.rlim_max)
    return;
  lim.rlim_cur = lim.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &lim) != 0)
    spdlog::warn("could not raise the open-files limit to {}", lim.rlim_max);
}

// Runs the node until SIGTERM or SIGINT (or a drain); 0 after a clean stop.
// Everything that may log ends inside: the logger outlives the actor system.
int serve(const confab::config::options& opts, const sigset_t& stop_signals) {
  caf::actor_system_config cfg;
  cfg.load<caf::io::middleman>();
  if (opts.cluster_port != 0) {
    // Node links are mutual TLS, never anything less: caf_openssl requires a
    // peer certificate from the CA once all three files are set, falls back
    // to anonymous ciphers without them, and throws from inside its
    // multiplexer if one cannot be loaded. So each is checked here first.
    auto err = confab::cluster::check_tls_files({opts.cluster_ca, opts.cluster_cert, opts.cluster_key});
    if (!err.empty())
      return fail_start(err);
    cfg.load<caf::openssl::manager>();
    cfg.openssl_cafile = opts.cluster_ca;
    cfg.openssl_certificate = opts.cluster_cert;
    cfg.openssl_key = opts.cluster_key;
  }
  confab::actors::add_message_types(cfg);
  // Links check each other every second and drop after 10 s of silence; the
  // node actors' own heartbeats mark a silent member down after 5 s.
  cfg.set("middleman.heartbeat-interval", caf::timespan{std::chrono::seconds(1)});
  cfg.set("middleman.connection-timeout", caf::timespan{std::chrono::seconds(10)});
  cfg.set("scheduler.max-threads", static_cast<std::size_t>(opts.actor_threads));
  cfg.set("scheduler.max-throughput", static_cast<std::size_t>(300));
  caf::actor_system sys{cfg};
  auto node = confab::apps::node::start(sys, opts);
  if (!node)
    return fail_start(confab::api::describe(node.error()).message);
  if (opts.admin_token.empty())
    std::cout << "confabd admin-token=" << (*node)->admin_token() << "\n";
  std::cout << "confabd ready node=" << (*node)->id() << " http=" << (*node)->http_port()
            << " cluster=" << (*node)->cluster_port() << std::endl;
  spdlog::info("node {} serving on {}:{}{}", (*node)->id(), opts.bind, (*node)->http_port(),
               opts.tls_cert.empty() ? "" : " (TLS)");
  int sig = 0;
  sigwait(&stop_signals, &sig);
  spdlog::info("signal {}: shutting down", sig);
  (*node)->stop();
  node->reset();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = confab::apps::parse(argc, argv);
  if (auto* help = std::get_if<confab::apps::help_text>(&parsed)) {
    std::cout << help->text;
    return 0;
  }
  if (auto* err = std::get_if<confab::apps::parse_error>(&parsed))
    return fail_start(err->message);
  auto& opts = std::get<confab::config::options>(parsed);
  // Every thread started from here on (the logger's, the actors', Asio's)
  // inherits the blocked signals; the main thread waits for them with sigwait.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  confab::apps::start_logging(opts.log_level, opts.log_format);
  if (sodium_init() < 0)
    return fail_start("libsodium failed to initialise");
  raise_open_files_limit();
  // Upload chunks and RocksDB memtable blocks are 256 KiB: a fixed mmap
  // threshold keeps such blocks mmapped, so their memory goes back to the OS
  // when freed instead of staying in per-thread heap arenas (glibc otherwise
  // raises the threshold after the first free of a large block).
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  int rc = serve(opts, stop_signals);
  if (rc == 0)
    spdlog::info("stopped");
  confab::apps::stop_logging();
  return rc;
}
