// The include check: every `#include "<module>/..."` in a source file of a
// target names the target's own module or a module of a target it links
// directly. The targets, their sources and their direct links come from a
// manifest CMake writes at generate time (see the top CMakeLists.txt), so the
// check follows the build instead of a list kept by hand.
//
// Manifest: one "<key> <value>" per line, in this order per target:
//   root <dir>        an include root; a file's module is its directory
//                     relative to the longest root holding it ("core",
//                     "core/testing"); the first root is the modules' (src/)
//   target <name>     starts a target
//   type <type>       STATIC_LIBRARY, EXECUTABLE, ...
//   dir <dir>         its source directory
//   source <file>     one per source, relative to dir unless absolute
//   link <name>       one per direct link (PUBLIC or PRIVATE)
// Relative roots and dirs are relative to the manifest's directory.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace certgate::include_check {

// One broken rule, as a line for a human: "file:line: ..." for an include.
struct Violation {
  std::string text;
};

struct Report {
  std::vector<Violation> violations;
  std::vector<std::string> errors;  // an unreadable manifest or source
  size_t files_checked = 0;
};

// Reads the manifest and checks every source file of every target, plus the
// headers (*.h) beside a library's sources against that library. Files
// outside every root (generated sources, tools) are not checked. Also:
// a target whose sources all lie under the first root (src/) links no
// target with sources elsewhere (tests/, bench/).
Report Check(const std::filesystem::path& manifest);

}  // namespace certgate::include_check
