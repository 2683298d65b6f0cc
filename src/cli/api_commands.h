// Shared plumbing of the commands that talk to the API: connection flags,
// calling with errors turned into clear messages, printing JSON.
#pragma once

#include <CLI/CLI.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>

#include <optional>
#include <string>

namespace certgate::cli {

struct ApiConnection {
  std::string url;      // --api-url, else $CERTGATE_API_URL, else http://127.0.0.1:4280
  std::string key;      // --api-key, else $CERTGATE_API_KEY
  std::string ca_file;  // --api-ca-file
};

void AddApiOptions(CLI::App* cmd, ApiConnection& conn);

// Sends the request; on a transport failure or an error response prints the
// API's message and throws CommandFailed. Returns the parsed JSON body
// (null for an empty body).
boost::json::value CallApi(const ApiConnection& conn, boost::beast::http::verb method,
                           const std::string& path, std::optional<std::string_view> body);

// Pretty-prints JSON with two-space indentation.
void PrintJson(const boost::json::value& value);
std::string PrettyJson(const boost::json::value& value);

// Percent-encodes a path segment or query value.
std::string UrlEncode(std::string_view s);

}  // namespace certgate::cli
