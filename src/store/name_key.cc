#include "store/name_key.h"

namespace certgate::store {

std::string NameKey(std::string_view name) {
  std::string key;
  key.reserve(name.size() + 1);
  while (!name.empty()) {
    size_t dot = name.rfind('.');
    std::string_view label = dot == std::string_view::npos ? name : name.substr(dot + 1);
    key.append(label).push_back('.');
    name = dot == std::string_view::npos ? std::string_view() : name.substr(0, dot);
  }
  return key;
}

std::string NameFromKey(std::string_view key) {
  if (key.ends_with('.')) key.remove_suffix(1);
  return NameKey(key).substr(0, key.size());  // reversing the labels twice
}

std::pair<std::string, std::string> NameKeyRange(std::string_view name) {
  std::string low = NameKey(name);
  std::string high = low;
  high.back() = '.' + 1;
  return {std::move(low), std::move(high)};
}

bool KeyIsBelow(std::string_view key, std::string_view above) {
  return key.size() > above.size() && key.starts_with(above);
}

std::string_view BaseOf(std::string_view name) {
  return name.starts_with("*.") ? name.substr(2) : name;
}

std::vector<std::string_view> Ancestors(std::string_view name) {
  std::vector<std::string_view> out;
  for (size_t dot = name.find('.'); dot != std::string_view::npos; dot = name.find('.')) {
    name.remove_prefix(dot + 1);
    out.push_back(name);
  }
  return out;
}

std::string WildcardOver(std::string_view name) {
  const size_t dot = name.find('.');
  return dot == std::string_view::npos ? std::string() : "*" + std::string(name.substr(dot));
}

}  // namespace certgate::store
