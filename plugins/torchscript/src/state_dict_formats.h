// torch.save files as pipeline endpoints:
//   - the `state_dict` importer: a torch.save file (state_dict, checkpoint; zip or legacy
//     format) read without running code, as a graph with no inputs whose outputs are its
//     tensors (constants named by their keys). `torchport inspect model.pth` lists them;
//     `save-state-dict` can write them back. A pickled model (torch.save(model)) or any
//     file needing other Python classes is refused with the reason and the fix, and its
//     tensors (read safely) are listed in the message.
//   - the `save-state-dict{path}` exporter: the graph's named parameters (constants with a
//     "param" attribute) as a .pth that torch.load(path, weights_only=True) reads back as
//     a dict {name: tensor}.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <span>

#include "torchport/ir.h"
#include "torchport/registry.h"
#include "torchport/status.h"

namespace torchport::torchscript {

inline constexpr int kSniffLegacyTorchSave = 100;  // the legacy torch.save magic number
inline constexpr int kSniffTorchSaveArchive = 90;  // zip whose first entry is data.pkl, no code/

int sniffStateDict(std::span<const std::byte> head, const std::filesystem::path& path);
Expected<std::unique_ptr<Graph>> importStateDict(const std::filesystem::path& path, PassContext& context);
ImporterInfo stateDictImporterInfo();

PassInfo saveStateDictInfo();
Status runSaveStateDict(const Graph& graph, PassContext& context);

}  // namespace torchport::torchscript
