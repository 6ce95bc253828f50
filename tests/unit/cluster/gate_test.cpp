#define CAF_SUITE gate
#include "tests/unit/node_fixture.hpp"

#include <sys/stat.h>

#include <fstream>

#include "api/metrics.hpp"
#include "cluster/certs.hpp"
#include "cluster/gate.hpp"
#include "cluster/node_actor.hpp"

using namespace confab;

namespace {

const std::string secret = std::string(64, 's');

// A gate of node "n1" in front of a stand-in node actor that admits every
// card it is given (and counts them; n0 was removed), and what a joiner sends.
struct gate_fixture : test::coordinator_fixture {
  int admitted = 0;
  caf::actor node = sys.spawn([this](caf::event_based_actor*) -> caf::behavior {
    return {[this](api::admit_atom, const cluster::member_card& card)
                -> caf::result<cluster::member_card, std::vector<std::string>, std::vector<std::string>,
                               std::vector<cluster::member_card>> {
      ++admitted;
      cluster::member_card me;
      me.id = "n1";
      cluster::member_card down;
      down.id = "n4";
      return {me, std::vector<std::string>{"n3:7000", card.id}, std::vector<std::string>{"n0"},
              std::vector<cluster::member_card>{down}};
    }};
  });
  caf::actor gate = sys.spawn(cluster::gate_actor, secret, std::string("n1"), node);

  ~gate_fixture() override {
    for (auto* a : {&gate, &node})
      caf::anon_send_exit(*a, caf::exit_reason::user_shutdown);
    sched.run();
  }

  // The joiner's card: its node actor is the one that sends the hello.
  cluster::member_card card(const std::string& id) {
    cluster::member_card c;
    c.id = id;
    c.address = id + ":7000";
    c.node = caf::actor_cast<caf::actor>(self);
    return c;
  }

  // challenge(mine): (gate id, gate nonce, gate proof)
  std::tuple<std::string, std::string, std::string> challenge(const std::string& mine) {
    std::tuple<std::string, std::string, std::string> out;
    auto h = self->request(gate, caf::infinite, api::challenge_atom::value, mine);
    sched.run();
    h.receive(
        [&](std::string& id, std::string& nonce, std::string& proof) {
          out = {id, nonce, proof};
        },
        [&](caf::error& err) { CAF_FAIL("challenge refused: " << caf::to_string(err)); });
    return out;
  }

  // hello(card, nonce, proof): the gate's answer, or its error.
  caf::expected<std::vector<std::string>> hello(const cluster::member_card& c, const std::string& nonce,
                                                const std::string& proof) {
    caf::expected<std::vector<std::string>> out{caf::sec::request_timeout};
    auto h = self->request(gate, caf::infinite, api::hello_atom::value, c, nonce, proof);
    sched.run();
    h.receive(
        [&](cluster::member_card& me, std::vector<std::string>& others, std::vector<std::string>& removed,
            std::vector<cluster::member_card>& down) {
          CAF_CHECK_EQUAL(me.id, "n1");
          CAF_REQUIRE_EQUAL(down.size(), 1u);  // relayed: the joiner lists them down
          CAF_CHECK_EQUAL(down[0].id, "n4");
          CAF_CHECK_EQUAL(removed, (std::vector<std::string>{"n0"}));  // relayed: the joiner learns them
          out = std::move(others);
        },
        [&](caf::error& err) { out = std::move(err); });
    return out;
  }
};

}  // namespace

CAF_TEST_FIXTURE_SCOPE(gate_tests, gate_fixture)

CAF_TEST(the gate proves the secret on the joiners nonce before the joiner proves anything) {
  auto mine = cluster::random_nonce();
  auto [id, nonce, proof] = challenge(mine);
  CAF_CHECK_EQUAL(id, "n1");
  CAF_CHECK(cluster::proof_holds(proof, secret, "welcome", mine, "n1"));
  CAF_CHECK(!cluster::proof_holds(proof, std::string(64, 'x'), "welcome", mine, "n1"));
  CAF_CHECK(!cluster::proof_holds(proof, secret, "welcome", cluster::random_nonce(), "n1"));
  CAF_CHECK_EQUAL(admitted, 0);
}

CAF_TEST(a joiner with the secret is admitted and gets the member list) {
  auto [id, nonce, proof] = challenge(cluster::random_nonce());
  auto others = hello(card("n2"), nonce, cluster::link_proof(secret, "join", nonce, "n2"));
  CAF_REQUIRE(others);
  CAF_CHECK_EQUAL(*others, (std::vector<std::string>{"n3:7000", "n2"}));
  CAF_CHECK_EQUAL(admitted, 1);
}

CAF_TEST(a wrong proof is refused and spends the nonce so that no retry can use it) {
  auto [id, nonce, proof] = challenge(cluster::random_nonce());
  auto wrong = hello(card("n2"), nonce, cluster::link_proof(std::string(64, 'x'), "join", nonce, "n2"));
  CAF_REQUIRE(!wrong);
  CAF_CHECK_EQUAL(code(wrong.error()), api::errc::forbidden);
  auto replay = hello(card("n2"), nonce, cluster::link_proof(secret, "join", nonce, "n2"));
  CAF_REQUIRE(!replay);
  CAF_CHECK_EQUAL(code(replay.error()), api::errc::forbidden);
  CAF_CHECK_EQUAL(admitted, 0);
}

CAF_TEST(a proof for another role or id and a made-up nonce are refused) {
  auto [id, nonce, proof] = challenge(cluster::random_nonce());
  CAF_CHECK(!hello(card("n2"), nonce, cluster::link_proof(secret, "welcome", nonce, "n2")));
  auto [id2, nonce2, proof2] = challenge(cluster::random_nonce());
  CAF_CHECK(!hello(card("n2"), nonce2, cluster::link_proof(secret, "join", nonce2, "n9")));
  auto made_up = cluster::random_nonce();
  CAF_CHECK(!hello(card("n2"), made_up, cluster::link_proof(secret, "join", made_up, "n2")));
  CAF_CHECK_EQUAL(admitted, 0);
}

CAF_TEST(a card that names another actor than its sender is refused) {
  auto [id, nonce, proof] = challenge(cluster::random_nonce());
  auto c = card("n2");
  c.node = node;  // not the sender
  auto r = hello(c, nonce, cluster::link_proof(secret, "join", nonce, "n2"));
  CAF_REQUIRE(!r);
  CAF_CHECK_EQUAL(code(r.error()), api::errc::forbidden);
  CAF_CHECK_EQUAL(admitted, 0);
}

CAF_TEST(a message the gate does not know is dropped and counted) {
  auto before = api::node_metrics().unexpected_messages.load();
  auto h = self->request(gate, caf::infinite, api::sync_atom::value, std::string("all"));
  sched.run();
  bool refused = false;
  h.receive([&](const caf::message&) {}, [&](caf::error& err) { refused = err == caf::sec::unexpected_message; });
  CAF_CHECK(refused);
  CAF_CHECK_EQUAL(api::node_metrics().unexpected_messages.load(), before + 1);
}

CAF_TEST_FIXTURE_SCOPE_END()

namespace {

// A node actor alone, with its timer's messages left undelivered.
struct node_actor_fixture : test::coordinator_fixture {
  caf::actor node;

  node_actor_fixture() {
    cluster::member_card me;
    me.id = "n1";
    me.address = "n1:7000";
    cluster::node_config cfg;
    cfg.secret = secret;
    cfg.place = std::make_shared<cluster::placement>(me, api::pusher_actor{});
    node = sys.spawn(cluster::node_actor, std::move(cfg));
    sched.run();
  }

  ~node_actor_fixture() override {
    caf::anon_send_exit(node, caf::exit_reason::user_shutdown);
    sched.run();
  }

  std::uint64_t dropped() { return api::node_metrics().unexpected_messages.load(); }
};

}  // namespace

CAF_TEST_FIXTURE_SCOPE(node_actor_tests, node_actor_fixture)

CAF_TEST(only the node actors own timer ticks) {
  auto before = dropped();
  // the first tick is the actor's own: it ran at start and armed the next
  auto timers = sched.clock().schedule().size();
  self->send(node, api::tick_atom::value);
  sched.run();
  CAF_CHECK_EQUAL(dropped(), before + 1);
  CAF_CHECK_EQUAL(sched.clock().schedule().size(), timers);  // no second ping loop
}

CAF_TEST(only a member says that it itself leaves) {
  auto before = dropped();
  self->send(node, api::leave_atom::value, std::string("n1"));
  self->send(node, api::leave_atom::value, std::string("n2"));
  sched.run();
  CAF_CHECK_EQUAL(dropped(), before + 2);
}

CAF_TEST(a made up drain request from here for an unknown node is answered not found) {
  auto r = ask_void(node, api::drain_atom::value, std::string("n7"));
  CAF_REQUIRE(r);
  CAF_CHECK_EQUAL(code(r), api::errc::not_found);
}

CAF_TEST(a message the node actor does not know is dropped and counted) {
  auto before = dropped();
  self->send(node, std::string("garbage"), 42);
  sched.run();
  CAF_CHECK_EQUAL(dropped(), before + 1);
}

CAF_TEST_FIXTURE_SCOPE_END()

// -- certificates ------------------------------------------------------------

namespace {

std::string check(const std::string& dir, const std::string& ca, const std::string& node) {
  return cluster::check_tls_files({dir + "/" + ca, dir + "/" + node + ".pem", dir + "/" + node + ".key"});
}

}  // namespace

CAF_TEST(certificates of one ca pass the start up check and others fail it with a reason) {
  test::temp_dir a, b;
  CAF_REQUIRE_EQUAL(cluster::make_ca(a.path(), 30), "");
  CAF_REQUIRE_EQUAL(cluster::make_node_cert(a.path(), "n1", {"127.0.0.1", "n1.example"}, 30), "");
  CAF_REQUIRE_EQUAL(cluster::make_node_cert(a.path(), "n2", {}, 30), "");
  CAF_REQUIRE_EQUAL(cluster::make_ca(b.path(), 30), "");
  CAF_REQUIRE_EQUAL(cluster::make_node_cert(b.path(), "n1", {}, 30), "");
  CAF_CHECK_EQUAL(check(a.path(), "ca.pem", "n1"), "");
  struct stat st {};
  CAF_REQUIRE_EQUAL(::stat((a.path() + "/n1.key").c_str(), &st), 0);
  CAF_CHECK_EQUAL(st.st_mode & 0777, 0600u);
  CAF_REQUIRE_EQUAL(::stat((a.path() + "/ca.key").c_str(), &st), 0);
  CAF_CHECK_EQUAL(st.st_mode & 0777, 0600u);
  // b's n1 is signed by b's CA, not a's
  auto err = cluster::check_tls_files({a.path() + "/ca.pem", b.path() + "/n1.pem", b.path() + "/n1.key"});
  CAF_CHECK(err.find("is not signed by the cluster CA") != std::string::npos);
  // n2's key with n1's certificate
  err = cluster::check_tls_files({a.path() + "/ca.pem", a.path() + "/n1.pem", a.path() + "/n2.key"});
  CAF_CHECK(err.find("is not the key of") != std::string::npos);
  // a missing file, and a file that is no PEM
  err = cluster::check_tls_files({a.path() + "/nope.pem", a.path() + "/n1.pem", a.path() + "/n1.key"});
  CAF_CHECK(err.find("cannot read cluster CA") != std::string::npos);
  std::ofstream(a.path() + "/junk.pem") << "not a certificate\n";
  err = cluster::check_tls_files({a.path() + "/ca.pem", a.path() + "/junk.pem", a.path() + "/n1.key"});
  CAF_CHECK(err.find("holds no PEM certificate") != std::string::npos);
  // nothing is overwritten
  CAF_CHECK(cluster::make_ca(a.path(), 30).find("exists already") != std::string::npos);
  CAF_CHECK(cluster::make_node_cert(a.path(), "n1", {}, 30).find("exists already") != std::string::npos);
  CAF_CHECK(cluster::make_node_cert(a.path(), "../evil", {}, 30).find("--node-id") != std::string::npos);
  CAF_CHECK_EQUAL(check(a.path(), "ca.pem", "n1"), "");
}
