// File helpers shared by exporters: atomic writes and reading a file's head for sniffing.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <ostream>
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

}  // namespace torchport
