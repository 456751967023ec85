// The file-system operations the WAL performs, behind a small interface so a
// test can inject a failing disk (LevelDB's Env, reduced to what the WAL
// needs). Env::Default() is the POSIX implementation.
//
// Threading: an Env may be used from any thread. A File is used by one thread
// at a time (the WAL's replaying caller, then its writer thread).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ariadne::wal {

class File {
 public:
  virtual ~File() = default;

  // Reads up to `n` bytes at `offset` into `dst`; returns the count, which is
  // less than `n` only at end of file.
  [[nodiscard]] virtual absl::StatusOr<size_t> ReadAt(uint64_t offset, char* dst, size_t n) = 0;

  // Writes the concatenation of `pieces` at `offset`. On error an unknown
  // prefix of it may have reached the file.
  [[nodiscard]] virtual absl::Status WriteAt(uint64_t offset,
                                             std::span<const std::string_view> pieces) = 0;

  // fdatasync: data and the size needed to read it back are durable.
  [[nodiscard]] virtual absl::Status Sync() = 0;

  [[nodiscard]] virtual absl::Status Truncate(uint64_t size) = 0;

  [[nodiscard]] virtual absl::StatusOr<uint64_t> Size() = 0;
};

enum class OpenMode {
  kRead,            // existing file, read only
  kReadWrite,       // existing file
  kCreateTruncate,  // create, or empty an existing file
};

class Env {
 public:
  virtual ~Env() = default;

  // The POSIX implementation; never destroyed.
  static Env* Default();

  // Returns true if `dir` was created, false if it existed.
  [[nodiscard]] virtual absl::StatusOr<bool> CreateDirIfMissing(const std::string& dir) = 0;

  // Names (not paths) of the entries of `dir`, without "." and "..".
  [[nodiscard]] virtual absl::StatusOr<std::vector<std::string>> ListDir(
      const std::string& dir) = 0;

  [[nodiscard]] virtual absl::StatusOr<std::unique_ptr<File>> OpenFile(const std::string& path,
                                                                       OpenMode mode) = 0;

  // fsync on the directory, so that created files are durable by name.
  [[nodiscard]] virtual absl::Status SyncDir(const std::string& dir) = 0;
  // Deletes a file (the WAL's segments, once a block covers them). The
  // default uses the operating system directly.
  [[nodiscard]] virtual absl::Status RemoveFile(const std::string& path);

  // Takes an exclusive advisory lock on `path` (created if missing), held
  // until the returned object is destroyed; fails if another open file
  // description holds it, in this process or another.
  [[nodiscard]] virtual absl::StatusOr<std::unique_ptr<File>> LockFile(const std::string& path) = 0;
};

}  // namespace ariadne::wal
