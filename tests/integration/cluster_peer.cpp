// confab-test-peer: a hostile CAF peer for the cluster-port tests. It speaks
// CAF's middleman like a node would, without being one:
//
//   confab-test-peer plain HOST PORT
//       a plain (no TLS) CAF middleman asks the port for its published actor
//   confab-test-peer tls HOST PORT CA CERT KEY
//       the same over caf_openssl with the given files; with a handle, it
//       tries what a peer without the cluster secret might: a `sync` of
//       every account, a `drain`, and a join with a made-up proof
//
// Prints one line per step, `step: result`, and exits 0; the test reads the
// lines. Every wait has a timeout.

#include <chrono>
#include <iostream>
#include <set>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/types.hpp"
#include "api/atoms.hpp"
#include "cluster/placement.hpp"

namespace {

constexpr auto wait = std::chrono::seconds(5);

void probe(caf::actor_system& sys, const caf::io::middleman_actor& mm, const std::string& host, std::uint16_t port) {
  caf::scoped_actor self{sys};
  caf::actor gate;
  self->request(mm, wait, caf::connect_atom::value, host, port)
      .receive([&](const caf::node_id&, caf::strong_actor_ptr& ptr,
                   const std::set<std::string>&) { gate = caf::actor_cast<caf::actor>(ptr); },
               [&](caf::error& err) { std::cout << "connect: no handle (" << caf::to_string(err) << ")\n"; });
  if (!gate)
    return;
  std::cout << "connect: handle\n";
  auto step = [&](const char* name, auto... xs) {
    self->request(gate, wait, xs...)
        .receive([&](const caf::message& m) { std::cout << name << ": answered " << caf::to_string(m) << "\n"; },
                 [&](caf::error& err) { std::cout << name << ": refused (" << caf::to_string(err) << ")\n"; });
  };
  step("sync", confab::api::sync_atom::value, std::string("all"));
  step("drain", confab::api::drain_atom::value, std::string("n1"));
  step("challenge", confab::api::challenge_atom::value, std::string(32, 'a'));
  confab::cluster::member_card card;
  card.id = "intruder";
  card.address = "127.0.0.1:1";
  step("hello", confab::api::hello_atom::value, card, std::string(32, 'b'), std::string(64, 'c'));
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (!((mode == "plain" && argc == 4) || (mode == "tls" && argc == 7))) {
    std::cerr << "usage: confab-test-peer plain HOST PORT | tls HOST PORT CA CERT KEY\n";
    return 2;
  }
  caf::actor_system_config cfg;
  cfg.load<caf::io::middleman>();
  if (mode == "tls") {
    cfg.load<caf::openssl::manager>();
    cfg.openssl_cafile = argv[4];
    cfg.openssl_certificate = argv[5];
    cfg.openssl_key = argv[6];
  }
  confab::actors::add_message_types(cfg);
  caf::actor_system sys{cfg};
  auto port = static_cast<std::uint16_t>(std::stoi(argv[3]));
  probe(sys, mode == "tls" ? sys.openssl_manager().actor_handle() : sys.middleman().actor_handle(), argv[2], port);
  std::cout.flush();
  // A connection still waiting for the server's handshake would keep the
  // actor system from ending: leave without tearing it down.
  std::_Exit(0);
}
