// DType helpers (incl. f16/bf16), Dim / Type, Storage (owned, borrowed, mmap'ed) and Tensor.
#include <gtest/gtest.h>
#include <unistd.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "torchport/ir.h"

namespace torchport {
namespace {

constexpr DType kAllDTypes[] = {DType::F32, DType::F64, DType::F16, DType::BF16, DType::I8,   DType::I16,
                                DType::I32, DType::I64, DType::U8,  DType::U16,  DType::U32,  DType::U64,
                                DType::Bool, DType::C64, DType::C128, DType::F8E4M3, DType::F8E5M2};

TEST(DTypeTest, NamesRoundTripAndSizes) {
  for (DType dtype : kAllDTypes) {
    EXPECT_EQ(parseDType(dtypeName(dtype)), dtype) << dtypeName(dtype);
    EXPECT_GT(dtypeSize(dtype), 0u);
  }
  EXPECT_EQ(dtypeName(DType::F32), "f32");
  EXPECT_EQ(dtypeName(DType::Undefined), "?");
  EXPECT_EQ(dtypeSize(DType::Undefined), 0u);
  EXPECT_EQ(dtypeSize(DType::C128), 16u);
  EXPECT_EQ(dtypeSize(DType::BF16), 2u);
  EXPECT_EQ(parseDType("float32"), DType::F32);
  EXPECT_EQ(parseDType("int64"), DType::I64);
  EXPECT_EQ(parseDType("float"), std::nullopt);  // a scalar type in the textual IR
  EXPECT_EQ(parseDType("f33"), std::nullopt);
  EXPECT_TRUE(isFloatingPoint(DType::BF16));
  EXPECT_FALSE(isFloatingPoint(DType::I32));
  EXPECT_TRUE(isInteger(DType::U16));
  EXPECT_FALSE(isInteger(DType::Bool));
}

TEST(DTypeTest, Float16Conversions) {
  EXPECT_EQ(floatToFloat16Bits(1.0f), 0x3c00);
  EXPECT_EQ(floatToFloat16Bits(-2.0f), 0xc000);
  EXPECT_EQ(floatToFloat16Bits(65504.0f), 0x7bff);
  EXPECT_EQ(floatToFloat16Bits(65520.0f), 0x7c00);  // rounds to infinity
  EXPECT_EQ(floatToFloat16Bits(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(floatToFloat16Bits(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // tie -> even
  EXPECT_EQ(floatToFloat16Bits(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);  // tie -> even (up)
  EXPECT_TRUE(std::isnan(float16BitsToFloat(floatToFloat16Bits(std::numeric_limits<float>::quiet_NaN()))));
  EXPECT_EQ(float16BitsToFloat(0x3555), 0.333251953125f);
  // Every non-NaN half survives half -> float -> half exactly.
  for (uint32_t bits = 0; bits <= 0xffff; ++bits) {
    const auto h = static_cast<uint16_t>(bits);
    const float f = float16BitsToFloat(h);
    if (std::isnan(f)) continue;
    ASSERT_EQ(floatToFloat16Bits(f), h) << std::hex << bits;
  }
}

TEST(DTypeTest, BFloat16Conversions) {
  EXPECT_EQ(floatToBfloat16Bits(1.0f), 0x3f80);
  EXPECT_EQ(bfloat16BitsToFloat(0x4049), 3.140625f);
  EXPECT_EQ(floatToBfloat16Bits(std::bit_cast<float>(0x3f808000u)), 0x3f80);  // tie -> even
  EXPECT_EQ(floatToBfloat16Bits(std::bit_cast<float>(0x3f818000u)), 0x3f82);  // tie -> even (up)
  EXPECT_EQ(floatToBfloat16Bits(std::bit_cast<float>(0x3f808001u)), 0x3f81);  // above tie
  EXPECT_TRUE(std::isnan(bfloat16BitsToFloat(floatToBfloat16Bits(std::numeric_limits<float>::quiet_NaN()))));
  for (uint32_t bits = 0; bits <= 0xffff; ++bits) {
    const auto b = static_cast<uint16_t>(bits);
    const float f = bfloat16BitsToFloat(b);
    if (std::isnan(f)) continue;
    ASSERT_EQ(floatToBfloat16Bits(f), b) << std::hex << bits;
  }
}

TEST(TypeTest, ToStringAndEquality) {
  Type image = Type::tensor(DType::F32, std::vector<Dim>{Dim::symbol("batch"), Dim::known(3), Dim::unknown()});
  EXPECT_EQ(image.toString(), "f32[batch,3,?]");
  EXPECT_EQ(Type::tensor(DType::F32).toString(), "f32[*]");
  EXPECT_EQ(Type::tensor(DType::Undefined).toString(), "?[*]");
  EXPECT_EQ(Type::tensor(DType::I64, std::vector<int64_t>{}).toString(), "i64[]");
  EXPECT_EQ(Type::list(Type::scalar(Type::Kind::Int)).toString(), "list<int>");
  EXPECT_EQ(Type::tuple({Type::tensor(DType::F32, std::vector<int64_t>{2}), Type::scalar(Type::Kind::Int)}).toString(),
            "tuple<f32[2], int>");
  EXPECT_EQ(Type::optional(Type::tensor(DType::F32)).toString(), "optional<f32[*]>");
  EXPECT_EQ(Type::object("__torch__.Foo").toString(), "obj<__torch__.Foo>");
  EXPECT_EQ(Type().toString(), "unknown");
  EXPECT_EQ(Type::scalar(Type::Kind::String).toString(), "str");

  EXPECT_EQ(image, Type::tensor(DType::F32, std::vector<Dim>{Dim::symbol("batch"), Dim::known(3), Dim()}));
  EXPECT_FALSE(image == Type::tensor(DType::F16, *image.shape()));
  EXPECT_FALSE(Type::tensor(DType::F32) == Type::tensor(DType::F32, std::vector<int64_t>{}));
  EXPECT_FALSE(Type::list(Type::scalar(Type::Kind::Int)) == Type::list(Type::scalar(Type::Kind::Float)));

  EXPECT_EQ(image.staticShape(), std::nullopt);
  EXPECT_EQ(Type::tensor(DType::F32, std::vector<int64_t>{2, 3}).staticShape(), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(image.rank(), 3u);
  EXPECT_TRUE(Dim::symbol("n").isSymbol());
  EXPECT_TRUE(Dim().isUnknown());
  EXPECT_EQ(Dim::known(0).toString(), "0");
}

TEST(TensorTest, ElementsAndSizes) {
  Tensor t = Tensor::fromVector<int32_t>(DType::I32, {2, 2}, {1, -2, 3, 4});
  EXPECT_EQ(t.numel(), 4);
  EXPECT_EQ(t.nbytes(), 16u);
  EXPECT_EQ(t.rank(), 2);
  EXPECT_EQ(t.elementAsInt(1), -2);
  EXPECT_EQ(t.elementAsDouble(3), 4.0);
  EXPECT_EQ(t.elementAsInt(4), 0);   // out of range
  EXPECT_EQ(t.elementAsInt(-1), 0);

  Tensor half = Tensor::fromVector<uint16_t>(DType::F16, {2}, {floatToFloat16Bits(1.5f), floatToFloat16Bits(-3.0f)});
  EXPECT_EQ(half.elementAsDouble(0), 1.5);
  EXPECT_EQ(half.elementAsInt(1), -3);
  Tensor bf = Tensor::fromVector<uint16_t>(DType::BF16, {1}, {floatToBfloat16Bits(2.5f)});
  EXPECT_EQ(bf.elementAsDouble(0), 2.5);
  Tensor flags = Tensor::fromVector<uint8_t>(DType::Bool, {2}, {0, 7});
  EXPECT_EQ(flags.elementAsInt(1), 1);
  Tensor e4m3 = Tensor::fromVector<uint8_t>(DType::F8E4M3, {2}, {0x38, 0xc0});  // 1.0, -2.0
  EXPECT_EQ(e4m3.elementAsDouble(0), 1.0);
  EXPECT_EQ(e4m3.elementAsDouble(1), -2.0);
  Tensor big = Tensor::fromVector<double>(DType::F64, {1}, {1e300});
  EXPECT_EQ(big.elementAsInt(0), std::numeric_limits<int64_t>::max());  // saturates

  EXPECT_EQ(Tensor::scalarI64(7).rank(), 0);
  EXPECT_EQ(Tensor::scalarI64(7).numel(), 1);
  EXPECT_EQ(Tensor::scalarF32(0.25f).elementAsDouble(0), 0.25);
  Tensor zeros = Tensor::zeros(DType::F64, {3});
  EXPECT_EQ(zeros.bytes().size(), 24u);
  EXPECT_EQ(zeros.elementAsDouble(2), 0.0);
  EXPECT_EQ(Tensor(DType::F32, {0, 5}, nullptr).numel(), 0);
}

TEST(TensorTest, BytesAreClampedToStorage) {
  auto storage = Storage::owned(std::vector<std::byte>(6));
  Tensor t(DType::F32, {4}, storage, 2);  // wants 16 bytes, storage has 4 after the offset
  EXPECT_EQ(t.bytes().size(), 4u);
  EXPECT_EQ(t.elementAsDouble(1), 0.0);
  Tensor past(DType::F32, {1}, storage, 100);
  EXPECT_TRUE(past.bytes().empty());
}

TEST(TensorTest, ContentEqualityAndHash) {
  Tensor a = Tensor::fromVector<float>(DType::F32, {2}, {1.f, 2.f});
  Tensor b = Tensor::fromVector<float>(DType::F32, {2}, {1.f, 2.f});
  Tensor c = Tensor::fromVector<float>(DType::F32, {2}, {1.f, 3.f});
  Tensor reshaped = Tensor::fromVector<float>(DType::F32, {1, 2}, {1.f, 2.f});
  Tensor asInt = Tensor(DType::I32, {2}, a.storage());
  EXPECT_TRUE(a.contentEquals(b));
  EXPECT_FALSE(a.contentEquals(c));
  EXPECT_FALSE(a.contentEquals(reshaped));
  EXPECT_FALSE(a.contentEquals(asInt));
  EXPECT_EQ(a.contentHash(), b.contentHash());
  EXPECT_NE(a.contentHash(), c.contentHash());
  EXPECT_NE(a.contentHash(), reshaped.contentHash());
  EXPECT_NE(a.contentHash(), asInt.contentHash());
  Tensor elided(DType::F32, {2}, nullptr);
  EXPECT_TRUE(elided.contentEquals(a));  // shape and dtype only
  EXPECT_FALSE(elided.hasData());

  // Long buffers exercise the 32-byte stripes of the hash.
  std::vector<float> values(1000, 0.5f);
  Tensor long1 = Tensor::fromVector<float>(DType::F32, {1000}, values);
  values[999] = 0.25f;
  Tensor long2 = Tensor::fromVector<float>(DType::F32, {1000}, values);
  EXPECT_NE(long1.contentHash(), long2.contentHash());
  EXPECT_FALSE(long1.contentEquals(long2));
}

TEST(StorageTest, BorrowedKeepsItsOwnerAlive) {
  auto owner = std::make_shared<std::vector<float>>(std::vector<float>{1.f, 2.f, 3.f});
  std::weak_ptr<std::vector<float>> watch = owner;
  auto storage = Storage::borrowed(owner->data(), owner->size() * sizeof(float), owner);
  owner.reset();
  EXPECT_FALSE(watch.expired());
  EXPECT_EQ(storage->kind(), Storage::Kind::Borrowed);
  Tensor t(DType::F32, {3}, storage);
  EXPECT_EQ(t.elementAsDouble(2), 3.0);
  storage.reset();
  EXPECT_FALSE(watch.expired());  // the tensor still holds it
  t = Tensor();
  EXPECT_TRUE(watch.expired());
}

class MappedFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = std::filesystem::temp_directory_path() /
            ("torchport_map_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".bin");
    std::ofstream out(path_, std::ios::binary);
    for (int i = 0; i < 10000; ++i) out.put(static_cast<char>(i % 251));
  }
  void TearDown() override { std::filesystem::remove(path_); }

  static bool isMapped(const std::filesystem::path& path) {
    std::ifstream maps("/proc/self/maps");
    std::stringstream text;
    text << maps.rdbuf();
    return text.str().find(path.string()) != std::string::npos;
  }

  std::filesystem::path path_;
};

TEST_F(MappedFileTest, MapsAnUnalignedRegionAndUnmapsWhenReleased) {
  auto mapped = Storage::mapFile(path_, 5000, 100);
  ASSERT_TRUE(mapped.hasValue()) << mapped.status().message();
  std::shared_ptr<const Storage> storage = *mapped;
  EXPECT_EQ(storage->kind(), Storage::Kind::Mapped);
  ASSERT_EQ(storage->size(), 100u);
  for (size_t i = 0; i < 100; ++i) {
    ASSERT_EQ(std::to_integer<int>(storage->bytes()[i]), static_cast<int>((5000 + i) % 251));
  }
  Tensor t(DType::U8, {10}, storage, 3);
  EXPECT_EQ(t.elementAsInt(0), (5003 % 251));
  EXPECT_TRUE(isMapped(path_));
  storage.reset();
  mapped = Status::internal("released");
  EXPECT_TRUE(isMapped(path_));  // the tensor keeps the mapping
  t = Tensor();
  EXPECT_FALSE(isMapped(path_));  // munmap'ed with the last reference
}

TEST_F(MappedFileTest, MapsToTheEndAndEmptyRanges) {
  auto tail = Storage::mapFile(path_, 9990);
  ASSERT_TRUE(tail.hasValue()) << tail.status().message();
  EXPECT_EQ((*tail)->size(), 10u);
  auto empty = Storage::mapFile(path_, 10000);
  ASSERT_TRUE(empty.hasValue()) << empty.status().message();
  EXPECT_EQ((*empty)->size(), 0u);
}

TEST_F(MappedFileTest, RejectsBadRangesAndMissingFiles) {
  auto past = Storage::mapFile(path_, 10001);
  ASSERT_FALSE(past.hasValue());
  EXPECT_EQ(past.status().kind(), ErrorKind::Input);
  EXPECT_NE(past.status().message().find(path_.string()), std::string::npos);
  auto tooLong = Storage::mapFile(path_, 9000, 2000);
  ASSERT_FALSE(tooLong.hasValue());
  EXPECT_NE(tooLong.status().message().find("exceeds the file size"), std::string::npos) << tooLong.status().message();
  auto missing = Storage::mapFile(path_.string() + ".missing");
  ASSERT_FALSE(missing.hasValue());
  EXPECT_NE(missing.status().message().find(".missing"), std::string::npos);
  auto directory = Storage::mapFile(path_.parent_path());
  EXPECT_FALSE(directory.hasValue());
}

}  // namespace
}  // namespace torchport
