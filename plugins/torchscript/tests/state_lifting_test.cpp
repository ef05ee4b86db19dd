// The JIT-level transforms of state_lifting.h and argument_binding.h, on modules defined
// here from TorchScript source (no fixture files): which attributes are lifted, what the
// rewritten graph computes (run in the JIT interpreter against the module itself), and
// the cases where nothing must change.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/passes/constant_propagation.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/passes/inliner.h>
#include <torch/csrc/jit/runtime/interpreter.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "argument_binding.h"
#include "state_lifting.h"

namespace torchport::torchscript {
namespace {

namespace jit = torch::jit;

class CapturingDiagnostics final : public Diagnostics {
 public:
  void log(LogLevel level, std::string_view message) override { messages.emplace_back(level, std::string(message)); }
  bool mentions(std::string_view text) const {
    return std::any_of(messages.begin(), messages.end(),
                       [&](const auto& entry) { return entry.second.find(text) != std::string::npos; });
  }
  std::vector<std::pair<LogLevel, std::string>> messages;
};

jit::Module makeModule(const std::string& source, const std::function<void(jit::Module&)>& attributes) {
  jit::Module module("StateTest", std::make_shared<jit::CompilationUnit>());
  attributes(module);
  module.define(source);
  module.eval();
  return module;
}

std::shared_ptr<jit::Graph> inlinedGraph(const jit::Module& module, const std::string& method = "forward") {
  auto graph = module.get_method(method).graph()->copy();
  jit::Inline(*graph);
  return graph;
}

size_t countKind(const jit::Block* block, c10::Symbol kind) {
  size_t count = 0;
  for (const jit::Node* node : block->nodes()) {
    if (node->kind() == kind) ++count;
    for (const jit::Block* inner : node->blocks()) count += countKind(inner, kind);
  }
  return count;
}

// Runs `graph` (self erased) in the JIT interpreter.
std::vector<c10::IValue> runGraph(const std::shared_ptr<jit::Graph>& graph, std::vector<c10::IValue> inputs) {
  jit::Code code(graph, "lifted");
  jit::InterpreterState state(code);
  jit::Stack stack(inputs.begin(), inputs.end());
  state.run(stack);
  return {stack.begin(), stack.end()};
}

ImportSettings settingsWith(std::vector<InputDeclaration> inputs = {}) {
  ImportSettings settings;
  settings.inputs = std::move(inputs);
  return settings;
}

InputDeclaration tensorInput(std::string name, std::vector<int64_t> sizes) {
  InputDeclaration declaration;
  declaration.name = std::move(name);
  std::vector<Dim> dims;
  for (int64_t size : sizes) dims.push_back(Dim::known(size));
  declaration.shape = dims;
  declaration.dtype = DType::F32;
  return declaration;
}

// ---- must not fire: attributes that are only read stay attributes (later: constants) ----
TEST(StateLifting, ReadOnlyAttributesAreNotState) {
  jit::Module module = makeModule(R"(
def forward(self, x):
    return x * self.scale + self.offset
)", [](jit::Module& m) {
    m.register_buffer("scale", at::ones({3}));
    m.register_attribute("offset", c10::IntType::get(), 2);
  });
  auto graph = inlinedGraph(module);
  const size_t inputs = graph->inputs().size(), outputs = graph->outputs().size();
  CapturingDiagnostics diagnostics;
  EXPECT_TRUE(assignedAttributes(*graph).empty());
  auto lifted = liftModuleState(graph, module, "forward", settingsWith(), "test.pt", diagnostics);
  ASSERT_TRUE(lifted) << lifted.status().message();
  EXPECT_TRUE(lifted->inputNames.empty());
  EXPECT_EQ(graph->inputs().size(), inputs);
  EXPECT_EQ(graph->outputs().size(), outputs);
  EXPECT_EQ(countKind(graph->block(), c10::prim::GetAttr), 2u);  // both reads untouched
}

// ---- explicit state: a running sum, compared with the module over three calls ----
TEST(StateLifting, TopLevelAssignmentBecomesInputAndOutput) {
  jit::Module module = makeModule(R"(
def forward(self, x):
    self.total = self.total + x
    self.calls = self.calls + 1
    return self.total * self.scale
)", [](jit::Module& m) {
    m.register_buffer("total", at::zeros({2}));
    m.register_buffer("scale", at::full({2}, 3.0));
    m.register_attribute("calls", c10::IntType::get(), 0);
  });
  auto graph = inlinedGraph(module);
  EXPECT_EQ(assignedAttributes(*graph), (std::vector<std::string>{"calls", "total"}));
  CapturingDiagnostics diagnostics;
  auto lifted = liftModuleState(graph, module, "forward", settingsWith({tensorInput("x", {2})}), "test.pt", diagnostics);
  ASSERT_TRUE(lifted) << lifted.status().message();
  EXPECT_EQ(lifted->inputNames, (std::vector<std::string>{"state_in.calls", "state_in.total"}));
  EXPECT_EQ(lifted->outputNames, (std::vector<std::string>{"state_out.calls", "state_out.total"}));
  ASSERT_EQ(lifted->declarations.size(), 2u);
  ASSERT_TRUE(lifted->declarations[0].value.has_value());
  EXPECT_EQ(lifted->declarations[0].value->asInt(), 0);
  ASSERT_TRUE(lifted->declarations[1].shape.has_value());
  EXPECT_EQ(*lifted->declarations[1].shape, (std::vector<Dim>{Dim::known(2)}));
  EXPECT_EQ(countKind(graph->block(), c10::prim::SetAttr), 0u);
  EXPECT_TRUE(diagnostics.mentions("state_in.total: zeros f32[2]"));

  // The remaining self read is `scale` (a constant later): bind it here to run the graph.
  jit::Value* self = graph->inputs()[0];
  for (const jit::Use& use : std::vector<jit::Use>(self->uses().begin(), self->uses().end())) {
    jit::WithInsertPoint insertPoint(use.user);
    use.user->output()->replaceAllUsesWith(graph->insertConstant(module.attr("scale").toTensor()));
    use.user->destroy();
  }
  graph->eraseInput(0);

  jit::Module reference = module.deepcopy();
  c10::IValue calls = int64_t{0};
  c10::IValue total = at::zeros({2});
  for (int step = 0; step < 3; ++step) {
    at::Tensor x = at::randn({2});
    at::Tensor expected = reference.forward({x}).toTensor();
    std::vector<c10::IValue> outputs = runGraph(graph, {x, calls, total});
    ASSERT_EQ(outputs.size(), 3u);
    EXPECT_TRUE(at::allclose(outputs[0].toTensor(), expected)) << "call " << step;
    calls = outputs[1];
    total = outputs[2];
  }
  EXPECT_EQ(calls.toInt(), 3);
  EXPECT_EQ(reference.attr("calls").toInt(), 3);
}

// ---- an assignment inside `if` makes the `if` return the attribute ----
TEST(StateLifting, AssignmentInBranchBecomesIfOutput) {
  jit::Module module = makeModule(R"(
def forward(self, x, flag: bool):
    if flag:
        self.count = self.count + 1
    return x + self.count
)", [](jit::Module& m) { m.register_attribute("count", c10::IntType::get(), 10); });
  auto graph = inlinedGraph(module);
  CapturingDiagnostics diagnostics;
  auto lifted = liftModuleState(graph, module, "forward", settingsWith(), "test.pt", diagnostics);
  ASSERT_TRUE(lifted) << lifted.status().message();
  ASSERT_EQ(lifted->inputNames, std::vector<std::string>{"state_in.count"});
  graph->eraseInput(0);
  auto taken = runGraph(graph, {at::zeros({1}), true, int64_t{10}});
  EXPECT_EQ(taken[0].toTensor().item<double>(), 11.0);
  EXPECT_EQ(taken[1].toInt(), 11);
  auto skipped = runGraph(graph, {at::zeros({1}), false, int64_t{10}});
  EXPECT_EQ(skipped[0].toTensor().item<double>(), 10.0);
  EXPECT_EQ(skipped[1].toInt(), 10);
}

// ---- refused: assignments inside loops (would need loop-carried state) ----
TEST(StateLifting, AssignmentInLoopIsRefused) {
  jit::Module module = makeModule(R"(
def forward(self, x, n: int):
    for i in range(n):
        self.count = self.count + 1
    return x + self.count
)", [](jit::Module& m) { m.register_attribute("count", c10::IntType::get(), 0); });
  auto graph = inlinedGraph(module);
  CapturingDiagnostics diagnostics;
  auto lifted = liftModuleState(graph, module, "forward", settingsWith(), "test.pt", diagnostics);
  ASSERT_FALSE(lifted);
  EXPECT_EQ(lifted.status().kind(), ErrorKind::Unsupported);
  EXPECT_NE(lifted.status().message().find("self.count inside a loop body"), std::string::npos)
      << lifted.status().message();
  EXPECT_NE(lifted.status().message().find("state: frozen"), std::string::npos);
}

// ---- state: frozen: current values become constants, assignments dropped, warned ----
TEST(StateLifting, FrozenModeUsesCurrentValues) {
  jit::Module module = makeModule(R"(
def forward(self, x):
    self.count = self.count + 1
    return x + self.count
)", [](jit::Module& m) { m.register_attribute("count", c10::IntType::get(), 5); });
  auto graph = inlinedGraph(module);
  ImportSettings settings;
  settings.state = ImportSettings::StateMode::Frozen;
  CapturingDiagnostics diagnostics;
  auto lifted = liftModuleState(graph, module, "forward", settings, "test.pt", diagnostics);
  ASSERT_TRUE(lifted) << lifted.status().message();
  EXPECT_TRUE(lifted->inputNames.empty());
  EXPECT_EQ(countKind(graph->block(), c10::prim::SetAttr), 0u);
  EXPECT_EQ(countKind(graph->block(), c10::prim::GetAttr), 0u);
  EXPECT_TRUE(diagnostics.mentions("state: frozen"));
  graph->eraseInput(0);
  auto outputs = runGraph(graph, {at::zeros({1})});
  EXPECT_EQ(outputs[0].toTensor().item<double>(), 6.0);  // 5 + 1, every call
  auto again = runGraph(graph, {at::zeros({1})});
  EXPECT_EQ(again[0].toTensor().item<double>(), 6.0);
}

// ---- an empty initial state that the module fills with zeros: steady shape learnt ----
TEST(StateLifting, EmptyInitialStateGetsSteadyShapeAndSizeQueriesFold) {
  jit::Module module = makeModule(R"(
def forward(self, x):
    if len(self.memory) == 0:
        memory = torch.zeros([x.size(0), 4])
    else:
        memory = self.memory
    memory = memory * 0.5 + x
    self.memory = memory
    return memory.sum()
)", [](jit::Module& m) { m.register_buffer("memory", at::zeros({0})); });
  auto graph = inlinedGraph(module);
  CapturingDiagnostics diagnostics;
  auto lifted = liftModuleState(graph, module, "forward", settingsWith({tensorInput("x", {3, 4})}), "test.pt",
                                diagnostics);
  ASSERT_TRUE(lifted) << lifted.status().message();
  ASSERT_EQ(lifted->declarations.size(), 1u);
  ASSERT_TRUE(lifted->declarations[0].shape.has_value());
  EXPECT_EQ(*lifted->declarations[0].shape, (std::vector<Dim>{Dim::known(3), Dim::known(4)}));
  EXPECT_EQ(lifted->descriptions[0], "state_in.memory: zeros f32[3,4]");
  jit::ConstantPropagation(graph);
  jit::EliminateDeadCode(graph);
  EXPECT_EQ(countKind(graph->block(), c10::prim::If), 0u) << *graph;  // `len(state) == 0` folded

  graph->eraseInput(0);
  jit::Module reference = module.deepcopy();
  c10::IValue memory = at::zeros({3, 4});
  for (int step = 0; step < 3; ++step) {
    at::Tensor x = at::randn({3, 4});
    const double expected = reference.forward({x}).toTensor().item<double>();
    auto outputs = runGraph(graph, {x, memory});
    EXPECT_NEAR(outputs[0].toTensor().item<double>(), expected, 1e-5) << "call " << step;
    memory = outputs[1];
  }
}

// ---- a scalar state that only tracks the last call's (bound) argument is not state ----
TEST(StateLifting, TrackingStateBoundToItsConstant) {
  jit::Module module = makeModule(R"(
def forward(self, x, sr: int):
    if self.last_sr != 0 and self.last_sr != sr:
        self.total = torch.zeros([2])
    self.total = self.total + x
    self.last_sr = sr
    return self.total
)", [](jit::Module& m) {
    m.register_buffer("total", at::zeros({2}));
    m.register_attribute("last_sr", c10::IntType::get(), 0);
  });
  auto graph = inlinedGraph(module);
  const auto& schema = module.get_method("forward").function().getSchema();
  OptionValue sixteen(OptionValue::Data(std::in_place_type<int64_t>, 16000));
  ImportSettings settings = settingsWith({tensorInput("x", {2})});
  settings.constants = {{"sr", sixteen}};
  ASSERT_TRUE(bindConstantArguments(*graph, schema, settings.constants, "test.pt").isOk());
  CapturingDiagnostics diagnostics;
  auto lifted = liftModuleState(graph, module, "forward", settings, "test.pt", diagnostics);
  ASSERT_TRUE(lifted) << lifted.status().message();
  EXPECT_EQ(lifted->inputNames, std::vector<std::string>{"state_in.total"});
  EXPECT_EQ(lifted->outputNames, std::vector<std::string>{"state_out.total"});
  EXPECT_EQ(graph->inputs().size(), 3u);   // self, x, state_in.total
  EXPECT_EQ(graph->outputs().size(), 2u);  // output, state_out.total
  EXPECT_EQ(countKind(graph->block(), c10::prim::If), 0u) << *graph;
  EXPECT_TRUE(diagnostics.mentions("self.last_sr is set to the same constant"));
}

// The same tracking state with the argument left dynamic must stay state (must not fire).
TEST(StateLifting, TrackingStateOfDynamicArgumentStays) {
  jit::Module module = makeModule(R"(
def forward(self, x, sr: int):
    if self.last_sr != 0 and self.last_sr != sr:
        self.total = torch.zeros([2])
    self.total = self.total + x
    self.last_sr = sr
    return self.total
)", [](jit::Module& m) {
    m.register_buffer("total", at::zeros({2}));
    m.register_attribute("last_sr", c10::IntType::get(), 0);
  });
  auto graph = inlinedGraph(module);
  CapturingDiagnostics diagnostics;
  auto lifted = liftModuleState(graph, module, "forward", settingsWith(), "test.pt", diagnostics);
  ASSERT_TRUE(lifted) << lifted.status().message();
  EXPECT_EQ(lifted->inputNames, (std::vector<std::string>{"state_in.last_sr", "state_in.total"}));
}

// ---- without example inputs the shapes stay unknown (warned), nothing is folded ----
TEST(StateLifting, WithoutDeclaredInputsShapesStayUnknown) {
  jit::Module module = makeModule(R"(
def forward(self, x):
    self.last = x
    return x
)", [](jit::Module& m) { m.register_buffer("last", at::zeros({0})); });
  auto graph = inlinedGraph(module);
  CapturingDiagnostics diagnostics;
  auto lifted = liftModuleState(graph, module, "forward", settingsWith(), "test.pt", diagnostics);
  ASSERT_TRUE(lifted) << lifted.status().message();
  ASSERT_EQ(lifted->declarations.size(), 1u);
  EXPECT_FALSE(lifted->declarations[0].shape.has_value());
  EXPECT_TRUE(diagnostics.mentions("stay unknown"));
}

// ---- argument binding ----
TEST(ArgumentBinding, BoundIntFoldsBranches) {
  jit::Module module = makeModule(R"(
def forward(self, x, sr: int):
    if sr == 16000:
        return x * 2
    else:
        return x * 3
)", [](jit::Module&) {});
  auto graph = inlinedGraph(module);
  const auto& schema = module.get_method("forward").function().getSchema();
  OptionValue sixteen(OptionValue::Data(std::in_place_type<int64_t>, 16000));
  ASSERT_TRUE(bindConstantArguments(*graph, schema, {{"sr", sixteen}}, "test.pt").isOk());
  EXPECT_EQ(graph->inputs().size(), 2u);  // self, x
  jit::ConstantPropagation(graph);
  EXPECT_EQ(countKind(graph->block(), c10::prim::If), 0u);

  auto unknown = bindConstantArguments(*inlinedGraph(module), schema, {{"rate", sixteen}}, "test.pt");
  ASSERT_FALSE(unknown.isOk());
  EXPECT_NE(unknown.message().find("has no argument 'rate' (its arguments: x: Tensor"), std::string::npos)
      << unknown.message();
  OptionValue text(OptionValue::Data(std::in_place_type<std::string>, "fast"));
  auto wrongType = bindConstantArguments(*inlinedGraph(module), schema, {{"sr", text}}, "test.pt");
  ASSERT_FALSE(wrongType.isOk());
  EXPECT_NE(wrongType.message().find("does not fit"), std::string::npos) << wrongType.message();
  auto tensor = bindConstantArguments(*inlinedGraph(module), schema, {{"x", sixteen}}, "test.pt");
  ASSERT_FALSE(tensor.isOk());
  EXPECT_NE(tensor.message().find("is a tensor"), std::string::npos) << tensor.message();
}

TEST(ArgumentBinding, DictInputReadByConstantKeysIsFlattened) {
  jit::Module module = makeModule(R"(
def forward(self, batch: Dict[str, Tensor]):
    return batch["b"] - batch["a"] + batch["b"]
)", [](jit::Module&) {});
  auto graph = inlinedGraph(module);
  CapturingDiagnostics diagnostics;
  EXPECT_EQ(flattenDictInputs(*graph, diagnostics), 1u);
  ASSERT_EQ(graph->inputs().size(), 3u);
  EXPECT_EQ(graph->inputs()[1]->debugName(), "batch.b");  // first-read order
  EXPECT_EQ(graph->inputs()[2]->debugName(), "batch.a");
  graph->eraseInput(0);
  auto outputs = runGraph(graph, {at::full({1}, 5.0), at::full({1}, 2.0)});  // b, a
  EXPECT_EQ(outputs[0].toTensor().item<double>(), 8.0);                              // 5 - 2 + 5
}

TEST(ArgumentBinding, DictInputIteratedStaysADict) {
  jit::Module module = makeModule(R"(
def forward(self, batch: Dict[str, Tensor]):
    return len(batch)
)", [](jit::Module&) {});
  auto graph = inlinedGraph(module);
  CapturingDiagnostics diagnostics;
  EXPECT_EQ(flattenDictInputs(*graph, diagnostics), 0u);
  EXPECT_EQ(graph->inputs().size(), 2u);
  EXPECT_TRUE(diagnostics.mentions("stays one dict input"));
}

TEST(ArgumentBinding, SubmoduleByDottedPath) {
  jit::Module inner = makeModule("def forward(self, x):\n    return x\n", [](jit::Module&) {});
  jit::Module outer("Outer", std::make_shared<jit::CompilationUnit>());
  outer.register_module("_model", inner);
  auto found = findSubmodule(outer, "_model", "test.pt");
  ASSERT_TRUE(found);
  EXPECT_TRUE(found->find_method("forward").has_value());
  auto missing = findSubmodule(outer, "_model.decoder", "test.pt");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.status().message().find("submodule '_model' has no submodule 'decoder'"), std::string::npos)
      << missing.status().message();
  auto wrong = findSubmodule(outer, "encoder", "test.pt");
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.status().message().find("its submodules: _model"), std::string::npos) << wrong.status().message();
}

}  // namespace
}  // namespace torchport::torchscript
