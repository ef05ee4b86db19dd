// Registry: registration per category, duplicates naming the first owner, converter
// version ranges, kernel wildcards, sniffing, transactions and ownership listing.
#include <gtest/gtest.h>

#include <cstring>

#include "torchport/registry.h"

namespace torchport {
namespace {

PassInfo passInfo(std::string name) {
  PassInfo info;
  info.name = std::move(name);
  info.summary = "test pass";
  return info;
}

Status noopPass(Graph&, PassContext&) { return Status::ok(); }
Status noopExport(const Graph&, PassContext&) { return Status::ok(); }
Expected<std::unique_ptr<Graph>> noImport(const std::filesystem::path&, PassContext&) {
  return Status::unsupported("test importer does not import");
}
Status noopConvert(ConversionContext&) { return Status::ok(); }
Expected<std::vector<Tensor>> noKernel(const Node&, std::span<const Tensor>) { return std::vector<Tensor>{}; }

ConverterEntry converter(std::string op, int minVersion, int maxVersion) {
  ConverterEntry entry;
  entry.opKind = std::move(op);
  entry.target = "onnx";
  entry.minVersion = minVersion;
  entry.maxVersion = maxVersion;
  entry.convert = noopConvert;
  return entry;
}

KernelEntry kernel(std::string op, std::string summary = {}) {
  KernelEntry entry;
  entry.opKind = std::move(op);
  entry.summary = std::move(summary);
  entry.evaluate = noKernel;
  return entry;
}

ImporterInfo importerInfo(std::string format, std::vector<std::string> extensions) {
  ImporterInfo info;
  info.format = std::move(format);
  info.extensions = std::move(extensions);
  return info;
}

TEST(Registry, RegistersAndFindsEachCategory) {
  Registry registry;
  EXPECT_EQ(registry.currentOwner(), "core");
  ASSERT_TRUE(registry.addPass(passInfo("eliminate-dead-code"), noopPass).isOk());
  ASSERT_TRUE(registry.addExporter(passInfo("save-onnx"), "onnx", {".onnx"}, noopExport).isOk());
  ASSERT_TRUE(registry.addImporter(importerInfo("onnx", {".onnx"}), {}, noImport).isOk());
  ASSERT_TRUE(registry.addConverter(converter("aten::conv2d", 13, 18)).isOk());
  ASSERT_TRUE(registry.addKernel(kernel("onnx::Shape")).isOk());

  ASSERT_NE(registry.findPass("eliminate-dead-code"), nullptr);
  EXPECT_EQ(registry.findPass("eliminate-dead-code")->plugin, "core");
  EXPECT_EQ(registry.findPass("save-onnx"), nullptr);
  ASSERT_NE(registry.findExporter("save-onnx"), nullptr);
  EXPECT_EQ(registry.findExporter("save-onnx")->info.kind, StepKind::Export);
  EXPECT_NE(registry.findImporter("onnx"), nullptr);
  EXPECT_EQ(registry.findImporter("torchscript"), nullptr);
  EXPECT_NE(registry.findKernel("onnx::Shape"), nullptr);
  EXPECT_EQ(registry.stepNames(), (std::vector<std::string>{"eliminate-dead-code", "save-onnx"}));
  EXPECT_EQ(registry.passes().size(), 1u);
  EXPECT_EQ(registry.exporters().size(), 1u);
  EXPECT_EQ(registry.importers().size(), 1u);
  EXPECT_EQ(registry.kernels().size(), 1u);
}

TEST(Registry, DuplicatesNameTheFirstOwner) {
  Registry registry;
  ASSERT_TRUE(registry.addPass(passInfo("x"), noopPass).isOk());
  registry.setCurrentOwner("mylayers");
  Status duplicate = registry.addPass(passInfo("x"), noopPass);
  ASSERT_FALSE(duplicate.isOk());
  EXPECT_EQ(duplicate.message(), "pass 'x' is already registered by plugin 'core'");

  // Passes and exporters share the step namespace.
  Status clash = registry.addExporter(passInfo("x"), "fmt", {}, noopExport);
  ASSERT_FALSE(clash.isOk());
  EXPECT_NE(clash.message().find("already registered by plugin 'core'"), std::string::npos) << clash.message();

  ASSERT_TRUE(registry.addImporter(importerInfo("onnx", {}), {}, noImport).isOk());
  registry.setCurrentOwner("other");
  Status importer = registry.addImporter(importerInfo("onnx", {}), {}, noImport);
  EXPECT_EQ(importer.message(), "importer 'onnx' is already registered by plugin 'mylayers'");

  ASSERT_TRUE(registry.addKernel(kernel("aten::*")).isOk());
  Status kernelDuplicate = registry.addKernel(kernel("aten::*"));
  EXPECT_EQ(kernelDuplicate.message(), "kernel 'aten::*' is already registered by plugin 'other'");
  // The first registration is untouched.
  EXPECT_EQ(registry.findPass("x")->plugin, "core");
}

TEST(Registry, RejectsMalformedRegistrations) {
  Registry registry;
  EXPECT_FALSE(registry.addPass(passInfo(""), noopPass).isOk());
  EXPECT_FALSE(registry.addPass(passInfo("has space"), noopPass).isOk());
  EXPECT_FALSE(registry.addPass(passInfo("no-run"), PassFn{}).isOk());
  EXPECT_FALSE(registry.addConverter(converter("conv2d", 13, 18)).isOk()) << "op kind must be qualified";
  EXPECT_FALSE(registry.addConverter(converter("aten::conv2d", 18, 13)).isOk()) << "empty range";
  EXPECT_FALSE(registry.addKernel(kernel("Shape")).isOk());
  EXPECT_TRUE(registry.passes().empty());
}

TEST(Registry, ConverterVersionRanges) {
  Registry registry;
  registry.setCurrentOwner("onnx");
  ASSERT_TRUE(registry.addConverter(converter("aten::conv2d", 13, 17)).isOk());
  ASSERT_TRUE(registry.addConverter(converter("aten::conv2d", 18, 18)).isOk());
  ASSERT_TRUE(registry.addConverter(converter("aten::relu", 13, 18)).isOk());

  Status overlap = registry.addConverter(converter("aten::conv2d", 17, 18));
  ASSERT_FALSE(overlap.isOk());
  EXPECT_EQ(overlap.message(),
            "converter aten::conv2d->onnx[17,18] is already registered by plugin 'onnx' as aten::conv2d->onnx[13,17] "
            "(version ranges of one op and target must not overlap)");
  Status exact = registry.addConverter(converter("aten::relu", 13, 18));
  EXPECT_EQ(exact.message(), "converter aten::relu->onnx[13,18] is already registered by plugin 'onnx'");

  const ConverterEntry* at13 = registry.findConverter("aten::conv2d", "onnx", 13);
  const ConverterEntry* at18 = registry.findConverter("aten::conv2d", "onnx", 18);
  ASSERT_NE(at13, nullptr);
  ASSERT_NE(at18, nullptr);
  EXPECT_EQ(at13->maxVersion, 17);
  EXPECT_EQ(at18->minVersion, 18);
  EXPECT_EQ(registry.findConverter("aten::conv2d", "onnx", 12), nullptr);
  EXPECT_EQ(registry.findConverter("aten::conv2d", "tflite", 13), nullptr);
  EXPECT_EQ(registry.findConverter("aten::matmul", "onnx", 13), nullptr);

  auto all = registry.converters("onnx");
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0]->opKind, "aten::conv2d");
  EXPECT_EQ(all[0]->minVersion, 13);
  EXPECT_EQ(all[1]->minVersion, 18);
  EXPECT_EQ(all[2]->opKind, "aten::relu");
  EXPECT_TRUE(registry.converters("tflite").empty());
}

TEST(Registry, KernelWildcardMatchesAfterExactKinds) {
  Registry registry;
  ASSERT_TRUE(registry.addKernel(kernel("aten::*", "generic")).isOk());
  ASSERT_TRUE(registry.addKernel(kernel("aten::size", "exact")).isOk());
  ASSERT_NE(registry.findKernel("aten::size"), nullptr);
  EXPECT_EQ(registry.findKernel("aten::size")->summary, "exact");
  ASSERT_NE(registry.findKernel("aten::add"), nullptr);
  EXPECT_EQ(registry.findKernel("aten::add")->summary, "generic");
  EXPECT_EQ(registry.findKernel("onnx::Add"), nullptr);
  EXPECT_EQ(registry.findKernel("add"), nullptr);
}

TEST(Registry, SniffPicksHighestConfidence) {
  Registry registry;
  auto magic = [](std::span<const std::byte> head, const std::filesystem::path&) {
    return head.size() >= 2 && head[0] == std::byte{'P'} && head[1] == std::byte{'K'} ? 100 : 0;
  };
  auto byExtension = [](std::span<const std::byte>, const std::filesystem::path& path) {
    return path.extension() == ".pt" ? 50 : 0;
  };
  ASSERT_TRUE(registry.addImporter(importerInfo("zip-model", {".zip"}), magic, noImport).isOk());
  ASSERT_TRUE(registry.addImporter(importerInfo("ext-only", {".pt"}), byExtension, noImport).isOk());
  ASSERT_TRUE(registry.addImporter(importerInfo("nosniff", {".tpir"}), {}, noImport).isOk());

  const std::byte zip[] = {std::byte{'P'}, std::byte{'K'}, std::byte{3}};
  const std::byte other[] = {std::byte{'x'}};
  ASSERT_NE(registry.sniffImporter(zip, "model.pt"), nullptr);
  EXPECT_EQ(registry.sniffImporter(zip, "model.pt")->info.format, "zip-model");
  EXPECT_EQ(registry.sniffImporter(other, "model.pt")->info.format, "ext-only");
  ASSERT_NE(registry.sniffImporter(other, "graph.tpir"), nullptr) << "no sniffer: extensions decide";
  EXPECT_EQ(registry.sniffImporter(other, "graph.tpir")->info.format, "nosniff");
  EXPECT_EQ(registry.sniffImporter(other, "notes.txt"), nullptr);
}

TEST(Registry, ExporterForPathUsesLongestExtension) {
  Registry registry;
  ASSERT_TRUE(registry.addExporter(passInfo("save-gz"), "gz", {".gz"}, noopExport).isOk());
  ASSERT_TRUE(registry.addExporter(passInfo("save-tgz"), "tgz", {".tar.gz"}, noopExport).isOk());
  ASSERT_TRUE(registry.addExporter(passInfo("save-onnx"), "onnx", {".onnx"}, noopExport).isOk());
  ASSERT_NE(registry.findExporterForPath("out/model.ONNX"), nullptr);
  EXPECT_EQ(registry.findExporterForPath("out/model.ONNX")->info.name, "save-onnx");
  EXPECT_EQ(registry.findExporterForPath("a.tar.gz")->info.name, "save-tgz");
  EXPECT_EQ(registry.findExporterForPath("a.gz")->info.name, "save-gz");
  EXPECT_EQ(registry.findExporterForPath("a.pt"), nullptr);
}

TEST(Registry, RollbackRemovesEverythingOfTheFailedPlugin) {
  Registry registry;
  ASSERT_TRUE(registry.addPass(passInfo("core-pass"), noopPass).isOk());
  ASSERT_TRUE(registry.addConverter(converter("aten::add", 13, 18)).isOk());

  registry.setCurrentOwner("broken");
  registry.beginTransaction();
  ASSERT_TRUE(registry.addPass(passInfo("broken-pass"), noopPass).isOk());
  ASSERT_TRUE(registry.addExporter(passInfo("save-broken"), "broken", {".brk"}, noopExport).isOk());
  ASSERT_TRUE(registry.addImporter(importerInfo("broken", {".brk"}), {}, noImport).isOk());
  ASSERT_TRUE(registry.addConverter(converter("aten::add", 11, 12)).isOk());
  ASSERT_TRUE(registry.addKernel(kernel("broken::*")).isOk());
  EXPECT_FALSE(registry.addPass(passInfo("core-pass"), noopPass).isOk());  // what makes it fail
  EXPECT_EQ(registry.namesOwnedBy("broken").size(), 5u);
  registry.rollbackTransaction();

  EXPECT_TRUE(registry.namesOwnedBy("broken").empty());
  EXPECT_EQ(registry.findPass("broken-pass"), nullptr);
  EXPECT_EQ(registry.findExporter("save-broken"), nullptr);
  EXPECT_EQ(registry.findImporter("broken"), nullptr);
  EXPECT_EQ(registry.findKernel("broken::x"), nullptr);
  EXPECT_EQ(registry.findConverter("aten::add", "onnx", 11), nullptr);
  ASSERT_NE(registry.findConverter("aten::add", "onnx", 13), nullptr) << "earlier registrations survive";
  EXPECT_NE(registry.findPass("core-pass"), nullptr);

  // After a rollback the names are free again.
  registry.setCurrentOwner("fixed");
  registry.beginTransaction();
  ASSERT_TRUE(registry.addPass(passInfo("broken-pass"), noopPass).isOk());
  registry.commitTransaction();
  registry.rollbackTransaction();  // no open transaction: nothing happens
  EXPECT_NE(registry.findPass("broken-pass"), nullptr);
}

TEST(Registry, NamesOwnedByListsEveryCategory) {
  Registry registry;
  registry.setCurrentOwner("onnx");
  ASSERT_TRUE(registry.addPass(passInfo("eliminate-dead-code"), noopPass).isOk());
  ASSERT_TRUE(registry.addExporter(passInfo("save-onnx"), "onnx", {".onnx"}, noopExport).isOk());
  ASSERT_TRUE(registry.addImporter(importerInfo("onnx", {".onnx"}), {}, noImport).isOk());
  ASSERT_TRUE(registry.addConverter(converter("aten::conv2d", 13, 18)).isOk());
  ASSERT_TRUE(registry.addKernel(kernel("onnx::Shape")).isOk());
  registry.setCurrentOwner("someone-else");
  ASSERT_TRUE(registry.addKernel(kernel("onnx::Size")).isOk());

  EXPECT_EQ(registry.namesOwnedBy("onnx"),
            (std::vector<std::string>{"pass:eliminate-dead-code", "exporter:save-onnx", "importer:onnx",
                                      "converter:aten::conv2d->onnx[13,18]", "kernel:onnx::Shape"}));
  EXPECT_EQ(registry.namesOwnedBy("someone-else"), (std::vector<std::string>{"kernel:onnx::Size"}));
  EXPECT_TRUE(registry.namesOwnedBy("nobody").empty());
}

TEST(Registry, PointersStayValidWhileOthersRegister) {
  Registry registry;
  ASSERT_TRUE(registry.addConverter(converter("aten::a", 13, 13)).isOk());
  const ConverterEntry* first = registry.findConverter("aten::a", "onnx", 13);
  ASSERT_TRUE(registry.addPass(passInfo("p0"), noopPass).isOk());
  const PassEntry* pass = registry.findPass("p0");
  for (int i = 14; i < 64; ++i) {
    ASSERT_TRUE(registry.addConverter(converter("aten::a", i, i)).isOk());
    ASSERT_TRUE(registry.addPass(passInfo("p" + std::to_string(i)), noopPass).isOk());
  }
  EXPECT_EQ(registry.findConverter("aten::a", "onnx", 13), first);
  EXPECT_EQ(first->minVersion, 13);
  EXPECT_EQ(registry.findPass("p0"), pass);
}

}  // namespace
}  // namespace torchport
