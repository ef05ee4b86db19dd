// custom-op: map an op kind that no converter knows to a custom-domain node or to a
// decomposition written in textual IR, from YAML, without writing C++.
//
// Custom-domain node (domain + name): every node of kind `op` becomes one `domain::name`
// node. Its inputs are the source inputs listed in `inputs` (default: every input that no
// attribute reads); its attributes come from `attributes`, each either a literal, a
// constant input (`{input: N}`) or a source attribute (`{attribute: NAME}`).
//   - custom-op: {op: mylib::fancy_act, domain: com.example, name: FancyAct, version: 1,
//                 attributes: {alpha: {input: 1, type: float}}}
//   Before:  %a = const float 1.5
//            %y: f32[2,3] = mylib::fancy_act(%x, %a)
//   After:   %y: f32[2,3] = com.example::FancyAct(%x) {alpha=1.5}
// The domain is declared for the target dialect (`target`, default onnx) in the session
// state "<target>.domain_versions", so lower-to-<target> keeps the node and save-onnx
// writes the opset import `com.example` version 1.
//
// Decomposition: every node of kind `op` is replaced by the body of a textual-IR graph whose
// inputs stand for the node's inputs and whose outputs for its outputs (same counts).
//   - custom-op:
//       op: mylib::fancy_act
//       decomposition: |
//         graph @fancy_act(%x, %alpha) -> (%y) {
//           %ax = onnx::Mul(%x, %alpha)
//           %s = onnx::Sigmoid(%ax)
//           %y = onnx::Mul(%x, %s)
//         }
//   The body may use ops of the target dialect (onnx::*), ops that have a converter to it
//   (aten::* when the ONNX plugin is loaded) and constants. Place the step before the
//   lowering when the body uses source ops, anywhere when it uses target ops only.
//
// Everything that does not need the graph is checked before the run, with config line:col:
// malformed op kinds, both or neither mode given, bad IR (with its own line:col), an IR body
// that uses unknown ops or the op itself, nested graphs, input indices beyond `arity`, a
// decomposition whose input count differs from `arity`, attribute specs of the wrong shape.
// At run time: a node whose input/output count does not fit, an attribute read from an
// input that is not a constant. A step whose op does not occur in the graph only warns.
// Safe: the replacement computes what the op computes only if the user says so; the step
// is a mapping, not a proof.
#pragma once

#include "torchport/registry.h"

namespace torchport {

PassInfo customOpInfo();
Status runCustomOp(Graph& graph, PassContext& context);
// The pre-run check; `registry` resolves which ops a decomposition may use.
OptionsValidateFn customOpValidator(const Registry& registry);

}  // namespace torchport
