#include "prepare_aten.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>
#include <variant>

#include "converter_utils.h"

namespace torchport::onnxplugin {
namespace {

struct NoneValue {
  friend bool operator==(const NoneValue&, const NoneValue&) = default;
};
// A TorchScript scalar known statically. Devices are represented by their string.
using Scalar = std::variant<NoneValue, bool, int64_t, double, std::string>;

std::optional<Scalar> scalarOf(const Value* v) {
  const Node* c = constantProducer(v);
  if (c == nullptr) return std::nullopt;
  const Attribute* p = c->findAttribute("value");
  const Type& t = v->type();
  if (p == nullptr) {
    if (t.isTensor()) return std::nullopt;
    return Scalar(NoneValue{});
  }
  if (auto* i = std::get_if<int64_t>(p)) {
    if (t.kind() == Type::Kind::Bool) return Scalar(*i != 0);
    return Scalar(*i);
  }
  if (auto* d = std::get_if<double>(p)) return Scalar(*d);
  if (auto* s = std::get_if<std::string>(p)) return Scalar(*s);
  return std::nullopt;
}

std::optional<double> asNumber(const Scalar& s) {
  if (auto* b = std::get_if<bool>(&s)) return *b ? 1.0 : 0.0;
  if (auto* i = std::get_if<int64_t>(&s)) return static_cast<double>(*i);
  if (auto* d = std::get_if<double>(&s)) return *d;
  return std::nullopt;
}

std::optional<int64_t> asInt(const Scalar& s) {
  if (auto* b = std::get_if<bool>(&s)) return *b ? 1 : 0;
  if (auto* i = std::get_if<int64_t>(&s)) return *i;
  return std::nullopt;
}

std::string toText(const Scalar& s) {
  struct V {
    std::string operator()(NoneValue) const { return "None"; }
    std::string operator()(bool b) const { return b ? "True" : "False"; }
    std::string operator()(int64_t i) const { return std::to_string(i); }
    std::string operator()(double d) const { return std::to_string(d); }
    std::string operator()(const std::string& s) const { return s; }
  };
  return std::visit(V{}, s);
}

Value* makeConstant(Graph& graph, Node* before, const Scalar& s, const Type& oldType) {
  Node* c = graph.insertNodeBefore(before, kConstKind, {}, 1);
  c->setProvenance(before->provenance());
  Value* out = c->output();
  if (auto* b = std::get_if<bool>(&s)) {
    c->setAttribute("value", static_cast<int64_t>(*b ? 1 : 0));
    out->setType(Type::scalar(Type::Kind::Bool));
  } else if (auto* i = std::get_if<int64_t>(&s)) {
    c->setAttribute("value", *i);
    out->setType(Type::scalar(Type::Kind::Int));
  } else if (auto* d = std::get_if<double>(&s)) {
    c->setAttribute("value", *d);
    out->setType(Type::scalar(Type::Kind::Float));
  } else if (auto* str = std::get_if<std::string>(&s)) {
    c->setAttribute("value", *str);
    out->setType(oldType.kind() == Type::Kind::Device ? Type::scalar(Type::Kind::Device) : Type::scalar(Type::Kind::String));
  } else {
    out->setType(Type::scalar(Type::Kind::None));
  }
  return out;
}

// Python's str.find with TorchScript's (start, end) handling.
int64_t stringFind(std::string s, const std::string& sub, int64_t start, int64_t end) {
  const int64_t size = static_cast<int64_t>(s.size());
  if (start < 0) start = std::max<int64_t>(0, size + start);
  if (end < 0) end = std::max<int64_t>(0, size + end + 1);
  s = end > start ? s.substr(static_cast<size_t>(std::min(start, size)), static_cast<size_t>(end - start)) : std::string();
  const size_t pos = s.find(sub);
  return pos == std::string::npos ? -1 : static_cast<int64_t>(pos) + start;
}

// Static elements of a list built by prim::ListConstruct from constants.
std::optional<std::vector<Scalar>> staticList(const Value* v) {
  const Node* p = v->producer();
  if (p == nullptr || p->kind() != "prim::ListConstruct") return std::nullopt;
  std::vector<Scalar> out;
  for (const Value* in : p->inputs()) {
    auto s = scalarOf(in);
    if (!s) return std::nullopt;
    out.push_back(*s);
  }
  return out;
}

bool definitelyNotNone(const Value* v) {
  const Type& t = v->type();
  if (t.isTensor() || t.kind() == Type::Kind::Int || t.kind() == Type::Kind::Float || t.kind() == Type::Kind::Bool ||
      t.kind() == Type::Kind::List || t.kind() == Type::Kind::String || t.kind() == Type::Kind::Tuple)
    return true;
  const Node* c = constantProducer(v);
  return c != nullptr && c->hasAttribute("value");
}

// The folded value of `node`'s single output, or nullopt when it is not static.
std::optional<Scalar> fold(const Node& node) {
  const std::string& k = node.kind();
  if (node.numOutputs() != 1) return std::nullopt;
  auto in = [&](size_t i) -> std::optional<Scalar> {
    return i < node.numInputs() ? scalarOf(node.input(i)) : std::nullopt;
  };

  // Facts of the exported graph: CPU, inference, no autocast, no nested tensors.
  if (k == "prim::is_cuda" || k == "prim::is_xpu" || k == "prim::is_mps" || k == "prim::is_nested" ||
      k == "prim::is_sparse" || k == "prim::is_quantized" || k == "prim::is_mkldnn" || k == "prim::requires_grad" ||
      k == "aten::is_grad_enabled" || k == "aten::is_autocast_enabled" || k == "aten::is_autocast_cpu_enabled" ||
      k == "aten::is_inference_mode_enabled")
    return k == "aten::is_inference_mode_enabled" ? Scalar(true) : Scalar(false);
  if (k == "prim::device") return Scalar(std::string("cpu"));
  if (k == "aten::dim" && node.numInputs() == 1) {
    if (auto r = rankOf(node.input(0)); r && node.input(0)->type().isTensor()) return Scalar(*r);
    return std::nullopt;
  }
  if (k == "prim::dtype" && node.numInputs() == 1) {
    if (auto code = torchScalarTypeOf(dtypeOf(node.input(0))); code && node.input(0)->type().isTensor()) return Scalar(*code);
    return std::nullopt;
  }
  if (k == "aten::is_floating_point" && node.numInputs() == 1) {
    const DType dt = dtypeOf(node.input(0));
    if (dt == DType::Undefined || !node.input(0)->type().isTensor()) return std::nullopt;
    return Scalar(isFloatingPoint(dt));
  }
  if ((k == "aten::__is__" || k == "aten::__isnot__") && node.numInputs() == 2) {
    const Value* a = node.input(0);
    const Value* b = node.input(1);
    std::optional<bool> same;
    const bool aNone = isNone(a), bNone = isNone(b);
    if (a == b || (aNone && bNone)) same = true;
    else if ((aNone && definitelyNotNone(b)) || (bNone && definitelyNotNone(a))) same = false;
    if (!same) return std::nullopt;
    return Scalar(k == "aten::__is__" ? *same : !*same);
  }
  if (k == "aten::len" && node.numInputs() == 1) {
    if (auto s = in(0)) {
      if (auto* str = std::get_if<std::string>(&*s)) return Scalar(static_cast<int64_t>(str->size()));
      return std::nullopt;
    }
    if (auto l = staticList(node.input(0))) return Scalar(static_cast<int64_t>(l->size()));
    const Node* p = node.input(0)->producer();
    if (p != nullptr && p->kind() == "prim::ListConstruct") return Scalar(static_cast<int64_t>(p->numInputs()));
    if (p != nullptr && p->kind() == "aten::size" && p->numInputs() == 1)
      if (auto r = rankOf(p->input(0)); r && p->input(0)->type().isTensor()) return Scalar(*r);
    return std::nullopt;
  }
  if ((k == "aten::all" || k == "aten::any") && node.numInputs() == 1) {
    auto l = staticList(node.input(0));
    if (!l) return std::nullopt;
    bool all = true, any = false;
    for (const Scalar& s : *l) {
      auto n = asNumber(s);
      if (!n) return std::nullopt;
      all = all && *n != 0.0;
      any = any || *n != 0.0;
    }
    return Scalar(k == "aten::all" ? all : any);
  }
  if (k == "aten::format" && node.numInputs() >= 1) {
    auto f = in(0);
    if (!f || !std::holds_alternative<std::string>(*f)) return std::nullopt;
    std::string fmt = std::get<std::string>(*f), out;
    size_t arg = 1;
    for (size_t i = 0; i < fmt.size(); ++i) {
      if (fmt[i] == '{' && i + 1 < fmt.size() && fmt[i + 1] == '}') {
        auto a = in(arg++);
        if (!a) {
          // Non-constant arguments (a dtype, a size): the text is unknown but never empty.
          out += "?";
        } else {
          out += toText(*a);
        }
        ++i;
        continue;
      }
      out += fmt[i];
    }
    return Scalar(out);
  }

  // The rest needs every input static.
  std::vector<Scalar> args;
  for (size_t i = 0; i < node.numInputs(); ++i) {
    auto s = in(i);
    if (!s) return std::nullopt;
    args.push_back(*s);
  }
  const size_t n = args.size();
  if (k == "aten::str" && n == 1) return Scalar(toText(args[0]));
  if (k == "aten::find" && n >= 2) {
    auto* s = std::get_if<std::string>(&args[0]);
    auto* sub = std::get_if<std::string>(&args[1]);
    if (s == nullptr || sub == nullptr) return std::nullopt;
    const int64_t start = n > 2 ? asInt(args[2]).value_or(0) : 0;
    const int64_t end = n > 3 ? asInt(args[3]).value_or(-1) : -1;
    return Scalar(stringFind(*s, *sub, start, end));
  }
  if (k == "aten::__contains__" && n == 2) {
    auto* s = std::get_if<std::string>(&args[0]);
    auto* sub = std::get_if<std::string>(&args[1]);
    if (s == nullptr || sub == nullptr) return std::nullopt;
    return Scalar(s->find(*sub) != std::string::npos);
  }
  if (k == "aten::__not__" && n == 1) {
    auto v = asNumber(args[0]);
    if (!v) return std::nullopt;
    return Scalar(*v == 0.0);
  }
  if ((k == "aten::__and__" || k == "aten::__or__" || k == "aten::__xor__") && n == 2) {
    auto* a = std::get_if<bool>(&args[0]);
    auto* b = std::get_if<bool>(&args[1]);
    if (a == nullptr || b == nullptr) return std::nullopt;
    if (k == "aten::__and__") return Scalar(*a && *b);
    if (k == "aten::__or__") return Scalar(*a || *b);
    return Scalar(*a != *b);
  }
  if ((k == "aten::eq" || k == "aten::ne") && n == 2) {
    bool equal;
    if (std::holds_alternative<std::string>(args[0]) || std::holds_alternative<std::string>(args[1])) {
      equal = args[0] == args[1];
    } else if (std::holds_alternative<NoneValue>(args[0]) || std::holds_alternative<NoneValue>(args[1])) {
      equal = std::holds_alternative<NoneValue>(args[0]) && std::holds_alternative<NoneValue>(args[1]);
    } else {
      equal = *asNumber(args[0]) == *asNumber(args[1]);
    }
    return Scalar(k == "aten::eq" ? equal : !equal);
  }
  if ((k == "aten::lt" || k == "aten::le" || k == "aten::gt" || k == "aten::ge") && n == 2) {
    auto a = asNumber(args[0]);
    auto b = asNumber(args[1]);
    if (!a || !b) return std::nullopt;
    if (k == "aten::lt") return Scalar(*a < *b);
    if (k == "aten::le") return Scalar(*a <= *b);
    if (k == "aten::gt") return Scalar(*a > *b);
    return Scalar(*a >= *b);
  }
  if ((k == "aten::add" || k == "aten::sub" || k == "aten::mul" || k == "aten::floordiv") && n == 2) {
    if (k == "aten::add" && std::holds_alternative<std::string>(args[0]) && std::holds_alternative<std::string>(args[1]))
      return Scalar(std::get<std::string>(args[0]) + std::get<std::string>(args[1]));
    auto ai = asInt(args[0]), bi = asInt(args[1]);
    const bool ints = ai && bi && !std::holds_alternative<bool>(args[0]) && !std::holds_alternative<bool>(args[1]);
    if (ints) {
      if (k == "aten::add") return Scalar(*ai + *bi);
      if (k == "aten::sub") return Scalar(*ai - *bi);
      if (k == "aten::mul") return Scalar(*ai * *bi);
      if (*bi == 0) return std::nullopt;
      int64_t q = *ai / *bi;
      if ((*ai % *bi != 0) && ((*ai < 0) != (*bi < 0))) --q;
      return Scalar(q);
    }
    return std::nullopt;  // float arithmetic stays for the converters (they fold it too)
  }
  if (k == "aten::neg" && n == 1) {
    if (auto* i = std::get_if<int64_t>(&args[0])) return Scalar(-*i);
    if (auto* d = std::get_if<double>(&args[0])) return Scalar(-*d);
    return std::nullopt;
  }
  if (k == "aten::Bool" && n == 1 && node.output()->type().kind() == Type::Kind::Bool) {
    auto v = asNumber(args[0]);
    if (!v) return std::nullopt;
    return Scalar(*v != 0.0);
  }
  if (k == "aten::Int" && n == 1 && node.output()->type().kind() == Type::Kind::Int) {
    auto v = asNumber(args[0]);
    if (!v) return std::nullopt;
    return Scalar(static_cast<int64_t>(*v));
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------
// Inlining the taken branch of a prim::If
// ---------------------------------------------------------------------------------------
using ValueMap = std::unordered_map<const Value*, Value*>;

Value* mapped(const ValueMap& map, Value* v) {
  auto it = map.find(v);
  return it == map.end() ? v : it->second;  // captured from an enclosing graph
}

void cloneNodesInto(Graph& target, const Graph& source, ValueMap& map, Node* before) {
  for (Node* node : source.nodes()) {
    std::vector<Value*> inputs;
    for (Value* in : node->inputs()) inputs.push_back(mapped(map, in));
    Node* copy = before != nullptr ? target.insertNodeBefore(before, node->kind(), inputs, 0)
                                   : target.appendNode(node->kind(), inputs, 0);
    for (Value* out : node->outputs()) map[out] = copy->addOutput(out->type(), target.uniqueName(out->name()));
    for (const auto& [name, attribute] : node->attributes()) {
      const auto* sub = std::get_if<GraphPtr>(&attribute);
      if (sub == nullptr || *sub == nullptr) {
        copy->setAttribute(name, attribute);
        continue;
      }
      GraphPtr body = target.createSubgraph((*sub)->name());
      for (Value* in : (*sub)->inputs()) map[in] = body->addInput(in->type(), target.uniqueName(in->name()));
      cloneNodesInto(*body, **sub, map, nullptr);
      for (Value* out : (*sub)->outputs()) body->addOutput(mapped(map, out));
      copy->setAttribute(name, std::move(body));
    }
    copy->setProvenance(node->provenance());
  }
}

// Inlines the branch of `ifNode` selected by `condition`. False when the outputs cannot be
// rewired (e.g. a root graph output that would become a graph input).
Expected<bool> inlineBranch(Graph& graph, Node* ifNode, bool condition) {
  GraphPtr branch = ifNode->graphAttr(condition ? "then" : "else");
  if (branch == nullptr || branch->outputs().size() != ifNode->numOutputs()) return false;
  for (size_t i = 0; i < ifNode->numOutputs(); ++i) {
    Value* result = branch->outputs()[i];
    // Values produced inside the branch are cloned (fresh values, always replaceable);
    // values from outside must pass the graph's checks as they are.
    const bool inside = result->owningGraph() == branch.get() ||
                        (result->producer() != nullptr && result->producer()->owningGraph() == branch.get());
    if (!inside && !graph.canReplaceAllUsesWith(ifNode->output(i), result)) return false;
  }
  ValueMap map;
  cloneNodesInto(graph, *branch, map, ifNode);
  for (size_t i = 0; i < ifNode->numOutputs(); ++i) {
    Value* replacement = mapped(map, branch->outputs()[i]);
    Type oldType = ifNode->output(i)->type();
    if (replacement->type().isUnknown() || (replacement->type().isTensor() && !replacement->type().hasRank() &&
                                            oldType.isTensor() && oldType.hasRank()))
      replacement->setType(oldType);
    TP_RETURN_IF_ERROR(graph.replaceAllUsesWith(ifNode->output(i), replacement));
  }
  TP_RETURN_IF_ERROR(graph.eraseNode(ifNode));
  return true;
}

// Ops whose first output has the type of their first input. Scripted fast paths (the
// fused transformer ops) are never run by the importer's shape inference, so their
// results arrive untyped; a rank is what `x.dim() == 3` checks after them need.
bool keepsInputType(const std::string& k) {
  static const char* const kinds[] = {
      "aten::_transformer_encoder_layer_fwd", "aten::_native_multi_head_attention", "aten::layer_norm",
      "aten::dropout", "aten::relu", "aten::gelu", "aten::contiguous", "prim::unchecked_cast", "aten::clone",
      "aten::detach", "aten::to_padded_tensor", "aten::_nested_tensor_from_mask"};
  return std::find(std::begin(kinds), std::end(kinds), k) != std::end(kinds);
}

bool propagateType(Node& node) {
  if (node.numInputs() == 0 || node.numOutputs() == 0 || !keepsInputType(node.kind())) return false;
  const Type& in = node.input(0)->type();
  Value* out = node.output(0);
  const Type& current = out->type();
  const bool outKnown = current.isTensor() && current.hasRank();
  if (outKnown || !in.isTensor() || !in.hasRank()) return false;
  out->setType(in);
  return true;
}

Expected<size_t> simplifyOnce(Graph& graph) {
  size_t changed = 0;
  for (Node* node : graph.nodeSnapshot()) {
    if (propagateType(*node)) ++changed;
    for (const auto& [name, attribute] : node->attributes()) {
      if (const auto* g = std::get_if<GraphPtr>(&attribute); g != nullptr && *g != nullptr) {
        TP_ASSIGN_OR_RETURN(size_t inner, simplifyOnce(**g));
        changed += inner;
      }
    }
    if (node->isConstant()) continue;
    if (node->kind() == "prim::If" && node->numInputs() == 1) {
      if (auto cond = scalarOf(node->input(0))) {
        if (auto c = asNumber(*cond)) {
          TP_ASSIGN_OR_RETURN(bool inlined, inlineBranch(graph, node, *c != 0.0));
          if (inlined) ++changed;
        }
      }
      continue;
    }
    auto folded = fold(*node);
    if (!folded) continue;
    Value* out = node->output();
    Value* constant = makeConstant(graph, node, *folded, out->type());
    if (!graph.canReplaceAllUsesWith(out, constant)) continue;
    TP_RETURN_IF_ERROR(graph.replaceAllUsesWith(out, constant));
    if (!out->hasUses() && !out->isGraphOutput()) TP_RETURN_IF_ERROR(graph.eraseNode(node));
    ++changed;
  }
  return changed;
}

// Lists built and appended to in straight-line code (scripted DenseNet: `features =
// [x]; features.append(new)`), read by cat / len / ...: each reader gets a ListConstruct
// of the elements at that point, and the appends disappear. Only when every use is in the
// list's own graph and the appends' results are unused.
Expected<size_t> functionalizeListAppends(Graph& graph) {
  size_t changed = 0;
  std::unordered_map<const Node*, size_t> position;
  size_t index = 0;
  for (Node* node : graph.nodes()) position[node] = index++;
  std::unordered_set<const Node*> erased;  // appends removed below, still in the snapshot
  for (Node* node : graph.nodeSnapshot()) {
    if (erased.count(node) != 0) continue;
    for (const auto& [name, attribute] : node->attributes())
      if (const auto* g = std::get_if<GraphPtr>(&attribute); g != nullptr && *g != nullptr) {
        TP_ASSIGN_OR_RETURN(size_t inner, functionalizeListAppends(**g));
        changed += inner;
      }
    if (node->kind() != "prim::ListConstruct" || node->output()->isGraphOutput()) continue;
    Value* list = node->output();
    std::vector<Use> uses = list->uses();
    bool appends = false, eligible = true;
    for (const Use& use : uses) {
      if (use.user->owningGraph() != &graph) eligible = false;
      if (use.user->kind() == "aten::append") {
        appends = true;
        if (use.inputIndex != 0 || use.user->output()->hasUses() || use.user->output()->isGraphOutput()) eligible = false;
      } else if (use.user->opName().size() > 1 && use.user->opName().back() == '_' &&
                 use.user->opName().substr(0, 2) != "__") {
        eligible = false;  // another in-place op on the list
      } else if (use.user->kind() == "aten::insert" || use.user->kind() == "aten::pop" ||
                 use.user->kind() == "aten::extend" || use.user->kind() == "aten::_set_item" ||
                 use.user->kind() == "aten::clear" || use.user->kind() == "prim::Loop" || use.user->kind() == "prim::If") {
        eligible = false;
      }
    }
    if (!appends || !eligible) continue;
    std::sort(uses.begin(), uses.end(), [&](const Use& a, const Use& b) { return position[a.user] < position[b.user]; });
    std::vector<Value*> elements(node->inputs().begin(), node->inputs().end());
    for (const Use& use : uses) {
      Node* user = use.user;
      if (user->kind() == "aten::append") {
        elements.push_back(user->input(1));
        erased.insert(user);
        TP_RETURN_IF_ERROR(graph.eraseNode(user));
        continue;
      }
      Node* snapshot = graph.insertNodeBefore(user, "prim::ListConstruct", elements, 1);
      snapshot->output()->setType(list->type());
      snapshot->setProvenance(node->provenance());
      user->setInput(use.inputIndex, snapshot->output());
    }
    ++changed;
  }
  return changed;
}

}  // namespace

Expected<size_t> simplifyStaticScripting(Graph& graph) {
  size_t total = 0;
  for (int round = 0; round < 64; ++round) {
    TP_ASSIGN_OR_RETURN(size_t appends, functionalizeListAppends(graph));
    total += appends;
    TP_ASSIGN_OR_RETURN(size_t changed, simplifyOnce(graph));
    if (changed == 0) break;
    total += changed;
  }
  return total;
}

}  // namespace torchport::onnxplugin
