// Recognising TorchScript files from their first bytes, without LibTorch.
//
// torch.jit.save writes a zip archive `<name>/data/0..N` (tensor blobs), `<name>/data.pkl`,
// `<name>/code/...`, `<name>/constants.pkl`, `<name>/version`; torch.save writes
// `<name>/data.pkl` first, then `<name>/data/...`, and no code/ or constants.pkl.
#pragma once

#include <cstddef>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace torchport::torchscript {

inline constexpr int kSniffTorchScriptMarkers = 100;  // code/ or constants.pkl seen in the head
inline constexpr int kSniffJitSaveLayout = 80;        // PyTorch zip whose first entry is a tensor blob
inline constexpr int kSniffZipWithExtension = 60;     // zip named .pt/.pth/.jit/.ptl
inline constexpr int kSniffTorchSaveZip = 40;         // torch.save archive under another name
inline constexpr int kSniffExtensionOnly = 50;        // not a zip, but named like one of ours

// File name extensions claimed by the importer.
const std::vector<std::string>& torchScriptExtensions();

// Names of the zip local-file entries whose headers start inside `head`, in order.
std::vector<std::string> zipEntryNamesInHead(std::span<const std::byte> head);

// Confidence (0..100) that `head` (the first bytes of `path`) is a TorchScript archive.
int sniffTorchScript(std::span<const std::byte> head, const std::filesystem::path& path);

}  // namespace torchport::torchscript
