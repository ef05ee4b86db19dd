#include "test_support.h"

#include <algorithm>
#include <fstream>
#include <random>

#include "registration.h"
#include "torchport/text_ir.h"

namespace torchport::onnxtest {

TempDir::TempDir() {
  std::random_device entropy;
  path_ = std::filesystem::temp_directory_path() / ("torchport-onnx-test-" + std::to_string(entropy()) + std::to_string(entropy()));
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::vector<std::string> TempDir::files() const {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(path_)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

OnnxEnv::OnnxEnv() {
  Status registered = onnxplugin::registerOnnxPlugin(registry_);
  if (!registered.isOk()) throw std::runtime_error("registering the ONNX plugin failed: " + registered.message());
  context_ = std::make_unique<PassContext>(registry_, diagnostics_, progress_);
}

Expected<std::unique_ptr<Graph>> OnnxEnv::parse(std::string_view ir, bool fillWeights) {
  TP_ASSIGN_OR_RETURN(std::unique_ptr<Graph> graph, parseGraph(ir, "<test>"));
  if (fillWeights) fillElidedConstants(*graph);
  return graph;
}

namespace {
Expected<Options> stepOptions(const Registry& registry, std::string_view step, const OptionValue& given) {
  if (const PassEntry* pass = registry.findPass(step)) return validateOptions(step, pass->info.options, given);
  if (const ExporterEntry* exporter = registry.findExporter(step)) {
    TP_ASSIGN_OR_RETURN(Options options, validateOptions(step, exporter->info.options, given));
    if (exporter->validate) TP_RETURN_IF_ERROR(exporter->validate(options));
    return options;
  }
  return Status::internal("no step " + std::string(step));
}
}  // namespace

Status OnnxEnv::lower(Graph& graph, int opset) {
  TP_ASSIGN_OR_RETURN(Options options, stepOptions(registry_, "lower-to-onnx", map({{"opset", integer(opset)}})));
  context_->setOptions(std::move(options));
  const PassEntry* pass = registry_.findPass("lower-to-onnx");
  TP_RETURN_IF_ERROR(pass->run(graph, *context_));
  return graph.verify();
}

Status OnnxEnv::save(const Graph& graph, const OptionValue& options) {
  TP_ASSIGN_OR_RETURN(Options validated, stepOptions(registry_, "save-onnx", options));
  context_->setOptions(std::move(validated));
  return registry_.findExporter("save-onnx")->run(graph, *context_);
}

Status OnnxEnv::lowerAndSave(Graph& graph, int opset, const std::filesystem::path& dir, onnx::ModelProto& model,
                             const OptionValue& extraOptions) {
  TP_RETURN_IF_ERROR(lower(graph, opset));
  OptionValue::Map options{{"path", str((dir / "model.onnx").string())}};
  if (extraOptions.isMap())
    for (const auto& entry : extraOptions.asMap()) options.push_back(entry);
  TP_RETURN_IF_ERROR(save(graph, map(std::move(options))));
  TP_ASSIGN_OR_RETURN(model, loadModel(dir / "model.onnx"));
  return Status::ok();
}

void fillElidedConstants(Graph& graph) {
  uint32_t seed = 1;
  for (Node* node : graph.nodes()) {
    for (const auto& [name, attribute] : node->attributes())
      if (const auto* g = std::get_if<GraphPtr>(&attribute); g != nullptr && *g != nullptr) fillElidedConstants(**g);
    if (!node->isConstant()) continue;
    const Tensor* t = node->tensorAttr("value");
    if (t == nullptr || t->hasData()) continue;
    std::vector<std::byte> bytes(t->nbytes());
    std::mt19937 random(seed++);
    if (t->dtype() == DType::F32) {
      std::uniform_real_distribution<float> dist(-0.5f, 0.5f);
      for (size_t i = 0; i + 4 <= bytes.size(); i += 4) {
        float v = dist(random);
        std::memcpy(bytes.data() + i, &v, 4);
      }
    }
    node->setAttribute("value", Tensor(t->dtype(), t->shape(), Storage::owned(std::move(bytes))));
  }
}

OptionValue str(std::string v) { return OptionValue(OptionValue::Data(std::in_place_type<std::string>, std::move(v))); }
OptionValue integer(int64_t v) { return OptionValue(OptionValue::Data(std::in_place_type<int64_t>, v)); }
OptionValue boolean(bool v) { return OptionValue(OptionValue::Data(std::in_place_type<bool>, v)); }
OptionValue list(OptionValue::List v) { return OptionValue(OptionValue::Data(std::in_place_type<OptionValue::List>, std::move(v))); }
OptionValue map(OptionValue::Map v) { return OptionValue(OptionValue::Data(std::in_place_type<OptionValue::Map>, std::move(v))); }

std::vector<std::string> opTypes(const onnx::ModelProto& model) {
  std::vector<std::string> out;
  for (const auto& node : model.graph().node()) out.push_back(node.op_type());
  return out;
}

bool hasOp(const onnx::ModelProto& model, std::string_view opType) {
  for (const auto& node : model.graph().node())
    if (node.op_type() == opType) return true;
  return false;
}

Expected<onnx::ModelProto> loadModel(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::input("cannot open " + path.string());
  onnx::ModelProto model;
  if (!model.ParseFromIstream(&in)) return Status::input("cannot parse " + path.string());
  return model;
}

}  // namespace torchport::onnxtest
