// Endpoints: where the edge accepts traffic for a host and where it sends it.
// Thread-safe, and every backend keeps the contracts stated in store.h
// (one transaction per write; "not found" is a value, and records of another
// account are not found).
#pragma once

#include <optional>
#include <string_view>

#include "core/result.h"
#include "store/list_filter.h"
#include "store/records.h"

namespace certgate::store {

class EndpointStore {
 public:
  virtual ~EndpointStore() = default;

  // Endpoints. url is unique across all accounts (kStoreConflict); a host
  // another account's domain owns is kEndpointHostReservedElsewhere.
  // policy_certificate, when given, is inserted in the same transaction with
  // account_id = the endpoint's and becomes endpoint.policy_certificate_id
  // (its id must equal that field).
  virtual Result<void> InsertEndpoint(const Endpoint& endpoint,
                                      const std::optional<Certificate>& policy_certificate) = 0;
  virtual Result<std::optional<Endpoint>> GetEndpoint(std::string_view account_id,
                                                      std::string_view id) = 0;
  virtual Result<Page<Endpoint>> ListEndpoints(std::string_view account_id,
                                               const ListQuery& query) = 0;
  // Replaces every field but id, account_id, created_at. A new
  // policy_certificate replaces the endpoint's old one (deleted in the same
  // transaction); nullopt with endpoint.policy_certificate_id unset deletes
  // the old one; nullopt with it set keeps the old one. False if not found.
  virtual Result<bool> UpdateEndpoint(const Endpoint& endpoint,
                                      const std::optional<Certificate>& policy_certificate) = 0;
  // Deletes the endpoint and its policy certificate. False if not found.
  virtual Result<bool> DeleteEndpoint(std::string_view account_id, std::string_view id) = 0;
};

}  // namespace certgate::store
