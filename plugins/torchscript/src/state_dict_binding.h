// Binding a state_dict (torch.save(model.state_dict(), "model.pth")) onto a loaded
// TorchScript module by parameter name, the way model.load_state_dict() does in Python:
//
//   input:
//     path: resnet18_scripted.pt    # the architecture
//     weights: resnet18.pth         # the weights, bound by name
//     weights_key: model_state_dict # optional: the sub-dictionary of a training checkpoint
//     strict: true                  # default; false binds what matches and reports the rest
//
// The expected keys are the module's parameters and buffers (recursively, dotted names, as
// model.state_dict() lists them). Strict binding fails with ONE error listing every missing
// key, unexpected key, shape mismatch and dtype mismatch; non-strict binding copies every
// tensor that matches and reports the rest (log + JSON report). Values are copied into the
// module's tensors in place, before the module is frozen, so everything downstream (graph
// constants, the frozen module for save-torchscript/verify) sees the new weights.
//
// The file is read without running code (torch_save_reader.h): a pickled model or any
// other class is refused with its name; tensors saved on a GPU are loaded to the CPU and
// that is reported ("torchscript.weights.mapped_to_cpu").
#pragma once

#include <filesystem>
#include <string>

#include "torchport/ir.h"
#include "torchport/registry.h"
#include "torchport/status.h"

namespace torch::jit {
struct Module;
}

namespace torchport::torchscript {

struct WeightsBinding {
  std::filesystem::path path;  // resolved
  std::string key;             // sub-dictionary ("" = the whole file)
  bool strict = true;
  SourceLocation where;        // of `weights:` in the config
};

Status bindStateDict(torch::jit::Module& module, const WeightsBinding& binding, PassContext& context);

}  // namespace torchport::torchscript
