// Atomic writes and whole/partial file reads (files.h).
//
// writeFileAtomically: the content goes to a temporary file next to the target (same
// directory, hence same file system, so rename() is atomic), which is flushed, fsync'ed
// and renamed over the target. Any failure removes the temporary file and leaves the
// target untouched, so a failed run never leaves a half-written model behind.
#include "torchport/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <system_error>

namespace torchport {
namespace {

std::string errnoText(int error) { return std::strerror(error); }

// Closes a descriptor on every path.
class Descriptor {
 public:
  explicit Descriptor(int fd) : fd_(fd) {}
  ~Descriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Removes the temporary file unless the write was committed (also when `write` throws).
class TemporaryFile {
 public:
  explicit TemporaryFile(std::filesystem::path path) : path_(std::move(path)) {}
  ~TemporaryFile() {
    if (!committed_) {
      std::error_code ignored;
      std::filesystem::remove(path_, ignored);
    }
  }
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;
  const std::filesystem::path& path() const { return path_; }
  void commit() { committed_ = true; }

 private:
  std::filesystem::path path_;
  bool committed_ = false;
};

// Creates (O_EXCL) a uniquely named hidden file next to `target`: ".name.tmp-<pid>-<rand>".
Expected<std::filesystem::path> createTemporaryNextTo(const std::filesystem::path& target, mode_t mode) {
  static std::atomic<uint64_t> counter{0};
  std::random_device entropy;
  const std::filesystem::path directory = target.parent_path().empty() ? "." : target.parent_path();
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::string name = "." + target.filename().string() + ".tmp-" + std::to_string(::getpid()) + "-" +
                       std::to_string(entropy()) + "-" + std::to_string(counter++);
    std::filesystem::path candidate = directory / name;
    int fd = ::open(candidate.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd >= 0) {
      ::close(fd);
      return candidate;
    }
    if (errno != EEXIST) {
      return Status::input("cannot create a temporary file in " + directory.string() + " to write " + target.string() +
                           ": " + errnoText(errno) + "; check that the directory is writable");
    }
  }
  return Status::input("cannot create a temporary file in " + directory.string() + " to write " + target.string() +
                       ": too many name collisions");
}

// Makes the rename durable; best effort (some file systems refuse fsync on directories).
void syncDirectory(const std::filesystem::path& directory) {
  Descriptor fd(::open(directory.empty() ? "." : directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() >= 0) ::fsync(fd.get());
}

}  // namespace

Status writeFileAtomically(const std::filesystem::path& path, const std::function<Status(std::ostream&)>& write) {
  if (path.empty()) return Status::input("cannot write a file with an empty path; give an output path");
  if (!path.has_filename()) return Status::input("cannot write " + path.string() + ": the path names a directory, not a file");

  const std::filesystem::path directory = path.parent_path();
  if (!directory.empty()) {
    std::error_code error;
    std::filesystem::create_directories(directory, error);
    if (error) {
      return Status::input("cannot create directory " + directory.string() + " for " + path.string() + ": " +
                           error.message());
    }
  }
  struct stat existing {};
  if (::stat(path.c_str(), &existing) == 0 && S_ISDIR(existing.st_mode)) {
    return Status::input("cannot write " + path.string() + ": it is an existing directory; choose a file name");
  }
  // Keep the permissions of a file we replace; new files get the usual 0666 & ~umask.
  const bool replacing = ::stat(path.c_str(), &existing) == 0;
  const mode_t mode = replacing ? (existing.st_mode & 07777) : 0666;

  TP_ASSIGN_OR_RETURN(std::filesystem::path temporaryPath, createTemporaryNextTo(path, mode));
  TemporaryFile temporary(temporaryPath);
  if (replacing) ::chmod(temporary.path().c_str(), mode);

  {
    std::ofstream stream(temporary.path(), std::ios::binary | std::ios::trunc);
    if (!stream) {
      return Status::input("cannot open " + temporary.path().string() + " for writing: " + errnoText(errno));
    }
    Status status = write(stream);
    if (!status.isOk()) return status;
    stream.flush();
    if (!stream) {
      return Status::input("cannot write " + path.string() + ": " + errnoText(errno) + " (disk full?)");
    }
    stream.close();
    if (stream.fail()) return Status::input("cannot write " + path.string() + ": " + errnoText(errno) + " (disk full?)");
  }

  // The data must be on disk before the rename makes it visible under the final name.
  {
    Descriptor fd(::open(temporary.path().c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0 || ::fsync(fd.get()) != 0) {
      return Status::input("cannot flush " + temporary.path().string() + " to disk: " + errnoText(errno));
    }
  }
  if (::rename(temporary.path().c_str(), path.c_str()) != 0) {
    return Status::input("cannot move the finished file into place at " + path.string() + ": " + errnoText(errno));
  }
  temporary.commit();
  syncDirectory(directory);
  return Status::ok();
}

Status writeFileAtomically(const std::filesystem::path& path, std::string_view contents) {
  return writeFileAtomically(path, [contents](std::ostream& out) {
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    return out ? Status::ok() : Status::input("write failed");
  });
}

namespace {

Expected<int> openForReading(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int error = errno;
    std::string hint = error == ENOENT ? "; check the path" : "";
    return Status::input("cannot open " + path.string() + ": " + errnoText(error) + hint);
  }
  struct stat info {};
  if (::fstat(fd, &info) == 0 && S_ISDIR(info.st_mode)) {
    ::close(fd);
    return Status::input("cannot read " + path.string() + ": it is a directory, not a file");
  }
  return fd;
}

// Reads up to `limit` bytes (all when limit == npos) into `out`.
Status readInto(const std::filesystem::path& path, int fd, size_t limit, std::string& out) {
  char buffer[1 << 16];
  while (out.size() < limit) {
    size_t want = std::min(sizeof buffer, limit - out.size());
    ssize_t got = ::read(fd, buffer, want);
    if (got < 0) {
      if (errno == EINTR) continue;
      return Status::input("cannot read " + path.string() + ": " + errnoText(errno));
    }
    if (got == 0) break;
    out.append(buffer, static_cast<size_t>(got));
  }
  return Status::ok();
}

}  // namespace

Expected<std::vector<std::byte>> readFileHead(const std::filesystem::path& path, size_t maxBytes) {
  TP_ASSIGN_OR_RETURN(int rawFd, openForReading(path));
  Descriptor fd(rawFd);
  std::string data;
  TP_RETURN_IF_ERROR(readInto(path, fd.get(), maxBytes, data));
  std::vector<std::byte> bytes(data.size());
  if (!data.empty()) std::memcpy(bytes.data(), data.data(), data.size());
  return bytes;
}

Expected<std::string> readTextFile(const std::filesystem::path& path) {
  TP_ASSIGN_OR_RETURN(int rawFd, openForReading(path));
  Descriptor fd(rawFd);
  std::string data;
  struct stat info {};
  if (::fstat(fd.get(), &info) == 0 && info.st_size > 0) data.reserve(static_cast<size_t>(info.st_size));
  TP_RETURN_IF_ERROR(readInto(path, fd.get(), static_cast<size_t>(-1), data));
  return data;
}

}  // namespace torchport
