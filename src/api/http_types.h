// The HTTP message types the API and its clients share.
#pragma once

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace certgate::api {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

// What the server knows about a request beyond its bytes.
struct RequestContext {
  std::string operation_id;  // op_..., also sent as Ngrok-Operation-Id
  tcp::endpoint remote;
  std::string_view scheme;  // "http" or "https"
};

}  // namespace certgate::api
