// Plugin host tests: every failure class with its own message and PluginError, the registry
// left exactly as it was after each failure, the process still usable afterwards, and the
// search order (explicit files, $TORCHPORT_PLUGIN_PATH, the install plugin directory).
// The plugins are built by tests/plugins/CMakeLists.txt; see the layout described there.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "torchport/host/core_steps.h"
#include "torchport/host/diagnostics.h"
#include "torchport/host/plugin_host.h"
#include "torchport/ir.h"
#include "torchport/plugin.h"
#include "torchport/registry.h"

namespace torchport {
namespace {

namespace fs = std::filesystem;

const fs::path kBrokenDir = TP_TEST_BROKEN_DIR;
const fs::path kExplicitGood = fs::path(TP_TEST_EXPLICIT_DIR) / "libtorchport_good.so";
const fs::path kEnv1Dir = TP_TEST_ENV1_DIR;
const fs::path kEnv2Dir = TP_TEST_ENV2_DIR;
const fs::path kInstallDir = TP_TEST_INSTALL_DIR;

fs::path broken(const std::string& name) { return kBrokenDir / ("libtorchport_" + name + ".so"); }
std::string canonicalPath(const fs::path& path) { return fs::canonical(path).string(); }

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Everything a plugin could have added, as one comparable list.
std::vector<std::string> registryContents(const Registry& registry) {
  std::vector<std::string> names;
  for (const std::string& step : registry.stepNames()) names.push_back("step:" + step);
  for (const PassEntry* pass : registry.passes()) names.push_back("pass:" + pass->info.name + "@" + pass->plugin);
  for (const ExporterEntry* e : registry.exporters()) names.push_back("exporter:" + e->info.name + "@" + e->plugin);
  for (const ImporterEntry* i : registry.importers()) names.push_back("importer:" + i->info.format + "@" + i->plugin);
  for (const KernelEntry* k : registry.kernels()) names.push_back("kernel:" + k->opKind + "@" + k->plugin);
  return names;
}

const LoadedPlugin* findPlugin(const PluginHost& host, const std::string& name) {
  for (const LoadedPlugin& plugin : host.plugins()) {
    if (plugin.name == name) return &plugin;
  }
  return nullptr;
}

class RecordingDiagnostics final : public Diagnostics {
 public:
  void log(LogLevel, std::string_view message) override { messages.emplace_back(message); }
  std::vector<std::string> messages;
};

class PluginHostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const char* value = std::getenv("TORCHPORT_PLUGIN_PATH")) savedPluginPath_ = value;
    ::unsetenv("TORCHPORT_PLUGIN_PATH");
    registry_.setCurrentOwner("core");
    ASSERT_TRUE(registerCoreSteps(registry_).isOk());
    ASSERT_NE(registry_.findPass("eliminate-dead-code"), nullptr) << "the duplicate test relies on this core pass";
    coreContents_ = registryContents(registry_);
  }
  void TearDown() override {
    if (savedPluginPath_) {
      ::setenv("TORCHPORT_PLUGIN_PATH", savedPluginPath_->c_str(), 1);
    } else {
      ::unsetenv("TORCHPORT_PLUGIN_PATH");
    }
  }

  static void setPluginPath(const std::string& value) { ::setenv("TORCHPORT_PLUGIN_PATH", value.c_str(), 1); }

  // A failed load: the given class, a message with every expected part, nothing registered,
  // no plugin recorded.
  void expectFailure(const fs::path& file, PluginError expected, const std::vector<std::string>& parts) {
    SCOPED_TRACE(file.string());
    Status status = host_.load(file);
    ASSERT_FALSE(status.isOk());
    EXPECT_EQ(host_.lastError(), expected) << status.message();
    for (const std::string& part : parts) EXPECT_TRUE(contains(status.message(), part)) << status.message();
    EXPECT_EQ(registryContents(registry_), coreContents_);
    EXPECT_EQ(registry_.currentOwner(), "core");
    EXPECT_TRUE(host_.plugins().empty());
  }

  Registry registry_;  // declared before the host, destroyed after it (as in Session)
  PluginHost host_{registry_};
  std::vector<std::string> coreContents_;
  std::optional<std::string> savedPluginPath_;
};

// ---------------------------------------------------------------------------------------
// Failure classes
// ---------------------------------------------------------------------------------------
TEST_F(PluginHostTest, MissingFileIsNotFound) {
  expectFailure("/nonexistent/dir/libtorchport_nothing.so", PluginError::NotFound,
                {"plugin file not found: /nonexistent/dir/libtorchport_nothing.so (searched: "
                 "/nonexistent/dir/libtorchport_nothing.so)",
                 "TORCHPORT_PLUGIN_PATH"});
  EXPECT_EQ(host_.load("/nonexistent/dir/libtorchport_nothing.so").kind(), ErrorKind::Usage);
}

TEST_F(PluginHostTest, BareNameIsSearchedInPluginDirectories) {
  setPluginPath(kEnv2Dir.string());
  expectFailure("nosuchplugin", PluginError::NotFound,
                {"plugin file not found: nosuchplugin (searched: ",
                 canonicalPath(kEnv2Dir) + "/libtorchport_nosuchplugin.so",
                 canonicalPath(kInstallDir) + "/libtorchport_nosuchplugin.so"});

  // "envtwo" resolves to $TORCHPORT_PLUGIN_PATH/libtorchport_envtwo.so.
  Status status = host_.load("envtwo");
  ASSERT_TRUE(status.isOk()) << status.message();
  ASSERT_EQ(host_.plugins().size(), 1u);
  EXPECT_EQ(host_.plugins()[0].name, "env-two");
  EXPECT_EQ(host_.plugins()[0].path.string(), canonicalPath(kEnv2Dir / "libtorchport_envtwo.so"));
}

TEST_F(PluginHostTest, DirectoryIsRefused) {
  expectFailure(kEnv1Dir, PluginError::LoadFailed, {"could not load plugin", "it is a directory", "TORCHPORT_PLUGIN_PATH"});
}

TEST_F(PluginHostTest, GarbageFileReportsDlerror) {
  expectFailure(broken("garbage"), PluginError::LoadFailed,
                {"could not load plugin " + canonicalPath(broken("garbage")) + ": ", "invalid ELF header", "ldd"});
}

TEST_F(PluginHostTest, UnresolvedSymbolFailsAtLoadNotAtCall) {
  expectFailure(broken("undefined"), PluginError::LoadFailed,
                {"could not load plugin", "undefined symbol: torchport_test_symbol_that_does_not_exist"});
}

TEST_F(PluginHostTest, LibraryWithoutEntryPoint) {
  const std::string path = canonicalPath(broken("noentry"));
  expectFailure(broken("noentry"), PluginError::NoEntryPoint,
                {path + " is not a torchport plugin: it does not export torchport_get_plugin_info; build it "
                        "with torchport_add_plugin()"});
}

TEST_F(PluginHostTest, WrongApiVersion) {
  const std::string path = canonicalPath(broken("wrongapi"));
  expectFailure(broken("wrongapi"), PluginError::ApiVersion,
                {"plugin from-the-future (" + path + ") was built for plugin API version " +
                 std::to_string(TORCHPORT_PLUGIN_API_VERSION + 41) + ", this torchport supports " +
                 std::to_string(TORCHPORT_PLUGIN_API_VERSION) + "; rebuild it against this SDK"});
}

TEST_F(PluginHostTest, MalformedPluginInfo) {
  expectFailure(broken("nullinfo"), PluginError::NoEntryPoint,
                {"torchport_get_plugin_info() returned null", "TORCHPORT_PLUGIN("});
  expectFailure(broken("nullname"), PluginError::NoEntryPoint, {"has no name", "is null"});
  expectFailure(broken("emptyname"), PluginError::NoEntryPoint, {"has no name", "is empty"});
  expectFailure(broken("nullregister"), PluginError::NoEntryPoint,
                {"plugin no-register-fn (", "has no register function"});
  expectFailure(broken("corename"), PluginError::Duplicate, {"'core'", "reserved"});
}

TEST_F(PluginHostTest, RegisterThrowingStdExceptionIsRolledBack) {
  expectFailure(broken("throws"), PluginError::RegistrationFailed,
                {"plugin throws (" + canonicalPath(broken("throws")) + ") failed to register",
                 "threw an exception: kaboom: the plugin's registration blew up", "nothing it registered was kept"});
  EXPECT_EQ(registry_.findPass("throws-before-throw"), nullptr);
  EXPECT_EQ(host_.load(broken("throws")).kind(), ErrorKind::Internal);
}

TEST_F(PluginHostTest, RegisterThrowingAnythingElseIsRolledBack) {
  expectFailure(broken("throwsunknown"), PluginError::RegistrationFailed,
                {"plugin throws-unknown (", "unknown exception"});
  EXPECT_EQ(registry_.findPass("throws-unknown-before-throw"), nullptr);
}

TEST_F(PluginHostTest, RegisterReturningErrorTextIsRolledBack) {
  expectFailure(broken("fails"), PluginError::RegistrationFailed,
                {"plugin fails (", "failed to register: the frobnicator library is version 1, this plugin needs "
                                   "version 2; nothing it registered was kept"});
  EXPECT_EQ(registry_.findPass("fails-half-way"), nullptr);
  EXPECT_TRUE(registry_.namesOwnedBy("fails").empty());
}

TEST_F(PluginHostTest, RegisterFailingWithoutReason) {
  expectFailure(broken("failssilently"), PluginError::RegistrationFailed,
                {"plugin fails-silently (", "returned 7 without giving a reason"});
  EXPECT_EQ(registry_.findPass("fails-half-way"), nullptr);
}

TEST_F(PluginHostTest, DuplicateStepNameNamesTheFirstOwner) {
  expectFailure(broken("duplicate"), PluginError::Duplicate,
                {"plugin duplicate (", "'eliminate-dead-code' is already registered by plugin 'core'",
                 "nothing it registered was kept", "rename"});
  EXPECT_EQ(registry_.findPass("duplicate-plugin-own-pass"), nullptr);
  ASSERT_NE(registry_.findPass("eliminate-dead-code"), nullptr);
  EXPECT_EQ(registry_.findPass("eliminate-dead-code")->plugin, "core");
}

TEST_F(PluginHostTest, RegistryErrorIgnoredByThePluginIsStillReported) {
  expectFailure(broken("ignoreserror"), PluginError::Duplicate,
                {"plugin ignores-error (", "'eliminate-dead-code' is already registered by plugin 'core'",
                 "ignored this error and reported success", "nothing it registered was kept"});
  EXPECT_EQ(registry_.findPass("ignores-error-own-pass"), nullptr);
  EXPECT_TRUE(registry_.transactionErrors().empty());
}

TEST_F(PluginHostTest, ProcessSurvivesEveryBrokenPluginAndGoodOnesStillLoad) {
  for (const fs::path& file : PluginHost::pluginFilesIn(kBrokenDir)) {
    EXPECT_FALSE(host_.load(file).isOk()) << file;
    EXPECT_NE(host_.lastError(), PluginError::None) << file;
  }
  EXPECT_EQ(registryContents(registry_), coreContents_);
  Status status = host_.load(kExplicitGood);
  ASSERT_TRUE(status.isOk()) << status.message();
  EXPECT_EQ(host_.lastError(), PluginError::None);
  EXPECT_NE(registry_.findPass("good-tag"), nullptr);
}

// ---------------------------------------------------------------------------------------
// A good plugin
// ---------------------------------------------------------------------------------------
TEST_F(PluginHostTest, GoodPluginIsRecordedAndItsPassRuns) {
  Status status = host_.load(kExplicitGood);
  ASSERT_TRUE(status.isOk()) << status.message();
  EXPECT_EQ(host_.lastError(), PluginError::None);
  ASSERT_EQ(host_.plugins().size(), 1u);
  const LoadedPlugin& plugin = host_.plugins()[0];
  EXPECT_EQ(plugin.name, "good");
  EXPECT_EQ(plugin.version, "1.0.0+explicit");
  EXPECT_EQ(plugin.path.string(), canonicalPath(kExplicitGood));
  EXPECT_EQ(plugin.provides, (std::vector<std::string>{"pass:good-tag", "kernel:tptest_good::identity"}));
  EXPECT_EQ(registry_.currentOwner(), "core");  // the owner is restored after registration

  const PassEntry* pass = registry_.findPass("good-tag");
  ASSERT_NE(pass, nullptr);
  EXPECT_EQ(pass->plugin, "good");

  Graph graph;
  Value* input = graph.addInput(Type::tensor(DType::F32, std::vector<int64_t>{2}), "x");
  std::vector<Value*> inputs{input};
  Node* node = graph.appendNode("test::op", inputs);
  graph.addOutput(node->output());
  RecordingDiagnostics diagnostics;
  NullProgress progress;
  PassContext context(registry_, diagnostics, progress);
  status = pass->run(graph, context);
  ASSERT_TRUE(status.isOk()) << status.message();
  EXPECT_TRUE(context.changed());
  const std::string* tag = node->stringAttr("tagged_by");
  ASSERT_NE(tag, nullptr);
  EXPECT_EQ(*tag, "explicit");
}

TEST_F(PluginHostTest, SamePluginNameFromAnotherFile) {
  ASSERT_TRUE(host_.load(kExplicitGood).isOk());
  const auto afterFirst = registryContents(registry_);

  const fs::path other = kEnv1Dir / "libtorchport_good.so";
  Status status = host_.load(other);
  ASSERT_FALSE(status.isOk());
  EXPECT_EQ(host_.lastError(), PluginError::Duplicate);
  EXPECT_TRUE(contains(status.message(), "plugin good (" + canonicalPath(other) + ") is already loaded from " +
                                             canonicalPath(kExplicitGood)))
      << status.message();

  status = host_.load(other, /*skipIfLoaded=*/true);
  EXPECT_TRUE(status.isOk()) << status.message();
  EXPECT_EQ(host_.lastError(), PluginError::None);
  ASSERT_EQ(host_.plugins().size(), 1u);
  EXPECT_EQ(host_.plugins()[0].version, "1.0.0+explicit");
  EXPECT_EQ(registryContents(registry_), afterFirst);
}

TEST_F(PluginHostTest, SameFileTwiceLoadsOnce) {
  ASSERT_TRUE(host_.load(kExplicitGood).isOk());
  Status status = host_.load(kExplicitGood);
  EXPECT_TRUE(status.isOk()) << status.message();
  EXPECT_EQ(host_.plugins().size(), 1u);
}

TEST_F(PluginHostTest, RegistryMayOutliveTheHost) {
  // Session destroys its host before its registry: the plugin's code must stay mapped while
  // the registry still holds its std::function objects.
  {
    PluginHost shortLived(registry_);
    ASSERT_TRUE(shortLived.load(kExplicitGood).isOk());
  }
  const PassEntry* pass = registry_.findPass("good-tag");
  ASSERT_NE(pass, nullptr);
  Graph graph;
  RecordingDiagnostics diagnostics;
  NullProgress progress;
  PassContext context(registry_, diagnostics, progress);
  EXPECT_TRUE(pass->run(graph, context).isOk());
  EXPECT_FALSE(context.changed());
}

// ---------------------------------------------------------------------------------------
// Search order
// ---------------------------------------------------------------------------------------
TEST_F(PluginHostTest, InstallPluginDirIsNextToTheExecutable) {
  EXPECT_EQ(canonicalPath(PluginHost::installPluginDir()), canonicalPath(kInstallDir));
}

TEST_F(PluginHostTest, InstallDirectoryIsScannedWithoutEnvironment) {
  Status status = host_.loadAll({});
  ASSERT_TRUE(status.isOk()) << status.message();
  ASSERT_NE(findPlugin(host_, "good"), nullptr);
  EXPECT_EQ(findPlugin(host_, "good")->version, "1.0.0+install");
  EXPECT_NE(findPlugin(host_, "install-only"), nullptr);
  EXPECT_EQ(findPlugin(host_, "env-only"), nullptr);
}

TEST_F(PluginHostTest, ExplicitFileShadowsSearchPath) {
  setPluginPath(kEnv1Dir.string());
  Status status = host_.loadAll({kExplicitGood});
  ASSERT_TRUE(status.isOk()) << status.message();
  EXPECT_EQ(host_.lastError(), PluginError::None);
  ASSERT_NE(findPlugin(host_, "good"), nullptr);
  EXPECT_EQ(findPlugin(host_, "good")->version, "1.0.0+explicit");
  EXPECT_EQ(findPlugin(host_, "good")->path.string(), canonicalPath(kExplicitGood));
  EXPECT_NE(findPlugin(host_, "env-only"), nullptr);
  EXPECT_NE(findPlugin(host_, "install-only"), nullptr);
  EXPECT_EQ(host_.plugins().size(), 3u);
  // Explicit files come first in plugins().
  EXPECT_EQ(host_.plugins()[0].name, "good");

  // The shadowed copy's pass did not replace the explicit one.
  Graph graph;
  std::vector<Value*> none;
  Node* node = graph.appendNode("test::op", none, 1);
  graph.addOutput(node->output());
  RecordingDiagnostics diagnostics;
  NullProgress progress;
  PassContext context(registry_, diagnostics, progress);
  ASSERT_TRUE(registry_.findPass("good-tag")->run(graph, context).isOk());
  ASSERT_NE(node->stringAttr("tagged_by"), nullptr);
  EXPECT_EQ(*node->stringAttr("tagged_by"), "explicit");
}

TEST_F(PluginHostTest, EnvironmentDirectoryShadowsInstallDirectory) {
  setPluginPath(kEnv1Dir.string());
  Status status = host_.loadAll({});
  ASSERT_TRUE(status.isOk()) << status.message();
  ASSERT_NE(findPlugin(host_, "good"), nullptr);
  EXPECT_EQ(findPlugin(host_, "good")->version, "1.0.0+env");
  EXPECT_NE(findPlugin(host_, "install-only"), nullptr);
}

TEST_F(PluginHostTest, EveryEnvironmentDirectoryIsScanned) {
  setPluginPath(":" + kEnv1Dir.string() + "::" + kEnv2Dir.string() + ":/nonexistent/torchport/plugins:");
  Status status = host_.loadAll({});
  ASSERT_TRUE(status.isOk()) << status.message();
  EXPECT_NE(findPlugin(host_, "env-only"), nullptr);
  EXPECT_NE(findPlugin(host_, "env-two"), nullptr);
  EXPECT_NE(findPlugin(host_, "install-only"), nullptr);
  EXPECT_EQ(host_.plugins().size(), 4u);  // good, env-only, env-two, install-only
}

TEST_F(PluginHostTest, ScanFailuresAreCollectedAndDoNotStopOthers) {
  setPluginPath(kBrokenDir.string() + ":" + kEnv2Dir.string());
  Status status = host_.loadAll({});
  ASSERT_FALSE(status.isOk());
  const std::vector<fs::path> brokenFiles = PluginHost::pluginFilesIn(kBrokenDir);
  ASSERT_GE(brokenFiles.size(), 15u);
  EXPECT_TRUE(contains(status.message(), std::to_string(brokenFiles.size()) +
                                             " plugins in the plugin search path could not be loaded"))
      << status.message();
  for (const fs::path& file : brokenFiles) {
    EXPECT_TRUE(contains(status.message(), canonicalPath(file))) << file << "\n" << status.message();
  }
  EXPECT_NE(host_.lastError(), PluginError::None);
  // The good ones after the broken directory were still loaded, and only they registered.
  EXPECT_NE(findPlugin(host_, "env-two"), nullptr);
  EXPECT_NE(findPlugin(host_, "install-only"), nullptr);
  EXPECT_NE(findPlugin(host_, "good"), nullptr);
  EXPECT_EQ(host_.plugins().size(), 3u);
  EXPECT_EQ(registry_.findPass("fails-half-way"), nullptr);
  EXPECT_EQ(registry_.findPass("duplicate-plugin-own-pass"), nullptr);
  ASSERT_NE(registry_.findPass("eliminate-dead-code"), nullptr);
  EXPECT_EQ(registry_.findPass("eliminate-dead-code")->plugin, "core");
}

TEST_F(PluginHostTest, ExplicitFileMustLoad) {
  setPluginPath(kEnv1Dir.string());
  Status status = host_.loadAll({broken("noentry")});
  ASSERT_FALSE(status.isOk());
  EXPECT_EQ(host_.lastError(), PluginError::NoEntryPoint);
  EXPECT_TRUE(contains(status.message(), "is not a torchport plugin")) << status.message();
  EXPECT_TRUE(host_.plugins().empty());  // the search path was not scanned
  EXPECT_EQ(registryContents(registry_), coreContents_);

  status = host_.loadAll({"/nonexistent/libtorchport_x.so"});
  EXPECT_FALSE(status.isOk());
  EXPECT_EQ(host_.lastError(), PluginError::NotFound);
}

TEST_F(PluginHostTest, TwoExplicitFilesWithOneNameAreADuplicate) {
  Status status = host_.loadAll({kExplicitGood, kEnv1Dir / "libtorchport_good.so"});
  ASSERT_FALSE(status.isOk());
  EXPECT_EQ(host_.lastError(), PluginError::Duplicate);
  EXPECT_TRUE(contains(status.message(), "is already loaded from")) << status.message();
}

// ---------------------------------------------------------------------------------------
// Directory listing
// ---------------------------------------------------------------------------------------
TEST(PluginFilesIn, MatchesOnlyPluginLibraries) {
  const fs::path dir = fs::temp_directory_path() / ("torchport_plugin_files_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "libtorchport_subdir.so");
  for (const char* name : {"libtorchport_b.so", "libtorchport_a.so", "libtorchport_core.so", "libtorchport_.so",
                           "libfoo.so", "libtorchport_c.so.1", "libtorchport_d.txt", "torchport_e.so"}) {
    std::ofstream(dir / name) << "x";
  }
  fs::create_symlink(dir / "libtorchport_a.so", dir / "libtorchport_link.so");
  fs::create_symlink(dir / "missing-target", dir / "libtorchport_dangling.so");

  const std::vector<fs::path> files = PluginHost::pluginFilesIn(dir);
  std::vector<std::string> names;
  for (const fs::path& file : files) names.push_back(file.filename().string());
  EXPECT_EQ(names, (std::vector<std::string>{"libtorchport_a.so", "libtorchport_b.so", "libtorchport_link.so"}));
  for (const fs::path& file : files) EXPECT_EQ(file.parent_path(), dir);

  EXPECT_TRUE(PluginHost::pluginFilesIn(dir / "does-not-exist").empty());
  EXPECT_TRUE(PluginHost::pluginFilesIn(dir / "libtorchport_a.so").empty());  // a file, not a directory
  fs::remove_all(dir);
}

}  // namespace
}  // namespace torchport
