// save-torchscript: IR -> torch::jit::Module (ir_to_jit.cpp) -> freeze -> optimize ->
// torch.jit.save / _save_for_mobile, written atomically.
#include "save_torchscript.h"

#include <torch/csrc/jit/passes/frozen_conv_add_relu_fusion.h>
#include <torch/csrc/jit/passes/frozen_graph_optimizations.h>
#include <torch/csrc/jit/passes/frozen_linear_transpose.h>
#include <torch/csrc/jit/passes/xnnpack_rewrite.h>

#include <filesystem>
#include <ostream>
#include <string>

#include "ir_to_jit.h"
#include "jit_bridge.h"
#include "torchport/files.h"

namespace torchport::torchscript {

namespace jit = torch::jit;

namespace {


struct Settings {
  std::filesystem::path path;
  bool freeze = true;
  std::string optimize = "none";  // none | inference | mobile
  std::string format = "auto";    // auto | full | lite
};

Settings readSettings(const Options& options) {
  Settings settings;
  settings.path = options.getString("path");
  settings.freeze = options.getBool("freeze", true);
  settings.optimize = options.getString("optimize", "none");
  settings.format = options.getString("format", "auto");
  if (settings.format == "auto") settings.format = settings.path.extension() == ".ptl" ? "lite" : "full";
  return settings;
}

std::string where(const Options& options, std::string_view key) {
  const OptionValue* value = options.get(key);
  const std::string location = value != nullptr ? value->where().toString() : std::string();
  return location.empty() || location == "<pipeline>" ? std::string("save-torchscript") : "save-torchscript (" + location + ")";
}

// LibTorch warnings (TORCH_WARN) while freezing and optimizing: details, debug log.
class DiagnosticsWarningHandler final : public c10::WarningHandler {
 public:
  explicit DiagnosticsWarningHandler(Diagnostics& diagnostics) : diagnostics_(diagnostics) {}
  void process(const c10::SourceLocation&, const std::string& message, const bool) override {
    diagnostics_.debug("save-torchscript: LibTorch warning: " + message);
  }

 private:
  Diagnostics& diagnostics_;
};

// Runs one LibTorch stage, turning its exceptions into a Status that says which stage failed.
template <class Stage>
Status runStage(const char* what, const Stage& stage) {
  try {
    stage();
    return Status::ok();
  } catch (const std::exception& error) {
    return Status::unsupported(std::string("save-torchscript: LibTorch failed while ") + what + ": " + firstLineOf(error));
  }
}

// torch.jit.optimize_for_inference without its last step, ConvertFrozenOpsToMKLDNN: LibTorch
// 1.13 writes MKL-DNN constants (prim::ConstantMKLDNNTensor) that it cannot load back
// ("required keyword attribute 'value' is undefined"). What remains is serializable:
// the frozen-graph folds (conv/linear + batchnorm, conv + add/mul by constants, dropout),
// conv + add + relu fusion (GPU only; a no-op on CPU) and linear -> matmul with the weight
// transposed ahead of time.
void optimizeForInference(jit::Module& module) {
  std::shared_ptr<jit::Graph> graph = module.get_method("forward").graph();
  jit::OptimizeFrozenGraph(graph, /*optimize_numerics=*/true);
  jit::FuseFrozenConvAddRelu(graph);
  jit::FrozenLinearTranspose(graph);
}

}  // namespace

PassInfo saveTorchScriptInfo() {
  PassInfo info;
  info.name = "save-torchscript";
  info.summary = "Write the aten-dialect graph as TorchScript: frozen, optimized for inference or mobile, or lite (.ptl)";
  info.description =
      "Builds a TorchScript module from the torchport IR as it is at this point of the pipeline (so rebound "
      "weights, folded constants and other rewrites are in it) and writes it with LibTorch. Place it before "
      "lower-to-onnx: ONNX-dialect and custom-domain ops cannot run in TorchScript, and a graph that has any is "
      "refused with the full list (nothing is written). forward takes the graph inputs in order and returns the "
      "single output, or a tuple of the outputs in graph order (names in the run report, "
      "torchscript.outputs). Parameters (constants with a parameter name) become module attributes named after "
      "it with dots replaced by '_'. freeze=true runs torch.jit.freeze (parameters inlined as constants, "
      "conv-batchnorm / conv-add folding); freeze=false keeps them as trainable-looking parameters. "
      "optimize=inference applies torch.jit.optimize_for_inference's graph rewrites (frozen folds, linear with "
      "pre-transposed weights) but not its MKL-DNN conversion, whose output LibTorch 1.13 cannot load back; "
      "optimize=mobile applies optimize_for_mobile (conv-bn folding, XNNPACK prepacking, clamp/hardtanh "
      "fusion, dropout removal, add-relu fusion); both need freeze=true. format=full writes a torch.jit.save "
      "archive (.pt), format=lite a lite-interpreter archive (.ptl, torch.jit.mobile._load_for_lite_interpreter "
      "/ torch::jit::_load_for_mobile), format=auto (default) picks lite for a .ptl path. The write is atomic.";
  OptionSpec path = optionSpec("path", OptionType::String, {}, "the .pt / .ptl file to write (relative to the config file)");
  path.required = true;
  info.options.push_back(std::move(path));
  info.options.push_back(optionSpec("freeze", OptionType::Bool, boolValue(true),
                              "inline parameters as constants and fold (torch.jit.freeze); false keeps them as "
                              "module parameters"));
  OptionSpec optimize = optionSpec("optimize", OptionType::String, stringValue("none"),
                             "none, inference (optimize_for_inference without MKL-DNN) or mobile (optimize_for_mobile); needs freeze");
  optimize.choices = {"none", "inference", "mobile"};
  info.options.push_back(std::move(optimize));
  OptionSpec format = optionSpec("format", OptionType::String, stringValue("auto"),
                           "full (torch.jit.save), lite (lite interpreter) or auto (lite for a .ptl path, else full)");
  format.choices = {"auto", "full", "lite"};
  info.options.push_back(std::move(format));
  info.kind = StepKind::Export;
  return info;
}

Status validateSaveTorchScriptOptions(const Options& options) {
  const Settings settings = readSettings(options);
  if (settings.optimize != "none" && !settings.freeze) {
    return Status::usage(where(options, "optimize") + ": optimize: " + settings.optimize +
                         " works on a frozen module, but freeze is false; set freeze: true or optimize: none");
  }
  return Status::ok();
}

Status runSaveTorchScript(const Graph& graph, PassContext& context) {
  TP_RETURN_IF_ERROR(validateSaveTorchScriptOptions(context.options()));
  Settings settings = readSettings(context.options());
  settings.path = context.resolvePath(settings.path);

  const std::vector<std::string> foreign = findNonTorchScriptOps(graph);
  if (!foreign.empty()) {
    std::string message = "save-torchscript: " + std::to_string(foreign.size()) + " op kind" +
                          (foreign.size() == 1 ? "" : "s") + " in the graph cannot run in TorchScript:";
    for (const std::string& line : foreign) message += "\n  " + line;
    message +=
        "\nsave-torchscript writes the aten dialect: put it before lower-to-onnx (and before custom-op steps), or "
        "export this graph with save-onnx instead. Nothing was written to " + settings.path.string() + ".";
    return Status::unsupported(message);
  }

  DiagnosticsWarningHandler warningHandler(context.diag());
  c10::Warning::WarningHandlerGuard warningGuard(&warningHandler);
  const bool trainable = !settings.freeze && settings.optimize == "none";
  TP_ASSIGN_OR_RETURN(JitModuleBuild build, buildJitModule(graph, trainable));
  jit::Module module = build.module;
  if (settings.freeze) {
    TP_RETURN_IF_ERROR(runStage("freezing the module (torch.jit.freeze)", [&] { module = jit::freeze(module); }));
  }
  if (settings.optimize == "inference") {
    TP_RETURN_IF_ERROR(runStage("optimizing for inference", [&] { optimizeForInference(module); }));
  } else if (settings.optimize == "mobile") {
    TP_RETURN_IF_ERROR(runStage("optimizing for mobile (optimize_for_mobile)", [&] { module = jit::optimizeForMobile(module); }));
  }

  const bool lite = settings.format == "lite";
  TP_RETURN_IF_ERROR(writeFileAtomically(settings.path, [&](std::ostream& out) -> Status {
    return runStage(lite ? "writing the lite-interpreter archive (_save_for_mobile)" : "writing the archive (torch.jit.save)",
                    [&] {
                      if (lite) {
                        module._save_for_mobile(out);
                      } else {
                        module.save(out);
                      }
                    });
  }));

  OptionValue::List outputs;
  for (const std::string& name : build.outputNames) outputs.push_back(stringValue(name));
  context.report("torchscript.path", stringValue(settings.path.string()));
  context.report("torchscript.format", stringValue(settings.format));
  context.report("torchscript.frozen", boolValue(settings.freeze));
  context.report("torchscript.optimize", stringValue(settings.optimize));
  context.report("torchscript.saved_parameters", intValue(static_cast<int64_t>(build.parameterNames.size())));
  context.report("torchscript.outputs", OptionValue(OptionValue::Data(std::in_place_type<OptionValue::List>, std::move(outputs))));
  std::string outputList;
  for (const std::string& name : build.outputNames) outputList += (outputList.empty() ? "" : ", ") + name;
  context.diag().info("save-torchscript: wrote " + settings.path.string() + " (" + (lite ? "lite" : "full") +
                      (settings.freeze ? ", frozen" : "") +
                      (settings.optimize != "none" ? ", optimized for " + settings.optimize : std::string()) +
                      "); forward returns " + (build.outputNames.size() == 1 ? "" : "a tuple: ") + outputList);
  return Status::ok();
}

}  // namespace torchport::torchscript
