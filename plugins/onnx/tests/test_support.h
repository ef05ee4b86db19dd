// Shared helpers for the ONNX plugin tests: a registry with the plugin registered, a pass
// context, textual IR parsing with elided weights filled in, lower + save + reload.
#pragma once

#include <onnx/onnx_pb.h>

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "torchport/host/diagnostics.h"
#include "torchport/ir.h"
#include "torchport/registry.h"

namespace torchport::onnxtest {

class RecordingDiagnostics final : public Diagnostics {
 public:
  void log(LogLevel, std::string_view message) override { messages.emplace_back(message); }
  std::vector<std::string> messages;
};

// A scratch directory removed at the end of the test.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::vector<std::string> files() const;  // names of the files inside, sorted

 private:
  std::filesystem::path path_;
};

class OnnxEnv {
 public:
  OnnxEnv();
  Registry& registry() { return registry_; }
  PassContext& context() { return *context_; }
  RecordingDiagnostics& diagnostics() { return diagnostics_; }

  // Parses IR (asserting success in the caller) and gives elided constants real data.
  Expected<std::unique_ptr<Graph>> parse(std::string_view ir, bool fillWeights = true);
  // Runs lower-to-onnx{opset} on `graph`.
  Status lower(Graph& graph, int opset);
  // Runs save-onnx with `options` (a map as in YAML; path is required).
  Status save(const Graph& graph, const OptionValue& options);
  // lower + save to `dir/model.onnx`; on success loads the written ModelProto into `model`.
  Status lowerAndSave(Graph& graph, int opset, const std::filesystem::path& dir, onnx::ModelProto& model,
                      const OptionValue& extraOptions = {});

 private:
  Registry registry_;
  RecordingDiagnostics diagnostics_;
  NullProgress progress_;
  std::unique_ptr<PassContext> context_;
};

// Deterministic data for every constant tensor without data (elided in textual IR).
void fillElidedConstants(Graph& graph);

// Options map helpers.
OptionValue str(std::string v);
OptionValue integer(int64_t v);
OptionValue boolean(bool v);
OptionValue list(OptionValue::List v);
OptionValue map(OptionValue::Map v);

// Op types of the main graph's nodes, in order.
std::vector<std::string> opTypes(const onnx::ModelProto& model);
bool hasOp(const onnx::ModelProto& model, std::string_view opType);
Expected<onnx::ModelProto> loadModel(const std::filesystem::path& path);

}  // namespace torchport::onnxtest
