#include "include_check.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>

namespace certgate::include_check {
namespace {

namespace fs = std::filesystem;

struct Target {
  std::string name;
  std::string type;
  fs::path dir;
  std::vector<fs::path> sources;
  std::vector<std::string> links;
  std::set<std::string> modules;  // of its sources inside a root
  std::set<fs::path> source_dirs;
};

struct Manifest {
  std::vector<fs::path> roots;
  std::vector<Target> targets;
};

fs::path Absolute(const fs::path& base, const std::string& p) {
  fs::path path(p);
  return (path.is_absolute() ? path : base / path).lexically_normal();
}

bool Manifest_Read(const fs::path& file, Manifest& out, std::vector<std::string>& errors) {
  std::ifstream in(file);
  if (!in) {
    errors.push_back("cannot read " + file.string());
    return false;
  }
  const fs::path base = fs::absolute(file).parent_path();
  std::string line;
  while (std::getline(in, line)) {
    const auto space = line.find(' ');
    const std::string key = line.substr(0, space);
    const std::string value = space == std::string::npos ? "" : line.substr(space + 1);
    if (key.empty() || key[0] == '#') continue;
    if (key == "root") {
      out.roots.push_back(Absolute(base, value));
      continue;
    }
    if (key == "target") {
      out.targets.push_back(Target{.name = value});
      continue;
    }
    if (out.targets.empty()) {
      errors.push_back(file.string() + ": '" + key + "' before any target");
      return false;
    }
    Target& t = out.targets.back();
    if (key == "type") {
      t.type = value;
    } else if (key == "dir") {
      t.dir = Absolute(base, value);
    } else if (key == "source") {
      if (!value.empty()) t.sources.push_back(Absolute(t.dir, value));
    } else if (key == "link") {
      if (!value.empty()) t.links.push_back(value);
    } else {
      errors.push_back(file.string() + ": unknown key '" + key + "'");
      return false;
    }
  }
  return true;
}

bool Under(const fs::path& path, const fs::path& dir) {
  const auto rel = path.lexically_relative(dir);
  return !rel.empty() && *rel.begin() != "..";
}

// The module of a file: its directory relative to the longest root holding
// it; nullopt outside every root.
std::optional<std::string> ModuleOf(const std::vector<fs::path>& roots, const fs::path& file) {
  const fs::path* best = nullptr;
  for (const auto& root : roots) {
    if (Under(file, root) && (best == nullptr || root.string().size() > best->string().size())) {
      best = &root;
    }
  }
  if (best == nullptr) return std::nullopt;
  const auto rel = file.parent_path().lexically_relative(*best).generic_string();
  return rel == "." ? "" : rel;
}

// The module an include names: the longest known module that prefixes it.
std::optional<std::string> ModuleNamed(const std::set<std::string>& known, const std::string& inc) {
  std::optional<std::string> best;
  for (const auto& m : known) {
    if (!m.empty() && inc.starts_with(m + "/") && (!best || m.size() > best->size())) best = m;
  }
  return best;
}

bool IsLibrary(const Target& t) { return t.type.ends_with("_LIBRARY"); }

}  // namespace

Report Check(const fs::path& manifest_file) {
  Report report;
  Manifest m;
  if (!Manifest_Read(manifest_file, m, report.errors)) return report;
  if (m.roots.empty()) {
    report.errors.push_back(manifest_file.string() + ": no root");
    return report;
  }

  std::map<std::string, const Target*> by_name;
  std::set<std::string> known;
  for (auto& t : m.targets) {
    for (const auto& s : t.sources) {
      if (auto mod = ModuleOf(m.roots, s)) {
        t.modules.insert(*mod);
        known.insert(*mod);
        t.source_dirs.insert(s.parent_path());
      }
    }
    by_name[t.name] = &t;
  }

  // A header x.h beside a source x.cc is that source's target's. Other
  // headers beside a library's sources are the library's (every library's
  // with sources there); in a directory with no library they belong to
  // every target with sources there.
  std::map<fs::path, std::vector<const Target*>> stem_owners;
  std::map<fs::path, std::vector<const Target*>> dir_owners;
  for (const auto& t : m.targets) {
    for (const auto& s : t.sources) {
      stem_owners[fs::path(s).replace_extension(".h")].push_back(&t);
    }
    for (const auto& d : t.source_dirs) {
      auto& owners = dir_owners[d];
      if (IsLibrary(t) && !owners.empty() && !IsLibrary(*owners.front())) owners.clear();
      if (owners.empty() || IsLibrary(t) == IsLibrary(*owners.front())) owners.push_back(&t);
    }
  }

  const std::regex include_re(R"(^\s*#\s*include\s*"([^"]+)\")");
  auto check_file = [&](const Target& t, const std::set<std::string>& allowed, const fs::path& file) {
    std::ifstream in(file);
    if (!in) {
      report.errors.push_back("cannot read " + file.string() + " (a source of " + t.name + ")");
      return;
    }
    ++report.files_checked;
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      std::smatch match;
      if (!std::regex_search(line, match, include_re)) continue;
      const auto mod = ModuleNamed(known, match[1].str());
      if (!mod || allowed.contains(*mod)) continue;
      std::ostringstream text;
      text << file.string() << ":" << n << ": includes \"" << match[1].str() << "\" of module '"
           << *mod << "', which target " << t.name << " neither is nor links directly";
      report.violations.push_back({text.str()});
    }
  };

  for (const auto& t : m.targets) {
    std::set<std::string> allowed = t.modules;
    bool all_under_first = !t.modules.empty();
    for (const auto& s : t.sources) all_under_first = all_under_first && Under(s, m.roots.front());
    for (const auto& l : t.links) {
      auto it = by_name.find(l);
      if (it == by_name.end()) continue;  // not ours: a system library
      allowed.insert(it->second->modules.begin(), it->second->modules.end());
      if (!all_under_first) continue;
      for (const auto& s : it->second->sources) {
        if (ModuleOf(m.roots, s) && !Under(s, m.roots.front())) {
          report.violations.push_back({"target " + t.name + " (under " + m.roots.front().string() +
                                       ") links " + l + ", whose sources are outside it (" +
                                       s.string() + "): modules use only modules and testing "
                                       "helpers; move the test to tests/integration"});
          break;
        }
      }
    }
    for (const auto& s : t.sources) {
      if (ModuleOf(m.roots, s)) check_file(t, allowed, s);
    }
    for (const auto& d : t.source_dirs) {
      std::error_code ec;
      for (const auto& entry : fs::directory_iterator(d, ec)) {
        const auto& p = entry.path();
        if (p.extension() != ".h") continue;
        if (std::find(t.sources.begin(), t.sources.end(), p) != t.sources.end()) continue;
        auto stem = stem_owners.find(p);
        const auto& owners = stem != stem_owners.end() ? stem->second : dir_owners[d];
        if (std::find(owners.begin(), owners.end(), &t) == owners.end()) continue;
        check_file(t, allowed, p);
      }
    }
  }
  return report;
}

}  // namespace certgate::include_check
