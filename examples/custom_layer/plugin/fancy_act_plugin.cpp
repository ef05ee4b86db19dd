// The torchport plugin for mylib::fancy_act(Tensor x, float alpha) -> Tensor,
//   fancy_act(x, alpha) = x * sigmoid(alpha * x).
//
// What loading it does:
//  - loads the op library (libfancy_act_ops.so, linked), whose TORCH_LIBRARY registration
//    makes TorchScript files that call torch.ops.mylib.fancy_act loadable by LibTorch;
//  - registers the ONNX schema of com.example::FancyAct (domain com.example, version 1) in
//    libonnx's schema registry, so that save-onnx's in-process checker and strict shape
//    inference check the custom node like a standard one;
//  - registers two converters to ONNX:
//      custom     mylib::fancy_act(%x, alpha) -> com.example::FancyAct(%x) {alpha}
//      decompose  mylib::fancy_act(%x, alpha) -> Mul(%x, Sigmoid(Mul(%x, alpha)))  (standard
//                 ONNX: runs in any ONNX runtime)
//    The custom one is the converter table entry that lower-to-onnx uses; the step
//    `lower-fancy-act: {mode: custom | decompose}` placed before lower-to-onnx picks either.
#include <onnx/defs/schema.h>
#include <onnx/defs/shape_inference.h>

#include <exception>
#include <string>
#include <vector>

#include "torchport/op_traits.h"
#include "torchport/torchport.h"

// From the op library (ops/fancy_act.h, which needs LibTorch headers this file avoids).
extern "C" const char* mylib_fancy_act_ops_version(void);

namespace {

using namespace torchport;

constexpr std::string_view kOpKind = "mylib::fancy_act";
constexpr const char* kDomain = "com.example";
constexpr const char* kCustomOp = "FancyAct";
constexpr int kDomainVersion = 1;

Expected<double> constantAlpha(ConversionContext& conversion) {
  Node& node = conversion.node();
  if (node.numInputs() != 2) {
    return conversion.invalid("expected 2 inputs (x, alpha), got " + std::to_string(node.numInputs()));
  }
  const std::optional<double> alpha = constantNumber(node.input(1));
  if (!alpha) {
    return conversion.unsupported("alpha (%" + node.input(1)->name() +
                                  ") must be a constant: ONNX has no way to pass it at run time here");
  }
  return *alpha;
}

// A scalar constant of `dtype` (the dtype of x, so that Mul sees matching types).
Expected<Tensor> scalarOf(ConversionContext& conversion, DType dtype, double value) {
  switch (dtype) {
    case DType::Undefined:
    case DType::F32: return Tensor::scalarF32(static_cast<float>(value));
    case DType::F64: return Tensor::fromVector(DType::F64, {}, std::vector<double>{value});
    case DType::F16:
      return Tensor::fromVector(DType::F16, {}, std::vector<uint16_t>{floatToFloat16Bits(static_cast<float>(value))});
    case DType::BF16:
      return Tensor::fromVector(DType::BF16, {}, std::vector<uint16_t>{floatToBfloat16Bits(static_cast<float>(value))});
    default:
      return conversion.unsupported("x has dtype " + std::string(dtypeName(dtype)) + "; fancy_act needs floating point");
  }
}

// custom: one node in the com.example domain.
Status toCustomDomain(ConversionContext& conversion) {
  TP_ASSIGN_OR_RETURN(double alpha, constantAlpha(conversion));
  Value* x = conversion.node().input(0);
  Node* fancy = conversion.emit(std::string(kDomain) + "::" + kCustomOp, {x});
  fancy->setAttribute("alpha", alpha);
  fancy->output()->setType(conversion.node().output()->type());
  conversion.mapOutput(0, fancy->output());
  return Status::ok();
}

// decompose: y = x * Sigmoid(x * alpha), standard ONNX.
Status toStandardOnnx(ConversionContext& conversion) {
  TP_ASSIGN_OR_RETURN(double alpha, constantAlpha(conversion));
  Value* x = conversion.node().input(0);
  const Type& type = conversion.node().output()->type();
  TP_ASSIGN_OR_RETURN(Tensor alphaTensor, scalarOf(conversion, x->type().dtype(), alpha));
  Value* alphaValue = conversion.constant(std::move(alphaTensor));
  Node* scaled = conversion.emit("onnx::Mul", {x, alphaValue});
  Node* gate = conversion.emit("onnx::Sigmoid", {scaled->output()});
  Node* product = conversion.emit("onnx::Mul", {x, gate->output()});
  for (Node* node : {scaled, gate, product}) node->output()->setType(type);
  conversion.mapOutput(0, product->output());
  return Status::ok();
}

// ---- the lower-fancy-act step: applies the chosen converter to every fancy_act node ----
Status rewrite(Graph& graph, const ConvertFn& convert, const Options& options, size_t& count) {
  for (Node* node : graph.nodeSnapshot()) {
    for (const auto& [name, attribute] : node->attributes()) {
      if (const auto* body = std::get_if<GraphPtr>(&attribute); body != nullptr && *body != nullptr) {
        TP_RETURN_IF_ERROR(rewrite(**body, convert, options, count));
      }
    }
    if (node->kind() != kOpKind) continue;
    ConversionContext conversion(graph, *node, /*targetVersion=*/17, options);
    TP_RETURN_IF_ERROR(convert(conversion));
    for (size_t i = 0; i < node->numOutputs(); ++i) {
      Value* replacement = conversion.mappedOutput(i);
      if (replacement == nullptr) return Status::internal("lower-fancy-act: output " + std::to_string(i) + " of " + node->describe() + " was not mapped");
      TP_RETURN_IF_ERROR(graph.replaceAllUsesWith(node->output(i), replacement));
    }
    TP_RETURN_IF_ERROR(graph.eraseNode(node));
    ++count;
  }
  return Status::ok();
}

Status lowerFancyAct(Graph& graph, PassContext& context) {
  const bool decompose = context.options().getString("mode") == "decompose";
  size_t count = 0;
  TP_RETURN_IF_ERROR(rewrite(graph, decompose ? ConvertFn(toStandardOnnx) : ConvertFn(toCustomDomain),
                             context.options(), count));
  if (count == 0) return Status::ok();
  if (!decompose) {
    // The custom domain is final for lower-to-onnx, and save-onnx imports it at version 1.
    auto versions = std::make_shared<std::map<std::string, int64_t>>();
    if (auto existing = context.state<std::map<std::string, int64_t>>("onnx.domain_versions")) *versions = *existing;
    (*versions)[kDomain] = kDomainVersion;
    context.setState("onnx.domain_versions", versions);
  }
  context.setChanged();
  context.report("fancy_act.nodes", OptionValue(OptionValue::Data(std::in_place_type<int64_t>, static_cast<int64_t>(count))));
  context.report("fancy_act.mode", OptionValue(OptionValue::Data(std::string(decompose ? "decompose" : "custom"))));
  return Status::ok();
}

PassInfo lowerFancyActInfo() {
  PassInfo info;
  info.name = "lower-fancy-act";
  info.summary = "Convert mylib::fancy_act to ONNX: a com.example::FancyAct node, or standard ONNX ops";
  info.description =
      "Place before lower-to-onnx.\n"
      "mode=custom:     %y = com.example::FancyAct(%x) {alpha=1.5}   (needs the op in the runtime)\n"
      "mode=decompose:  %y = Mul(%x, Sigmoid(Mul(%x, 1.5)))          (standard ONNX, runs anywhere)\n"
      "Without this step, lower-to-onnx uses the custom converter.";
  OptionSpec mode;
  mode.name = "mode";
  mode.type = OptionType::String;
  mode.defaultValue = OptionValue(OptionValue::Data(std::string("custom")));
  mode.choices = {"custom", "decompose"};
  mode.doc = "custom (com.example::FancyAct) or decompose (standard ONNX ops)";
  info.options.push_back(std::move(mode));
  return info;
}

// ---- ONNX schema of com.example::FancyAct, in libonnx's process-wide registry ----
Status registerOnnxSchema() {
  try {
    auto& ranges = onnx::OpSchemaRegistry::DomainToVersionRange::Instance();
    if (ranges.Map().count(kDomain) == 0) ranges.AddDomainToVersion(kDomain, kDomainVersion, kDomainVersion);
    if (onnx::OpSchemaRegistry::Schema(kCustomOp, kDomainVersion, kDomain) == nullptr) {
      onnx::OpSchema schema(kCustomOp, __FILE__, __LINE__);
      schema.SetDomain(kDomain)
          .SinceVersion(kDomainVersion)
          .SetDoc("Y = X * Sigmoid(alpha * X), elementwise.")
          .Attr("alpha", "slope inside the sigmoid", onnx::AttributeProto::FLOAT, 1.0f)
          .Input(0, "X", "input tensor", "T")
          .Output(0, "Y", "output tensor, same shape and type as X", "T")
          .TypeConstraint("T", {"tensor(float16)", "tensor(bfloat16)", "tensor(float)", "tensor(double)"},
                          "floating-point tensors")
          .TypeAndShapeInferenceFunction(onnx::propagateShapeAndTypeFromFirstInput);
      onnx::OpSchemaRegistry::OpSchemaRegisterOnce registration(schema);
    }
  } catch (const std::exception& error) {
    return Status::internal(std::string("cannot register the ONNX schema of com.example::FancyAct: ") + error.what());
  }
  // OpSchemaRegisterOnce reports problems on stderr instead of throwing: check the result.
  if (onnx::OpSchemaRegistry::Schema(kCustomOp, kDomainVersion, kDomain) == nullptr) {
    return Status::internal("the ONNX schema of com.example::FancyAct did not register (see libonnx's message above)");
  }
  return Status::ok();
}

Status registerAll(Registry& registry) {
  // Calling into the op library proves it is loaded (and with it the LibTorch op).
  if (mylib_fancy_act_ops_version() == nullptr) return Status::internal("the fancy_act op library is not usable");
  TP_RETURN_IF_ERROR(registerOnnxSchema());

  ConverterEntry converter;
  converter.opKind = std::string(kOpKind);
  converter.target = "onnx";
  converter.minVersion = 13;
  converter.maxVersion = 18;
  converter.summary = "mylib::fancy_act -> com.example::FancyAct (lower-fancy-act{mode=decompose}: standard ONNX)";
  converter.convert = toCustomDomain;
  TP_RETURN_IF_ERROR(registry.addConverter(std::move(converter)));
  return registry.addPass(lowerFancyActInfo(), lowerFancyAct);
}

}  // namespace

TORCHPORT_PLUGIN("fancy-act", "1.0.0", registerAll)
