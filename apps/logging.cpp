#include "apps/logging.hpp"

#include <chrono>
#include <ctime>

#include <spdlog/async.h>
#include <spdlog/formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

namespace confab::apps {

namespace {

// {"ts":"2026-11-28T14:03:05.123Z","level":"info","thread":123,"msg":"..."}
class json_formatter : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    using namespace std::chrono;
    auto t = system_clock::to_time_t(msg.time);
    auto ms = duration_cast<milliseconds>(msg.time.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char ts[40];
    auto n = std::strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(ts + n, sizeof(ts) - n, ".%03dZ", static_cast<int>(ms));
    // The names --log-level takes ("warn", not spdlog's "warning").
    auto name = spdlog::level::to_string_view(msg.level);
    auto level = std::string(name.data(), name.size());
    if (level == "warning")
      level = "warn";
    nlohmann::json line{{"ts", ts},
                        {"level", level},
                        {"thread", msg.thread_id},
                        {"msg", std::string(msg.payload.data(), msg.payload.size())}};
    // Invalid UTF-8 (a bad name from a client) is replaced, never thrown.
    auto text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    dest.append(text.data(), text.data() + text.size());
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<json_formatter>(); }
};

}  // namespace

void start_logging(const std::string& level, const std::string& format) {
  // One logging thread; a full queue blocks the writer rather than losing
  // lines (the queue is large enough that this means stderr is stuck).
  spdlog::init_thread_pool(16384, 1);
  std::shared_ptr<spdlog::logger> logger;
  if (format == "json") {
    logger = spdlog::create_async<spdlog::sinks::stderr_sink_mt>("confabd");
    logger->set_formatter(std::make_unique<json_formatter>());
  } else {
    logger = spdlog::create_async<spdlog::sinks::stderr_color_sink_mt>("confabd");
  }
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));
  spdlog::flush_on(spdlog::level::warn);
  spdlog::flush_every(std::chrono::seconds(1));
}

void stop_logging() {
  spdlog::shutdown();
}

}  // namespace confab::apps
