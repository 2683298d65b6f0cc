#include "cli/api_commands.h"

#include <fmt/format.h>

#include <cstdlib>

#include "cli/commands.h"
#include "client/api_client.h"

namespace certgate::cli {
namespace {

namespace json = boost::json;

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
        out += json::serialize(json::string(k));
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
      out += json::serialize(v);
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
  if (!client) Die(client.error());
  auto res = client->Send(method, path, body);
  if (!res) Die(res.error());
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
      Die(fmt::format("{} ({}, HTTP {})", std::string_view(msg->get_string()),
                      code != nullptr && code->is_string() ? std::string_view(code->get_string())
                                                           : std::string_view("no code"),
                      res->status));
    }
    Die(fmt::format("the API answered HTTP {}", res->status));
  }
  return parsed;
}

}  // namespace certgate::cli
