// Sniffing TorchScript archives from their first bytes.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sniff.h"
#include "torchport/files.h"

namespace torchport::torchscript {
namespace {

// A zip local file header as torch.jit.save writes it (data descriptor flag, sizes 0).
void appendEntry(std::vector<std::byte>& out, const std::string& name, size_t payload) {
  const unsigned char header[] = {'P', 'K', 3, 4, 0, 0, 8, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                  0,   0,   0, 0, 0, 0, 0, 0,
                                  static_cast<unsigned char>(name.size() & 0xff),
                                  static_cast<unsigned char>(name.size() >> 8), 0, 0};
  for (unsigned char c : header) out.push_back(std::byte{c});
  for (char c : name) out.push_back(static_cast<std::byte>(c));
  for (size_t i = 0; i < payload; ++i) out.push_back(std::byte{0x5a});
}

std::vector<std::byte> zipHead(const std::vector<std::string>& names, size_t payload = 16) {
  std::vector<std::byte> head;
  for (const std::string& name : names) appendEntry(head, name, payload);
  return head;
}

TEST(TorchScriptSniff, CodeOrConstantsEntriesAreCertain) {
  EXPECT_EQ(sniffTorchScript(zipHead({"m/data/0", "m/data.pkl", "m/code/__torch__.py"}), "model.bin"), 100);
  EXPECT_EQ(sniffTorchScript(zipHead({"m/data.pkl", "m/constants.pkl"}), "model"), 100);
}

TEST(TorchScriptSniff, TensorBlobFirstIsTheJitSaveLayout) {
  EXPECT_EQ(sniffTorchScript(zipHead({"resnet/data/0"}, 5000), "weights.bin"), kSniffJitSaveLayout);
}

TEST(TorchScriptSniff, TorchSaveArchiveIsOnlyClaimedByExtension) {
  auto head = zipHead({"sd/data.pkl", "sd/data/0"});
  EXPECT_EQ(sniffTorchScript(head, "resnet.pth"), kSniffZipWithExtension);
  EXPECT_EQ(sniffTorchScript(head, "resnet.bin"), kSniffTorchSaveZip);
  EXPECT_LT(kSniffTorchSaveZip, kSniffExtensionOnly);
}

TEST(TorchScriptSniff, ZipWithOurExtension) {
  auto head = zipHead({"readme.txt"});
  EXPECT_EQ(sniffTorchScript(head, "model.PT"), kSniffZipWithExtension);
  EXPECT_EQ(sniffTorchScript(head, "model.ptl"), kSniffZipWithExtension);
  EXPECT_EQ(sniffTorchScript(head, "archive.zip"), 0);
}

TEST(TorchScriptSniff, NotAZip) {
  std::vector<std::byte> onnxLike = {std::byte{0x08}, std::byte{0x07}, std::byte{0x12}, std::byte{0x07}};
  EXPECT_EQ(sniffTorchScript(onnxLike, "model.onnx"), 0);
  EXPECT_EQ(sniffTorchScript(onnxLike, "model.pt"), kSniffExtensionOnly);
  EXPECT_EQ(sniffTorchScript({}, "empty.bin"), 0);
  EXPECT_EQ(sniffTorchScript({}, "empty.jit"), kSniffExtensionOnly);
}

TEST(TorchScriptSniff, TruncatedHeaderIsNotReadPastTheEnd) {
  auto head = zipHead({"m/code/__torch__.py"});
  head.resize(34);  // the name is cut off
  EXPECT_EQ(zipEntryNamesInHead(head).size(), 0u);
  EXPECT_EQ(sniffTorchScript(head, "x.bin"), 0);
}

TEST(TorchScriptSniff, EntryNamesInOrder) {
  auto names = zipEntryNamesInHead(zipHead({"a/data/0", "a/data/1", "a/data.pkl"}));
  ASSERT_EQ(names.size(), 3u);
  EXPECT_EQ(names[0], "a/data/0");
  EXPECT_EQ(names[2], "a/data.pkl");
}

TEST(TorchScriptSniff, RealFiles) {
  const std::string dir = TORCHSCRIPT_FIXTURE_DIR;
  auto traced = readFileHead(dir + "/resnet18_traced.pt");
  ASSERT_TRUE(traced.hasValue()) << traced.status().message();
  EXPECT_GE(sniffTorchScript(*traced, dir + "/resnet18_traced.pt"), kSniffJitSaveLayout);
  auto small = readFileHead(dir + "/control_flow.pt");
  ASSERT_TRUE(small.hasValue());
  EXPECT_EQ(sniffTorchScript(*small, "control_flow.bin"), 100);  // code/ visible in 4 KiB
  auto stateDict = readFileHead(dir + "/state_dict.pth");
  ASSERT_TRUE(stateDict.hasValue());
  EXPECT_EQ(sniffTorchScript(*stateDict, dir + "/state_dict.pth"), kSniffZipWithExtension);
}

}  // namespace
}  // namespace torchport::torchscript
