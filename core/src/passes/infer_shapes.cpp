// infer-shapes: symbolic shape inference on the ONNX dialect. Every onnx:: node's output
// types (dtype + shape, with known sizes and named symbols such as `batch`) are computed
// from its inputs' types and constant inputs, and stored where the current type is unknown
// or less precise. Option `inputs` first overrides graph input types (onnx-simplifier's
// overwrite-input-shape), so that fold-constants can then fold shape subgraphs away.
//
// Before:
//   graph @main(%x: f32[batch,3,4]) -> (%y) {
//     %s = onnx::Shape(%x)
//     %i = const i64[1] dense<[0]>
//     %b = onnx::Gather(%s, %i) {axis=0}
//     %rest = const i64[1] dense<[-1]>
//     %shape = onnx::Concat(%b, %rest) {axis=0}
//     %y = onnx::Reshape(%x, %shape)
//   }
// After:
//   graph @main(%x: f32[batch,3,4]) -> (%y: f32[batch,12]) {
//     %s: i64[3] = onnx::Shape(%x)
//     ...
//     %b: i64[1] = onnx::Gather(%s, %i) {axis=0}
//     %shape: i64[2] = onnx::Concat(%b, %rest) {axis=0}
//     %y: f32[batch,12] = onnx::Reshape(%x, %shape)
//   }
// With {inputs="x=f32[2,3,4]"}, %x becomes f32[2,3,4] and %y f32[2,12]; a following
// fold-constants,eliminate-dead-code then reduces the shape chain to one constant.
//
// How: one forward walk over the nodes (topological order), nested If/Loop bodies when
// their node is reached. Besides types, small integer vectors carry partially known data
// ("shape data": [batch, 3, 4] from Shape of f32[batch,3,4]) through Shape, Size, Gather,
// Slice, Concat, (Un)Squeeze, Reshape, Identity, Cast, Range, ConstantOfShape and integer
// Add/Sub/Mul/Div, so that Reshape / Expand / Tile / ConstantOfShape / Resize targets computed
// at run time still give output dims (symbols included). Rules per op: infer_shapes_rules.cpp.
//
// Merging (never contradict what is known): an unknown type takes the computed one; an
// unknown dtype or rank is filled in; per dim, `?` takes anything, a symbol takes a known
// size (the inputs pin it down), a known size stays. A computed dtype, rank or size that
// disagrees with a known one is a warning and the known one stays. Non-onnx ops (aten::,
// custom domains) and onnx ops without a rule keep their types. If outputs take the type
// both branches agree on. Exception: when `inputs` changes what an input knew (dtype, rank
// or a known size, e.g. 224 -> 256), the types below were derived from the old input, so
// computed types replace disagreeing ones (a debug note each). Linear in the graph size (per node: its rank and shape data).
#include <cctype>
#include <string>
#include <unordered_map>
#include <vector>

#include "infer_shapes_rules.h"
#include "passes.h"
#include "torchport/op_traits.h"
#include "torchport/options.h"
#include "torchport/text_ir.h"

namespace torchport {
namespace {

using shape_rules::ShapeData;

std::string trim(std::string_view s) {
  const size_t b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return {};
  const size_t e = s.find_last_not_of(" \t");
  return std::string(s.substr(b, e - b + 1));
}

// A tensor type in textual IR syntax ("f32[batch,3,224,224]", "i64[*]"), parsed by the
// textual IR parser itself (the same syntax as graph signatures).
Expected<Type> parseTensorType(const std::string& text) {
  for (char c : text) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '?' || c == '*' ||
                    c == '[' || c == ']' || c == ',' || c == ' ';
    if (!ok) return Status::usage("unexpected character '" + std::string(1, c) + "'");
  }
  auto graph = parseGraph("graph @g(%x: " + text + ") -> () {\n}\n", "<inputs>");
  if (!graph || (*graph)->inputs().size() != 1) return Status::usage("not a type");
  Type type = (*graph)->inputs()[0]->type();
  if (!type.isTensor()) return Status::usage("not a tensor type");
  return type;
}

// "x=f32[1,3,224,224],mask=i64[1,seq]" -> [(x, type), (mask, type)].
Expected<std::vector<std::pair<std::string, Type>>> parseInputTypes(std::string_view text) {
  std::vector<std::pair<std::string, Type>> result;
  std::vector<std::string> items;
  int depth = 0;
  std::string current;
  for (char c : text) {
    if (c == '[' || c == '<') ++depth;
    if (c == ']' || c == '>') --depth;
    if (c == ',' && depth == 0) {
      items.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  items.push_back(current);
  for (const std::string& raw : items) {
    const std::string item = trim(raw);
    const auto bad = [&](const std::string& why) {
      return Status::usage("infer-shapes: inputs: '" + item + "': " + why +
                           "; expected NAME=DTYPE[DIM,...] items separated by commas, such as "
                           "x=f32[1,3,224,224],mask=i64[1,seq] (dims: sizes, symbols, ?)");
    };
    const size_t equals = item.find('=');
    if (equals == std::string::npos) return bad("missing NAME=");
    std::string name = trim(std::string_view(item).substr(0, equals));
    if (!name.empty() && name[0] == '%') name.erase(0, 1);
    if (name.empty()) return bad("missing NAME=");
    auto type = parseTensorType(trim(std::string_view(item).substr(equals + 1)));
    if (!type) return bad(type.status().message());
    for (const auto& [seen, t] : result)
      if (seen == name) return bad("input '" + name + "' given twice");
    result.emplace_back(std::move(name), std::move(*type));
  }
  return result;
}

class ShapeInference {
 public:
  explicit ShapeInference(PassContext& context) : context_(context) {}

  void run(Graph& graph) {
    for (Node* node : graph.nodes()) {
      bool nested = false;
      for (const auto& [name, attribute] : node->attributes()) {
        const auto* body = std::get_if<GraphPtr>(&attribute);
        if (body != nullptr && *body != nullptr) {
          run(**body);
          nested = true;
        }
      }
      if (nested) {
        if (node->kind() == "onnx::If") mergeIfOutputs(*node);
        continue;
      }
      if (node->domain() != "onnx") continue;
      shape_rules::NodeResult result = shape_rules::inferOnnxNode(*node, lookup_);
      for (const std::string& problem : result.problems) {
        context_.diag().warn("infer-shapes: " + node->describe() + ": " + problem + "; its output types stay as they are");
      }
      for (size_t i = 0; i < result.outputs.size() && i < node->numOutputs(); ++i) {
        merge(*node, node->output(i), result.outputs[i]);
      }
      for (size_t i = 0; i < result.data.size() && i < node->numOutputs(); ++i) {
        if (result.data[i]) data_[node->output(i)] = std::move(*result.data[i]);
      }
    }
  }

  Status overrideInputs(Graph& graph, const std::vector<std::pair<std::string, Type>>& types) {
    for (const auto& [name, type] : types) {
      Value* input = nullptr;
      for (Value* v : graph.inputs())
        if (v->name() == name) input = v;
      if (input == nullptr) {
        std::string names;
        for (const Value* v : graph.inputs()) names += (names.empty() ? "%" : ", %") + v->name();
        return Status::usage("infer-shapes: inputs names '" + name + "', which is not a graph input (they are: " +
                             (names.empty() ? std::string("none") : names) + ")");
      }
      if (!(input->type() == type)) {
        if (contradicts(input->type(), type)) overridden_ = true;
        context_.diag().debug("infer-shapes: input %" + name + ": " + input->type().toString() + " -> " + type.toString());
        input->setType(type);
        ++updated_;
      }
    }
    return Status::ok();
  }

  size_t updated() const { return updated_; }
  bool overridden() const { return overridden_; }
  size_t conflicts() const { return conflicts_; }

 private:
  // Does `to` change what `from` knew (dtype, rank or a known size)?
  static bool contradicts(const Type& from, const Type& to) {
    if (!from.isTensor()) return false;
    if (from.dtype() != DType::Undefined && from.dtype() != to.dtype()) return true;
    if (!from.hasRank()) return false;
    if (!to.hasRank() || to.rank() != from.rank()) return true;
    for (size_t i = 0; i < from.rank(); ++i) {
      const Dim& d = (*from.shape())[i];
      if (d.isKnown() && !((*to.shape())[i] == d)) return true;
    }
    return false;
  }

  // A computed type disagrees with the current one: normally the current one stays (warning);
  // after `inputs` changed what an input knew, the current types are stale and the computed
  // one wins. Returns true when the computed one should be taken.
  bool conflict(const Node& node, const Value* value, const std::string& what) {
    if (overridden_) {
      context_.diag().debug("infer-shapes: " + node.describe() + ": %" + value->name() + " " +
                            value->type().toString() + " was derived from the old input types; taking " + what);
      return true;
    }
    ++conflicts_;
    context_.diag().warn("infer-shapes: " + node.describe() + ": computed " + what + " for %" + value->name() +
                         " disagrees with its type " + value->type().toString() + "; keeping the known one");
    return false;
  }

  // Combines the current type of `value` with the computed one (see the header comment).
  void merge(const Node& node, Value* value, const Type& computed) {
    if (!computed.isTensor()) return;
    const Type& current = value->type();
    if (current.isUnknown()) {
      value->setType(computed);
      ++updated_;
      return;
    }
    if (!current.isTensor()) return;  // scalars, lists...: not ours
    DType dtype = current.dtype();
    if (dtype == DType::Undefined) {
      dtype = computed.dtype();
    } else if (computed.dtype() != DType::Undefined && computed.dtype() != dtype) {
      if (conflict(node, value, "dtype " + std::string(dtypeName(computed.dtype())))) dtype = computed.dtype();
    }
    std::optional<std::vector<Dim>> shape = current.shape();
    if (!shape) {
      shape = computed.shape();
    } else if (computed.hasRank()) {
      const std::vector<Dim>& dims = *computed.shape();
      if (dims.size() != shape->size()) {
        if (conflict(node, value, "rank " + std::to_string(dims.size()))) shape = dims;
      } else {
        for (size_t i = 0; i < dims.size(); ++i) {
          Dim& known = (*shape)[i];
          const Dim& got = dims[i];
          if (known.isKnown()) {
            if (got.isKnown() && got.size() != known.size() &&
                conflict(node, value, "dim " + got.toString() + " at axis " + std::to_string(i)))
              known = got;
            else if (overridden_ && !got.isKnown())
              known = got;  // derived from an old input size: a symbol or ? now
          } else if (known.isSymbol()) {
            if (got.isKnown()) known = got;
          } else {
            known = got;
          }
        }
      }
    }
    Type merged = Type::tensor(dtype, std::move(shape));
    if (!(merged == current)) {
      value->setType(std::move(merged));
      ++updated_;
    }
  }

  // If outputs: the type both branches agree on (dims that differ become unknown).
  void mergeIfOutputs(Node& node) {
    GraphPtr thenBranch = node.graphAttr("then_branch");
    GraphPtr elseBranch = node.graphAttr("else_branch");
    if (thenBranch == nullptr || elseBranch == nullptr) return;
    const auto thenOut = thenBranch->outputs(), elseOut = elseBranch->outputs();
    if (thenOut.size() != node.numOutputs() || elseOut.size() != node.numOutputs()) return;
    for (size_t i = 0; i < node.numOutputs(); ++i) {
      const Type& a = thenOut[i]->type();
      const Type& b = elseOut[i]->type();
      if (!a.isTensor() || !b.isTensor()) continue;
      const DType dtype = a.dtype() == b.dtype() ? a.dtype() : DType::Undefined;
      std::optional<std::vector<Dim>> shape;
      if (a.hasRank() && b.hasRank() && a.rank() == b.rank()) {
        shape.emplace();
        for (size_t k = 0; k < a.rank(); ++k) {
          const Dim& x = (*a.shape())[k];
          shape->push_back(x == (*b.shape())[k] ? x : Dim::unknown());
        }
      }
      if (dtype == DType::Undefined && !shape) continue;
      merge(node, node.output(i), Type::tensor(dtype, std::move(shape)));
    }
  }

  PassContext& context_;
  std::unordered_map<const Value*, ShapeData> data_;
  shape_rules::DataLookup lookup_ = [this](const Value* v) -> const ShapeData* {
    auto it = data_.find(v);
    return it == data_.end() ? nullptr : &it->second;
  };
  size_t updated_ = 0;
  size_t conflicts_ = 0;
  bool overridden_ = false;  // `inputs` changed a dtype, rank or known size of an input
};

}  // namespace

PassInfo inferShapesInfo() {
  PassInfo info;
  info.name = "infer-shapes";
  info.summary = "Symbolic shape inference on the ONNX dialect (dtypes, known and symbolic dims like batch)";
  info.description =
      "Computes the output types of onnx:: nodes (dtype and shape, with known sizes and symbols such as `batch`) "
      "from their inputs' types and constant inputs, in one forward walk (If/Loop bodies included), and stores "
      "them where the current type is unknown or less precise. Small integer vectors also carry partially known "
      "values (Shape -> Gather -> Concat chains), so a Reshape to a shape computed at run time still gets dims.\n"
      "Before:\n"
      "  %s = onnx::Shape(%x)                         # %x: f32[batch,3,4]\n"
      "  %b = onnx::Gather(%s, %zero) {axis=0}        # %zero: const i64[1] [0]\n"
      "  %shape = onnx::Concat(%b, %minus1) {axis=0}  # %minus1: const i64[1] [-1]\n"
      "  %y = onnx::Reshape(%x, %shape)\n"
      "After:\n"
      "  %s: i64[3] = onnx::Shape(%x)\n"
      "  %b: i64[1] = onnx::Gather(%s, %zero) {axis=0}\n"
      "  %shape: i64[2] = onnx::Concat(%b, %minus1) {axis=0}\n"
      "  %y: f32[batch,12] = onnx::Reshape(%x, %shape)\n"
      "Ops: element-wise unary ops, Softmax & co, Cast/CastLike, broadcasting binary/variadic ops and comparisons "
      "(equal symbols, 1 vs symbol), Where, MatMul, Gemm (transA/transB), Conv/ConvTranspose/MaxPool/AveragePool/"
      "LpPool (pads, strides, dilations, auto_pad, ceil_mode; symbolic spatial dims give `?`), global pools, "
      "Reduce* and ArgMax/ArgMin (axes attribute or input, keepdims, noop_with_empty_axes), Shape (start/end), "
      "Size, Reshape (0, -1 resolved up to symbols, allowzero), Flatten, Squeeze/Unsqueeze (axes attribute or "
      "input), Transpose, Concat, Gather/GatherElements/GatherND, Slice (attribute or input form, clamping, "
      "steps), Pad, Expand, Tile, ConstantOfShape, Range, Split (split attribute/input, num_outputs), Resize/"
      "Upsample (scales or sizes, axes), BatchNormalization, LayerNormalization, Dropout, TopK, OneHot, NonZero, "
      "DepthToSpace/SpaceToDepth, Quantize/DequantizeLinear, RNN/GRU/LSTM (layout, direction), GridSample, EyeLike, "
      "Random*Like, Bernoulli, Constant. Other ops keep their types; If outputs take "
      "the type both branches agree on.\n"
      "Never contradicts a known type: a computed dtype, rank or size that disagrees with a known one is a warning "
      "and the known one stays; an unknown dim takes the computed one, a symbol a computed size.\n"
      "Option `inputs` (default empty): NAME=TYPE items separated by commas, TYPE in textual IR syntax, e.g. "
      "\"x=f32[1,3,224,224],mask=i64[1,seq]\". Replaces those graph input types first (whatever they were), like "
      "onnx-simplifier's --overwrite-input-shape; then `infer-shapes{inputs=...},fold-constants,eliminate-dead-code` "
      "folds shape subgraphs that the new static dims make constant. When an override changes what an input "
      "knew (its dtype, rank or a known size: 224 -> 256), the types below it were derived from the old input, so "
      "computed types then replace disagreeing ones (ops without a rule keep theirs). Unknown names and bad syntax "
      "are errors.";
  info.options = {optionSpec("inputs", OptionType::String, stringValue(""),
                             "graph input types to impose first: NAME=TYPE,... such as x=f32[1,3,224,224],mask=i64[1,seq]")};
  info.kind = StepKind::Transform;
  return info;
}

Status runInferShapes(Graph& graph, PassContext& context) {
  ShapeInference inference(context);
  const std::string inputs = context.options().getString("inputs");
  if (!trim(inputs).empty()) {
    TP_ASSIGN_OR_RETURN(auto types, parseInputTypes(inputs));
    TP_RETURN_IF_ERROR(inference.overrideInputs(graph, types));
  }
  inference.run(graph);
  if (inference.updated() > 0) {
    context.setChanged();
    context.diag().debug("infer-shapes: refined " + std::to_string(inference.updated()) + " type" +
                         (inference.updated() == 1 ? "" : "s"));
  }
  if (inference.conflicts() > 0) {
    context.diag().warn("infer-shapes: " + std::to_string(inference.conflicts()) +
                        " computed type(s) disagreed with known ones (kept the known ones; see the warnings above)");
  }
  return Status::ok();
}

}  // namespace torchport
