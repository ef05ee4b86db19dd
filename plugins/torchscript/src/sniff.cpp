#include "sniff.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <string_view>

namespace torchport::torchscript {
namespace {

constexpr std::byte kZipLocalHeader[] = {std::byte{'P'}, std::byte{'K'}, std::byte{3}, std::byte{4}};
constexpr size_t kLocalHeaderSize = 30;  // fixed part; the name follows

uint16_t readU16(std::span<const std::byte> bytes, size_t offset) {
  return static_cast<uint16_t>(std::to_integer<unsigned>(bytes[offset]) |
                               (std::to_integer<unsigned>(bytes[offset + 1]) << 8));
}

bool startsWithZipHeader(std::span<const std::byte> bytes) {
  return bytes.size() >= sizeof(kZipLocalHeader) && std::equal(std::begin(kZipLocalHeader), std::end(kZipLocalHeader), bytes.begin());
}

bool hasOurExtension(const std::filesystem::path& path) {
  std::string extension = path.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const auto& ours = torchScriptExtensions();
  return std::find(ours.begin(), ours.end(), extension) != ours.end();
}

// "archive/data/0" -> "data/0": PyTorch archives put every record under one top folder.
std::string_view recordName(std::string_view entry) {
  size_t slash = entry.find('/');
  return slash == std::string_view::npos ? entry : entry.substr(slash + 1);
}

bool isTensorBlob(std::string_view record) {
  if (!record.starts_with("data/") || record.size() == 5) return false;
  return std::all_of(record.begin() + 5, record.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; });
}

}  // namespace

const std::vector<std::string>& torchScriptExtensions() {
  static const std::vector<std::string> extensions = {".pt", ".pth", ".jit", ".ptl"};
  return extensions;
}

std::vector<std::string> zipEntryNamesInHead(std::span<const std::byte> head) {
  // torch.jit.save writes data descriptors (sizes are not in the local headers), so entries
  // cannot be skipped by size: look for every local-header signature instead. A tensor
  // blob containing "PK\3\4" could fake one; names are checked for sanity below.
  std::vector<std::string> names;
  for (size_t offset = 0; offset + kLocalHeaderSize <= head.size(); ++offset) {
    if (!startsWithZipHeader(head.subspan(offset))) continue;
    size_t nameLength = readU16(head, offset + 26);
    if (nameLength == 0 || offset + kLocalHeaderSize + nameLength > head.size()) continue;
    std::string name;
    name.reserve(nameLength);
    bool printable = true;
    for (size_t i = 0; i < nameLength; ++i) {
      auto c = std::to_integer<unsigned char>(head[offset + kLocalHeaderSize + i]);
      if (c < 0x20 || c >= 0x7f) {
        printable = false;
        break;
      }
      name.push_back(static_cast<char>(c));
    }
    if (printable) names.push_back(std::move(name));
    offset += kLocalHeaderSize + nameLength - 1;
  }
  return names;
}

int sniffTorchScript(std::span<const std::byte> head, const std::filesystem::path& path) {
  const bool ourExtension = hasOurExtension(path);
  if (!startsWithZipHeader(head)) return ourExtension ? kSniffExtensionOnly : 0;

  const std::vector<std::string> names = zipEntryNamesInHead(head);
  for (const std::string& name : names) {
    std::string_view record = recordName(name);
    if (record.starts_with("code/") || record == "constants.pkl") return kSniffTorchScriptMarkers;
  }
  if (!names.empty()) {
    std::string_view first = recordName(names.front());
    // torch.jit.save writes tensors before the pickles; torch.save writes data.pkl first.
    if (isTensorBlob(first)) return kSniffJitSaveLayout;
    if (first == "data.pkl") return ourExtension ? kSniffZipWithExtension : kSniffTorchSaveZip;
  }
  return ourExtension ? kSniffZipWithExtension : 0;
}

}  // namespace torchport::torchscript
