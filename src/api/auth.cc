#include "api/auth.h"

#include <fmt/format.h>
#include <sodium.h>

#include <array>

#include "core/ids.h"

namespace certgate::api {
namespace {

// A key's characters after kApiTokenPrefix.
constexpr size_t kTokenRandomChars = 43;

}  // namespace

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
  CreatedApiKey created = MakeApiKey(account->id, description);
  CG_RETURN_IF_ERROR(store.CreateApiKey(created.key, HashApiToken(created.token)));
  return created;
}

CreatedApiKey MakeApiKey(std::string_view account_id, std::string_view description) {
  CreatedApiKey created;
  created.key.id = NewId("ak");
  created.key.account_id = std::string(account_id);
  created.key.description = std::string(description);
  created.key.created_at = std::chrono::system_clock::now();
  created.token = std::string(kApiTokenPrefix) + RandomBase62(kTokenRandomChars);
  return created;
}

namespace {

// "cg_" and 43 base62 characters: the shape CreateApiKey gives every key.
bool LooksLikeApiToken(std::string_view token) {
  if (!token.starts_with(kApiTokenPrefix)) return false;
  std::string_view rest = token.substr(kApiTokenPrefix.size());
  if (rest.size() != kTokenRandomChars) return false;
  for (char c : rest) {
    if (!std::isalnum(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// A's lower-case form equals b (ASCII).
bool EqualsLower(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != b[i]) return false;
  }
  return true;
}

// The scheme word of an Authorization header, as a message quotes it.
std::string QuotedScheme(std::string_view scheme) {
  std::string out(scheme.substr(0, 32));
  for (char& c : out) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') c = '?';
  }
  return out;
}

}  // namespace

Result<Principal> Authenticate(store::AccountStore& store, std::string_view header) {
  if (header.empty()) {
    return MakeError(ErrorCode::kAuthMissing,
                     "no API key: send the header 'Authorization: Bearer <api key>'");
  }
  // The credential is never quoted in a message: it may be a real secret,
  // slightly off.
  const size_t space = header.find(' ');
  const std::string_view scheme = header.substr(0, space);
  if (!EqualsLower(scheme, "bearer")) {
    if (space == std::string_view::npos) {
      return MakeError(ErrorCode::kAuthUnparseable,
                       "the Authorization header has no scheme: send 'Authorization: Bearer "
                       "<api key>'");
    }
    return MakeError(ErrorCode::kAuthUnparseable,
                     fmt::format("the Authorization header uses the scheme '{}'; certgate reads "
                                 "only 'Authorization: Bearer <api key>'",
                                 QuotedScheme(scheme)));
  }
  std::string_view token = header.substr(scheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty()) {
    return MakeError(ErrorCode::kAuthUnparseable,
                     "the Authorization header has no API key after 'Bearer': send "
                     "'Authorization: Bearer <api key>'");
  }
  if (IsValidId("ak", token)) {
    return MakeError(ErrorCode::kAuthKeyId,
                     "the credential is an API key's id (ak_...), not the key: send the key "
                     "itself, which starts with cg_ and was shown once when it was created");
  }
  if (!LooksLikeApiToken(token)) {
    return MakeError(ErrorCode::kAuthNotAKey,
                     fmt::format("the credential does not look like an API key: keys are {} "
                                 "followed by {} letters and digits; check that you copied all "
                                 "of it",
                                 kApiTokenPrefix, kTokenRandomChars));
  }
  CG_ASSIGN_OR_RETURN(auto found, store.FindApiKeyByHash(HashApiToken(token)));
  if (!found) {
    return MakeError(ErrorCode::kAuthInvalid,
                     "the API key is not valid: it has the form of a key, but this server did "
                     "not issue it; check that the key is for this server");
  }
  return Principal{std::move(found->first), std::move(found->second)};
}

}  // namespace certgate::api
