// Accounts at ACME CAs, one per directory URL.
// Thread-safe, and every backend keeps the contracts stated in store.h
// (one transaction per write; "not found" is a value, and records of another
// account are not found).
#pragma once

#include <optional>
#include <string_view>

#include "core/result.h"
#include "store/records.h"

namespace certgate::store {

class AcmeAccountStore {
 public:
  virtual ~AcmeAccountStore() = default;

  // The account for an ACME directory, if one was made.
  virtual Result<std::optional<AcmeAccount>> GetAcmeAccount(std::string_view directory_url) = 0;
  // kStoreConflict if the directory has an account already.
  virtual Result<void> InsertAcmeAccount(const AcmeAccount& account) = 0;
  // Forgets an account (the CA no longer knows it). False if not found.
  virtual Result<bool> DeleteAcmeAccount(std::string_view id) = 0;
};

}  // namespace certgate::store
