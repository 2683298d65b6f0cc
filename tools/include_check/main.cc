// include_check <manifest>: prints every include of a module that its target
// does not link (see include_check.h) and exits 1 when there is one.
#include <iostream>

#include "include_check.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: include_check <manifest>\n";
    return 2;
  }
  const auto report = certgate::include_check::Check(argv[1]);
  for (const auto& e : report.errors) std::cerr << "include_check: " << e << "\n";
  for (const auto& v : report.violations) std::cout << v.text << "\n";
  if (!report.errors.empty()) return 2;
  if (!report.violations.empty()) {
    std::cout << report.violations.size()
              << " include(s) of modules not linked: link the module's library (PUBLIC when "
                 "a header includes it) or move the include\n";
    return 1;
  }
  std::cout << "include_check: " << report.files_checked << " files, every module include is linked\n";
  return 0;
}
