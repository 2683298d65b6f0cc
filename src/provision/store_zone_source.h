// The authoritative DNS zone's data, read from the store on every query:
// A/AAAA for every cname_target and reserved subdomain, TXT for DNS-01.
// The DNS responder calls it from its thread; the store is thread-safe.
#pragma once

#include <string>

#include "dns/zone_source.h"
#include "store/challenge_store.h"
#include "store/zone_names.h"

namespace certgate::provision {

class StoreZoneSource : public dns::ZoneSource {
 public:
  // zone: the base domain, normalized. names and challenges must outlive
  // the source.
  StoreZoneSource(store::ZoneNames& names, store::ChallengeStore& challenges, std::string zone)
      : names_(names),
        challenges_(challenges),
        cname_parent_("cname." + zone),
        acme_parent_("acme." + zone) {}

  Result<bool> IsEdgeName(std::string_view name) override { return names_.IsEdgeName(name); }
  Result<std::vector<std::string>> TxtRecords(std::string_view name) override {
    return challenges_.ListDnsTxtRecords(name);
  }
  // cname_target and acme_challenge_cname_target names live one label under
  // "cname.<zone>" and "acme.<zone>", which exist only as their parents; a
  // reserved "a.b.<zone>" makes "b.<zone>" exist too.
  Result<bool> HasNamesBelow(std::string_view name) override {
    if (name == cname_parent_ || name == acme_parent_) return true;
    return names_.HasReservedNamesBelow(name);
  }

 private:
  store::ZoneNames& names_;
  store::ChallengeStore& challenges_;
  const std::string cname_parent_;
  const std::string acme_parent_;
};

}  // namespace certgate::provision
