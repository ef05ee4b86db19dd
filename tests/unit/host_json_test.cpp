// JSON writer (torchport/host/json.h): escaping, UTF-8 repair, numbers, layout.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "torchport/host/json.h"

namespace torchport {
namespace {

std::string quoted(std::string_view text) {
  std::string out;
  appendJsonString(out, text);
  return out;
}

std::string number(double value) {
  std::string out;
  appendJsonNumber(out, value);
  return out;
}

TEST(JsonWriter, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(quoted("plain"), "\"plain\"");
  EXPECT_EQ(quoted("say \"hi\""), "\"say \\\"hi\\\"\"");
  EXPECT_EQ(quoted("C:\\dir"), "\"C:\\\\dir\"");
  EXPECT_EQ(quoted("a\nb\tc\rd\be\ff"), "\"a\\nb\\tc\\rd\\be\\ff\"");
  EXPECT_EQ(quoted(std::string_view("\x01\x1f\x7f", 3)), "\"\\u0001\\u001f\\u007f\"");
  EXPECT_EQ(quoted(std::string_view("nul\0here", 8)), "\"nul\\u0000here\"");
  EXPECT_EQ(quoted("/slash/stays"), "\"/slash/stays\"");
}

TEST(JsonWriter, KeepsValidUtf8AndReplacesInvalidBytes) {
  EXPECT_EQ(quoted("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"), "\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"");
  const std::string replacement = "\xEF\xBF\xBD";
  EXPECT_EQ(quoted("bad\xFF" "byte"), "\"bad" + replacement + "byte\"");
  EXPECT_EQ(quoted("cut\xE2\x82"), "\"cut" + replacement + replacement + "\"");  // truncated sequence
  EXPECT_EQ(quoted("\xC0\xAF"), "\"" + replacement + replacement + "\"");          // overlong '/'
  EXPECT_EQ(quoted("\xED\xA0\x80"), "\"" + replacement + replacement + replacement + "\"");  // surrogate
  EXPECT_EQ(quoted("\xF4\x90\x80\x80"), "\"" + replacement + replacement + replacement + replacement + "\"");  // > U+10FFFF
}

TEST(JsonWriter, NumbersAreValidJsonAndStayFloats) {
  EXPECT_EQ(number(1.0), "1.0");
  EXPECT_EQ(number(-0.5), "-0.5");
  EXPECT_EQ(number(0.1), "0.1");
  EXPECT_EQ(number(1e300), "1e+300");
  EXPECT_EQ(number(std::numeric_limits<double>::quiet_NaN()), "null");
  EXPECT_EQ(number(std::numeric_limits<double>::infinity()), "null");
  EXPECT_EQ(number(-std::numeric_limits<double>::infinity()), "null");
  // Shortest round trip: parsing the text gives the same double back.
  const double third = 1.0 / 3.0;
  EXPECT_EQ(std::stod(number(third)), third);
}

TEST(JsonWriter, WritesEveryKindWithOrderedKeys) {
  OptionValue value = json::map({
      {"z", json::integer(-3)},
      {"a", json::boolean(true)},
      {"null", json::null()},
      {"list", json::list({json::string("x"), json::number(2.5), json::list(), json::map()})},
      {"nested", json::map({{"k", json::boolean(false)}})},
  });
  EXPECT_EQ(toJson(value, JsonStyle{0}),
            R"({"z":-3,"a":true,"null":null,"list":["x",2.5,[],{}],"nested":{"k":false}})");
  EXPECT_EQ(toJson(value),
            "{\n"
            "  \"z\": -3,\n"
            "  \"a\": true,\n"
            "  \"null\": null,\n"
            "  \"list\": [\n"
            "    \"x\",\n"
            "    2.5,\n"
            "    [],\n"
            "    {}\n"
            "  ],\n"
            "  \"nested\": {\n"
            "    \"k\": false\n"
            "  }\n"
            "}");
}

TEST(JsonWriter, EscapesKeysToo) {
  EXPECT_EQ(toJson(json::map({{"we\"ird\n", json::integer(1)}}), JsonStyle{0}), R"({"we\"ird\n":1})");
}

TEST(JsonWriter, ExtremeIntegers) {
  EXPECT_EQ(toJson(json::integer(std::numeric_limits<int64_t>::min())), "-9223372036854775808");
  EXPECT_EQ(toJson(json::integer(std::numeric_limits<int64_t>::max())), "9223372036854775807");
}

}  // namespace
}  // namespace torchport
