#include "http1/request_head.h"

namespace certgate::http1 {
namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;

// error_category's destructor is protected and non-virtual by design.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class Category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "http1.head"; }
  std::string message(int ev) const override {
    switch (static_cast<HeadErrc>(ev)) {
      case HeadErrc::kObsFold:
        return "a header line starts with a space or tab (a folded header, obs-fold, RFC 9112 "
               "section 5.2); send each header on one line";
      case HeadErrc::kTransferEncoding:
        return "Transfer-Encoding must be exactly 'chunked', on one line and without "
               "Content-Length: no other transfer coding is accepted (RFC 9112 section 6.3)";
      case HeadErrc::kTransferEncodingHttp10:
        return "an HTTP/1.0 request may not use Transfer-Encoding (RFC 9112 section 6.1)";
      case HeadErrc::kMissingHost:
        return "an HTTP/1.1 request needs a Host header (RFC 9112 section 3.2)";
      case HeadErrc::kMultipleHost:
        return "the request has more than one Host header";
      case HeadErrc::kVersion:
        return "only HTTP/1.1 and HTTP/1.0 are spoken here; send HTTP/1.1";
    }
    return "malformed request head";
  }
};
#pragma GCC diagnostic pop

}  // namespace

const boost::system::error_category& HeadCategory() {
  static const Category category;
  return category;
}

bool HasObsFold(std::string_view raw_head) {
  // Every line after the request line starts right after a "\n"; the
  // parser refuses bare LF elsewhere, so "\n" followed by SP or HTAB is
  // exactly a continuation line.
  for (size_t at = raw_head.find('\n'); at != std::string_view::npos && at + 1 < raw_head.size();
       at = raw_head.find('\n', at + 1)) {
    const char next = raw_head[at + 1];
    if (next == ' ' || next == '\t') return true;
  }
  return false;
}

boost::system::error_code CheckRequestHeader(const http::request_header<>& req) {
  if (req.version() != 10 && req.version() != 11) return HeadErrc::kVersion;
  size_t hosts = 0;
  size_t codings = 0;
  for (const auto& field : req) {
    if (field.name() == http::field::host) ++hosts;
    if (field.name() != http::field::transfer_encoding) continue;
    // Every coding on every Transfer-Encoding line counts: only one,
    // "chunked", is understood, and the parser frames by the last one.
    for (auto token : http::token_list(field.value())) {
      ++codings;
      if (!beast::iequals(token, "chunked")) return HeadErrc::kTransferEncoding;
    }
    if (field.value().find_first_not_of(" \t") == std::string_view::npos) {
      return HeadErrc::kTransferEncoding;  // an empty Transfer-Encoding
    }
  }
  if (codings > 0 && req.version() < 11) return HeadErrc::kTransferEncodingHttp10;
  if (codings > 1) return HeadErrc::kTransferEncoding;  // "chunked, chunked"
  if (hosts > 1) return HeadErrc::kMultipleHost;
  if (hosts == 0 && req.version() >= 11) return HeadErrc::kMissingHost;
  return {};
}

}  // namespace certgate::http1
