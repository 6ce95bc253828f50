#include "apps/node.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <openssl/sha.h>
#include <sodium.h>
#include <spdlog/spdlog.h>
#include <caf/actor_pool.hpp>
#include <caf/actor_registry.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/openssl/publish.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "actors/account.hpp"
#include "actors/hasher.hpp"
#include "actors/hub.hpp"
#include "actors/presence_manager.hpp"
#include "actors/pusher.hpp"
#include "actors/reader.hpp"
#include "actors/room_manager.hpp"
#include "actors/session.hpp"
#include "actors/stores.hpp"
#include "actors/syncer.hpp"
#include "actors/thumbnailer.hpp"
#include "actors/tokens.hpp"
#include "api/atoms.hpp"
#include "api/clock.hpp"
#include "api/errors.hpp"
#include "api/hex.hpp"
#include "cluster/gate.hpp"
#include "cluster/node_actor.hpp"
#include "gateway/http_frontend.hpp"
#include "gateway/static_files.hpp"
#include "net/server.hpp"
#include "net/webhook.hpp"

namespace confab::apps {

using api::errc;
using api::fail;

namespace {

// The signing key: read from the file, or created there (mode 0600) once.
caf::expected<std::string> load_secret(const std::string& path) {
  std::ifstream in(path);
  if (in) {
    std::string secret;
    std::getline(in, secret);
    if (secret.size() < 32)
      return fail(errc::invalid_request, "secret file " + path + " holds fewer than 32 characters");
    return secret;
  }
  auto secret = api::random_hex(32);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0)
    return fail(errc::unavailable, "cannot create secret file " + path);
  auto line = secret + "\n";
  bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  ok = ::fsync(fd) == 0 && ok;
  ::close(fd);
  if (!ok)
    return fail(errc::unavailable, "cannot write secret file " + path);
  return secret;
}

// "derived from host and ports": host-port, or host plus a hash of the data
// dir when the port is picked by the kernel, so a restart keeps its name.
std::string derive_node_id(const config::options& o) {
  char host[256] = "node";
  if (::gethostname(host, sizeof(host) - 1) != 0)
    std::strcpy(host, "node");
  if (o.http_port != 0)
    return std::string(host) + "-" + std::to_string(o.http_port);
  std::error_code ec;
  auto dir = std::filesystem::absolute(o.data_dir, ec).string();
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(dir.data()), dir.size(), digest);
  return std::string(host) + "-" + api::to_hex(digest, 4);
}

// Without --node-id: the name this data dir got the first time (kept in
// <data-dir>/node-id), so that a restart on another port keeps the node's
// name, and with it its file ids and its sessions' ids.
caf::expected<std::string> stored_node_id(const config::options& o) {
  auto path = o.data_dir + "/node-id";
  std::ifstream in(path);
  std::string id;
  if (in && std::getline(in, id) && !id.empty())
    return id;
  id = derive_node_id(o);
  std::ofstream out(path, std::ios::trunc);
  out << id << "\n";
  out.close();
  if (!out)
    return fail(errc::unavailable, "cannot write " + path);
  return id;
}

// The host other nodes reach this one at: the bind address, or this host's
// name when bound to every interface.
std::string advertised_host(const std::string& bind) {
  if (bind != "0.0.0.0" && bind != "::" && !bind.empty())
    return bind;
  char host[256] = "localhost";
  if (::gethostname(host, sizeof(host) - 1) != 0)
    std::strcpy(host, "localhost");
  return host;
}

class node_impl : public node {
 public:
  node_impl(caf::actor_system& sys) : sys_(sys) {}
  ~node_impl() override { stop(); }

  caf::error start(const config::options& o) {
    auto ctx = std::make_shared<actors::node_context>();
    auto db = storage::store::open(
        o.data_dir, o.durability == "wal" ? storage::durability::wal : storage::durability::fsync, o.search);
    if (!db)
      return fail(errc::invalid_request, "unusable data dir: " + api::describe(db.error()).message);
    auto secret = load_secret(o.secret_file);
    if (!secret)
      return secret.error();
    // Each actor gets the stores it uses (actors/stores.hpp), not this.
    std::shared_ptr<storage::store> store = std::move(*db);
    ctx->lim = o.lim;
    ctx->replication = o.replication;
    auto node_id = o.node_id.empty() ? stored_node_id(o) : caf::expected<std::string>{o.node_id};
    if (!node_id)
      return node_id.error();
    ctx->node_id = *node_id;
    id_ = ctx->node_id;
    admin_token_ = o.admin_token.empty() ? api::random_hex(24) : o.admin_token;
    // The frontends' share (gateway/context.hpp).
    auto gctx = std::make_shared<gateway::frontend_context>();
    gctx->lim = o.lim;
    gctx->node_id = ctx->node_id;
    gctx->admin_token = admin_token_;
    gctx->actors = ctx->actors;
    gctx->web = gateway::static_files::load(o.web_dir);
    gctx->data_dir = o.data_dir;
    // Group commit: an fsync blocks, so the syncer has its own thread.
    if (o.durability == "fsync") {
      ctx->syncer = sys_.spawn<caf::detached>(actors::syncer_actor, store->shared_database());
      syncer_ = api::untyped(ctx->syncer);
    }
    actors::context_ptr cctx = ctx;

    // The typed handles go into this node's member card; the node keeps
    // dynamic ones only to stop them.
    cluster::member_card me;
    me.hub = sys_.spawn(actors::hub_actor, cctx);
    hub_ = caf::actor_cast<caf::actor>(me.hub);
    // Argon2id blocks for tens of ms: detached hashers keep it off the scheduler.
    std::vector<api::hasher_actor> check_hashers;
    for (std::size_t i = 0; i < actors::check_hasher_threads; ++i)
      check_hashers.push_back(sys_.spawn<caf::detached>(actors::hasher_actor, false));
    std::vector<api::hasher_actor> registration_hashers{sys_.spawn<caf::detached>(actors::hasher_actor, true)};
    me.accounts = sys_.spawn(actors::account_actor, cctx, store->users(), *secret, std::move(check_hashers),
                             std::move(registration_hashers));
    accounts_ = caf::actor_cast<caf::actor>(me.accounts);
    me.rooms = sys_.spawn(actors::room_manager, cctx, actors::room_stores::of(*store));
    rooms_ = caf::actor_cast<caf::actor>(me.rooms);
    readers_ = caf::actor_pool::make(
        sys_.dummy_execution_unit(), 2,
        [this, cctx, stores = actors::reader_stores::of(*store)] {
          return caf::actor_cast<caf::actor>(sys_.spawn(actors::reader_actor, cctx, stores));
        },
        caf::actor_pool::round_robin());
    // A pool takes what each of its readers takes.
    me.readers = caf::actor_cast<api::reader_service>(readers_);
    auto frontend = sys_.spawn(gateway::http_frontend, gateway::context_ptr{gctx});
    frontend_ = caf::actor_cast<caf::actor>(frontend);
    me.presence = sys_.spawn(actors::presence_manager, cctx, store->users());
    presence_ = caf::actor_cast<caf::actor>(me.presence);
    // libvips works on its own thread, never on the scheduler's.
    ctx->thumbnailer = sys_.spawn<caf::detached>(actors::thumbnailer_actor, cctx, store->files());
    thumbnailer_ = api::untyped(ctx->thumbnailer);
    api::pusher_actor pusher;
    if (!o.push_webhook.empty()) {
      auto transport = net::make_webhook(o.push_webhook);
      if (!transport) {
        stop_actors();
        return transport.error();
      }
      pusher = sys_.spawn(actors::pusher_actor, cctx, std::move(*transport));
      pusher_ = api::untyped(pusher);
    }
    // The node's long-lived actors never end before stop(); if one does, say why.
    for (auto [a, label] :
         {std::pair{&hub_, "hub"}, std::pair{&accounts_, "account actor"}, std::pair{&rooms_, "room manager"},
          std::pair{&frontend_, "HTTP frontend"}, std::pair{&presence_, "presence manager"}})
      (*a)->attach_functor([label = std::string(label)](const caf::error& reason) {
        if (reason && reason != caf::exit_reason::user_shutdown)
          spdlog::error("the {} of this node ended: {}", label, caf::to_string(reason));
      });
    // Placement is complete before the port opens, so before any traffic.
    auto host = advertised_host(o.cluster_bind);
    me.id = ctx->node_id;
    me.address = host + ":" + std::to_string(o.cluster_port);
    me.started_at = api::now_ms();
    ctx->place = std::make_shared<cluster::placement>(me, pusher);
    gctx->place = ctx->place;

    net::server_settings ns;
    ns.bind = o.bind;
    ns.port = o.http_port;
    ns.threads = o.io_threads;
    ns.tls_cert = o.tls_cert;
    ns.tls_key = o.tls_key;
    ns.max_frame = o.lim.max_frame;
    ns.max_http_body = o.lim.max_http_body;
    ns.max_outbound = o.lim.max_outbound;
    ns.max_inbound_frames = o.lim.max_inbound_frames;
    ns.max_file_size = o.lim.max_file_size;
    ns.max_connections = o.lim.max_connections;
    ns.max_connections_per_ip = o.lim.max_connections_per_ip;
    net::server_handlers nh;
    nh.http_frontend = frontend;
    auto& sys = sys_;
    nh.spawn_session = [&sys, cctx, users = store->users()](api::sink_ptr sink, std::string remote) {
      return caf::actor_cast<caf::actor>(
          sys.spawn(actors::session_actor, cctx, users, std::move(sink), std::move(remote)));
    };
    nh.token_signed = [key = *secret, admin = admin_token_](std::string_view token) {
      return api::same_secret(token, admin) || static_cast<bool>(actors::tokens::verify(key, token, api::now_ms()));
    };
    auto srv = net::server::start(std::move(ns), std::move(nh));
    if (!srv) {
      stop_actors();
      return srv.error();
    }
    server_ = std::move(*srv);
    if (gctx->web->find("admin/index.html") == nullptr)
      spdlog::warn("no admin console in {} (--web-dir): /admin answers 404", o.web_dir);
    return join(o, ctx, gctx, store->handoff(), *secret, advertised_host(o.bind));
  }

  const std::string& id() const override { return id_; }
  std::uint16_t http_port() const override { return server_ ? server_->port() : 0; }
  std::uint16_t cluster_port() const override { return cluster_port_; }
  const std::string& admin_token() const override { return admin_token_; }

  void stop() override {
    // No new node links from here on (caf::openssl::unpublish does not
    // compile in 0.17.6: its middleman actor takes the message directly).
    if (gate_ && cluster_port_ != 0)
      caf::anon_send(sys_.openssl_manager().actor_handle(), caf::unpublish_atom::value, gate_.address(), cluster_port_);
    if (!server_) {
      stop_actors();
      return;
    }
    server_->stop();  // sockets closed with 4000, Asio threads joined
    stop_actors();
    // Actors may still post to a connection's executor until they end, so
    // the io_context goes only after them (bounded: a stuck actor must not
    // keep the process from exiting).
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (sys_.registry().running() > 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    server_.reset();
  }

 private:
  void stop_actors() {
    for (auto* a : {&gate_, &node_, &frontend_, &readers_, &rooms_, &presence_, &pusher_, &thumbnailer_, &accounts_,
                    &hub_, &syncer_})
      if (*a) {
        caf::anon_send_exit(*a, caf::exit_reason::user_shutdown);
        *a = nullptr;
      }
  }

  caf::actor_system& sys_;
  std::string id_;
  std::string admin_token_;
  // Spawns the node actor, publishes it on the cluster port and waits until
  // it has joined through a seed (or found none).
  caf::error join(const config::options& o, const std::shared_ptr<actors::node_context>& ctx,
                  const std::shared_ptr<gateway::frontend_context>& gctx, storage::handoff_store handoff,
                  const std::string& secret, const std::string& http_host) {
    cluster::node_config nc;
    nc.secret = secret;
    nc.seeds = o.cluster_port != 0 ? o.seeds : std::vector<std::string>{};
    nc.place = ctx->place;
    nc.http = http_host + ":" + std::to_string(server_->port());
    if (o.cluster_port != 0)
      nc.connector = sys_.openssl_manager().actor_handle();
    nc.listeners = {rooms_, presence_, hub_};
    auto removed = handoff.removed_nodes();
    if (!removed)
      return removed.error();
    nc.removed = std::move(*removed);
    nc.save_removed = [handoff](const std::string& id) mutable { return handoff.add_removed_node(id); };
    // A drain ends like SIGTERM: sockets closed with 4000, a clean exit.
    nc.on_drained = [] { ::kill(::getpid(), SIGTERM); };
    node_ = sys_.spawn(cluster::node_actor, std::move(nc));
    gctx->node = node_;
    if (o.cluster_port != 0) {
      // Peers reach only the gate, and only over mutual TLS.
      gate_ = sys_.spawn(cluster::gate_actor, secret, id_, node_);
      auto port = caf::openssl::publish(gate_, o.cluster_port, o.cluster_bind.c_str(), true);
      if (!port) {
        stop();
        return fail(errc::invalid_request, "cannot listen on cluster port " + std::to_string(o.cluster_port) + ": " +
                                               caf::to_string(port.error()));
      }
      cluster_port_ = *port;
    }
    caf::scoped_actor waiter{sys_};
    bool joined = false;
    waiter->request(node_, std::chrono::seconds(90), api::wait_atom::value)
        .receive([&](bool) { joined = true; }, [&](caf::error&) {});
    if (!joined)
      spdlog::warn("node {}: no answer from the seeds in time; serving alone until one answers", id_);
    return caf::none;
  }

  std::uint16_t cluster_port_ = 0;
  caf::actor node_, gate_;
  caf::actor hub_, accounts_, rooms_, readers_, frontend_, presence_, pusher_, thumbnailer_, syncer_;
  std::unique_ptr<net::server> server_;
};

}  // namespace

caf::expected<std::unique_ptr<node>> node::start(caf::actor_system& sys, const config::options& opts) {
  auto n = std::make_unique<node_impl>(sys);
  if (auto err = n->start(opts))
    return err;
  return std::unique_ptr<node>(std::move(n));
}

}  // namespace confab::apps
