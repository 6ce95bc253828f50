#define CAF_SUITE remote
// Two nodes in one deterministic test with a simulated network between them
// (CAF's io test DSL): every message below crosses a node link, so it is
// serialized on one side and deserialized on the other with the types
// confabd registers (actors/types.hpp). A field that inspect() forgets, or a
// type missing from the list, arrives empty or not at all and fails here.
#include "tests/unit/node_fixture.hpp"

#include <caf/test/io_dsl.hpp>

#include "actors/types.hpp"

using namespace confab;

namespace {

struct types_config : test_node_fixture_config {
  types_config() { actors::add_message_types(*this); }
};

using planet_fixture = test_coordinator_fixture<types_config>;

struct link_fixture : point_to_point_fixture<planet_fixture> {
  test::test_node node;  // the actors of one node, on earth
  caf::actor remote_accounts;
  caf::actor remote_rooms;

  link_fixture() {
    node.start(earth.sys, "earth");
    run();
    remote_accounts = publish_and_connect(node.accounts, 8001);
    remote_rooms = publish_and_connect(node.rooms, 8002);
  }

  ~link_fixture() {
    node.stop();
    run();
  }

  // Publishes `whom` on earth and returns mars's handle to it.
  caf::actor publish_and_connect(const caf::actor& whom, std::uint16_t port) {
    prepare_connection(earth, mars, "earth", port);
    earth.publish(whom, port);
    auto remote = mars.remote_actor("earth", port);
    CAF_REQUIRE(remote);
    return remote;
  }

  // A request from mars, answered over the link.
  template <class T, class... Ts>
  caf::expected<T> ask(const caf::actor& dest, Ts... xs) {
    caf::expected<T> out{caf::sec::request_timeout};
    auto h = mars.self->request(dest, caf::infinite, std::move(xs)...);
    run();
    h.receive([&](T& x) { out = std::move(x); }, [&](caf::error& e) { out = std::move(e); });
    return out;
  }
};

}  // namespace

CAF_TEST_FIXTURE_SCOPE(remote_tests, link_fixture)

CAF_TEST(a send and its history cross a node link with every field) {
  CAF_CHECK_NOT_EQUAL(remote_rooms.node(), mars.sys.node());
  auto ann = ask<api::user_info>(remote_accounts, api::register_atom::value, std::string("ann"),
                                 std::string("password-ann"), std::string());
  CAF_REQUIRE(ann);
  CAF_CHECK_EQUAL(ann->username, "ann");
  api::caller who{ann->id, ann->username};
  auto room = ask<api::room_info>(remote_rooms, api::create_atom::value, who, std::string("general"),
                                  std::string("the topic"), std::string("public"), false);
  CAF_REQUIRE(room);
  CAF_CHECK_EQUAL(room->name, "general");
  CAF_CHECK_EQUAL(room->topic, "the topic");
  api::send_request req{who, room->id, "héllo over the link", "c-1", 0, 0, "", "", ""};
  auto ack = ask<api::send_ack>(remote_rooms, api::send_atom::value, req);
  CAF_REQUIRE(ack);
  CAF_CHECK_EQUAL(ack->room, room->id);
  CAF_CHECK_EQUAL(ack->seq, 1u);
  CAF_CHECK(!ack->msg_id.empty() && ack->ts > 0);
  CAF_CHECK(ack->message_json.find("héllo over the link") != std::string::npos);
  // The same client_msg_id again: the first message's seq, nothing new.
  auto again = ask<api::send_ack>(remote_rooms, api::send_atom::value, req);
  CAF_REQUIRE(again);
  CAF_CHECK_EQUAL(again->seq, 1u);
  api::history_request h{ann->id, room->id, false, 0, false, 0, 50};
  auto page = ask<api::history_page>(remote_rooms, api::history_atom::value, h);
  CAF_REQUIRE(page);
  CAF_REQUIRE_EQUAL(page->messages.size(), 1u);
  CAF_CHECK_EQUAL(page->messages[0], ack->message_json);
  CAF_CHECK(!page->has_more);
}

CAF_TEST(an error crosses a node link with its code and message) {
  auto bad = ask<api::user_info>(remote_accounts, api::register_atom::value, std::string("x"),
                                 std::string("password-x"), std::string());
  CAF_REQUIRE(!bad);
  auto f = api::describe(bad.error());
  CAF_CHECK(f.code == api::errc::invalid_request);
  CAF_CHECK_EQUAL(f.message, "username must have 3-32 characters");
}

CAF_TEST_FIXTURE_SCOPE_END()
