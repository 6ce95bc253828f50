#include "cluster/node_actor.hpp"

#include <algorithm>
#include <chrono>

#include <spdlog/spdlog.h>
#include <caf/actor_cast.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor.hpp>

#include "api/atoms.hpp"
#include "api/clock.hpp"
#include "api/errors.hpp"
#include "api/metrics.hpp"
#include "cluster/gate.hpp"
#include "cluster/scatter.hpp"

namespace confab::cluster {

namespace {

using self_ptr = caf::stateful_actor<node_state>*;
constexpr auto link_timeout = std::chrono::seconds(3);
constexpr auto sync_timeout = std::chrono::seconds(60);
constexpr std::int64_t retry_every_ms = 2000;

void publish_view(self_ptr self) {
  auto& st = self->state;
  st.cfg.place->set_members(st.members.live(), st.members.down(), st.members.leaving(), st.members.removed());
  for (auto& l : st.cfg.listeners)
    self->send(l, api::view_atom::value);
}

void admitted(self_ptr self, const member_card& card) {
  auto& st = self->state;
  if (st.members.removed(card.id)) {
    spdlog::warn("not linking node {} ({}): it was removed from the cluster", card.id, card.address);
    return;
  }
  bool fresh = st.members.find(card.id) == nullptr;
  self->monitor(card.node);
  if (st.members.admit(card, api::now_ms())) {
    spdlog::info("node {} ({}) joined the cluster view{}", card.id, card.address, fresh ? "" : " again");
    publish_view(self);
  }
}

void start_done(self_ptr self) {
  auto& st = self->state;
  if (st.started || st.seeds_pending > 0)
    return;
  st.started = true;
  for (auto& rp : st.waiting)
    rp.deliver(true);
  st.waiting.clear();
}

// Our account actor copies the users and revocations of a node we joined.
void sync_from(self_ptr self, const member_card& card) {
  auto& st = self->state;
  ++st.seeds_pending;
  self->request(st.cfg.place->self().accounts, sync_timeout, api::sync_atom::value, api::untyped(card.accounts))
      .then(
          [=](std::uint64_t users) {
            spdlog::info("copied {} accounts from node {}", users, card.id);
            --self->state.seeds_pending;
            start_done(self);
          },
          [=](caf::error& err) {
            spdlog::warn("could not copy the accounts of node {}: {}", card.id, api::describe(err).message);
            --self->state.seeds_pending;
            start_done(self);
          });
}

void connect(self_ptr self, const std::string& address, bool seed);

void link_failed(self_ptr self, const std::string& address, bool seed, const std::string& why) {
  auto& st = self->state;
  st.connecting.erase(std::remove(st.connecting.begin(), st.connecting.end(), address), st.connecting.end());
  spdlog::log(seed ? spdlog::level::warn : spdlog::level::debug, "no link to node at {}: {}", address, why);
  if (seed && st.seeds_pending > 0) {
    --st.seeds_pending;
    start_done(self);
  }
}

// Members the admitting node lists as down that this one never met: listed
// down here too (found by the scale run: a node restarted while a member was
// down did not list it at all).
void learn_down(self_ptr self, const std::vector<member_card>& cards) {
  auto& st = self->state;
  std::vector<std::string> news;
  for (auto& c : cards)
    if (st.members.know_down(c))
      news.push_back(c.id);
  if (news.empty())
    return;
  spdlog::info("node(s) {} listed down by the cluster", fmt::join(news, ","));
  publish_view(self);
}

// A node removed for good goes to this node's disk, so that a restart knows
// it too (a failure is logged: this process still knows it).
void save_removed(self_ptr self, const std::string& id) {
  auto& st = self->state;
  if (st.cfg.save_removed)
    if (auto err = st.cfg.save_removed(id))
      spdlog::error("could not save that node {} was removed (a restart would forget it): {}", id,
                    api::describe(err).message);
}

// Nodes a member says were removed for good: never admitted here either
// (saved first).
void learn_removed(self_ptr self, const std::vector<std::string>& ids) {
  auto& st = self->state;
  bool news = false;
  for (auto& id : ids) {
    if (st.members.removed(id) || id == st.members.self().id)
      continue;
    save_removed(self, id);
    news |= st.members.mark_removed(id);
  }
  if (news)
    publish_view(self);
}

// Through the gate `gate` of the node at `address` (see gate.hpp): first
// that node proves the cluster secret, then this one; only then are cards
// (actor handles) and member lists exchanged.
void handshake(self_ptr self, const caf::actor& gate, const std::string& address, bool seed) {
  auto mine = random_nonce();
  self->request(gate, link_timeout, api::challenge_atom::value, mine)
      .then(
          [=](const std::string& their_id, const std::string& their_nonce, const std::string& their_proof) {
            auto& st = self->state;
            if (!proof_holds(their_proof, st.cfg.secret, "welcome", mine, their_id)) {
              spdlog::error(
                  "node at {} holds another cluster secret: this node's --secret-file differs from "
                  "the cluster's, so it does not join through it",
                  address);
              return link_failed(self, address, seed, "wrong secret");
            }
            auto proof = link_proof(st.cfg.secret, "join", their_nonce, st.members.self().id);
            self->request(gate, link_timeout, api::hello_atom::value, st.members.self(), their_nonce, proof)
                .then(
                    [=](const member_card& card, const std::vector<std::string>& others,
                        const std::vector<std::string>& removed, const std::vector<member_card>& down) {
                      auto& st = self->state;
                      if (card.id != their_id || !card.node) {
                        spdlog::warn("refused node at {}: its card does not match its gate", address);
                        return link_failed(self, address, seed, "card mismatch");
                      }
                      st.connecting.erase(std::remove(st.connecting.begin(), st.connecting.end(), address),
                                          st.connecting.end());
                      // Alone until now (starting, or cut off): copy the accounts of
                      // the cluster we join; changes made meanwhile may have been missed.
                      bool first = st.members.live_peers() == 0;
                      learn_removed(self, removed);
                      learn_down(self, down);
                      admitted(self, card);
                      if (first)
                        sync_from(self, card);
                      if (seed && st.seeds_pending > 0) {
                        --st.seeds_pending;
                        start_done(self);
                      }
                      for (auto& a : others)
                        connect(self, a, false);
                    },
                    [=](caf::error& err) {
                      spdlog::error("node at {} refused this node: {}", address, api::describe(err).message);
                      link_failed(self, address, seed, "refused");
                    });
          },
          [=](caf::error& err) { link_failed(self, address, seed, api::describe(err).message); });
}

void connect(self_ptr self, const std::string& address, bool seed) {
  auto& st = self->state;
  auto colon = address.rfind(':');
  bool known = st.members.knows_address(address) ||
               std::find(st.connecting.begin(), st.connecting.end(), address) != st.connecting.end();
  if (known || colon == std::string::npos) {
    if (seed && st.seeds_pending > 0) {
      --st.seeds_pending;
      start_done(self);
    }
    return;
  }
  auto host = address.substr(0, colon);
  int port = std::atoi(address.c_str() + colon + 1);
  if (port <= 0 || port > 65535)
    return link_failed(self, address, seed, "bad address");
  st.connecting.push_back(address);
  auto mm = st.cfg.connector ? st.cfg.connector : self->system().middleman().actor_handle();
  self->request(mm, link_timeout, caf::connect_atom::value, host, static_cast<std::uint16_t>(port))
      .then(
          [=](const caf::node_id&, caf::strong_actor_ptr& ptr, const std::set<std::string>&) {
            auto gate = caf::actor_cast<caf::actor>(ptr);
            if (!gate)
              return link_failed(self, address, seed, "no gate published there");
            handshake(self, gate, address, seed);
          },
          [=](caf::error& err) {
            // A TLS handshake either side refused ends as a disconnect; the
            // refusing side logs why (tls_audit.cpp).
            auto why = err == caf::sec::disconnect_during_handshake
                           ? "the TLS handshake failed (certificates of another cluster CA?): " + caf::to_string(err)
                           : caf::to_string(err);
            link_failed(self, address, seed, why);
          });
}

// The sender is an actor of this node (the admin API, the gate), not a peer.
bool from_here(self_ptr self) {
  auto sender = self->current_sender();
  return sender && sender->node() == self->node();
}

// The sender is the node actor of the live member `id`.
bool from_member(self_ptr self, const std::string& id) {
  auto* m = self->state.members.find(id);
  return m != nullptr && m->status != "down" &&
         m->card.node.address() == caf::actor_cast<caf::actor_addr>(self->current_sender());
}

// Counted like a message no handler matched.
void ignored(const char* what) {
  api::node_metrics().unexpected_messages.fetch_add(1, std::memory_order_relaxed);
  spdlog::debug("node actor: ignored {} from an actor that may not send it", what);
}

bool is_member(self_ptr self) {
  auto sender = caf::actor_cast<caf::actor_addr>(self->current_sender());
  for (auto& [id, m] : self->state.members.all())
    if (m.status != "down" && m.card.node.address() == sender)
      return true;
  return sender == self->address();
}

void tick(self_ptr self) {
  auto& st = self->state;
  auto now = api::now_ms();
  for (auto& [id, m] : st.members.all()) {
    if (m.status == "down")
      continue;
    auto member_id = id;
    self->request(m.card.node, std::chrono::milliseconds(st.cfg.heartbeat_ms * 3 / 2), api::ping_atom::value)
        .then([=](bool) { self->state.members.heard(member_id, api::now_ms()); },
              [=](caf::error&) { self->state.members.missed(member_id); });
  }
  if (st.members.expire(now, st.cfg.down_after_ms)) {
    spdlog::warn("node(s) {} stopped answering: down", fmt::join(st.members.down(), ","));
    publish_view(self);
  }
  // Seeds we are not linked to, and members that went down, are tried again:
  // a restarted node comes back, and two halves of a cluster merge.
  if (now - st.last_retry_ms >= retry_every_ms) {
    st.last_retry_ms = now;
    for (auto& s : st.cfg.seeds)
      connect(self, s, false);
    for (auto& [id, m] : st.members.all())
      if (m.status == "down")
        connect(self, m.card.address, false);
  }
  self->delayed_send(self, std::chrono::milliseconds(st.cfg.heartbeat_ms), api::tick_atom::value);
}

// The node's counters (see api::node_stats), from its hub.
void local_stats(self_ptr self, caf::response_promise rp) {
  self->request(self->state.members.self().hub, link_timeout, api::stats_atom::value)
      .then([=](std::vector<std::uint64_t>& c) mutable { rp.deliver(std::move(c)); },
            [=](caf::error&) mutable { rp.deliver(std::vector<std::uint64_t>{}); });
}

void nodes(self_ptr self, caf::response_promise rp) {
  auto& st = self->state;
  auto now = api::now_ms();
  auto g = std::make_shared<std::vector<api::node_status>>();
  std::vector<std::pair<std::size_t, caf::actor>> asks;
  auto add = [&](const member_card& c, const std::string& status) {
    api::node_status n;
    n.id = c.id;
    n.address = c.address;
    n.http = c.http;
    n.status = status;
    n.uptime_ms = status == "down" ? 0 : now - c.started_at;
    g->push_back(std::move(n));
    if (status != "down")
      asks.emplace_back(g->size() - 1, c.node);
  };
  add(st.members.self(), st.members.self_leaving() ? "draining" : "up");
  for (auto& [id, m] : st.members.all())
    add(m.card, membership::status_of(m));
  scatter_each<std::vector<std::uint64_t>>(
      asks.size(), [&](std::size_t k) { return self->request(asks[k].second, link_timeout, api::stats_atom::value); },
      [g, asks](std::size_t k, caf::expected<std::vector<std::uint64_t>> c) {
        api::fill_node_status((*g)[asks[k].first], c ? *c : std::vector<std::uint64_t>{});
      },
      [g, rp]() mutable { rp.deliver(*g); });
}

// This node leaves: members stop counting it as an owner, its rooms move to
// them, then it stops.
caf::result<void> start_drain(self_ptr self) {
  auto& st = self->state;
  if (st.members.self_leaving())
    return caf::unit;
  if (st.members.owners() < 2)
    return api::fail(api::errc::conflict, "the only live node cannot drain: no node would take its rooms");
  spdlog::warn("node {} drains: handing its rooms to the other nodes, then stopping", st.members.self().id);
  st.members.leave(st.members.self().id);
  for (auto& [id, m] : st.members.all())
    if (m.status != "down")
      self->send(m.card.node, api::leave_atom::value, st.members.self().id);
  publish_view(self);
  auto started = api::now_ms();
  auto drained = [self, started](bool all) {
    if (all)
      spdlog::info("node {} handed off all its rooms in {} ms; stopping", self->state.members.self().id,
                   api::now_ms() - started);
    else
      spdlog::error("node {} stops with rooms not handed off: they are unavailable until it is back",
                    self->state.members.self().id);
    if (self->state.cfg.on_drained)
      self->state.cfg.on_drained();
  };
  self->request(st.members.self().rooms, st.cfg.drain_wait, api::drain_atom::value)
      .then([=](bool) { drained(true); }, [=](caf::error&) { drained(false); });
  return caf::unit;
}

}  // namespace

caf::behavior node_actor(self_ptr self, node_config cfg) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  auto me = st.cfg.place->self();
  me.node = caf::actor{self};
  me.http = st.cfg.http;
  st.members = membership(me);
  for (auto& id : st.cfg.removed)
    st.members.mark_removed(id);
  st.cfg.place->set_members(st.members.live(), {}, {}, st.members.removed());
  st.seeds_pending = st.cfg.seeds.size();
  self->set_default_handler(api::drop_unexpected);
  self->set_error_handler(
      [](caf::error& err) { spdlog::warn("node actor: dropped an error nobody asked for: {}", caf::to_string(err)); });
  self->set_down_handler([self](caf::down_msg& msg) {
    if (self->state.members.link_lost(msg.source)) {
      spdlog::warn("link to a node dropped: down ({})", fmt::join(self->state.members.down(), ","));
      publish_view(self);
    }
  });
  for (auto& s : st.cfg.seeds)
    connect(self, s, true);
  start_done(self);
  self->send(self, api::tick_atom::value);
  return {
      // A joiner the gate checked (only the gate, an actor of this node, may
      // admit): this node's card and the addresses of the other members.
      [=](api::admit_atom, const member_card& card)
          -> caf::result<member_card, std::vector<std::string>, std::vector<std::string>, std::vector<member_card>> {
        if (!from_here(self)) {
          ignored("admit");
          return api::fail(api::errc::forbidden, "not admitted");
        }
        if (self->state.members.removed(card.id)) {
          spdlog::warn("refused node {} ({}): it was removed from the cluster", card.id, card.address);
          return api::fail(api::errc::forbidden, "this node was removed from the cluster: start it afresh");
        }
        admitted(self, card);
        auto& m = self->state.members;
        return {m.self(), m.live_addresses(card.id), m.removed(), m.down_cards()};
      },
      [=](api::ping_atom) -> caf::result<bool> {
        if (!is_member(self))
          return api::fail(api::errc::forbidden, "not admitted");
        return true;
      },
      // Only this actor's own timer ticks: each tick starts the next one.
      [=](api::tick_atom) {
        if (self->current_sender() != self->ctrl())
          return ignored("tick");
        tick(self);
      },
      // Answered once the seeds were tried (and the accounts copied).
      [=](api::wait_atom) {
        auto rp = self->make_response_promise();
        if (self->state.started)
          rp.deliver(true);
        else
          self->state.waiting.push_back(rp);
      },
      [=](api::stats_atom) {
        if (is_member(self))
          local_stats(self, self->make_response_promise());
      },
      [=](api::nodes_atom) { nodes(self, self->make_response_promise()); },
      // An admin drains `id` (from this node's admin API, or relayed by a member).
      [=](api::drain_atom, const std::string& id) -> caf::result<void> {
        auto& st = self->state;
        // This node drains when its own admin API says so, or a member's
        // node actor relays its admin API; another node only from here.
        if (!from_here(self) && !(is_member(self) && id == st.members.self().id)) {
          ignored("drain");
          return api::fail(api::errc::forbidden, "not admitted");
        }
        if (id == st.members.self().id)
          return start_drain(self);
        auto* m = st.members.find(id);
        if (m == nullptr)
          return api::fail(api::errc::not_found, "no such node");
        if (m->status == "down")
          return api::fail(api::errc::conflict, "node " + id + " is down");
        // Asked by this node (not delegated): the member admits only members.
        auto rp = self->make_response_promise();
        self->request(m->card.node, link_timeout, api::drain_atom::value, id)
            .then([rp]() mutable { rp.deliver(caf::unit); }, [rp](caf::error& err) mutable { rp.deliver(err); });
        return rp;
      },
      // An admin removes `id`, a node that is down for good (from this node's
      // admin API, which tells the live members, or relayed by a member).
      [=](api::remove_atom, const std::string& id) -> caf::result<void> {
        auto& st = self->state;
        bool here = from_here(self);
        if (!here && !is_member(self)) {
          ignored("remove");
          return api::fail(api::errc::forbidden, "not admitted");
        }
        bool news = !st.members.removed(id);
        // A member that relays it checked that the node is down: this node
        // may not have noticed yet.
        if (auto err = st.members.remove(id, !here))
          return err;
        if (!news)
          return caf::unit;
        save_removed(self, id);
        spdlog::warn("node {} was removed from the cluster: its rooms get new copies", id);
        if (here)
          for (auto& [other, m] : st.members.all())
            if (m.status != "down")
              self->send(m.card.node, api::remove_atom::value, id);
        publish_view(self);
        return caf::unit;
      },
      // A member drains (it says so itself): it owns nothing from now on.
      [=](api::leave_atom, const std::string& id) {
        if (!from_member(self, id))
          return ignored("leave");
        if (self->state.members.leave(id)) {
          spdlog::info("node {} is draining", id);
          publish_view(self);
        }
      },
  };
}

}  // namespace confab::cluster
