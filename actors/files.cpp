#include "actors/files.hpp"

#include <magic.h>

#include <algorithm>
#include <cstdio>

#include <caf/event_based_actor.hpp>

#include "api/atoms.hpp"
#include "api/errors.hpp"
#include "wire/codec.hpp"

namespace confab::actors::files {

std::string sanitize_name(const std::string& name) {
  std::string out;
  for (std::size_t i = 0; i < name.size();) {
    auto c = static_cast<unsigned char>(name[i]);
    if (c >= 0x80) {
      // Whole UTF-8 sequences pass; any other byte becomes '_'.
      std::size_t len = c >= 0xF0 && c < 0xF5 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
      bool valid = len > 0 && c < 0xF5 && i + len <= name.size();
      for (std::size_t k = 1; valid && k < len; ++k)
        valid = (static_cast<unsigned char>(name[i + k]) & 0xC0) == 0x80;
      if (valid) {
        out.append(name, i, len);
        i += len;
      } else {
        out.push_back('_');
        ++i;
      }
      continue;
    }
    out.push_back(c < 0x20 || c == 0x7f || c == '/' || c == '\\' || c == '"' ? '_' : static_cast<char>(c));
    ++i;
  }
  if (out.size() > 255) {
    std::size_t cut = 255;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80)
      --cut;
    out.resize(cut);
  }
  if (out.find_first_not_of("._ ") == std::string::npos)
    return {};
  return out;
}

std::string sniff(const std::string& head, const std::string& declared) {
  std::string found = "application/octet-stream";
  if (magic_t m = magic_open(MAGIC_MIME_TYPE)) {
    if (magic_load(m, nullptr) == 0)
      if (const char* r = magic_buffer(m, head.data(), head.size()))
        found = r;
    magic_close(m);
  }
  if (found != "text/plain")
    return found;
  auto base = declared.substr(0, declared.find(';'));
  static const char* harmless_text[] = {"text/csv", "text/markdown", "text/x-log", "application/json"};
  for (auto* t : harmless_text)
    if (base == t)
      return base;
  return found;
}

bool is_image(const std::string& t) {
  return t == "image/png" || t == "image/jpeg" || t == "image/gif" || t == "image/webp";
}

std::string disposition(const std::string& t, const std::string& name) {
  bool inline_ok = is_image(t) || t == "application/pdf" || t == "text/plain" || t.rfind("audio/", 0) == 0 ||
                   t.rfind("video/", 0) == 0;
  std::string ascii, encoded;
  for (unsigned char c : name) {
    ascii.push_back(c < 0x80 ? static_cast<char>(c) : '_');
    if (std::isalnum(c) || c == '.' || c == '-' || c == '_') {
      encoded.push_back(static_cast<char>(c));
    } else {
      char buf[4];
      std::snprintf(buf, sizeof(buf), "%%%02X", c);
      encoded += buf;
    }
  }
  return std::string(inline_ok ? "inline" : "attachment") + "; filename=\"" + ascii + "\"; filename*=UTF-8''" + encoded;
}

range_kind parse_range(const std::string& header, std::uint64_t size, byte_range& out) {
  static const std::string unit = "bytes=";
  if (header.rfind(unit, 0) != 0 || header.find(',') != std::string::npos)
    return range_kind::whole;  // other units and several ranges: the whole file
  auto spec = header.substr(unit.size());
  auto dash = spec.find('-');
  if (dash == std::string::npos)
    return range_kind::whole;
  auto first_text = spec.substr(0, dash);
  auto last_text = spec.substr(dash + 1);
  auto number = [](const std::string& s, std::uint64_t& v) {
    if (s.empty() || s.size() > 19 || s.find_first_not_of("0123456789") != std::string::npos)
      return false;
    v = std::stoull(s);
    return true;
  };
  std::uint64_t a = 0, b = 0;
  if (first_text.empty()) {  // the last n bytes
    if (!number(last_text, b) || b == 0)
      return range_kind::whole;
    if (size == 0)
      return range_kind::unsatisfiable;
    out = {size - std::min(b, size), size - 1};
    return range_kind::partial;
  }
  if (!number(first_text, a))
    return range_kind::whole;
  if (a >= size)
    return range_kind::unsatisfiable;
  if (last_text.empty())
    b = size - 1;
  else if (!number(last_text, b) || b < a)
    return range_kind::whole;
  out = {a, std::min(b, size - 1)};
  return range_kind::partial;
}

namespace {

// Bytes [first, last] of a file, one chunk at a time from `fetch`. Only one
// piece is asked for at a time (net waits for it), so pos_ needs no lock.
class chunk_reader : public api::body_source, public std::enable_shared_from_this<chunk_reader> {
 public:
  chunk_reader(chunk_fetch fetch, std::uint64_t first, std::uint64_t last)
      : fetch_(std::move(fetch)), pos_(first), end_(last + 1) {}

  void next(std::function<void(std::string)> done) override {
    if (pos_ >= end_)
      return done({});
    auto index = pos_ / api::file_info::chunk_size;
    fetch_(index, [this, self = shared_from_this(), done = std::move(done)](caf::expected<std::string> chunk) {
      auto offset = pos_ % api::file_info::chunk_size;
      if (!chunk || offset >= chunk->size()) {
        pos_ = end_;  // a missing chunk ends the body early; the client sees a short read
        return done({});
      }
      auto piece = chunk->substr(offset, std::min<std::uint64_t>(chunk->size() - offset, end_ - pos_));
      pos_ += piece.size();
      done(std::move(piece));
    });
  }

 private:
  chunk_fetch fetch_;
  std::uint64_t pos_;
  std::uint64_t end_;
};

}  // namespace

std::shared_ptr<api::body_source> chunk_source(chunk_fetch fetch, std::uint64_t first, std::uint64_t last) {
  return std::make_shared<chunk_reader>(std::move(fetch), first, last);
}

namespace {

constexpr auto info_timeout = std::chrono::seconds(10);

// Asks peers[i..] in turn for the record; `none` is the answer when no one has it.
void ask_copies(caf::event_based_actor* self, std::shared_ptr<std::vector<cluster::member_card>> peers, std::size_t i,
                std::string id, caf::error none, found_file done) {
  if (i == peers->size())
    return done(std::move(none), {});
  auto from = (*peers)[i].readers;
  self->request(from, info_timeout, api::info_atom::value, id)
      .then([done, from](api::file_info& f) { done(std::move(f), from); },
            [=](caf::error&) { ask_copies(self, peers, i + 1, id, none, done); });
}

}  // namespace

void find_file(caf::event_based_actor* self, const cluster::placement& place, const storage::store& db,
               const std::string& id, found_file done) {
  auto home = place.file_home(id);
  if (home == place.reader())
    return done(db.file(id), {});
  if (home) {
    self->request(home, info_timeout, api::info_atom::value, id)
        .then([done, home](api::file_info& f) { done(std::move(f), home); },
              [done](caf::error& err) { done(err, {}); });
    return;
  }
  // The home is down or gone: a copy may have it, this node's first.
  auto none = place.file_home_down(id)
                  ? api::fail(api::errc::unavailable, "the node that stores this file is down; try again")
                  : api::fail(api::errc::not_found, "no such file");
  auto peers = std::make_shared<std::vector<cluster::member_card>>();
  for (auto& m : place.file_peers(id)) {
    if (m.readers != place.reader())
      peers->push_back(m);
    else if (auto f = db.file(id))
      return done(std::move(*f), {});
  }
  ask_copies(self, std::move(peers), 0, id, std::move(none), std::move(done));
}

void queue_thumbnail(const node_context& ctx, const api::file_info& f) {
  constexpr std::size_t max_waiting = 64;
  if (!ctx.thumbnailer || !is_image(f.content_type))
    return;
  auto& waiting = *ctx.thumbnails_waiting;
  if (waiting.fetch_add(1) < max_waiting)
    caf::anon_send(ctx.thumbnailer, api::thumb_atom::value, f.id);
  else
    waiting.fetch_sub(1);
}

chunk_fetch chunks_from(const caf::actor& from, std::shared_ptr<storage::store> db, std::string file_id) {
  return from ? remote_chunks(from, std::move(file_id)) : local_chunks(std::move(db), std::move(file_id));
}

void attach_file(caf::event_based_actor* self, const cluster::placement& place, const storage::store& db,
                 api::send_request req, std::function<void(caf::expected<api::send_request>)> next) {
  if (req.file_id.empty())
    return next(std::move(req));
  auto id = req.file_id;
  find_file(self, place, db, id,
            [req = std::move(req), next = std::move(next)](caf::expected<api::file_info> f, caf::actor) mutable {
              if (!f && api::describe(f.error()).code == api::errc::unavailable)
                return next(f.error());
              if (!f || f->room != req.room)
                return next(api::fail(api::errc::invalid_request, "file_id names no file of this room"));
              req.attachment = wire::attachment_json(*f).dump();
              next(std::move(req));
            });
}

chunk_fetch local_chunks(std::shared_ptr<storage::store> db, std::string file_id) {
  return [db = std::move(db), id = std::move(file_id)](std::uint64_t index, chunk_done done) {
    done(db->chunk(id, index));
  };
}

chunk_fetch remote_chunks(caf::actor readers, std::string file_id) {
  return [readers = std::move(readers), id = std::move(file_id)](std::uint64_t index, chunk_done done) {
    // A one-shot actor asks the node that stores the file for the chunk.
    readers->home_system().spawn([readers, id, index, done = std::move(done)](caf::event_based_actor* self) {
      self->request(readers, std::chrono::seconds(30), api::chunk_atom::value, id, index)
          .then([done](std::string& bytes) { done(std::move(bytes)); }, [done](caf::error& err) { done(err); });
    });
  };
}

}  // namespace confab::actors::files
