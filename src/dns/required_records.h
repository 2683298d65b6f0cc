// The DNS records a branded domain needs at the user's DNS provider (the
// CNAME that routes it to certgate's edge, and for a wildcard the
// _acme-challenge CNAME that delegates DNS-01 to certgate's zone), and a
// check of each one through a Resolver. The certificate manager waits for
// them; the API shows them, and whether they are in place, to the user.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "dns/resolver.h"

namespace certgate::dns {

struct RequiredRecord {
  std::string name;   // the owner name to create, e.g. "_acme-challenge.example.com"
  std::string type;   // always "CNAME" for now
  std::string value;  // what it must point at
};

// domain: normalized (lower-case ASCII, no trailing dot, maybe "*.base").
// No cname_target (a name under the service's own domain): no records.
std::vector<RequiredRecord> RequiredRecords(std::string_view domain,
                                            const std::optional<std::string>& cname_target,
                                            const std::optional<std::string>& acme_target);

enum class RecordState { kPresent, kMissing, kWrongTarget };

struct RecordCheck {
  RecordState state = RecordState::kMissing;
  std::string found;  // the CNAME target seen (kPresent, kWrongTarget)
};

// Looks the record up. Errors: the resolver's (kDnsUnreachable, ...).
Result<RecordCheck> CheckRecord(const Resolver& resolver, const RequiredRecord& record);
// The check for what a lookup of record.name found: its CNAME target, or
// nullopt for none. For callers with their own resolver.
RecordCheck JudgeRecord(const RequiredRecord& record, const std::optional<std::string>& found);

// What the user must do about a record that is not in place, in one sentence.
std::string DescribeProblem(const RequiredRecord& record, const RecordCheck& check);

}  // namespace certgate::dns
