#include "store/sql/rows.h"

namespace certgate::store::sql {

Error CorruptRow(std::string_view op, std::string_view what) {
  return MakeError(ErrorCode::kStoreIo, fmt::format("{} read a corrupt row: {}", op, what));
}

Result<void> CheckLimit(int limit) {
  if (limit < 1 || limit > kMaxListLimit) {
    return MakeError(ErrorCode::kInvalidPaging,
                     fmt::format("limit must be between 1 and {}, not {}", kMaxListLimit, limit));
  }
  return {};
}

std::string JoinResolvesTo(const std::vector<std::string>& values) {
  std::string out;
  for (const std::string& v : values) {
    if (!out.empty()) out += '\n';
    out += v;
  }
  return out;
}

std::vector<std::string> SplitResolvesTo(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    out.emplace_back(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

}  // namespace certgate::store::sql
