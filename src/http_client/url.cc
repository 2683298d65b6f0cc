#include "http_client/url.h"

#include <strings.h>

#include <boost/url.hpp>
#include <fmt/format.h>

namespace certgate::http_client {
namespace {

bool IsLoopbackHost(std::string_view host) {
  return host == "127.0.0.1" || host == "::1" ||
         (host.size() == 9 && strncasecmp(host.data(), "localhost", 9) == 0);
}

}  // namespace

Result<HttpUrl> ParseHttpsUrl(std::string_view url, std::string_view what) {
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed || parsed->host().empty() || parsed->has_userinfo()) {
    return MakeError(ErrorCode::kConfigInvalid,
                     fmt::format("{} '{}' is not an absolute http(s) URL with a host", what, url));
  }
  HttpUrl out;
  out.host = parsed->host_address();
  if (parsed->scheme_id() == boost::urls::scheme::https) {
    out.tls = true;
  } else if (parsed->scheme_id() == boost::urls::scheme::http && IsLoopbackHost(out.host)) {
    out.tls = false;
  } else {
    return MakeError(ErrorCode::kConfigInvalid,
                     fmt::format("refusing {} '{}': only https:// URLs are allowed "
                                 "(plain http:// only to 127.0.0.1, ::1 or localhost)",
                                 what, url));
  }
  // Not one conditional expression: GCC 12 then warns falsely (-Wrestrict).
  if (parsed->has_port()) {
    out.port = parsed->port();
  } else {
    out.port = out.tls ? "443" : "80";
  }
  out.target = std::string(parsed->encoded_target());
  if (out.target.empty()) out.target = "/";
  return out;
}

}  // namespace certgate::http_client
