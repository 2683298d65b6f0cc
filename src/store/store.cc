#include "store/store.h"
#include "store/store_latency.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "store/postgres/pg_store.h"
#include "store/sqlite/sqlite_store.h"

namespace certgate::store {
namespace {

constexpr std::string_view kAcceptedForms =
    "use sqlite:/path/to/certgate.db, sqlite:relative/path.db, "
    "postgresql://user@host/dbname or \"host=/run/postgresql dbname=certgate\"";

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  }
  return true;
}

// The scheme of a URL-looking string, for error messages. Only the scheme:
// the rest of a URL may hold a password.
std::string SchemeOf(std::string_view url) {
  size_t colon = url.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 20) return {};
  for (char c : url.substr(0, colon)) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') {
      return {};
    }
  }
  return std::string(url.substr(0, colon));
}

// libpq's key=value form: "host=/run/postgresql dbname=certgate". Starts
// with a keyword (letters and '_') and '=', possibly after spaces.
bool IsKeyValueConninfo(std::string_view s) {
  size_t i = s.find_first_not_of(' ');
  if (i == std::string_view::npos) return false;
  size_t start = i;
  while (i < s.size() && (std::islower(static_cast<unsigned char>(s[i])) || s[i] == '_')) ++i;
  if (i == start) return false;
  i = s.find_first_not_of(' ', i);
  return i != std::string_view::npos && s[i] == '=';
}

}  // namespace

std::string_view PlanName(Plan plan) {
  switch (plan) {
    case Plan::kFree:
      return "free";
    case Plan::kPayg:
      return "payg";
  }
  return "free";  // unreachable: the switch covers every Plan
}

std::optional<Plan> ParsePlan(std::string_view name) {
  if (name == "free") return Plan::kFree;
  if (name == "payg") return Plan::kPayg;
  return std::nullopt;
}

namespace {

bool IsBindingWord(std::string_view word) {
  if (word.empty() || word.size() > 32) return false;
  return std::all_of(word.begin(), word.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

}  // namespace

Result<std::string> EncodeBindings(const std::vector<std::string>& bindings) {
  std::string out = "[";
  for (const std::string& b : bindings) {
    if (!IsBindingWord(b)) {
      return MakeError(ErrorCode::kEndpointBindingUnsupported,
                       fmt::format("endpoint binding \"{}\" is not a word of lower-case letters, "
                                   "digits, '-' and '_' (1 to 32 bytes)",
                                   b.substr(0, 64)));
    }
    if (out.size() > 1) out += ',';
    out += '"';
    out += b;
    out += '"';
  }
  out += ']';
  return out;
}

std::optional<std::vector<std::string>> DecodeBindings(std::string_view text) {
  if (text.size() < 2 || text.front() != '[' || text.back() != ']') return std::nullopt;
  text = text.substr(1, text.size() - 2);
  std::vector<std::string> out;
  while (!text.empty()) {
    if (!out.empty()) {
      if (text.front() != ',' || text.size() == 1) return std::nullopt;
      text.remove_prefix(1);
    }
    if (text.size() < 2 || text.front() != '"') return std::nullopt;
    const size_t end = text.find('"', 1);
    if (end == std::string_view::npos) return std::nullopt;
    std::string_view word = text.substr(1, end - 1);
    if (!IsBindingWord(word)) return std::nullopt;
    out.emplace_back(word);
    text.remove_prefix(end + 1);
  }
  return out;
}

NameOwnershipAudit* AsNameOwnershipAudit(Store& store) {
  return dynamic_cast<NameOwnershipAudit*>(&store);
}

LatencyReporting* AsLatencyReporting(Store& store) {
  return dynamic_cast<LatencyReporting*>(&store);
}

std::string_view AuthorityName(Authority authority) {
  switch (authority) {
    case Authority::kLetsEncrypt:
      return "letsencrypt";
  }
  return "letsencrypt";  // unreachable: the switch covers every Authority
}

std::optional<Authority> ParseAuthority(std::string_view name) {
  if (name == "letsencrypt") return Authority::kLetsEncrypt;
  return std::nullopt;
}

std::string_view KeyTypeName(KeyType type) {
  switch (type) {
    case KeyType::kEcdsa:
      return "ecdsa";
    case KeyType::kRsa:
      return "rsa";
  }
  return "ecdsa";  // unreachable: the switch covers every KeyType
}

std::optional<KeyType> ParseKeyType(std::string_view name) {
  if (name == "ecdsa") return KeyType::kEcdsa;
  if (name == "rsa") return KeyType::kRsa;
  return std::nullopt;
}

Result<std::unique_ptr<Store>> OpenStore(std::string_view url) {
  if (StartsWithNoCase(url, "sqlite:")) {
    std::string_view path = url.substr(7);
    if (path.starts_with("//")) {
      // URI style "sqlite:///abs/path" names /abs/path; a host ("sqlite://x/y")
      // means nothing for a local file, so refuse rather than guess.
      if (path.size() < 3 || path[2] != '/') {
        return MakeError(
            ErrorCode::kStoreUrlInvalid,
            fmt::format("a sqlite: store URL names a local file, not a host; {}", kAcceptedForms));
      }
      path.remove_prefix(2);
    }
    if (path.empty()) {
      return MakeError(ErrorCode::kStoreUrlInvalid,
                       fmt::format("the sqlite: store URL names no file; {}", kAcceptedForms));
    }
    if (path.find('\0') != std::string_view::npos) {
      return MakeError(ErrorCode::kStoreUrlInvalid, "the sqlite: store URL holds a NUL character");
    }
    CG_ASSIGN_OR_RETURN(std::unique_ptr<Store> store,
                        OpenSqliteStore(std::filesystem::path(std::string(path))));
    return store;
  }
  if (StartsWithNoCase(url, "postgres://") || StartsWithNoCase(url, "postgresql://") ||
      IsKeyValueConninfo(url)) {
    return OpenPostgresStore(url);
  }
  std::string scheme = SchemeOf(url);
  return MakeError(ErrorCode::kStoreUrlInvalid,
                   scheme.empty()
                       ? fmt::format("the store URL is not understood; {}", kAcceptedForms)
                       : fmt::format("store URLs of scheme \"{}\" are not understood; {}", scheme,
                                     kAcceptedForms));
}

Result<EdgeState> EdgeFeed::LoadEdgeState() {
  std::vector<EdgeDomain> domains;
  CG_ASSIGN_OR_RETURN(
      EdgeState state,
      LoadEdgeState([&](std::string_view name, std::optional<std::string_view> certificate_id) {
        EdgeDomain d{std::string(name), std::nullopt};
        if (certificate_id) d.certificate_id = std::string(*certificate_id);
        domains.push_back(std::move(d));
      }));
  state.domains = std::move(domains);
  return state;
}

}  // namespace certgate::store
