// Accounts and their API keys: what authenticating a request reads and
// creating an account writes.
// Thread-safe, and every backend keeps the contracts stated in store.h
// (one transaction per write; "not found" is a value, and records of another
// account are not found).
#pragma once

#include <optional>
#include <string_view>
#include <utility>

#include "core/result.h"
#include "store/records.h"

namespace certgate::store {

class AccountStore {
 public:
  virtual ~AccountStore() = default;

  // Accounts.
  virtual Result<void> CreateAccount(const Account& account) = 0;
  virtual Result<std::optional<Account>> GetAccount(std::string_view id) = 0;
  virtual Result<int64_t> CountAccounts() = 0;
  // Creates account and its API key in one transaction if the store holds
  // no account yet. True when created; false (nothing written) when any
  // account exists, so that nodes started at once on an empty store make
  // exactly one first account.
  virtual Result<bool> CreateFirstAccount(const Account& account, const ApiKey& key,
                                          std::string_view token_hash) = 0;

  // API keys, stored by the SHA-256 of the secret token only.
  virtual Result<void> CreateApiKey(const ApiKey& key, std::string_view token_hash) = 0;
  // The key and its account for a token hash; nullopt if no key has it.
  virtual Result<std::optional<std::pair<ApiKey, Account>>> FindApiKeyByHash(
      std::string_view token_hash) = 0;
};

}  // namespace certgate::store
