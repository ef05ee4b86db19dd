// Shared by the translation units that include LibTorch (keep it to these few: each
// costs seconds of compile time). Deliberately includes only the JIT IR and module
// headers, not <torch/script.h>.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/ir/ir.h>

#include "import_options.h"
#include "torchport/ir.h"
#include "torchport/registry.h"
#include "torchport/status.h"

namespace torchport::torchscript {

// torchport types of JIT values, as learnt by shape inference.
using JitTypeMap = std::unordered_map<const torch::jit::Value*, Type>;

// Full module paths of inlined calls. The inliner records, per call, only the attribute
// the callee was read from ("1" for self.layers[1].forward(): ModuleList has no forward of
// its own, so "layers" is no call frame) and its class type; this walks the module tree
// to find the submodule with that name and type below the caller's path.
class ModulePaths {
 public:
  ModulePaths() = default;
  // Indexes every submodule of `roots` (the frozen module and the one it was cloned from:
  // call stacks refer to the class types of whichever was inlined).
  explicit ModulePaths(std::initializer_list<const torch::jit::Module*> roots);
  // "layers.1.self_attn" for a node's inlined call stack; "" at the top level.
  std::string pathOf(const torch::jit::InlinedCallStackPtr& callstack) const;

 private:
  struct Submodule {
    std::string path;
    std::string name;  // last component
    c10::ClassTypePtr type;
  };
  std::vector<Submodule> submodules_;
  mutable std::unordered_map<const torch::jit::InlinedCallStack*, std::string> cache_;
};

// Parameters and buffers of the loaded module, by data pointer: constants that share a
// parameter's memory (freezing folded a list attribute such as an LSTM's _flat_weights)
// get its name. Views share the pointer too, hence sizes and dtype must match as well.
struct KnownParameter {
  std::string name;
  std::vector<int64_t> sizes;
  c10::ScalarType dtype;
};
using ParametersByData = std::unordered_map<const void*, std::vector<KnownParameter>>;

inline const std::string* findParameterByData(const ParametersByData& parameters, const at::Tensor& tensor) {
  if (!tensor.defined() || tensor.layout() != c10::kStrided || tensor.is_quantized() || tensor.numel() == 0) {
    return nullptr;
  }
  auto it = parameters.find(tensor.data_ptr());
  if (it == parameters.end()) return nullptr;
  for (const KnownParameter& parameter : it->second) {
    if (parameter.dtype == tensor.scalar_type() && tensor.sizes().equals(parameter.sizes)) return &parameter.name;
  }
  return nullptr;
}

// A JIT graph prepared for conversion: frozen, cleaned up, `self` resolved, inputs and
// outputs flattened, plus what the converter needs to name things.
struct PreparedGraph {
  std::shared_ptr<torch::jit::Graph> graph;
  std::vector<std::string> inputNames;   // one per graph input
  std::vector<Type> inputTypes;          // one per graph input
  std::vector<std::string> outputNames;  // one per graph output ("output", "output.0", ...)
  // Constants that hold a parameter or buffer: the attribute path ("layer1.0.conv1.weight").
  std::unordered_map<const torch::jit::Value*, std::string> paramNames;
  // For tensors inside list/tuple constants, which have no Value of their own.
  ParametersByData parametersByData;
  std::string fileName;  // for messages
  std::shared_ptr<const ModulePaths> modulePaths;
};

// ---- types (graph_converter.cpp) ----
std::optional<DType> dtypeFromScalarType(c10::ScalarType scalarType);
// The inverse; nullopt for element types LibTorch 1.13 lacks (u16/u32/u64, float8).
std::optional<c10::ScalarType> scalarTypeFromDType(DType dtype);
// Maps a JIT type: tensors keep whatever dtype / rank / sizes the JIT knows.
Type typeFromJit(const c10::TypePtr& type);

// ---- provenance (graph_converter.cpp) ----
// Module path from the inlined call stack (or the tracer's scope) and "file:line" of the
// Python source the node came from, when recorded. Without `paths`, call frames are
// joined by their attribute names.
Provenance provenanceOf(const torch::jit::Node* node, const ModulePaths* paths = nullptr);
// "aten::foo at layer1.0 (model.py:3)" for error messages about JIT nodes.
std::string describeJitNode(const torch::jit::Node* node, const ModulePaths* paths = nullptr);

// ---- shape inference (shape_inference.cpp) ----
// Runs `graph` twice on shape-only tensors built from `inputs` (one declaration per graph
// input; symbols get different sizes in each run) and returns the types of every tensor
// value it saw: a dim equal in both runs is static, one that follows exactly one input
// symbol becomes that symbol, anything else is unknown. Values it could not observe (an
// untaken branch) are absent. Failure to run is not an error: the returned map is empty
// and the reason is logged.
JitTypeMap inferTypesByExecution(torch::jit::Graph& graph, const std::vector<InputDeclaration>& inputs,
                                 Diagnostics& diagnostics, const ModulePaths* paths = nullptr);

// ---- conversion (graph_converter.cpp) ----
// Builds the torchport graph. Values without an entry in `inferred` take their JIT type.
Expected<std::unique_ptr<Graph>> convertJitGraph(const PreparedGraph& prepared, const JitTypeMap& inferred);

// First line of a LibTorch exception message (they carry long C++ backtraces).
std::string firstLineOf(const std::exception& error);

}  // namespace torchport::torchscript
