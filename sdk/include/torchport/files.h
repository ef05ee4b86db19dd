// File helpers shared by exporters: atomic writes and reading a file's head for sniffing.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "torchport/status.h"

namespace torchport {

// Writes `path` atomically: `write` fills a temporary file in the same directory, which
// is renamed over `path` only if `write` and the flush succeed. On any failure the
// temporary file is removed and `path` is untouched. Creates missing parent directories.
Status writeFileAtomically(const std::filesystem::path& path,
                           const std::function<Status(std::ostream&)>& write);
Status writeFileAtomically(const std::filesystem::path& path, std::string_view contents);

// Up to `maxBytes` bytes from the start of `path`.
Expected<std::vector<std::byte>> readFileHead(const std::filesystem::path& path, size_t maxBytes = 4096);
Expected<std::string> readTextFile(const std::filesystem::path& path);

// A fresh directory under the system temp directory, named `<prefix><random>`, removed with
// everything in it when this object goes (on every path). path() is empty when it could not
// be created.
class ScratchDirectory {
 public:
  explicit ScratchDirectory(std::string_view prefix) {
    std::random_device entropy;
    std::error_code ec;
    for (int attempt = 0; attempt < 20 && path_.empty(); ++attempt) {
      auto candidate = std::filesystem::temp_directory_path(ec) / (std::string(prefix) + std::to_string(entropy()));
      if (!ec && std::filesystem::create_directory(candidate, ec) && !ec) path_ = candidate;
    }
  }
  ~ScratchDirectory() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  ScratchDirectory(const ScratchDirectory&) = delete;
  ScratchDirectory& operator=(const ScratchDirectory&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace torchport
