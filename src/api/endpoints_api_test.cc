#include "api/endpoints_api.h"

#include <gtest/gtest.h>

namespace certgate::api {
namespace {

TEST(EndpointUrlTest, NormalizesHttpsAndTlsUrls) {
  auto a = ParseEndpointUrl("https://App.Example.com");
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->url, "https://app.example.com");
  EXPECT_EQ(a->scheme, "https");
  EXPECT_EQ(a->host, "app.example.com");
  auto b = ParseEndpointUrl("https://app.example.com:443/");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->url, "https://app.example.com");
  auto c = ParseEndpointUrl("tls://db.example.com:443");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->url, "tls://db.example.com:443");
  auto d = ParseEndpointUrl("tls://db.example.com");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->url, "tls://db.example.com:443");
}

TEST(EndpointUrlTest, RefusesWhatTheEdgeCannotServe) {
  for (const char* bad : {"http://app.example.com", "https://app.example.com:8443",
                          "https://*.example.com", "https://app.example.com/path",
                          "https://user@app.example.com", "https://192.0.2.1", "app.example.com",
                          "https://app.example.com?x=1", "ftp://app.example.com"}) {
    auto r = ParseEndpointUrl(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kEndpointUrlInvalid) << bad;
    EXPECT_NE(r.error().message.find(bad), std::string::npos) << r.error().message;
  }
}

// The message quotes the URL on one line: control characters (a newline, an
// escape sequence) as '?', a long URL cut at a character boundary.
TEST(EndpointUrlTest, MessagesQuoteControlCharactersAndCutLongUrls) {
  for (const char* bad : {"tls://app.example.com\nX-Injected: 1", "https://a\rb.example.com",
                          "https://app.example.com\x1b[31m", "https://app\tx.example.com",
                          "\x7f", "tls://app.example.com:443\n"}) {
    auto r = ParseEndpointUrl(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kEndpointUrlInvalid);
    const std::string& m = r.error().message;
    for (char c : m) {
      EXPECT_FALSE(static_cast<unsigned char>(c) < 0x20 || c == 0x7F) << m;
    }
  }
  EXPECT_EQ(ParseEndpointUrl("tls://app.example.com\nX: 1").error().message,
            "url 'tls://app.example.com?X: 1' is not valid: write it as https://host or "
            "tls://host:443");
  // A long URL of two-byte characters is cut between characters.
  std::string long_url = "https://a";  // byte 200 falls inside a character
  for (int i = 0; i < 150; ++i) long_url += "\xc3\xa9";
  auto r = ParseEndpointUrl(long_url);
  ASSERT_FALSE(r.ok());
  const std::string& m = r.error().message;
  const auto start = m.find('\'') + 1;
  const auto end = m.find("...'");
  ASSERT_NE(end, std::string::npos) << m;
  EXPECT_LE(end - start, 200U);
  EXPECT_EQ((end - start - 9) % 2, 0U) << m;  // whole characters after "https://a"
}

TEST(UpstreamUrlTest, MessagesQuoteControlCharacters) {
  auto r = NormalizeUpstream("http://backend\n:80", "https");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kEndpointUpstreamInvalid);
  EXPECT_EQ(r.error().message.find('\n'), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("'http://backend?:80'"), std::string::npos)
      << r.error().message;
}

TEST(UpstreamUrlTest, NormalizesWithAnExplicitPort) {
  EXPECT_EQ(*NormalizeUpstream("http://127.0.0.1", "https"), "http://127.0.0.1:80");
  EXPECT_EQ(*NormalizeUpstream("HTTPS://Backend.local", "https"), "https://backend.local:443");
  EXPECT_EQ(*NormalizeUpstream("http://[::1]:8080/", "https"), "http://[::1]:8080");
  EXPECT_EQ(*NormalizeUpstream("tcp://10.0.0.5:5432", "tls"), "tcp://10.0.0.5:5432");
}

TEST(UpstreamUrlTest, RefusesMismatchedSchemesAndExtras) {
  struct Case {
    const char* upstream;
    const char* endpoint_scheme;
  };
  for (const Case& c : {Case{"tcp://10.0.0.5:5432", "https"}, Case{"http://x:80", "tls"},
                        Case{"tcp://10.0.0.5", "tls"}, Case{"http://x:80/api", "https"},
                        Case{"http://u:p@x:80", "https"}, Case{"nonsense", "https"}}) {
    auto r = NormalizeUpstream(c.upstream, c.endpoint_scheme);
    ASSERT_FALSE(r.ok()) << c.upstream;
    EXPECT_EQ(r.error().code, ErrorCode::kEndpointUpstreamInvalid);
  }
}

}  // namespace
}  // namespace certgate::api
