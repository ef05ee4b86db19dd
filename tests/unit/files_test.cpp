// Atomic writes (target untouched on failure, no temporary files left) and file reads.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "torchport/files.h"

namespace torchport {
namespace {

class FilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("torchport_files_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static std::string slurp(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  size_t entriesIn(const std::filesystem::path& dir) const {
    return static_cast<size_t>(std::distance(std::filesystem::directory_iterator(dir), {}));
  }

  std::filesystem::path dir_;
};

TEST_F(FilesTest, WritesAndCreatesParentDirectories) {
  auto path = dir_ / "a" / "b" / "model.tpir";
  ASSERT_TRUE(writeFileAtomically(path, "graph @main() -> () {\n}\n").isOk());
  EXPECT_EQ(slurp(path), "graph @main() -> () {\n}\n");
  EXPECT_EQ(entriesIn(path.parent_path()), 1u);  // no temporary left behind
}

TEST_F(FilesTest, FailingWriterLeavesTargetUntouched) {
  auto path = dir_ / "model.onnx";
  ASSERT_TRUE(writeFileAtomically(path, "old contents").isOk());
  Status status = writeFileAtomically(path, [](std::ostream& out) {
    out << "half of the new";
    return Status::input("simulated failure in the middle");
  });
  ASSERT_FALSE(status.isOk());
  EXPECT_EQ(status.message(), "simulated failure in the middle");
  EXPECT_EQ(slurp(path), "old contents");
  EXPECT_EQ(entriesIn(dir_), 1u);  // the temporary file was removed
}

TEST_F(FilesTest, ThrowingWriterLeavesTargetUntouched) {
  auto path = dir_ / "model.pt";
  ASSERT_TRUE(writeFileAtomically(path, "old").isOk());
  EXPECT_THROW((void)writeFileAtomically(path,
                                         [](std::ostream& out) -> Status {
                                           out << "partial";
                                           throw std::runtime_error("boom");
                                         }),
               std::runtime_error);
  EXPECT_EQ(slurp(path), "old");
  EXPECT_EQ(entriesIn(dir_), 1u);
}

TEST_F(FilesTest, FailingWriterCreatesNoFile) {
  auto path = dir_ / "new.onnx";
  Status status = writeFileAtomically(path, [](std::ostream&) { return Status::internal("nope"); });
  EXPECT_FALSE(status.isOk());
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_EQ(entriesIn(dir_), 0u);
}

TEST_F(FilesTest, ReplacingKeepsPermissions) {
  auto path = dir_ / "secret.bin";
  ASSERT_TRUE(writeFileAtomically(path, "v1").isOk());
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  ASSERT_TRUE(writeFileAtomically(path, "v2").isOk());
  struct stat info {};
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  EXPECT_EQ(slurp(path), "v2");
}

TEST_F(FilesTest, RefusesDirectoriesAndEmptyPaths) {
  Status directory = writeFileAtomically(dir_, "x");
  EXPECT_FALSE(directory.isOk());
  Status existingDirectory = writeFileAtomically(dir_ / ".", "x");
  EXPECT_FALSE(existingDirectory.isOk());
  std::filesystem::create_directories(dir_ / "sub");
  Status sub = writeFileAtomically(dir_ / "sub", "x");
  ASSERT_FALSE(sub.isOk());
  EXPECT_NE(sub.message().find("directory"), std::string::npos) << sub.message();
  EXPECT_FALSE(writeFileAtomically("", "x").isOk());
  // A parent that is a file cannot become a directory.
  ASSERT_TRUE(writeFileAtomically(dir_ / "file", "x").isOk());
  Status underFile = writeFileAtomically(dir_ / "file" / "child", "x");
  ASSERT_FALSE(underFile.isOk());
  EXPECT_NE(underFile.message().find("file"), std::string::npos);
}

TEST_F(FilesTest, ReadsHeadsAndTextFiles) {
  auto path = dir_ / "data.bin";
  std::string contents("ab\0cdef", 7);
  ASSERT_TRUE(writeFileAtomically(path, contents).isOk());
  auto head = readFileHead(path, 4);
  ASSERT_TRUE(head.hasValue()) << head.status().message();
  ASSERT_EQ(head->size(), 4u);
  EXPECT_EQ(std::to_integer<char>((*head)[2]), '\0');
  EXPECT_EQ(std::to_integer<char>((*head)[3]), 'c');
  auto whole = readFileHead(path);
  ASSERT_TRUE(whole.hasValue());
  EXPECT_EQ(whole->size(), 7u);
  auto text = readTextFile(path);
  ASSERT_TRUE(text.hasValue());
  EXPECT_EQ(*text, contents);

  auto empty = dir_ / "empty";
  ASSERT_TRUE(writeFileAtomically(empty, "").isOk());
  EXPECT_EQ(readTextFile(empty).value(), "");
}

TEST_F(FilesTest, ReadErrorsNameTheFile) {
  auto missing = dir_ / "missing.pt";
  auto head = readFileHead(missing);
  ASSERT_FALSE(head.hasValue());
  EXPECT_EQ(head.status().kind(), ErrorKind::Input);
  EXPECT_NE(head.status().message().find("missing.pt"), std::string::npos) << head.status().message();
  auto text = readTextFile(missing);
  ASSERT_FALSE(text.hasValue());
  EXPECT_NE(text.status().message().find("No such file"), std::string::npos) << text.status().message();
  auto directory = readTextFile(dir_);
  ASSERT_FALSE(directory.hasValue());
  EXPECT_NE(directory.status().message().find("is a directory"), std::string::npos);
}

}  // namespace
}  // namespace torchport
