#include "cli/api_commands.h"

#include <fmt/format.h>

#include <cstdlib>

#include "cli/commands.h"
#include "client/api_client.h"

namespace certgate::cli {
namespace {

namespace json = boost::json;

// The length of the UTF-8 sequence starting at text[i] that encodes one
// scalar value (no overlong forms, no surrogates, at most U+10FFFF), or 0.
size_t Utf8SequenceLength(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  size_t len = 0;
  unsigned char min2 = 0x80, max2 = 0xbf;  // the allowed range of the second byte
  if (lead >= 0xc2 && lead <= 0xdf) {
    len = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    len = 3;
    if (lead == 0xe0) min2 = 0xa0;  // overlong
    if (lead == 0xed) max2 = 0x9f;  // surrogates
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    len = 4;
    if (lead == 0xf0) min2 = 0x90;  // overlong
    if (lead == 0xf4) max2 = 0x8f;  // over U+10FFFF
  } else {
    return 0;
  }
  if (i + len > text.size()) return 0;
  if (byte(i + 1) < min2 || byte(i + 1) > max2) return 0;
  for (size_t k = 2; k < len; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xbf) return 0;
  }
  return len;
}

// JSON text as Boost.JSON writes it, with the characters it leaves raw that a
// terminal still acts on (DEL, C1 controls) written as \u escapes.
std::string EscapeRawControls(std::string json_text) {
  std::string out;
  out.reserve(json_text.size());
  for (size_t i = 0; i < json_text.size(); ++i) {
    const auto c = static_cast<unsigned char>(json_text[i]);
    const auto next = i + 1 < json_text.size() ? static_cast<unsigned char>(json_text[i + 1]) : 0;
    if (c == 0x7f) {
      out += "\\u007f";
    } else if (c == 0xc2 && next >= 0x80 && next <= 0x9f) {
      out += fmt::format("\\u{:04x}", next);
      ++i;
    } else {
      out += json_text[i];
    }
  }
  return out;
}

void Pretty(const json::value& v, std::string& out, int indent) {
  auto pad = [&](int n) { out.append(static_cast<size_t>(n) * 2, ' '); };
  switch (v.kind()) {
    case json::kind::object: {
      const auto& o = v.get_object();
      if (o.empty()) {
        out += "{}";
        return;
      }
      out += "{\n";
      size_t i = 0;
      for (const auto& [k, val] : o) {
        pad(indent + 1);
        out += EscapeRawControls(json::serialize(json::string(k)));
        out += ": ";
        Pretty(val, out, indent + 1);
        out += ++i < o.size() ? ",\n" : "\n";
      }
      pad(indent);
      out += "}";
      return;
    }
    case json::kind::array: {
      const auto& a = v.get_array();
      if (a.empty()) {
        out += "[]";
        return;
      }
      out += "[\n";
      for (size_t i = 0; i < a.size(); ++i) {
        pad(indent + 1);
        Pretty(a[i], out, indent + 1);
        out += i + 1 < a.size() ? ",\n" : "\n";
      }
      pad(indent);
      out += "]";
      return;
    }
    default:
      out += EscapeRawControls(json::serialize(v));
  }
}

std::string EnvOr(const char* name, std::string fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : std::move(fallback);
}

}  // namespace

std::string PrettyJson(const json::value& value) {
  std::string out;
  Pretty(value, out, 0);
  return out;
}

void PrintJson(const json::value& value) { fmt::print("{}\n", PrettyJson(value)); }

std::string TerminalSafe(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
      ++i;
    } else if (c < 0x80) {
      out += text[i];
      ++i;
    } else if (size_t len = Utf8SequenceLength(text, i); len == 0) {
      out += fmt::format("\\x{:02x}", c);
      ++i;
    } else if (c == 0xc2 && static_cast<unsigned char>(text[i + 1]) <= 0x9f) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned char>(text[i + 1]));
      i += 2;
    } else {
      out.append(text, i, len);
      i += len;
    }
  }
  return out;
}

size_t DisplayWidth(std::string_view terminal_safe_text) {
  size_t width = 0;
  for (char c : terminal_safe_text) {
    if ((static_cast<unsigned char>(c) & 0xc0) != 0x80) ++width;  // not a continuation byte
  }
  return width;
}

std::string UrlEncode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

void AddApiOptions(CLI::App* cmd, ApiConnection& conn) {
  cmd->add_option("--api-url", conn.url,
                  "The API's base URL (default: $CERTGATE_API_URL, else http://127.0.0.1:4280)");
  cmd->add_option("--api-key", conn.key, "API key (default: $CERTGATE_API_KEY)");
  cmd->add_option("--api-ca-file", conn.ca_file, "CA certificate to trust for an https API URL");
}

json::value CallApi(const ApiConnection& conn, boost::beast::http::verb method,
                    const std::string& path, std::optional<std::string_view> body) {
  std::string url = conn.url.empty() ? EnvOr("CERTGATE_API_URL", "http://127.0.0.1:4280") : conn.url;
  std::string key = conn.key.empty() ? EnvOr("CERTGATE_API_KEY", "") : conn.key;
  if (key.empty()) Die("no API key: pass --api-key or set CERTGATE_API_KEY");
  auto client = client::ApiClient::Create(url, key, client::ClientOptions{conn.ca_file});
  if (!client) Die(TerminalSafe(client.error().message));
  auto res = client->Send(method, path, body);
  if (!res) Die(TerminalSafe(res.error().message));
  json::value parsed;
  if (!res->body.empty()) {
    boost::system::error_code ec;
    parsed = json::parse(res->body, ec);
    if (ec) {
      Die(fmt::format("the API answered {} with a body that is not JSON", res->status));
    }
  }
  if (res->status >= 400) {
    const json::object* o = parsed.if_object();
    const json::value* msg = o != nullptr ? o->if_contains("msg") : nullptr;
    const json::value* code = o != nullptr ? o->if_contains("error_code") : nullptr;
    if (msg != nullptr && msg->is_string()) {
      // The message may quote what the user sent (or what a server that is
      // not certgate put there): never raw to the terminal.
      Die(fmt::format("{} ({}, HTTP {})", TerminalSafe(std::string_view(msg->get_string())),
                      code != nullptr && code->is_string() ? TerminalSafe(std::string_view(code->get_string()))
                                                           : std::string("no code"),
                      res->status));
    }
    Die(fmt::format("the API answered HTTP {}", res->status));
  }
  return parsed;
}

}  // namespace certgate::cli
