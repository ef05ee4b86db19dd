// Tensor factories: zeros/ones/full/empty (and their _like / new_ forms), arange,
// scalar_tensor and tensor(). Layout, device and pin_memory arguments carry nothing for
// ONNX and are ignored; dtypes follow PyTorch's defaults (f32 for floats, i64 for ints).
#include <cmath>

#include "converters.h"

namespace torchport::onnxplugin {
namespace {

// Default dtype for a fill value: Python float -> f32, int -> i64, bool -> bool.
DType defaultDtypeOf(Value* fill) {
  if (fill->type().kind() == Type::Kind::Bool) return DType::Bool;
  if (const Node* c = constantProducer(fill)) {
    if (const Attribute* p = c->findAttribute("value")) {
      if (std::holds_alternative<double>(*p)) return DType::F32;
      if (std::holds_alternative<int64_t>(*p)) return fill->type().kind() == Type::Kind::Bool ? DType::Bool : DType::I64;
      if (auto* t = std::get_if<Tensor>(p)) return t->dtype();
    }
  }
  DType dt = dtypeOf(fill);
  if (dt == DType::F64 || dt == DType::F16 || dt == DType::BF16) return dt;
  return dt == DType::Undefined ? DType::F32 : dt;
}

// A one-element tensor holding `value` in `dtype`, for ConstantOfShape's attribute.
Tensor fillTensor(double value, DType dtype) {
  switch (dtype) {
    case DType::F64: return Tensor::fromVector(dtype, {1}, std::vector<double>{value});
    case DType::I64: return Tensor::fromVector(dtype, {1}, std::vector<int64_t>{static_cast<int64_t>(value)});
    case DType::I32: return Tensor::fromVector(dtype, {1}, std::vector<int32_t>{static_cast<int32_t>(value)});
    case DType::I16: return Tensor::fromVector(dtype, {1}, std::vector<int16_t>{static_cast<int16_t>(value)});
    case DType::I8: return Tensor::fromVector(dtype, {1}, std::vector<int8_t>{static_cast<int8_t>(value)});
    case DType::U8: return Tensor::fromVector(dtype, {1}, std::vector<uint8_t>{static_cast<uint8_t>(value)});
    case DType::Bool: return Tensor::fromVector(dtype, {1}, std::vector<uint8_t>{static_cast<uint8_t>(value != 0.0)});
    default: return Tensor::fromVector(DType::F32, {1}, std::vector<float>{static_cast<float>(value)});
  }
}

std::optional<std::vector<Dim>> shapeFromList(Value* list) {
  auto known = knownListDims(list);
  if (!known) {
    if (auto r = shapeOf(list); r && r->size() == 1 && (*r)[0].isKnown())
      return std::vector<Dim>(static_cast<size_t>((*r)[0].size()));
    return std::nullopt;
  }
  std::vector<Dim> dims;
  for (const KnownInt& k : *known) dims.push_back(k.asDim());
  return dims;
}

// Fills a tensor of shape `shapeList` (1-D i64) with `fill` (static or dynamic) of `dtype`.
Expected<Value*> filledOfShape(Lowering& l, Value* shapeList, Value* fill, DType dtype,
                               std::optional<std::vector<Dim>> shape) {
  const bool dtypeSupported = dtype == DType::F32 || dtype == DType::F64 || dtype == DType::I64 ||
                              dtype == DType::I32 || dtype == DType::I16 || dtype == DType::I8 ||
                              dtype == DType::U8 || dtype == DType::Bool;
  if (auto v = staticFloat(fill); v && isStaticScalar(fill) && dtypeSupported) {
    return static_cast<Value*>(
        l.op("ConstantOfShape", {shapeList}).attr("value", fillTensor(*v, dtype)).type(tensorType(dtype, shape)));
  }
  TP_TRY(Value * scalar, l.castTo(fill, dtype));
  return static_cast<Value*>(l.op("Expand", {scalar, shapeList}).type(tensorType(dtype, shape)));
}

Expected<DType> dtypeOr(Lowering& l, size_t index, DType fallback) {
  if (index >= l.numInputs()) return fallback;
  TP_TRY(std::optional<DType> dt, l.dtypeArg(index));
  return dt.value_or(fallback);
}

// zeros/ones/empty(size, dtype=None, layout, device, pin_memory)
Status lowerConstantFill(Lowering& l, double value) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * shapeList, l.asI64List(l.input(0)));
  TP_TRY(DType dtype, dtypeOr(l, 1, DType::F32));
  Value* fill = value == 0.0 ? l.staticIntValue(0) : l.staticIntValue(static_cast<int64_t>(value));
  TP_TRY(Value * y, filledOfShape(l, shapeList, fill, dtype, shapeFromList(shapeList)));
  l.setOutput(0, y);
  return Status::ok();
}
Status lowerZeros(Lowering& l) { return lowerConstantFill(l, 0.0); }
Status lowerOnes(Lowering& l) { return lowerConstantFill(l, 1.0); }

// full(size, fill_value, dtype=None, ...)
Status lowerFull(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(2));
  TP_TRY(Value * shapeList, l.asI64List(l.input(0)));
  TP_TRY(DType dtype, dtypeOr(l, 2, defaultDtypeOf(l.input(1))));
  TP_TRY(Value * y, filledOfShape(l, shapeList, l.input(1), dtype, shapeFromList(shapeList)));
  l.setOutput(0, y);
  return Status::ok();
}

// zeros_like/ones_like/empty_like(self, dtype=None, ...) | full_like(self, fill_value, dtype=None, ...)
Status lowerLike(Lowering& l, std::optional<double> value) {
  TP_RETURN_IF_ERROR(l.needInputs(value ? 1 : 2));
  TP_TRY(Value * self, l.asTensor(l.input(0)));
  const size_t dtypeIndex = value ? 1 : 2;
  Value* fill = value ? l.staticIntValue(static_cast<int64_t>(*value)) : l.input(1);
  TP_TRY(std::optional<DType> requested, l.dtypeArg(dtypeIndex));
  DType dtype = requested.value_or(dtypeOf(self));
  Value* shapeList = l.shape(self);
  if (dtype == DType::Undefined) {
    // Unknown dtype: build in f32 and cast like self.
    TP_TRY(Value * y, filledOfShape(l, shapeList, fill, DType::F32, shapeOf(self)));
    TP_TRY(y, l.castLike(y, self));
    l.setOutput(0, y);
    return Status::ok();
  }
  TP_TRY(Value * y, filledOfShape(l, shapeList, fill, dtype, shapeOf(self)));
  l.setOutput(0, y);
  return Status::ok();
}
Status lowerZerosLike(Lowering& l) { return lowerLike(l, 0.0); }
Status lowerOnesLike(Lowering& l) { return lowerLike(l, 1.0); }
Status lowerFullLike(Lowering& l) { return lowerLike(l, std::nullopt); }

// new_zeros/new_ones/new_empty(self, size, dtype=None, ...) | new_full(self, size, fill_value, dtype=None, ...)
Status lowerNew(Lowering& l, std::optional<double> value) {
  TP_RETURN_IF_ERROR(l.needInputs(value ? 2 : 3));
  TP_TRY(Value * self, l.asTensor(l.input(0)));
  TP_TRY(Value * shapeList, l.asI64List(l.input(1)));
  const size_t dtypeIndex = value ? 2 : 3;
  Value* fill = value ? l.staticIntValue(static_cast<int64_t>(*value)) : l.input(2);
  TP_TRY(std::optional<DType> requested, l.dtypeArg(dtypeIndex));
  DType dtype = requested.value_or(dtypeOf(self));
  if (dtype == DType::Undefined) {
    TP_TRY(Value * y, filledOfShape(l, shapeList, fill, DType::F32, shapeFromList(shapeList)));
    TP_TRY(y, l.castLike(y, self));
    l.setOutput(0, y);
    return Status::ok();
  }
  TP_TRY(Value * y, filledOfShape(l, shapeList, fill, dtype, shapeFromList(shapeList)));
  l.setOutput(0, y);
  return Status::ok();
}
Status lowerNewZeros(Lowering& l) { return lowerNew(l, 0.0); }
Status lowerNewOnes(Lowering& l) { return lowerNew(l, 1.0); }
Status lowerNewFull(Lowering& l) { return lowerNew(l, std::nullopt); }

bool isFloatArg(Value* v) {
  if (const Node* c = constantProducer(v)) {
    if (const Attribute* p = c->findAttribute("value")) {
      if (std::holds_alternative<double>(*p)) return true;
      if (auto* t = std::get_if<Tensor>(p)) return isFloatingPoint(t->dtype());
      return false;
    }
  }
  return isFloatingPoint(dtypeOf(v)) || v->type().kind() == Type::Kind::Float;
}

// arange(end, dtype...) | arange.start(start, end, dtype...) | arange.start_step(start, end, step, dtype...)
Status lowerArange(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  const std::string overload = l.overloadName();
  size_t argCount = 1;  // number of leading numeric arguments
  if (overload == "start_step" || l.numInputs() == 7) argCount = 3;
  else if (overload == "start" || l.numInputs() == 6) argCount = 2;
  else if (overload.empty() && l.numInputs() <= 3) argCount = l.numInputs();  // arange with numbers only
  std::vector<Value*> args;
  if (argCount == 1) args = {nullptr, l.input(0), nullptr};
  else if (argCount == 2) args = {l.input(0), l.input(1), nullptr};
  else args = {l.input(0), l.input(1), l.input(2)};
  bool anyFloat = false;
  for (Value* a : args) anyFloat = anyFloat || (a != nullptr && isFloatArg(a));
  DType dtype = anyFloat ? DType::F32 : DType::I64;
  if (argCount < l.numInputs()) {
    TP_TRY(dtype, dtypeOr(l, argCount, dtype));
  }
  auto start = args[0] ? staticFloat(args[0]) : std::optional<double>(0.0);
  auto end = staticFloat(args[1]);
  auto step = args[2] ? staticFloat(args[2]) : std::optional<double>(1.0);
  if (start && end && step) {
    if (*step == 0.0) return l.invalid("arange step must be nonzero");
    const double count = std::ceil((*end - *start) / *step);
    const int64_t n = count > 0 ? static_cast<int64_t>(count) : 0;
    if (n <= 65536) {
      if (isFloatingPoint(dtype) && dtype != DType::F64) {
        std::vector<float> values;
        for (int64_t i = 0; i < n; ++i) values.push_back(static_cast<float>(*start + static_cast<double>(i) * *step));
        Value* c = l.constant(Tensor::fromVector(DType::F32, {n}, values));
        TP_TRY(c, l.castTo(c, dtype));
        l.setOutput(0, c);
      } else if (dtype == DType::F64) {
        std::vector<double> values;
        for (int64_t i = 0; i < n; ++i) values.push_back(*start + static_cast<double>(i) * *step);
        l.setOutput(0, l.constant(Tensor::fromVector(DType::F64, {n}, values)));
      } else {
        std::vector<int64_t> values;
        for (int64_t i = 0; i < n; ++i) values.push_back(static_cast<int64_t>(*start + static_cast<double>(i) * *step));
        Value* c = l.i64s(values);
        TP_TRY(c, l.castTo(c, dtype));
        l.setOutput(0, c);
      }
      return Status::ok();
    }
  }
  // Dynamic bounds: Range in the computation dtype, then cast.
  const DType compute = anyFloat ? DType::F32 : DType::I64;
  std::vector<Value*> rangeInputs;
  const double defaults[3] = {0.0, 0.0, 1.0};
  for (size_t i = 0; i < 3; ++i) {
    Value* a = args[i] != nullptr ? args[i] : (compute == DType::I64 ? l.i64(static_cast<int64_t>(defaults[i]))
                                                                     : l.scalar(defaults[i], compute));
    TP_TRY(Value * c, l.castTo(a, compute));
    if (rankOf(c) == 1) c = l.squeeze(c, {0});
    rangeInputs.push_back(c);
  }
  Value* r = l.op("Range", std::span<Value* const>(rangeInputs)).type(tensorType(compute, std::vector<Dim>{Dim::unknown()}));
  TP_TRY(r, l.castTo(r, dtype));
  l.setOutput(0, r);
  return Status::ok();
}

// scalar_tensor(s, dtype=None, ...)
Status lowerScalarTensor(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(DType dtype, dtypeOr(l, 1, DType::F32));
  TP_TRY(Value * v, l.castTo(l.input(0), dtype));
  if (rankOf(v) && *rankOf(v) != 0) v = l.reshape(v, l.i64s({}));
  l.setOutput(0, v);
  return Status::ok();
}

// tensor(data, dtype=None, device=None, requires_grad=False) for constant data.
Status lowerTensor(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  Value* data = l.input(0);
  TP_TRY(std::optional<DType> requested, l.dtypeArg(1));
  if (const Tensor* t = staticTensor(data)) {
    Value* c = data;
    if (requested && *requested != t->dtype()) {
      TP_TRY(c, l.castTo(c, *requested));
    }
    l.passThrough(0, c);
    return Status::ok();
  }
  if (isStaticScalar(data)) {
    TP_TRY(Value * c, l.castTo(data, requested.value_or(defaultDtypeOf(data))));
    l.setOutput(0, c);
    return Status::ok();
  }
  if (auto ints = staticInts(data)) {
    Value* c = l.i64s(*ints);
    TP_TRY(c, l.castTo(c, requested.value_or(DType::I64)));
    l.setOutput(0, c);
    return Status::ok();
  }
  if (auto floats = staticFloats(data)) {
    std::vector<float> f(floats->begin(), floats->end());
    Value* c = l.constant(Tensor::fromVector(DType::F32, {static_cast<int64_t>(f.size())}, f));
    TP_TRY(c, l.castTo(c, requested.value_or(DType::F32)));
    l.setOutput(0, c);
    return Status::ok();
  }
  // A dynamic int (0-d i64 value) or an int list built at run time.
  TP_TRY(Value * v, l.asTensor(data));
  TP_TRY(v, l.castTo(v, requested.value_or(dtypeOf(v) == DType::Undefined ? DType::I64 : dtypeOf(v))));
  l.passThrough(0, v);
  return Status::ok();
}

constexpr ConverterSpec kTable[] = {
    {"aten::zeros", kMinOpset, kMaxOpset, "ConstantOfShape(0)", lowerZeros},
    {"aten::ones", kMinOpset, kMaxOpset, "ConstantOfShape(1)", lowerOnes},
    {"aten::empty", kMinOpset, kMaxOpset, "ConstantOfShape(0) (uninitialized memory has no ONNX form)", lowerZeros},
    {"aten::full", kMinOpset, kMaxOpset, "ConstantOfShape(fill) or Expand of a dynamic fill", lowerFull},
    {"aten::zeros_like", kMinOpset, kMaxOpset, "ConstantOfShape(Shape(self), 0)", lowerZerosLike},
    {"aten::ones_like", kMinOpset, kMaxOpset, "ConstantOfShape(Shape(self), 1)", lowerOnesLike},
    {"aten::empty_like", kMinOpset, kMaxOpset, "ConstantOfShape(Shape(self), 0)", lowerZerosLike},
    {"aten::full_like", kMinOpset, kMaxOpset, "ConstantOfShape(Shape(self), fill)", lowerFullLike},
    {"aten::new_zeros", kMinOpset, kMaxOpset, "ConstantOfShape(size, 0) in self's dtype", lowerNewZeros},
    {"aten::new_ones", kMinOpset, kMaxOpset, "ConstantOfShape(size, 1) in self's dtype", lowerNewOnes},
    {"aten::new_empty", kMinOpset, kMaxOpset, "ConstantOfShape(size, 0) in self's dtype", lowerNewZeros},
    {"aten::new_full", kMinOpset, kMaxOpset, "ConstantOfShape(size, fill) in self's dtype", lowerNewFull},
    {"aten::arange", kMinOpset, kMaxOpset, "constant for static bounds, Range otherwise", lowerArange},
    {"aten::scalar_tensor", kMinOpset, kMaxOpset, "0-d constant / Cast", lowerScalarTensor},
    {"aten::tensor", kMinOpset, kMaxOpset, "constant data as a tensor", lowerTensor},
    {"aten::as_tensor", kMinOpset, kMaxOpset, "constant data as a tensor", lowerTensor},
};

}  // namespace

std::span<const ConverterSpec> creationConverters() { return kTable; }

}  // namespace torchport::onnxplugin
