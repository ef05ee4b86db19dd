// Host-side diagnostics: spdlog logging (stderr) and a progress bar drawn only on a TTY.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "torchport/registry.h"

namespace torchport {

// Configures the global spdlog logger (stderr, pattern "torchport: level: msg").
void configureLogging(LogLevel level);
std::optional<LogLevel> parseLogLevel(std::string_view name);  // trace|debug|info|warn|error|off

class SpdlogDiagnostics final : public Diagnostics {
 public:
  void log(LogLevel level, std::string_view message) override;
};

// Draws "task [=====>    ] 42/100" on stderr when stderr is a terminal and not quiet;
// otherwise does nothing. Redraws at most every 100 ms.
class TerminalProgress final : public Progress {
 public:
  explicit TerminalProgress(bool quiet = false);
  void start(std::string_view task, size_t total) override;
  void advance(size_t steps = 1) override;
  void finish() override;

 private:
  void draw(bool force);
  bool enabled_;
  std::string task_;
  size_t total_ = 0, done_ = 0;
  std::chrono::steady_clock::time_point lastDraw_{};
};

class NullProgress final : public Progress {
 public:
  void start(std::string_view, size_t) override {}
  void advance(size_t) override {}
  void finish() override {}
};

}  // namespace torchport
