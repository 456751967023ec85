// `ariadne fsck --data-dir DIR`: checks every block and log segment of a
// data directory, reading everything (CRCs, indexes, meta), and reports what
// is damaged. Exit code 0: all good; 1: damage found; 2: cannot read.
// Safe to run beside a server (it only reads).
#pragma once

#include <string>

namespace ariadne::cli {

struct FsckOptions {
  std::string data_dir = "./data";
  bool json = false;  // one JSON object per finding, then a summary
};

int RunFsck(const FsckOptions& options);

}  // namespace ariadne::cli
