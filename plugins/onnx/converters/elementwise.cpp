// Elementwise arithmetic, comparisons, logic, unary math, where/masked_fill, dtype casts
// and identity-like ops. Arithmetic follows PyTorch's type promotion (c10::result_type):
// Python scalars never widen a tensor of the same category; integer true division yields
// the default float dtype (f32).
#include <cmath>
#include <limits>

#include "converters.h"

namespace torchport::onnxplugin {
namespace {

bool scalarKind(const Type& t) {
  return t.kind() == Type::Kind::Int || t.kind() == Type::Kind::Float || t.kind() == Type::Kind::Bool;
}

Type broadcastType(DType dtype, Value* a, Value* b) { return tensorType(dtype, broadcastShapes(shapeOf(a), shapeOf(b))); }
Type sameTypeOf(Value* v) { return tensorType(dtypeOf(v), shapeOf(v)); }

// Python semantics for ints: floor division and modulo take the sign of the divisor.
int64_t floorDivInt(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}
int64_t floorModInt(int64_t a, int64_t b) {
  int64_t r = a % b;
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

enum class Arith { Add, Sub, Mul, Div, FloorDiv, Remainder, Fmod, Pow, Rsub };

// Folds arithmetic on TorchScript int/float constants (scripted shape code) so that
// later converters keep seeing static values.
std::optional<Value*> foldScalarArith(Lowering& l, Arith kind) {
  // Python-scalar operands only (no tensor payloads): the result is a Python scalar too.
  const Type& outType = l.output()->type();
  if (!(scalarKind(outType) || outType.isUnknown()) || l.numInputs() < 2) return std::nullopt;
  Value* a = l.input(0);
  Value* b = l.input(1);
  if (!isStaticScalar(a) || !isStaticScalar(b)) return std::nullopt;
  if (staticTensor(a) != nullptr || staticTensor(b) != nullptr) return std::nullopt;
  const bool ints = outType.kind() != Type::Kind::Float && dtypeOf(a) != DType::F32 && dtypeOf(b) != DType::F32;
  if (ints) {
    const int64_t x = *staticInt(a), y = *staticInt(b);
    switch (kind) {
      case Arith::Add: return l.staticIntValue(x + y);
      case Arith::Sub: return l.staticIntValue(x - y);
      case Arith::Mul: return l.staticIntValue(x * y);
      case Arith::FloorDiv:
        if (y == 0) return std::nullopt;
        return l.staticIntValue(floorDivInt(x, y));
      case Arith::Remainder:
        if (y == 0) return std::nullopt;
        return l.staticIntValue(floorModInt(x, y));
      case Arith::Div:
        if (y == 0) return std::nullopt;
        return l.staticFloatValue(static_cast<double>(x) / static_cast<double>(y));
      default: return std::nullopt;
    }
  }
  const double x = *staticFloat(a), y = *staticFloat(b);
  switch (kind) {
    case Arith::Add: return l.staticFloatValue(x + y);
    case Arith::Sub: return l.staticFloatValue(x - y);
    case Arith::Mul: return l.staticFloatValue(x * y);
    case Arith::Div: return l.staticFloatValue(x / y);
    case Arith::FloorDiv: return l.staticFloatValue(std::floor(x / y));
    case Arith::Pow: return l.staticFloatValue(std::pow(x, y));
    default: return std::nullopt;
  }
}

// Integer floor division: (a - mod(a, b)) / b is exact, and ONNX Mod(fmod=0) on integers
// follows the divisor's sign like Python.
Value* intFloorDiv(Lowering& l, Value* a, Value* b, DType dt) {
  Type t = broadcastType(dt, a, b);
  Value* mod = l.op("Mod", {a, b}).attr("fmod", 0).type(t);
  Value* exact = l.op("Sub", {a, mod}).type(t);
  return l.op("Div", {exact, b}).type(t);
}

Status lowerArith(Lowering& l, Arith kind) {
  TP_RETURN_IF_ERROR(l.needInputs(2));
  if (auto folded = foldScalarArith(l, kind)) {
    l.setOutput(0, *folded);
    return Status::ok();
  }
  const Type& outType = l.output()->type();
  if (outType.kind() == Type::Kind::List) {
    if (kind == Arith::Mul && (outType.elements().empty() || outType.elements()[0].kind() == Type::Kind::Int)) {
      // aten::mul.left_t(int[] l, int n): repetition, e.g. `[1] * (3 - x.dim())` in torch.stft.
      auto count = staticInt(l.input(1));
      if (!count) return l.unsupported("repeating a list a number of times that is not a constant");
      TP_TRY(Value * list, l.asI64List(l.input(0)));
      std::vector<Value*> copies(static_cast<size_t>(std::max<int64_t>(*count, 0)), list);
      l.setOutput(0, copies.empty() ? l.i64s({}) : l.concatLists(copies));
      return Status::ok();
    }
    if (kind != Arith::Add) return l.unsupported("arithmetic on lists");
    if (!outType.elements().empty() && outType.elements()[0].kind() != Type::Kind::Int)
      return l.unsupported("concatenating lists of " + outType.elements()[0].toString() + " (only int lists are supported)");
    TP_TRY(Value * a, l.asI64List(l.input(0)));
    TP_TRY(Value * b, l.asI64List(l.input(1)));
    l.setOutput(0, l.concatLists({a, b}));
    return Status::ok();
  }
  if (outType.kind() == Type::Kind::String) return l.unsupported("string arithmetic has no ONNX form");

  Value* lhs = l.input(0);
  Value* rhs = l.input(1);
  double alpha = 1.0;
  const bool hasAlpha = (kind == Arith::Add || kind == Arith::Sub || kind == Arith::Rsub) && l.numInputs() >= 3 &&
                        !l.isNoneArg(2);
  if (hasAlpha) {
    TP_TRY(alpha, l.floatArg(2, "alpha"));
  }
  if (kind == Arith::Rsub) std::swap(lhs, rhs);  // rsub(self, other, alpha) = other - alpha * self

  DType dt = DType::Undefined;
  std::vector<Value*> operands{lhs, rhs};
  TP_TRY(std::vector<Value*> promoted, l.promoteOperands(operands, dt));
  lhs = promoted[0];
  rhs = promoted[1];
  Type t = broadcastType(dt, lhs, rhs);

  if (alpha != 1.0) {
    if (dt == DType::Bool) return l.unsupported("alpha != 1 with boolean tensors");
    Value* scale = dt == DType::Undefined ? nullptr : l.scalar(alpha, dt);
    if (scale == nullptr) {
      TP_TRY(scale, l.castLike(l.staticFloatValue(alpha), rhs));
    }
    rhs = l.op("Mul", {rhs, scale}).type(tensorType(dt, shapeOf(rhs)));
  }

  Value* result = nullptr;
  switch (kind) {
    case Arith::Add:
      result = dt == DType::Bool ? l.op("Or", {lhs, rhs}).type(t) : l.op("Add", {lhs, rhs}).type(t);
      break;
    case Arith::Sub:
    case Arith::Rsub:
      if (dt == DType::Bool) return l.unsupported("subtraction of boolean tensors (PyTorch rejects it too)");
      result = l.op("Sub", {lhs, rhs}).type(t);
      break;
    case Arith::Mul:
      result = dt == DType::Bool ? l.op("And", {lhs, rhs}).type(t) : l.op("Mul", {lhs, rhs}).type(t);
      break;
    case Arith::Div: {
      std::string mode = "true";
      if (l.numInputs() >= 3 && !l.isNoneArg(2)) {
        TP_TRY(mode, l.stringArgOr(2, "rounding_mode", "true"));
      }
      if (mode == "true") {
        if (dt == DType::Undefined || !isFloatingPoint(dt)) {
          // True division of integers yields the default float dtype.
          TP_TRY(lhs, l.castTo(lhs, DType::F32));
          TP_TRY(rhs, l.castTo(rhs, DType::F32));
          t = broadcastType(DType::F32, lhs, rhs);
        }
        result = l.op("Div", {lhs, rhs}).type(t);
      } else if (mode == "trunc") {
        Value* q = l.op("Div", {lhs, rhs}).type(t);  // integer Div truncates already
        if (dt == DType::Undefined || isFloatingPoint(dt)) {
          Value* negative = l.op("Less", {q, l.scalar(0, dt == DType::Undefined ? DType::F32 : dt)})
                                .type(tensorType(DType::Bool, shapeOf(q)));
          result = l.op("Where", {negative, l.op("Ceil", {q}).type(t), l.op("Floor", {q}).type(t)}).type(t);
        } else {
          result = q;
        }
      } else if (mode == "floor") {
        if (dt != DType::Undefined && !isFloatingPoint(dt)) result = intFloorDiv(l, lhs, rhs, dt);
        else result = l.op("Floor", {l.op("Div", {lhs, rhs}).type(t)}).type(t);
      } else {
        return l.invalid("unknown rounding_mode '" + mode + "' (expected None, 'trunc' or 'floor')");
      }
      break;
    }
    case Arith::FloorDiv:
      if (dt != DType::Undefined && !isFloatingPoint(dt)) result = intFloorDiv(l, lhs, rhs, dt);
      else result = l.op("Floor", {l.op("Div", {lhs, rhs}).type(t)}).type(t);
      break;
    case Arith::Remainder:
      if (dt != DType::Undefined && !isFloatingPoint(dt)) {
        result = l.op("Mod", {lhs, rhs}).attr("fmod", 0).type(t);
      } else {
        // Python-style remainder for floats: a - floor(a / b) * b.
        Value* q = l.op("Floor", {l.op("Div", {lhs, rhs}).type(t)}).type(t);
        result = l.op("Sub", {lhs, l.op("Mul", {q, rhs}).type(t)}).type(t);
      }
      break;
    case Arith::Fmod:
      result = l.op("Mod", {lhs, rhs}).attr("fmod", 1).type(t);
      break;
    case Arith::Pow:
      if (dt == DType::Bool) return l.unsupported("pow on boolean tensors");
      result = l.op("Pow", {lhs, rhs}).type(t);
      break;
  }
  l.setOutput(0, result);
  return Status::ok();
}

Status lowerAdd(Lowering& l) { return lowerArith(l, Arith::Add); }
Status lowerSub(Lowering& l) { return lowerArith(l, Arith::Sub); }
Status lowerRsub(Lowering& l) { return lowerArith(l, Arith::Rsub); }
Status lowerMul(Lowering& l) { return lowerArith(l, Arith::Mul); }
Status lowerDiv(Lowering& l) { return lowerArith(l, Arith::Div); }
Status lowerFloorDivide(Lowering& l) { return lowerArith(l, Arith::FloorDiv); }
Status lowerRemainder(Lowering& l) { return lowerArith(l, Arith::Remainder); }
Status lowerFmod(Lowering& l) { return lowerArith(l, Arith::Fmod); }
Status lowerPow(Lowering& l) { return lowerArith(l, Arith::Pow); }

// ---------------------------------------------------------------------------------------
// Comparisons
// ---------------------------------------------------------------------------------------
enum class Cmp { Eq, Ne, Lt, Le, Gt, Ge };

Status lowerCompare(Lowering& l, Cmp cmp) {
  TP_RETURN_IF_ERROR(l.needInputs(2));
  Value* a = l.input(0);
  Value* b = l.input(1);
  // Static folding (ints, floats, strings, None checks in scripted code).
  if (isStaticScalar(a) && isStaticScalar(b) && staticTensor(a) == nullptr && staticTensor(b) == nullptr) {
    const double x = *staticFloat(a), y = *staticFloat(b);
    bool r = false;
    switch (cmp) {
      case Cmp::Eq: r = x == y; break;
      case Cmp::Ne: r = x != y; break;
      case Cmp::Lt: r = x < y; break;
      case Cmp::Le: r = x <= y; break;
      case Cmp::Gt: r = x > y; break;
      case Cmp::Ge: r = x >= y; break;
    }
    l.setOutput(0, l.staticBoolValue(r));
    return Status::ok();
  }
  if (const std::string* sa = staticString(a)) {
    const std::string* sb = staticString(b);
    if (sb == nullptr || (cmp != Cmp::Eq && cmp != Cmp::Ne)) return l.unsupported("comparison of non-constant strings");
    l.setOutput(0, l.staticBoolValue((*sa == *sb) == (cmp == Cmp::Eq)));
    return Status::ok();
  }
  if (l.output()->type().kind() == Type::Kind::Bool && (a->type().kind() == Type::Kind::List || b->type().kind() == Type::Kind::List))
    return l.unsupported("comparison of lists");
  DType dt = DType::Undefined;
  std::vector<Value*> operands{a, b};
  TP_TRY(std::vector<Value*> promoted, l.promoteOperands(operands, dt));
  a = promoted[0];
  b = promoted[1];
  if (dt == DType::Bool && cmp != Cmp::Eq && cmp != Cmp::Ne) {
    TP_TRY(a, l.castTo(a, DType::I32));
    TP_TRY(b, l.castTo(b, DType::I32));
  }
  Type t = broadcastType(DType::Bool, a, b);
  Value* r = nullptr;
  switch (cmp) {
    case Cmp::Eq: r = l.op("Equal", {a, b}).type(t); break;
    case Cmp::Ne: r = l.op("Not", {l.op("Equal", {a, b}).type(t)}).type(t); break;
    case Cmp::Lt: r = l.op("Less", {a, b}).type(t); break;
    case Cmp::Le: r = l.op("LessOrEqual", {a, b}).type(t); break;
    case Cmp::Gt: r = l.op("Greater", {a, b}).type(t); break;
    case Cmp::Ge: r = l.op("GreaterOrEqual", {a, b}).type(t); break;
  }
  l.setOutput(0, r);
  return Status::ok();
}

Status lowerEq(Lowering& l) { return lowerCompare(l, Cmp::Eq); }
Status lowerNe(Lowering& l) { return lowerCompare(l, Cmp::Ne); }
Status lowerLt(Lowering& l) { return lowerCompare(l, Cmp::Lt); }
Status lowerLe(Lowering& l) { return lowerCompare(l, Cmp::Le); }
Status lowerGt(Lowering& l) { return lowerCompare(l, Cmp::Gt); }
Status lowerGe(Lowering& l) { return lowerCompare(l, Cmp::Ge); }

// ---------------------------------------------------------------------------------------
// Logic
// ---------------------------------------------------------------------------------------
enum class Logic { And, Or, Xor };

Status lowerLogicalBinary(Lowering& l, Logic kind, bool bitwise) {
  TP_RETURN_IF_ERROR(l.needInputs(2));
  Value* a = l.input(0);
  Value* b = l.input(1);
  if (auto x = staticBool(a), y = staticBool(b); x && y && isStaticScalar(a) && isStaticScalar(b) &&
                                                 l.output()->type().kind() == Type::Kind::Bool) {
    bool r = kind == Logic::And ? (*x && *y) : kind == Logic::Or ? (*x || *y) : (*x != *y);
    l.setOutput(0, l.staticBoolValue(r));
    return Status::ok();
  }
  DType dt = DType::Bool;
  if (bitwise) {
    DType promoted = l.resultType({a, b});
    if (promoted != DType::Bool) {
      if (promoted == DType::Undefined) return l.unsupported("bitwise op on tensors of unknown dtype");
      if (!isInteger(promoted)) return l.invalid("bitwise op on non-integer tensors");
      if (l.opset() < 18) return l.unsupported("bitwise ops on integer tensors need opset >= 18 (BitwiseAnd/Or/Xor)");
      TP_TRY(a, l.castTo(a, promoted));
      TP_TRY(b, l.castTo(b, promoted));
      const char* name = kind == Logic::And ? "BitwiseAnd" : kind == Logic::Or ? "BitwiseOr" : "BitwiseXor";
      l.setOutput(0, l.op(name, {a, b}).type(broadcastType(promoted, a, b)));
      return Status::ok();
    }
  }
  TP_TRY(a, l.castTo(a, dt));
  TP_TRY(b, l.castTo(b, dt));
  const char* name = kind == Logic::And ? "And" : kind == Logic::Or ? "Or" : "Xor";
  l.setOutput(0, l.op(name, {a, b}).type(broadcastType(DType::Bool, a, b)));
  return Status::ok();
}

Status lowerLogicalAnd(Lowering& l) { return lowerLogicalBinary(l, Logic::And, false); }
Status lowerLogicalOr(Lowering& l) { return lowerLogicalBinary(l, Logic::Or, false); }
Status lowerLogicalXor(Lowering& l) { return lowerLogicalBinary(l, Logic::Xor, false); }
Status lowerBitwiseAnd(Lowering& l) { return lowerLogicalBinary(l, Logic::And, true); }
Status lowerBitwiseOr(Lowering& l) { return lowerLogicalBinary(l, Logic::Or, true); }
Status lowerBitwiseXor(Lowering& l) { return lowerLogicalBinary(l, Logic::Xor, true); }

Status lowerLogicalNot(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  if (auto b = staticBool(l.input(0)); b && isStaticScalar(l.input(0))) {
    l.setOutput(0, l.staticBoolValue(!*b));
    return Status::ok();
  }
  TP_TRY(Value * x, l.castTo(l.input(0), DType::Bool));
  l.setOutput(0, l.op("Not", {x}).type(tensorType(DType::Bool, shapeOf(x))));
  return Status::ok();
}

Status lowerBitwiseNot(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  const DType dt = dtypeOf(l.input(0));
  if (dt == DType::Bool) return lowerLogicalNot(l);
  if (dt == DType::Undefined) return l.unsupported("bitwise_not on a tensor of unknown dtype");
  if (!isInteger(dt)) return l.invalid("bitwise_not on a non-integer tensor");
  if (l.opset() < 18) return l.unsupported("bitwise_not on integer tensors needs opset >= 18 (BitwiseNot)");
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  l.setOutput(0, l.op("BitwiseNot", {x}).type(tensorType(dt, shapeOf(x))));
  return Status::ok();
}

// ---------------------------------------------------------------------------------------
// Unary math
// ---------------------------------------------------------------------------------------
// Ops that compute in floating point: integer inputs are promoted to f32 like PyTorch.
Expected<Value*> floatInput(Lowering& l, Value* v) {
  const DType dt = dtypeOf(v);
  if (dt == DType::Undefined || isFloatingPoint(dt)) return l.asTensor(v);
  return l.castTo(v, DType::F32);
}

Status lowerFloatUnary(Lowering& l, const char* onnxOp) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, floatInput(l, l.input(0)));
  l.setOutput(0, l.op(onnxOp, {x}).type(tensorType(dtypeOf(x), shapeOf(x))));
  return Status::ok();
}

#define TP_FLOAT_UNARY(fn, onnxName) \
  Status fn(Lowering& l) { return lowerFloatUnary(l, onnxName); }
TP_FLOAT_UNARY(lowerExp, "Exp")
TP_FLOAT_UNARY(lowerLog, "Log")
TP_FLOAT_UNARY(lowerSqrt, "Sqrt")
TP_FLOAT_UNARY(lowerSin, "Sin")
TP_FLOAT_UNARY(lowerCos, "Cos")
TP_FLOAT_UNARY(lowerTan, "Tan")
TP_FLOAT_UNARY(lowerAsin, "Asin")
TP_FLOAT_UNARY(lowerAcos, "Acos")
TP_FLOAT_UNARY(lowerAtan, "Atan")
TP_FLOAT_UNARY(lowerSinh, "Sinh")
TP_FLOAT_UNARY(lowerCosh, "Cosh")
TP_FLOAT_UNARY(lowerAsinh, "Asinh")
TP_FLOAT_UNARY(lowerAcosh, "Acosh")
TP_FLOAT_UNARY(lowerAtanh, "Atanh")
TP_FLOAT_UNARY(lowerErf, "Erf")
TP_FLOAT_UNARY(lowerReciprocal, "Reciprocal")
#undef TP_FLOAT_UNARY

Status lowerRsqrt(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, floatInput(l, l.input(0)));
  Type t = tensorType(dtypeOf(x), shapeOf(x));
  l.setOutput(0, l.op("Reciprocal", {l.op("Sqrt", {x}).type(t)}).type(t));
  return Status::ok();
}

Status lowerLogBase(Lowering& l, double base) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, floatInput(l, l.input(0)));
  Type t = tensorType(dtypeOf(x), shapeOf(x));
  Value* ln = l.op("Log", {x}).type(t);
  TP_TRY(Value * denominator, l.castLike(l.staticFloatValue(std::log(base)), x));
  l.setOutput(0, l.op("Div", {ln, denominator}).type(t));
  return Status::ok();
}
Status lowerLog2(Lowering& l) { return lowerLogBase(l, 2.0); }
Status lowerLog10(Lowering& l) { return lowerLogBase(l, 10.0); }

Status lowerLog1p(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, floatInput(l, l.input(0)));
  Type t = tensorType(dtypeOf(x), shapeOf(x));
  TP_TRY(Value * one, l.castLike(l.staticFloatValue(1.0), x));
  l.setOutput(0, l.op("Log", {l.op("Add", {x, one}).type(t)}).type(t));
  return Status::ok();
}

Status lowerExpm1(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, floatInput(l, l.input(0)));
  Type t = tensorType(dtypeOf(x), shapeOf(x));
  TP_TRY(Value * one, l.castLike(l.staticFloatValue(1.0), x));
  l.setOutput(0, l.op("Sub", {l.op("Exp", {x}).type(t), one}).type(t));
  return Status::ok();
}

// Ops that keep the dtype (and are the identity on integers where ONNX lacks int kernels).
Status lowerSameTypeUnary(Lowering& l, const char* onnxOp, bool identityOnIntegers) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  const DType dt = dtypeOf(x);
  if (identityOnIntegers && dt != DType::Undefined && !isFloatingPoint(dt)) {
    l.passThrough(0, x);
    return Status::ok();
  }
  l.setOutput(0, l.op(onnxOp, {x}).type(tensorType(dt, shapeOf(x))));
  return Status::ok();
}

Status lowerNeg(Lowering& l) {
  if (isStaticScalar(l.input(0)) && scalarKind(l.output()->type())) {
    if (l.output()->type().kind() == Type::Kind::Int) l.setOutput(0, l.staticIntValue(-*staticInt(l.input(0))));
    else l.setOutput(0, l.staticFloatValue(-*staticFloat(l.input(0))));
    return Status::ok();
  }
  return lowerSameTypeUnary(l, "Neg", false);
}
Status lowerAbs(Lowering& l) { return lowerSameTypeUnary(l, "Abs", false); }
Status lowerSign(Lowering& l) { return lowerSameTypeUnary(l, "Sign", false); }
Status lowerFloor(Lowering& l) { return lowerSameTypeUnary(l, "Floor", true); }
Status lowerCeil(Lowering& l) { return lowerSameTypeUnary(l, "Ceil", true); }

Status lowerRound(Lowering& l) {
  if (l.numInputs() >= 2 && !l.isNoneArg(1)) {
    TP_TRY(int64_t decimals, l.intArg(1, "decimals"));
    if (decimals != 0) return l.unsupported("round with decimals != 0");
  }
  return lowerSameTypeUnary(l, "Round", true);
}

Status lowerSquare(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  l.setOutput(0, l.op("Mul", {x, x}).type(tensorType(dtypeOf(x), shapeOf(x))));
  return Status::ok();
}

// ---------------------------------------------------------------------------------------
// Predicates and fused arithmetic
// ---------------------------------------------------------------------------------------
Status lowerIsNan(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  Type t = tensorType(DType::Bool, shapeOf(x));
  if (DType dt = dtypeOf(x); dt != DType::Undefined && !isFloatingPoint(dt)) {
    TP_TRY(Value * f, l.castTo(l.staticBoolValue(false), DType::Bool));
    l.setOutput(0, l.op("Expand", {f, l.shape(x)}).type(t));  // integers are never NaN
    return Status::ok();
  }
  l.setOutput(0, l.op("IsNaN", {x}).type(t));
  return Status::ok();
}

Status lowerIsInf(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  Type t = tensorType(DType::Bool, shapeOf(x));
  if (DType dt = dtypeOf(x); dt != DType::Undefined && !isFloatingPoint(dt)) {
    TP_TRY(Value * f, l.castTo(l.staticBoolValue(false), DType::Bool));
    l.setOutput(0, l.op("Expand", {f, l.shape(x)}).type(t));
    return Status::ok();
  }
  if (dtypeOf(x) != DType::F32 && dtypeOf(x) != DType::F64) {
    TP_TRY(x, l.castTo(x, DType::F32));  // IsInf-10 takes f32 / f64
  }
  l.setOutput(0, l.op("IsInf", {x}).type(t));
  return Status::ok();
}

Status lowerIsFinite(Lowering& l) {  // not (isnan or isinf)
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  Type t = tensorType(DType::Bool, shapeOf(x));
  if (DType dt = dtypeOf(x); dt != DType::Undefined && !isFloatingPoint(dt)) {
    TP_TRY(Value * v, l.castTo(l.staticBoolValue(true), DType::Bool));
    l.setOutput(0, l.op("Expand", {v, l.shape(x)}).type(t));
    return Status::ok();
  }
  if (dtypeOf(x) != DType::F32 && dtypeOf(x) != DType::F64) {
    TP_TRY(x, l.castTo(x, DType::F32));
  }
  Value* bad = l.op("Or", {l.op("IsNaN", {x}).type(t), l.op("IsInf", {x}).type(t)}).type(t);
  l.setOutput(0, l.op("Not", {bad}).type(t));
  return Status::ok();
}

// addcmul(self, t1, t2, value=1) = self + value * t1 * t2; addcdiv with t1 / t2.
Status lowerAddcOp(Lowering& l, bool divide) {
  TP_RETURN_IF_ERROR(l.needInputs(3));
  DType dt = DType::Undefined;
  std::vector<Value*> operands{l.input(0), l.input(1), l.input(2)};
  TP_TRY(std::vector<Value*> p, l.promoteOperands(operands, dt));
  TP_TRY(double value, l.floatArgOr(3, "value", 1.0));
  auto shape = broadcastShapes(shapeOf(p[0]), broadcastShapes(shapeOf(p[1]), shapeOf(p[2])));
  Type t = tensorType(dt, shape);
  Value* product = l.op(divide ? "Div" : "Mul", {p[1], p[2]}).type(tensorType(dt, broadcastShapes(shapeOf(p[1]), shapeOf(p[2]))));
  if (value != 1.0) {
    TP_TRY(Value * v, l.castLike(l.staticFloatValue(value), p[0]));
    product = l.op("Mul", {product, v}).type(sameTypeOf(product));
  }
  l.setOutput(0, l.op("Add", {p[0], product}).type(t));
  return Status::ok();
}
Status lowerAddcmul(Lowering& l) { return lowerAddcOp(l, false); }
Status lowerAddcdiv(Lowering& l) { return lowerAddcOp(l, true); }

// lerp(self, end, weight) = self + weight * (end - self)
Status lowerLerp(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(3));
  DType dt = DType::Undefined;
  std::vector<Value*> operands{l.input(0), l.input(1), l.input(2)};
  TP_TRY(std::vector<Value*> p, l.promoteOperands(operands, dt));
  auto shape = broadcastShapes(shapeOf(p[0]), broadcastShapes(shapeOf(p[1]), shapeOf(p[2])));
  Type t = tensorType(dt, shape);
  Value* diff = l.op("Sub", {p[1], p[0]}).type(tensorType(dt, broadcastShapes(shapeOf(p[0]), shapeOf(p[1]))));
  l.setOutput(0, l.op("Add", {p[0], l.op("Mul", {p[2], diff}).type(t)}).type(t));
  return Status::ok();
}

// ---------------------------------------------------------------------------------------
// where / masked_fill
// ---------------------------------------------------------------------------------------
Status lowerWhere(Lowering& l) {
  if (l.numInputs() == 1) return l.unsupported("single-argument where (nonzero) is data-dependent; use torch.where(cond, a, b)");
  TP_RETURN_IF_ERROR(l.needInputs(3));
  TP_TRY(Value * cond, l.castTo(l.input(0), DType::Bool));
  DType dt = DType::Undefined;
  std::vector<Value*> operands{l.input(1), l.input(2)};
  TP_TRY(std::vector<Value*> promoted, l.promoteOperands(operands, dt));
  auto shape = broadcastShapes(shapeOf(cond), broadcastShapes(shapeOf(promoted[0]), shapeOf(promoted[1])));
  TP_TRY(Value * y, l.where(cond, promoted[0], promoted[1], tensorType(dt, shape)));
  l.setOutput(0, y);
  return Status::ok();
}

Status lowerMaskedFill(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(3));
  TP_TRY(Value * self, l.asTensor(l.input(0)));
  TP_TRY(Value * mask, l.castTo(l.input(1), DType::Bool));
  // The fill value takes self's dtype (no promotion), as in PyTorch.
  TP_TRY(Value * value, l.castLike(l.input(2), self));
  auto shape = broadcastShapes(shapeOf(self), shapeOf(mask));
  TP_TRY(Value * y, l.where(mask, value, self, tensorType(dtypeOf(self), shape)));
  l.setOutput(0, y);
  return Status::ok();
}

// ---------------------------------------------------------------------------------------
// Identity-like ops and dtype conversions
// ---------------------------------------------------------------------------------------
Status lowerIdentity(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  l.passThrough(0, x);
  return Status::ok();
}

Status lowerDropout(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(3));
  TP_TRY(bool train, l.boolArg(2, "train"));
  if (train)
    return l.unsupported("dropout in training mode (train=True) is random; export the model in eval mode (model.eval())");
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  l.passThrough(0, x);
  return Status::ok();
}

Status castOutput(Lowering& l, Value* x, std::optional<DType> dtype) {
  if (!dtype || *dtype == dtypeOf(x)) {
    l.passThrough(0, x);
    return Status::ok();
  }
  TP_TRY(Value * c, l.castTo(x, *dtype));
  l.setOutput(0, c);
  return Status::ok();
}

// aten::to has many overloads; the dtype (or `other`) position depends on which one.
Status lowerTo(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  if (l.numInputs() == 1) return castOutput(l, x, std::nullopt);
  std::optional<size_t> dtypeIndex, otherIndex;
  const auto names = l.schemaArgNames();
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == "dtype") dtypeIndex = i;
    if (names[i] == "other") otherIndex = i;
  }
  if (names.empty()) {
    const Type& second = l.input(1)->type();
    if (second.isTensor() || staticTensor(l.input(1)) != nullptr) otherIndex = 1;
    else if (second.kind() == Type::Kind::Device || staticString(l.input(1)) != nullptr) dtypeIndex = 2;
    else if (l.numInputs() == 8) dtypeIndex = 1;  // to.dtype_layout
    else dtypeIndex = 1;
  }
  if (otherIndex && *otherIndex < l.numInputs()) {
    TP_TRY(Value * c, l.castLike(x, l.input(*otherIndex)));
    if (c == x) l.passThrough(0, x);
    else l.setOutput(0, c);
    return Status::ok();
  }
  if (!dtypeIndex || *dtypeIndex >= l.numInputs()) return castOutput(l, x, std::nullopt);
  TP_TRY(std::optional<DType> dtype, l.dtypeArg(*dtypeIndex));
  return castOutput(l, x, dtype);
}

Status lowerToCopy(Lowering& l) {  // _to_copy(self, *, dtype, layout, device, pin_memory, non_blocking, memory_format)
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  TP_TRY(std::optional<DType> dtype, l.dtypeArg(1));
  return castOutput(l, x, dtype);
}

Status lowerTypeAs(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(2));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  TP_TRY(Value * c, l.castLike(x, l.input(1)));
  if (c == x) l.passThrough(0, x);
  else l.setOutput(0, c);
  return Status::ok();
}

constexpr ConverterSpec kTable[] = {
    // Arithmetic (Tensor, Scalar and TorchScript int/float overloads).
    {"aten::add", kMinOpset, kMaxOpset, "Add (alpha scales other; bool -> Or; int lists -> Concat)", lowerAdd},
    {"aten::add_", kMinOpset, kMaxOpset, "in-place add, lowered functionally", lowerAdd},
    {"aten::sub", kMinOpset, kMaxOpset, "Sub (alpha scales other)", lowerSub},
    {"aten::sub_", kMinOpset, kMaxOpset, "in-place sub, lowered functionally", lowerSub},
    {"aten::subtract", kMinOpset, kMaxOpset, "alias of sub", lowerSub},
    {"aten::rsub", kMinOpset, kMaxOpset, "other - alpha * self", lowerRsub},
    {"aten::mul", kMinOpset, kMaxOpset, "Mul (bool -> And)", lowerMul},
    {"aten::mul_", kMinOpset, kMaxOpset, "in-place mul, lowered functionally", lowerMul},
    {"aten::multiply", kMinOpset, kMaxOpset, "alias of mul", lowerMul},
    {"aten::div", kMinOpset, kMaxOpset, "Div with rounding_mode None/trunc/floor; ints -> f32 for true division", lowerDiv},
    {"aten::div_", kMinOpset, kMaxOpset, "in-place div, lowered functionally", lowerDiv},
    {"aten::divide", kMinOpset, kMaxOpset, "alias of div", lowerDiv},
    {"aten::true_divide", kMinOpset, kMaxOpset, "Div, ints -> f32", lowerDiv},
    {"aten::floor_divide", kMinOpset, kMaxOpset, "floor(a / b) (PyTorch >= 1.13 semantics)", lowerFloorDivide},
    {"aten::floordiv", kMinOpset, kMaxOpset, "int floor division", lowerFloorDivide},
    {"aten::remainder", kMinOpset, kMaxOpset, "Python-style modulo (sign of divisor)", lowerRemainder},
    {"aten::fmod", kMinOpset, kMaxOpset, "C-style modulo: Mod(fmod=1)", lowerFmod},
    {"aten::pow", kMinOpset, kMaxOpset, "Pow with promoted operands", lowerPow},
    // Comparisons.
    {"aten::eq", kMinOpset, kMaxOpset, "Equal", lowerEq},
    {"aten::ne", kMinOpset, kMaxOpset, "Not(Equal)", lowerNe},
    {"aten::lt", kMinOpset, kMaxOpset, "Less", lowerLt},
    {"aten::le", kMinOpset, kMaxOpset, "LessOrEqual", lowerLe},
    {"aten::gt", kMinOpset, kMaxOpset, "Greater", lowerGt},
    {"aten::ge", kMinOpset, kMaxOpset, "GreaterOrEqual", lowerGe},
    {"aten::less", kMinOpset, kMaxOpset, "Less", lowerLt},
    {"aten::greater", kMinOpset, kMaxOpset, "Greater", lowerGt},
    {"aten::eq_", kMinOpset, kMaxOpset, "Equal", lowerEq},
    // Logic.
    {"aten::logical_and", kMinOpset, kMaxOpset, "And on bool-cast inputs", lowerLogicalAnd},
    {"aten::logical_or", kMinOpset, kMaxOpset, "Or on bool-cast inputs", lowerLogicalOr},
    {"aten::logical_xor", kMinOpset, kMaxOpset, "Xor on bool-cast inputs", lowerLogicalXor},
    {"aten::logical_not", kMinOpset, kMaxOpset, "Not", lowerLogicalNot},
    {"aten::__and__", kMinOpset, kMaxOpset, "And (bool) / BitwiseAnd (ints, opset 18)", lowerBitwiseAnd},
    {"aten::__or__", kMinOpset, kMaxOpset, "Or (bool) / BitwiseOr (ints, opset 18)", lowerBitwiseOr},
    {"aten::__xor__", kMinOpset, kMaxOpset, "Xor (bool) / BitwiseXor (ints, opset 18)", lowerBitwiseXor},
    {"aten::bitwise_and", kMinOpset, kMaxOpset, "And (bool) / BitwiseAnd (ints, opset 18)", lowerBitwiseAnd},
    {"aten::bitwise_or", kMinOpset, kMaxOpset, "Or (bool) / BitwiseOr (ints, opset 18)", lowerBitwiseOr},
    {"aten::bitwise_xor", kMinOpset, kMaxOpset, "Xor (bool) / BitwiseXor (ints, opset 18)", lowerBitwiseXor},
    {"aten::__not__", kMinOpset, kMaxOpset, "Not", lowerLogicalNot},
    {"aten::bitwise_not", kMinOpset, kMaxOpset, "Not (bool) / BitwiseNot (ints, opset 18)", lowerBitwiseNot},
    // Unary math.
    {"aten::neg", kMinOpset, kMaxOpset, "Neg", lowerNeg},
    {"aten::negative", kMinOpset, kMaxOpset, "Neg", lowerNeg},
    {"aten::abs", kMinOpset, kMaxOpset, "Abs", lowerAbs},
    {"aten::sign", kMinOpset, kMaxOpset, "Sign", lowerSign},
    {"aten::floor", kMinOpset, kMaxOpset, "Floor (identity on ints)", lowerFloor},
    {"aten::ceil", kMinOpset, kMaxOpset, "Ceil (identity on ints)", lowerCeil},
    {"aten::round", kMinOpset, kMaxOpset, "Round half to even (decimals=0 only)", lowerRound},
    {"aten::exp", kMinOpset, kMaxOpset, "Exp", lowerExp},
    {"aten::log", kMinOpset, kMaxOpset, "Log", lowerLog},
    {"aten::log2", kMinOpset, kMaxOpset, "Log / ln 2", lowerLog2},
    {"aten::log10", kMinOpset, kMaxOpset, "Log / ln 10", lowerLog10},
    {"aten::log1p", kMinOpset, kMaxOpset, "Log(1 + x)", lowerLog1p},
    {"aten::expm1", kMinOpset, kMaxOpset, "Exp(x) - 1", lowerExpm1},
    {"aten::sqrt", kMinOpset, kMaxOpset, "Sqrt", lowerSqrt},
    {"aten::rsqrt", kMinOpset, kMaxOpset, "Reciprocal(Sqrt)", lowerRsqrt},
    {"aten::reciprocal", kMinOpset, kMaxOpset, "Reciprocal", lowerReciprocal},
    {"aten::square", kMinOpset, kMaxOpset, "x * x", lowerSquare},
    {"aten::sin", kMinOpset, kMaxOpset, "Sin", lowerSin},
    {"aten::cos", kMinOpset, kMaxOpset, "Cos", lowerCos},
    {"aten::tan", kMinOpset, kMaxOpset, "Tan", lowerTan},
    {"aten::asin", kMinOpset, kMaxOpset, "Asin", lowerAsin},
    {"aten::acos", kMinOpset, kMaxOpset, "Acos", lowerAcos},
    {"aten::atan", kMinOpset, kMaxOpset, "Atan", lowerAtan},
    {"aten::sinh", kMinOpset, kMaxOpset, "Sinh", lowerSinh},
    {"aten::cosh", kMinOpset, kMaxOpset, "Cosh", lowerCosh},
    {"aten::asinh", kMinOpset, kMaxOpset, "Asinh", lowerAsinh},
    {"aten::acosh", kMinOpset, kMaxOpset, "Acosh", lowerAcosh},
    {"aten::atanh", kMinOpset, kMaxOpset, "Atanh", lowerAtanh},
    {"aten::erf", kMinOpset, kMaxOpset, "Erf", lowerErf},
    // Predicates and fused arithmetic.
    {"aten::isnan", kMinOpset, kMaxOpset, "IsNaN (false for integers)", lowerIsNan},
    {"aten::isinf", kMinOpset, kMaxOpset, "IsInf (false for integers)", lowerIsInf},
    {"aten::isfinite", kMinOpset, kMaxOpset, "Not(IsNaN or IsInf)", lowerIsFinite},
    {"aten::addcmul", kMinOpset, kMaxOpset, "self + value * t1 * t2", lowerAddcmul},
    {"aten::addcdiv", kMinOpset, kMaxOpset, "self + value * t1 / t2", lowerAddcdiv},
    {"aten::lerp", kMinOpset, kMaxOpset, "self + weight * (end - self)", lowerLerp},
    // Selection.
    {"aten::where", kMinOpset, kMaxOpset, "Where with promoted branches", lowerWhere},
    {"aten::masked_fill", kMinOpset, kMaxOpset, "Where(mask, value cast to self's dtype, self)", lowerMaskedFill},
    {"aten::masked_fill_", kMinOpset, kMaxOpset, "in-place masked_fill, lowered functionally", lowerMaskedFill},
    // Identity-like and casts.
    {"aten::contiguous", kMinOpset, kMaxOpset, "identity (memory layout only)", lowerIdentity},
    {"aten::clone", kMinOpset, kMaxOpset, "identity", lowerIdentity},
    {"aten::detach", kMinOpset, kMaxOpset, "identity", lowerIdentity},
    {"aten::detach_", kMinOpset, kMaxOpset, "identity", lowerIdentity},
    {"aten::alias", kMinOpset, kMaxOpset, "identity", lowerIdentity},
    {"aten::lift_fresh", kMinOpset, kMaxOpset, "identity", lowerIdentity},
    {"aten::lift_fresh_copy", kMinOpset, kMaxOpset, "identity", lowerIdentity},
    {"aten::dropout", kMinOpset, kMaxOpset, "identity in eval mode (train=False); refused in training mode", lowerDropout},
    {"aten::dropout_", kMinOpset, kMaxOpset, "identity in eval mode", lowerDropout},
    {"aten::feature_dropout", kMinOpset, kMaxOpset, "identity in eval mode", lowerDropout},
    {"aten::feature_dropout_", kMinOpset, kMaxOpset, "identity in eval mode", lowerDropout},
    {"aten::alpha_dropout", kMinOpset, kMaxOpset, "identity in eval mode", lowerDropout},
    {"aten::alpha_dropout_", kMinOpset, kMaxOpset, "identity in eval mode", lowerDropout},
    {"aten::feature_alpha_dropout", kMinOpset, kMaxOpset, "identity in eval mode", lowerDropout},
    {"aten::to", kMinOpset, kMaxOpset, "Cast to dtype / like other (device arguments ignored)", lowerTo},
    {"aten::_to_copy", kMinOpset, kMaxOpset, "Cast to dtype", lowerToCopy},
    {"aten::type_as", kMinOpset, kMaxOpset, "Cast like other", lowerTypeAs},
};

}  // namespace

std::span<const ConverterSpec> elementwiseConverters() { return kTable; }

}  // namespace torchport::onnxplugin
