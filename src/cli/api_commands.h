// Shared plumbing of the commands that talk to the API: connection flags,
// calling with errors turned into clear messages, printing JSON.
#pragma once

#include <CLI/CLI.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

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

// Pretty-prints JSON with two-space indentation. Control characters in
// strings are JSON escapes (\u001b, also DEL and C1 as \u007f, \u0085), so
// text from the API cannot drive the terminal; the output stays valid JSON.
void PrintJson(const boost::json::value& value);
std::string PrettyJson(const boost::json::value& value);

// Text that came from outside (the API, a file, a server's error message)
// made safe to print on a terminal: C0 controls, ESC and DEL become \xNN
// (ESC as \x1b), C1 controls (U+0080..U+009F, e.g. the 8-bit CSI U+009B)
// become \u00NN, and bytes that are not UTF-8 become \xNN. Printable UTF-8,
// including every non-ASCII letter, is kept as is.
std::string TerminalSafe(std::string_view text);
// Characters (code points) of TerminalSafe output, for aligning columns.
size_t DisplayWidth(std::string_view terminal_safe_text);

// Percent-encodes a path segment or query value.
std::string UrlEncode(std::string_view s);

}  // namespace certgate::cli
