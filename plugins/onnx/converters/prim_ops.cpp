// TorchScript structure: lists, tuples, scalar <-> tensor conversions, None tests, device
// and dtype queries, and control flow (prim::If -> onnx::If, prim::Loop -> onnx::Loop).
//
// Lists of ints become 1-D i64 tensors (constants when static, Concat of Unsqueeze
// otherwise); lists and tuples of tensors become onnx::SequenceConstruct, which consumers
// (cat, stack, ListUnpack, TupleUnpack, __getitem__) read through, so the sequence node
// only survives when the list really is dynamic.
#include "converters.h"

namespace torchport::onnxplugin {
namespace {

bool elementIsTensor(const Type& listType) {
  if (listType.elements().empty()) return false;
  const Type& e = listType.elements()[0];
  return e.isTensor() || (e.kind() == Type::Kind::Optional && !e.elements().empty() && e.elements()[0].isTensor());
}

bool looksLikeInt(const Value* v) {
  if (staticInt(v) && staticTensor(v) == nullptr) return true;
  const Type& t = v->type();
  if (t.kind() == Type::Kind::Int || t.kind() == Type::Kind::Bool) return true;
  return t.isTensor() && t.hasRank() && t.rank() == 0 && (t.dtype() == DType::I64 || t.dtype() == DType::Bool);
}

bool looksLikeFloat(const Value* v) {
  if (isStaticScalar(v) && !staticInt(v)) return true;
  const Type& t = v->type();
  return t.kind() == Type::Kind::Float || (t.isTensor() && t.hasRank() && t.rank() == 0 && isFloatingPoint(t.dtype()));
}

// prim::ListConstruct(elements...)
Status lowerListConstruct(Lowering& l) {
  const Type& listType = l.output()->type();
  const size_t n = l.numInputs();
  bool tensorList = elementIsTensor(listType);
  bool intList = !listType.elements().empty() &&
                 (listType.elements()[0].kind() == Type::Kind::Int || listType.elements()[0].kind() == Type::Kind::Bool);
  bool floatList = !listType.elements().empty() && listType.elements()[0].kind() == Type::Kind::Float;
  if (!tensorList && !intList && !floatList) {
    bool allInt = n > 0, allFloat = n > 0;
    for (Value* v : l.node().inputs()) {
      allInt = allInt && looksLikeInt(v);
      allFloat = allFloat && (looksLikeFloat(v) || looksLikeInt(v));
    }
    intList = allInt;
    floatList = !allInt && allFloat;
    tensorList = !intList && !floatList;
  }
  if (tensorList) {
    if (n == 0) {
      l.setOutput(0, l.op("SequenceEmpty", {}).type(listType));
      return Status::ok();
    }
    std::vector<Value*> elements(l.node().inputs().begin(), l.node().inputs().end());
    l.setOutput(0, l.op("SequenceConstruct", std::span<Value* const>(elements)).type(listType));
    return Status::ok();
  }
  if (floatList) {
    std::vector<double> values;
    bool allStatic = true;
    for (Value* v : l.node().inputs()) {
      auto f = staticFloat(v);
      if (!f || !isStaticScalar(v)) allStatic = false;
      else values.push_back(*f);
    }
    if (allStatic) {
      // A constant float list stays a dialect-neutral constant (read by resize scales...).
      Node* c = l.emitRaw(kConstKind, {}, 1);
      c->setAttribute("value", values);
      c->output()->setType(listType.isUnknown() ? Type::list(Type::scalar(Type::Kind::Float)) : listType);
      l.setOutput(0, c->output());
      return Status::ok();
    }
    std::vector<Value*> parts;
    for (Value* v : l.node().inputs()) {
      TP_TRY(Value * f, l.castTo(v, DType::F32));
      parts.push_back(l.unsqueeze(f, {0}));
    }
    l.setOutput(0, l.op("Concat", std::span<Value* const>(parts)).attr("axis", 0).type(tensorType(DType::F32, knownDims({static_cast<int64_t>(n)}))));
    return Status::ok();
  }
  // int (or bool) list -> 1-D i64
  std::vector<Value*> parts;
  std::vector<int64_t> pending;
  for (Value* v : l.node().inputs()) {
    if (auto i = staticInt(v); i && staticTensor(v) == nullptr) {
      parts.push_back(nullptr);
      pending.push_back(*i);
      continue;
    }
    TP_TRY(Value * s, l.asI64Scalar(v));
    parts.push_back(l.unsqueeze(s, {0}));
  }
  std::vector<Value*> lists;
  std::vector<int64_t> run;
  size_t next = 0;
  for (Value* p : parts) {
    if (p == nullptr) {
      run.push_back(pending[next++]);
      continue;
    }
    if (!run.empty()) lists.push_back(l.i64s(run));
    run.clear();
    lists.push_back(p);
  }
  if (!run.empty() || lists.empty()) lists.push_back(l.i64s(run));
  Value* list = lists.size() == 1 ? lists[0] : l.concatLists(lists);
  list->setType(tensorType(DType::I64, knownDims({static_cast<int64_t>(n)})));
  l.setOutput(0, list);
  return Status::ok();
}

// prim::ListUnpack(list) / prim::TupleUnpack(tuple)
Status lowerUnpack(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  Value* list = l.input(0);
  const size_t n = l.node().numOutputs();
  const Node* p = list->producer();
  if (p != nullptr && p->kind() == "onnx::SequenceConstruct") {
    if (p->numInputs() != n)
      return l.invalid("unpacking " + std::to_string(p->numInputs()) + " values into " + std::to_string(n));
    for (size_t i = 0; i < n; ++i) l.passThrough(i, p->input(i));
    return Status::ok();
  }
  if (auto ints = staticInts(list); ints && staticTensor(list) == nullptr) {
    if (ints->size() != n) return l.invalid("unpacking a list of " + std::to_string(ints->size()) + " ints into " + std::to_string(n));
    for (size_t i = 0; i < n; ++i) l.setOutput(i, l.staticIntValue((*ints)[i]));
    return Status::ok();
  }
  if (l.node().kind() == "prim::TupleUnpack") return l.unsupported("unpacking a tuple that is not built in this graph");
  const Type& t = list->type();
  const bool tensorElements = t.kind() == Type::Kind::List ? elementIsTensor(t) : l.output(0)->type().isTensor();
  for (size_t i = 0; i < n; ++i) {
    Value* index = l.i64(static_cast<int64_t>(i));
    if (tensorElements) {
      l.setOutput(i, l.op("SequenceAt", {list, index}));
    } else {
      // An int list as a 1-D tensor (e.g. x.size()).
      TP_TRY(Value * listTensor, l.asTensor(list));
      const DType dt = dtypeOf(listTensor) == DType::Undefined ? DType::I64 : dtypeOf(listTensor);
      l.setOutput(i, l.op("Gather", {listTensor, index}).attr("axis", 0).type(tensorType(dt, std::vector<Dim>{})));
    }
  }
  return Status::ok();
}

Status lowerTupleConstruct(Lowering& l) {
  std::vector<Value*> elements(l.node().inputs().begin(), l.node().inputs().end());
  l.setOutput(0, l.op("SequenceConstruct", std::span<Value* const>(elements)).type(l.output()->type()));
  return Status::ok();
}

Status lowerTupleIndex(Lowering& l) {  // prim::TupleIndex(tuple, index)
  TP_RETURN_IF_ERROR(l.needInputs(2));
  const Node* p = l.input(0)->producer();
  auto index = staticInt(l.input(1));
  if (p == nullptr || p->kind() != "onnx::SequenceConstruct" || !index)
    return l.unsupported("indexing a tuple that is not built in this graph or with a dynamic index");
  int64_t i = *index < 0 ? *index + static_cast<int64_t>(p->numInputs()) : *index;
  if (i < 0 || i >= static_cast<int64_t>(p->numInputs())) return l.invalid("tuple index out of range");
  l.passThrough(0, p->input(static_cast<size_t>(i)));
  return Status::ok();
}

// ---------------------------------------------------------------------------------------
// Scalars and tensors
// ---------------------------------------------------------------------------------------
Status lowerNumToTensor(Lowering& l) {  // prim::NumToTensor(Scalar) -> 0-d tensor
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * t, l.asTensor(l.input(0)));
  l.passThrough(0, t);
  return Status::ok();
}

Status scalarFromTensor(Lowering& l, DType dtype) {  // aten::Int / Float / Bool (tensor or scalar)
  TP_RETURN_IF_ERROR(l.needInputs(1));
  Value* v = l.input(0);
  if (isStaticScalar(v) || (staticTensor(v) && staticTensor(v)->hasData() && staticTensor(v)->numel() == 1)) {
    if (dtype == DType::I64) l.setOutput(0, l.staticIntValue(static_cast<int64_t>(*staticFloat(v))));
    else if (dtype == DType::Bool) l.setOutput(0, l.staticBoolValue(*staticFloat(v) != 0.0));
    else l.setOutput(0, l.staticFloatValue(*staticFloat(v)));
    return Status::ok();
  }
  TP_TRY(Value * t, l.asTensor(v));
  if (auto r = rankOf(t); r && *r > 0) t = l.reshape(t, l.i64s({}));  // one-element tensor -> 0-d
  else if (!r) t = l.reshape(t, l.i64s({}));
  if (dtypeOf(t) == dtype) {
    l.passThrough(0, t);
    return Status::ok();
  }
  TP_TRY(Value * c, l.castTo(t, dtype));
  c->setType(tensorType(dtype, std::vector<Dim>{}));
  l.setOutput(0, c);
  return Status::ok();
}
Status lowerInt(Lowering& l) { return scalarFromTensor(l, DType::I64); }
Status lowerFloat(Lowering& l) { return scalarFromTensor(l, DType::F32); }
Status lowerBool(Lowering& l) { return scalarFromTensor(l, DType::Bool); }

Status lowerScalarImplicit(Lowering& l) {  // aten::ScalarImplicit / aten::item: 0-d stays
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * t, l.asTensor(l.input(0)));
  if (auto r = rankOf(t); !r || *r > 0) t = l.reshape(t, l.i64s({}));
  l.passThrough(0, t);
  return Status::ok();
}

// aten::__is__ / __isnot__: None tests are static once optional values are known.
Status lowerIs(Lowering& l, bool negate) {
  TP_RETURN_IF_ERROR(l.needInputs(2));
  const bool aNone = isNone(l.input(0)), bNone = isNone(l.input(1));
  auto definitelyValue = [](const Value* v) {
    const Type& t = v->type();
    return t.isTensor() || t.kind() == Type::Kind::Int || t.kind() == Type::Kind::Float ||
           t.kind() == Type::Kind::Bool || t.kind() == Type::Kind::List || isStaticScalar(v) || staticTensor(v) != nullptr;
  };
  bool result;
  if (aNone && bNone) result = true;
  else if ((aNone && definitelyValue(l.input(1))) || (bNone && definitelyValue(l.input(0)))) result = false;
  else if (l.input(0) == l.input(1)) result = true;
  else return l.unsupported("identity test between values that may or may not be None at run time");
  l.setOutput(0, l.staticBoolValue(negate ? !result : result));
  return Status::ok();
}
Status lowerIsOp(Lowering& l) { return lowerIs(l, false); }
Status lowerIsNotOp(Lowering& l) { return lowerIs(l, true); }

Status lowerUncheckedCast(Lowering& l) {  // prim::unchecked_cast(x): refines Optional[T] to T
  TP_RETURN_IF_ERROR(l.needInputs(1));
  l.passThrough(0, l.input(0));
  return Status::ok();
}

Status lowerDtypeQuery(Lowering& l) {  // prim::dtype(x) -> int
  TP_RETURN_IF_ERROR(l.needInputs(1));
  const DType dt = dtypeOf(l.input(0));
  auto code = torchScalarTypeOf(dt);
  if (!code) return l.unsupported("prim::dtype of a tensor whose dtype is unknown; declare input dtypes");
  l.setOutput(0, l.staticIntValue(*code));
  return Status::ok();
}

Status lowerDeviceQuery(Lowering& l) {  // prim::device(x): ONNX graphs are device-agnostic
  Node* c = l.emitRaw(kConstKind, {}, 1);
  c->setAttribute("value", std::string("cpu"));
  c->output()->setType(Type::scalar(Type::Kind::Device));
  l.setOutput(0, c->output());
  return Status::ok();
}

// Flags that are constant for an exported inference graph.
Status lowerFalseFlag(Lowering& l) {
  l.setOutput(0, l.staticBoolValue(false));
  return Status::ok();
}

Status lowerIsFloatingPoint(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  const DType dt = dtypeOf(l.input(0));
  if (dt == DType::Undefined) return l.unsupported("is_floating_point on a tensor of unknown dtype");
  l.setOutput(0, l.staticBoolValue(isFloatingPoint(dt)));
  return Status::ok();
}

Status lowerRaise(Lowering& l) {
  return l.unsupported("an exception raised under a data-dependent condition cannot be expressed in ONNX; "
                       "make the condition static (declare input shapes) or remove the check from the model");
}

// ---------------------------------------------------------------------------------------
// Control flow
// ---------------------------------------------------------------------------------------
// ONNX subgraph outputs must be produced inside the subgraph: outer values, inputs and
// constants (which become main-graph initializers) go through an Identity.
void produceOutputsInside(Graph& body) {
  for (size_t i = 0; i < body.outputs().size(); ++i) {
    Value* v = body.outputs()[i];
    const Node* p = v->producer();
    const bool inside = p != nullptr && p->owningGraph() == &body && !p->isConstant();
    if (inside) continue;
    Value* in[] = {v};
    Node* identity = body.appendNode("onnx::Identity", in, 1);
    identity->output()->setType(v->type());
    body.setOutput(i, identity->output());
  }
}

Type mergeTypes(const Type& a, const Type& b) {
  if (a.isUnknown()) return b;
  if (b.isUnknown() || a == b) return a;
  if (!a.isTensor() || !b.isTensor()) return a;
  const DType dt = a.dtype() != DType::Undefined ? a.dtype() : b.dtype();
  if (!a.hasRank() || !b.hasRank() || a.rank() != b.rank()) return Type::tensor(dt);
  std::vector<Dim> dims;
  for (size_t i = 0; i < a.rank(); ++i) dims.push_back((*a.shape())[i] == (*b.shape())[i] ? (*a.shape())[i] : Dim::unknown());
  return Type::tensor(dt, dims);
}

// Converted values flowing out of ONNX subgraphs must be tensors: scalar constants and
// static ints become 0-d tensors.
Status tensorizeOutputs(Lowering& l, Graph& body) {
  for (size_t i = 0; i < body.outputs().size(); ++i) {
    Value* v = body.outputs()[i];
    if (constantProducer(v) == nullptr || staticTensor(v) != nullptr) continue;
    // Materialize the constant as a typed tensor inside the body.
    const Node* c = constantProducer(v);
    const Attribute* p = c->findAttribute("value");
    if (p == nullptr) return l.unsupported("a control-flow body returns None");
    Tensor t;
    if (auto* iv = std::get_if<int64_t>(p)) {
      t = v->type().kind() == Type::Kind::Bool
              ? Tensor::fromVector(DType::Bool, {}, std::vector<uint8_t>{static_cast<uint8_t>(*iv != 0)})
              : Tensor::fromVector(DType::I64, {}, std::vector<int64_t>{*iv});
    } else if (auto* dv = std::get_if<double>(p)) {
      t = Tensor::fromVector(DType::F32, {}, std::vector<float>{static_cast<float>(*dv)});
    } else if (auto* lv = std::get_if<std::vector<int64_t>>(p)) {
      t = Tensor::fromVector(DType::I64, {static_cast<int64_t>(lv->size())}, *lv);
    } else {
      return l.unsupported("a control-flow body returns a constant that has no tensor form");
    }
    Node* node = body.appendNode("onnx::Constant", {}, 1);
    Type type = tensorType(t.dtype(), knownDims(t.shape()));
    node->setAttribute("value", std::move(t));
    node->output()->setType(std::move(type));
    body.setOutput(i, node->output());
  }
  return Status::ok();
}

// prim::If(cond) {then, else} -> onnx::If(cond) {then_branch, else_branch}
Status lowerIf(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  GraphPtr thenBody = l.node().graphAttr("then");
  GraphPtr elseBody = l.node().graphAttr("else");
  if (thenBody == nullptr || elseBody == nullptr) return l.invalid("prim::If without 'then' and 'else' bodies");
  const size_t n = l.node().numOutputs();
  if (thenBody->outputs().size() != n || elseBody->outputs().size() != n)
    return l.invalid("prim::If bodies must return as many values as the node has outputs");
  if (n == 0) {
    // No results: ONNX has no side effects to keep, so the whole If is dead.
    return Status::ok();
  }
  TP_TRY(Value * cond, l.castTo(l.input(0), DType::Bool));
  TP_RETURN_IF_ERROR(tensorizeOutputs(l, *thenBody));
  TP_RETURN_IF_ERROR(tensorizeOutputs(l, *elseBody));
  produceOutputsInside(*thenBody);
  produceOutputsInside(*elseBody);
  OpBuilder onnxIf = l.op("If", {cond}, n).attr("then_branch", thenBody).attr("else_branch", elseBody);
  for (size_t i = 0; i < n; ++i) {
    onnxIf.type(mergeTypes(thenBody->outputs()[i]->type(), elseBody->outputs()[i]->type()), i);
    l.setOutput(i, onnxIf.out(i));
  }
  return Status::ok();
}

// prim::Loop(max_trip, cond, carried...) {body(iter, carried...) -> (cond, carried...)}
//   -> onnx::Loop(M, cond, carried...) {body(iter, cond, carried...) -> (cond, carried...)}
Status lowerLoop(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(2));
  GraphPtr body = l.node().graphAttr("body");
  if (body == nullptr) return l.invalid("prim::Loop without a 'body'");
  const size_t carried = l.numInputs() - 2;
  if (body->inputs().size() != carried + 1 || body->outputs().size() != carried + 1 || l.node().numOutputs() != carried)
    return l.invalid("prim::Loop body signature does not match its carried values");
  TP_TRY(Value * maxTrip, l.asI64Scalar(l.input(0)));
  TP_TRY(Value * cond, l.castTo(l.input(1), DType::Bool));
  std::vector<Value*> inputs{maxTrip, cond};
  for (size_t i = 0; i < carried; ++i) {
    TP_TRY(Value * v, l.asTensor(l.input(2 + i)));
    inputs.push_back(v);
  }

  // Rebuild the body signature: (iter, cond, carried...).
  std::vector<Value*> oldInputs(body->inputs().begin(), body->inputs().end());
  // The new inputs take over the old names (the old inputs are renamed out of the way).
  std::vector<std::string> names;
  for (Value* old : oldInputs) {
    names.push_back(old->name());
    TP_RETURN_IF_ERROR(body->renameValue(old, body->uniqueName(old->name() + ".prim")));
  }
  std::vector<Value*> newInputs;
  newInputs.push_back(body->addInput(tensorType(DType::I64, std::vector<Dim>{}), names[0]));
  newInputs.push_back(body->addInput(tensorType(DType::Bool, std::vector<Dim>{}), body->uniqueName("cond")));
  for (size_t i = 0; i < carried; ++i) {
    Type t = inputs[2 + i]->type();
    if (!t.isTensor()) t = tensorType(dtypeOf(inputs[2 + i]), shapeOf(inputs[2 + i]));
    newInputs.push_back(body->addInput(t, names[1 + i]));
  }
  auto replace = [&](Value* from, Value* to) -> Status {
    // Outputs that are the old inputs themselves are re-pointed directly.
    for (size_t o = 0; o < body->outputs().size(); ++o)
      if (body->outputs()[o] == from) body->setOutput(o, to);
    return body->replaceAllUsesWith(from, to);
  };
  TP_RETURN_IF_ERROR(replace(oldInputs[0], newInputs[0]));
  for (size_t i = 0; i < carried; ++i) TP_RETURN_IF_ERROR(replace(oldInputs[1 + i], newInputs[2 + i]));
  for (size_t i = 0; i < oldInputs.size(); ++i) TP_RETURN_IF_ERROR(body->removeInput(0));
  TP_RETURN_IF_ERROR(tensorizeOutputs(l, *body));
  produceOutputsInside(*body);

  OpBuilder loop = l.op("Loop", std::span<Value* const>(inputs), carried).attr("body", body);
  for (size_t i = 0; i < carried; ++i) {
    loop.type(mergeTypes(newInputs[2 + i]->type(), body->outputs()[1 + i]->type()), i);
    l.setOutput(i, loop.out(i));
  }
  return Status::ok();
}

constexpr ConverterSpec kTable[] = {
    {"prim::ListConstruct", kMinOpset, kMaxOpset, "int lists -> 1-D i64 (Concat of Unsqueeze if dynamic); tensor lists -> SequenceConstruct", lowerListConstruct},
    {"prim::ListUnpack", kMinOpset, kMaxOpset, "elements of a known list, Gather (int lists) or SequenceAt", lowerUnpack},
    {"prim::TupleConstruct", kMinOpset, kMaxOpset, "SequenceConstruct (read through by unpacking)", lowerTupleConstruct},
    {"prim::TupleUnpack", kMinOpset, kMaxOpset, "elements of a tuple built in the graph", lowerUnpack},
    {"prim::TupleIndex", kMinOpset, kMaxOpset, "element of a tuple built in the graph", lowerTupleIndex},
    {"prim::NumToTensor", kMinOpset, kMaxOpset, "scalar as a 0-d tensor (ints are 0-d i64 already)", lowerNumToTensor},
    {"aten::Int", kMinOpset, kMaxOpset, "Cast to i64, 0-d", lowerInt},
    {"aten::Float", kMinOpset, kMaxOpset, "Cast to f32, 0-d", lowerFloat},
    {"aten::Bool", kMinOpset, kMaxOpset, "Cast to bool, 0-d", lowerBool},
    {"aten::ScalarImplicit", kMinOpset, kMaxOpset, "0-d tensor as a scalar (identity)", lowerScalarImplicit},
    {"aten::item", kMinOpset, kMaxOpset, "one-element tensor as a 0-d tensor", lowerScalarImplicit},
    {"aten::__is__", kMinOpset, kMaxOpset, "static None test", lowerIsOp},
    {"aten::__isnot__", kMinOpset, kMaxOpset, "static None test", lowerIsNotOp},
    {"prim::unchecked_cast", kMinOpset, kMaxOpset, "identity", lowerUncheckedCast},
    {"prim::dtype", kMinOpset, kMaxOpset, "static ScalarType code of a known dtype", lowerDtypeQuery},
    {"prim::device", kMinOpset, kMaxOpset, "constant 'cpu' (ONNX graphs are device-agnostic)", lowerDeviceQuery},
    {"prim::is_cuda", kMinOpset, kMaxOpset, "false", lowerFalseFlag},
    {"prim::is_nested", kMinOpset, kMaxOpset, "false", lowerFalseFlag},
    {"prim::requires_grad", kMinOpset, kMaxOpset, "false (inference graph)", lowerFalseFlag},
    {"aten::is_grad_enabled", kMinOpset, kMaxOpset, "false (inference graph)", lowerFalseFlag},
    {"aten::is_autocast_enabled", kMinOpset, kMaxOpset, "false", lowerFalseFlag},
    {"aten::is_floating_point", kMinOpset, kMaxOpset, "static from the known dtype", lowerIsFloatingPoint},
    {"prim::RaiseException", kMinOpset, kMaxOpset, "refused with an explanation (data-dependent raise)", lowerRaise},
    {"prim::If", kMinOpset, kMaxOpset, "onnx::If (zero-output Ifs are dropped)", lowerIf},
    {"prim::Loop", kMinOpset, kMaxOpset, "onnx::Loop with the body signature (iter, cond, carried...)", lowerLoop},
};

}  // namespace

std::span<const ConverterSpec> primConverters() { return kTable; }

}  // namespace torchport::onnxplugin
