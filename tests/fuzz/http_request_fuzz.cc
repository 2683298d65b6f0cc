// The HTTP/1.1 request head and body framing, parsed by Beast's request
// parser configured as certgate configures it: the API's (string body,
// HttpServerOptions' header and body limits) and the edge's (buffer body,
// streamed without a limit, HttpLimits' header limit). Pipelined requests are
// read one after the other, as both servers do on a kept-alive connection.
#include <boost/beast/core/buffers_prefix.hpp>
#include <boost/beast/http.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "api/http_server.h"
#include "edge/http_proxy.h"
#include "fuzz_util.h"

namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;

// Feeds the bytes to one parser after another until they run out or one
// fails; at most 16 requests per input.
template <class MakeParser, class OnBody>
void ParseAll(std::string_view in, MakeParser make, OnBody on_body) {
  for (int n = 0; n < 16 && !in.empty(); ++n) {
    auto parser = make();
    beast::error_code ec;
    while (!in.empty() && !parser->is_done()) {
      on_body(*parser);
      const size_t used = parser->put(boost::asio::buffer(in.data(), in.size()), ec);
      in.remove_prefix(used);
      if (ec == http::error::need_buffer) {
        ec = {};
        continue;
      }
      if (ec || used == 0) break;
    }
    if (ec == http::error::need_more || (!ec && !parser->is_done())) {
      parser->put_eof(ec);
    }
    if (ec || !parser->is_done()) return;
    // What both servers read from a request head.
    const auto& req = parser->get();
    (void)req.keep_alive();
    (void)req.target();
    (void)req[http::field::host];
    (void)req[http::field::expect];
    (void)req.method();
    (void)req.version();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace certgate;
  const std::string_view in = fuzz::AsText(data, size);

  const api::HttpServerOptions api_options;
  ParseAll(
      in,
      [&] {
        auto p = std::make_unique<http::request_parser<http::string_body>>();
        p->header_limit(static_cast<uint32_t>(api_options.header_limit));
        p->body_limit(api_options.body_limit);
        p->eager(true);
        return p;
      },
      [](auto&) {});

  const edge::HttpLimits edge_limits;
  static char body_buf[4096];
  ParseAll(
      in,
      [&] {
        auto p = std::make_unique<http::request_parser<http::buffer_body>>();
        p->header_limit(static_cast<uint32_t>(edge_limits.header_limit));
        p->body_limit(boost::none);
        return p;
      },
      [](auto& p) {
        p.get().body().data = body_buf;
        p.get().body().size = sizeof body_buf;
      });
  return 0;
}
