// Plugin host: finds plugin libraries, loads them with Boost.DLL, checks the entry point and
// API version, and runs their registration inside a Registry transaction. Every failure
// class gets its own message (and PluginError) saying what to do; a failing plugin leaves
// nothing registered and never takes the process down.

// Boost.DLL speaks std::filesystem instead of boost::filesystem in this file.
#define BOOST_DLL_USE_STD_FS
#include "torchport/host/plugin_host.h"

#include <dlfcn.h>

#include <algorithm>
#include <array>
#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>
#include <cstdlib>
#include <exception>
#include <spdlog/spdlog.h>
#include <string_view>
#include <system_error>
#include <utility>

#include "torchport/plugin.h"

#ifndef TORCHPORT_INSTALL_PLUGIN_DIR
#define TORCHPORT_INSTALL_PLUGIN_DIR "lib/torchport/plugins"
#endif

namespace torchport {

namespace fs = std::filesystem;

namespace {

constexpr const char* kPluginPathEnv = "TORCHPORT_PLUGIN_PATH";
constexpr std::string_view kPluginFilePrefix = "libtorchport_";
constexpr std::string_view kCoreOwner = "core";  // owner of core's built-in steps
#if defined(_WIN32)
constexpr std::string_view kPluginFileSuffix = ".dll";
#elif defined(__APPLE__)
constexpr std::string_view kPluginFileSuffix = ".dylib";
#else
constexpr std::string_view kPluginFileSuffix = ".so";
#endif
// Room for the reason a failing register_fn writes back.
constexpr size_t kRegistrationErrorCapacity = 4096;

using EntryPointFn = const torchport_plugin_info*();

// RTLD_NOW: an unresolved symbol fails the load right here, with dlerror naming it, instead
//   of aborting the process at the plugin's first call through it.
// RTLD_LOCAL: one plugin's symbols never interpose on another's. Shared dependencies are
//   still loaded once: dlopen reuses an already-loaded soname whatever its scope, so the
//   TorchScript plugin (LibTorch links the system libonnx/libonnx_proto/libprotobuf) and the
//   onnx plugin share one libprotobuf and one copy of the onnx descriptors.
// RTLD_NODELETE: see PluginHost::Library.
boost::dll::load_mode::type pluginLoadMode() {
  return boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local |
         static_cast<boost::dll::load_mode::type>(RTLD_NODELETE);
}

std::string str(const fs::path& path) { return path.string(); }

// Boost's exception text is "...load() failed (dlerror system message: TEXT): <errno text>";
// TEXT is what the user needs ("undefined symbol: ...", "invalid ELF header").
// dlerror itself starts with "PATH: ", which the caller's message already names.
std::string dlerrorText(std::string_view what, const fs::path& path) {
  constexpr std::string_view marker = "(dlerror system message: ";
  const size_t begin = what.find(marker);
  const size_t end = what.rfind(')');
  if (begin == std::string_view::npos || end == std::string_view::npos || end < begin + marker.size()) {
    return std::string(what);
  }
  std::string_view text = what.substr(begin + marker.size(), end - begin - marker.size());
  const std::string pathPrefix = path.string() + ": ";
  if (text.starts_with(pathPrefix) && text.size() > pathPrefix.size()) text.remove_prefix(pathPrefix.size());
  return std::string(text);
}

// Absolute, with symlinks of the existing part resolved: the identity of a plugin file.
fs::path absolutePath(const fs::path& path) {
  std::error_code ec;
  fs::path absolute = fs::absolute(path, ec);
  if (ec) return path;
  fs::path canonical = fs::weakly_canonical(absolute, ec);
  return ec ? absolute.lexically_normal() : canonical;
}

bool isPluginFileName(std::string_view name) {
  if (name.size() <= kPluginFilePrefix.size() + kPluginFileSuffix.size()) return false;
  if (!name.starts_with(kPluginFilePrefix) || !name.ends_with(kPluginFileSuffix)) return false;
  // libtorchport_core.so is the host library itself, not a plugin.
  return name != std::string(kPluginFilePrefix) + "core" + std::string(kPluginFileSuffix);
}

// $TORCHPORT_PLUGIN_PATH (':'-separated, empty entries ignored), then the install's plugin
// directory; each directory once.
std::vector<fs::path> searchDirectories() {
  std::vector<fs::path> dirs;
  if (const char* env = std::getenv(kPluginPathEnv); env != nullptr) {
    std::string_view rest = env;
    while (!rest.empty()) {
      const size_t colon = rest.find(':');
      const std::string_view entry = rest.substr(0, colon);
      if (!entry.empty()) dirs.emplace_back(entry);
      rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
    }
  }
  dirs.push_back(PluginHost::installPluginDir());
  std::vector<fs::path> unique;
  std::vector<fs::path> seen;
  for (const fs::path& dir : dirs) {
    fs::path key = absolutePath(dir);
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) continue;
    seen.push_back(std::move(key));
    unique.push_back(dir);
  }
  return unique;
}

// Where `file` may be. A path with a directory part is taken as given; a bare name
// (`libtorchport_onnx.so`, or just `onnx`) is also looked up in the search directories.
std::vector<fs::path> candidateFiles(const fs::path& file) {
  std::vector<fs::path> candidates{file};
  if (file.has_parent_path() || file.empty()) return candidates;
  const std::string name = file.filename().string();
  const bool bareName = !file.has_extension() && !name.starts_with(kPluginFilePrefix);
  for (const fs::path& dir : searchDirectories()) {
    candidates.push_back(dir / file);
    if (bareName) candidates.push_back(dir / (std::string(kPluginFilePrefix) + name + std::string(kPluginFileSuffix)));
  }
  return candidates;
}

std::string joinPaths(const std::vector<fs::path>& paths) {
  std::string text;
  for (const fs::path& path : paths) {
    if (!text.empty()) text += ", ";
    text += str(absolutePath(path));
  }
  return text;
}

// The Registry reports a name taken by another owner as "... is already registered by
// plugin '<owner>'". (Pinned by the duplicate test in tests/plugins.)
bool isDuplicateNameError(const Status& status) {
  return status.message().find("already registered") != std::string::npos;
}

}  // namespace

// One loaded plugin library.
//
// Loaded with RTLD_NODELETE, so the library stays mapped until the process exits even after
// this object (and its handle) is gone. That is deliberate: the Registry holds
// std::function objects (passes, importers, kernels...) whose code, vtables and manager
// functions live inside the plugin, and the Registry usually outlives the host (a Session
// declares it first, so the host is destroyed first). Unmapping the plugin while they exist
// would make their destructors jump into unmapped memory. LibTorch and protobuf do not
// support being unloaded either (atexit handlers, thread-local destructors). With NODELETE
// the destruction order of Registry and PluginHost does not matter.
struct PluginHost::Library {
  boost::dll::shared_library library;
};

PluginHost::PluginHost(Registry& registry) : registry_(registry) {}

PluginHost::~PluginHost() = default;

Status PluginHost::load(const fs::path& file, bool skipIfLoaded) {
  lastError_ = PluginError::None;
  auto fail = [this](PluginError kind, Status status) {
    lastError_ = kind;
    return status;
  };

  // ---- find the file ----
  const std::vector<fs::path> candidates = candidateFiles(file);
  fs::path found;
  for (const fs::path& candidate : candidates) {
    std::error_code ec;
    if (fs::exists(candidate, ec)) {
      found = candidate;
      break;
    }
  }
  if (found.empty()) {
    return fail(PluginError::NotFound,
                Status::usage("plugin file not found: " + str(file) + " (searched: " + joinPaths(candidates) +
                              "); pass the path of a plugin library (libtorchport_NAME" +
                              std::string(kPluginFileSuffix) + ") or add its directory to " + kPluginPathEnv));
  }
  const fs::path path = absolutePath(found);
  {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      return fail(PluginError::LoadFailed,
                  Status::usage("could not load plugin " + str(path) +
                                ": it is a directory; pass a plugin library file, or add the directory to " +
                                kPluginPathEnv + " to load every plugin in it"));
    }
  }
  for (const LoadedPlugin& loaded : plugins_) {
    if (loaded.path == path) {
      spdlog::debug("plugin {} ({}) is already loaded", loaded.name, str(path));
      return Status::ok();
    }
  }

  // ---- load the library and read its info ----
  auto library = std::make_unique<Library>();
  try {
    library->library.load(path, pluginLoadMode());
  } catch (const std::exception& e) {
    return fail(PluginError::LoadFailed,
                Status::input("could not load plugin " + str(path) + ": " + dlerrorText(e.what(), path) +
                              "; check that it is a shared library built for this platform and that the "
                              "libraries it needs are found (`ldd " + str(path) + "`)"));
  }
  if (!library->library.has(TORCHPORT_PLUGIN_ENTRY_POINT)) {
    return fail(PluginError::NoEntryPoint,
                Status::input(str(path) + " is not a torchport plugin: it does not export " +
                              TORCHPORT_PLUGIN_ENTRY_POINT +
                              "; build it with torchport_add_plugin() and define the entry point with "
                              "TORCHPORT_PLUGIN(name, version, registerFn)"));
  }
  const torchport_plugin_info* info = nullptr;
  try {
    info = library->library.get<EntryPointFn>(TORCHPORT_PLUGIN_ENTRY_POINT)();
  } catch (const std::exception& e) {
    return fail(PluginError::NoEntryPoint, Status::input("plugin " + str(path) + ": " + TORCHPORT_PLUGIN_ENTRY_POINT +
                                                         "() threw: " + e.what()));
  } catch (...) {
    return fail(PluginError::NoEntryPoint, Status::input("plugin " + str(path) + ": " + TORCHPORT_PLUGIN_ENTRY_POINT +
                                                         "() threw an unknown exception"));
  }
  const std::string fix = "; define the entry point with TORCHPORT_PLUGIN(name, version, registerFn)";
  if (info == nullptr) {
    return fail(PluginError::NoEntryPoint, Status::input("plugin " + str(path) + ": " + TORCHPORT_PLUGIN_ENTRY_POINT +
                                                         "() returned null instead of its plugin info" + fix));
  }
  // api_version comes first in every version of torchport_plugin_info, and name second,
  // so both can be read before the version is known to match.
  const std::string name = info->name != nullptr ? std::string(info->name) : std::string();
  if (info->api_version != TORCHPORT_PLUGIN_API_VERSION) {
    const std::string shown = name.empty() ? path.stem().string() : name;
    return fail(PluginError::ApiVersion,
                Status::input("plugin " + shown + " (" + str(path) + ") was built for plugin API version " +
                              std::to_string(info->api_version) + ", this torchport supports " +
                              std::to_string(TORCHPORT_PLUGIN_API_VERSION) + "; rebuild it against this SDK"));
  }
  if (name.empty()) {
    return fail(PluginError::NoEntryPoint,
                Status::input("plugin " + str(path) + " has no name (torchport_plugin_info::name is " +
                              (info->name == nullptr ? "null" : "empty") + ")" + fix));
  }
  if (info->register_fn == nullptr) {
    return fail(PluginError::NoEntryPoint,
                Status::input("plugin " + name + " (" + str(path) +
                              ") has no register function (torchport_plugin_info::register_fn is null)" + fix));
  }
  const std::string version = info->version != nullptr ? std::string(info->version) : std::string();
  if (name == kCoreOwner) {
    return fail(PluginError::Duplicate,
                Status::usage("plugin " + str(path) + " calls itself '" + name +
                              "', a name reserved for torchport's built-in steps; rename the plugin"));
  }
  for (const LoadedPlugin& loaded : plugins_) {
    if (loaded.name != name) continue;
    if (skipIfLoaded) {
      spdlog::debug("skipping plugin {} at {}: already loaded from {}", name, str(path), str(loaded.path));
      return Status::ok();
    }
    return fail(PluginError::Duplicate,
                Status::usage("plugin " + name + " (" + str(path) + ") is already loaded from " + str(loaded.path) +
                              "; load only one of them"));
  }

  // ---- register, all or nothing ----
  const std::string previousOwner = registry_.currentOwner();
  registry_.beginTransaction();
  registry_.setCurrentOwner(name);
  std::array<char, kRegistrationErrorCapacity> errorText{};
  int result = 0;
  std::string thrown;
  try {
    result = info->register_fn(&registry_, errorText.data(), errorText.size());
  } catch (const std::exception& e) {
    thrown = std::string("its register function threw an exception: ") + e.what();
  } catch (...) {
    thrown = "its register function threw an unknown exception (not derived from std::exception)";
  }
  registry_.setCurrentOwner(previousOwner);
  errorText.back() = '\0';  // a plugin may fill the buffer without terminating it
  // A copy: ending the transaction clears them.
  const std::vector<Status> registryErrors = registry_.transactionErrors();
  const bool ignoredError = result == 0 && thrown.empty() && !registryErrors.empty();

  if (result != 0 || !thrown.empty() || ignoredError) {
    registry_.rollbackTransaction();
    std::string reason = thrown;
    if (ignoredError) {
      reason = registryErrors.front().message() + " (its register function ignored this error and reported success)";
    } else if (reason.empty()) {
      reason = errorText.front() != '\0'
                   ? std::string(errorText.data())
                   : "its register function returned " + std::to_string(result) + " without giving a reason";
    }
    const bool duplicate = thrown.empty() && !registryErrors.empty() && isDuplicateNameError(registryErrors.front());
    const std::string prefix = "plugin " + name + " (" + str(path) + ") failed to register: " + reason +
                               "; nothing it registered was kept";
    if (duplicate) {
      return fail(PluginError::Duplicate,
                  Status::usage(prefix + ". Two plugins provide the same name: rename it in one of them, or "
                                         "load only one of the two"));
    }
    return fail(PluginError::RegistrationFailed,
                Status::internal(prefix + ". Report this to the plugin's authors, or remove the plugin from "
                                          "the plugin search path"));
  }
  registry_.commitTransaction();

  LoadedPlugin loaded;
  loaded.name = name;
  loaded.version = version;
  loaded.path = path;
  loaded.provides = registry_.namesOwnedBy(name);
  spdlog::debug("loaded plugin {} {} from {} ({} registrations)", name, version, str(path), loaded.provides.size());
  plugins_.push_back(std::move(loaded));
  libraries_.push_back(std::move(library));
  return Status::ok();
}

Status PluginHost::loadAll(const std::vector<fs::path>& explicitFiles) {
  for (const fs::path& file : explicitFiles) {
    TP_RETURN_IF_ERROR(load(file, /*skipIfLoaded=*/false));
  }

  // Directory scans: a plugin whose name is already loaded (explicitly, or from an earlier
  // directory) is skipped, so earlier entries of the search order shadow later ones.
  std::vector<Status> failures;
  PluginError firstError = PluginError::None;
  for (const fs::path& dir : searchDirectories()) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
      spdlog::debug("plugin directory {} does not exist; skipped", str(dir));
      continue;
    }
    for (const fs::path& file : pluginFilesIn(dir)) {
      Status status = load(file, /*skipIfLoaded=*/true);
      if (status.isOk()) continue;
      if (failures.empty()) firstError = lastError_;
      failures.push_back(std::move(status));
    }
  }
  lastError_ = firstError;
  if (failures.empty()) return Status::ok();

  std::string message = std::to_string(failures.size()) + " plugin" + (failures.size() == 1 ? "" : "s") +
                        " in the plugin search path could not be loaded (the others were):";
  for (const Status& failure : failures) message += "\n  - " + failure.message();
  message += std::string("\nFix or remove these files, or point ") + kPluginPathEnv +
             " at directories that hold only working plugins.";
  return Status::error(failures.front().kind(), std::move(message));
}

fs::path PluginHost::installPluginDir() {
  // program_location() reads /proc/self/exe: symlinks to the executable are resolved, so
  // the directory is found from wherever the binary is run.
  std::error_code ec;
  const fs::path exe = boost::dll::program_location(ec);
  if (ec || exe.empty()) return {};
  const fs::path prefix = exe.parent_path().parent_path();
  const fs::path configured = (prefix / TORCHPORT_INSTALL_PLUGIN_DIR).lexically_normal();
  // The build tree always uses lib/torchport/plugins, even when the install libdir is
  // multiarch (lib/x86_64-linux-gnu).
  const fs::path buildTree = (prefix / "lib" / "torchport" / "plugins").lexically_normal();
  if (!fs::is_directory(configured, ec) && fs::is_directory(buildTree, ec)) return buildTree;
  return configured;
}

std::vector<fs::path> PluginHost::pluginFilesIn(const fs::path& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) return files;
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) break;
    const fs::directory_entry& entry = *it;
    if (!isPluginFileName(entry.path().filename().string())) continue;
    std::error_code typeEc;
    if (!entry.is_regular_file(typeEc)) continue;  // follows symlinks
    files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace torchport
