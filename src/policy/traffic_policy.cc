#include "policy/traffic_policy.h"

#include <algorithm>
#include <array>
#include <istream>
#include <new>
#include <optional>
#include <set>
#include <streambuf>
#include <utility>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "core/secret_bytes.h"
#include "core/wiping_json.h"
#include "pki/certificate.h"

namespace certgate::policy {
namespace {

namespace json = boost::json;

constexpr std::string_view kTerminateTls = "terminate-tls";
constexpr std::string_view kPhase = "on_tcp_connect";
constexpr size_t kMaxAlpnProtocols = 16;
constexpr size_t kMaxAlpnBytes = 255;
// How much of a user's value a message quotes.
constexpr size_t kQuoteBytes = 60;

constexpr std::string_view kConfigFields =
    "server_certificate, server_private_key, min_version, max_version, "
    "mutual_tls_certificate_authorities, mutual_tls_verification_strategy, alpn_protocols";

Error Invalid(std::string message) {
  return MakeError(ErrorCode::kPolicyInvalid, std::move(message));
}

// A user's value as a message shows it: short, one line. Never used on the
// private key.
std::string Quote(std::string_view value) {
  bool cut = false;
  if (value.size() > kQuoteBytes) {
    size_t end = kQuoteBytes;
    while (end > 0 && (static_cast<unsigned char>(value[end]) & 0xC0) == 0x80) --end;
    value = value.substr(0, end);
    cut = true;
  }
  std::string out;
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    out.push_back(u < 0x20 || u == 0x7F ? '?' : c);
  }
  if (cut) out += "...";
  return out;
}

std::string_view KindOf(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a string";
    case YAML::NodeType::Null:
      return "null";
    case YAML::NodeType::Undefined:
      break;
  }
  return "undefined";
}

// Reads a string_view as a std::istream without copying it, so that no copy
// of the text (which may hold a private key) is left in memory we cannot wipe.
// Read-only: the get area is never written through.
class ViewStreamBuf : public std::streambuf {
 public:
  explicit ViewStreamBuf(std::string_view text) {
    char* begin = const_cast<char*>(text.data());
    setg(begin, begin, begin + text.size());
  }
};

// Wipes the private key of a policy being built unless it is handed out.
class KeyWiper {
 public:
  explicit KeyWiper(TrafficPolicy& policy) : policy_(&policy) {}
  ~KeyWiper() {
    if (policy_ == nullptr || !policy_->terminate_tls) return;
    auto& key = policy_->terminate_tls->server_private_key;
    if (key) Wipe(key->data(), key->size());
  }
  void Release() { policy_ = nullptr; }
  KeyWiper(const KeyWiper&) = delete;
  KeyWiper& operator=(const KeyWiper&) = delete;

 private:
  TrafficPolicy* policy_;
};

struct Entry {
  std::string key;
  YAML::Node value;
};

// Walks the document. yaml-cpp copies the text into its own scanner buffers
// and nodes, which we cannot wipe: the private key lingers there until the
// nodes are freed. Everything this code copies the key into is wiped.
class Parser {
 public:
  Result<TrafficPolicy> Parse(const YAML::Node& root) {
    TrafficPolicy policy;
    KeyWiper wiper(policy);
    // A document of only comments (or "null"/"~") is as empty as empty text.
    if (root.IsNull()) {
      wiper.Release();
      return policy;
    }
    if (!root.IsMap()) {
      return Invalid(
          fmt::format("the traffic policy must be a mapping with on_tcp_connect at its "
                      "top level, not {}",
                      KindOf(root)));
    }
    CG_ASSIGN_OR_RETURN(auto entries, Entries(root, ""));
    for (const auto& e : entries) {
      if (e.key == kPhase) {
        CG_RETURN_IF_ERROR(Phase(e.value, policy));
      } else if (e.key == "on_http_request" || e.key == "on_http_response") {
        return MakeError(ErrorCode::kPolicyUnknownAction,
                         fmt::format("{} is not supported: certgate supports only terminate-tls "
                                     "in on_tcp_connect",
                                     e.key));
      } else {
        return MakeError(ErrorCode::kPolicyUnknownField,
                         fmt::format("'{}' is not a traffic policy phase certgate knows: the only "
                                     "one supported is on_tcp_connect (with terminate-tls)",
                                     Quote(e.key)));
      }
    }
    wiper.Release();
    return policy;
  }

 private:
  // The entries of a mapping, with its keys checked to be unique strings.
  Result<std::vector<Entry>> Entries(const YAML::Node& map, const std::string& path) {
    std::vector<Entry> out;
    std::set<std::string, std::less<>> seen;
    std::string_view where = path.empty() ? std::string_view("the top level") : path;
    for (const auto& kv : map) {
      if (!kv.first.IsScalar()) {
        return Invalid(
            fmt::format("{} has a key that is {}; keys must be strings", where, KindOf(kv.first)));
      }
      const std::string& key = kv.first.Scalar();
      if (!seen.insert(key).second) {
        return Invalid(fmt::format("{} has the key '{}' twice", where, Quote(key)));
      }
      out.push_back(Entry{key, kv.second});
    }
    return out;
  }

  static std::string Join(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : fmt::format("{}.{}", path, key);
  }

  // The node's string, nullptr for null (an absent value).
  static Result<const std::string*> String(const YAML::Node& node, const std::string& path) {
    if (node.IsNull()) return static_cast<const std::string*>(nullptr);
    if (!node.IsScalar()) {
      return Invalid(fmt::format("{} must be a string, not {}", path, KindOf(node)));
    }
    return &node.Scalar();
  }

  // True for a list, false for null (an absent list).
  static Result<bool> List(const YAML::Node& node, const std::string& path) {
    if (node.IsNull()) return false;
    if (!node.IsSequence()) {
      return Invalid(fmt::format("{} must be a list, not {}", path, KindOf(node)));
    }
    return true;
  }

  static Result<void> Mapping(const YAML::Node& node, const std::string& path,
                              std::string_view what) {
    if (!node.IsMap()) {
      return Invalid(fmt::format("{} must be a mapping ({}), not {}", path, what, KindOf(node)));
    }
    return {};
  }

  // Counts bytes copied out of the document. YAML aliases let a small text
  // name one large string many times; this bounds what they can expand to.
  Result<void> Charge(size_t bytes, const std::string& path) {
    copied_ += bytes;
    if (copied_ > kMaxPolicyBytes) {
      return Invalid(
          fmt::format("{}: the traffic policy expands (through YAML aliases) to more "
                      "than {} bytes",
                      path, kMaxPolicyBytes));
    }
    return {};
  }

  Result<void> Phase(const YAML::Node& rules, TrafficPolicy& policy) {
    const std::string path(kPhase);
    CG_ASSIGN_OR_RETURN(bool present, List(rules, path));
    if (!present) return {};
    size_t i = 0;
    for (const YAML::Node& rule : rules) {
      CG_RETURN_IF_ERROR(Rule(rule, fmt::format("{}[{}]", path, i++), policy));
    }
    return {};
  }

  Result<void> Rule(const YAML::Node& rule, const std::string& path, TrafficPolicy& policy) {
    CG_RETURN_IF_ERROR(Mapping(rule, path, "a rule with name, expressions and actions"));
    CG_ASSIGN_OR_RETURN(auto entries, Entries(rule, path));
    YAML::Node actions;
    std::string actions_path;
    for (const auto& e : entries) {
      std::string field = Join(path, e.key);
      if (e.key == "name") {
        CG_ASSIGN_OR_RETURN([[maybe_unused]] const std::string* name, String(e.value, field));
      } else if (e.key == "expressions") {
        CG_ASSIGN_OR_RETURN(bool present, List(e.value, field));
        if (present && e.value.size() > 0) {
          return Invalid(
              fmt::format("{} are not supported: certgate runs a rule's actions on "
                          "every connection; remove the expressions",
                          field));
        }
      } else if (e.key == "actions") {
        actions = e.value;
        actions_path = std::move(field);
      } else {
        return MakeError(ErrorCode::kPolicyUnknownField,
                         fmt::format("{} is not a field of a rule: a rule has name, expressions "
                                     "and actions",
                                     Join(path, Quote(e.key))));
      }
    }
    if (!actions.IsDefined()) return {};
    CG_ASSIGN_OR_RETURN(bool present, List(actions, actions_path));
    if (!present) return {};
    size_t i = 0;
    for (const YAML::Node& action : actions) {
      CG_RETURN_IF_ERROR(Action(action, fmt::format("{}[{}]", actions_path, i++), policy));
    }
    return {};
  }

  Result<void> Action(const YAML::Node& action, const std::string& path, TrafficPolicy& policy) {
    CG_RETURN_IF_ERROR(Mapping(action, path, "an action with type and config"));
    CG_ASSIGN_OR_RETURN(auto entries, Entries(action, path));
    const std::string* type = nullptr;
    YAML::Node config;
    for (const auto& e : entries) {
      std::string field = Join(path, e.key);
      if (e.key == "type") {
        CG_ASSIGN_OR_RETURN(type, String(e.value, field));
      } else if (e.key == "config") {
        config = e.value;
      } else {
        return MakeError(ErrorCode::kPolicyUnknownField,
                         fmt::format("{} is not a field of an action: an action has type and "
                                     "config",
                                     Join(path, Quote(e.key))));
      }
    }
    if (type == nullptr) {
      return Invalid(
          fmt::format("{} has no type; the supported action is type: terminate-tls", path));
    }
    if (*type != kTerminateTls) {
      return MakeError(ErrorCode::kPolicyUnknownAction,
                       fmt::format("{}.type '{}' is not supported: certgate supports only "
                                   "terminate-tls in on_tcp_connect",
                                   path, Quote(*type)));
    }
    if (policy.terminate_tls) {
      return Invalid(
          fmt::format("{}: terminate-tls may appear only once in a policy, and it "
                      "already appears at {}",
                      path, first_terminate_));
    }
    first_terminate_ = path;
    policy.terminate_tls.emplace();
    if (!config.IsDefined() || config.IsNull()) return {};
    return Config(config, Join(path, "config"), *policy.terminate_tls);
  }

  Result<void> Config(const YAML::Node& config, const std::string& path, TerminateTls& out) {
    CG_RETURN_IF_ERROR(Mapping(config, path, "the settings of terminate-tls"));
    CG_ASSIGN_OR_RETURN(auto entries, Entries(config, path));
    for (const auto& e : entries) {
      std::string field = Join(path, e.key);
      if (e.key == "server_certificate" || e.key == "server_private_key") {
        CG_ASSIGN_OR_RETURN(const std::string* pem, String(e.value, field));
        if (pem == nullptr) continue;
        if (pem->empty()) return Invalid(fmt::format("{} is empty", field));
        CG_RETURN_IF_ERROR(Charge(pem->size(), field));
        // Assigned straight from the node: one allocation, no temporaries.
        (e.key == "server_certificate" ? out.server_certificate : out.server_private_key)
            .emplace(*pem);
      } else if (e.key == "min_version" || e.key == "max_version") {
        CG_ASSIGN_OR_RETURN(const std::string* text, String(e.value, field));
        if (text == nullptr) continue;
        TlsVersion v;
        if (*text == "1.2") {
          v = TlsVersion::k12;
        } else if (*text == "1.3") {
          v = TlsVersion::k13;
        } else {
          return Invalid(
              fmt::format("{} '{}' is not a TLS version certgate supports: use \"1.2\" "
                          "or \"1.3\"",
                          field, Quote(*text)));
        }
        (e.key == "min_version" ? out.min_version : out.max_version) = v;
      } else if (e.key == "mutual_tls_certificate_authorities") {
        CG_ASSIGN_OR_RETURN(bool present, List(e.value, field));
        if (!present) continue;
        size_t i = 0;
        for (const YAML::Node& entry : e.value) {
          std::string item = fmt::format("{}[{}]", field, i++);
          CG_ASSIGN_OR_RETURN(const std::string* pem, String(entry, item));
          if (pem == nullptr) return Invalid(fmt::format("{} must be a string, not null", item));
          CG_RETURN_IF_ERROR(Charge(pem->size(), item));
          CG_RETURN_IF_ERROR(CheckCaCertificate(*pem, item));
          out.mutual_tls_certificate_authorities.push_back(*pem);
        }
      } else if (e.key == "mutual_tls_verification_strategy") {
        CG_ASSIGN_OR_RETURN(const std::string* text, String(e.value, field));
        if (text == nullptr) continue;
        if (*text == "require-and-verify") {
          out.mutual_tls_verification_strategy = VerifyStrategy::kRequireAndVerify;
        } else if (*text == "require-any") {
          out.mutual_tls_verification_strategy = VerifyStrategy::kRequireAny;
        } else if (*text == "request") {
          out.mutual_tls_verification_strategy = VerifyStrategy::kRequest;
        } else {
          return Invalid(
              fmt::format("{} '{}' is not a strategy certgate knows: use "
                          "require-and-verify, require-any or request",
                          field, Quote(*text)));
        }
      } else if (e.key == "alpn_protocols") {
        CG_ASSIGN_OR_RETURN(bool present, List(e.value, field));
        if (!present) continue;
        if (e.value.size() > kMaxAlpnProtocols) {
          return Invalid(fmt::format("{} has {} entries; at most {} are allowed", field,
                                     e.value.size(), kMaxAlpnProtocols));
        }
        size_t i = 0;
        for (const YAML::Node& entry : e.value) {
          std::string item = fmt::format("{}[{}]", field, i++);
          CG_ASSIGN_OR_RETURN(const std::string* proto, String(entry, item));
          if (proto == nullptr) return Invalid(fmt::format("{} must be a string, not null", item));
          if (proto->empty() || proto->size() > kMaxAlpnBytes) {
            return Invalid(fmt::format("{} is {} bytes long; an ALPN protocol id is 1 to {} bytes",
                                       item, proto->size(), kMaxAlpnBytes));
          }
          out.alpn_protocols.push_back(*proto);
        }
      } else {
        return MakeError(ErrorCode::kPolicyUnknownField,
                         fmt::format("{} is not a terminate-tls setting certgate knows; the "
                                     "settings are {}",
                                     Join(path, Quote(e.key)), kConfigFields));
      }
    }
    if (out.server_certificate.has_value() != out.server_private_key.has_value()) {
      return Invalid(
          fmt::format("{}: server_certificate and server_private_key go together, but "
                      "{} is missing",
                      path, out.server_certificate ? "server_private_key" : "server_certificate"));
    }
    if (out.min_version == TlsVersion::k13 && out.max_version == TlsVersion::k12) {
      return Invalid(fmt::format("{}.min_version 1.3 is above max_version 1.2", path));
    }
    return {};
  }

  // One PEM CERTIFICATE block, without headers, that parses as X.509.
  static Result<void> CheckCaCertificate(std::string_view pem, const std::string& path) {
    auto cert = pki::ParseOneCertificatePem(pem, path);
    if (!cert) return Invalid(cert.error().message);
    return {};
  }

  std::string first_terminate_;
  size_t copied_ = 0;
};

// Serializes without ever growing the output: a first pass measures, the
// second writes into storage reserved once. A growing std::string would leave
// pieces of the private key behind in freed memory.
std::string SerializeOnce(const json::value& value) {
  std::array<char, 4096> buf{};
  json::serializer sr;
  sr.reset(&value);
  size_t total = 0;
  while (!sr.done()) total += sr.read(buf.data(), buf.size()).size();
  std::string out;
  out.reserve(total);
  sr.reset(&value);
  while (!sr.done()) out.append(sr.read(buf.data(), buf.size()));
  Wipe(buf.data(), buf.size());
  return out;
}

}  // namespace

std::string_view TlsVersionName(TlsVersion v) {
  switch (v) {
    case TlsVersion::k12:
      return "1.2";
    case TlsVersion::k13:
      return "1.3";
  }
  return "1.2";
}

std::string_view VerifyStrategyName(VerifyStrategy v) {
  switch (v) {
    case VerifyStrategy::kRequireAndVerify:
      return "require-and-verify";
    case VerifyStrategy::kRequireAny:
      return "require-any";
    case VerifyStrategy::kRequest:
      return "request";
  }
  return "require-and-verify";
}

namespace {

// A YAML event handler that drops every event: for counting documents.
class IgnoreEvents : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

}  // namespace

namespace {

constexpr std::string_view kPrivateKeyField = "server_private_key";
// What every PEM private key's label says ("PRIVATE KEY", "EC PRIVATE KEY",
// "RSA PRIVATE KEY"): shown text never holds it.
constexpr std::string_view kKeyWords = "PRIVATE KEY";
// Shown YAML is given up (for the normalized JSON) beyond this: aliases can
// make a small text name one large string many times.
constexpr size_t kMaxShownBytes = 2 * kMaxPolicyBytes;

bool SaysPrivateKey(std::string_view text) {
  return text.find(kKeyWords) != std::string_view::npos;
}

// JSON text without any terminate-tls config's server_private_key, as
// compact JSON; nullopt if the text is not a JSON object.
std::optional<std::string> ShownJson(std::string_view text) {
  json::storage_ptr sp = MakeWipingJsonStorage();
  json::parse_options opts;
  opts.max_depth = 64;
  boost::system::error_code ec;
  json::value root = json::parse(text, ec, sp, opts);
  if (ec || !root.is_object()) return std::nullopt;
  auto for_each_object = [](json::value* list, auto&& f) {
    if (list == nullptr || !list->is_array()) return;
    for (json::value& item : list->as_array()) {
      if (item.is_object()) f(item.as_object());
    }
  };
  for_each_object(root.as_object().if_contains(kPhase), [&](json::object& rule) {
    for_each_object(rule.if_contains("actions"), [&](json::object& action) {
      json::value* config = action.if_contains("config");
      if (config == nullptr || !config->is_object()) return;
      json::value* key = config->as_object().if_contains(kPrivateKeyField);
      if (key == nullptr) return;
      if (key->is_string()) Wipe(key->as_string().data(), key->as_string().size());
      config->as_object().erase(kPrivateKeyField);
    });
  });
  return json::serialize(root);
}

// A multi-line string that yaml-cpp's literal block style (`|`) writes so
// that it reads back the same: one final line break, printable ASCII, no
// leading space or line break.
bool LiteralSafe(std::string_view s) {
  if (s.empty() || s.back() != '\n' || s.ends_with("\n\n") || s.front() == ' ' ||
      s.front() == '\n') {
    return false;
  }
  return std::all_of(s.begin(), s.end(), [](char c) {
    return c == '\n' || (static_cast<unsigned char>(c) >= 0x20 && c != 0x7F &&
                         static_cast<unsigned char>(c) < 0x80);
  });
}

// The document as block-style YAML without any mapping entry named
// server_private_key (only terminate-tls configs may have one). Strings that
// were quoted stay quoted, so that "1.3" stays a string; multi-line strings
// (PEM) are literal blocks where that reads back the same.
class ShownYaml {
 public:
  std::optional<std::string> Write(const YAML::Node& root) {
    Node(root);
    if (over_ || !out_.good()) return std::nullopt;
    return std::string(out_.c_str(), out_.size());
  }

 private:
  void Node(const YAML::Node& n) {
    if (over_ || out_.size() > kMaxShownBytes) {
      over_ = true;
      return;
    }
    switch (n.Type()) {
      case YAML::NodeType::Map:
        if (n.size() == 0) out_ << YAML::Flow;  // {}
        out_ << YAML::BeginMap;
        for (const auto& kv : n) {
          if (kv.first.IsScalar() && kv.first.Scalar() == kPrivateKeyField) continue;
          out_ << YAML::Key;
          Node(kv.first);
          out_ << YAML::Value;
          Node(kv.second);
        }
        out_ << YAML::EndMap;
        return;
      case YAML::NodeType::Sequence:
        if (n.size() == 0) out_ << YAML::Flow;  // []
        out_ << YAML::BeginSeq;
        for (const YAML::Node& item : n) Node(item);
        out_ << YAML::EndSeq;
        return;
      case YAML::NodeType::Scalar: {
        const std::string& value = n.Scalar();
        if (value.find('\n') != std::string::npos) {
          if (LiteralSafe(value)) {
            // `|` keeps one final line break of its own.
            out_ << YAML::Literal << value.substr(0, value.size() - 1);
          } else {
            out_ << YAML::DoubleQuoted << value;
          }
        } else if (n.Tag() == "!") {  // quoted in the text
          out_ << YAML::DoubleQuoted << value;
        } else {
          out_ << value;
        }
        return;
      }
      case YAML::NodeType::Null:
      case YAML::NodeType::Undefined:
        out_ << YAML::Null;
        return;
    }
  }

  YAML::Emitter out_;
  bool over_ = false;
};

// The text to show for a parsed policy (see PolicyWithText::text). root is
// the parsed document, or null for a text without one.
std::string ShownText(std::string_view text, const YAML::Node* root, const TrafficPolicy& policy) {
  const bool has_key = policy.terminate_tls && policy.terminate_tls->server_private_key;
  if (!has_key && !SaysPrivateKey(text)) return std::string(text);
  std::optional<std::string> shown;
  const size_t start = text.find_first_not_of(" \t\r\n");
  if (start != std::string_view::npos && text[start] == '{') shown = ShownJson(text);
  if (!shown && root != nullptr) shown = ShownYaml().Write(*root);
  if (shown && !SaysPrivateKey(*shown)) return std::move(*shown);
  return policy.terminate_tls ? TrafficPolicyToJson(policy, false) : std::string();
}

// ParseTrafficPolicy, and with shown != nullptr the text to show.
Result<TrafficPolicy> Parse(std::string_view text, std::string* shown) {
  if (text.size() > kMaxPolicyBytes) {
    return Invalid(fmt::format("the traffic policy is {} bytes; at most {} are allowed",
                               text.size(), kMaxPolicyBytes));
  }
  if (std::all_of(text.begin(), text.end(),
                  [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; })) {
    if (shown != nullptr) *shown = std::string(text);
    return TrafficPolicy{};
  }
  try {
    // The documents are counted with a bound, not by YAML::LoadAll: on some
    // invalid text (",") yaml-cpp 0.7's parser reports a null document at the
    // same place forever, and LoadAll collects them until memory runs out
    // (fixed upstream by jbeder/yaml-cpp#1319, after Debian 12's version).
    constexpr size_t kMaxDocuments = 16;
    ViewStreamBuf count_buf(text);
    std::istream count_in(&count_buf);
    YAML::Parser counter(count_in);
    IgnoreEvents ignore;
    size_t docs = 0;
    while (docs <= kMaxDocuments && counter.HandleNextDocument(ignore)) ++docs;
    if (docs == 0) {
      if (shown != nullptr) *shown = ShownText(text, nullptr, TrafficPolicy{});
      return TrafficPolicy{};
    }
    if (docs > kMaxDocuments) {
      return Invalid(fmt::format("the traffic policy holds more than {} YAML documents or is "
                                 "not valid YAML; give exactly one document",
                                 kMaxDocuments));
    }
    if (docs > 1) {
      return Invalid(
          fmt::format("the traffic policy holds {} YAML documents; give exactly one", docs));
    }
    ViewStreamBuf buf(text);
    std::istream in(&buf);
    const YAML::Node root = YAML::Load(in);
    CG_ASSIGN_OR_RETURN(TrafficPolicy policy, Parser().Parse(root));
    if (shown != nullptr) {
      KeyWiper wiper(policy);  // if showing throws
      *shown = ShownText(text, &root, policy);
      wiper.Release();
    }
    return policy;
  } catch (const YAML::DeepRecursion& e) {
    return Invalid(fmt::format("the traffic policy is nested too deeply (line {}, column {})",
                               e.mark.line + 1, e.mark.column + 1));
  } catch (const YAML::Exception& e) {
    if (e.mark.is_null()) {
      return Invalid(
          fmt::format("the traffic policy is not valid YAML or JSON: {}", Quote(e.msg)));
    }
    return Invalid(
        fmt::format("the traffic policy is not valid YAML or JSON: {} (line {}, "
                    "column {})",
                    Quote(e.msg), e.mark.line + 1, e.mark.column + 1));
  }
}

}  // namespace

Result<TrafficPolicy> ParseTrafficPolicy(std::string_view text) { return Parse(text, nullptr); }

Result<PolicyWithText> ParseTrafficPolicyWithText(std::string_view text) {
  PolicyWithText out;
  CG_ASSIGN_OR_RETURN(out.policy, Parse(text, &out.text));
  return out;
}

std::string TrafficPolicyToJson(const TrafficPolicy& policy, bool include_private_key) {
  json::object root;
  if (!policy.terminate_tls) return SerializeOnce(root);
  const TerminateTls& t = *policy.terminate_tls;

  json::object config;
  if (t.server_certificate) {
    config.emplace("server_certificate", std::string_view(*t.server_certificate));
  } else {
    config.emplace("server_certificate", nullptr);
  }
  if (include_private_key) {
    if (t.server_private_key) {
      config.emplace("server_private_key", std::string_view(*t.server_private_key));
    } else {
      config.emplace("server_private_key", nullptr);
    }
  }
  config.emplace("min_version", TlsVersionName(t.min_version));
  config.emplace("max_version", TlsVersionName(t.max_version));
  json::array cas;
  for (const auto& ca : t.mutual_tls_certificate_authorities) cas.emplace_back(ca);
  config.emplace("mutual_tls_certificate_authorities", std::move(cas));
  config.emplace("mutual_tls_verification_strategy",
                 VerifyStrategyName(t.mutual_tls_verification_strategy));
  json::array alpn;
  for (const auto& p : t.alpn_protocols) alpn.emplace_back(p);
  config.emplace("alpn_protocols", std::move(alpn));

  json::object action;
  action.emplace("type", kTerminateTls);
  action.emplace("config", std::move(config));
  json::array actions;
  actions.emplace_back(std::move(action));
  json::object rule;
  rule.emplace("actions", std::move(actions));
  json::array rules;
  rules.emplace_back(std::move(rule));
  root.emplace(kPhase, std::move(rules));

  std::string out = SerializeOnce(root);
  // The only copy of the key this function made, besides `out`.
  json::object& written = root.at(kPhase)
                              .as_array()
                              .at(0)
                              .as_object()
                              .at("actions")
                              .as_array()
                              .at(0)
                              .as_object()
                              .at("config")
                              .as_object();
  if (json::value* key = written.if_contains("server_private_key"); key && key->is_string()) {
    Wipe(key->as_string().data(), key->as_string().size());
  }
  return out;
}

}  // namespace certgate::policy
