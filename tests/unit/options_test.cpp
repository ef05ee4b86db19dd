// Option values, specs and validateOptions: types, defaults, bounds, choices, unknown keys
// with suggestions, and every problem reported at once with its location.
#include <gtest/gtest.h>

#include <algorithm>

#include "torchport/options.h"

namespace torchport {
namespace {

SourceLocation loc(int line, int column) { return SourceLocation{"cfg.yaml", line, column}; }

OptionValue mapOf(OptionValue::Map entries, SourceLocation where = loc(3, 5)) {
  return OptionValue(std::move(entries), std::move(where));
}

OptionSpec spec(std::string name, OptionType type, OptionValue defaultValue = {}) {
  OptionSpec s;
  s.name = std::move(name);
  s.type = type;
  s.defaultValue = std::move(defaultValue);
  return s;
}

std::vector<OptionSpec> onnxLikeSpecs() {
  OptionSpec opset = spec("opset", OptionType::Int, OptionValue(int64_t{17}));
  opset.minInt = 13;
  opset.maxInt = 18;
  OptionSpec path = spec("path", OptionType::String);
  path.required = true;
  path.doc = "output file";
  OptionSpec external = spec("external_data", OptionType::String, OptionValue(std::string("auto")));
  external.choices = {"auto", "always", "never"};
  return {opset, path, external, spec("rtol", OptionType::Float, OptionValue(1e-4)),
          spec("batch", OptionType::IntList), spec("names", OptionType::StringList),
          spec("scales", OptionType::FloatList), spec("freeze", OptionType::Bool, OptionValue(true)),
          spec("axes", OptionType::Any)};
}

TEST(SourceLocation, FormatsFileLineColumn) {
  EXPECT_EQ(loc(12, 7).toString(), "cfg.yaml:12:7");
  EXPECT_EQ((SourceLocation{"cfg.yaml", 0, 0}).toString(), "cfg.yaml");
  EXPECT_EQ(SourceLocation{}.toString(), "<pipeline>");
  EXPECT_EQ((SourceLocation{"", 1, 4}).toString(), "<pipeline>:1:4");
}

TEST(OptionValue, TypeNamesAndFind) {
  EXPECT_EQ(OptionValue().typeName(), "null");
  EXPECT_EQ(OptionValue(true).typeName(), "bool");
  EXPECT_EQ(OptionValue(int64_t{3}).typeName(), "int");
  EXPECT_EQ(OptionValue(2.5).typeName(), "float");
  EXPECT_EQ(OptionValue(std::string("x")).typeName(), "string");
  EXPECT_EQ(OptionValue(OptionValue::List{}).typeName(), "list");
  OptionValue map = mapOf({{"a", OptionValue(int64_t{1})}, {"b", OptionValue(std::string("x"))}});
  EXPECT_EQ(map.typeName(), "map");
  ASSERT_NE(map.find("b"), nullptr);
  EXPECT_EQ(map.find("b")->asString(), "x");
  EXPECT_EQ(map.find("c"), nullptr);
  EXPECT_EQ(OptionValue(int64_t{1}).find("a"), nullptr);  // not a map
  EXPECT_DOUBLE_EQ(OptionValue(int64_t{4}).asFloat(), 4.0);
}

TEST(OptionValue, ToStringIsCompactFlowForm) {
  OptionValue value = mapOf({{"a", OptionValue(int64_t{1})},
                             {"b", OptionValue(OptionValue::List{OptionValue(std::string("x")), OptionValue(2.5)})},
                             {"c", OptionValue(std::string("two words"))},
                             {"d", OptionValue(std::string("17"))},
                             {"e", OptionValue(1.0)},
                             {"f", OptionValue()},
                             {"g", OptionValue(false)}});
  EXPECT_EQ(value.toString(), "{a: 1, b: [x, 2.5], c: \"two words\", d: \"17\", e: 1.0, f: null, g: false}");
}

TEST(OptionType, Names) {
  EXPECT_EQ(optionTypeName(OptionType::Int), "int");
  EXPECT_EQ(optionTypeName(OptionType::StringList), "list<string>");
  EXPECT_EQ(optionTypeName(OptionType::FloatList), "list<float>");
  EXPECT_EQ(optionTypeName(OptionType::Any), "any");
}

TEST(ValidateOptions, FillsDefaultsAndKeepsGivenValues) {
  OptionValue given = mapOf({{"path", OptionValue(std::string("out/m.onnx"), loc(4, 11))},
                             {"opset", OptionValue(int64_t{13}, loc(5, 12))},
                             {"rtol", OptionValue(int64_t{1}, loc(6, 11))},
                             {"batch", OptionValue(OptionValue::List{OptionValue(int64_t{1}), OptionValue(int64_t{4})})},
                             {"scales", OptionValue(OptionValue::List{OptionValue(int64_t{2}), OptionValue(0.5)})},
                             {"names", OptionValue(OptionValue::List{OptionValue(std::string("input"))})},
                             {"axes", mapOf({{"input", OptionValue(std::string("batch"))}})}});
  auto options = validateOptions("save-onnx", onnxLikeSpecs(), given);
  ASSERT_TRUE(options) << options.status().message();
  EXPECT_EQ(options->getString("path"), "out/m.onnx");
  EXPECT_EQ(options->getInt("opset"), 13);
  EXPECT_TRUE(options->get("rtol")->isFloat()) << "ints given for float options are widened";
  EXPECT_DOUBLE_EQ(options->getFloat("rtol"), 1.0);
  EXPECT_EQ(options->getString("external_data"), "auto");  // default
  EXPECT_TRUE(options->getBool("freeze"));                  // default
  EXPECT_EQ(options->getIntList("batch"), (std::vector<int64_t>{1, 4}));
  EXPECT_EQ(options->getFloatList("scales"), (std::vector<double>{2.0, 0.5}));
  EXPECT_EQ(options->getStringList("names"), (std::vector<std::string>{"input"}));
  ASSERT_NE(options->get("axes"), nullptr);
  EXPECT_TRUE(options->get("axes")->isMap());
  EXPECT_EQ(options->get("opset")->where().toString(), "cfg.yaml:5:12");
}

TEST(ValidateOptions, NullGivenMeansNoOptions) {
  std::vector<OptionSpec> specs = {spec("max", OptionType::Int, OptionValue(int64_t{8}))};
  auto options = validateOptions("fold-constants", specs, OptionValue());
  ASSERT_TRUE(options) << options.status().message();
  EXPECT_EQ(options->getInt("max"), 8);
  EXPECT_FALSE(options->has("absent"));
  EXPECT_EQ(options->getInt("absent", 42), 42);
  EXPECT_EQ(options->getString("max", "fallback"), "fallback") << "wrong-typed getter falls back";
}

TEST(ValidateOptions, UnknownKeySuggestsClosestName) {
  OptionValue given = mapOf({{"path", OptionValue(std::string("m.onnx"))},
                             {"opsett", OptionValue(int64_t{17}, loc(4, 15))}});
  auto options = validateOptions("save-onnx", onnxLikeSpecs(), given);
  ASSERT_FALSE(options);
  EXPECT_EQ(options.status().kind(), ErrorKind::Input);
  const std::string& message = options.status().message();
  EXPECT_NE(message.find("cfg.yaml:4:15: step 'save-onnx': option 'opsett' is unknown (did you mean 'opset'?)"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("known options: axes, batch, external_data, freeze, names, opset, path, rtol, scales"),
            std::string::npos)
      << message;
}

TEST(ValidateOptions, UnknownKeyOnStepWithoutOptions) {
  auto options = validateOptions("eliminate-dead-code", {}, mapOf({{"x", OptionValue(int64_t{1}, loc(2, 9))}}));
  ASSERT_FALSE(options);
  EXPECT_EQ(options.status().message(),
            "cfg.yaml:2:9: step 'eliminate-dead-code': option 'x' is unknown; this step takes no options");
}

TEST(ValidateOptions, WrongTypeNamesExpectedAndGot) {
  OptionValue given = mapOf({{"path", OptionValue(std::string("m.onnx"))},
                             {"opset", OptionValue(std::string("seventeen"), loc(7, 14))}});
  auto options = validateOptions("save-onnx", onnxLikeSpecs(), given);
  ASSERT_FALSE(options);
  EXPECT_EQ(options.status().message(),
            "cfg.yaml:7:14: step 'save-onnx': option 'opset' must be int, got string 'seventeen'");
}

TEST(ValidateOptions, ListElementOfWrongType) {
  OptionValue given = mapOf(
      {{"path", OptionValue(std::string("m.onnx"))},
       {"batch", OptionValue(OptionValue::List{OptionValue(int64_t{1}), OptionValue(std::string("four"), loc(8, 20))},
                             loc(8, 14))},
       {"freeze", OptionValue(std::string("yes"), loc(9, 15))}});
  auto options = validateOptions("save-onnx", onnxLikeSpecs(), given);
  ASSERT_FALSE(options);
  EXPECT_EQ(options.status().message(),
            "cfg.yaml:8:20: step 'save-onnx': option 'batch' element 1 must be int, got string 'four'\n"
            "cfg.yaml:9:15: step 'save-onnx': option 'freeze' must be bool, got string 'yes'");
}

TEST(ValidateOptions, IntBoundsAndChoices) {
  OptionValue given = mapOf({{"path", OptionValue(std::string("m.onnx"))},
                             {"opset", OptionValue(int64_t{19}, loc(4, 12))},
                             {"external_data", OptionValue(std::string("alway"), loc(5, 20))}});
  auto options = validateOptions("save-onnx", onnxLikeSpecs(), given);
  ASSERT_FALSE(options);
  EXPECT_EQ(options.status().message(),
            "cfg.yaml:4:12: step 'save-onnx': option 'opset' must be between 13 and 18, got 19\n"
            "cfg.yaml:5:20: step 'save-onnx': option 'external_data' must be one of auto, always, never; "
            "got 'alway' (did you mean 'always'?)");

  OptionSpec atLeastOne = spec("n", OptionType::Int);
  atLeastOne.minInt = 1;
  auto low = validateOptions("x", {atLeastOne}, mapOf({{"n", OptionValue(int64_t{0}, loc(1, 4))}}));
  ASSERT_FALSE(low);
  EXPECT_NE(low.status().message().find("must be at least 1, got 0"), std::string::npos);
}

TEST(ValidateOptions, MissingRequiredUsesMapLocationAndDoc) {
  auto options = validateOptions("save-onnx", onnxLikeSpecs(), mapOf({}, loc(10, 17)));
  ASSERT_FALSE(options);
  EXPECT_EQ(options.status().message(),
            "cfg.yaml:10:17: step 'save-onnx': option 'path' is required but missing (add `path: <string>`: output file)");
}

TEST(ValidateOptions, ReportsAllProblemsTogether) {
  OptionValue given = mapOf({{"opsett", OptionValue(int64_t{17}, loc(4, 15))},
                             {"rtol", OptionValue(std::string("tiny"), loc(5, 13))}},
                            loc(3, 20));
  auto options = validateOptions("save-onnx", onnxLikeSpecs(), given);
  ASSERT_FALSE(options);
  const std::string& message = options.status().message();
  EXPECT_NE(message.find("cfg.yaml:4:15: step 'save-onnx': option 'opsett'"), std::string::npos) << message;
  EXPECT_NE(message.find("cfg.yaml:5:13: step 'save-onnx': option 'rtol' must be float, got string 'tiny'"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("cfg.yaml:3:20: step 'save-onnx': option 'path' is required"), std::string::npos) << message;
  EXPECT_EQ(std::count(message.begin(), message.end(), '\n'), 2) << message;
}

TEST(ValidateOptions, OptionsMustBeAMap) {
  auto options = validateOptions("fold-constants", {}, OptionValue(int64_t{3}, loc(6, 21)));
  ASSERT_FALSE(options);
  EXPECT_EQ(options.status().message(),
            "cfg.yaml:6:21: step 'fold-constants': options must be a map of `key: value` pairs, got int 3");
}

TEST(ValidateOptions, UnknownLocationsAreLeftOut) {
  OptionValue given(OptionValue::Map{{"opset", OptionValue(int64_t{17})}});
  auto options = validateOptions("eliminate-dead-code", {}, given);
  ASSERT_FALSE(options);
  EXPECT_EQ(options.status().message(), "step 'eliminate-dead-code': option 'opset' is unknown; this step takes no options");
  // A command-line flag as the location (no line) is still shown.
  OptionValue flag(OptionValue::Map{{"opset", OptionValue(std::string("x"), SourceLocation{"--opset", 0, 0})}});
  OptionSpec opset = spec("opset", OptionType::Int);
  auto fromFlag = validateOptions("lower-to-onnx", {opset}, flag);
  ASSERT_FALSE(fromFlag);
  EXPECT_EQ(fromFlag.status().message(), "--opset: step 'lower-to-onnx': option 'opset' must be int, got string 'x'");
}

TEST(ValidateOptions, ExplicitNullFallsBackToDefault) {
  auto options = validateOptions("save-onnx", onnxLikeSpecs(),
                                 mapOf({{"path", OptionValue(std::string("m.onnx"))}, {"opset", OptionValue()}}));
  ASSERT_TRUE(options) << options.status().message();
  EXPECT_EQ(options->getInt("opset"), 17);
}

}  // namespace
}  // namespace torchport
