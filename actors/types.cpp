#include "actors/types.hpp"

#include "api/messages.hpp"
#include "cluster/placement.hpp"
#include "cluster/replication.hpp"
#include "storage/store.hpp"

namespace confab::actors {

void add_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<api::user_id>("confab::user_id");
  cfg.add_message_type<api::room_id>("confab::room_id");
  cfg.add_message_type<api::session_id>("confab::session_id");
  cfg.add_message_type<api::user_info>("confab::user_info");
  cfg.add_message_type<api::device_key>("confab::device_key");
  cfg.add_message_type<std::vector<api::device_key>>("std::vector<confab::device_key>");
  cfg.add_message_type<api::room_info>("confab::room_info");
  cfg.add_message_type<api::caller>("confab::caller");
  cfg.add_message_type<api::send_request>("confab::send_request");
  cfg.add_message_type<api::send_ack>("confab::send_ack");
  cfg.add_message_type<api::history_request>("confab::history_request");
  cfg.add_message_type<api::history_page>("confab::history_page");
  cfg.add_message_type<api::search_request>("confab::search_request");
  cfg.add_message_type<api::search_result>("confab::search_result");
  cfg.add_message_type<std::vector<api::search_result>>("std::vector<confab::search_result>");
  cfg.add_message_type<api::member_entry>("confab::member_entry");
  cfg.add_message_type<api::my_room>("confab::my_room");
  cfg.add_message_type<api::login_result>("confab::login_result");
  cfg.add_message_type<std::vector<api::login_result>>("std::vector<confab::login_result>");
  cfg.add_message_type<api::token_claims>("confab::token_claims");
  cfg.add_message_type<api::profile_patch>("confab::profile_patch");
  cfg.add_message_type<api::file_info>("confab::file_info");
  cfg.add_message_type<api::node_status>("confab::node_status");
  cfg.add_message_type<api::room_admin>("confab::room_admin");
  cfg.add_message_type<api::actor_info>("confab::actor_info");
  cfg.add_message_type<api::actor_query>("confab::actor_query");
  cfg.add_message_type<api::actor_page>("confab::actor_page");
  cfg.add_message_type<std::vector<api::actor_info>>("std::vector<confab::actor_info>");
  cfg.add_message_type<api::room_piece>("confab::room_piece");
  cfg.add_message_type<storage::stored_user>("confab::stored_user");
  cfg.add_message_type<cluster::member_card>("confab::cluster::member_card");
  cfg.add_message_type<std::vector<cluster::member_card>>("std::vector<confab::cluster::member_card>");
  cfg.add_message_type<std::vector<api::user_id>>("std::vector<confab::user_id>");
  cfg.add_message_type<std::vector<api::room_id>>("std::vector<confab::room_id>");
  cfg.add_message_type<std::vector<api::room_info>>("std::vector<confab::room_info>");
  cfg.add_message_type<std::vector<api::my_room>>("std::vector<confab::my_room>");
  cfg.add_message_type<std::vector<api::member_entry>>("std::vector<confab::member_entry>");
  namespace rep = cluster::replication;
  cfg.add_message_type<rep::epoch>("confab::replication::epoch");
  cfg.add_message_type<rep::entry>("confab::replication::entry");
  cfg.add_message_type<std::vector<rep::entry>>("std::vector<confab::replication::entry>");
  cfg.add_message_type<rep::prepare_reply>("confab::replication::prepare_reply");
  cfg.add_message_type<rep::append_request>("confab::replication::append_request");
  cfg.add_message_type<rep::append_reply>("confab::replication::append_reply");
  cfg.add_message_type<std::vector<api::node_status>>("std::vector<confab::node_status>");
  cfg.add_message_type<std::vector<storage::stored_user>>("std::vector<confab::stored_user>");
  cfg.add_message_type<std::vector<std::uint64_t>>("std::vector<uint64_t>");
  cfg.add_message_type<std::vector<std::int64_t>>("std::vector<int64_t>");
}

}  // namespace confab::actors
