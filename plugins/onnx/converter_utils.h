// Helpers shared by the aten -> ONNX converters (plugins/onnx/converters/*.cpp).
//
// Conventions of the lowering (see lower_to_onnx.cpp):
//  - TorchScript `int` / `bool` / `float` values become 0-d ONNX tensors (i64 / bool / f32);
//    `int[]` values become 1-D i64 tensors; `Tensor[]` values become ONNX sequences
//    (onnx::SequenceConstruct, which list consumers read through when they can).
//  - prim::Constant nodes are never converted: converters read them as static values
//    (scalar payloads or tensor payloads) and materialize typed ONNX constants on demand.
//  - Every converter sets the dtype (and the shape, when it can be derived) of what it
//    produces, so that later converters can normalize axes and cast scalars.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "torchport/ir.h"
#include "torchport/registry.h"
#include "torchport/status.h"

namespace torchport::onnxplugin {

// ---------------------------------------------------------------------------------------
// Element types
// ---------------------------------------------------------------------------------------
// ONNX TensorProto.DataType codes (kept here so converters need no protobuf headers).
int64_t onnxDataType(DType dtype);  // 0 = not representable
std::optional<DType> dtypeFromOnnx(int64_t code);
// c10::ScalarType codes, as carried by `dtype=` arguments in TorchScript graphs.
std::optional<DType> dtypeFromTorchScalarType(int64_t code);
std::optional<int64_t> torchScalarTypeOf(DType dtype);

// PyTorch's promoteTypes for two known dtypes (Undefined if either is unknown).
DType promoteTypes(DType a, DType b);

// ---------------------------------------------------------------------------------------
// Static values: prim::Constant payloads (scalar or tensor) read as plain C++ values.
// ---------------------------------------------------------------------------------------
const Node* constantProducer(const Value* value);  // the prim::Constant or nullptr
bool isNone(const Value* value);                   // prim::Constant without payload / none type
std::optional<int64_t> staticInt(const Value* value);   // int, bool, 1-element integral tensor
std::optional<double> staticFloat(const Value* value);  // float or int, 1-element tensor
std::optional<bool> staticBool(const Value* value);
const std::string* staticString(const Value* value);
std::optional<std::vector<int64_t>> staticInts(const Value* value);  // ints, 0/1-D int tensor
std::optional<std::vector<double>> staticFloats(const Value* value);
const Tensor* staticTensor(const Value* value);  // tensor payload (may have elided data)
// A constant whose payload is a scalar (int/float/bool), i.e. a TorchScript Scalar.
bool isStaticScalar(const Value* value);

// ---------------------------------------------------------------------------------------
// Types as seen by the lowering
// ---------------------------------------------------------------------------------------
// Element type of a value: tensor dtype, or the 0-d tensor type a scalar becomes.
DType dtypeOf(const Value* value);
std::optional<int64_t> rankOf(const Value* value);
std::optional<std::vector<Dim>> shapeOf(const Value* value);
// Dim `axis` (negative counts from the end, needs a known rank).
Dim dimOf(const Value* value, int64_t axis);
// Static size of `value`'s dim `axis` if known.
std::optional<int64_t> staticDimOf(const Value* value, int64_t axis);

// What an int value (a 0-d i64 tensor or a list element) is known to be: a static value
// (possibly -1 or 0, as in reshape targets) or equal to some tensor's dim (recognised
// through onnx::Gather(onnx::Shape(x), i) chains). Both empty = nothing known.
struct KnownInt {
  std::optional<int64_t> value;
  std::optional<Dim> dim;
  // As a Dim: static non-negative values and dim equalities; unknown otherwise.
  Dim asDim() const {
    if (value) return *value >= 0 ? Dim::known(*value) : Dim::unknown();
    return dim ? *dim : Dim::unknown();
  }
};
KnownInt knownIntValue(const Value* value);
// Per-element knowledge of a 1-D i64 list (constants, Shape, Concat, Unsqueeze, Slice).
std::optional<std::vector<KnownInt>> knownListDims(const Value* value);

// Broadcasting of two (possibly partially known) shapes; nullopt if a rank is unknown.
std::optional<std::vector<Dim>> broadcastShapes(const std::optional<std::vector<Dim>>& a,
                                                const std::optional<std::vector<Dim>>& b);

// Tensor type helpers.
Type tensorType(DType dtype, std::optional<std::vector<Dim>> shape = std::nullopt);
Type tensorTypeOfRank(DType dtype, std::optional<int64_t> rank);
std::vector<Dim> knownDims(const std::vector<int64_t>& sizes);

// ---------------------------------------------------------------------------------------
// Emitting ONNX nodes
// ---------------------------------------------------------------------------------------
// Fluent handle on a freshly emitted node: attributes with ONNX names and output types.
class OpBuilder {
 public:
  explicit OpBuilder(Node* node) : node_(node) {}

  OpBuilder& attr(std::string_view name, Attribute value);
  template <class T>
    requires(std::is_integral_v<T>)
  OpBuilder& attr(std::string_view name, T value) {
    return attr(name, Attribute(static_cast<int64_t>(value)));
  }
  OpBuilder& attr(std::string_view name, float value) { return attr(name, Attribute(static_cast<double>(value))); }
  OpBuilder& attr(std::string_view name, double value) { return attr(name, Attribute(value)); }
  OpBuilder& attr(std::string_view name, const char* value) { return attr(name, Attribute(std::string(value))); }
  OpBuilder& attr(std::string_view name, std::vector<int64_t> value) { return attr(name, Attribute(std::move(value))); }
  OpBuilder& type(Type type, size_t output = 0);

  Node* node() const { return node_; }
  Value* out(size_t index = 0) const { return node_->output(index); }
  operator Value*() const { return out(0); }  // NOLINT(implicit): single-output ops read naturally

 private:
  Node* node_;
};

// Operand classes of PyTorch's type promotion (dimensioned > zero-dim > Python scalar).
enum class OperandClass : uint8_t { Dimensioned, ZeroDim, Wrapped };

// The converter-side view of one node being lowered: argument readers with clear errors,
// ONNX emission with types, constants, casts, and output mapping.
class Lowering {
 public:
  explicit Lowering(ConversionContext& ctx) : ctx_(ctx) {}

  ConversionContext& ctx() { return ctx_; }
  Node& node() const { return ctx_.node(); }
  Graph& graph() const { return ctx_.graph(); }
  int opset() const { return ctx_.targetVersion(); }
  size_t numInputs() const { return ctx_.node().numInputs(); }
  Value* input(size_t i) const { return ctx_.node().input(i); }
  // The old output (still typed as in the source dialect).
  Value* output(size_t i = 0) const { return ctx_.node().output(i); }
  bool outputUsed(size_t i) const;
  // Argument names from the JIT schema attribute ("aten::add.Tensor(Tensor self, ...)").
  std::vector<std::string> schemaArgNames() const;
  std::string overloadName() const;  // "Tensor" in "aten::add.Tensor(...)", "" if none

  // ---- errors naming the node ----
  Status unsupported(std::string_view why) const { return ctx_.unsupported(why); }
  Status invalid(std::string_view why) const { return ctx_.invalid(why); }
  Status needInputs(size_t minCount) const;

  // ---- static arguments (must be prim::Constant payloads) ----
  bool isNoneArg(size_t i) const { return i >= numInputs() || isNone(input(i)); }
  Expected<int64_t> intArg(size_t i, std::string_view what) const;
  Expected<double> floatArg(size_t i, std::string_view what) const;
  Expected<bool> boolArg(size_t i, std::string_view what) const;
  Expected<std::vector<int64_t>> intsArg(size_t i, std::string_view what) const;
  // Optional forms: fallback when absent or None, error when dynamic.
  Expected<int64_t> intArgOr(size_t i, std::string_view what, int64_t fallback) const;
  Expected<double> floatArgOr(size_t i, std::string_view what, double fallback) const;
  Expected<bool> boolArgOr(size_t i, std::string_view what, bool fallback) const;
  Expected<std::string> stringArgOr(size_t i, std::string_view what, std::string fallback) const;
  // dtype= argument (c10::ScalarType code or None).
  Expected<std::optional<DType>> dtypeArg(size_t i) const;
  // An int list argument that may be a single int (expanded `count` times, as for
  // kernel_size=3 in scripted code).
  Expected<std::vector<int64_t>> intsArgExpanded(size_t i, std::string_view what, size_t count) const;

  // ---- emission ----
  OpBuilder op(std::string_view onnxOp, std::initializer_list<Value*> inputs, size_t numOutputs = 1);
  OpBuilder op(std::string_view onnxOp, std::span<Value* const> inputs, size_t numOutputs = 1);
  // A node of an explicit qualified kind (custom domains, prim::Constant scalars).
  Node* emitRaw(std::string_view kind, std::span<Value* const> inputs, size_t numOutputs = 1);

  // ---- constants (typed) ----
  Value* constant(Tensor tensor);
  Value* i64s(const std::vector<int64_t>& values);  // 1-D i64
  Value* i64(int64_t value);                          // 0-d i64
  Value* scalar(double value, DType dtype);           // 0-d of dtype
  Value* filled(double value, DType dtype, const std::vector<int64_t>& shape);
  // A missing optional ONNX input in the middle of an input list (exported as "").
  Value* absent();
  // Dialect-neutral scalar constants (TorchScript int / float / bool values).
  Value* staticIntValue(int64_t value);
  Value* staticBoolValue(bool value);
  Value* staticFloatValue(double value);

  // ---- materializing values as ONNX tensors ----
  // Static scalars / lists become typed constants; tensors pass through.
  Expected<Value*> asTensor(Value* value);
  // An int or int[] argument as a 1-D i64 tensor (a single int becomes [v]).
  Expected<Value*> asI64List(Value* value);
  // An int argument as a 0-d i64 tensor.
  Expected<Value*> asI64Scalar(Value* value);
  // Casts `value` to `dtype` (static scalars become constants of that dtype directly).
  Expected<Value*> castTo(Value* value, DType dtype);
  // Cast like another value's dtype: Cast when that dtype is known, CastLike at opset >= 15.
  Expected<Value*> castLike(Value* value, Value* like);

  // ---- type promotion ----
  OperandClass operandClass(const Value* value) const;
  // torch.result_type over operands; Undefined when an operand's dtype is unknown.
  DType resultType(std::span<Value* const> operands) const;
  DType resultType(std::initializer_list<Value*> operands) const {
    std::vector<Value*> v(operands);
    return resultType(std::span<Value* const>(v));
  }
  // Materializes operands as tensors of their promoted dtype. `dtype` receives it.
  Expected<std::vector<Value*>> promoteOperands(std::span<Value* const> operands, DType& dtype);

  // Where(cond, a, b) typed `type`; boolean data goes through u8 (ONNX Runtime has no bool
  // Where kernel before opset 16).
  Expected<Value*> where(Value* cond, Value* a, Value* b, const Type& type);

  // ---- common shape helpers ----
  Value* shape(Value* tensor);                              // onnx::Shape, typed i64[rank]
  Value* dimSize(Value* tensor, int64_t axis);              // 0-d i64 (Gather of Shape)
  Value* unsqueeze(Value* tensor, const std::vector<int64_t>& axes);
  Value* squeeze(Value* tensor, const std::vector<int64_t>& axes);
  Value* reshape(Value* tensor, Value* shapeList);
  Value* transpose(Value* tensor, const std::vector<int64_t>& perm);
  // Slice along one axis with static bounds.
  Value* slice(Value* tensor, int64_t axis, int64_t start, int64_t end, int64_t step = 1);
  // ONNX Reduce* over static axes (nullopt = all axes), with axes as an attribute or an
  // input depending on the opset (ReduceSum: input since 13; the others since 18).
  Value* reduce(std::string_view onnxOp, Value* tensor, const std::optional<std::vector<int64_t>>& axes, bool keepdims,
                DType outDtype = DType::Undefined);
  // Concatenation of 1-D i64 lists (constants merged).
  Value* concatLists(const std::vector<Value*>& lists);
  // Normalizes a possibly negative axis for a tensor of rank `rank` (+ extra for
  // ops that insert dims). Fails naming `what` when the axis is negative and the rank is
  // unknown, or out of range.
  Expected<int64_t> normalizeAxis(int64_t axis, std::optional<int64_t> rank, std::string_view what) const;

  // ---- results ----
  // The old output `i` is now `value` (keeps the old tensor type when the new one is unknown).
  void setOutput(size_t i, Value* value);
  // Output `i` equals `value` (no new node; lowerGraph adds an Identity only where graph
  // output names require one).
  void passThrough(size_t i, Value* value);

 private:
  ConversionContext& ctx_;
};

// A converter function and the table entry shape used by converters/*.cpp.
using LowerFn = Status (*)(Lowering&);
struct ConverterSpec {
  const char* opKind;
  int minOpset;
  int maxOpset;
  const char* summary;
  LowerFn lower;
};
inline constexpr int kMinOpset = 13;
inline constexpr int kMaxOpset = 18;

// Formats a vector for messages: "[1, 2, 3]".
std::string formatInts(std::span<const int64_t> values);

}  // namespace torchport::onnxplugin

// Returns the error from an Expected<T> or binds its value.
#define TP_TRY(decl, expr) TP_ASSIGN_OR_RETURN(decl, expr)
