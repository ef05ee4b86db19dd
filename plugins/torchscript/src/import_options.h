// Options of the TorchScript importer (`input:` keys besides path/format) and their
// parsed form. No LibTorch here: the validate hook runs before anything is loaded.
//
//   input:
//     path: model.pt
//     inputs:                       # optional; order = forward argument order
//       image: {shape: [batch, 3, 224, 224], dtype: float32}
//       steps: {value: 4}           # a scalar argument: example value for shape inference
//     method: forward               # the method that becomes the graph
//     submodule: _model             # export _model.<method> instead of the top module
//     constants: {sr: 16000}        # bind non-tensor arguments; branches on them fold
//     state: explicit               # assigned attributes -> state_in.X / state_out.X
//     infer_shapes: true            # run the graph on meta tensors to learn shapes
//     remove_exception_checks: true # assume `raise` branches are never taken
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "torchport/ir.h"
#include "torchport/options.h"
#include "torchport/status.h"

namespace torchport::torchscript {

// One entry of `inputs:`: the graph input at the same position gets this name and type.
struct InputDeclaration {
  std::string name;
  std::optional<std::vector<Dim>> shape;  // dims: known, symbol, or unknown ('?')
  std::optional<DType> dtype;             // tensor element type
  std::optional<OptionValue> value;       // scalar inputs: example value (int/float/bool)
  SourceLocation where;

  bool describesTensor() const { return shape.has_value() || dtype.has_value(); }
};

struct ImportSettings {
  std::vector<InputDeclaration> inputs;  // empty: names and types come from the model
  SourceLocation inputsWhere;
  std::string method = "forward";
  // `submodule: _model`: export a method of this submodule (dotted attribute path) instead
  // of the top-level module (argument_binding.h).
  std::string submodule;
  // `constants: {sr: 16000}`: arguments bound to a value and folded away (argument_binding.h).
  std::vector<std::pair<std::string, OptionValue>> constants;
  // `state: explicit|frozen`: what becomes of module attributes the method assigns
  // (state_lifting.h).
  enum class StateMode { Explicit, Frozen };
  StateMode state = StateMode::Explicit;
  bool inferShapes = true;
  bool removeExceptionChecks = true;
  // `weights: model.pth` (+ `weights_key:`, `strict:`): a state_dict bound onto the loaded
  // module by parameter name (state_dict_binding.h). Empty: the model's own weights.
  std::string weights;
  std::string weightsKey;
  bool strictWeights = true;
  SourceLocation weightsWhere;
};

// Option specs registered with the importer.
std::vector<OptionSpec> importerOptionSpecs();

// Parses validated importer options. Errors (Status::input) name the config location of
// the offending value and say what is expected.
Expected<ImportSettings> parseImportSettings(const Options& options);

// The validate hook: parseImportSettings without keeping the result.
Status validateImportOptions(const Options& options);

// Element type names accepted in `dtype:`: the IR names (f32, i64, ...), their long
// spellings (float32, int64, long, half, bfloat16, bool, ...), `float` (= float32, as
// torch.float) and a `torch.` prefix (torch.float16).
std::optional<DType> parseTensorDType(std::string_view name);

}  // namespace torchport::torchscript
