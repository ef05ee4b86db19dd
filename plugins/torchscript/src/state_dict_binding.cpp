#include "state_dict_binding.h"

#include <torch/csrc/autograd/grad_mode.h>
#include <torch/script.h>

#include <map>
#include <set>

#include "torch_save_reader.h"

namespace torchport::torchscript {

using pickle::Value;
using pickle::ValuePtr;
using Kind = Value::Kind;

namespace {

OptionValue stringList(const std::vector<std::string>& values) {
  OptionValue::List list;
  for (const std::string& value : values) list.push_back(stringValue(value));
  return OptionValue(OptionValue::Data(std::in_place_type<OptionValue::List>, std::move(list)));
}

std::string shapeText(const at::Tensor& tensor) {
  std::string text = "[";
  for (size_t i = 0; i < tensor.sizes().size(); ++i) text += (i > 0 ? ", " : "") + std::to_string(tensor.sizes()[i]);
  return text + "]";
}

std::string typeText(const at::Tensor& tensor) {
  return std::string(c10::toString(tensor.scalar_type())) + shapeText(tensor);
}

size_t directTensorCount(const Value& dict) {
  size_t count = 0;
  for (const auto& entry : dict.entries) count += entry.second->kind == Kind::Tensor ? 1 : 0;
  return count;
}

// The dictionary to bind: the file's root, or its `key` entry (a dotted path into nested
// dictionaries also works: "state.model").
Expected<ValuePtr> selectStateDict(const TorchSaveFile& file, const WeightsBinding& binding, const std::string& at) {
  const std::string name = file.path.string();
  if (file.root->kind != Kind::Dict) {
    return Status::input(at + name + " holds a " + file.root->describe() +
                         ", not a dictionary of tensors; save model.state_dict()");
  }
  auto keysOf = [](const Value& dict) {
    std::string keys;
    for (const auto& [key, item] : dict.entries) {
      if (!key->isString()) continue;
      keys += (keys.empty() ? "" : ", ") + key->text;
      if (item->kind == Kind::Dict) keys += " (dict, " + std::to_string(directTensorCount(*item)) + " tensors)";
    }
    return keys.empty() ? std::string("none") : keys;
  };
  if (binding.key.empty()) {
    if (directTensorCount(*file.root) > 0 || file.root->entries.empty()) return file.root;
    return Status::input(at + name + " is not a flat state_dict: it holds no tensors at its top level, only " +
                         keysOf(*file.root) +
                         ". It looks like a training checkpoint; select the model's weights with input: weights_key: "
                         "<entry> (e.g. model_state_dict)");
  }
  if (auto exact = std::find_if(file.root->entries.begin(), file.root->entries.end(),
                                [&](const auto& entry) { return entry.first->isString() && entry.first->text == binding.key; });
      exact != file.root->entries.end()) {
    if (exact->second->kind != Kind::Dict) {
      return Status::input(at + "weights_key '" + binding.key + "' of " + name + " is a " + exact->second->describe() +
                           ", not a dictionary of tensors");
    }
    return exact->second;
  }
  ValuePtr cursor = file.root;
  size_t start = 0;
  while (start <= binding.key.size()) {
    size_t dot = binding.key.find('.', start);
    const std::string part = binding.key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    ValuePtr next;
    if (cursor->kind == Kind::Dict) {
      for (const auto& [key, item] : cursor->entries) {
        if (key->isString() && key->text == part) next = item;
      }
    }
    if (!next) {
      return Status::input(at + "weights_key '" + binding.key + "' is not an entry of " + name +
                           "; its top-level entries are: " + keysOf(*file.root));
    }
    cursor = next;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (cursor->kind != Kind::Dict) {
    return Status::input(at + "weights_key '" + binding.key + "' of " + name + " is a " + cursor->describe() +
                         ", not a dictionary of tensors");
  }
  return cursor;
}

}  // namespace

Status bindStateDict(torch::jit::Module& module, const WeightsBinding& binding, PassContext& context) {
  const std::string at = binding.where.line > 0 ? binding.where.toString() + ": input.weights: " : "input.weights: ";
  const std::string name = binding.path.string();
  Expected<TorchSaveFile> file = readTorchSaveFile(binding.path);
  if (!file) return file.status().withContext(at.substr(0, at.size() - 2));
  if (Status refused = refuseUnlessWeightsOnly(*file); !refused.isOk()) return refused.withContext(at.substr(0, at.size() - 2));
  TP_ASSIGN_OR_RETURN(ValuePtr dict, selectStateDict(*file, binding, at));
  TP_ASSIGN_OR_RETURN(std::vector<SavedTensor> saved, collectTensors(*file, dict));

  // What model.state_dict() would list: parameters, then buffers, recursively.
  std::vector<std::pair<std::string, at::Tensor>> expected;
  std::set<std::string> expectedNames;
  try {
    for (const auto& parameter : module.named_parameters(true)) {
      if (expectedNames.insert(parameter.name).second) expected.emplace_back(parameter.name, parameter.value);
    }
    for (const auto& buffer : module.named_buffers(true)) {
      if (expectedNames.insert(buffer.name).second) expected.emplace_back(buffer.name, buffer.value);
    }
  } catch (const std::exception& error) {
    return Status::internal(at + "listing the module's parameters failed in LibTorch: " + std::string(error.what()));
  }
  std::map<std::string, const SavedTensor*> byName;
  for (const SavedTensor& tensor : saved) byName.emplace(tensor.name, &tensor);

  std::vector<std::string> missing, unexpected, mismatched;
  std::vector<std::pair<at::Tensor, const at::Tensor*>> copies;
  for (const auto& [key, target] : expected) {
    auto found = byName.find(key);
    if (found == byName.end()) {
      missing.push_back(key + " (" + typeText(target) + ")");
      continue;
    }
    const at::Tensor& source = found->second->tensor;
    if (!source.sizes().equals(target.sizes())) {
      mismatched.push_back(key + ": shape " + shapeText(source) + " in the file, " + shapeText(target) + " in the model");
    } else if (source.scalar_type() != target.scalar_type()) {
      mismatched.push_back(key + ": dtype " + std::string(c10::toString(source.scalar_type())) + " in the file, " +
                           std::string(c10::toString(target.scalar_type())) + " in the model");
    } else {
      copies.emplace_back(target, &source);
    }
  }
  for (const SavedTensor& tensor : saved) {
    if (expectedNames.count(tensor.name) == 0) unexpected.push_back(tensor.name + " (" + typeText(tensor.tensor) + ")");
  }

  const size_t problems = missing.size() + unexpected.size() + mismatched.size();
  std::string details;
  auto list = [&](const std::string& title, const std::vector<std::string>& lines) {
    if (lines.empty()) return;
    details += "\n  " + title + " (" + std::to_string(lines.size()) + "):";
    for (const std::string& line : lines) details += "\n    " + line;
  };
  list("missing from the file (the model has them)", missing);
  list("unexpected (in the file, not in the model)", unexpected);
  list("shape or dtype mismatches", mismatched);
  if (problems > 0 && binding.strict) {
    return Status::input(at + name + " does not match the model's parameters and buffers: " +
                         std::to_string(missing.size()) + " missing, " + std::to_string(unexpected.size()) +
                         " unexpected, " + std::to_string(mismatched.size()) + " mismatched" + details +
                         "\nCheck that the weights were saved from the same architecture (a prefix such as 'module.' "
                         "comes from nn.DataParallel: save model.module.state_dict()); set input: strict: false to "
                         "bind only what matches");
  }

  try {
    torch::NoGradGuard noGrad;
    for (auto& [target, source] : copies) target.copy_(*source);
  } catch (const std::exception& error) {
    return Status::internal(at + "copying weights into the module failed in LibTorch: " + std::string(error.what()));
  }

  context.diag().info("torchscript: bound " + std::to_string(copies.size()) + " of " + std::to_string(expected.size()) +
                      " parameters/buffers from " + name + (binding.key.empty() ? "" : " [" + binding.key + "]"));
  if (problems > 0) {
    context.diag().warn("torchscript: input.weights (strict: false): " + name + " left " + std::to_string(problems) +
                        " entr" + (problems == 1 ? "y" : "ies") + " unbound:" + details);
  }
  if (!file->acceleratorDevices.empty()) {
    std::string devices;
    for (const std::string& device : file->acceleratorDevices) devices += (devices.empty() ? "" : ", ") + device;
    context.diag().info("torchscript: " + name + " was saved with tensors on " + devices +
                        "; they were loaded to the CPU");
  }
  context.report("torchscript.weights.file", stringValue(name));
  context.report("torchscript.weights.format", stringValue(file->format));
  context.report("torchscript.weights.bound",
                 intValue(static_cast<int64_t>(copies.size())));
  context.report("torchscript.weights.missing", stringList(missing));
  context.report("torchscript.weights.unexpected", stringList(unexpected));
  context.report("torchscript.weights.mismatched", stringList(mismatched));
  context.report("torchscript.weights.mapped_to_cpu",
                 boolValue(!file->acceleratorDevices.empty()));
  context.report("torchscript.weights.saved_devices", stringList(file->acceleratorDevices));
  return Status::ok();
}

}  // namespace torchport::torchscript
