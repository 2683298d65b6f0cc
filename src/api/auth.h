// API keys: creation (the token is shown once and stored only as its
// SHA-256) and authentication of a request's Authorization header.
// Thread-safe (stateless over a thread-safe AccountStore).
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"
#include "store/account_store.h"

namespace certgate::api {

// Token prefix, so that leaked keys are recognisable by secret scanners.
inline constexpr std::string_view kApiTokenPrefix = "cg_";

// Lower-case hex SHA-256 of a token: what the store keeps.
std::string HashApiToken(std::string_view token);

struct CreatedApiKey {
  store::ApiKey key;
  std::string token;  // the secret; print it once, never store or log it
};

// A new key for account_id with a fresh token, not yet stored.
CreatedApiKey MakeApiKey(std::string_view account_id, std::string_view description);

// Creates a key for an existing account. Error kNotFound if there is none.
Result<CreatedApiKey> CreateApiKey(store::AccountStore& store, std::string_view account_id,
                                   std::string_view description);

struct Principal {
  store::ApiKey key;
  store::Account account;
};

// Authenticates "Bearer <token>". Errors (in ngrok's order of checks):
// kAuthMissing (no header), kAuthUnparseable (not "Bearer <something>";
// Basic is not taken), kAuthKeyId (an API key's id rather than the key),
// kAuthNotAKey (not the shape of a key), kAuthInvalid (no such key).
Result<Principal> Authenticate(store::AccountStore& store, std::string_view authorization_header);

}  // namespace certgate::api
