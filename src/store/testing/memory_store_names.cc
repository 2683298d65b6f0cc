// MemoryStore: reserved domains, endpoints, and the names they own (the
// ownership rule of name_ownership_rule.h over lookups of these records).
#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "store/name_key.h"
#include "store/name_ownership_rule.h"
#include "store/testing/memory_store.h"
#include "store/testing/memory_store_data.h"

namespace certgate::store::testing {

namespace {

NameRecord RecordOf(const Domain& d) { return NameRecord{d.id, d.account_id, d.domain}; }

// The name ownership rule's lookups, by scanning the records. REQUIRES:
// data.mu held for the object's life.
class MemoryReservedNames final : public ReservedNameIndex {
 public:
  explicit MemoryReservedNames(const MemoryStoreData& data) : data_(data) {}

  Result<std::optional<NameRecord>> DomainNamed(std::string_view name) override {
    const DomainRow* row = data_.DomainNamed(name);
    if (row == nullptr) return std::optional<NameRecord>();
    return std::optional<NameRecord>(RecordOf(row->domain));
  }

  Result<std::optional<NameRecord>> OtherOwnerOf(std::string_view name, bool with_wildcard,
                                                 std::string_view account_id) override {
    const std::string wildcard = "*." + std::string(name);
    std::optional<NameRecord> first;
    for (const auto& [id, row] : data_.domains) {
      const Domain& d = row.domain;
      if (d.account_id == account_id) continue;
      if (d.domain != name && !(with_wildcard && d.domain == wildcard)) continue;
      if (!first || d.domain < first->name) first = RecordOf(d);
    }
    return first;
  }

  Result<std::optional<std::string>> FirstOtherKeyBelow(std::string_view name,
                                                        std::string_view except_key,
                                                        std::string_view account_id) override {
    const std::string key = NameKey(name);
    std::optional<std::string> first;
    for (const auto& [id, row] : data_.domains) {
      if (row.domain.account_id == account_id || row.name_key == except_key) continue;
      if (!KeyIsBelow(row.name_key, key)) continue;
      if (!first || row.name_key < *first) first = row.name_key;
    }
    return first;
  }

  Result<void> ForEachDomainByKey(
      const std::function<void(std::string_view key, NameRecord domain)>& fn) override {
    std::vector<const DomainRow*> by_key;
    for (const auto& [id, row] : data_.domains) by_key.push_back(&row);
    std::sort(by_key.begin(), by_key.end(), [](const DomainRow* a, const DomainRow* b) {
      return a->name_key != b->name_key ? a->name_key < b->name_key : a->domain.id < b->domain.id;
    });
    for (const DomainRow* row : by_key) fn(row->name_key, RecordOf(row->domain));
    return {};
  }

  Result<void> ForEachEndpoint(
      const std::function<Result<void>(NameRecord endpoint, std::string_view host)>& fn)
      override {
    for (const auto& [id, endpoint] : data_.endpoints) {
      CG_RETURN_IF_ERROR(
          fn(NameRecord{endpoint.id, endpoint.account_id, endpoint.url}, endpoint.host));
    }
    return {};
  }

 private:
  const MemoryStoreData& data_;
};

// A domain may refer only to a certificate of its own account that no
// endpoint owns.
Result<void> CheckAttachable(const MemoryStoreData& data, const Domain& domain,
                             std::string_view op) {
  if (!domain.certificate_id.has_value()) return {};
  auto cert = data.certificates.find(*domain.certificate_id);
  if (cert != data.certificates.end() && !cert->second.account_id.empty() &&
      cert->second.account_id == domain.account_id && cert->second.owner_endpoint_id.empty()) {
    return {};
  }
  return MakeError(ErrorCode::kStoreConflict,
                   fmt::format("{}: certificate_id {} names no certificate of account {} (it "
                               "does not exist, was deleted, or belongs to an endpoint)",
                               op, *domain.certificate_id, domain.account_id));
}

// cname_target and acme_challenge_cname_target are unique across all domains
// (but the one with id except_id).
Result<void> CheckTargetsUnique(const MemoryStoreData& data, const Domain& domain,
                                std::string_view op) {
  for (const auto& [id, row] : data.domains) {
    if (id == domain.id) continue;
    if (domain.cname_target && row.domain.cname_target == domain.cname_target) {
      return IdentityConflict(op, "reserved_domains.cname_target");
    }
    if (domain.acme_challenge_cname_target &&
        row.domain.acme_challenge_cname_target == domain.acme_challenge_cname_target) {
      return IdentityConflict(op, "reserved_domains.acme_challenge_cname_target");
    }
  }
  return {};
}

// An endpoint may refer only to a reserved domain of its own account.
Result<void> CheckEndpointDomain(const MemoryStoreData& data, const Endpoint& endpoint,
                                 std::string_view op) {
  auto domain = data.domains.find(endpoint.domain_id);
  if (domain != data.domains.end() && domain->second.domain.account_id == endpoint.account_id) {
    return {};
  }
  return MakeError(ErrorCode::kStoreConflict,
                   fmt::format("{}: domain_id {} names no reserved domain of account {}", op,
                               endpoint.domain_id, endpoint.account_id));
}

// The url is unique across all endpoints (but the endpoint itself).
Result<void> CheckUrlUnique(const MemoryStoreData& data, const Endpoint& endpoint,
                            std::string_view op) {
  for (const auto& [id, other] : data.endpoints) {
    if (id != endpoint.id && other.url == endpoint.url)
      return IdentityConflict(op, "endpoints.url");
  }
  return {};
}

// An endpoint's policy certificate as stored: in the endpoint's account,
// owned by it. REQUIRES: cert.id == endpoint.policy_certificate_id.
Result<Certificate> PolicyCertificate(const MemoryStoreData& data, const Endpoint& endpoint,
                                      const Certificate& cert, std::string_view op) {
  if (endpoint.policy_certificate_id != cert.id) {
    return MakeError(ErrorCode::kInternal,
                     fmt::format("{}: the policy certificate's id {} differs from the endpoint's "
                                 "policy_certificate_id",
                                 op, cert.id));
  }
  if (data.certificates.contains(cert.id)) return IdentityConflict(op, "tls_certificates.id");
  Certificate owned = cert;
  owned.account_id = endpoint.account_id;
  owned.owner_endpoint_id = endpoint.id;
  return owned;
}

Endpoint StoredEndpoint(const Endpoint& endpoint) {
  Endpoint stored = endpoint;
  stored.created_at = WholeSeconds(endpoint.created_at);
  stored.updated_at = WholeSeconds(endpoint.updated_at);
  return stored;
}

// Deletes every certificate endpoint_id owns but keep.
void DeleteOwnedCertificates(MemoryStoreData& data, std::string_view endpoint_id,
                             const std::optional<std::string>& keep) {
  std::erase_if(data.certificates, [&](const auto& c) {
    if (c.second.owner_endpoint_id != endpoint_id || c.first == keep) return false;
    data.Changed(EdgeChangeKind::kCertificate, c.first);
    return true;
  });
}

// REQUIRES: data.mu held. The checks and the row of InsertDomain.
Result<void> InsertDomainRecord(MemoryStoreData& data, const Domain& domain, std::string_view op) {
  MemoryReservedNames names(data);
  CG_RETURN_IF_ERROR(CheckDomainNameOwnership(names, domain));
  CG_RETURN_IF_ERROR(CheckAttachable(data, domain, op));
  if (data.domains.contains(domain.id)) return IdentityConflict(op, "reserved_domains.id");
  CG_RETURN_IF_ERROR(CheckTargetsUnique(data, domain, op));
  Domain stored = domain;
  stored.created_at = WholeSeconds(domain.created_at);
  // Belong to automatic management, never to the caller.
  stored.renews_at.reset();
  stored.issued_key_type.reset();
  data.domains.emplace(stored.id, DomainRow{stored, NameKey(stored.domain)});
  data.DomainChanged(stored.domain, std::nullopt, stored.cname_target);
  return {};
}

}  // namespace

// ---- Reserved domains ----

Result<void> MemoryStore::InsertDomain(const Domain& domain) {
  {
    std::lock_guard lock(data_->mu);
    CG_RETURN_IF_ERROR(InsertDomainRecord(*data_, domain, "inserting a reserved domain"));
  }
  AnnounceChange();
  return {};
}

Result<InsertDomainsOutcome> MemoryStore::InsertDomains(const std::vector<Domain>& domains) {
  constexpr std::string_view kOp = "inserting reserved domains";
  InsertDomainsOutcome outcome;
  {
    std::lock_guard lock(data_->mu);
    // One transaction: on a refusal, everything goes back as it was.
    const auto saved_domains = data_->domains;
    const auto saved_changes = data_->changes;
    const int64_t saved_sequence = data_->change_sequence;
    for (const Domain& domain : domains) {
      Result<void> inserted = InsertDomainRecord(*data_, domain, kOp);
      if (inserted) {
        ++outcome.inserted;
      } else if (inserted.error().code == ErrorCode::kDomainReservedHere) {
        ++outcome.already_reserved;
      } else {
        data_->domains = saved_domains;
        data_->changes = saved_changes;
        data_->change_sequence = saved_sequence;
        return NamingDomain(inserted.error(), domain);
      }
    }
  }
  if (outcome.inserted > 0) AnnounceChange();
  return outcome;
}

Result<std::optional<Domain>> MemoryStore::GetDomain(std::string_view account_id,
                                                     std::string_view id) {
  std::lock_guard lock(data_->mu);
  auto it = data_->domains.find(id);
  if (it == data_->domains.end() || it->second.domain.account_id != account_id) {
    return std::optional<Domain>();
  }
  return std::optional<Domain>(it->second.domain);
}

Result<std::optional<Domain>> MemoryStore::FindDomainByName(std::string_view name) {
  std::lock_guard lock(data_->mu);
  const DomainRow* row = data_->DomainNamed(name);
  if (row == nullptr) return std::optional<Domain>();
  return std::optional<Domain>(row->domain);
}

Result<Page<Domain>> MemoryStore::ListDomains(std::string_view account_id,
                                              const ListQuery& query) {
  CG_RETURN_IF_ERROR(CheckListLimit(query.limit));
  std::lock_guard lock(data_->mu);
  Page<DomainRow> rows = PageOf(data_->domains, query, [&](const DomainRow& row) {
    return row.domain.account_id == account_id && RecordMatches(query.filter, row.domain);
  });
  Page<Domain> page;
  page.has_more = rows.has_more;
  for (DomainRow& row : rows.items) page.items.push_back(std::move(row.domain));
  return page;
}

Result<bool> MemoryStore::UpdateDomain(const Domain& domain) {
  constexpr std::string_view kOp = "updating a reserved domain";
  {
    std::lock_guard lock(data_->mu);
    auto it = data_->domains.find(domain.id);
    // Not found comes before a bad certificate_id: another account's ids
    // must not learn anything from the error.
    if (it == data_->domains.end() || it->second.domain.account_id != domain.account_id) {
      return false;
    }
    CG_RETURN_IF_ERROR(CheckAttachable(*data_, domain, kOp));
    CG_RETURN_IF_ERROR(CheckTargetsUnique(*data_, domain, kOp));
    Domain& stored = it->second.domain;
    const std::optional<std::string> attached = stored.certificate_id;
    stored.description = domain.description;
    stored.metadata = domain.metadata;
    // While a policy is set, automatic management owns certificate_id; a
    // policy that takes over lets go of the uploaded certificate.
    if (!domain.policy.has_value()) {
      stored.certificate_id = domain.certificate_id;
      stored.renews_at.reset();
      stored.issued_key_type.reset();
    } else if (!stored.policy.has_value()) {
      stored.certificate_id.reset();
    }
    stored.policy = domain.policy;
    const std::optional<std::string> old_target = stored.cname_target;
    stored.cname_target = domain.cname_target;
    stored.acme_challenge_cname_target = domain.acme_challenge_cname_target;
    stored.resolves_to = domain.resolves_to;
    data_->DomainChanged(stored.domain, old_target, stored.cname_target);
    if (!domain.policy.has_value()) data_->DeleteJobOfDomain(domain.id);
    // An issued certificate the domain let go of goes (uploaded ones stay).
    if (attached.has_value()) data_->DeleteOrphanIssuedCertificate(*attached);
  }
  AnnounceChange();
  return true;
}

Result<DeleteOutcome> MemoryStore::DeleteDomain(std::string_view account_id, std::string_view id) {
  DeleteOutcome outcome;
  {
    std::lock_guard lock(data_->mu);
    auto it = data_->domains.find(id);
    if (it == data_->domains.end() || it->second.domain.account_id != account_id) return outcome;
    for (const auto& [endpoint_id, endpoint] : data_->endpoints) {
      if (endpoint.domain_id == id) outcome.used_by.push_back(endpoint.url);
    }
    if (!outcome.used_by.empty()) {
      std::sort(outcome.used_by.begin(), outcome.used_by.end());
      outcome.status = DeleteOutcome::Status::kInUse;
      return outcome;
    }
    const std::optional<std::string> attached = it->second.domain.certificate_id;
    data_->DeleteJobOfDomain(id);
    data_->DomainChanged(it->second.domain.domain, it->second.domain.cname_target, std::nullopt);
    data_->domains.erase(it);
    // A certificate issued for this domain goes with it.
    if (attached.has_value()) data_->DeleteOrphanIssuedCertificate(*attached);
    outcome.status = DeleteOutcome::Status::kDeleted;
  }
  AnnounceChange();
  return outcome;
}

// ---- Endpoints ----

Result<void> MemoryStore::InsertEndpoint(const Endpoint& endpoint,
                                         const std::optional<Certificate>& policy_certificate) {
  constexpr std::string_view kOp = "inserting an endpoint";
  if (!policy_certificate.has_value() && endpoint.policy_certificate_id.has_value()) {
    return MakeError(ErrorCode::kInternal,
                     fmt::format("{}: endpoint {} names policy certificate {} but brings none", kOp,
                                 endpoint.id, *endpoint.policy_certificate_id));
  }
  CG_RETURN_IF_ERROR(EncodeBindings(endpoint.bindings));  // refuses what SQLite would
  {
    std::lock_guard lock(data_->mu);
    CG_RETURN_IF_ERROR(CheckEndpointDomain(*data_, endpoint, kOp));
    MemoryReservedNames names(*data_);
    CG_RETURN_IF_ERROR(CheckEndpointHostOwnership(names, endpoint));
    std::optional<Certificate> owned;
    if (policy_certificate.has_value()) {
      CG_ASSIGN_OR_RETURN(owned, PolicyCertificate(*data_, endpoint, *policy_certificate, kOp));
    }
    if (data_->endpoints.contains(endpoint.id)) return IdentityConflict(kOp, "endpoints.id");
    CG_RETURN_IF_ERROR(CheckUrlUnique(*data_, endpoint, kOp));
    if (owned.has_value()) CG_RETURN_IF_ERROR(data_->InsertCertificateRecord(*owned, kOp));
    data_->endpoints.emplace(endpoint.id, StoredEndpoint(endpoint));
    data_->Changed(EdgeChangeKind::kEndpoint, endpoint.host);
  }
  AnnounceChange();
  return {};
}

Result<std::optional<Endpoint>> MemoryStore::GetEndpoint(std::string_view account_id,
                                                         std::string_view id) {
  std::lock_guard lock(data_->mu);
  auto it = data_->endpoints.find(id);
  if (it == data_->endpoints.end() || it->second.account_id != account_id) {
    return std::optional<Endpoint>();
  }
  return std::optional<Endpoint>(it->second);
}

Result<Page<Endpoint>> MemoryStore::ListEndpoints(std::string_view account_id,
                                                  const ListQuery& query) {
  CG_RETURN_IF_ERROR(CheckListLimit(query.limit));
  std::lock_guard lock(data_->mu);
  return PageOf(data_->endpoints, query, [&](const Endpoint& e) {
    return e.account_id == account_id && RecordMatches(query.filter, e);
  });
}

Result<bool> MemoryStore::UpdateEndpoint(const Endpoint& endpoint,
                                         const std::optional<Certificate>& policy_certificate) {
  constexpr std::string_view kOp = "updating an endpoint";
  CG_RETURN_IF_ERROR(EncodeBindings(endpoint.bindings));  // refuses what SQLite would
  {
    std::lock_guard lock(data_->mu);
    auto it = data_->endpoints.find(endpoint.id);
    if (it == data_->endpoints.end() || it->second.account_id != endpoint.account_id) return false;
    const std::optional<std::string> current = it->second.policy_certificate_id;
    CG_RETURN_IF_ERROR(CheckEndpointDomain(*data_, endpoint, kOp));
    std::optional<Certificate> owned;
    std::optional<std::string> keep;  // the policy certificate after the update
    if (policy_certificate.has_value()) {
      CG_ASSIGN_OR_RETURN(owned, PolicyCertificate(*data_, endpoint, *policy_certificate, kOp));
      keep = owned->id;
    } else if (endpoint.policy_certificate_id.has_value()) {
      // "Keep the old one": only if the caller saw the one stored, so that an
      // update based on a stale read cannot resurrect or swap certificates.
      if (current != endpoint.policy_certificate_id) {
        return MakeError(ErrorCode::kStoreConflict,
                         fmt::format("{}: endpoint {}'s policy certificate is {}, not {}; it was "
                                     "changed concurrently",
                                     kOp, endpoint.id, current.value_or("none"),
                                     *endpoint.policy_certificate_id));
      }
      keep = current;
    }
    CG_RETURN_IF_ERROR(CheckUrlUnique(*data_, endpoint, kOp));
    if (owned.has_value()) CG_RETURN_IF_ERROR(data_->InsertCertificateRecord(*owned, kOp));
    Endpoint stored = StoredEndpoint(endpoint);
    stored.created_at = it->second.created_at;
    stored.policy_certificate_id = keep;
    if (it->second.host != stored.host) data_->Changed(EdgeChangeKind::kEndpoint, it->second.host);
    data_->Changed(EdgeChangeKind::kEndpoint, stored.host);
    it->second = std::move(stored);
    DeleteOwnedCertificates(*data_, endpoint.id, keep);
  }
  AnnounceChange();
  return true;
}

Result<bool> MemoryStore::DeleteEndpoint(std::string_view account_id, std::string_view id) {
  {
    std::lock_guard lock(data_->mu);
    auto it = data_->endpoints.find(id);
    if (it == data_->endpoints.end() || it->second.account_id != account_id) return false;
    data_->Changed(EdgeChangeKind::kEndpoint, it->second.host);
    data_->endpoints.erase(it);
    DeleteOwnedCertificates(*data_, id, std::nullopt);
  }
  AnnounceChange();
  return true;
}

// ---- Name ownership ----

Result<NameCheck> MemoryStore::CheckNameOwnership() {
  std::lock_guard lock(data_->mu);
  MemoryReservedNames names(*data_);
  return AuditNameOwnership(names);
}

Result<bool> MemoryStore::HasReservedNamesBelow(std::string_view name) {
  const std::string key = NameKey(name);
  std::lock_guard lock(data_->mu);
  return std::any_of(data_->domains.begin(), data_->domains.end(),
                     [&](const auto& entry) { return KeyIsBelow(entry.second.name_key, key); });
}

Result<bool> MemoryStore::IsEdgeName(std::string_view name) {
  // A reserved wildcard "*.x" covers the name one label below x.
  const std::string wildcard = WildcardOver(name);
  std::lock_guard lock(data_->mu);
  return std::any_of(data_->domains.begin(), data_->domains.end(), [&](const auto& entry) {
    const Domain& d = entry.second.domain;
    return d.cname_target == name || d.domain == name || d.domain == wildcard;
  });
}

Result<bool> MemoryStore::IsCnameTarget(std::string_view name) {
  std::lock_guard lock(data_->mu);
  return std::any_of(data_->domains.begin(), data_->domains.end(),
                     [&](const auto& entry) { return entry.second.domain.cname_target == name; });
}

Result<int64_t> MemoryStore::LoadZone(std::string_view zone, const ZoneVisitor& visit) {
  const std::string key = NameKey(zone);
  std::lock_guard lock(data_->mu);
  for (const auto& [id, row] : data_->domains) {
    if (KeyIsBelow(row.name_key, key)) visit(ZoneRecord::kReserved, row.domain.domain, "");
    if (row.domain.cname_target) visit(ZoneRecord::kCnameTarget, *row.domain.cname_target, "");
  }
  for (const auto& [name_value, job_id] : data_->dns01) {
    visit(ZoneRecord::kTxt, name_value.first, name_value.second);
  }
  return data_->change_sequence;
}

// ---- Writes around the store, for tests ----

void MemoryStore::WriteDomainAroundTheStore(const Domain& domain, std::string_view name_key) {
  std::lock_guard lock(data_->mu);
  std::optional<std::string> old_target;
  if (auto it = data_->domains.find(domain.id); it != data_->domains.end()) {
    old_target = it->second.domain.cname_target;
  }
  data_->domains.insert_or_assign(domain.id, DomainRow{domain, std::string(name_key)});
  data_->DomainChanged(domain.domain, old_target, domain.cname_target);
}

void MemoryStore::WriteEndpointAroundTheStore(const Endpoint& endpoint) {
  std::lock_guard lock(data_->mu);
  data_->endpoints.insert_or_assign(endpoint.id, endpoint);
  data_->Changed(EdgeChangeKind::kEndpoint, endpoint.host);
}

std::string MemoryStore::IntegrityProblems() const {
  std::lock_guard lock(data_->mu);
  std::string problems;
  auto note = [&](std::string_view what, std::string_view id, std::string_view missing) {
    problems += fmt::format("{} {} refers to missing {}\n", what, id, missing);
  };
  for (const auto& [id, row] : data_->domains) {
    const auto& cert = row.domain.certificate_id;
    if (cert && !data_->certificates.contains(*cert)) note("domain", id, *cert);
  }
  for (const auto& [id, endpoint] : data_->endpoints) {
    if (!data_->domains.contains(endpoint.domain_id)) note("endpoint", id, endpoint.domain_id);
    const auto& cert = endpoint.policy_certificate_id;
    if (cert && !data_->certificates.contains(*cert)) note("endpoint", id, *cert);
  }
  for (const auto& [id, row] : data_->jobs) {
    if (!data_->domains.contains(row.job.domain_id)) note("job", id, row.job.domain_id);
  }
  for (const auto& [token, challenge] : data_->http01) {
    if (!data_->jobs.contains(challenge.job_id)) note("HTTP-01 challenge", token, challenge.job_id);
  }
  for (const auto& [key, job_id] : data_->dns01) {
    if (!data_->jobs.contains(job_id)) note("DNS-01 record", key.first, job_id);
  }
  return problems;
}

}  // namespace certgate::store::testing
