#pragma once

// Scatter-gather across nodes: one request to each of several actors
// (usually one per live node), each answer or failure handed to `part`, and
// `done` once, after the last of them. A node that does not answer within
// the timeout counts as a failure, so `done` always runs, and runs at once
// when there is no target. The five places that ask every node (room lists,
// presence, node status, locating a room, the admin's actor pages) all go
// through here, so that "count the answers, finish at zero" is written once.
//
// Runs in the asking actor: `part` and `done` are called from its handlers,
// never concurrently.

#include <chrono>
#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>

namespace confab::cluster {

// `ask(i)` sends request i (0 <= i < n) and returns its response handle;
// `part(i, caf::expected<T>)` gets its answer or error; `done()` runs once
// after all n have answered or failed.
template <class T, class Ask, class Part, class Done>
void scatter_each(std::size_t n, Ask ask, Part part, Done done) {
  if (n == 0) {
    done();
    return;
  }
  struct state {
    std::size_t pending;
    Part part;
    Done done;
  };
  auto g = std::make_shared<state>(state{n, std::move(part), std::move(done)});
  for (std::size_t i = 0; i < n; ++i) {
    auto finish = [g, i](caf::expected<T> answer) {
      g->part(i, std::move(answer));
      if (--g->pending == 0)
        g->done();
    };
    ask(i).then([finish](T& answer) { finish(std::move(answer)); },
                [finish](caf::error& err) { finish(std::move(err)); });
  }
}

// The same request (`args`) to every target.
template <class T, class Self, class Handle, class Part, class Done, class... Ts>
void scatter(Self* self, const std::vector<Handle>& targets, std::chrono::milliseconds timeout, Part part, Done done,
             const Ts&... args) {
  scatter_each<T>(
      targets.size(), [&](std::size_t i) { return self->request(targets[i], timeout, args...); }, std::move(part),
      std::move(done));
}

}  // namespace confab::cluster
