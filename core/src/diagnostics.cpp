// Host diagnostics: spdlog on stderr and a progress bar that only draws on a terminal.
#include "torchport/host/diagnostics.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace torchport {

namespace {

constexpr const char* kLoggerName = "torchport";

spdlog::level::level_enum toSpdlog(LogLevel level) {
  switch (level) {
    case LogLevel::Trace: return spdlog::level::trace;
    case LogLevel::Debug: return spdlog::level::debug;
    case LogLevel::Info: return spdlog::level::info;
    case LogLevel::Warn: return spdlog::level::warn;
    case LogLevel::Error: return spdlog::level::err;
    case LogLevel::Off: return spdlog::level::off;
  }
  return spdlog::level::info;
}

}  // namespace

void configureLogging(LogLevel level) {
  // Re-configuring (tests, repeated CLI invocations in one process) replaces the logger.
  auto logger = spdlog::get(kLoggerName);
  if (!logger) {
    logger = spdlog::stderr_color_mt(kLoggerName);
    spdlog::set_default_logger(logger);
  }
  logger->set_pattern("torchport: %^%l%$: %v");
  logger->set_level(toSpdlog(level));
  logger->flush_on(spdlog::level::warn);
}

std::optional<LogLevel> parseLogLevel(std::string_view name) {
  std::string lowered;
  for (char c : name) lowered += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lowered == "trace") return LogLevel::Trace;
  if (lowered == "debug") return LogLevel::Debug;
  if (lowered == "info") return LogLevel::Info;
  if (lowered == "warn" || lowered == "warning") return LogLevel::Warn;
  if (lowered == "error") return LogLevel::Error;
  if (lowered == "off" || lowered == "none") return LogLevel::Off;
  return std::nullopt;
}

void SpdlogDiagnostics::log(LogLevel level, std::string_view message) {
  if (level == LogLevel::Off) return;
  auto logger = spdlog::get(kLoggerName);
  if (!logger) logger = spdlog::default_logger();
  logger->log(toSpdlog(level), "{}", message);
}

// ---------------------------------------------------------------------------------------
// TerminalProgress
// ---------------------------------------------------------------------------------------
TerminalProgress::TerminalProgress(bool quiet) : enabled_(!quiet && isatty(STDERR_FILENO) != 0) {}

void TerminalProgress::start(std::string_view task, size_t total) {
  task_ = std::string(task);
  total_ = total;
  done_ = 0;
  draw(true);
}

void TerminalProgress::advance(size_t steps) {
  done_ = std::min(done_ + steps, total_ > 0 ? total_ : done_ + steps);
  draw(done_ == total_);
}

void TerminalProgress::finish() {
  if (!enabled_ || task_.empty()) return;
  // Erase the bar so that whatever prints next starts on a clean line.
  std::fputs("\r\033[K", stderr);
  std::fflush(stderr);
  task_.clear();
}

void TerminalProgress::draw(bool force) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (!force && now - lastDraw_ < std::chrono::milliseconds(100)) return;
  lastDraw_ = now;
  constexpr size_t kWidth = 30;
  std::string bar;
  if (total_ > 0) {
    size_t filled = done_ * kWidth / total_;
    bar = std::string(filled, '=');
    if (filled < kWidth) bar += '>' + std::string(kWidth - filled - 1, ' ');
  } else {
    bar = std::string(kWidth, ' ');
  }
  std::string line = "\r\033[K" + task_ + " [" + bar + "] " + std::to_string(done_);
  if (total_ > 0) line += "/" + std::to_string(total_);
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

}  // namespace torchport
