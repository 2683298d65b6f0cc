// What a first start sets up: the service's default certificate and, on an
// empty store, a first account with an API key.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "api/auth.h"
#include "core/result.h"
#include "core/time.h"
#include "seal/key_vault.h"
#include "store/account_store.h"
#include "store/certificate_store.h"
#include "store/setting_store.h"

namespace certgate::app {

inline constexpr char kDefaultCertificateSetting[] = "default_certificate_id";

// Makes sure the store holds a usable self-signed default certificate for
// base_domain and *.base_domain (ECDSA P-256, one year), replacing one that
// names another domain or expires within 30 days. Returns its id, which
// settings keeps (kDefaultCertificateSetting). Race-free between processes
// starting at once on one store: each proposes its own, the setting takes
// one (CompareAndSetSetting), and the others delete theirs and use it.
Result<std::string> EnsureDefaultCertificate(store::SettingStore& settings,
                                             store::CertificateStore& certificates,
                                             seal::KeyVault& vault, const std::string& base_domain,
                                             Time now);

// Sets the summary (subject_common_name, serial_number, not_before; see
// store::Certificate) of every certificate stored before certgate kept it,
// reading it from the certificate's leaf, a page at a time. A certificate
// whose stored PEM does not parse keeps an unknown summary (a warning names
// it). Logs one line with the count when any were set, and returns it.
// Errors: the store's.
Result<int64_t> BackfillCertificateSummaries(store::CertificateStore& certificates);

// On a store without accounts: creates account "default" on the payg plan
// and an API key for it, in one transaction. nullopt when accounts exist
// (also when another process starting at once made the first one).
struct FirstAccount {
  store::Account account;
  api::CreatedApiKey key;
};
Result<std::optional<FirstAccount>> EnsureFirstAccount(store::AccountStore& accounts, Time now);

// Creates an account. Errors: kConfigInvalid for an empty or over-long name.
Result<store::Account> CreateAccount(store::AccountStore& accounts, std::string_view name,
                                     store::Plan plan, Time now);

}  // namespace certgate::app
