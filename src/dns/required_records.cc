#include "dns/required_records.h"

#include <fmt/format.h>

namespace certgate::dns {

std::vector<RequiredRecord> RequiredRecords(std::string_view domain,
                                            const std::optional<std::string>& cname_target,
                                            const std::optional<std::string>& acme_target) {
  std::vector<RequiredRecord> out;
  if (!cname_target) return out;
  out.push_back(RequiredRecord{std::string(domain), "CNAME", *cname_target});
  if (acme_target) {
    std::string_view base = domain;
    if (base.starts_with("*.")) base.remove_prefix(2);
    out.push_back(RequiredRecord{fmt::format("_acme-challenge.{}", base), "CNAME", *acme_target});
  }
  return out;
}

Result<RecordCheck> CheckRecord(const Resolver& resolver, const RequiredRecord& record) {
  CG_ASSIGN_OR_RETURN(auto found, resolver.LookupCname(record.name));
  return JudgeRecord(record, found);
}

RecordCheck JudgeRecord(const RequiredRecord& record, const std::optional<std::string>& found) {
  if (!found) return RecordCheck{RecordState::kMissing, ""};
  if (*found != record.value) return RecordCheck{RecordState::kWrongTarget, *found};
  return RecordCheck{RecordState::kPresent, *found};
}

std::string DescribeProblem(const RequiredRecord& record, const RecordCheck& check) {
  if (check.state == RecordState::kWrongTarget) {
    return fmt::format("the DNS record {} is a CNAME to {}; it must be a CNAME to {}", record.name,
                       check.found, record.value);
  }
  return fmt::format(
      "waiting for the DNS record {} CNAME {}: create it at your DNS provider (no "
      "CNAME for {} was found)",
      record.name, record.value, record.name);
}

}  // namespace certgate::dns
