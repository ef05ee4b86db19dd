// The converter helper layer: static readers, dtype promotion, broadcasting.
#include <gtest/gtest.h>

#include "converter_utils.h"
#include "torchport/text_ir.h"

namespace torchport::onnxplugin {
namespace {

TEST(PromoteTypes, FollowsPyTorch) {
  EXPECT_EQ(promoteTypes(DType::F32, DType::I64), DType::F32);
  EXPECT_EQ(promoteTypes(DType::F16, DType::BF16), DType::F32);
  EXPECT_EQ(promoteTypes(DType::U8, DType::I8), DType::I16);
  EXPECT_EQ(promoteTypes(DType::U8, DType::I32), DType::I32);
  EXPECT_EQ(promoteTypes(DType::Bool, DType::I32), DType::I32);
  EXPECT_EQ(promoteTypes(DType::I32, DType::I64), DType::I64);
  EXPECT_EQ(promoteTypes(DType::F64, DType::F16), DType::F64);
  EXPECT_EQ(promoteTypes(DType::Undefined, DType::F32), DType::Undefined);
}

TEST(TorchScalarTypes, RoundTrip) {
  for (int64_t code : {0, 1, 2, 3, 4, 5, 6, 7, 11, 15}) {
    auto dtype = dtypeFromTorchScalarType(code);
    ASSERT_TRUE(dtype.has_value()) << code;
    EXPECT_EQ(torchScalarTypeOf(*dtype), code);
  }
  EXPECT_FALSE(dtypeFromTorchScalarType(12).has_value()) << "quantized types have no ONNX form";
  EXPECT_EQ(onnxDataType(DType::F32), 1);
  EXPECT_EQ(onnxDataType(DType::I64), 7);
  EXPECT_EQ(onnxDataType(DType::Bool), 9);
}

TEST(StaticReaders, ReadScalarListAndTensorPayloads) {
  auto graph = parseGraph(R"(graph @main() -> (%i, %f, %b, %l, %t, %n, %s) {
  %i = const int -3
  %f = const float 0.25
  %b = const bool true
  %l = const list<int> [1,2,3]
  %t = const i64[2] dense<[4, 5]>
  %n = const none
  %s = const str "floor"
}
)");
  ASSERT_TRUE(graph.hasValue()) << graph.status().message();
  auto out = (*graph)->outputs();
  EXPECT_EQ(staticInt(out[0]), -3);
  EXPECT_EQ(staticFloat(out[1]), 0.25);
  EXPECT_EQ(staticBool(out[2]), true);
  EXPECT_EQ(staticInts(out[3]), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(staticInts(out[4]), (std::vector<int64_t>{4, 5}));
  EXPECT_FALSE(staticInt(out[4]).has_value()) << "a 2-element tensor is not an int";
  EXPECT_TRUE(isNone(out[5]));
  EXPECT_FALSE(isNone(out[0]));
  ASSERT_NE(staticString(out[6]), nullptr);
  EXPECT_EQ(*staticString(out[6]), "floor");
  EXPECT_TRUE(isStaticScalar(out[0]));
  EXPECT_FALSE(isStaticScalar(out[4]));
  EXPECT_EQ(dtypeOf(out[1]), DType::F32);
  EXPECT_EQ(dtypeOf(out[2]), DType::Bool);
  EXPECT_EQ(rankOf(out[4]), 1);
}

TEST(Broadcast, KnownSymbolicAndUnknownDims) {
  std::vector<Dim> a{Dim::symbol("batch"), Dim::known(1), Dim::known(5)};
  std::vector<Dim> b{Dim::known(4), Dim::known(1)};
  auto r = broadcastShapes(a, b);
  ASSERT_TRUE(r.has_value());
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0], Dim::symbol("batch"));
  EXPECT_EQ((*r)[1], Dim::known(4));
  EXPECT_EQ((*r)[2], Dim::known(5));
  EXPECT_FALSE(broadcastShapes(std::nullopt, b).has_value());
  auto u = broadcastShapes(std::vector<Dim>{Dim::symbol("a")}, std::vector<Dim>{Dim::symbol("b")});
  ASSERT_TRUE(u.has_value());
  EXPECT_TRUE((*u)[0].isUnknown());
}

}  // namespace
}  // namespace torchport::onnxplugin

// Debugging aid (disabled): TORCHPORT_SIMPLIFY_IR=file.tpir prints the graph after the
// static simplification of scripted code that lower-to-onnx starts with.
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "prepare_aten.h"

namespace torchport::onnxplugin {
namespace {
TEST(Debug, DISABLED_PrintSimplified) {
  const char* file = std::getenv("TORCHPORT_SIMPLIFY_IR");
  ASSERT_NE(file, nullptr);
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  auto graph = parseGraph(text.str(), file);
  ASSERT_TRUE(graph.hasValue()) << graph.status().message();
  auto changed = simplifyStaticScripting(**graph);
  ASSERT_TRUE(changed.hasValue()) << changed.status().message();
  PrintOptions options;
  options.elideTensorsAbove = 8;
  std::cout << printGraph(**graph, options);
}
}  // namespace
}  // namespace torchport::onnxplugin
