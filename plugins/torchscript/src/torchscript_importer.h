// Entry points of the TorchScript importer that the (LibTorch-free) plugin registration
// needs. The implementation lives in the few translation units that include LibTorch.
#pragma once

#include <filesystem>
#include <memory>

#include "torchport/ir.h"
#include "torchport/registry.h"
#include "torchport/status.h"

namespace torchport::torchscript {

// Session state key under which the import leaves the frozen module
// (std::shared_ptr<torch::jit::Module>) for later steps (save-torchscript, verify).
inline constexpr const char* kModuleStateKey = "torchscript.module";

// Imports a TorchScript file (scripted or traced) as an `aten`/`prim` dialect graph. Reads
// the importer options from context.options() (see import_options.h).
Expected<std::unique_ptr<Graph>> importTorchScript(const std::filesystem::path& path, PassContext& context);

// Registers the importer (format "torchscript") with `registry`.
Status registerTorchScriptPlugin(Registry& registry);

}  // namespace torchport::torchscript
