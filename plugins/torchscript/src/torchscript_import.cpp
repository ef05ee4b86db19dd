// The TorchScript importer: load, freeze, clean up, flatten the interface, infer shapes,
// convert. See torchscript_importer.h for the contract and README.md for the choices.
#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/passes/constant_propagation.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/passes/freeze_module.h>
#include <torch/csrc/jit/passes/inliner.h>
#include <torch/csrc/jit/passes/lower_tuples.h>
#include <torch/csrc/jit/passes/remove_mutation.h>
#include <torch/csrc/jit/serialization/import.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <map>
#include <set>

#include "argument_binding.h"
#include "jit_bridge.h"
#include "packed_params.h"
#include "state_dict_binding.h"
#include "state_lifting.h"
#include "torchport/files.h"
#include "torchscript_importer.h"

namespace torchport::torchscript {

namespace jit = torch::jit;
namespace fs = std::filesystem;

namespace {


// ---------------------------------------------------------------------------------------
// 0. What kind of file is it? (before LibTorch tries, for clear refusals)
// ---------------------------------------------------------------------------------------
struct ArchiveFacts {
  bool savedOnAccelerator = false;  // some storage was saved from a CUDA/MPS device
};

bool contains(std::string_view haystack, std::string_view needle) { return haystack.find(needle) != std::string_view::npos; }

// Storage locations are pickled as strings ('cuda:0') next to each tensor's persistent id:
// BINUNICODE ('X' + 4-byte length) or SHORT_BINUNICODE (0x8c + 1-byte length). Matching
// the opcode and the length avoids flagging attribute names that merely contain "cuda".
bool mentionsAcceleratorLocation(std::string_view pickle) {
  for (std::string_view device : {"cuda", "mps", "xpu"}) {
    for (size_t at = pickle.find(device); at != std::string_view::npos; at = pickle.find(device, at + 1)) {
      size_t end = at + device.size();
      if (end < pickle.size() && pickle[end] == ':') {
        ++end;
        while (end < pickle.size() && std::isdigit(static_cast<unsigned char>(pickle[end])) != 0) ++end;
      }
      const size_t length = end - at;
      if (at >= 5 && pickle[at - 5] == 'X') {
        uint32_t encoded = 0;
        std::memcpy(&encoded, pickle.data() + at - 4, 4);  // little-endian, as pickle writes it
        if (encoded == length) return true;
      }
      if (at >= 2 && static_cast<unsigned char>(pickle[at - 2]) == 0x8c &&
          static_cast<unsigned char>(pickle[at - 1]) == length) {
        return true;
      }
    }
  }
  return false;
}

std::string readRecord(caffe2::serialize::PyTorchStreamReader& reader, const std::string& name) {
  if (!reader.hasRecord(name)) return {};
  auto [data, size] = reader.getRecord(name);
  return std::string(static_cast<const char*>(data.get()), size);
}

std::string describeTorchSavePickle(std::string_view pickle) {
  if (contains(pickle, "_modules") && contains(pickle, "_parameters")) {
    return "a whole nn.Module pickled with torch.save(model). Loading it needs the model's Python class and would "
           "run arbitrary pickle code, so torchport refuses it. Export the model as TorchScript instead "
           "(torch.jit.script(model).save(\"model.pt\") or torch.jit.trace(model, example).save(\"model.pt\")), "
           "or save model.state_dict()";
  }
  if (contains(pickle, "OrderedDict") || (pickle.size() > 2 && pickle[2] == '}')) {
    return "a state_dict (or a checkpoint dictionary) saved with torch.save(): it holds weights but no graph. Export "
           "the model with torch.jit.script(model).save(\"model.pt\") or torch.jit.trace(model, example).save(...), "
           "and bind these weights onto that model by name if needed";
  }
  return "a torch.save() archive, not a TorchScript module. Save the model with torch.jit.script(model).save(...) or "
         "torch.jit.trace(model, example).save(...)";
}

Expected<ArchiveFacts> inspectArchive(const fs::path& path) {
  const std::string file = path.string();
  TP_ASSIGN_OR_RETURN(std::vector<std::byte> head, readFileHead(path, 8));
  const bool isZip = head.size() >= 4 && std::to_integer<char>(head[0]) == 'P' && std::to_integer<char>(head[1]) == 'K' &&
                     std::to_integer<int>(head[2]) == 3 && std::to_integer<int>(head[3]) == 4;
  if (!isZip) {
    if (!head.empty() && std::to_integer<unsigned>(head[0]) == 0x80) {
      return Status::input(file + ": is a Python pickle (the legacy torch.save format), not TorchScript. Re-export the "
                           "model with torch.jit.script(model).save(\"model.pt\") or torch.jit.trace(...).save(...); "
                           "a whole pickled nn.Module is refused because loading it would run pickle code");
    }
    // Lite-interpreter files saved with _use_flatbuffer=True: a flatbuffer tagged "PTMF".
    const bool flatbufferMobile = head.size() >= 8 && std::to_integer<char>(head[4]) == 'P' &&
                                  std::to_integer<char>(head[5]) == 'T' && std::to_integer<char>(head[6]) == 'M' &&
                                  std::to_integer<char>(head[7]) == 'F';
    if (flatbufferMobile) {
      return Status::input(file + ": is a flatbuffer lite-interpreter file (mobile bytecode only, no TorchScript "
                           "graph); torchport converts TorchScript graphs. Export the model with torch.jit.save "
                           "(model.save(\"model.pt\")), or _save_for_lite_interpreter without _use_flatbuffer");
    }
    return Status::input(file + ": is not a TorchScript file: TorchScript files are zip archives written by "
                         "torch.jit.save (they start with 'PK'), this one is not a zip archive");
  }
  ArchiveFacts facts;
  try {
    caffe2::serialize::PyTorchStreamReader reader(file);
    bool hasCode = false;
    for (const std::string& record : reader.getAllRecords()) hasCode = hasCode || record.starts_with("code/");
    const std::string data = readRecord(reader, "data.pkl");
    if (!hasCode && reader.hasRecord("bytecode.pkl")) {
      return Status::input(file + ": is a lite-interpreter (mobile bytecode) file without the TorchScript code it "
                           "was made from; torchport converts TorchScript graphs. Export the model with "
                           "torch.jit.save (model.save(\"model.pt\")); .ptl files from _save_for_lite_interpreter "
                           "that keep their code/ folder (PyTorch's default) load directly");
    }
    if (!hasCode && !reader.hasRecord("constants.pkl")) {
      if (!data.empty()) return Status::input(file + ": is " + describeTorchSavePickle(data));
      return Status::input(file + ": is a zip archive but not a TorchScript module (it has no code/ folder and no "
                           "constants.pkl); export the model with torch.jit.script(model).save(...) or "
                           "torch.jit.trace(...).save(...)");
    }
    facts.savedOnAccelerator = mentionsAcceleratorLocation(data) || mentionsAcceleratorLocation(readRecord(reader, "constants.pkl"));
  } catch (const std::exception& error) {
    return Status::input(file + ": is not a readable TorchScript archive: " + firstLineOf(error));
  }
  return facts;
}

// ---------------------------------------------------------------------------------------
// 2. JIT cleanup passes
// ---------------------------------------------------------------------------------------
bool blockRaises(const jit::Block* block) {
  for (const jit::Node* node : block->nodes()) {
    if (node->kind() == c10::prim::RaiseException) return true;
  }
  return false;
}

// An `if` with a branch that raises becomes an `if` on a constant that selects the other
// branch (constant propagation then inlines it). Same effect as JIT's EliminateExceptions,
// which however also pools equal constants (after freezing, that would merge equal-valued
// weights such as a fresh BatchNorm's weight and running_var).
void removeExceptionChecks(jit::Graph& graph, jit::Block* block) {
  for (jit::Node* node : block->nodes()) {
    for (jit::Block* inner : node->blocks()) removeExceptionChecks(graph, inner);
    if (node->kind() != c10::prim::If) continue;
    const bool thenRaises = blockRaises(node->blocks()[0]);
    const bool elseRaises = blockRaises(node->blocks()[1]);
    if (thenRaises == elseRaises) continue;
    jit::WithInsertPoint insertPoint(node);
    node->replaceInput(0, graph.insertConstant(!thenRaises));
  }
}

// The cleanups that help conversion, in order. None of them pools constants.
//  - Inline: freezing inlines already; this catches functions it left (cheap when none).
//  - exception checks (option): BatchNorm's dim check, asserts; as torch.onnx does.
//  - ConstantPropagationImmutableTypes: folds `if self.training`, `is None` tests and int
//    arithmetic on constants, but never creates new tensor constants (which would lose
//    parameter names and copy weights).
//  - LowerSimpleTuples: tuples built and unpacked locally disappear.
//  - RemoveListMutation / RemoveTensorMutation: in-place ops (relu_, add_, list append on
//    fresh lists) become functional where alias analysis proves it safe.
//  - EliminateDeadCode.
void cleanUp(std::shared_ptr<jit::Graph>& graph, const ImportSettings& settings) {
  jit::Inline(*graph);
  if (settings.removeExceptionChecks) removeExceptionChecks(*graph, graph->block());
  jit::ConstantPropagationImmutableTypes(graph);
  jit::LowerSimpleTuples(graph);
  jit::RemoveListMutation(graph);
  jit::RemoveTensorMutation(graph);
  jit::EliminateDeadCode(graph);
}

// XNNPACK op contexts (what optimize_for_mobile leaves): a prim::Constant object holding
// prepacked weights, consumed by prepacked::*_clamp_run. Each context's __getstate__
// gives back the weights and hyper-parameters, so the op becomes the aten op it was made
// from, followed by aten::clamp when the context fused an activation's output range:
//   conv2d_clamp_run(x, ctx{w, b, stride, padding, dilation, groups, min, max})
//     -> clamp(conv2d(x, w, b, stride, padding, dilation, groups), min, max)
//   conv2d_transpose_clamp_run(x, ctx{w, b, stride, padding, output_padding, dilation,
//     groups, min, max}) -> clamp(conv_transpose2d(x, w, b, stride, padding,
//     output_padding, groups, dilation), min, max)
//   linear_clamp_run(x, ctx{w, b, min, max}) -> clamp(linear(x, w, b), min, max)
// Other objects (quantized packed params, user classes) are reported by the converter.
struct OpContextUnpacking {
  std::string_view op;
  size_t stateSize;  // elements of __getstate__'s tuple
};
constexpr OpContextUnpacking kOpContextOps[] = {
    {"prepacked::conv2d_clamp_run", 8},
    {"prepacked::conv2d_transpose_clamp_run", 9},
    {"prepacked::linear_clamp_run", 4},
};

void unpackOpContexts(jit::Graph& graph, jit::Block* block, size_t& unpacked) {
  for (auto it = block->nodes().begin(); it != block->nodes().end();) {
    jit::Node* node = *it++;
    for (jit::Block* inner : node->blocks()) unpackOpContexts(graph, inner, unpacked);
    const std::string_view kind = node->kind().toQualString();
    const auto* entry = std::find_if(std::begin(kOpContextOps), std::end(kOpContextOps),
                                     [&](const OpContextUnpacking& op) { return op.op == kind; });
    if (entry == std::end(kOpContextOps) || node->inputs().size() != 2) continue;
    std::optional<c10::IValue> context = jit::toIValue(node->input(1));
    if (!context || !context->isObject()) continue;
    const auto object = context->toObject();
    torch::jit::Function* getState = object->type()->findMethod("__getstate__");
    if (getState == nullptr) continue;
    const c10::IValue state = (*getState)({*context});
    if (!state.isTuple() || state.toTupleRef().elements().size() != entry->stateSize) continue;
    const auto& fields = state.toTupleRef().elements();

    jit::WithInsertPoint insertPoint(node);
    auto constant = [&](const c10::IValue& value) {
      return graph.insertConstant(value.isTensor() ? c10::IValue(value.toTensor().detach()) : value);
    };
    std::vector<jit::NamedValue> args = {node->input(0), constant(fields[0]), constant(fields[1])};
    c10::Symbol op = c10::Symbol::fromQualString("aten::linear");
    size_t rangeAt = 2;
    if (kind == "prepacked::conv2d_clamp_run") {
      op = c10::Symbol::fromQualString("aten::conv2d");
      for (size_t i = 2; i <= 5; ++i) args.emplace_back(constant(fields[i]));  // stride padding dilation groups
      rangeAt = 6;
    } else if (kind == "prepacked::conv2d_transpose_clamp_run") {
      op = c10::Symbol::fromQualString("aten::conv_transpose2d");
      // state: stride padding output_padding dilation groups; schema: ... groups, dilation
      for (size_t i : {2, 3, 4, 6, 5}) args.emplace_back(constant(fields[i]));
      rangeAt = 7;
    }
    std::vector<jit::Node*> created;
    jit::Value* result = graph.insert(op, args, {}, node->sourceRange());
    created.push_back(result->node());
    if (!fields[rangeAt].isNone() || !fields[rangeAt + 1].isNone()) {
      result = graph.insert(c10::Symbol::fromQualString("aten::clamp"),
                            {result, constant(fields[rangeAt]), constant(fields[rangeAt + 1])}, {}, node->sourceRange());
      created.push_back(result->node());
    }
    for (jit::Node* made : created) {
      if (auto callstack = node->callstack()) made->setCallStack(*callstack);
    }
    node->output()->replaceAllUsesWith(result);
    node->destroy();
    ++unpacked;
  }
}

// ---------------------------------------------------------------------------------------
// 3. Interface: flattened inputs and outputs with stable names
// ---------------------------------------------------------------------------------------
struct NamedValue {
  std::string name;
  jit::Value* value;
};

std::optional<std::string> constantKey(jit::Value* key) {
  auto value = jit::toIValue(key);
  if (!value) return std::nullopt;
  if (value->isString()) return value->toStringRef();
  if (value->isInt()) return std::to_string(value->toInt());
  return std::nullopt;
}

// A dict built in the graph's top block (prim::DictConstruct or aten::dict(), then
// d[k] = v / d[k] with constant keys, all in that block) and used once besides (by the
// return, or the tuple being unpacked): its final entries in insertion order. Reads
// d[k] are replaced by the value stored at that point, and the writes are collected:
// they are dead once the dict is unpacked.
std::optional<std::vector<std::pair<std::string, jit::Value*>>> returnedDictEntries(jit::Value* dict,
                                                                                     std::vector<jit::Node*>& setItems) {
  jit::Node* producer = dict->node();
  const bool created = producer->kind() == c10::prim::DictConstruct ||
                       (producer->kind() == c10::Symbol::fromQualString("aten::dict") && producer->inputs().empty());
  if (!created || producer->owningBlock() != producer->owningGraph()->block()) return std::nullopt;
  std::vector<std::pair<std::string, jit::Value*>> entries;
  auto find = [&](const std::string& key) -> jit::Value* {
    for (auto& entry : entries) {
      if (entry.first == key) return entry.second;
    }
    return nullptr;
  };
  auto set = [&](const std::string& key, jit::Value* value) {
    for (auto& entry : entries) {
      if (entry.first == key) {
        entry.second = value;  // Python dicts keep the first insertion's position
        return;
      }
    }
    entries.emplace_back(key, value);
  };
  for (size_t i = 0; i + 1 < producer->inputs().size(); i += 2) {
    auto key = constantKey(producer->inputs()[i]);
    if (!key) return std::nullopt;
    set(*key, producer->inputs()[i + 1]);
  }
  const c10::Symbol setItem = c10::Symbol::fromQualString("aten::_set_item");
  const c10::Symbol getItem = c10::Symbol::fromQualString("aten::__getitem__");
  size_t readers = 0;
  std::vector<jit::Node*> accesses;
  for (const jit::Use& use : dict->uses()) {
    const bool access = (use.user->kind() == setItem || use.user->kind() == getItem) && use.offset == 0;
    if (!access) {
      ++readers;
    } else if (use.user->owningBlock() == producer->owningBlock()) {
      accesses.push_back(use.user);
    } else {
      return std::nullopt;  // written or read inside control flow
    }
  }
  if (readers != 1) return std::nullopt;
  std::sort(accesses.begin(), accesses.end(), [](jit::Node* a, jit::Node* b) { return a->isBefore(b); });
  std::vector<std::pair<jit::Node*, jit::Value*>> reads;
  std::vector<jit::Node*> writes;
  for (jit::Node* access : accesses) {
    auto key = constantKey(access->inputs()[1]);
    if (!key) return std::nullopt;
    if (access->kind() == setItem) {
      set(*key, access->inputs()[2]);
      writes.push_back(access);
    } else {
      jit::Value* current = find(*key);
      if (current == nullptr) return std::nullopt;  // a KeyError at run time: leave it be
      reads.emplace_back(access, current);
    }
  }
  for (const auto& [read, value] : reads) read->output()->replaceAllUsesWith(value);
  setItems.insert(setItems.end(), writes.begin(), writes.end());
  return entries;
}

// Tuple/list/dict returned as such are unpacked: output.0, output.1.0, output.KEY.
void flattenOutput(jit::Value* value, const std::string& name, std::vector<NamedValue>& leaves,
                   std::vector<jit::Node*>& deadWrites, std::vector<std::string>& droppedNone) {
  jit::Node* producer = value->node();
  const bool onlyReturned = value->uses().size() == 1;
  if (onlyReturned && (producer->kind() == c10::prim::TupleConstruct || producer->kind() == c10::prim::ListConstruct)) {
    for (size_t i = 0; i < producer->inputs().size(); ++i) {
      flattenOutput(producer->inputs()[i], name + "." + std::to_string(i), leaves, deadWrites, droppedNone);
    }
    return;
  }
  if (value->type()->kind() == c10::TypeKind::DictType) {
    if (auto entries = returnedDictEntries(value, deadWrites)) {
      for (const auto& [key, entry] : *entries) flattenOutput(entry, name + "." + key, leaves, deadWrites, droppedNone);
      return;
    }
  }
  // An output that is always None (e.g. torchvision googlenet's aux logits in eval mode)
  // carries nothing: ONNX has no None tensor, and the exporters would refuse its type.
  if (producer->kind() == c10::prim::Constant && value->type()->kind() == c10::TypeKind::NoneType) {
    droppedNone.push_back(name);
    return;
  }
  leaves.push_back({name, value});
}

std::vector<std::string> flattenOutputs(jit::Graph& graph, Diagnostics& diagnostics) {
  std::vector<NamedValue> leaves;
  std::vector<jit::Node*> deadWrites;
  std::vector<std::string> droppedNone;
  const size_t count = graph.outputs().size();
  for (size_t i = 0; i < count; ++i) {
    flattenOutput(graph.outputs()[i], count == 1 ? "output" : "output." + std::to_string(i), leaves, deadWrites,
                  droppedNone);
  }
  if (!droppedNone.empty()) {
    std::string names;
    for (const std::string& name : droppedNone) names += (names.empty() ? "" : ", ") + name;
    diagnostics.info("torchscript: dropped output(s) that are always None: " + names);
  }
  while (!graph.outputs().empty()) graph.eraseOutput(0);
  std::vector<std::string> names;
  for (const NamedValue& leaf : leaves) {
    graph.registerOutput(leaf.value);
    names.push_back(leaf.name);
  }
  for (jit::Node* write : deadWrites) write->destroy();
  jit::EliminateDeadCode(graph.block());
  return names;
}

// "x.1" -> "x": the JIT appends ".N" to keep debug names unique.
std::string baseName(const jit::Value* value, size_t position) {
  std::string name = value->hasDebugName() ? value->debugNameBase() : std::string();
  return name.empty() ? "input_" + std::to_string(position) : name;
}

// Names of the leaves LowerAllTuples makes from an input of type `type` named `name`.
void tupleLeafNames(const c10::TypePtr& type, const std::string& name, std::vector<std::string>& names) {
  if (auto tuple = type->cast<c10::TupleType>()) {
    for (size_t i = 0; i < tuple->elements().size(); ++i) {
      tupleLeafNames(tuple->elements()[i], name + "." + std::to_string(i), names);
    }
    return;
  }
  names.push_back(name);
}

// A List[Tensor] argument that is only ever unpacked into N values becomes N inputs.
// `index` is the graph input's position, `names` has no entry for `self` (input 0).
bool flattenListInput(jit::Graph& graph, size_t index, const std::string& name, std::vector<std::string>& names) {
  jit::Value* list = graph.inputs()[index];
  std::optional<size_t> length;
  for (const jit::Use& use : list->uses()) {
    if (use.user->kind() != c10::prim::ListUnpack) return false;
    if (length && *length != use.user->outputs().size()) return false;
    length = use.user->outputs().size();
  }
  if (!length) return false;
  const auto elementType = list->type()->expect<c10::ListType>()->getElementType();
  std::vector<jit::Value*> elements;
  for (size_t i = 0; i < *length; ++i) {
    jit::Value* element = graph.insertInput(index + i, name + "_" + std::to_string(i));
    element->setType(elementType);
    elements.push_back(element);
  }
  std::vector<jit::Node*> unpacks;
  for (const jit::Use& use : list->uses()) unpacks.push_back(use.user);
  for (jit::Node* unpack : unpacks) {
    for (size_t i = 0; i < *length; ++i) unpack->outputs()[i]->replaceAllUsesWith(elements[i]);
    unpack->destroy();
  }
  graph.eraseInput(index + *length);
  const auto position = names.begin() + static_cast<std::ptrdiff_t>(index - 1);
  names.erase(position);
  for (size_t i = 0; i < *length; ++i) {
    names.insert(names.begin() + static_cast<std::ptrdiff_t>(index - 1 + i), name + "." + std::to_string(i));
  }
  return true;
}

// Flattens tuple and list-of-tensor arguments; returns one name per remaining input
// (after `self`, which stays first).
std::vector<std::string> flattenInputs(std::shared_ptr<jit::Graph>& graph, Diagnostics& diagnostics) {
  std::vector<std::string> names;  // without self
  std::vector<std::string> plain;
  std::set<std::string> taken;
  for (size_t i = 1; i < graph->inputs().size(); ++i) {
    std::string name = baseName(graph->inputs()[i], i - 1);
    if (!taken.insert(name).second) name = graph->inputs()[i]->debugName();
    plain.push_back(name);
  }
  for (size_t i = 1; i < graph->inputs().size(); ++i) tupleLeafNames(graph->inputs()[i]->type(), plain[i - 1], names);

  // LowerAllTuples throws on tuples it cannot remove and may leave the graph half-done:
  // try it on a copy.
  auto lowered = graph->copy();
  try {
    jit::LowerAllTuples(lowered);
    graph = lowered;
  } catch (const std::exception& error) {
    diagnostics.debug("torchscript: tuples kept (LowerAllTuples: " + firstLineOf(error) + ")");
    names = plain;
  }
  if (names.size() + 1 != graph->inputs().size()) names = plain;  // defensive: keep names aligned

  for (size_t i = 1; i < graph->inputs().size(); ++i) {
    const c10::TypePtr& type = graph->inputs()[i]->type();
    if (auto list = type->cast<c10::ListType>(); list && list->getElementType()->kind() == c10::TypeKind::TensorType) {
      const std::string name = names[i - 1];
      if (flattenListInput(*graph, i, name, names)) continue;
      diagnostics.warn("torchscript: input '" + name + "' is a list of tensors whose length the graph does not fix; "
                       "it stays one list input");
    }
  }
  return names;
}

// ---------------------------------------------------------------------------------------
// 4. Parameters: `self.a.b.weight` reads become constants named after the attribute path
// ---------------------------------------------------------------------------------------
void collectNodes(jit::Block* block, c10::Symbol kind, std::vector<jit::Node*>& out) {
  for (jit::Node* node : block->nodes()) {
    if (node->kind() == kind) out.push_back(node);
    for (jit::Block* inner : node->blocks()) collectNodes(inner, kind, out);
  }
}

// Freezing was asked to keep parameters and buffers as attributes (preserveParameters):
// its constant pooling would otherwise merge equal-valued tensors (a fresh BatchNorm's
// weight and running_var are both all ones), losing their names. They are made constants
// here, one per attribute path, hoisted to the top of the graph.
// Returns the attribute path of each constant's tensor (keyed by TensorImpl: the Value*
// of a constant may not survive later passes, the tensor object does).
using ParameterPaths = std::unordered_map<const c10::TensorImpl*, std::string>;
ParameterPaths resolveParameters(jit::Graph& graph, const jit::Module& frozen) {
  ParameterPaths names;
  if (graph.inputs().empty()) return names;
  jit::Value* self = graph.inputs()[0];
  std::vector<jit::Node*> reads;
  collectNodes(graph.block(), c10::prim::GetAttr, reads);
  std::map<std::string, jit::Value*> constants;
  jit::Node* top = *graph.block()->nodes().begin();  // the return node when empty
  for (jit::Node* read : reads) {
    std::vector<std::string> path = {read->s(c10::attr::name)};
    jit::Value* object = read->input();
    while (object->node()->kind() == c10::prim::GetAttr) {
      path.push_back(object->node()->s(c10::attr::name));
      object = object->node()->input();
    }
    if (object != self) continue;
    std::reverse(path.begin(), path.end());
    c10::IValue value = frozen._ivalue();
    std::string dotted;
    for (const std::string& attribute : path) {
      value = value.toObject()->getAttr(attribute);
      dotted += (dotted.empty() ? "" : ".") + attribute;
    }
    if (value.isNone() && read->output()->type()->kind() == c10::TypeKind::OptionalType) {
      jit::WithInsertPoint insertPoint(read);
      read->output()->replaceAllUsesWith(graph.insertConstant(c10::IValue()));
      continue;
    }
    // Custom-class objects kept as attributes (quantized packed params...) become object
    // constants, as freezing makes them; the converter says which it cannot handle.
    if (value.isObject() && !value.toObject()->type()->is_module()) {
      jit::WithInsertPoint insertPoint(read);
      // Constants may only hold objects by a weak reference to their compilation unit
      // (else the unit and the graph would keep each other alive); freezing does the same.
      const c10::IValue weak(value.toObject()->copy_to_weak_compilation_ref());
      if (auto constant = jit::tryInsertConstant(graph, weak)) read->output()->replaceAllUsesWith(*constant);
      continue;
    }
    if (!value.isTensor()) continue;
    jit::Value*& constant = constants[dotted];
    if (constant == nullptr) {
      // Constants may not require grad; detach() shares the storage.
      at::Tensor tensor = value.toTensor().detach();
      jit::WithInsertPoint insertPoint(top);
      constant = graph.insertConstant(tensor);
      constant->setDebugName(dotted);
      names[jit::toIValue(constant)->toTensor().unsafeGetTensorImpl()] = dotted;
    }
    read->output()->replaceAllUsesWith(constant);
  }
  jit::EliminateDeadCode(graph.block());
  return names;
}

ParametersByData indexParameters(const jit::Module& original) {
  ParametersByData index;
  auto add = [&](const std::string& name, const at::Tensor& tensor) {
    if (!tensor.defined() || tensor.layout() != c10::kStrided || tensor.is_quantized() || tensor.numel() == 0) return;
    index[tensor.data_ptr()].push_back(
        {name, std::vector<int64_t>(tensor.sizes().begin(), tensor.sizes().end()), tensor.scalar_type()});
  };
  for (const auto& parameter : original.named_parameters(true)) add(parameter.name, parameter.value);
  for (const auto& buffer : original.named_buffers(true)) add(buffer.name, buffer.value);
  return index;
}

// Names of the live tensor constants: the attribute path resolveParameters recorded; else
// a parameter or buffer of the loaded module sharing its memory; else the path freezing
// put in the debug name of constants it made itself ("self.scale" for a plain attribute).
std::unordered_map<const jit::Value*, std::string> nameConstants(jit::Graph& graph, const ParametersByData& parameters,
                                                                 const ParameterPaths& paths) {
  std::unordered_map<const jit::Value*, std::string> names;
  std::vector<jit::Node*> constants;
  collectNodes(graph.block(), c10::prim::Constant, constants);
  for (jit::Node* node : constants) {
    const jit::Value* output = node->output();
    if (output->type()->kind() != c10::TypeKind::TensorType) continue;
    at::Tensor tensor = jit::toIValue(output)->toTensor();
    if (auto path = paths.find(tensor.unsafeGetTensorImpl()); path != paths.end()) {
      names[output] = path->second;
    } else if (const std::string* name = findParameterByData(parameters, tensor)) {
      names[output] = *name;
    } else if (output->hasDebugName() && output->debugNameBase().starts_with("self.")) {
      names[output] = output->debugNameBase().substr(5);
    }
  }
  return names;
}

// ---------------------------------------------------------------------------------------
// 5. Input signature from `inputs:` (or the model)
// ---------------------------------------------------------------------------------------
Status applyInputDeclarations(const jit::Graph& graph, const ImportSettings& settings, const std::string& file,
                              PreparedGraph& prepared, std::vector<InputDeclaration>& declarations) {
  const size_t count = graph.inputs().size();
  declarations.assign(count, InputDeclaration{});
  for (size_t i = 0; i < count; ++i) declarations[i].name = prepared.inputNames[i];
  if (!settings.inputs.empty() && settings.inputs.size() != count) {
    std::string actual;
    for (const std::string& name : prepared.inputNames) actual += (actual.empty() ? "" : ", ") + name;
    return Status::input(settings.inputsWhere.toString() + ": inputs declares " + std::to_string(settings.inputs.size()) +
                         " input(s) but the model's graph takes " + std::to_string(count) + " (" + actual + ") in " +
                         file + "; declare every input, in this order (tuple arguments count one per element)");
  }
  for (size_t i = 0; i < count; ++i) {
    const jit::Value* input = graph.inputs()[i];
    const bool isTensor = input->type()->kind() == c10::TypeKind::TensorType;
    if (settings.inputs.empty()) {
      prepared.inputTypes.push_back(typeFromJit(input->type()));
      continue;
    }
    InputDeclaration declaration = settings.inputs[i];
    const std::string where = declaration.where.toString() + ": inputs." + declaration.name + ": ";
    if (declaration.describesTensor() && !isTensor) {
      return Status::input(where + "declares a tensor, but argument " + std::to_string(i + 1) + " ('" +
                           prepared.inputNames[i] + "') of the model is " + input->type()->repr_str());
    }
    if (declaration.value && isTensor) {
      return Status::input(where + "gives a scalar value, but argument " + std::to_string(i + 1) + " ('" +
                           prepared.inputNames[i] + "') of the model is a tensor; give shape and dtype instead");
    }
    if (isTensor) {
      if (declaration.shape && !declaration.dtype) declaration.dtype = DType::F32;
      prepared.inputTypes.push_back(Type::tensor(declaration.dtype.value_or(DType::Undefined), declaration.shape));
    } else {
      prepared.inputTypes.push_back(typeFromJit(input->type()));
    }
    prepared.inputNames[i] = declaration.name;
    declarations[i] = std::move(declaration);
  }
  std::set<std::string> seen;
  for (const std::string& name : prepared.inputNames) {
    if (!seen.insert(name).second) {
      return Status::input(file + ": two graph inputs would both be named '" + name + "'; rename one under input: inputs:");
    }
  }
  for (const std::string& output : prepared.outputNames) {
    if (seen.count(output) > 0) {
      return Status::input(file + ": input name '" + output + "' is also an output name; rename the input under input: inputs:");
    }
  }
  return Status::ok();
}

// Dotted attribute path of a GetAttr chain starting at `self`, or "" when it does not.
std::string attributePath(jit::Node* read, const jit::Value* self) {
  std::vector<std::string> names;
  jit::Value* object = read->output();
  jit::Node* cursor = read;
  while (cursor->kind() == c10::prim::GetAttr) {
    names.push_back(cursor->s(c10::attr::name));
    object = cursor->input();
    cursor = object->node();
  }
  if (object != self) return {};
  std::string path;
  for (auto it = names.rbegin(); it != names.rend(); ++it) path += (path.empty() ? "" : ".") + *it;
  return path;
}

Status checkSelfIsGone(jit::Graph& graph, const std::string& file, const ModulePaths& paths) {
  jit::Value* self = graph.inputs()[0];
  if (self->uses().empty()) {
    graph.eraseInput(0);
    return Status::ok();
  }
  // Every attribute still read (by something else than another attribute read) or written.
  std::set<std::string> lines;
  std::vector<jit::Node*> reads, writes;
  collectNodes(graph.block(), c10::prim::GetAttr, reads);
  collectNodes(graph.block(), c10::prim::SetAttr, writes);
  for (jit::Node* read : reads) {
    const std::string path = attributePath(read, self);
    if (path.empty()) continue;
    for (const jit::Use& use : read->output()->uses()) {
      if (use.user->kind() == c10::prim::GetAttr) continue;
      if (use.user->kind() == c10::prim::SetAttr && use.offset == 0) continue;  // reported as a write
      lines.insert("self." + path + " (" + read->output()->type()->repr_str() + ") is read by " +
                   describeJitNode(use.user, &paths));
    }
  }
  for (jit::Node* write : writes) {
    const std::string owner = write->input(0) == self ? std::string() : attributePath(write->input(0)->node(), self);
    if (write->input(0) != self && owner.empty()) continue;
    lines.insert("self." + (owner.empty() ? "" : owner + ".") + write->s(c10::attr::name) + " is assigned at " +
                 describeJitNode(write, &paths));
  }
  for (const jit::Use& use : self->uses()) {
    if (use.user->kind() != c10::prim::GetAttr && use.user->kind() != c10::prim::SetAttr) {
      lines.insert("the module itself is used by " + describeJitNode(use.user, &paths));
    }
  }
  std::string message = file + ": the module's state cannot be frozen into constants:";
  for (const std::string& line : lines) message += "\n  " + line;
  return Status::unsupported(message +
                             "\nattributes that forward assigns, objects that are not tensors, and calls through "
                             "interface-typed submodules stay tied to the module; compute such state locally in "
                             "forward, or call the concrete submodule");
}

Expected<PreparedGraph> prepare(const jit::Module& frozen, const jit::Module& original, const ImportSettings& settings,
                                const std::string& file, PassContext& context,
                                std::vector<InputDeclaration>& declarations) {
  PreparedGraph prepared;
  prepared.fileName = file;
  prepared.modulePaths = std::make_shared<const ModulePaths>(std::initializer_list<const jit::Module*>{&frozen, &original});
  // Work on a copy: the frozen module stays runnable for later steps.
  prepared.graph = frozen.get_method(settings.method).graph()->copy();
  std::shared_ptr<jit::Graph>& graph = prepared.graph;
  // input.constants: bound before the cleanup so that branches on them fold.
  TP_RETURN_IF_ERROR(bindConstantArguments(*graph, frozen.get_method(settings.method).function().getSchema(),
                                           settings.constants, file));
  cleanUp(graph, settings);
  flattenDictInputs(*graph, context.diag());
  size_t unpacked = 0;
  unpackOpContexts(*graph, graph->block(), unpacked);
  if (unpacked > 0) {
    jit::EliminateDeadCode(graph);
    context.diag().info("torchscript: " + std::to_string(unpacked) +
                        " XNNPACK prepacked op(s) (optimize_for_mobile) turned back into aten ops");
  }
  prepared.outputNames = flattenOutputs(*graph, context.diag());
  prepared.inputNames = flattenInputs(graph, context.diag());
  // Assigned module attributes -> state_in.X / state_out.X (or constants: state: frozen).
  TP_ASSIGN_OR_RETURN(LiftedState state, liftModuleState(graph, frozen, settings.method, settings, file, context.diag()));
  ImportSettings withState = settings;
  prepared.inputNames.insert(prepared.inputNames.end(), state.inputNames.begin(), state.inputNames.end());
  prepared.outputNames.insert(prepared.outputNames.end(), state.outputNames.begin(), state.outputNames.end());
  if (!withState.inputs.empty()) {
    withState.inputs.insert(withState.inputs.end(), state.declarations.begin(), state.declarations.end());
  }
  for (size_t i = 0; i < state.descriptions.size(); ++i) {
    context.report("torchscript.state." + state.inputNames[i].substr(std::string_view("state_in.").size()),
                   stringValue(state.descriptions[i]));
  }
  const ParameterPaths paths = resolveParameters(*graph, frozen);
  // Parameters are constants now: `if self.bias is not None` and the like fold.
  jit::ConstantPropagationImmutableTypes(graph);
  jit::LowerSimpleTuples(graph);
  jit::EliminateDeadCode(graph);
  // Dynamic-quantized LSTMs -> float aten::lstm (packed_params.h); needs the cell objects
  // as constants, which resolveParameters just made them.
  if (const size_t lowered = lowerQuantizedLstms(*graph, *prepared.modulePaths); lowered > 0) {
    jit::EliminateDeadCode(graph);
    context.diag().info("torchscript: " + std::to_string(lowered) +
                        " dynamic-quantized LSTM(s) (aten::quantized_lstm) turned into float aten::lstm with "
                        "dequantized weights");
  }
  TP_RETURN_IF_ERROR(checkSelfIsGone(*graph, file, *prepared.modulePaths));
  prepared.parametersByData = indexParameters(original);
  prepared.paramNames = nameConstants(*graph, prepared.parametersByData, paths);
  TP_RETURN_IF_ERROR(applyInputDeclarations(*graph, withState, file, prepared, declarations));
  return prepared;
}

// LibTorch warnings (TORCH_WARN) go to stderr by default; during an import they are
// details of loading or of shape inference running ops on made-up inputs: debug log.
class DiagnosticsWarningHandler final : public c10::WarningHandler {
 public:
  explicit DiagnosticsWarningHandler(Diagnostics& diagnostics) : diagnostics_(diagnostics) {}
  void process(const c10::SourceLocation&, const std::string& message, const bool) override {
    diagnostics_.debug("torchscript: LibTorch warning: " + message);
  }

 private:
  Diagnostics& diagnostics_;
};

}  // namespace

Expected<std::unique_ptr<Graph>> importTorchScript(const fs::path& path, PassContext& context) {
  TP_ASSIGN_OR_RETURN(ImportSettings settings, parseImportSettings(context.options()));
  DiagnosticsWarningHandler warningHandler(context.diag());
  c10::Warning::WarningHandlerGuard warningGuard(&warningHandler);
  const std::string file = path.string();
  TP_ASSIGN_OR_RETURN(ArchiveFacts facts, inspectArchive(path));

  // 1. Load, mapping every storage to CPU.
  auto original = std::make_shared<jit::Module>();
  try {
    *original = jit::load(file, c10::Device(c10::kCPU));
  } catch (const std::exception& error) {
    return Status::input(file + ": LibTorch could not load this TorchScript file: " + firstLineOf(error));
  }
  if (facts.savedOnAccelerator) {
    context.diag().info("torchscript: " + file + " was saved with tensors on a GPU device; they were loaded to CPU");
  }
  context.report("torchscript.mapped_to_cpu", boolValue(facts.savedOnAccelerator));
  if (!settings.weights.empty()) {  // input.weights: a state_dict bound by name (state_dict_binding.h)
    const WeightsBinding binding{context.resolvePath(settings.weights), settings.weightsKey, settings.strictWeights,
                                 settings.weightsWhere};
    TP_RETURN_IF_ERROR(bindStateDict(*original, binding, context));
  }
  if (!settings.submodule.empty()) {
    // input.submodule: the submodule's methods become the graph (e.g. _model.forward of a wrapper).
    TP_ASSIGN_OR_RETURN(jit::Module submodule, findSubmodule(*original, settings.submodule, file));
    *original = submodule;
  }
  if (!original->find_method(settings.method)) {
    std::string methods;
    for (const auto& method : original->get_methods()) methods += (methods.empty() ? "" : ", ") + method.name();
    return Status::input(file + ": the module has no method '" + settings.method + "' (it has: " +
                         (methods.empty() ? std::string("none") : methods) + "); set input: method:");
  }

  // 2. Freeze (inlines calls, folds non-tensor attributes such as `training`), keeping
  //    parameters as attributes; see resolveParameters.
  auto frozen = std::make_shared<jit::Module>();
  try {
    original->eval();
    std::vector<std::string> preserved;
    if (settings.method != "forward") preserved.push_back(settings.method);
    *frozen = jit::freeze_module(*original, preserved, /*freezeInterfaces=*/true, /*preserveParameters=*/true);
  } catch (const std::exception& error) {
    return Status::unsupported(file + ": freezing the module failed: " + firstLineOf(error));
  }
  context.setState(kModuleStateKey, frozen);
  context.setState("torchscript.original_module", original);

  std::vector<InputDeclaration> declarations;
  Expected<PreparedGraph> prepared = Status::internal("unreachable");
  try {
    prepared = prepare(*frozen, *original, settings, file, context, declarations);
  } catch (const std::exception& error) {
    return Status::unsupported(file + ": preparing the TorchScript graph failed in LibTorch: " + firstLineOf(error));
  }
  if (!prepared) return prepared.status();

  JitTypeMap inferred;
  if (settings.inferShapes) {
    inferred = inferTypesByExecution(*prepared->graph, declarations, context.diag(), prepared->modulePaths.get());
  }
  // Graph inputs keep their declared types (symbols named as the user wrote them).
  for (const jit::Value* input : prepared->graph->inputs()) inferred.erase(input);

  TP_ASSIGN_OR_RETURN(std::unique_ptr<Graph> graph, convertJitGraph(*prepared, inferred));
  context.report("torchscript.parameters", intValue(static_cast<int64_t>(prepared->paramNames.size())));
  return graph;
}

}  // namespace torchport::torchscript
