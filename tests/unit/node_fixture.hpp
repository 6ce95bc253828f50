#pragma once

// The actors of one node on CAF's deterministic test coordinator, over a real
// store in a temp dir. Only sched.run() is used to deliver messages: the
// fixture's run() would also fire every timeout (idle rooms, auth timeouts).

#define FAIL(msg) CAF_FAIL(msg)
#include <caf/test/dsl.hpp>
#include <nlohmann/json.hpp>

#include "actors/account.hpp"
#include "actors/hasher.hpp"
#include "actors/hub.hpp"
#include "actors/presence_manager.hpp"
#include "actors/reader.hpp"
#include "actors/room_manager.hpp"
#include "actors/session.hpp"
#include "actors/stores.hpp"
#include "api/atoms.hpp"
#include "api/errors.hpp"
#include "api/sinks.hpp"
#include "tests/unit/helpers.hpp"

namespace confab::test {

// Records what actors write to a socket.
struct recording_sink : api::connection_sink {
  std::vector<std::string> frames;
  std::vector<std::uint16_t> closes;
  void send_text(api::shared_text frame) override { frames.push_back(*frame); }
  void close(std::uint16_t code, std::string) override { closes.push_back(code); }
  std::size_t queued_bytes() const override { return 0; }
  // Frames whose "op" is `op`, parsed.
  std::vector<nlohmann::json> with_op(const std::string& op) const {
    std::vector<nlohmann::json> out;
    for (auto& f : frames) {
      auto j = nlohmann::json::parse(f);
      if (j.value("op", "") == op)
        out.push_back(j);
    }
    return out;
  }
};

// An actor that subscribes `sink` at `hub` as a session of `user` and
// forwards `ready` to it, as a session actor does (the hub keys sessions by
// actor).
inline caf::actor spawn_hub_session(caf::actor_system& sys, const caf::actor& hub, const api::user_id& user,
                                    const std::shared_ptr<recording_sink>& sink) {
  api::sink_ptr weak = sink;
  return sys.spawn([=](caf::event_based_actor* s) {
    s->send(hub, api::subscribe_atom::value, user, weak);
    return caf::behavior{[=](api::ready_atom r, std::vector<api::room_id> rooms, std::vector<api::seq_t> seqs) {
      s->send(hub, r, std::move(rooms), std::move(seqs));
    }};
  });
}

// The actors of one node on the test coordinator, with its own store and a
// placement that holds only this node until a test changes it.
struct test_node {
  temp_dir dir;
  std::shared_ptr<actors::node_context> ctx = std::make_shared<actors::node_context>();
  std::shared_ptr<storage::store> store;
  caf::actor hub, rooms, readers, accounts, presence;
  cluster::member_card card;

  void start(caf::actor_system& sys, const std::string& id, config::limits lim = {}) {
    // The WAL without fsync: tests of actors make many small writes; the
    // group commit has its own tests (room_test).
    auto db = storage::store::open(dir.path(), storage::durability::wal);
    CAF_REQUIRE(db);
    store = *db;
    ctx->lim = lim;
    ctx->node_id = id;
    actors::context_ptr c = ctx;
    card.hub = sys.spawn(actors::hub_actor, c);
    card.rooms = sys.spawn(actors::room_manager, c, actors::room_stores::of(*store));
    card.readers = sys.spawn(actors::reader_actor, c, actors::reader_stores::of(*store));
    auto hasher = sys.spawn(actors::hasher_actor, false);
    card.accounts = sys.spawn(actors::account_actor, c, store->users(), std::string(40, 's'),
                              std::vector<api::hasher_actor>{hasher}, std::vector<api::hasher_actor>{hasher});
    card.presence = sys.spawn(actors::presence_manager, c, store->users());
    // The tests talk to them as any other node would: by dynamic handle.
    hub = api::untyped(card.hub);
    rooms = api::untyped(card.rooms);
    readers = api::untyped(card.readers);
    accounts = api::untyped(card.accounts);
    presence = api::untyped(card.presence);
    card.id = id;
    card.address = id + ":7000";
    card.started_at = 1;
    ctx->place = std::make_shared<cluster::placement>(card, api::pusher_actor{});
  }

  void stop() {
    for (auto* a : {&hub, &rooms, &readers, &accounts, &presence})
      caf::anon_send_exit(*a, caf::exit_reason::user_shutdown);
  }

  storage::store& db() { return *store; }
  cluster::placement& place() { return *ctx->place; }
};

// The deterministic coordinator with blocking-style requests for tests.
struct coordinator_fixture : test_coordinator_fixture<> {
  // Sends a request, delivers everything, and returns the answer or error.
  template <class T, class... Ts>
  caf::expected<T> ask(const caf::actor& dest, Ts... xs) {
    caf::expected<T> out{caf::sec::request_timeout};
    auto h = self->request(dest, caf::infinite, std::move(xs)...);
    sched.run();
    h.receive([&](T& x) { out = std::move(x); }, [&](caf::error& e) { out = std::move(e); });
    return out;
  }

  template <class... Ts>
  caf::error ask_void(const caf::actor& dest, Ts... xs) {
    caf::error out{caf::sec::request_timeout};
    auto h = self->request(dest, caf::infinite, std::move(xs)...);
    sched.run();
    h.receive([&]() { out = caf::none; }, [&](caf::error& e) { out = std::move(e); });
    return out;
  }

  static api::errc code(const caf::error& e) { return api::describe(e).code; }
};

struct node_fixture : coordinator_fixture {
  test_node node;
  std::shared_ptr<actors::node_context>& ctx = node.ctx;
  actors::context_ptr cctx;
  caf::actor &hub = node.hub, &rooms = node.rooms, &readers = node.readers, &accounts = node.accounts,
             &presence = node.presence;
  std::vector<caf::actor> extra;  // sessions etc., stopped at teardown

  explicit node_fixture(config::limits lim = {}) {
    node.start(sys, "test-node", lim);
    cctx = ctx;
    sched.run();
  }

  ~node_fixture() override {
    for (auto& a : extra)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    node.stop();
    sched.run();
  }

  caf::actor hub_session(const api::user_info& user, const std::shared_ptr<recording_sink>& sink) {
    auto a = spawn_hub_session(sys, hub, user.id, sink);
    extra.push_back(a);
    sched.run();
    return a;
  }

  api::user_info make_user(const std::string& name) {
    auto u =
        ask<api::user_info>(accounts, api::register_atom::value, name, std::string("password-" + name), std::string());
    CAF_REQUIRE(u);
    return *u;
  }

  std::string login(const std::string& name) {
    auto r = ask<api::login_result>(accounts, api::login_atom::value, name, std::string("password-" + name),
                                    std::string("127.0.0.1"));
    CAF_REQUIRE(r);
    return r->token;
  }

  api::room_info make_room(const api::user_info& owner, const std::string& visibility) {
    auto r = ask<api::room_info>(rooms, api::create_atom::value, api::caller{owner.id, owner.username},
                                 std::string("room"), std::string(), visibility, false);
    CAF_REQUIRE(r);
    return *r;
  }
};

}  // namespace confab::test
