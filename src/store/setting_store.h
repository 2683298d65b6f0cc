// Small service settings by name (e.g. the id of the default certificate).
// Thread-safe, and every backend keeps the contracts stated in store.h
// (one transaction per write; "not found" is a value, and records of another
// account are not found).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "store/records.h"

namespace certgate::store {

class SettingStore {
 public:
  virtual ~SettingStore() = default;

  // Small service settings (e.g. the id of the default certificate).
  virtual Result<std::optional<std::string>> GetSetting(std::string_view name) = 0;
  virtual Result<void> SetSetting(std::string_view name, std::string_view value) = 0;
  // Sets name to value only if it holds `expected` now (nullopt: only if it
  // is absent), in one transaction. True when set; false (nothing written)
  // when it held something else. For values that processes starting at once
  // must agree on: each proposes its own, one wins, and the others read it.
  virtual Result<bool> CompareAndSetSetting(std::string_view name,
                                            const std::optional<std::string>& expected,
                                            std::string_view value) = 0;
};

}  // namespace certgate::store
