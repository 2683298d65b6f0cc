// MemoryStore: construction, change announcements, accounts, API keys,
// certificates, the edge's reads, sealed keys and settings. Domains,
// endpoints and names are in memory_store_names.cc; automatic certificates
// (ACME accounts, jobs, challenges) in memory_store_jobs.cc.
#include "store/testing/memory_store.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "store/testing/memory_store_data.h"

namespace certgate::store::testing {

// ---- Shared helpers ----

Error IdentityConflict(std::string_view op, std::string_view what) {
  return MakeError(ErrorCode::kStoreConflict,
                   fmt::format("{}: a record with that identity exists already ({})", op, what));
}

Result<void> CheckListLimit(int limit) {
  constexpr int kMaxListLimit = 1000;
  if (limit < 1 || limit > kMaxListLimit) {
    return MakeError(ErrorCode::kInvalidPaging,
                     fmt::format("limit must be between 1 and {}, not {}", kMaxListLimit, limit));
  }
  return {};
}

const DomainRow* MemoryStoreData::DomainNamed(std::string_view name) const {
  for (const auto& [id, row] : domains) {
    if (row.domain.domain == name) return &row;
  }
  return nullptr;
}

void MemoryStoreData::Changed(EdgeChangeKind kind, std::string_view key) {
  changes.push_back(EdgeChange{++change_sequence, kind, std::string(key)});
  while (changes.size() > change_retention) changes.pop_front();
}

void MemoryStoreData::DomainChanged(std::string_view name,
                                    const std::optional<std::string>& old_target,
                                    const std::optional<std::string>& new_target) {
  Changed(EdgeChangeKind::kDomain, name);
  if (old_target == new_target) return;
  if (old_target) Changed(EdgeChangeKind::kCnameTarget, *old_target);
  if (new_target) Changed(EdgeChangeKind::kCnameTarget, *new_target);
}

void MemoryStoreData::DeleteJob(std::string_view job_id) {
  auto job = jobs.find(job_id);
  if (job == jobs.end()) return;
  std::erase_if(http01, [&](const auto& entry) {
    if (entry.second.job_id != job_id) return false;
    Changed(EdgeChangeKind::kHttp01, entry.first);
    return true;
  });
  std::erase_if(dns01, [&](const auto& entry) {
    if (entry.second != job_id) return false;
    Changed(EdgeChangeKind::kDnsTxt, entry.first.first);
    return true;
  });
  jobs.erase(job);
}

void MemoryStoreData::DeleteJobOfDomain(std::string_view domain_id) {
  for (const auto& [id, row] : jobs) {
    if (row.job.domain_id == domain_id) {
      DeleteJob(std::string(id));
      return;
    }
  }
}

void MemoryStoreData::DeleteOrphanIssuedCertificate(std::string_view id) {
  auto cert = certificates.find(id);
  if (cert == certificates.end() || !cert->second.issued_at.has_value()) return;
  for (const auto& [domain_id, row] : domains) {
    if (row.domain.certificate_id == id) return;
  }
  Changed(EdgeChangeKind::kCertificate, cert->first);
  certificates.erase(cert);
}

Result<void> MemoryStoreData::InsertCertificateRecord(const Certificate& cert,
                                                      std::string_view op) {
  if (certificates.contains(cert.id)) return IdentityConflict(op, "tls_certificates.id");
  Certificate stored = cert;
  stored.created_at = WholeSeconds(cert.created_at);
  stored.issued_at = WholeSeconds(cert.issued_at);
  stored.not_after = WholeSeconds(cert.not_after);
  if (stored.serial_number.empty()) {
    // An unknown summary, as the SQLite backend stores it: NULLs.
    stored.subject_common_name.clear();
    stored.not_before = Time{};
  } else {
    stored.not_before = WholeSeconds(cert.not_before);
  }
  Changed(EdgeChangeKind::kCertificate, stored.id);
  certificates.emplace(stored.id, std::move(stored));
  return {};
}

// ---- Construction and announcements ----

MemoryStore::MemoryStore() : MemoryStore(std::make_shared<MemoryStoreData>()) {}

MemoryStore::MemoryStore(std::shared_ptr<MemoryStoreData> data) : data_(std::move(data)) {}

MemoryStore::~MemoryStore() = default;

std::unique_ptr<MemoryStore> MemoryStore::SharingDataWith(const MemoryStore& other) {
  return std::unique_ptr<MemoryStore>(new MemoryStore(other.data_));
}

void MemoryStore::OnChange(std::function<void()> fn) { callbacks_.Add(std::move(fn)); }

// ---- Accounts and API keys ----

Result<void> MemoryStore::CreateAccount(const Account& account) {
  std::lock_guard lock(data_->mu);
  return CreateAccountLocked(account);
}

Result<void> MemoryStore::CreateAccountLocked(const Account& account) {
  if (data_->accounts.contains(account.id)) {
    return IdentityConflict("creating an account", "accounts.id");
  }
  Account stored = account;
  stored.created_at = WholeSeconds(account.created_at);
  data_->accounts.emplace(stored.id, std::move(stored));
  return {};
}

Result<std::optional<Account>> MemoryStore::GetAccount(std::string_view id) {
  std::lock_guard lock(data_->mu);
  auto it = data_->accounts.find(id);
  if (it == data_->accounts.end()) return std::optional<Account>();
  return std::optional<Account>(it->second);
}

Result<int64_t> MemoryStore::CountAccounts() {
  std::lock_guard lock(data_->mu);
  return static_cast<int64_t>(data_->accounts.size());
}

Result<bool> MemoryStore::CreateFirstAccount(const Account& account, const ApiKey& key,
                                             std::string_view token_hash) {
  {
    std::lock_guard lock(data_->mu);
    if (!data_->accounts.empty()) return false;
    CG_RETURN_IF_ERROR(CreateAccountLocked(account));
    if (auto created = CreateApiKeyLocked(key, token_hash); !created) {
      data_->accounts.erase(account.id);  // one transaction: all or nothing
      return std::move(created).error();
    }
  }
  return true;
}

Result<void> MemoryStore::CreateApiKey(const ApiKey& key, std::string_view token_hash) {
  std::lock_guard lock(data_->mu);
  return CreateApiKeyLocked(key, token_hash);
}

Result<void> MemoryStore::CreateApiKeyLocked(const ApiKey& key, std::string_view token_hash) {
  constexpr std::string_view kOp = "creating an API key";
  if (data_->api_keys.contains(key.id)) return IdentityConflict(kOp, "api_keys.id");
  for (const auto& [id, entry] : data_->api_keys) {
    if (entry.second == token_hash) return IdentityConflict(kOp, "api_keys.token_hash");
  }
  if (!data_->accounts.contains(key.account_id)) {
    return MakeError(ErrorCode::kStoreConflict,
                     fmt::format("{}: account {} does not exist", kOp, key.account_id));
  }
  ApiKey stored = key;
  stored.created_at = WholeSeconds(key.created_at);
  std::string id = stored.id;
  data_->api_keys.emplace(std::move(id),
                          std::make_pair(std::move(stored), std::string(token_hash)));
  return {};
}

Result<std::optional<std::pair<ApiKey, Account>>> MemoryStore::FindApiKeyByHash(
    std::string_view token_hash) {
  using Found = std::optional<std::pair<ApiKey, Account>>;
  std::lock_guard lock(data_->mu);
  for (const auto& [id, entry] : data_->api_keys) {
    if (entry.second != token_hash) continue;
    auto account = data_->accounts.find(entry.first.account_id);
    if (account == data_->accounts.end()) return Found();
    return Found(std::in_place, entry.first, account->second);
  }
  return Found();
}

// ---- Certificates ----

namespace {

// Whether an account-scoped call sees cert: of that account ("" the service's
// own), and not owned by an endpoint.
bool SeenBy(const Certificate& cert, std::string_view account_id) {
  return cert.account_id == account_id && cert.owner_endpoint_id.empty();
}

}  // namespace

Result<void> MemoryStore::InsertCertificate(const Certificate& cert) {
  constexpr std::string_view kOp = "inserting a certificate";
  if (!cert.owner_endpoint_id.empty()) {
    return MakeError(ErrorCode::kInternal,
                     fmt::format("{}: certificate {} belongs to endpoint {}; endpoint "
                                 "certificates are inserted with their endpoint",
                                 kOp, cert.id, cert.owner_endpoint_id));
  }
  Result<void> result;
  {
    std::lock_guard lock(data_->mu);
    result = data_->InsertCertificateRecord(cert, kOp);
  }
  return Announced(std::move(result));
}

Result<std::optional<Certificate>> MemoryStore::GetCertificate(std::string_view account_id,
                                                               std::string_view id) {
  std::lock_guard lock(data_->mu);
  auto it = data_->certificates.find(id);
  if (it == data_->certificates.end() || !SeenBy(it->second, account_id)) {
    return std::optional<Certificate>();
  }
  return std::optional<Certificate>(it->second);
}

Result<std::optional<Certificate>> MemoryStore::GetCertificateById(std::string_view id) {
  std::lock_guard lock(data_->mu);
  auto it = data_->certificates.find(id);
  if (it == data_->certificates.end()) return std::optional<Certificate>();
  return std::optional<Certificate>(it->second);
}

Result<Page<Certificate>> MemoryStore::ListCertificates(std::string_view account_id,
                                                        const ListQuery& query) {
  CG_RETURN_IF_ERROR(CheckListLimit(query.limit));
  std::lock_guard lock(data_->mu);
  return PageOf(data_->certificates, query, [&](const Certificate& c) {
    return SeenBy(c, account_id) && RecordMatches(query.filter, c);
  });
}

Result<std::optional<Certificate>> MemoryStore::UpdateCertificate(std::string_view account_id,
                                                                  std::string_view id,
                                                                  const CertificatePatch& patch) {
  std::optional<Certificate> updated;
  {
    std::lock_guard lock(data_->mu);
    auto it = data_->certificates.find(id);
    if (it != data_->certificates.end() && SeenBy(it->second, account_id)) {
      if (patch.description.has_value()) it->second.description = *patch.description;
      if (patch.metadata.has_value()) it->second.metadata = *patch.metadata;
      data_->Changed(EdgeChangeKind::kCertificate, it->first);
      updated = it->second;
    }
  }
  return Announced(Result<std::optional<Certificate>>(std::move(updated)));
}

Result<DeleteOutcome> MemoryStore::DeleteCertificate(std::string_view account_id,
                                                     std::string_view id) {
  DeleteOutcome outcome;
  {
    std::lock_guard lock(data_->mu);
    auto it = data_->certificates.find(id);
    if (it == data_->certificates.end() || !SeenBy(it->second, account_id)) return outcome;
    for (const auto& [domain_id, row] : data_->domains) {
      if (row.domain.certificate_id == id) outcome.used_by.push_back(row.domain.domain);
    }
    if (!outcome.used_by.empty()) {
      std::sort(outcome.used_by.begin(), outcome.used_by.end());
      outcome.status = DeleteOutcome::Status::kInUse;
      return outcome;
    }
    data_->Changed(EdgeChangeKind::kCertificate, it->first);
    data_->certificates.erase(it);
    outcome.status = DeleteOutcome::Status::kDeleted;
  }
  return Announced(Result<DeleteOutcome>(std::move(outcome)));
}

Result<std::vector<CertificateExpiry>> MemoryStore::ListCertificateExpiries(
    std::optional<std::string> after_id, int limit) {
  if (limit < 1 || limit > 1000) {
    return MakeError(ErrorCode::kInvalidPaging,
                     fmt::format("limit must be from 1 to 1000, not {}", limit));
  }
  std::lock_guard lock(data_->mu);
  std::vector<CertificateExpiry> certs;
  auto it = after_id.has_value() ? data_->certificates.upper_bound(*after_id)
                                 : data_->certificates.begin();
  for (; it != data_->certificates.end() && certs.size() < static_cast<size_t>(limit); ++it) {
    const Certificate& c = it->second;
    certs.push_back(CertificateExpiry{c.id, c.account_id, c.issued_at.has_value(),
                                      WholeSeconds(c.not_after), c.subject_common_name,
                                      c.owner_endpoint_id});
  }
  return certs;
}

Result<std::vector<UnsummarizedCertificate>> MemoryStore::ListUnsummarizedCertificates(
    std::optional<std::string> after_id, int limit) {
  if (limit < 1) {
    return MakeError(ErrorCode::kInvalidPaging,
                     fmt::format("limit must be at least 1, not {}", limit));
  }
  std::lock_guard lock(data_->mu);
  std::vector<UnsummarizedCertificate> certs;
  auto it = after_id.has_value() ? data_->certificates.upper_bound(*after_id)
                                 : data_->certificates.begin();
  for (; it != data_->certificates.end() && certs.size() < static_cast<size_t>(limit); ++it) {
    if (it->second.serial_number.empty()) {
      certs.push_back(UnsummarizedCertificate{it->first, it->second.certificate_pem});
    }
  }
  return certs;
}

Result<bool> MemoryStore::SetCertificateSummary(std::string_view id,
                                                const CertificateSummary& summary) {
  if (summary.serial_number.empty()) {
    return MakeError(ErrorCode::kInternal,
                     fmt::format("setting a certificate's summary: certificate {}'s summary has "
                                 "no serial number",
                                 id));
  }
  // Counted like the SQLite backend's triggers count it; not announced.
  std::lock_guard lock(data_->mu);
  auto it = data_->certificates.find(id);
  if (it == data_->certificates.end() || !it->second.serial_number.empty()) return false;
  it->second.subject_common_name = summary.subject_common_name;
  it->second.serial_number = summary.serial_number;
  it->second.not_before = WholeSeconds(summary.not_before);
  data_->Changed(EdgeChangeKind::kCertificate, it->first);
  return true;
}

// ---- The edge ----

Result<EdgeState> MemoryStore::LoadEdgeState(const EdgeDomainVisitor& visit) {
  std::lock_guard lock(data_->mu);
  EdgeState state;
  state.change_sequence = data_->change_sequence;
  for (const auto& [id, row] : data_->domains) {
    std::optional<std::string_view> certificate_id;
    if (row.domain.certificate_id) certificate_id = *row.domain.certificate_id;
    visit(row.domain.domain, certificate_id);
  }
  for (const auto& [id, endpoint] : data_->endpoints) state.endpoints.push_back(endpoint);
  return state;
}

Result<int64_t> MemoryStore::ChangeSequence() {
  std::lock_guard lock(data_->mu);
  return data_->change_sequence;
}

Result<EdgeChanges> MemoryStore::ChangesSince(int64_t after, int limit) {
  if (limit < 1) {
    return MakeError(ErrorCode::kInternal,
                     fmt::format("reading the edge's change feed: limit {} is below 1", limit));
  }
  std::lock_guard lock(data_->mu);
  const int64_t newest = data_->change_sequence;
  const auto& log = data_->changes;
  const bool pruned = after < newest && (log.empty() || log.front().sequence > after + 1);
  if (after > newest || pruned) {
    return MakeError(ErrorCode::kChangesExpired,
                     fmt::format("reading the edge's change feed: changes after {} are no longer "
                                 "kept (it ends at {})",
                                 after, newest));
  }
  EdgeChanges out;
  out.sequence = after;
  // Sequences are consecutive in the log: the first one after `after` is at
  // a known offset.
  const int64_t skip = log.empty() ? 0 : std::max<int64_t>(0, after + 1 - log.front().sequence);
  for (auto it = log.begin() + skip;
       it != log.end() && out.changes.size() < static_cast<size_t>(limit); ++it) {
    out.changes.push_back(*it);
    out.sequence = it->sequence;
  }
  out.more = out.sequence < newest;
  return out;
}

Result<std::optional<EdgeDomain>> MemoryStore::EdgeDomainByName(std::string_view name) {
  std::lock_guard lock(data_->mu);
  const DomainRow* row = data_->DomainNamed(name);
  if (row == nullptr) return std::optional<EdgeDomain>();
  return std::optional<EdgeDomain>(EdgeDomain{row->domain.domain, row->domain.certificate_id});
}

Result<std::vector<Endpoint>> MemoryStore::EndpointsByHost(std::string_view host) {
  std::lock_guard lock(data_->mu);
  std::vector<Endpoint> endpoints;  // by id, as the map is ordered
  for (const auto& [id, endpoint] : data_->endpoints) {
    if (endpoint.host == host) endpoints.push_back(endpoint);
  }
  return endpoints;
}

void MemoryStore::SetChangeRetention(size_t entries) {
  std::lock_guard lock(data_->mu);
  data_->change_retention = std::max<size_t>(entries, 1);
  while (data_->changes.size() > data_->change_retention) data_->changes.pop_front();
}

// ---- Sealed keys ----

namespace {

// Every sealed key, keyed by record id: certificates, ACME accounts, and jobs
// that made one. Ids never collide across them.
std::map<std::string, SealedKey> AllSealedKeys(const MemoryStoreData& data) {
  std::map<std::string, SealedKey> keys;
  for (const auto& [id, cert] : data.certificates) keys.emplace(id, cert.private_key);
  for (const auto& [id, account] : data.acme_accounts) keys.emplace(id, account.key);
  for (const auto& [id, row] : data.jobs) {
    if (row.job.private_key.has_value()) keys.emplace(id, *row.job.private_key);
  }
  return keys;
}

}  // namespace

Result<std::vector<SealedKeyRef>> MemoryStore::ListSealedKeys(std::optional<std::string> after_id,
                                                              int limit) {
  if (limit < 1) {
    return MakeError(ErrorCode::kInvalidPaging,
                     fmt::format("limit must be at least 1, not {}", limit));
  }
  std::lock_guard lock(data_->mu);
  std::map<std::string, SealedKey> keys = AllSealedKeys(*data_);
  auto it = after_id.has_value() ? keys.upper_bound(*after_id) : keys.begin();
  std::vector<SealedKeyRef> refs;
  for (; it != keys.end() && refs.size() < static_cast<size_t>(limit); ++it) {
    refs.push_back(SealedKeyRef{it->first, it->second});
  }
  return refs;
}

Result<bool> MemoryStore::ReplaceSealedKey(std::string_view record_id, const SealedKey& expected,
                                           const SealedKey& replacement) {
  bool replaced = false;
  {
    std::lock_guard lock(data_->mu);
    if (auto cert = data_->certificates.find(record_id);
        cert != data_->certificates.end() && cert->second.private_key == expected) {
      cert->second.private_key = replacement;
      data_->Changed(EdgeChangeKind::kCertificate, cert->first);
      replaced = true;
    } else if (auto account = data_->acme_accounts.find(record_id);
               account != data_->acme_accounts.end() && account->second.key == expected) {
      account->second.key = replacement;
      replaced = true;
    } else if (auto job = data_->jobs.find(record_id);
               job != data_->jobs.end() && job->second.job.private_key == expected) {
      job->second.job.private_key = replacement;
      replaced = true;
    }
  }
  // A re-seal changes no served bytes, but the edge may keep sealed blobs.
  return Announced(Result<bool>(replaced));
}

Result<int64_t> MemoryStore::CountSealedKeysNotAtVersion(uint32_t version) {
  std::lock_guard lock(data_->mu);
  int64_t count = 0;
  for (const auto& [id, key] : AllSealedKeys(*data_)) count += key.key_version != version ? 1 : 0;
  return count;
}

// ---- Settings ----

Result<std::optional<std::string>> MemoryStore::GetSetting(std::string_view name) {
  std::lock_guard lock(data_->mu);
  auto it = data_->settings.find(name);
  if (it == data_->settings.end()) return std::optional<std::string>();
  return std::optional<std::string>(it->second);
}

Result<void> MemoryStore::SetSetting(std::string_view name, std::string_view value) {
  std::lock_guard lock(data_->mu);
  data_->settings.insert_or_assign(std::string(name), std::string(value));
  return {};
}

Result<bool> MemoryStore::CompareAndSetSetting(std::string_view name,
                                               const std::optional<std::string>& expected,
                                               std::string_view value) {
  std::lock_guard lock(data_->mu);
  auto it = data_->settings.find(name);
  const bool matches = expected.has_value() ? it != data_->settings.end() && it->second == *expected
                                            : it == data_->settings.end();
  if (!matches) return false;
  data_->settings.insert_or_assign(std::string(name), std::string(value));
  return true;
}

}  // namespace certgate::store::testing
