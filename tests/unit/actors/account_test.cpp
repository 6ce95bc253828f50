#define CAF_SUITE account
#include "api/clock.hpp"
#include "tests/unit/node_fixture.hpp"

#include <sodium.h>

#include "actors/passwords.hpp"
#include "actors/tokens.hpp"

using namespace confab;

CAF_TEST(tokens verify only with the right secret and before expiry) {
  api::token_claims c{{api::user_id{"u_1"}, "alice"}, "t_1", 1000, 10'000'000};
  auto token = actors::tokens::sign("secret-one-secret-one-secret-one", c);
  auto ok = actors::tokens::verify("secret-one-secret-one-secret-one", token, 2000);
  CAF_REQUIRE(ok);
  CAF_CHECK_EQUAL(ok->who.username, "alice");
  CAF_CHECK_EQUAL(ok->jti, "t_1");
  CAF_CHECK(!actors::tokens::verify("secret-two-secret-two-secret-two", token, 2000));
  CAF_CHECK(!actors::tokens::verify("secret-one-secret-one-secret-one", token, 10'000'001));
  auto tampered = token;
  tampered[tampered.find('.') + 5] ^= 1;
  CAF_CHECK(!actors::tokens::verify("secret-one-secret-one-secret-one", tampered, 2000));
  CAF_CHECK(!actors::tokens::verify("secret-one-secret-one-secret-one", "a.b", 2000));
  CAF_CHECK(!actors::tokens::verify("secret-one-secret-one-secret-one", "", 2000));
}

CAF_TEST(password hashes read and write the format of libsodium) {
  // A hash written by libsodium's crypto_pwhash_str (as every stored account
  // before libargon2 has) checks, and one of ours checks with libsodium.
  char theirs[crypto_pwhash_STRBYTES];
  CAF_REQUIRE_EQUAL(
      crypto_pwhash_str(theirs, "hunter22", 8, crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE),
      0);
  CAF_CHECK(actors::passwords::check(theirs, "hunter22"));
  CAF_CHECK(!actors::passwords::check(theirs, "hunter23"));
  auto ours = actors::passwords::hash("correct horse");
  CAF_REQUIRE(ours);
  CAF_CHECK_EQUAL(crypto_pwhash_str_verify(ours->c_str(), "correct horse", 13), 0);
  CAF_CHECK_NOT_EQUAL(crypto_pwhash_str_verify(ours->c_str(), "correct horsf", 13), 0);
  CAF_CHECK(actors::passwords::check(*ours, "correct horse"));
  CAF_CHECK(!actors::passwords::check(*ours, ""));
  // Two hashes of one password differ by their salt.
  auto again = actors::passwords::hash("correct horse");
  CAF_REQUIRE(again);
  CAF_CHECK_NOT_EQUAL(*ours, *again);
  auto x = actors::passwords::parse(*ours);
  CAF_REQUIRE(x);
  CAF_CHECK_EQUAL(x->m_kib, 65536u);
  CAF_CHECK_EQUAL(x->t, 2u);
  CAF_CHECK_EQUAL(x->p, 1u);
  CAF_CHECK_EQUAL(x->salt.size(), 16u);
  CAF_CHECK_EQUAL(actors::passwords::format(*x), *ours);
}

CAF_TEST(password hashes that ask for too much work or are malformed do not check) {
  auto ours = *actors::passwords::hash("pw");
  auto tail = ours.substr(ours.find("$", 30));  // "$salt$hash"
  for (const std::string& bad :
       std::vector<std::string>{"$argon2id$v=19$m=1048576,t=2,p=1" + tail, "$argon2id$v=19$m=65536,t=100,p=1" + tail,
                                "$argon2id$v=19$m=65536,t=2,p=9" + tail, "$argon2id$v=19$m=65536,t=0,p=1" + tail,
                                "$argon2i$v=19$m=65536,t=2,p=1" + tail, "$argon2id$v=16$m=65536,t=2,p=1" + tail,
                                "$argon2id$v=19$m=065536,t=2,p=1" + tail, "$argon2id$v=19$m=65536,t=2,p=1$",
                                ours.substr(0, ours.size() - 2) + "!!", ours + "$", std::string{},
                                std::string("$argon2id$v=19$m=65536,t=2,p=1$\0\0", 34)}) {
    CAF_CHECK(!actors::passwords::parse(bad));
    CAF_CHECK(!actors::passwords::check(bad, "pw"));
  }
}

CAF_TEST(the dummy hash costs what a real one does and matches no password) {
  auto dummy = actors::passwords::dummy();
  auto x = actors::passwords::parse(dummy);
  auto real = actors::passwords::parse(*actors::passwords::hash("pw"));
  CAF_REQUIRE(x && real);
  CAF_CHECK_EQUAL(x->m_kib, real->m_kib);
  CAF_CHECK_EQUAL(x->t, real->t);
  CAF_CHECK_EQUAL(x->p, real->p);
  CAF_CHECK_EQUAL(x->hash.size(), real->hash.size());
  CAF_CHECK_NOT_EQUAL(dummy, actors::passwords::dummy());
  CAF_CHECK(!actors::passwords::check(dummy, ""));
  CAF_CHECK(!actors::passwords::check(dummy, "pw"));
  // A hash shorter than 16 bytes (libsodium's least) is not a stored hash.
  auto short_hash = *real;
  short_hash.hash.resize(12);
  CAF_CHECK(!actors::passwords::parse(actors::passwords::format(short_hash)));
}

namespace {

struct account_fixture : test::node_fixture {
  api::user_info lookup(const std::string& name) {
    auto u = ask<api::user_info>(accounts, api::lookup_atom::value, name);
    CAF_REQUIRE(u);
    return *u;
  }
};

}  // namespace

CAF_TEST_FIXTURE_SCOPE(account_copies, account_fixture)

CAF_TEST(a copy of an account from another node applies only when it is newer) {
  auto carol = make_user("carol");
  auto stored = test::value(node.db().users().user(carol.id));
  CAF_CHECK_EQUAL(stored.version, 1u);  // registered here
  auto copy = [&](std::uint64_t version, const std::string& display_name) {
    auto u = stored;
    u.version = version;
    u.info.display_name = display_name;
    self->send(accounts, api::replicate_atom::value, u);
    sched.run();
  };
  copy(2, "Carol Two");
  CAF_CHECK_EQUAL(lookup("carol").display_name, "Carol Two");
  copy(1, "Carol Stale");  // arrives late: older than what is kept
  CAF_CHECK_EQUAL(lookup("carol").display_name, "Carol Two");
  CAF_CHECK_EQUAL(test::value(node.db().users().user(carol.id)).info.display_name, "Carol Two");
  copy(3, "Carol Three");
  CAF_CHECK_EQUAL(lookup("carol").display_name, "Carol Three");
  // A profile change made here raises the version past every copy seen.
  api::profile_patch p;
  p.set_display_name = true;
  p.display_name = "Carol Four";
  auto changed = ask<api::user_info>(accounts, api::profile_atom::value, carol.id, p);
  CAF_REQUIRE(changed);
  CAF_CHECK_EQUAL(test::value(node.db().users().user(carol.id)).version, 4u);
}

using revocation_page = std::pair<std::vector<std::string>, std::vector<std::int64_t>>;

// The revocations an account actor hands out to a node that syncs from it.
revocation_page revocations_of(account_fixture& f, const caf::actor& accounts, const std::string& after) {
  revocation_page out;
  auto h = f.self->request(accounts, caf::infinite, api::sync_atom::value, api::revoke_atom::value, after,
                           std::uint32_t{500});
  f.sched.run();
  h.receive(
      [&](std::vector<std::string>& j, std::vector<std::int64_t>& e) {
        out = {std::move(j), std::move(e)};
      },
      [&](caf::error&) { CAF_FAIL("sync page refused"); });
  return out;
}

CAF_TEST(revocations are synced in pages and forgotten when their tokens expire) {
  auto dave = make_user("dave");
  test::test_node other;  // a node that syncs from this one
  other.start(sys, "other");
  sched.run();
  auto now = api::now_ms();
  // 1,200 revocations: three pages of at most 500 for a node that syncs.
  for (int i = 0; i < 1200; ++i)
    self->send(accounts, api::revoke_atom::value, dave.id, "jti-" + std::to_string(1000 + i), now + 3600000);
  auto soon = now + 500;
  self->send(accounts, api::revoke_atom::value, dave.id, std::string("jti-soon"), soon);
  sched.run();
  auto first = revocations_of(*this, accounts, "");
  CAF_REQUIRE_EQUAL(first.first.size(), 500u);
  CAF_CHECK_EQUAL(first.first.front(), std::string("jti-1000"));
  auto second = revocations_of(*this, accounts, first.first.back());
  CAF_REQUIRE_EQUAL(second.first.size(), 500u);
  CAF_CHECK_EQUAL(second.first.front(), std::string("jti-1500"));
  auto users = ask<std::uint64_t>(other.accounts, api::sync_atom::value, accounts);
  CAF_REQUIRE(users);
  CAF_CHECK_EQUAL(test::value(other.db().users().revoked(0)).size(), 1201u);
  // Not pruned before it expires, even when the wake-up comes early...
  CAF_CHECK(sched.trigger_timeout());
  sched.run();
  CAF_CHECK_EQUAL(test::value(node.db().users().revoked(0)).count("jti-soon"), 1u);
  // ...and gone from memory and store once it has (wait for the wall clock,
  // bounded by the 500 ms it has left).
  while (api::now_ms() <= soon)
    std::this_thread::yield();
  CAF_CHECK(sched.trigger_timeout());
  sched.run();
  auto left = test::value(node.db().users().revoked(0));
  CAF_CHECK_EQUAL(left.size(), 1200u);
  CAF_CHECK_EQUAL(left.count("jti-soon"), 0u);
  CAF_CHECK_EQUAL(revocations_of(*this, accounts, "jti-2199").first.size(), 0u);
  other.stop();
  sched.run();
}

CAF_TEST(a login is checked while the registration hasher is stuck) {
  // The registration lane's only hasher keeps every request unanswered; the
  // check lane has a working one. A login must not wait behind registrations.
  auto stuck = sys.spawn([](caf::event_based_actor* self) -> caf::behavior {
    self->set_default_handler(caf::skip);
    return {[](api::closed_atom) {}};
  });
  auto accounts2 =
      caf::actor_cast<caf::actor>(sys.spawn(actors::account_actor, cctx, node.db().users(), std::string(40, 's'),
                                            std::vector<api::hasher_actor>{sys.spawn(actors::hasher_actor, false)},
                                            std::vector<api::hasher_actor>{caf::actor_cast<api::hasher_actor>(stuck)}));
  extra.push_back(accounts2);
  extra.push_back(stuck);
  sched.run();
  storage::stored_user erin;
  erin.info.id = api::user_id{"u_erin"};
  erin.info.username = "erin";
  erin.info.display_name = "erin";
  erin.created_at = 1;
  erin.version = 1;
  char hash[crypto_pwhash_STRBYTES];
  std::string pw = "password-erin";
  CAF_REQUIRE_EQUAL(crypto_pwhash_str(hash, pw.data(), pw.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                      crypto_pwhash_MEMLIMIT_INTERACTIVE),
                    0);
  erin.password_hash = hash;
  self->send(accounts2, api::replicate_atom::value, erin);
  // Two registrations wait for the stuck hasher (one at it, one queued).
  for (auto name : {"frank", "grace"})
    self->send(accounts2, api::register_atom::value, std::string(name), std::string("password-x1"), std::string());
  sched.run();
  auto r = ask<api::login_result>(accounts2, api::login_atom::value, std::string("erin"), pw, std::string("127.0.0.1"));
  CAF_REQUIRE(r);
  CAF_CHECK(!r->token.empty());
}

CAF_TEST_FIXTURE_SCOPE_END()
