#include "core/host_port.h"

#include <gtest/gtest.h>

namespace certgate {
namespace {

TEST(HostPortTest, ParsesTheAcceptedForms) {
  auto a = ParseHostPort("127.0.0.1:4280", "--api-listen");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 4280);
  auto b = ParseHostPort("[::1]:0", "--api-listen");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->port, 0);
  auto c = ParseHostPort(":443", "--https-listen");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->host, "0.0.0.0");
  EXPECT_EQ(FormatHostPort("::1", 5), "[::1]:5");
  EXPECT_EQ(FormatHostPort("10.0.0.1", 5), "10.0.0.1:5");
}

TEST(HostPortTest, RefusesBadAddressesWithTheFlagName) {
  for (const char* bad : {"127.0.0.1", "127.0.0.1:", "127.0.0.1:70000", "::1:80", "[::1]80",
                          "example.com:80", "1.2.3.4:8x"}) {
    auto r = ParseHostPort(bad, "--api-listen");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kConfigInvalid);
    EXPECT_NE(r.error().message.find("--api-listen"), std::string::npos);
  }
}

}  // namespace
}  // namespace certgate
