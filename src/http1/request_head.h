// Strict reading of an HTTP/1.1 request head (RFC 9112), shared by the API
// and the edge so that neither accepts what the other would frame
// differently. Beast's parser alone tolerates several things that let a
// request be smuggled or misread: a Transfer-Encoding other than a final
// "chunked" (Beast then frames the request as having no body, and its body
// is read as the next request), obs-fold lines (which Beast silently joins),
// HTTP/1.1 without Host, several Host lines.
//
// ReadRequestHead reads the head itself, checks the raw bytes, hands them to
// the parser and checks the parsed header; the caller reads the body with
// the same parser and buffer as usual. Every HeadErrc is a request to
// answer 400 and close the connection (RFC 9112 §6.3, §5.2, §3.2).
//
// Stateless; safe from any thread.
#pragma once

#include <algorithm>
#include <string_view>

#include <boost/asio.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/system/error_code.hpp>

namespace certgate::http1 {

enum class HeadErrc {
  kObsFold = 1,           // a header line continued on the next (obs-fold)
  kTransferEncoding,      // Transfer-Encoding other than exactly "chunked"
  kTransferEncodingHttp10,  // Transfer-Encoding in an HTTP/1.0 request
  kMissingHost,           // HTTP/1.1 without Host
  kMultipleHost,          // more than one Host line
  kVersion,               // neither HTTP/1.0 nor HTTP/1.1
};
const boost::system::error_category& HeadCategory();
inline boost::system::error_code make_error_code(HeadErrc e) {
  return {static_cast<int>(e), HeadCategory()};
}

// True if the raw head (request line, fields, the empty line) holds an
// obs-fold: a line that starts with a space or a tab.
bool HasObsFold(std::string_view raw_head);
// The framing and Host rules above, on a parsed request header; a
// HeadErrc, or no error.
boost::system::error_code CheckRequestHeader(const boost::beast::http::request_header<>& req);

// Reads one request head from stream into parser, through buffer (which may
// already hold bytes, and keeps whatever follows the head). Completes with:
// no error (parser.is_header_done()); a HeadErrc; one of Beast's http::error
// codes as async_read_header gives them (header_limit when the head is
// larger than header_limit, end_of_stream when the stream ended before a
// byte, partial_message when it ended in the head, a parse error); or the
// stream's own error.
template <class Stream, class Body>
boost::asio::awaitable<boost::system::error_code> ReadRequestHead(
    Stream& stream, boost::beast::flat_buffer& buffer,
    boost::beast::http::request_parser<Body>& parser, size_t header_limit) {
  namespace http = boost::beast::http;
  constexpr std::string_view kEnd = "\r\n\r\n";
  size_t searched = 0;  // bytes of buffer known to hold no kEnd
  for (;;) {
    const std::string_view have(static_cast<const char*>(buffer.data().data()), buffer.size());
    const size_t end = have.find(kEnd, searched);
    if (end != std::string_view::npos) {
      const std::string_view head = have.substr(0, end + kEnd.size());
      if (HasObsFold(head)) co_return make_error_code(HeadErrc::kObsFold);
      boost::system::error_code ec;
      const size_t used = parser.put(boost::asio::buffer(head.data(), head.size()), ec);
      if (ec) co_return ec;
      buffer.consume(used);
      if (!parser.is_header_done()) co_return make_error_code(http::error::partial_message);
      co_return CheckRequestHeader(parser.get());
    }
    if (have.size() > header_limit) co_return make_error_code(http::error::header_limit);
    searched = have.size() < kEnd.size() ? 0 : have.size() - (kEnd.size() - 1);
    const size_t want = std::min<size_t>(header_limit + kEnd.size() - have.size(), 16384);
    auto [ec, n] = co_await stream.async_read_some(
        buffer.prepare(std::max<size_t>(want, 1)),
        boost::asio::as_tuple(boost::asio::use_awaitable));
    buffer.commit(n);
    if (ec == boost::asio::error::eof || (!ec && n == 0)) {
      co_return make_error_code(buffer.size() == 0 ? http::error::end_of_stream
                                                   : http::error::partial_message);
    }
    if (ec) co_return ec;
  }
}

}  // namespace certgate::http1

template <>
struct boost::system::is_error_code_enum<certgate::http1::HeadErrc> : std::true_type {};
