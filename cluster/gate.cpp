#include "cluster/gate.hpp"

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>
#include <caf/actor_cast.hpp>
#include <caf/event_based_actor.hpp>

#include "api/atoms.hpp"
#include "api/errors.hpp"
#include "api/hex.hpp"
#include "cluster/placement.hpp"

namespace confab::cluster {

namespace {

constexpr std::size_t max_nonces = 64;
constexpr auto admit_timeout = std::chrono::seconds(3);

}  // namespace

std::string link_proof(const std::string& secret, const std::string& role, const std::string& nonce,
                       const std::string& id) {
  auto text = role + "\n" + nonce + "\n" + id;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(text.data()), text.size(), mac, &len);
  return api::to_hex(mac, len);
}

std::string random_nonce() {
  unsigned char buf[16];
  if (RAND_bytes(buf, sizeof(buf)) != 1)
    throw std::runtime_error("RAND_bytes failed");
  return api::to_hex(buf, sizeof(buf));
}

bool proof_holds(const std::string& proof, const std::string& secret, const std::string& role, const std::string& nonce,
                 const std::string& id) {
  auto want = link_proof(secret, role, nonce, id);
  return api::same_secret(proof, want);
}

caf::behavior gate_actor(caf::stateful_actor<gate_state>* self, std::string secret, std::string node_id,
                         caf::actor node) {
  self->state.secret = std::move(secret);
  self->state.node_id = std::move(node_id);
  self->state.node = std::move(node);
  self->set_default_handler(api::drop_unexpected);
  return {
      // A joiner's first step: this node proves the secret on the joiner's
      // nonce and hands out one of its own for the joiner to sign.
      [=](api::challenge_atom, const std::string& theirs) -> caf::result<std::string, std::string, std::string> {
        auto& st = self->state;
        if (theirs.size() < 16 || theirs.size() > 128)
          return api::fail(api::errc::invalid_request, "bad nonce");
        st.nonces.push_back(random_nonce());
        if (st.nonces.size() > max_nonces)
          st.nonces.erase(st.nonces.begin());
        return {st.node_id, st.nonces.back(), link_proof(st.secret, "welcome", theirs, st.node_id)};
      },
      [=](api::hello_atom, const member_card& card, const std::string& nonce, const std::string& proof)
          -> caf::result<member_card, std::vector<std::string>, std::vector<std::string>, std::vector<member_card>> {
        auto& st = self->state;
        auto it = std::find(st.nonces.begin(), st.nonces.end(), nonce);
        bool fresh = it != st.nonces.end();
        if (fresh)
          st.nonces.erase(it);  // each nonce answers one hello, right or wrong
        auto sender = caf::actor_cast<caf::actor_addr>(self->current_sender());
        if (!fresh || !proof_holds(proof, st.secret, "join", nonce, card.id)) {
          spdlog::warn("refused node {} ({}): it does not hold this cluster's secret (--secret-file differs)", card.id,
                       card.address);
          return api::fail(api::errc::forbidden, "not admitted: wrong cluster secret");
        }
        // The card is the sender's own: its node actor sent the hello.
        if (!card.node || card.node.address() != sender || card.id == st.node_id) {
          spdlog::warn("refused node {} ({}): its card does not name the node that sent it", card.id, card.address);
          return api::fail(api::errc::forbidden, "not admitted: card of another node");
        }
        auto rp = self->make_response_promise<member_card, std::vector<std::string>, std::vector<std::string>,
                                              std::vector<member_card>>();
        self->request(st.node, admit_timeout, api::admit_atom::value, card)
            .then(
                [rp](member_card& me, std::vector<std::string>& others, std::vector<std::string>& removed,
                     std::vector<member_card>& down) mutable {
                  rp.deliver(std::move(me), std::move(others), std::move(removed), std::move(down));
                },
                [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
        return rp;
      },
  };
}

}  // namespace confab::cluster
