#include "names/domain_name.h"

#include <set>
#include <string>

#include <gtest/gtest.h>

namespace certgate::names {
namespace {

struct GoodCase {
  std::string input;
  std::string want;
};

TEST(NormalizeDomainTest, AcceptsAndNormalizesGoodNames) {
  const std::string label63(63, 'a');
  // 63 + 1 + 63 + 1 + 63 + 1 + 57 + 4 = 253 bytes: the longest allowed.
  const std::string longest =
      label63 + "." + label63 + "." + label63 + "." + std::string(57, 'b') + ".com";
  ASSERT_EQ(longest.size(), 253u);
  const GoodCase cases[] = {
      {"example.com", "example.com"},
      {"app.example.com", "app.example.com"},
      {"a.b.c.d.example.com", "a.b.c.d.example.com"},
      {"EXAMPLE.COM", "example.com"},
      {"App.Example.Com", "app.example.com"},
      {"example.com.", "example.com"},
      {"APP.EXAMPLE.COM.", "app.example.com"},
      {"a-b.example.com", "a-b.example.com"},
      {"a--b.example.com", "a--b.example.com"},
      {"123.example.com", "123.example.com"},
      {"0.example.com", "0.example.com"},
      {"x.io", "x.io"},
      {"example.co.uk", "example.co.uk"},
      {"www.co.uk", "www.co.uk"},
      {"me.github.io", "me.github.io"},
      {"city.kawasaki.jp", "city.kawasaki.jp"},  // an exception rule of *.kawasaki.jp
      {"bücher.example", "xn--bcher-kva.example"},
      {"BÜCHER.example", "xn--bcher-kva.example"},
      {"xn--bcher-kva.example", "xn--bcher-kva.example"},
      {"XN--BCHER-KVA.EXAMPLE", "xn--bcher-kva.example"},
      {"straße.de", "xn--strae-oqa.de"},    // nontransitional: ß is kept, not "ss"
      {"ＡＢＣ.com", "abc.com"},            // full-width letters map to ASCII
      {"a。example.com", "a.example.com"},  // ideographic full stop is a dot
      {"münchen.example.com.", "xn--mnchen-3ya.example.com"},
      {"例え.テスト.jp", "xn--r8jz45g.xn--zckzah.jp"},
      {"*.example.com", "*.example.com"},
      {"*.EXAMPLE.COM.", "*.example.com"},
      {"*.ÉXAMPLE.com", "*.xn--xample-9ua.com"},
      {"*.example.co.uk", "*.example.co.uk"},
      {"*.app.example.com", "*.app.example.com"},
      {"*.me.github.io", "*.me.github.io"},
      {label63 + ".com", label63 + ".com"},
      {longest, longest},
      {longest + ".", longest},
  };
  for (const auto& c : cases) {
    auto r = NormalizeDomain(c.input);
    ASSERT_TRUE(r.ok()) << c.input << ": " << r.error().message;
    EXPECT_EQ(*r, c.want) << c.input;
    // Normalizing is idempotent.
    auto again = NormalizeDomain(*r);
    ASSERT_TRUE(again.ok()) << *r << ": " << again.error().message;
    EXPECT_EQ(*again, *r);
  }
}

struct BadCase {
  std::string input;
  ErrorCode code;
  std::string says;  // a fragment the message must contain
};

TEST(NormalizeDomainTest, RefusesBadNamesWithTheRuleTheyBreak) {
  const std::string label63(63, 'a');
  const std::string label64(64, 'a');
  const std::string too_long =
      label63 + "." + label63 + "." + label63 + "." + std::string(58, 'b') + ".com";  // 254 bytes
  ASSERT_EQ(too_long.size(), 254u);
  const BadCase cases[] = {
      {"", ErrorCode::kDomainInvalid, "empty"},
      {".", ErrorCode::kDomainInvalid, "no labels"},
      {"..", ErrorCode::kDomainInvalid, "empty label"},
      {"a..b.com", ErrorCode::kDomainInvalid, "empty label"},
      {".example.com", ErrorCode::kDomainInvalid, "empty label"},
      {"example.com..", ErrorCode::kDomainInvalid, "empty label"},
      {"localhost", ErrorCode::kDomainInvalid, "single label"},
      {"LOCALHOST.", ErrorCode::kDomainInvalid, "single label"},
      {"-a.example.com", ErrorCode::kDomainInvalid, "starts or ends with '-'"},
      {"a-.example.com", ErrorCode::kDomainInvalid, "starts or ends with '-'"},
      {"example.com-", ErrorCode::kDomainInvalid, "starts or ends with '-'"},
      {"ab--cd.example.com", ErrorCode::kDomainInvalid, "third and fourth"},
      {"xn--zz.example.com", ErrorCode::kDomainInvalid, "punycode"},
      {"xn--abc.com", ErrorCode::kDomainInvalid, "punycode"},
      {"a_b.example.com", ErrorCode::kDomainInvalid, "underscores"},
      {"_acme-challenge.example.com", ErrorCode::kDomainInvalid, "underscores"},
      {"a b.example.com", ErrorCode::kDomainInvalid, "a space"},
      {" example.com", ErrorCode::kDomainInvalid, "a space"},
      {"exa$mple.com", ErrorCode::kDomainInvalid, "'$'"},
      {"a/b.example.com", ErrorCode::kDomainInvalid, "'/'"},
      {"example.com:443", ErrorCode::kDomainInvalid, "':'"},
      {"https://example.com", ErrorCode::kDomainInvalid, "':'"},
      {std::string("a\nb.example.com"), ErrorCode::kDomainInvalid, "control character (0x0A)"},
      {std::string("a\0b.com", 7), ErrorCode::kDomainInvalid, "control character (0x00)"},
      {"😀.example.com", ErrorCode::kDomainInvalid, "IDNA does not allow"},
      {"\xff\xfe.example.com", ErrorCode::kDomainInvalid, "UTF-8"},
      {label64 + ".com", ErrorCode::kDomainInvalid, "at most 63"},
      {std::string(40, 'x') + "ü" + std::string(40, 'x') + ".com", ErrorCode::kDomainInvalid,
       "at most 63"},
      {too_long, ErrorCode::kDomainInvalid, "at most 253"},
      {std::string(2000, 'a'), ErrorCode::kDomainInvalid, "at most 253"},
      {"1.2.3.4", ErrorCode::kDomainInvalid, "IP address"},
      {"1.2.3.4.", ErrorCode::kDomainInvalid, "IP address"},
      {"::1", ErrorCode::kDomainInvalid, "IP address"},
      {"[2001:db8::1]", ErrorCode::kDomainInvalid, "IP address"},
      {"2001:db8::1", ErrorCode::kDomainInvalid, "IP address"},
      {"10.0.0", ErrorCode::kDomainInvalid, "all digits"},
      {"example.123", ErrorCode::kDomainInvalid, "all digits"},
      {"*.1.2.3.4", ErrorCode::kDomainInvalid, "all digits"},
      {"１.２.３.４", ErrorCode::kDomainInvalid, "all digits"},  // full-width digits
      {"*", ErrorCode::kDomainWildcard, "'*.example.com'"},
      {"*.", ErrorCode::kDomainWildcard, "'*.example.com'"},
      {"a*.example.com", ErrorCode::kDomainWildcard, "whole leftmost label"},
      {"*a.example.com", ErrorCode::kDomainWildcard, "whole leftmost label"},
      {"a.*.example.com", ErrorCode::kDomainWildcard, "whole leftmost label"},
      {"*.*.example.com", ErrorCode::kDomainWildcard, "whole leftmost label"},
      {"example.*", ErrorCode::kDomainWildcard, "whole leftmost label"},
      {"**.example.com", ErrorCode::kDomainWildcard, "whole leftmost label"},
      {"＊.example.com", ErrorCode::kDomainWildcard, "whole leftmost label"},  // full-width *
      {"*..example.com", ErrorCode::kDomainInvalid, "empty label"},
      {"com", ErrorCode::kDomainPublicSuffix, "com is a public suffix"},
      {"COM.", ErrorCode::kDomainPublicSuffix, "public suffix"},
      {"co.uk", ErrorCode::kDomainPublicSuffix, "co.uk is a public suffix"},
      {"github.io", ErrorCode::kDomainPublicSuffix, "github.io is a public suffix"},
      {"foo.kawasaki.jp", ErrorCode::kDomainPublicSuffix, "public suffix"},  // *.kawasaki.jp
      {"公司.cn", ErrorCode::kDomainPublicSuffix, "xn--55qx5d.cn is a public suffix"},
      {"*.com", ErrorCode::kDomainPublicSuffix, "would cover other people's domains"},
      {"*.co.uk", ErrorCode::kDomainPublicSuffix,
       "co.uk is a public suffix, so a wildcard under it would cover other people's domains"},
      {"*.CO.UK.", ErrorCode::kDomainPublicSuffix, "co.uk is a public suffix"},
      {"*.github.io", ErrorCode::kDomainPublicSuffix, "github.io is a public suffix"},
      {"*.zz", ErrorCode::kDomainPublicSuffix, "zz is a top-level domain"},
  };
  for (const auto& c : cases) {
    auto r = NormalizeDomain(c.input);
    ASSERT_FALSE(r.ok()) << c.input << " -> " << *r;
    EXPECT_EQ(r.error().code, c.code) << c.input << ": " << r.error().message;
    EXPECT_NE(r.error().message.find(c.says), std::string::npos)
        << c.input << ": " << r.error().message;
  }
}

TEST(NormalizeDomainTest, MessagesQuoteTheInput) {
  auto r = NormalizeDomain("a.*.example.com");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "'a.*.example.com' is not a valid domain: '*' may only be the whole leftmost label, "
            "as in '*.example.com'");
  r = NormalizeDomain("*.co.uk");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "'*.co.uk' is not allowed: co.uk is a public suffix, so a wildcard under it would "
            "cover other people's domains");
  r = NormalizeDomain("Ex ample.com");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message.rfind("'Ex ample.com' is not a valid domain: ", 0), 0u)
      << r.error().message;
}

TEST(NormalizeDomainTest, QuotesAtMostAHundredBytesOnACharacterBoundary) {
  // 99 ASCII bytes then 'ü' (2 bytes) straddles the 100-byte cut.
  std::string input = std::string(99, 'a') + "ü" + std::string(300, 'b') + ".com";
  auto r = NormalizeDomain(input);
  ASSERT_FALSE(r.ok());
  const std::string& m = r.error().message;
  EXPECT_NE(m.find("'" + std::string(99, 'a') + "...'"), std::string::npos) << m;
  EXPECT_EQ(m.find("bbb"), std::string::npos) << m;
  // Control characters do not reach the message.
  r = NormalizeDomain("a\r\nb.com");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message.find('\n'), std::string::npos);
  EXPECT_EQ(r.error().message.find('\r'), std::string::npos);
}

TEST(DomainNameWildcardTest, IsWildcardAndBase) {
  EXPECT_TRUE(IsWildcard("*.example.com"));
  EXPECT_FALSE(IsWildcard("example.com"));
  EXPECT_FALSE(IsWildcard("*"));
  EXPECT_FALSE(IsWildcard("a.*.example.com"));
  EXPECT_EQ(WildcardBase("*.a.example.com"), "a.example.com");
  EXPECT_EQ(WildcardBase("a.example.com"), "a.example.com");
  EXPECT_EQ(WildcardBase(""), "");
}

TEST(DomainNameSubdomainTest, IsSubdomainOf) {
  struct Case {
    std::string_view name, base;
    bool want;
  };
  const Case cases[] = {
      {"a.example.com", "example.com", true},
      {"a.b.example.com", "example.com", true},
      {"x.y.z.example.com", "example.com", true},
      {"example.com", "example.com", false},
      {"badexample.com", "example.com", false},
      {"a.badexample.com", "example.com", false},
      {"example.com", "a.example.com", false},
      {"a.example.com.evil", "example.com", false},
      {".example.com", "example.com", false},
      {"a.example.com", "", false},
      {"", "", false},
      {"*.example.com", "example.com", true},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(IsSubdomainOf(c.name, c.base), c.want) << c.name << " under " << c.base;
  }
}

TEST(DomainCoversHostTest, ExactAndOneLabelWildcard) {
  struct Case {
    std::string_view domain, host;
    bool want;
  };
  const Case cases[] = {
      {"example.com", "example.com", true},         {"app.example.com", "app.example.com", true},
      {"example.com", "app.example.com", false},    {"app.example.com", "example.com", false},
      {"*.example.com", "app.example.com", true},   {"*.example.com", "x.example.com", true},
      {"*.example.com", "a.b.example.com", false},  // never two labels
      {"*.example.com", "example.com", false},      // never its own base
      {"*.example.com", "badexample.com", false},   {"*.example.com", "a.badexample.com", false},
      {"*.example.com", "*.example.com", true},     {"*.example.com", ".example.com", false},
      {"*.a.example.com", "b.a.example.com", true}, {"*.a.example.com", "a.example.com", false},
      {"*.a.example.com", "b.example.com", false},  {"*.example.com", "", false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(DomainCoversHost(c.domain, c.host), c.want) << c.domain << " covers " << c.host;
  }
}

TEST(DomainNameWildcardParentTest, OneLabelUp) {
  EXPECT_EQ(WildcardParent("a.b.example.com"), "*.b.example.com");
  EXPECT_EQ(WildcardParent("app.example.com"), "*.example.com");
  EXPECT_EQ(WildcardParent("b.com"), "*.com");
  EXPECT_EQ(WildcardParent("localhost"), std::nullopt);
  EXPECT_EQ(WildcardParent(""), std::nullopt);
  EXPECT_EQ(WildcardParent(".com"), std::nullopt);
  EXPECT_EQ(WildcardParent("a."), std::nullopt);
  // The parent always covers the host.
  EXPECT_TRUE(DomainCoversHost(*WildcardParent("a.b.example.com"), "a.b.example.com"));
}

TEST(NormalizeSniTest, LowerCasesAndDropsOneTrailingDot) {
  struct Case {
    std::string_view sni;
    std::string_view want;
  };
  const Case cases[] = {
      {"example.com", "example.com"},
      {"App.Example.COM", "app.example.com"},
      {"app.example.com.", "app.example.com"},
      {"A-B_C.example.com", "a-b_c.example.com"},
      {"xn--bcher-kva.example", "xn--bcher-kva.example"},
      {"localhost", "localhost"},
      {"1.2.3.4", "1.2.3.4"},
  };
  for (const auto& c : cases) {
    auto got = NormalizeSni(c.sni);
    ASSERT_TRUE(got.has_value()) << c.sni;
    EXPECT_EQ(*got, c.want);
  }
  std::string longest(253, 'a');
  longest[100] = '.';
  EXPECT_EQ(NormalizeSni(longest), longest);
  EXPECT_EQ(NormalizeSni(longest + "."), longest);
}

TEST(NormalizeSniTest, RefusesJunk) {
  std::string too_long(254, 'a');
  too_long[100] = '.';
  const std::string cases[] = {
      "",
      ".",
      "..",
      "a..b",
      ".example.com",
      "example.com..",
      "exa mple.com",
      "example.com:443",
      "*.example.com",
      "bücher.example",
      "a/b",
      std::string("a\0b.com", 7),
      "a\nb.com",
      too_long,
      std::string(1000, 'a'),
  };
  for (const auto& c : cases) EXPECT_EQ(NormalizeSni(c), std::nullopt) << c;
}

TEST(DomainNameRandomLabelTest, LengthCharsetAndVariety) {
  std::set<std::string> seen;
  std::set<char> chars;
  for (int i = 0; i < 200; ++i) {
    std::string label = RandomLabel();
    ASSERT_EQ(label.size(), 16u);
    for (char c : label) {
      EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) << label;
      chars.insert(c);
    }
    seen.insert(label);
    // Usable as a DNS label under a real domain.
    auto r = NormalizeDomain(label + ".example.com");
    EXPECT_TRUE(r.ok()) << label;
  }
  EXPECT_EQ(seen.size(), 200u);
  // 3200 draws from 36 symbols: every one shows up.
  EXPECT_EQ(chars.size(), 36u);
}

}  // namespace
}  // namespace certgate::names
