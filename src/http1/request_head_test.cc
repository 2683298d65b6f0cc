#include "http1/request_head.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace certgate::http1 {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;

struct Outcome {
  boost::system::error_code ec;
  std::string target;
  std::string body;    // read with the same parser after the head
  std::string left;    // what the buffer holds after the body
};

// Sends raw over a socket pair (then closes the sending side) and reads it
// with ReadRequestHead, then the body.
Outcome Read(const std::string& raw, size_t header_limit = 1024) {
  net::io_context io;
  net::local::stream_protocol::socket a(io), b(io);
  net::local::connect_pair(a, b);
  net::write(b, net::buffer(raw));
  b.shutdown(net::socket_base::shutdown_send);
  Outcome out;
  net::co_spawn(
      io,
      [&]() -> net::awaitable<void> {
        beast::flat_buffer buffer;
        http::request_parser<http::string_body> parser;
        out.ec = co_await ReadRequestHead(a, buffer, parser, header_limit);
        if (out.ec) co_return;
        out.target = std::string(parser.get().target());
        auto [ec, n] = co_await http::async_read(a, buffer, parser,
                                                 net::as_tuple(net::use_awaitable));
        if (ec) {
          out.ec = ec;
          co_return;
        }
        out.body = parser.get().body();
        out.left.assign(static_cast<const char*>(buffer.data().data()), buffer.size());
      },
      net::detached);
  io.run();
  return out;
}

TEST(RequestHeadTest, ReadsAWellFormedRequestAndLeavesTheNextOneInTheBuffer) {
  Outcome o = Read(
      "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
      "GET /b HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_FALSE(o.ec) << o.ec.message();
  EXPECT_EQ(o.target, "/a");
  EXPECT_EQ(o.body, "abc");
  EXPECT_EQ(o.left, "GET /b HTTP/1.1\r\nHost: x\r\n\r\n");
}

TEST(RequestHeadTest, ReadsAChunkedBody) {
  Outcome o = Read(
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
  ASSERT_FALSE(o.ec) << o.ec.message();
  EXPECT_EQ(o.body, "abc");
}

TEST(RequestHeadTest, RefusesEveryTransferEncodingButAFinalLoneChunked) {
  for (const char* te : {"gzip", "chunked, identity", "identity", "gzip, chunked",
                         "chunked, chunked", "", "chunked\r\nTransfer-Encoding: chunked",
                         "gzip\r\nTransfer-Encoding: chunked"}) {
    Outcome o = Read(std::string("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: ") + te +
                     "\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_TRUE(o.ec) << "Transfer-Encoding: " << te << " was accepted";
    EXPECT_NE(o.target, "/smuggled");
  }
}

TEST(RequestHeadTest, RefusesContentLengthWithTransferEncoding) {
  for (const char* head :
       {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"}) {
    EXPECT_TRUE(Read(std::string(head) + "0\r\n\r\n").ec) << head;
  }
}

TEST(RequestHeadTest, RefusesTransferEncodingInHttp10) {
  EXPECT_EQ(Read("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n").ec,
            HeadErrc::kTransferEncodingHttp10);
}

TEST(RequestHeadTest, NeedsExactlyOneHostInHttp11) {
  EXPECT_EQ(Read("GET / HTTP/1.1\r\n\r\n").ec, HeadErrc::kMissingHost);
  EXPECT_EQ(Read("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n").ec, HeadErrc::kMultipleHost);
  EXPECT_FALSE(Read("GET / HTTP/1.0\r\n\r\n").ec) << "HTTP/1.0 needs no Host";
}

TEST(RequestHeadTest, SpeaksOnlyHttp10And11) {
  // Beast refuses these itself; CheckRequestHeader would too.
  for (const char* line : {"GET / HTTP/1.2", "GET / HTTP/2.0", "GET / HTTP/0.9"}) {
    EXPECT_TRUE(Read(std::string(line) + "\r\nHost: a\r\n\r\n").ec) << line;
  }
  http::request_header<> req;
  req.version(12);
  req.set(http::field::host, "a");
  EXPECT_EQ(CheckRequestHeader(req), HeadErrc::kVersion);
  req.version(11);
  EXPECT_FALSE(CheckRequestHeader(req));
}

TEST(RequestHeadTest, RefusesObsFold) {
  EXPECT_EQ(Read("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n").ec, HeadErrc::kObsFold);
  EXPECT_EQ(Read("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\tc\r\n\r\n").ec, HeadErrc::kObsFold);
  EXPECT_FALSE(Read("GET / HTTP/1.1\r\nHost: a\r\nX-A: b c\r\n\r\n").ec);
}

TEST(RequestHeadTest, BoundsTheHead) {
  EXPECT_EQ(Read("GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(2000, 'a') + "\r\n\r\n", 1024).ec,
            http::error::header_limit);
  // Never ends: stopped at the limit, not when the stream ends.
  EXPECT_EQ(Read("GET / HTTP/1.1\r\nX: " + std::string(5000, 'a'), 1024).ec,
            http::error::header_limit);
}

TEST(RequestHeadTest, TellsAnEmptyStreamFromACutHead) {
  EXPECT_EQ(Read("").ec, http::error::end_of_stream);
  EXPECT_EQ(Read("GET / HTTP/1.1\r\nHost").ec, http::error::partial_message);
}

TEST(RequestHeadTest, PassesBeastsOwnParseErrorsOn) {
  EXPECT_TRUE(Read("GET / HTTP/1.1\r\nHost : a\r\n\r\n").ec);
  EXPECT_TRUE(Read("GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\nHost: a\r\n\r\n").ec);
}

}  // namespace
}  // namespace certgate::http1
