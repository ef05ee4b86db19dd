// Pipeline configs: YAML parsing with exact file:line:col errors, the text grammar with
// error columns, fixpoint groups, and validation against a registry (all problems at once).
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <random>

#include "torchport/host/pipeline.h"

namespace torchport {
namespace {

namespace fs = std::filesystem;

Status noopPass(Graph&, PassContext&) { return Status::ok(); }
Status noopExport(const Graph&, PassContext&) { return Status::ok(); }
Expected<std::unique_ptr<Graph>> noImport(const fs::path&, PassContext&) {
  return Status::unsupported("not used in these tests");
}

OptionSpec intSpec(std::string name, int64_t defaultValue) {
  OptionSpec spec;
  spec.name = std::move(name);
  spec.type = OptionType::Int;
  spec.defaultValue = OptionValue(defaultValue);
  spec.minInt = 0;
  return spec;
}

OptionSpec stringSpec(std::string name, bool required) {
  OptionSpec spec;
  spec.name = std::move(name);
  spec.type = OptionType::String;
  spec.required = required;
  return spec;
}

// A registry with a few steps and one importer, like core + the onnx plugin would provide.
class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PassInfo fold;
    fold.name = "fold-constants";
    fold.options = {intSpec("max_size", 1024)};
    ASSERT_TRUE(registry_.addPass(fold, noopPass).isOk());
    PassInfo dce;
    dce.name = "eliminate-dead-code";
    ASSERT_TRUE(registry_.addPass(dce, noopPass).isOk());
    PassInfo save;
    save.name = "save-onnx";
    OptionSpec opset = intSpec("opset", 17);
    opset.minInt = 13;
    opset.maxInt = 18;
    save.options = {stringSpec("path", true), opset};
    auto mustEndInOnnx = [](const Options& options) {
      std::string path = options.getString("path");
      if (path.size() < 5 || path.substr(path.size() - 5) != ".onnx") {
        return Status::input("path '" + path + "' should end in .onnx");
      }
      return Status::ok();
    };
    ASSERT_TRUE(registry_.addExporter(save, "onnx", {".onnx"}, noopExport, mustEndInOnnx).isOk());

    ImporterInfo tpir;
    tpir.format = "tpir";
    tpir.extensions = {".tpir"};
    tpir.options = {stringSpec("weights", false)};
    auto sniff = [](std::span<const std::byte> head, const fs::path&) {
      const std::string magic = "graph @";
      if (head.size() < magic.size()) return 0;
      return std::equal(magic.begin(), magic.end(), head.begin(),
                        [](char c, std::byte b) { return static_cast<std::byte>(c) == b; })
                 ? 100
                 : 0;
    };
    ASSERT_TRUE(registry_.addImporter(tpir, sniff, noImport).isOk());

    std::random_device random;
    dir_ = fs::temp_directory_path() / ("torchport_pipeline_test_" + std::to_string(random()));
    fs::create_directories(dir_);
  }

  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  fs::path writeFile(const std::string& name, const std::string& contents) {
    fs::path path = dir_ / name;
    std::ofstream(path, std::ios::binary) << contents;
    return path;
  }

  Expected<PipelineConfig> parse(const std::string& yaml) { return parsePipelineYaml(yaml, "cfg.yaml"); }

  // Parses and validates; returns the combined error message ("" when all is fine).
  std::string problemsOf(const std::string& yaml) {
    auto config = parse(yaml);
    if (!config) return config.status().message();
    Status status = validatePipeline(config.value(), registry_);
    return status.isOk() ? std::string() : status.message();
  }

  Registry registry_;
  fs::path dir_;
};

// ---------------------------------------------------------------------------------------
// YAML: structure and typed values
// ---------------------------------------------------------------------------------------
TEST_F(PipelineTest, YamlReadsAllTopLevelKeys) {
  auto config = parse(
      "torchport: 1\n"
      "plugins: [./libmylayers.so, \"other.so\"]\n"
      "input:\n"
      "  path: model.tpir\n"
      "  weights: w.pth\n"
      "pipeline:\n"
      "  - fold-constants\n"
      "  - fold-constants: {max_size: 64}\n"
      "  - eliminate-dead-code:\n"
      "  - save-onnx: {path: out/m.onnx, opset: 17}\n");
  ASSERT_TRUE(config) << config.status().message();
  EXPECT_EQ(config->schemaVersion, 1);
  EXPECT_EQ(config->file, fs::path("cfg.yaml"));
  EXPECT_EQ(config->baseDir, fs::absolute("cfg.yaml").parent_path());
  ASSERT_EQ(config->plugins.size(), 2u);
  EXPECT_EQ(config->plugins[0].first, "./libmylayers.so");
  EXPECT_EQ(config->plugins[0].second.toString(), "cfg.yaml:2:11");
  EXPECT_EQ(config->plugins[1].first, "other.so");
  ASSERT_TRUE(config->hasInput);
  EXPECT_EQ(config->input.path, fs::path("model.tpir"));
  EXPECT_TRUE(config->input.format.empty());
  ASSERT_NE(config->input.raw.find("weights"), nullptr);
  EXPECT_EQ(config->input.raw.find("weights")->asString(), "w.pth");
  EXPECT_EQ(config->input.where.toString(), "cfg.yaml:4:3");

  ASSERT_EQ(config->steps.size(), 4u);
  EXPECT_EQ(config->steps[0].name, "fold-constants");
  EXPECT_TRUE(config->steps[0].rawOptions.isNull());
  EXPECT_EQ(config->steps[0].where.toString(), "cfg.yaml:7:5");
  EXPECT_EQ(config->steps[1].rawOptions.find("max_size")->asInt(), 64);
  EXPECT_EQ(config->steps[1].rawOptions.find("max_size")->where().toString(), "cfg.yaml:8:32");
  EXPECT_EQ(config->steps[2].name, "eliminate-dead-code");
  EXPECT_TRUE(config->steps[2].rawOptions.isNull());
  EXPECT_EQ(config->steps[3].where.toString(), "cfg.yaml:10:5");
}

TEST_F(PipelineTest, YamlScalarsAreTyped) {
  auto config = parse(
      "torchport: 1\n"
      "pipeline:\n"
      "  - step: {b: true, i: -12, f: 1e-4, g: 2.5, n: ~, m: null, s: hello, q: \"17\", sq: 'true', "
      "l: [1, x], nested: {input: {0: batch}}}\n");
  ASSERT_TRUE(config) << config.status().message();
  const OptionValue& raw = config->steps[0].rawOptions;
  EXPECT_TRUE(raw.find("b")->isBool());
  EXPECT_EQ(raw.find("i")->asInt(), -12);
  ASSERT_TRUE(raw.find("f")->isFloat());
  EXPECT_DOUBLE_EQ(raw.find("f")->asFloat(), 1e-4);
  EXPECT_DOUBLE_EQ(raw.find("g")->asFloat(), 2.5);
  EXPECT_TRUE(raw.find("n")->isNull());
  EXPECT_TRUE(raw.find("m")->isNull());
  EXPECT_EQ(raw.find("s")->asString(), "hello");
  ASSERT_TRUE(raw.find("q")->isString()) << "quoted scalars stay strings";
  EXPECT_EQ(raw.find("q")->asString(), "17");
  ASSERT_TRUE(raw.find("sq")->isString());
  EXPECT_EQ(raw.find("sq")->asString(), "true");
  EXPECT_EQ(raw.find("l")->toString(), "[1, x]");
  EXPECT_EQ(raw.find("nested")->toString(), "{input: {\"0\": batch}}");
}

// ---------------------------------------------------------------------------------------
// YAML: errors with exact locations
// ---------------------------------------------------------------------------------------
TEST_F(PipelineTest, TypoInPassNameSuggestsTheRealOne) {
  EXPECT_EQ(problemsOf("torchport: 1\n"
                       "pipeline:\n"
                       "  - eliminate-dead-code\n"
                       "  - fold-constnts\n"),
            "cfg.yaml:4:5: unknown step 'fold-constnts' (did you mean 'fold-constants'?); run `torchport passes` to "
            "list steps, or load the plugin that provides it");
}

TEST_F(PipelineTest, WrongOptionTypePointsAtTheValue) {
  EXPECT_EQ(problemsOf("torchport: 1\n"
                       "pipeline:\n"
                       "  - fold-constants: {max_size: big}\n"),
            "cfg.yaml:3:32: step 'fold-constants': option 'max_size' must be int, got string 'big'");
  // Block style: the value on its own line.
  EXPECT_EQ(problemsOf("torchport: 1\n"
                       "pipeline:\n"
                       "  - save-onnx:\n"
                       "      path: m.onnx\n"
                       "      opset: \"17\"\n"),
            "cfg.yaml:5:14: step 'save-onnx': option 'opset' must be int, got string '17'");
}

TEST_F(PipelineTest, BadIndentationIsASyntaxErrorWithLocation) {
  auto config = parse(
      "torchport: 1\n"
      "pipeline:\n"
      "  - save-onnx:\n"
      "      path: x.onnx\n"
      "     opset: 3\n");
  ASSERT_FALSE(config);
  EXPECT_EQ(config.status().kind(), ErrorKind::Input);
  EXPECT_EQ(config.status().message().rfind("cfg.yaml:5:6: invalid YAML: end of map not found", 0), 0u)
      << config.status().message();
}

TEST_F(PipelineTest, TabIndentationIsNamed) {
  auto config = parse("torchport: 1\npipeline:\n\t- fold-constants\n");
  ASSERT_FALSE(config);
  const std::string& message = config.status().message();
  EXPECT_EQ(message.rfind("cfg.yaml:3:2: invalid YAML: ", 0), 0u) << message;
  EXPECT_NE(message.find("indented with a tab"), std::string::npos) << message;
}

TEST_F(PipelineTest, StepOptionsNotIndentedUnderTheStep) {
  auto config = parse(
      "torchport: 1\n"
      "pipeline:\n"
      "  - save-onnx:\n"
      "    path: x.onnx\n");
  ASSERT_FALSE(config);
  EXPECT_EQ(config.status().message(),
            "cfg.yaml:3:5: a pipeline step must be a single `step-name: {options}` entry, got keys save-onnx, path; "
            "indent a step's options below its name, or start each step with '-'");
}

TEST_F(PipelineTest, UnknownTopLevelKeySuggests) {
  auto config = parse("torchport: 1\npipline:\n  - fold-constants\n");
  ASSERT_FALSE(config);
  EXPECT_EQ(config.status().message(),
            "cfg.yaml:2:1: unknown top-level key 'pipline' (did you mean 'pipeline'?); known keys: torchport, "
            "plugins, input, pipeline");
}

TEST_F(PipelineTest, MissingVersion) {
  auto config = parse("pipeline:\n  - fold-constants\n");
  ASSERT_FALSE(config);
  EXPECT_EQ(config.status().message(),
            "cfg.yaml:1:1: missing `torchport: 1` (the config schema version); add it as the first line");
}

TEST_F(PipelineTest, WrongVersion) {
  auto config = parse("# exported by a newer torchport\ntorchport: 2\npipeline: []\n");
  ASSERT_FALSE(config);
  EXPECT_EQ(config.status().message(), "cfg.yaml:2:12: config schema version 2 is not supported, this build reads 1");
  auto text = parse("torchport: one\n");
  ASSERT_FALSE(text);
  EXPECT_EQ(text.status().message(), "cfg.yaml:1:12: 'torchport' must be the config schema version, the number 1; got one");
}

TEST_F(PipelineTest, EmptyAndNonMapConfigs) {
  auto empty = parse("");
  ASSERT_FALSE(empty);
  EXPECT_NE(empty.status().message().find("cfg.yaml: the config is empty"), std::string::npos);
  auto list = parse("- fold-constants\n");
  ASSERT_FALSE(list);
  EXPECT_EQ(list.status().message().rfind("cfg.yaml:1:1: the top level must be a map", 0), 0u);
}

TEST_F(PipelineTest, SchemaProblemsAreReportedTogether) {
  auto config = parse(
      "torchport: 1\n"
      "plugins: ./one.so\n"
      "input:\n"
      "  format: tpir\n"
      "pipelines: []\n"
      "pipeline:\n"
      "  - [fold-constants]\n"
      "  - fold-constants: 3\n");
  ASSERT_FALSE(config);
  EXPECT_EQ(config.status().message(),
            "cfg.yaml:2:10: 'plugins' must be a list of plugin files, e.g. `plugins: [./libmyops.so]`, got "
            "'./one.so'\n"
            "cfg.yaml:4:3: input: missing 'path' (the model file to read), e.g. `path: model.pt`\n"
            "cfg.yaml:5:1: unknown top-level key 'pipelines' (did you mean 'pipeline'?); known keys: torchport, "
            "plugins, input, pipeline\n"
            "cfg.yaml:7:5: a pipeline step must be `- step-name` or `- step-name: {options}`, got a list\n"
            "cfg.yaml:8:21: options of step 'fold-constants' must be a map (`fold-constants: {key: value}`), got '3'");
}

TEST_F(PipelineTest, DuplicateKeysAreReported) {
  auto config = parse("torchport: 1\npipeline:\n  - fold-constants: {max_size: 1, max_size: 2}\n");
  ASSERT_FALSE(config);
  EXPECT_EQ(config.status().message(), "cfg.yaml:3:35: key 'max_size' appears twice (first on line 3)");
}

TEST_F(PipelineTest, MultipleValidationProblemsReportedTogether) {
  std::string message = problemsOf(
      "torchport: 1\n"
      "pipeline:\n"
      "  - fold-constnts\n"
      "  - fold-constants: {max_size: -1, maxsize: 3}\n"
      "  - save-onnx: {opset: 19}\n"
      "  - save-onnx: {path: out/model.pb}\n");
  EXPECT_EQ(message,
            "cfg.yaml:3:5: unknown step 'fold-constnts' (did you mean 'fold-constants'?); run `torchport passes` to "
            "list steps, or load the plugin that provides it\n"
            "cfg.yaml:4:32: step 'fold-constants': option 'max_size' must be at least 0, got -1\n"
            "cfg.yaml:4:45: step 'fold-constants': option 'maxsize' is unknown (did you mean 'max_size'?); known "
            "options: max_size\n"
            "cfg.yaml:5:24: step 'save-onnx': option 'opset' must be between 13 and 18, got 19\n"
            "cfg.yaml:5:16: step 'save-onnx': option 'path' is required but missing (add `path: <string>`)\n"
            "cfg.yaml:6:16: step 'save-onnx': path 'out/model.pb' should end in .onnx");
}

TEST_F(PipelineTest, ValidationFillsEntriesAndDefaults) {
  auto config = parse("torchport: 1\npipeline:\n  - fold-constants\n  - save-onnx: {path: m.onnx}\n");
  ASSERT_TRUE(config) << config.status().message();
  ASSERT_TRUE(validatePipeline(config.value(), registry_).isOk());
  ASSERT_NE(config->steps[0].pass, nullptr);
  EXPECT_EQ(config->steps[0].pass->info.name, "fold-constants");
  EXPECT_EQ(config->steps[0].options.getInt("max_size"), 1024);
  EXPECT_EQ(config->steps[1].pass, nullptr);
  ASSERT_NE(config->steps[1].exporter, nullptr);
  EXPECT_EQ(config->steps[1].options.getInt("opset"), 17);
}

// ---------------------------------------------------------------------------------------
// Fixpoint groups
// ---------------------------------------------------------------------------------------
TEST_F(PipelineTest, YamlFixpointGroups) {
  auto config = parse(
      "torchport: 1\n"
      "pipeline:\n"
      "  - fixpoint:\n"
      "      max_iterations: 4\n"
      "      steps:\n"
      "        - fold-constants: {max_size: 8}\n"
      "        - eliminate-dead-code\n"
      "  - fixpoint: {steps: [eliminate-dead-code]}\n");
  ASSERT_TRUE(config) << config.status().message();
  ASSERT_EQ(config->steps.size(), 2u);
  PipelineStep& group = config->steps[0];
  EXPECT_EQ(group.name, "fixpoint");
  EXPECT_EQ(group.rawOptions.toString(), "{max_iterations: 4}") << "steps are structure, not options";
  ASSERT_EQ(group.children.size(), 2u);
  EXPECT_EQ(group.children[1].where.toString(), "cfg.yaml:7:11");
  ASSERT_TRUE(validatePipeline(config.value(), registry_).isOk());
  EXPECT_EQ(group.maxIterations, 4);
  EXPECT_EQ(group.children[0].options.getInt("max_size"), 8);
  EXPECT_NE(group.children[1].pass, nullptr);
  EXPECT_EQ(config->steps[1].maxIterations, 8) << "default";
}

TEST_F(PipelineTest, FixpointProblems) {
  auto missing = parse("torchport: 1\npipeline:\n  - fixpoint: {max_iterations: 3}\n");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.status().message().rfind("cfg.yaml:3:5: fixpoint group needs its steps", 0), 0u)
      << missing.status().message();

  std::string message = problemsOf(
      "torchport: 1\n"
      "pipeline:\n"
      "  - fixpoint: {max_iterations: 0, steps: [fold-constnts], max_iter: 2}\n");
  EXPECT_EQ(message,
            "cfg.yaml:3:32: fixpoint group: option 'max_iterations' must be between 1 and 100000, got 0\n"
            "cfg.yaml:3:69: fixpoint group: option 'max_iter' is unknown (did you mean 'max_iterations'?); known "
            "options: max_iterations\n"
            "cfg.yaml:3:43: unknown step 'fold-constnts' (did you mean 'fold-constants'?); run `torchport passes` to "
            "list steps, or load the plugin that provides it");
}

// ---------------------------------------------------------------------------------------
// The text grammar
// ---------------------------------------------------------------------------------------
TEST(PipelineText, ParsesStepsOptionsAndGroups) {
  auto steps = parsePipelineText(
      "a, b{k=v,list=[1,-2, 3.5],m={x=1,y=\"two words\"},t=true,f=false,s='q,}',p=out/m.onnx,op=mylib::act},"
      "fixpoint{max_iterations=4}(c,d{z=1e-4})");
  ASSERT_TRUE(steps) << steps.status().message();
  ASSERT_EQ(steps->size(), 3u);
  EXPECT_EQ((*steps)[0].name, "a");
  EXPECT_TRUE((*steps)[0].rawOptions.isNull());
  EXPECT_EQ((*steps)[0].where.toString(), "<pipeline>:1:1");
  const PipelineStep& b = (*steps)[1];
  EXPECT_EQ(b.name, "b");
  EXPECT_EQ(b.where.toString(), "<pipeline>:1:4");
  EXPECT_EQ(b.rawOptions.toString(),
            "{k: v, list: [1, -2, 3.5], m: {x: 1, y: \"two words\"}, t: true, f: false, s: \"q,}\", p: out/m.onnx, "
            "op: mylib::act}");
  EXPECT_TRUE(b.rawOptions.find("list")->asList()[1].isInt());
  EXPECT_EQ(b.rawOptions.find("list")->asList()[1].asInt(), -2);
  EXPECT_TRUE(b.rawOptions.find("list")->asList()[2].isFloat());
  EXPECT_EQ(b.rawOptions.find("list")->where().toString(), "<pipeline>:1:15");
  EXPECT_EQ(b.rawOptions.find("k")->where().toString(), "<pipeline>:1:8");
  const PipelineStep& group = (*steps)[2];
  EXPECT_EQ(group.name, "fixpoint");
  EXPECT_EQ(group.rawOptions.find("max_iterations")->asInt(), 4);
  ASSERT_EQ(group.children.size(), 2u);
  EXPECT_EQ(group.children[0].name, "c");
  EXPECT_DOUBLE_EQ(group.children[1].rawOptions.find("z")->asFloat(), 1e-4);
}

TEST(PipelineText, EmptyAndWhitespace) {
  auto empty = parsePipelineText("   ");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
  auto spaced = parsePipelineText(" a { k = 1 } ,\n b ");
  ASSERT_TRUE(spaced) << spaced.status().message();
  ASSERT_EQ(spaced->size(), 2u);
  EXPECT_EQ((*spaced)[1].where.toString(), "<pipeline>:2:2");
}

TEST(PipelineText, ErrorsPointAtTheOffendingCharacter) {
  auto message = [](std::string_view text) {
    auto steps = parsePipelineText(text);
    return steps ? std::string("ok") : steps.status().message();
  };
  EXPECT_EQ(message("a,,b"), "<pipeline>:1:3: expected a step name, got ','");
  EXPECT_EQ(message("a,"), "<pipeline>:1:2: expected a step name after ','");
  EXPECT_EQ(message("a{k}"), "<pipeline>:1:4: expected '=' after option 'k', got '}'");
  EXPECT_EQ(message("a{k=}"), "<pipeline>:1:5: expected a value, got '}'");
  EXPECT_EQ(message("abc{k=[1,2}"), "<pipeline>:1:11: expected ',' or ']' in the list opened at column 7, got '}'");
  EXPECT_EQ(message("a{k=1 b=2}"), "<pipeline>:1:7: expected ',' or '}' after the value of option 'k' ('{' at column 2), got 'b'");
  EXPECT_EQ(message("a{k=1,k=2}"), "<pipeline>:1:7: option 'k' is given twice");
  EXPECT_EQ(message("a{s=\"open}"), "<pipeline>:1:5: unterminated string: no closing \"");
  EXPECT_EQ(message("a b"), "<pipeline>:1:3: expected ',' or end of pipeline after step 'a', got 'b'");
  EXPECT_EQ(message("b(c)"), "<pipeline>:1:2: step 'b' cannot take a '(...)' step list; only fixpoint groups do: fixpoint(a,b)");
  EXPECT_EQ(message("fixpoint(a,b"), "<pipeline>:1:13: expected ')' to close the fixpoint group opened at column 9, got end of pipeline");
  EXPECT_EQ(message("fixpoint{max_iterations=2}"),
            "<pipeline>:1:27: fixpoint needs its steps in parentheses: fixpoint{max_iterations=4}(step-a,step-b)");
  EXPECT_EQ(message("a;b"), "<pipeline>:1:2: expected ',' or end of pipeline after step 'a', got ';'");
}

TEST(PipelineText, SourceNameIsUsedInLocations) {
  auto steps = parsePipelineText("a{", "--passes");
  ASSERT_FALSE(steps);
  EXPECT_EQ(steps.status().message(), "--passes:1:3: expected an option name, got end of pipeline");
}

TEST(PipelineText, DeepNestingIsAnErrorNotACrash) {
  std::string deep = "a{k=" + std::string(5000, '[') + std::string(5000, ']') + "}";
  auto steps = parsePipelineText(deep);
  ASSERT_FALSE(steps);
  EXPECT_NE(steps.status().message().find("nested more than 64 deep"), std::string::npos);
}

TEST_F(PipelineTest, YamlPipelineStringsUseTheTextGrammar) {
  auto config = parse(
      "torchport: 1\n"
      "pipeline: \"fold-constants{max_size=2},eliminate-dead-code\"\n");
  ASSERT_TRUE(config) << config.status().message();
  ASSERT_EQ(config->steps.size(), 2u);
  EXPECT_EQ(config->steps[1].where.toString(), "cfg.yaml:2:39");
  EXPECT_EQ(config->steps[0].rawOptions.find("max_size")->where().toString(), "cfg.yaml:2:36");

  auto items = parse("torchport: 1\npipeline:\n  - fixpoint(fold-constants, eliminate-dead-code)\n  - a{k=}\n");
  ASSERT_FALSE(items);
  EXPECT_EQ(items.status().message(), "cfg.yaml:4:9: expected a value, got '}'");
}

TEST_F(PipelineTest, TextStepsValidateLikeYamlSteps) {
  auto steps = parsePipelineText("fold-constants{max_size=x},save-onnx{path=m.onnx,opset=18},dead-code", "--passes");
  ASSERT_TRUE(steps) << steps.status().message();
  Status status = validateSteps(steps.value(), registry_);
  ASSERT_FALSE(status.isOk());
  EXPECT_EQ(status.message(),
            "--passes:1:25: step 'fold-constants': option 'max_size' must be int, got string 'x'\n"
            "--passes:1:60: unknown step 'dead-code' (did you mean 'eliminate-dead-code'?); run `torchport passes` "
            "to list steps, or load the plugin that provides it");
  EXPECT_NE(steps.value()[1].exporter, nullptr);
}

// ---------------------------------------------------------------------------------------
// Input resolution
// ---------------------------------------------------------------------------------------
TEST_F(PipelineTest, InputFormatIsSniffedRelativeToTheConfig) {
  writeFile("model.bin", "graph @main() -> () {\n}\n");
  auto config = parsePipelineYaml("torchport: 1\ninput:\n  path: model.bin\n  weights: w.pth\n", dir_ / "cfg.yaml");
  ASSERT_TRUE(config) << config.status().message();
  EXPECT_EQ(config->baseDir, dir_);
  Status status = validatePipeline(config.value(), registry_);
  ASSERT_TRUE(status.isOk()) << status.message();
  ASSERT_NE(config->input.importer, nullptr);
  EXPECT_EQ(config->input.importer->info.format, "tpir");
  EXPECT_EQ(config->input.options.getString("weights"), "w.pth");
  EXPECT_EQ(config->input.options.getString("path"), "model.bin");
}

TEST_F(PipelineTest, InputProblems) {
  writeFile("notes.txt", "hello");
  const fs::path cfg = dir_ / "cfg.yaml";
  auto check = [&](const std::string& yaml) {
    auto config = parsePipelineYaml(yaml, cfg);
    if (!config) return config.status().message();
    Status status = validatePipeline(config.value(), registry_);
    return status.isOk() ? std::string("ok") : status.message();
  };
  const std::string file = cfg.string();

  EXPECT_EQ(check("torchport: 1\ninput: {path: missing.pt}\n"),
            file + ":2:15: input: file 'missing.pt' does not exist (looked for '" + (dir_ / "missing.pt").string() +
                "'; relative paths are relative to the config file); fix `path:`");
  EXPECT_EQ(check("torchport: 1\ninput: {path: notes.txt}\n"),
            file + ":2:15: input: cannot tell the format of 'notes.txt' from its contents or name; set `format:` to "
                   "one of: tpir");
  EXPECT_EQ(check("torchport: 1\ninput: {path: notes.txt, format: tpri}\n"),
            file + ":2:34: input: unknown format 'tpri' (did you mean 'tpir'?); known formats: tpir (a plugin may "
                   "provide it: add it under `plugins:` or pass --plugin)");
  EXPECT_EQ(check("torchport: 1\ninput: {path: notes.txt, format: tpir, weight: w.pth}\n"),
            file + ":2:48: input (format 'tpir'): option 'weight' is unknown (did you mean 'weights'?); known "
                   "options: weights");
  EXPECT_EQ(check("torchport: 1\ninput: {path: notes.txt, format: tpir}\n"), "ok") << "format overrides sniffing";
  EXPECT_EQ(check("torchport: 1\ninput: model.pt\n"),
            file + ":2:8: 'input' must be a map, e.g. `input: {path: model.pt}`, got 'model.pt'");
}

TEST_F(PipelineTest, LoadPipelineFileReadsFromDisk) {
  fs::path cfg = writeFile("cfg.yaml", "torchport: 1\npipeline:\n  - fold-constnts\n");
  auto config = loadPipelineFile(cfg);
  ASSERT_TRUE(config) << config.status().message();
  EXPECT_EQ(config->baseDir, dir_);
  Status status = validatePipeline(config.value(), registry_);
  ASSERT_FALSE(status.isOk());
  EXPECT_EQ(status.message().rfind(cfg.string() + ":3:5: unknown step 'fold-constnts'", 0), 0u) << status.message();

  auto missing = loadPipelineFile(dir_ / "nope.yaml");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.status().message().find("nope.yaml"), std::string::npos) << missing.status().message();
}

}  // namespace
}  // namespace torchport
