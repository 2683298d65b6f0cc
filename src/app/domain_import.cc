#include "app/domain_import.h"

#include <algorithm>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "api/new_domain.h"
#include "core/ids.h"

namespace certgate::app {
namespace {

constexpr size_t kMaxLineBytes = 1024;
constexpr size_t kMaxNames = 10'000'000;

struct Line {
  size_t number = 0;
  std::string name;
};

Result<std::vector<Line>> ReadNames(std::istream& in, std::string_view base_domain) {
  std::vector<Line> lines;
  std::string text;
  for (size_t number = 1; std::getline(in, text); ++number) {
    if (text.size() > kMaxLineBytes) {
      return MakeError(ErrorCode::kBadRequest,
                       fmt::format("line {}: longer than {} bytes", number, kMaxLineBytes));
    }
    std::string_view line = text;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
      line.remove_suffix(1);
    }
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (line.empty() || line.front() == '#') continue;
    if (lines.size() == kMaxNames) {
      return MakeError(ErrorCode::kBadRequest,
                       fmt::format("line {}: more than {} names; split the file", number,
                                   kMaxNames));
    }
    auto name = api::NewDomainName(line, "domain", base_domain);
    if (!name) {
      return MakeError(name.error().code, fmt::format("line {}: {}", number, name.error().message));
    }
    lines.push_back(Line{number, std::move(*name)});
  }
  if (in.bad()) return MakeError(ErrorCode::kIo, "reading the list of names failed");
  return lines;
}

}  // namespace

Result<DomainImportReport> ImportDomains(
    store::AccountStore& accounts, store::DomainStore& domains, std::istream& in,
    const DomainImportOptions& options, Time now,
    const std::function<void(const DomainImportReport&)>& progress) {
  if (options.batch_size < 1 || options.batch_size > 100'000) {
    return MakeError(ErrorCode::kConfigInvalid, "the batch size must be from 1 to 100000");
  }
  CG_ASSIGN_OR_RETURN(std::optional<store::Account> account, accounts.GetAccount(options.account_id));
  if (!account) {
    return MakeError(ErrorCode::kNotFound,
                     fmt::format("there is no account {}", options.account_id));
  }
  CG_ASSIGN_OR_RETURN(std::vector<Line> lines, ReadNames(in, options.base_domain));
  DomainImportReport report;
  report.names = lines.size();
  std::vector<store::Domain> batch;
  for (size_t start = 0; start < lines.size(); start += options.batch_size) {
    const size_t end = std::min(lines.size(), start + options.batch_size);
    batch.clear();
    for (size_t i = start; i < end; ++i) {
      store::Domain d;
      d.id = NewId("rd");
      d.account_id = account->id;
      d.created_at = now;
      d.domain = lines[i].name;
      api::SetDomainDefaults(d, options.base_domain);
      batch.push_back(std::move(d));
    }
    auto outcome = domains.InsertDomains(batch);
    if (!outcome) {
      return MakeError(outcome.error().code,
                       fmt::format("the batch from line {} was refused, and nothing of it written: "
                                   "{}; {} names before it were imported, and running the import "
                                   "again skips them",
                                   lines[start].number, outcome.error().message,
                                   report.inserted + report.already_reserved));
    }
    report.inserted += outcome->inserted;
    report.already_reserved += outcome->already_reserved;
    if (progress) progress(report);
  }
  return report;
}

}  // namespace certgate::app
