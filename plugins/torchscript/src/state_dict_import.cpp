// The `state_dict` importer (see state_dict_formats.h).
#include <ATen/ATen.h>

#include <set>

#include "jit_bridge.h"
#include "sniff.h"
#include "state_dict_formats.h"
#include "torch_save_reader.h"

namespace torchport::torchscript {

namespace {


std::string describeTensor(const SavedTensor& saved) {
  std::string text = saved.name + ": " + std::string(c10::toString(saved.tensor.scalar_type())) + "[";
  for (size_t i = 0; i < saved.tensor.sizes().size(); ++i) {
    text += (i > 0 ? ", " : "") + std::to_string(saved.tensor.sizes()[i]);
  }
  text += "]";
  if (saved.savedDevice != "cpu") text += " (saved on " + saved.savedDevice + ")";
  return text;
}

Expected<Tensor> toIrTensor(const at::Tensor& source) {
  auto dtype = dtypeFromScalarType(source.scalar_type());
  if (!dtype) return Status::unsupported(std::string(c10::toString(source.scalar_type())));
  at::Tensor tensor = source.is_contiguous() ? source : source.contiguous();
  auto keepAlive = std::make_shared<const at::Tensor>(tensor);
  const void* data = tensor.numel() == 0 ? nullptr : tensor.data_ptr();
  std::vector<int64_t> shape(tensor.sizes().begin(), tensor.sizes().end());
  return Tensor(*dtype, std::move(shape), Storage::borrowed(data, tensor.nbytes(), std::move(keepAlive)));
}

}  // namespace

int sniffStateDict(std::span<const std::byte> head, const std::filesystem::path&) {
  if (looksLikeLegacyTorchSave(head)) return kSniffLegacyTorchSave;
  const std::vector<std::string> names = zipEntryNamesInHead(head);
  if (names.empty() || head.size() < 4 || std::to_integer<char>(head[0]) != 'P') return 0;
  for (const std::string& name : names) {
    const size_t slash = name.find('/');
    const std::string record = slash == std::string::npos ? name : name.substr(slash + 1);
    if (record.starts_with("code/") || record == "constants.pkl") return 0;  // TorchScript
  }
  const std::string& first = names.front();
  const size_t slash = first.find('/');
  return (slash == std::string::npos ? first : first.substr(slash + 1)) == "data.pkl" ? kSniffTorchSaveArchive : 0;
}

ImporterInfo stateDictImporterInfo() {
  ImporterInfo info;
  info.format = "state_dict";
  info.summary =
      "torch.save files (state_dict, checkpoint; zip or legacy format) read without running code, as a graph whose "
      "outputs are the tensors; bind one onto a TorchScript model with input: weights:";
  info.extensions = {".pth", ".pt", ".bin", ".ckpt"};
  return info;
}

Expected<std::unique_ptr<Graph>> importStateDict(const std::filesystem::path& path, PassContext& context) {
  TP_ASSIGN_OR_RETURN(TorchSaveFile file, readTorchSaveFile(path));
  TP_ASSIGN_OR_RETURN(std::vector<SavedTensor> tensors, collectTensors(file, file.root));
  if (Status refused = refuseUnlessWeightsOnly(file); !refused.isOk()) {
    // The tensors were read as data only, so listing them is safe and helps find the
    // state_dict keys the user will need.
    std::string listing = "\nIts " + std::to_string(tensors.size()) + " tensors (read as data, no code run):";
    for (const SavedTensor& tensor : tensors) listing += "\n  " + describeTensor(tensor);
    return Status::error(refused.kind(), refused.message() + listing);
  }
  if (!file.acceleratorDevices.empty()) {
    std::string devices;
    for (const std::string& device : file.acceleratorDevices) devices += (devices.empty() ? "" : ", ") + device;
    context.diag().info("state_dict: " + path.string() + " was saved with tensors on " + devices +
                        "; they were loaded to the CPU");
  }
  context.report("state_dict.mapped_to_cpu", boolValue(!file.acceleratorDevices.empty()));

  auto graph = std::make_unique<Graph>("state_dict");
  std::set<std::string> seen;
  std::vector<std::string> skipped;
  for (const SavedTensor& saved : tensors) {
    if (!seen.insert(saved.name).second) continue;
    Expected<Tensor> tensor = toIrTensor(saved.tensor);
    if (!tensor) {
      skipped.push_back(saved.name + " (" + tensor.status().message() + ")");
      continue;
    }
    Node* constant = graph->createConstant(std::move(*tensor), nullptr, saved.name);
    constant->setAttribute("param", saved.name);
    graph->addOutput(constant->output(0));
  }
  if (!skipped.empty()) {
    std::string names;
    for (const std::string& name : skipped) names += (names.empty() ? "" : ", ") + name;
    context.diag().warn("state_dict: " + path.string() + ": tensors of element types torchport has no IR type for were "
                        "left out: " + names);
  }
  return graph;
}

}  // namespace torchport::torchscript
