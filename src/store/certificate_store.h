// TLS certificates of accounts (and the service's own, account_id ""):
// what the certificates API and the edge's key verification use.
// Thread-safe, and every backend keeps the contracts stated in store.h
// (one transaction per write; "not found" is a value, and records of another
// account are not found).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "store/list_filter.h"
#include "store/records.h"

namespace certgate::store {

class CertificateStore {
 public:
  virtual ~CertificateStore() = default;

  // TLS certificates. An account_id of "" addresses the service's own.
  // kStoreConflict if the id exists.
  virtual Result<void> InsertCertificate(const Certificate& cert) = 0;
  virtual Result<std::optional<Certificate>> GetCertificate(std::string_view account_id,
                                                            std::string_view id) = 0;
  // Any account's certificate, for maintenance (key verification, the edge).
  virtual Result<std::optional<Certificate>> GetCertificateById(std::string_view id) = 0;
  // Newest first; ids strictly below before_id when given; 1 <= limit <= 1000.
  virtual Result<Page<Certificate>> ListCertificates(std::string_view account_id,
                                                     const ListQuery& query) = 0;
  // Applies the patch; returns the updated record, or nullopt if not found.
  virtual Result<std::optional<Certificate>> UpdateCertificate(std::string_view account_id,
                                                               std::string_view id,
                                                               const CertificatePatch& patch) = 0;
  // Deletes unless a domain references it (kInUse, used_by = the domain
  // names), atomically. Certificates owned by an endpoint (see
  // Endpoint::policy_certificate_id) are not found here.
  virtual Result<DeleteOutcome> DeleteCertificate(std::string_view account_id,
                                                  std::string_view id) = 0;

  // The summary backfill (see Certificate's summary): the store cannot read
  // certificates, so the app reads the leaves of records stored before the
  // summary existed and sets theirs at start-up.
  //
  // Certificates of every account and endpoint whose summary is unknown, by
  // id ascending, ids strictly above after_id when given; at most limit
  // (>= 1, else kInvalidPaging).
  virtual Result<std::vector<UnsummarizedCertificate>> ListUnsummarizedCertificates(
      std::optional<std::string> after_id, int limit) = 0;
  // Every certificate of every account and endpoint, by id ascending, ids
  // strictly above after_id when given; at most limit (1 to 1000, else
  // kInvalidPaging). What metrics and expiry alerts page through.
  virtual Result<std::vector<CertificateExpiry>> ListCertificateExpiries(
      std::optional<std::string> after_id, int limit) = 0;
  // Sets the summary of certificate id if it is still unknown. True when it
  // was set; false when the certificate is gone or already has one (another
  // process backfilled it first). kInternal for a summary without a
  // serial_number (a bug of the caller). Counted in the change sequence like
  // any certificate write, but not announced to OnChange: nothing the edge
  // serves changes.
  virtual Result<bool> SetCertificateSummary(std::string_view id,
                                             const CertificateSummary& summary) = 0;
};

}  // namespace certgate::store
