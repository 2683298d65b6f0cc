#include "http_client/exchange.h"

#include <optional>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http.hpp>

namespace certgate::http_client {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;

constexpr auto kUseTuple = net::as_tuple(net::use_awaitable);

http::request<http::string_body> BuildRequest(const HttpRequest& request) {
  http::request<http::string_body> req{request.method, request.target, 11};
  for (const auto& [name, value] : request.headers) {
    if (value.empty()) {
      req.erase(name);
    } else {
      req.set(name, value);
    }
  }
  req.body() = request.body;
  req.prepare_payload();
  return req;
}

HttpFailure FailureOf(HttpFailureStage stage, const beast::error_code& ec) {
  return HttpFailure{.stage = stage,
                     .cause = ec.message(),
                     .timed_out = ec == beast::error::timeout};
}

// A parse error (the peer answered, but not with HTTP/1.1), as opposed to the
// connection ending before a whole response arrived.
bool IsParseError(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_target).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message;
}

template <class Stream>
net::awaitable<ExchangeResult> ExchangeOn(Stream& stream, const HttpRequest& request,
                                          SteadyTime deadline) {
  http::request<http::string_body> req = BuildRequest(request);
  beast::get_lowest_layer(stream).expires_at(deadline);
  auto [write_ec, written] = co_await http::async_write(stream, req, kUseTuple);
  if (write_ec) co_return FailureOf(HttpFailureStage::kSend, write_ec);

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(request.limits.head));
  parser.body_limit(request.limits.body);
  if (request.method == http::verb::head) parser.skip(true);
  auto [read_ec, read] = co_await http::async_read(stream, buffer, parser, kUseTuple);
  if (read_ec == http::error::body_limit || read_ec == http::error::header_limit) {
    HttpFailure failure = FailureOf(HttpFailureStage::kResponseTooLarge, read_ec);
    failure.limit =
        read_ec == http::error::body_limit ? request.limits.body : request.limits.head;
    co_return failure;
  }
  if (read_ec && IsParseError(read_ec)) {
    co_return FailureOf(HttpFailureStage::kMalformedResponse, read_ec);
  }
  if (read_ec) co_return FailureOf(HttpFailureStage::kReceive, read_ec);

  auto res = parser.release();
  HttpResponse out;
  out.status = static_cast<int>(res.result_int());
  out.body = std::move(res.body());
  for (const auto& field : res) {
    out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  co_return out;
}

template <class Stream>
ExchangeResult RunExchange(net::io_context& io, Stream& stream, const HttpRequest& request,
                           SteadyTime deadline) {
  std::optional<ExchangeResult> result;
  net::co_spawn(
      io, [&]() -> net::awaitable<void> { result = co_await ExchangeOn(stream, request, deadline); },
      net::detached);
  io.restart();
  io.run();
  if (!result) {
    return HttpFailure{.stage = HttpFailureStage::kSend, .cause = "the exchange did not run"};
  }
  return std::move(*result);
}

}  // namespace

net::awaitable<ExchangeResult> AsyncExchange(beast::tcp_stream& stream, const HttpRequest& request,
                                             SteadyTime deadline) {
  return ExchangeOn(stream, request, deadline);
}

net::awaitable<ExchangeResult> AsyncExchange(TlsStream& stream, const HttpRequest& request,
                                             SteadyTime deadline) {
  return ExchangeOn(stream, request, deadline);
}

ExchangeResult Exchange(net::io_context& io, beast::tcp_stream& stream,
                        const HttpRequest& request, SteadyTime deadline) {
  return RunExchange(io, stream, request, deadline);
}

ExchangeResult Exchange(net::io_context& io, TlsStream& stream, const HttpRequest& request,
                        SteadyTime deadline) {
  return RunExchange(io, stream, request, deadline);
}

}  // namespace certgate::http_client
