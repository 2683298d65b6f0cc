// Every sealed private key, whatever record holds it: what master key
// rotation reads and re-seals.
// Thread-safe, and every backend keeps the contracts stated in store.h
// (one transaction per write; "not found" is a value, and records of another
// account are not found).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "store/records.h"

namespace certgate::store {

class SealedKeyStore {
 public:
  virtual ~SealedKeyStore() = default;

  // Every sealed key (certificates of all accounts, ACME accounts, jobs),
  // ordered by record id, after after_id (exclusive) when given; at most
  // limit. For key rotation.
  virtual Result<std::vector<SealedKeyRef>> ListSealedKeys(std::optional<std::string> after_id,
                                                           int limit) = 0;
  // Replaces a record's sealed key if it still equals expected (compare
  // and swap, so a concurrent change is never overwritten). True if replaced.
  virtual Result<bool> ReplaceSealedKey(std::string_view record_id, const SealedKey& expected,
                                        const SealedKey& replacement) = 0;
  // How many sealed keys use a master key version other than `version`.
  virtual Result<int64_t> CountSealedKeysNotAtVersion(uint32_t version) = 0;
};

}  // namespace certgate::store
