// Built-in steps of core (core_steps.h): the generic passes, the textual-IR importer
// (format "tpir"), the save-ir exporter and the constant-folding kernels for ONNX shape
// ops. Registered from explicit, ordered tables here; nothing registers itself through
// static initializers.
#include "torchport/host/core_steps.h"

#include <string>

#include "kernels/onnx_shape_kernels.h"
#include "passes/custom_op.h"
#include "passes/passes.h"
#include "torchport/files.h"
#include "torchport/text_ir.h"

namespace torchport {
namespace {

// ---------------------------------------------------------------------------------------
// tpir importer
// ---------------------------------------------------------------------------------------
constexpr int kSniffMagic = 100;      // content starts like textual IR
constexpr int kSniffExtension = 50;   // only the extension says so

bool hasTpirExtension(const std::filesystem::path& path) { return path.extension() == ".tpir"; }

// Textual IR starts with optional blank lines and comments ('#' or '//' to end of line),
// then `graph @`.
int sniffTextualIr(std::span<const std::byte> head, const std::filesystem::path& path) {
  std::string_view text(reinterpret_cast<const char*>(head.data()), head.size());
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // UTF-8 byte order mark
  while (!text.empty()) {
    const char c = text.front();
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      text.remove_prefix(1);
    } else if (c == '#' || text.starts_with("//")) {
      size_t end = text.find('\n');
      if (end == std::string_view::npos) break;  // comment runs past the sniffed head
      text.remove_prefix(end + 1);
    } else {
      break;
    }
  }
  if (text.starts_with("graph")) {
    std::string_view rest = text.substr(5);
    size_t at = rest.find_first_not_of(" \t");
    if (at != std::string_view::npos && at > 0 && rest[at] == '@') return kSniffMagic;
  }
  return hasTpirExtension(path) ? kSniffExtension : 0;
}

Expected<std::unique_ptr<Graph>> importTextualIr(const std::filesystem::path& path, PassContext&) {
  TP_ASSIGN_OR_RETURN(std::string text, readTextFile(path));
  return parseGraph(text, path.string());
}

ImporterInfo tpirImporterInfo() {
  ImporterInfo info;
  info.format = "tpir";
  info.summary = "torchport textual IR (what `torchport inspect --ir` and save-ir print)";
  info.extensions = {".tpir"};
  return info;
}

// ---------------------------------------------------------------------------------------
// save-ir exporter
// ---------------------------------------------------------------------------------------
PassInfo saveIrInfo() {
  PassInfo info;
  info.name = "save-ir";
  info.summary = "Write the graph as textual IR (.tpir)";
  info.description =
      "Writes the graph in torchport's textual IR, which the tpir importer reads back exactly. The file is written "
      "atomically (temporary file + rename). Use elide_above to leave out the data of large tensors (the file then "
      "documents the graph but cannot be converted further).";
  info.kind = StepKind::Export;

  OptionSpec path;
  path.name = "path";
  path.type = OptionType::String;
  path.required = true;
  path.doc = "output file (relative paths resolve against the config file's directory)";

  OptionSpec elide;
  elide.name = "elide_above";
  elide.type = OptionType::Int;
  elide.defaultValue = OptionValue(OptionValue::Data(int64_t{-1}));
  elide.minInt = -1;
  elide.doc = "print tensors with more elements than this as shape only; -1 prints all data";

  info.options = {std::move(path), std::move(elide)};
  return info;
}

Status saveIr(const Graph& graph, PassContext& context) {
  const std::filesystem::path path = context.resolvePath(context.options().getString("path"));
  PrintOptions options;
  options.elideTensorsAbove = context.options().getInt("elide_above", -1);
  TP_RETURN_IF_ERROR(writeFileAtomically(path, printGraph(graph, options)).withContext("save-ir"));
  context.report("save-ir.path", OptionValue(OptionValue::Data(path.string())));
  context.diag().info("wrote " + path.string());
  return Status::ok();
}

// ---------------------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------------------
struct CorePass {
  PassInfo (*info)();
  Status (*run)(Graph&, PassContext&);
};

// Order = registration order (listings sort by name anyway).
constexpr CorePass kCorePasses[] = {
    {eliminateDeadCodeInfo, runEliminateDeadCode},
    {eliminateIdentityInfo, runEliminateIdentity},
    {foldConstantsInfo, runFoldConstants},
    {eliminateCommonSubexpressionsInfo, runEliminateCommonSubexpressions},
    {fuseConvBatchnormInfo, runFuseConvBatchnorm},
    {fuseMatmulAddIntoGemmInfo, runFuseMatmulAddIntoGemm},
    {fuseConvAddBiasInfo, runFuseConvAddBias},
    {fuseConsecutiveTransposesInfo, runFuseConsecutiveTransposes},
    {fuseConsecutiveReshapesInfo, runFuseConsecutiveReshapes},
    {fuseConsecutiveCastsInfo, runFuseConsecutiveCasts},
    {fusePadIntoConvInfo, runFusePadIntoConv},
    {fusePadIntoPoolInfo, runFusePadIntoPool},
    {fuseLayerNormInfo, runFuseLayerNorm},
    {fuseGeluInfo, runFuseGelu},
    {inferShapesInfo, runInferShapes},
    {convertFloatToFloat16Info, runConvertFloatToFloat16},
};

// Built-in constant-folding kernels (kernels/onnx_shape_kernels.cpp), in table order.
Status registerKernels(Registry& registry) {
  for (const BuiltinKernel& builtin : onnxShapeKernels()) {
    KernelEntry entry;
    entry.opKind = std::string(builtin.opKind);
    entry.summary = std::string(builtin.summary);
    entry.evaluate = builtin.evaluate;
    TP_RETURN_IF_ERROR(registry.addKernel(std::move(entry)));
  }
  return Status::ok();
}

Status registerAll(Registry& registry) {
  for (const CorePass& pass : kCorePasses) TP_RETURN_IF_ERROR(registry.addPass(pass.info(), pass.run));
  // custom-op's pre-run check resolves the ops a decomposition uses against the registry.
  TP_RETURN_IF_ERROR(registry.addPass(customOpInfo(), runCustomOp, customOpValidator(registry)));
  TP_RETURN_IF_ERROR(registry.addImporter(tpirImporterInfo(), sniffTextualIr, importTextualIr));
  TP_RETURN_IF_ERROR(registry.addExporter(saveIrInfo(), "tpir", {".tpir"}, saveIr));
  TP_RETURN_IF_ERROR(registerKernels(registry));
  return Status::ok();
}

}  // namespace

Status registerCoreSteps(Registry& registry) {
  const std::string previousOwner = registry.currentOwner();
  registry.setCurrentOwner("core");
  registry.beginTransaction();  // all or nothing
  Status status = registerAll(registry);
  if (status.isOk()) registry.commitTransaction();
  else registry.rollbackTransaction();
  registry.setCurrentOwner(previousOwner);
  return status;
}

}  // namespace torchport
