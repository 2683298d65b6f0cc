// An administrator's check of the name ownership rule (see domain_store.h)
// over everything stored, including rows written around the store. An
// optional capability, not part of Store: a backend that has it implements
// this besides Store, and callers find it with AsNameOwnershipAudit (store.h).
// Thread-safe, and every backend keeps the contracts stated in store.h
// (one transaction per write; "not found" is a value, and records of another
// account are not found).
#pragma once

#include "core/result.h"
#include "store/records.h"

namespace certgate::store {

class NameOwnershipAudit {
 public:
  virtual ~NameOwnershipAudit() = default;

  // Every overlap of names between accounts, read in one transaction (for
  // `certgate admin check`). Visits every domain and endpoint once.
  virtual Result<NameCheck> CheckNameOwnership() = 0;
};

}  // namespace certgate::store
