// The /tls_certificates resource: create (upload), get, list, update,
// delete, scoped to the caller's account. Thread-safe.
#pragma once

#include <boost/json.hpp>

#include "api/call.h"
#include "core/time.h"
#include "pki/upload.h"
#include "seal/key_vault.h"
#include "store/certificate_store.h"

namespace certgate::api {

// A certificate record for a validated upload: a new id, the key sealed for
// it. Errors are internal (sealing failed).
Result<store::Certificate> SealUpload(seal::KeyVault& vault, const pki::ValidatedUpload& upload,
                                      std::string account_id, Time now);

class CertificatesApi {
 public:
  // certificates, vault and clock must outlive the resource.
  CertificatesApi(store::CertificateStore& certificates, seal::KeyVault& vault, const Clock& clock)
      : certificates_(certificates), vault_(vault), clock_(clock) {}

  Response Create(Call& call);
  Response List(Call& call);
  Response Get(Call& call, std::string_view id);
  Response Update(Call& call, std::string_view id);
  Response Delete(Call& call, std::string_view id);
  // certgate's own GET /tls_certificates/{id}/chain: each certificate of the
  // chain in readable form (subject, issuer, validity, SHA-256 fingerprint),
  // leaf first, for the dashboard's chain view.
  Response Chain(Call& call, std::string_view id);

 private:
  Result<boost::json::object> ToJson(const Call& call, const store::Certificate& cert);
  Error NotFound(std::string_view id) const;

  store::CertificateStore& certificates_;
  seal::KeyVault& vault_;
  const Clock& clock_;
};

}  // namespace certgate::api
