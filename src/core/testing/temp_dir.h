// A fresh directory for a test, removed with everything in it when the
// TempDir is destroyed. Made under $TMPDIR (or /tmp) with mkdtemp, so it is
// private to its creator (mode 0700).
#pragma once

#include <filesystem>
#include <string_view>

namespace certgate::testing {

class TempDir {
 public:
  // prefix names the directory (e.g. "store"), to tell leftovers apart.
  explicit TempDir(std::string_view prefix = "test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // Leaves the directory and its contents in place when destroyed (a
  // benchmark's --keep-temp, or a failed run to look into).
  void Keep() { keep_ = true; }

 private:
  std::filesystem::path path_;
  bool keep_ = false;
};

}  // namespace certgate::testing
