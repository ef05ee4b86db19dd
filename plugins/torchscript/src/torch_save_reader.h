// Reading files written by torch.save (zip archives of PyTorch >= 1.6 and the legacy
// pre-1.6 format) WITHOUT running any code: the pickle goes through the restricted reader
// (pickle_reader.h), tensors are rebuilt from their storages with LibTorch, every storage
// lands on the CPU whatever device it was saved from.
//
// What is in the file decides what it is good for:
//   - only allow-listed globals (torch.load(weights_only=True) would load it): a state_dict
//     or a checkpoint dictionary, bindable by name (state_dict_binding.h);
//   - a pickled nn.Module (torch.save(model)) or any other class: refused for binding,
//     with the class name, the reason and the fix; its tensors can still be listed.
#pragma once

#include <ATen/Tensor.h>

#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "pickle_reader.h"
#include "torchport/status.h"

namespace torchport::torchscript {

struct SavedTensor {
  std::string name;         // dotted path in the saved object ("layer1.0.conv1.weight")
  at::Tensor tensor;        // on the CPU
  std::string savedDevice;  // where torch.save found it ("cpu", "cuda:0", "mps")
};

struct TorchSaveFile {
  std::filesystem::path path;
  std::string format;  // "zip" (PyTorch >= 1.6) or "legacy" (pre-1.6 pickle stream)
  pickle::ValuePtr root;
  std::vector<std::string> disallowedGlobals;  // module.name of every global outside the allow-list
  std::string modelClass;                      // a pickled nn.Module's class, when it is one
  std::vector<std::string> acceleratorDevices; // non-CPU storage locations found (mapped to CPU)
  std::map<std::string, at::Tensor> storages;  // storage key -> flat CPU tensor of its element type

  // Safe to treat as weights: nothing but tensors, containers and allow-listed globals.
  bool weightsOnly() const { return disallowedGlobals.empty(); }
};

// Reads the file's structure and storages. Fails (Status::input) only on files that are
// not torch.save output or are corrupt, never because of what classes they mention.
Expected<TorchSaveFile> readTorchSaveFile(const std::filesystem::path& path);

// Every tensor reachable from `value`, named by its dotted path below `prefix`; a pickled
// module's `_modules` / `_parameters` / `_buffers` levels are left out of the names, so
// they read like state_dict keys. Shared tensors are listed under each name.
Expected<std::vector<SavedTensor>> collectTensors(const TorchSaveFile& file, const pickle::ValuePtr& value,
                                                 const std::string& prefix = {});

// The refusal for a file that is not weights-only: which globals, and for a pickled
// model the reason and the fix (TorchScript or state_dict). Ok when weightsOnly().
Status refuseUnlessWeightsOnly(const TorchSaveFile& file);

// True when the first bytes are the legacy (pre-1.6) torch.save magic number pickle.
bool looksLikeLegacyTorchSave(std::span<const std::byte> head);

}  // namespace torchport::torchscript
