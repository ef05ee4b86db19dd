// Golden pass tests: each tests/golden/*.tpir file holds cases of (input IR, pipeline,
// expected IR or expected error), in the style of MLIR's `// -----` split files:
//
//   // RUN: eliminate-dead-code,eliminate-identity       first line: the file's pipeline
//   // CASE: removes an unused node                       optional description
//   // RUN: eliminate-identity                            optional per-case pipeline
//   // REQUIRES: onnx                                     optional, after the first RUN: skip without the plugin
//   graph @main(...) -> (...) {                           the input, exactly as printed
//   }
//   // EXPECT:                                            then the expected output graph
//   graph @main(...) -> (...) {
//   }
//   // -----                                              next case
//   ...
//   // EXPECT-ERROR: substring of the expected error      instead of // EXPECT:
//
// Every input must be in printer form: print(parse(input)) == input is asserted, so the
// golden files double as round-trip tests of the textual IR. Other `//` lines before the
// expectation are comments. One gtest test per case, named <file>.cNN_<description>.
//
// TORCHPORT_GOLDEN_UPDATE=1 rewrites the `// EXPECT:` sections with the actual output
// (review the diff before committing!). Arguments after the gtest flags select files or
// directories instead of the default tests/golden directory.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "torchport/host/core_steps.h"
#include "torchport/host/diagnostics.h"
#include "torchport/host/pass_manager.h"
#include "torchport/host/pipeline.h"
#include "torchport/host/plugin_host.h"
#include "torchport/registry.h"
#include "torchport/text_ir.h"

#ifndef TORCHPORT_GOLDEN_DIR
#error "TORCHPORT_GOLDEN_DIR must point at tests/golden"
#endif

namespace fs = std::filesystem;

namespace torchport {
namespace {

// ---------------------------------------------------------------------------------------
// Golden file model
// ---------------------------------------------------------------------------------------
struct GoldenCase {
  int number = 0;            // 1-based position in the file
  int firstLine = 0;         // 1-based line where the case starts
  std::string description;
  std::string pipeline;
  int pipelineLine = 0;
  int pipelineColumn = 0;
  std::string input;         // graph text, '\n'-terminated
  int inputLine = 0;
  bool expectsError = false;
  std::string expected;      // graph text ('\n'-terminated) or error substring
  int expectLine = 0;
  size_t expectBegin = 0;    // 0-based line range of the expected graph text in the file
  size_t expectEnd = 0;
  std::string formatError;   // non-empty: the case is malformed
};

struct GoldenFile {
  fs::path path;
  std::vector<std::string> lines;
  std::vector<GoldenCase> cases;
  std::string formatError;                        // file-level problem
  std::vector<std::string> requiredPlugins;       // `// REQUIRES: onnx, torchscript`
  std::map<size_t, std::string> updates;          // case index -> new expected text
};

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// "// NAME: rest" -> rest, when `line` is that directive; `column` gets the 1-based column
// where rest starts.
std::optional<std::string> directive(std::string_view line, std::string_view name, int* column = nullptr) {
  const std::string_view whole = line;
  line = trimmed(line);
  if (!line.starts_with("//")) return std::nullopt;
  line = trimmed(line.substr(2));
  if (!line.starts_with(name)) return std::nullopt;
  line.remove_prefix(name.size());
  if (!line.starts_with(':')) return std::nullopt;
  std::string_view rest = trimmed(line.substr(1));
  if (column) *column = static_cast<int>(rest.data() - whole.data()) + 1;
  return std::string(rest);
}

bool isSeparator(std::string_view line) { return trimmed(line) == "// -----"; }
bool isBlank(std::string_view line) { return trimmed(line).empty(); }
bool isComment(std::string_view line) { return trimmed(line).starts_with("//"); }

// Joins lines [begin, end) after dropping blank lines at both ends; '\n'-terminated.
std::string joinBlock(const std::vector<std::string>& lines, size_t& begin, size_t& end) {
  while (begin < end && isBlank(lines[begin])) ++begin;
  while (end > begin && isBlank(lines[end - 1])) --end;
  std::string text;
  for (size_t i = begin; i < end; ++i) {
    text += lines[i];
    text += '\n';
  }
  return text;
}

void parseCase(GoldenFile& file, size_t begin, size_t end, const GoldenCase& defaults, GoldenCase& result) {
  result.firstLine = static_cast<int>(begin) + 1;
  result.pipeline = defaults.pipeline;
  result.pipelineLine = defaults.pipelineLine;
  result.pipelineColumn = defaults.pipelineColumn;
  const auto& lines = file.lines;
  auto where = [&](size_t line) { return file.path.filename().string() + ":" + std::to_string(line + 1) + ": "; };

  size_t inputBegin = end, inputEnd = end;
  size_t expectDirective = end;
  for (size_t i = begin; i < end; ++i) {
    const std::string& line = lines[i];
    if (auto text = directive(line, "EXPECT-ERROR")) {
      result.expectsError = true;
      result.expected = *text;
      result.expectLine = static_cast<int>(i) + 1;
      if (result.expected.empty()) result.formatError = where(i) + "// EXPECT-ERROR: needs the expected error text";
      expectDirective = i;
      break;
    }
    if (directive(line, "EXPECT")) {
      result.expectLine = static_cast<int>(i) + 1;
      expectDirective = i;
      break;
    }
    if (auto text = directive(line, "CASE")) {
      result.description = *text;
    } else if (auto pipeline = directive(line, "RUN", &result.pipelineColumn)) {
      result.pipeline = *pipeline;
      result.pipelineLine = static_cast<int>(i) + 1;
    } else if (isComment(line)) {
      if (inputBegin != end && inputEnd == end) inputEnd = i;  // a comment ends the input
    } else if (!isBlank(line)) {
      if (inputBegin == end) inputBegin = i;
      else if (inputEnd != end) {
        result.formatError = where(i) + "the input graph must be one block; a comment line splits it";
        return;
      }
    }
  }
  if (!result.formatError.empty()) return;
  if (inputBegin == end) {
    result.formatError = where(begin) + "case has no input graph";
    return;
  }
  if (inputEnd == end) inputEnd = expectDirective;
  result.inputLine = static_cast<int>(inputBegin) + 1;
  size_t b = inputBegin, e = inputEnd;
  result.input = joinBlock(lines, b, e);
  result.inputLine = static_cast<int>(b) + 1;

  if (expectDirective == end) {
    result.formatError = where(begin) + "case has no // EXPECT: or // EXPECT-ERROR: line";
    return;
  }
  if (result.expectsError) {
    for (size_t i = expectDirective + 1; i < end; ++i)
      if (!isBlank(lines[i])) {
        result.formatError = where(i) + "nothing may follow // EXPECT-ERROR: in a case";
        return;
      }
    return;
  }
  for (size_t i = expectDirective + 1; i < end; ++i)
    if (isComment(lines[i])) {
      result.formatError = where(i) + "only the expected graph may follow // EXPECT: (no comments or directives)";
      return;
    }
  result.expectBegin = expectDirective + 1;
  result.expectEnd = end;
  result.expected = joinBlock(lines, result.expectBegin, result.expectEnd);
}

std::unique_ptr<GoldenFile> loadGoldenFile(const fs::path& path) {
  auto file = std::make_unique<GoldenFile>();
  file->path = path;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    file->formatError = "cannot read " + path.string();
    return file;
  }
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    file->lines.push_back(line);
  }
  size_t first = 0;
  while (first < file->lines.size() && isBlank(file->lines[first])) ++first;
  GoldenCase defaults;
  auto pipeline = first < file->lines.size() ? directive(file->lines[first], "RUN", &defaults.pipelineColumn) : std::nullopt;
  if (!pipeline) {
    file->formatError = path.filename().string() + ":" + std::to_string(first + 1) +
                        ": a golden file starts with `// RUN: <pipeline>`";
    return file;
  }
  defaults.pipeline = *pipeline;
  defaults.pipelineLine = static_cast<int>(first) + 1;
  size_t caseBegin = first + 1;
  // Optional `// REQUIRES: plugin, plugin` lines right after RUN: cases are skipped (not
  // failed) when a plugin is not built, e.g. in the sanitizer build without plugins.
  while (caseBegin < file->lines.size()) {
    auto required = directive(file->lines[caseBegin], "REQUIRES");
    if (!required) break;
    std::istringstream names(*required);
    for (std::string name; std::getline(names, name, ',');) {
      std::string_view plugin = trimmed(name);
      if (!plugin.empty()) file->requiredPlugins.emplace_back(plugin);
    }
    ++caseBegin;
  }
  for (size_t i = caseBegin; i <= file->lines.size(); ++i) {
    if (i < file->lines.size() && !isSeparator(file->lines[i])) continue;
    GoldenCase goldenCase;
    goldenCase.number = static_cast<int>(file->cases.size()) + 1;
    parseCase(*file, caseBegin, i, defaults, goldenCase);
    file->cases.push_back(std::move(goldenCase));
    caseBegin = i + 1;
  }
  return file;
}

// Rewrites the `// EXPECT:` sections of cases whose output changed (update mode).
bool writeUpdates(GoldenFile& file) {
  if (file.updates.empty()) return true;
  std::vector<std::string> lines = file.lines;
  for (auto it = file.updates.rbegin(); it != file.updates.rend(); ++it) {
    const GoldenCase& goldenCase = file.cases[it->first];
    std::vector<std::string> replacement;
    std::istringstream text(it->second);
    for (std::string line; std::getline(text, line);) replacement.push_back(line);
    lines.erase(lines.begin() + static_cast<std::ptrdiff_t>(goldenCase.expectBegin),
                lines.begin() + static_cast<std::ptrdiff_t>(goldenCase.expectEnd));
    lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(goldenCase.expectBegin), replacement.begin(),
                 replacement.end());
  }
  fs::path temporary = file.path;
  temporary += ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    for (const std::string& line : lines) out << line << '\n';
    if (!out) return false;
  }
  std::error_code ec;
  fs::rename(temporary, file.path, ec);
  if (ec) return false;
  std::cout << "golden: updated " << file.updates.size() << " expectation(s) in " << file.path.string() << "\n";
  return true;
}

// ---------------------------------------------------------------------------------------
// Diff for mismatch messages (LCS on lines; golden texts are small)
// ---------------------------------------------------------------------------------------
std::vector<std::string> splitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string lineDiff(const std::string& expected, const std::string& actual, std::string_view expectedLabel = "expected",
                     std::string_view actualLabel = "actual") {
  std::vector<std::string> a = splitLines(expected), b = splitLines(actual);
  const size_t n = a.size(), m = b.size();
  std::vector<std::vector<size_t>> lcs(n + 1, std::vector<size_t>(m + 1, 0));
  for (size_t i = n; i-- > 0;)
    for (size_t j = m; j-- > 0;)
      lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
  std::string out = "--- " + std::string(expectedLabel) + "\n+++ " + std::string(actualLabel) + "\n";
  size_t i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] == b[j]) {
      out += "  " + a[i++] + "\n";
      ++j;
    } else if (i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1])) {
      out += "- " + a[i++] + "\n";
    } else {
      out += "+ " + b[j++] + "\n";
    }
  }
  if (expected.size() && actual.size() && expected.back() != actual.back()) out += "(final newline differs)\n";
  return out;
}

// ---------------------------------------------------------------------------------------
// Running cases
// ---------------------------------------------------------------------------------------
class CollectingDiagnostics final : public Diagnostics {
 public:
  void log(LogLevel level, std::string_view message) override {
    static constexpr const char* kNames[] = {"trace", "debug", "info", "warn", "error", "off"};
    text_ += std::string(kNames[static_cast<int>(level)]) + ": " + std::string(message) + "\n";
  }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

struct Environment {
  std::unique_ptr<Registry> registry;
  std::unique_ptr<PluginHost> plugins;  // keeps plugin libraries loaded
  bool update = false;
};

Environment& environment() {
  static Environment env;
  return env;
}

class GoldenCaseTest : public testing::Test {
 public:
  GoldenCaseTest(GoldenFile& file, size_t index) : file_(file), index_(index) {}

  void TestBody() override {
    const GoldenCase& c = file_.cases[index_];
    const std::string name = file_.path.filename().string();
    ASSERT_TRUE(file_.formatError.empty()) << file_.formatError;
    ASSERT_TRUE(c.formatError.empty()) << c.formatError;
    const std::string caseLabel = name + ":" + std::to_string(c.firstLine) + " case " + std::to_string(c.number) +
                                  (c.description.empty() ? "" : " (" + c.description + ")");
    SCOPED_TRACE(caseLabel);
    for (const std::string& plugin : file_.requiredPlugins) {
      const auto& loaded = environment().plugins->plugins();
      bool found = std::any_of(loaded.begin(), loaded.end(), [&](const LoadedPlugin& p) { return p.name == plugin; });
      if (!found) GTEST_SKIP() << name << " needs plugin '" << plugin << "', which is not built in this configuration";
    }

    // Parse with blank lines in front so parse errors carry the golden file's line numbers.
    std::string padded(static_cast<size_t>(c.inputLine - 1), '\n');
    padded += c.input;
    auto parsed = parseGraph(padded, file_.path.string());
    ASSERT_TRUE(parsed.hasValue()) << "input does not parse: " << parsed.status().message();
    std::unique_ptr<Graph> graph = std::move(parsed).value();
    Status valid = graph->verify();
    ASSERT_TRUE(valid.isOk()) << "input graph is invalid: " << valid.message();
    const std::string reprinted = printGraph(*graph);
    ASSERT_TRUE(reprinted == c.input) << "input (line " << c.inputLine
                                      << ") is not in printer form: print(parse(input)) differs:\n"
                                      << lineDiff(c.input, reprinted, "input as written", "input as printed");

    Environment& env = environment();
    Status status = Status::ok();
    CollectingDiagnostics diagnostics;
    // Padding again, so pipeline errors point into the golden file (whitespace is allowed
    // between pipeline tokens).
    std::string pipelineText(static_cast<size_t>(c.pipelineLine - 1), '\n');
    pipelineText.append(static_cast<size_t>(c.pipelineColumn - 1), ' ');
    pipelineText += c.pipeline;
    auto steps = parsePipelineText(pipelineText, file_.path.string());
    if (!steps.hasValue()) {
      status = steps.status();
    } else {
      status = validateSteps(*steps, *env.registry);
      if (status.isOk()) {
        NullProgress progress;
        PassContext context(*env.registry, diagnostics, progress, file_.path.parent_path());
        PassManager manager;
        status = manager.run(*graph, *steps, context);
      }
    }

    if (c.expectsError) {
      ASSERT_FALSE(status.isOk()) << "expected an error containing \"" << c.expected
                                  << "\" but the pipeline succeeded with:\n"
                                  << printGraph(*graph);
      EXPECT_NE(status.message().find(c.expected), std::string::npos)
          << "expected an error containing \"" << c.expected << "\" (line " << c.expectLine << "), got:\n"
          << status.message();
      return;
    }
    ASSERT_TRUE(status.isOk()) << "pipeline `" << c.pipeline << "` failed: " << status.message() << "\n"
                               << diagnostics.text();
    const std::string actual = printGraph(*graph);
    if (actual == c.expected) return;
    if (env.update) {
      file_.updates[index_] = actual;
      std::cout << "golden: " << caseLabel << ": expectation will be updated\n";
      return;
    }
    ADD_FAILURE() << "output differs from // EXPECT: at " << name << ":" << c.expectLine
                  << " (rerun with TORCHPORT_GOLDEN_UPDATE=1 to accept it):\n"
                  << lineDiff(c.expected, actual) << diagnostics.text();
  }

 private:
  GoldenFile& file_;
  size_t index_;
};

std::string identifier(std::string_view text, size_t maxLength) {
  std::string out;
  for (char c : text) {
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (alnum) out += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    else if (!out.empty() && out.back() != '_') out += '_';
    if (out.size() >= maxLength) break;
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  return out;
}

std::vector<fs::path> collectFiles(const std::vector<std::string>& arguments) {
  std::vector<fs::path> roots;
  for (const std::string& argument : arguments) roots.emplace_back(argument);
  if (roots.empty()) roots.emplace_back(TORCHPORT_GOLDEN_DIR);
  std::vector<fs::path> files;
  for (const fs::path& root : roots) {
    std::error_code ec;
    if (fs::is_directory(root, ec)) {
      std::vector<fs::path> found;
      for (const auto& entry : fs::directory_iterator(root, ec))
        if (entry.path().extension() == ".tpir") found.push_back(entry.path());
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else {
      files.push_back(root);  // a missing file shows up as a failing test
    }
  }
  return files;
}

}  // namespace
}  // namespace torchport

int main(int argc, char** argv) {
  using namespace torchport;
  testing::InitGoogleTest(&argc, argv);
  std::vector<std::string> arguments(argv + 1, argv + argc);

  Environment& env = environment();
  const char* update = std::getenv("TORCHPORT_GOLDEN_UPDATE");
  env.update = update != nullptr && std::string_view(update) == "1";
  env.registry = std::make_unique<Registry>();
  Status core = registerCoreSteps(*env.registry);
  if (!core.isOk()) {
    std::cerr << "golden: registering core steps failed: " << core.message() << "\n";
    return 1;
  }
  env.plugins = std::make_unique<PluginHost>(*env.registry);
  Status plugins = env.plugins->loadAll({});
  if (!plugins.isOk()) {
    // Core cases still run; cases needing a missing plugin fail in validateSteps, by name.
    std::cerr << "golden: warning: " << plugins.message() << "\n";
  }

  // gtest's RegisterTest takes ownership of the raw Test* the factories return.
  // Files outlive RUN_ALL_TESTS: tests refer to them and update mode rewrites them after.
  std::vector<std::unique_ptr<GoldenFile>> files;
  for (const fs::path& path : collectFiles(arguments)) {
    files.push_back(loadGoldenFile(path));
    GoldenFile& file = *files.back();
    const std::string suite = identifier(path.stem().string(), 80);
    if (file.cases.empty()) {
      testing::RegisterTest(suite.c_str(), "file_format", nullptr, nullptr, path.string().c_str(), 1,
                            [&file]() -> testing::Test* { return new GoldenCaseTest(file, 0); });
      // An empty case list with no format error means a file with only a RUN line.
      if (file.formatError.empty()) file.formatError = path.string() + ": no cases";
      file.cases.emplace_back();
      continue;
    }
    for (size_t i = 0; i < file.cases.size(); ++i) {
      const GoldenCase& c = file.cases[i];
      char number[16];
      std::snprintf(number, sizeof number, "c%02d", c.number);
      std::string name = number;
      std::string slug = identifier(c.description, 60);
      if (!slug.empty()) name += "_" + slug;
      testing::RegisterTest(suite.c_str(), name.c_str(), nullptr, nullptr, path.string().c_str(), c.firstLine,
                            [&file, i]() -> testing::Test* { return new GoldenCaseTest(file, i); });
    }
  }

  int result = RUN_ALL_TESTS();
  if (env.update) {
    for (auto& file : files)
      if (!writeUpdates(*file)) {
        std::cerr << "golden: could not rewrite " << file->path.string() << "\n";
        result = 1;
      }
  }
  return result;
}
