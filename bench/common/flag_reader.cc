#include "common/flag_reader.h"

#include <stdexcept>

#include <fmt/format.h>

namespace certgate::bench {

bool FlagReader::Next() {
  if (++index_ >= argc_) return false;
  arg_ = argv_[index_];
  key_ = arg_;
  value_ = {};
  has_value_ = false;
  if (auto eq = arg_.find('='); eq != std::string_view::npos) {
    key_ = arg_.substr(0, eq);
    value_ = arg_.substr(eq + 1);
    has_value_ = true;
  }
  return true;
}

std::string_view FlagReader::Value() {
  if (has_value_) return value_;
  if (index_ + 1 >= argc_) throw std::invalid_argument(fmt::format("{} needs a value", key_));
  return argv_[++index_];
}

void FlagReader::NoValue() const {
  if (has_value_) throw std::invalid_argument(fmt::format("{} takes no value", key_));
}

int WholeNumber(std::string_view name, std::string_view text) {
  try {
    size_t used = 0;
    const int n = std::stoi(std::string(text), &used);
    if (used == text.size()) return n;
  } catch (const std::exception&) {
  }
  throw std::invalid_argument(fmt::format("{} wants a whole number, not '{}'", name, text));
}

std::vector<std::string> SplitList(std::string_view list) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find(',', start);
    if (end == std::string_view::npos) end = list.size();
    if (end > start) out.emplace_back(list.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace certgate::bench
