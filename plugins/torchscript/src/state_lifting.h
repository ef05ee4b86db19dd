// Stateful modules as pure functions (TorchScript importer, step 3).
//
// A forward that assigns module attributes (silero-vad's `self._state = ...`) cannot be
// frozen: the attribute's value changes from call to call. With `state: explicit` (the
// default) every assigned attribute becomes a graph input and a graph output:
//
//   Before:  graph(%self, %x):
//              %h = prim::GetAttr[name="_h"](%self)
//              %y, %h2 = my::step(%x, %h)
//              prim::SetAttr[name="_h"](%self, %h2)
//              return (%y)
//   After:   graph(%self, %x, %state_in._h):
//              %y, %h2 = my::step(%x, %state_in._h)
//              return (%y, %h2)                  # outputs: output, state_out._h
//
// Reads see the value most recently written (SSA renaming); an assignment inside an `if`
// makes the `if` return the attribute's value from both branches. Assignments inside loops
// are refused (the value would have to be loop-carried). Attributes that are only read are
// untouched: they become constants as before (the must-not-fire case).
//
// Initial values: the attribute's value in the loaded module, except that a tensor whose
// shape changes on the first call (silero starts from torch.zeros(0) and builds zeros of
// the real shape when it sees an empty state) is replaced by zeros of the shape it has
// after one call, when running the module once both ways gives identical outputs and
// states. The state input then has that static shape (symbolic dims follow the input
// symbols), and size queries on it (len, size, dim) fold, removing the "state is empty"
// branches. Each state's initial value is reported (torchscript.state.NAME) and logged.
//
// Size queries on declared inputs with static shapes and on the state inputs fold (their
// shapes are part of the exported interface), then constants propagate. A scalar state
// that every call sets to the same constant (silero's `_last_sr = sr` with sr bound) and
// whose two possible values -- the initial one and that constant -- fold the graph the same
// way ("did the rate change since the last call?" is false both times) is bound to the
// constant and is not exported as state.
//
// With `state: frozen`, every call starts from the attributes' current values (constants);
// reads after a write in the same call still see the write; nothing carries over to the
// next call. A warning lists the attributes.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/ir/ir.h>

#include "import_options.h"
#include "torchport/registry.h"
#include "torchport/status.h"

namespace torchport::torchscript {

struct LiftedState {
  std::vector<std::string> inputNames;         // "state_in.NAME", one per appended graph input
  std::vector<std::string> outputNames;        // "state_out.NAME", one per appended graph output
  std::vector<InputDeclaration> declarations;  // types of the appended inputs, for `inputs:`
  std::vector<std::string> descriptions;       // "state_in._h: zeros f32[2,batch,64]" (for the report)
};

// Dotted paths of the attributes of `self` (graph input 0) that `graph` assigns, sorted.
std::vector<std::string> assignedAttributes(torch::jit::Graph& graph);

// Rewrites `graph` (inlined, input 0 = self of `module`) as described above. `method` and
// `settings` (inputs, constants) let it run the module once on example inputs to learn the
// state's shapes. Graph inputs are appended after the existing ones, outputs after the
// existing outputs. No-op (empty result) when the graph assigns no attribute.
Expected<LiftedState> liftModuleState(std::shared_ptr<torch::jit::Graph>& graph, const torch::jit::Module& module,
                                      const std::string& method, const ImportSettings& settings,
                                      const std::string& file, Diagnostics& diagnostics);

}  // namespace torchport::torchscript
