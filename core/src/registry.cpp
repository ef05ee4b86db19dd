// The registry of passes, exporters, importers, converters and kernels. Entries live in
// node-based containers (or behind unique_ptr) so pointers handed out stay valid while
// other plugins register more. Transactions journal every addition so that a plugin
// failing half-way through registration can be rolled back completely.
#include "torchport/registry.h"

#include <algorithm>
#include <cctype>

namespace torchport {

namespace {

enum class Category : uint8_t { Pass, Exporter, Importer, Converter, Kernel };

constexpr int kUnboundedVersion = 1 << 30;  // ConverterEntry::maxVersion default

std::string converterLabel(const ConverterEntry& entry) {
  std::string label = entry.opKind + "->" + entry.target;
  if (entry.minVersion == 0 && entry.maxVersion >= kUnboundedVersion) return label;
  label += "[" + std::to_string(entry.minVersion) + ",";
  label += entry.maxVersion >= kUnboundedVersion ? std::string("*") : std::to_string(entry.maxVersion);
  return label + "]";
}

// Step and kind names are identifiers; whitespace or empty names would make configs ambiguous.
Status checkName(std::string_view what, std::string_view name, const std::string& owner) {
  if (name.empty()) return Status::internal("plugin '" + owner + "' registered a " + std::string(what) + " with an empty name");
  for (char c : name) {
    if (std::isspace(static_cast<unsigned char>(c)) != 0 || c == ',' || c == '{' || c == '}' || c == '(' || c == ')') {
      return Status::internal("plugin '" + owner + "' registered " + std::string(what) + " '" + std::string(name) +
                              "' whose name contains '" + std::string(1, c) +
                              "'; names may not contain whitespace, commas, braces or parentheses");
    }
  }
  return Status::ok();
}

bool hasQualifiedKind(std::string_view kind) {
  size_t sep = kind.find("::");
  return sep != std::string_view::npos && sep > 0 && sep + 2 < kind.size();
}

bool endsWithIgnoringCase(std::string_view text, std::string_view suffix) {
  if (suffix.empty() || suffix.size() > text.size()) return false;
  text.remove_prefix(text.size() - suffix.size());
  for (size_t i = 0; i < suffix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) != std::tolower(static_cast<unsigned char>(suffix[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

struct Registry::Impl {
  using ConverterKey = std::pair<std::string, std::string>;  // (opKind, target)

  std::map<std::string, PassEntry, std::less<>> passes;
  std::map<std::string, ExporterEntry, std::less<>> exporters;
  std::map<std::string, ImporterEntry, std::less<>> importers;
  std::map<ConverterKey, std::vector<std::unique_ptr<ConverterEntry>>> converters;
  std::map<std::string, KernelEntry, std::less<>> kernels;

  std::string owner = "core";

  // One journal record per addition made inside a transaction.
  struct Added {
    Category category;
    std::string key;
    std::string target;              // converters only
    const ConverterEntry* converter;  // converters only
  };
  std::vector<Added> journal;
  std::vector<size_t> transactionMarks;  // journal size at each beginTransaction
  std::vector<Status> transactionErrors;  // errors add* returned inside the transaction

  Status noteError(Status status) {
    if (!status.isOk() && !transactionMarks.empty()) transactionErrors.push_back(status);
    return status;
  }

  void record(Added added) {
    if (!transactionMarks.empty()) journal.push_back(std::move(added));
  }

  void undo(const Added& added) {
    switch (added.category) {
      case Category::Pass: passes.erase(added.key); break;
      case Category::Exporter: exporters.erase(added.key); break;
      case Category::Importer: importers.erase(added.key); break;
      case Category::Kernel: kernels.erase(added.key); break;
      case Category::Converter: {
        auto it = converters.find({added.key, added.target});
        if (it == converters.end()) break;
        auto& list = it->second;
        list.erase(std::remove_if(list.begin(), list.end(),
                                  [&](const auto& entry) { return entry.get() == added.converter; }),
                   list.end());
        if (list.empty()) converters.erase(it);
        break;
      }
    }
  }

  // Passes and exporters share one namespace: both are pipeline step names.
  Status checkStepNameFree(std::string_view what, const std::string& name) const {
    if (auto it = passes.find(name); it != passes.end()) {
      return Status::internal(std::string(what) + " '" + name + "' is already registered by plugin '" +
                              it->second.plugin + "'" +
                              (what == "pass" ? std::string() : std::string(" (as a pass)")));
    }
    if (auto it = exporters.find(name); it != exporters.end()) {
      return Status::internal(std::string(what) + " '" + name + "' is already registered by plugin '" +
                              it->second.plugin + "'" +
                              (what == "exporter" ? std::string() : std::string(" (as an exporter)")));
    }
    return Status::ok();
  }
};

Registry::Registry() : impl_(std::make_unique<Impl>()) {}
Registry::~Registry() = default;

// ---------------------------------------------------------------------------------------
// Registration
// ---------------------------------------------------------------------------------------
Status Registry::addPass(PassInfo info, PassFn run, OptionsValidateFn validate) {
  // Every error is also noted for transactionErrors().
  return impl_->noteError([&]() -> Status {
    TP_RETURN_IF_ERROR(checkName("pass", info.name, impl_->owner));
    if (!run) return Status::internal("plugin '" + impl_->owner + "' registered pass '" + info.name + "' without a run function");
    TP_RETURN_IF_ERROR(impl_->checkStepNameFree("pass", info.name));
    std::string name = info.name;
    PassEntry entry{std::move(info), std::move(run), std::move(validate), impl_->owner};
    impl_->passes.emplace(name, std::move(entry));
    impl_->record({Category::Pass, name, {}, nullptr});
    return Status::ok();
  }());
}

Status Registry::addImporter(ImporterInfo info, SniffFn sniff, ImportFn import, OptionsValidateFn validate) {
  // Every error is also noted for transactionErrors().
  return impl_->noteError([&]() -> Status {
    TP_RETURN_IF_ERROR(checkName("importer", info.format, impl_->owner));
    if (!import) {
      return Status::internal("plugin '" + impl_->owner + "' registered importer '" + info.format +
                              "' without an import function");
    }
    if (auto it = impl_->importers.find(info.format); it != impl_->importers.end()) {
      return Status::internal("importer '" + info.format + "' is already registered by plugin '" + it->second.plugin + "'");
    }
    std::string format = info.format;
    ImporterEntry entry{std::move(info), std::move(sniff), std::move(import), std::move(validate), impl_->owner};
    impl_->importers.emplace(format, std::move(entry));
    impl_->record({Category::Importer, format, {}, nullptr});
    return Status::ok();
  }());
}

Status Registry::addExporter(PassInfo info, std::string format, std::vector<std::string> extensions,
                             std::function<Status(const Graph&, PassContext&)> run, OptionsValidateFn validate) {
  // Every error is also noted for transactionErrors().
  return impl_->noteError([&]() -> Status {
    TP_RETURN_IF_ERROR(checkName("exporter", info.name, impl_->owner));
    if (!run) {
      return Status::internal("plugin '" + impl_->owner + "' registered exporter '" + info.name + "' without a run function");
    }
    TP_RETURN_IF_ERROR(impl_->checkStepNameFree("exporter", info.name));
    info.kind = StepKind::Export;
    std::string name = info.name;
    ExporterEntry entry{std::move(info), std::move(format), std::move(extensions), std::move(run), std::move(validate),
                        impl_->owner};
    impl_->exporters.emplace(name, std::move(entry));
    impl_->record({Category::Exporter, name, {}, nullptr});
    return Status::ok();
  }());
}

Status Registry::addConverter(ConverterEntry entry) {
  // Every error is also noted for transactionErrors().
  return impl_->noteError([&]() -> Status {
    const std::string& owner = impl_->owner;
    if (!hasQualifiedKind(entry.opKind)) {
      return Status::internal("plugin '" + owner + "' registered a converter for '" + entry.opKind +
                              "'; op kinds must be qualified as domain::name (e.g. aten::conv2d)");
    }
    TP_RETURN_IF_ERROR(checkName("converter target", entry.target, owner));
    if (!entry.convert) {
      return Status::internal("plugin '" + owner + "' registered converter " + converterLabel(entry) +
                              " without a convert function");
    }
    if (entry.minVersion > entry.maxVersion) {
      return Status::internal("plugin '" + owner + "' registered converter " + converterLabel(entry) +
                              " with an empty version range (min " + std::to_string(entry.minVersion) + " > max " +
                              std::to_string(entry.maxVersion) + ")");
    }
    auto& list = impl_->converters[{entry.opKind, entry.target}];
    for (const auto& existing : list) {
      bool overlaps = entry.minVersion <= existing->maxVersion && existing->minVersion <= entry.maxVersion;
      if (overlaps) {
        std::string message = "converter " + converterLabel(entry) + " is already registered by plugin '" +
                              existing->plugin + "'";
        if (existing->minVersion != entry.minVersion || existing->maxVersion != entry.maxVersion) {
          message += " as " + converterLabel(*existing) + " (version ranges of one op and target must not overlap)";
        }
        return Status::internal(message);
      }
    }
    entry.plugin = owner;
    auto stored = std::make_unique<ConverterEntry>(std::move(entry));
    const ConverterEntry* pointer = stored.get();
    list.push_back(std::move(stored));
    std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) { return a->minVersion < b->minVersion; });
    impl_->record({Category::Converter, pointer->opKind, pointer->target, pointer});
    return Status::ok();
  }());
}

Status Registry::addKernel(KernelEntry entry) {
  // Every error is also noted for transactionErrors().
  return impl_->noteError([&]() -> Status {
    const std::string& owner = impl_->owner;
    if (!hasQualifiedKind(entry.opKind)) {
      return Status::internal("plugin '" + owner + "' registered a kernel for '" + entry.opKind +
                              "'; op kinds must be qualified (onnx::Shape) or a domain wildcard (aten::*)");
    }
    if (!entry.evaluate) {
      return Status::internal("plugin '" + owner + "' registered kernel '" + entry.opKind + "' without an evaluate function");
    }
    if (auto it = impl_->kernels.find(entry.opKind); it != impl_->kernels.end()) {
      return Status::internal("kernel '" + entry.opKind + "' is already registered by plugin '" + it->second.plugin + "'");
    }
    entry.plugin = owner;
    std::string kind = entry.opKind;
    impl_->kernels.emplace(kind, std::move(entry));
    impl_->record({Category::Kernel, kind, {}, nullptr});
    return Status::ok();
  }());
}

// ---------------------------------------------------------------------------------------
// Lookup
// ---------------------------------------------------------------------------------------
const PassEntry* Registry::findPass(std::string_view name) const {
  auto it = impl_->passes.find(name);
  return it == impl_->passes.end() ? nullptr : &it->second;
}

const ExporterEntry* Registry::findExporter(std::string_view name) const {
  auto it = impl_->exporters.find(name);
  return it == impl_->exporters.end() ? nullptr : &it->second;
}

const ExporterEntry* Registry::findExporterForPath(const std::filesystem::path& path) const {
  // The longest matching extension wins (".tar.gz" over ".gz"); ties go to the first name.
  const std::string filename = path.filename().string();
  const ExporterEntry* best = nullptr;
  size_t bestLength = 0;
  for (const auto& [name, entry] : impl_->exporters) {
    for (const std::string& extension : entry.extensions) {
      if (endsWithIgnoringCase(filename, extension) && extension.size() > bestLength) {
        best = &entry;
        bestLength = extension.size();
      }
    }
  }
  return best;
}

const ImporterEntry* Registry::findImporter(std::string_view format) const {
  auto it = impl_->importers.find(format);
  return it == impl_->importers.end() ? nullptr : &it->second;
}

const ImporterEntry* Registry::sniffImporter(std::span<const std::byte> head, const std::filesystem::path& path) const {
  const std::string filename = path.filename().string();
  const ImporterEntry* best = nullptr;
  int bestScore = 0;
  for (const auto& [format, entry] : impl_->importers) {
    int score = 0;
    if (entry.sniff) {
      // A sniffer is plugin code looking at arbitrary bytes; one that throws simply
      // does not claim the file.
      try {
        score = entry.sniff(head, path);
      } catch (...) {
        score = 0;
      }
    } else {
      // No sniffer: the extension is all we can go on.
      for (const std::string& extension : entry.info.extensions) {
        if (endsWithIgnoringCase(filename, extension)) score = 50;
      }
    }
    if (score > bestScore) {
      best = &entry;
      bestScore = score;
    }
  }
  return best;
}

const ConverterEntry* Registry::findConverter(std::string_view opKind, std::string_view target, int version) const {
  auto it = impl_->converters.find({std::string(opKind), std::string(target)});
  if (it == impl_->converters.end()) return nullptr;
  for (const auto& entry : it->second) {
    if (entry->minVersion <= version && version <= entry->maxVersion) return entry.get();
  }
  return nullptr;
}

std::vector<const ConverterEntry*> Registry::converters(std::string_view target) const {
  std::vector<const ConverterEntry*> out;
  for (const auto& [key, list] : impl_->converters) {  // sorted by (opKind, target)
    if (key.second != target) continue;
    for (const auto& entry : list) out.push_back(entry.get());
  }
  return out;
}

const KernelEntry* Registry::findKernel(std::string_view opKind) const {
  if (auto it = impl_->kernels.find(opKind); it != impl_->kernels.end()) return &it->second;
  size_t sep = opKind.find("::");
  if (sep == std::string_view::npos) return nullptr;
  std::string wildcard = std::string(opKind.substr(0, sep)) + "::*";
  auto it = impl_->kernels.find(wildcard);
  return it == impl_->kernels.end() ? nullptr : &it->second;
}

std::vector<const PassEntry*> Registry::passes() const {
  std::vector<const PassEntry*> out;
  for (const auto& [name, entry] : impl_->passes) out.push_back(&entry);
  return out;
}

std::vector<const ExporterEntry*> Registry::exporters() const {
  std::vector<const ExporterEntry*> out;
  for (const auto& [name, entry] : impl_->exporters) out.push_back(&entry);
  return out;
}

std::vector<const ImporterEntry*> Registry::importers() const {
  std::vector<const ImporterEntry*> out;
  for (const auto& [format, entry] : impl_->importers) out.push_back(&entry);
  return out;
}

std::vector<const KernelEntry*> Registry::kernels() const {
  std::vector<const KernelEntry*> out;
  for (const auto& [kind, entry] : impl_->kernels) out.push_back(&entry);
  return out;
}

std::vector<std::string> Registry::stepNames() const {
  std::vector<std::string> names;
  for (const auto& [name, entry] : impl_->passes) names.push_back(name);
  for (const auto& [name, entry] : impl_->exporters) names.push_back(name);
  std::sort(names.begin(), names.end());
  return names;
}

// ---------------------------------------------------------------------------------------
// Ownership and transactions
// ---------------------------------------------------------------------------------------
void Registry::setCurrentOwner(std::string owner) { impl_->owner = std::move(owner); }
const std::string& Registry::currentOwner() const { return impl_->owner; }

void Registry::beginTransaction() {
  if (impl_->transactionMarks.empty()) impl_->transactionErrors.clear();
  impl_->transactionMarks.push_back(impl_->journal.size());
}

void Registry::commitTransaction() {
  if (impl_->transactionMarks.empty()) return;
  impl_->transactionMarks.pop_back();
  // Committing the outermost transaction makes everything permanent.
  if (impl_->transactionMarks.empty()) {
    impl_->journal.clear();
    impl_->transactionErrors.clear();
  }
}

void Registry::rollbackTransaction() {
  if (impl_->transactionMarks.empty()) return;
  size_t mark = impl_->transactionMarks.back();
  impl_->transactionMarks.pop_back();
  while (impl_->journal.size() > mark) {
    impl_->undo(impl_->journal.back());
    impl_->journal.pop_back();
  }
  if (impl_->transactionMarks.empty()) impl_->transactionErrors.clear();
}

const std::vector<Status>& Registry::transactionErrors() const { return impl_->transactionErrors; }

std::vector<std::string> Registry::namesOwnedBy(std::string_view owner) const {
  std::vector<std::string> names;
  for (const auto& [name, entry] : impl_->passes) {
    if (entry.plugin == owner) names.push_back("pass:" + name);
  }
  for (const auto& [name, entry] : impl_->exporters) {
    if (entry.plugin == owner) names.push_back("exporter:" + name);
  }
  for (const auto& [format, entry] : impl_->importers) {
    if (entry.plugin == owner) names.push_back("importer:" + format);
  }
  for (const auto& [key, list] : impl_->converters) {
    for (const auto& entry : list) {
      if (entry->plugin == owner) names.push_back("converter:" + converterLabel(*entry));
    }
  }
  for (const auto& [kind, entry] : impl_->kernels) {
    if (entry.plugin == owner) names.push_back("kernel:" + kind);
  }
  return names;
}

}  // namespace torchport
