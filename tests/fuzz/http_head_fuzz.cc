// The API's and the edge's strict reading of an HTTP/1.1 request head
// (http1::ReadRequestHead: obs-fold, Transfer-Encoding, Host, the header
// limit), over a stream that hands out the input in small reads, then the
// body framing Beast derives from the accepted head, for each request of a
// pipelined input in turn.
#include <boost/asio.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "api/http_server.h"
#include "fuzz_util.h"
#include "http1/request_head.h"

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;

// An Asio read stream over the input: reads of at most `chunk` bytes, then
// end of stream.
class InputStream {
 public:
  using executor_type = net::any_io_executor;
  InputStream(executor_type ex, std::string_view in, size_t chunk)
      : ex_(std::move(ex)), in_(in), chunk_(chunk) {}
  executor_type get_executor() const { return ex_; }

  template <class Buffers, class Token>
  auto async_read_some(const Buffers& buffers, Token&& token) {
    return net::async_initiate<Token, void(boost::system::error_code, size_t)>(
        [this](auto handler, const Buffers& b) {
          boost::system::error_code ec;
          size_t n = 0;
          if (in_.empty()) {
            ec = net::error::eof;
          } else {
            n = net::buffer_copy(b, net::buffer(in_.data(), std::min(in_.size(), chunk_)));
            in_.remove_prefix(n);
          }
          auto ex = net::get_associated_executor(handler, ex_);
          net::post(ex, [h = std::move(handler), ec, n]() mutable { h(ec, n); });
        },
        token, buffers);
  }

 private:
  executor_type ex_;
  std::string_view in_;
  size_t chunk_;
};

net::awaitable<void> ReadAll(InputStream& stream) {
  const certgate::api::HttpServerOptions options;
  beast::flat_buffer buffer;
  for (int n = 0; n < 16; ++n) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<uint32_t>(options.header_limit));
    parser.body_limit(options.body_limit);
    boost::system::error_code ec =
        co_await certgate::http1::ReadRequestHead(stream, buffer, parser, options.header_limit);
    if (ec) co_return;
    FUZZ_CHECK(parser.is_header_done(), "");
    // An accepted head's framing is unambiguous: a body is chunked or has a
    // length, never both, and HTTP/1.1 names its Host.
    const auto& req = parser.get();
    FUZZ_CHECK(!(parser.chunked() && parser.content_length()), "");
    FUZZ_CHECK(req.version() < 11 || req.count(http::field::host) == 1, "");
    auto [bec, bn] = co_await http::async_read(stream, buffer, parser,
                                               net::as_tuple(net::use_awaitable));
    if (bec) co_return;
    (void)req.keep_alive();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return -1;
  net::io_context io;
  // The first byte sets the read size, so heads also arrive split anywhere.
  const size_t chunk = size_t{data[0]} * 64 + 1;
  InputStream stream(io.get_executor(), certgate::fuzz::AsText(data + 1, size - 1), chunk);
  net::co_spawn(io, ReadAll(stream), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
  io.run();
  return 0;
}
