#include "api/auth.h"

#include <fmt/format.h>
#include <sodium.h>

#include <array>

#include "core/ids.h"

namespace certgate::api {

std::string HashApiToken(std::string_view token) {
  std::array<unsigned char, crypto_hash_sha256_BYTES> digest{};
  crypto_hash_sha256(digest.data(), reinterpret_cast<const unsigned char*>(token.data()),
                     token.size());
  std::array<char, crypto_hash_sha256_BYTES * 2 + 1> hex{};
  sodium_bin2hex(hex.data(), hex.size(), digest.data(), digest.size());
  return std::string(hex.data(), crypto_hash_sha256_BYTES * 2);
}

Result<CreatedApiKey> CreateApiKey(store::AccountStore& store, std::string_view account_id,
                                   std::string_view description) {
  CG_ASSIGN_OR_RETURN(auto account, store.GetAccount(account_id));
  if (!account) {
    return MakeError(ErrorCode::kNotFound, fmt::format("no account with id '{}'", account_id));
  }
  CreatedApiKey created;
  created.key.id = NewId("ak");
  created.key.account_id = account->id;
  created.key.description = std::string(description);
  created.key.created_at = std::chrono::system_clock::now();
  created.token = std::string(kApiTokenPrefix) + RandomBase62(43);
  CG_RETURN_IF_ERROR(store.CreateApiKey(created.key, HashApiToken(created.token)));
  return created;
}

Result<Principal> Authenticate(store::AccountStore& store, std::string_view header) {
  constexpr std::string_view kBearer = "bearer ";
  if (header.empty()) {
    return MakeError(ErrorCode::kAuthMissing,
                     "no API key: send the header 'Authorization: Bearer <api key>'");
  }
  bool bearer = header.size() > kBearer.size();
  for (size_t i = 0; bearer && i < kBearer.size(); ++i) {
    bearer = std::tolower(static_cast<unsigned char>(header[i])) == kBearer[i];
  }
  if (!bearer) {
    return MakeError(ErrorCode::kAuthMissing,
                     "the Authorization header must be 'Bearer <api key>'");
  }
  std::string_view token = header.substr(kBearer.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty() || token.size() > 256) {
    return MakeError(ErrorCode::kAuthInvalid, "the API key is not valid");
  }
  CG_ASSIGN_OR_RETURN(auto found, store.FindApiKeyByHash(HashApiToken(token)));
  if (!found) return MakeError(ErrorCode::kAuthInvalid, "the API key is not valid");
  return Principal{std::move(found->first), std::move(found->second)};
}

}  // namespace certgate::api
