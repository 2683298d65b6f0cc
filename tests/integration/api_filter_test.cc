// The `filter` query parameter of the list calls over real HTTP: ngrok's CEL
// subset, evaluated in the store so that paging through a filtered list
// returns exactly the matching records, newest first.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include <boost/url.hpp>

#include <sqlite3.h>

#include "core/time.h"
#include "pki/testing/cert_factory.h"
#include "support/api_helpers.h"
#include "support/certgate_server.h"
#include "support/process.h"

namespace certgate::testing {
namespace {

namespace json = boost::json;

class FilterApiTest : public ::testing::Test {
 public:
  void SetUp() override {
    server_ = CertgateServer::Start();
    ASSERT_NE(server_, nullptr);
    client_ = std::make_unique<client::ApiClient>(server_->Client());
  }

  // "/collection?filter=<encoded>&limit=<n>"
  static std::string ListPath(std::string_view collection, std::string_view filter,
                              int limit = 100) {
    boost::urls::url u;
    u.set_path(fmt::format("/{}", collection));
    u.params().append({"filter", filter});
    u.params().append({"limit", std::to_string(limit)});
    // A '+' in a query means a space (as in forms): send the filter's as %2B,
    // as clients that encode query values do.
    std::string target(u.encoded_target());
    for (size_t at = target.find('+'); at != std::string::npos; at = target.find('+', at)) {
      target.replace(at, 1, "%2B");
    }
    return target;
  }

  // The ids of every page of a filtered list, following next_page_uri.
  std::vector<std::string> Walk(std::string_view collection, std::string_view filter, int limit) {
    std::vector<std::string> ids;
    std::string path = ListPath(collection, filter, limit);
    for (int pages = 0; pages < 100; ++pages) {
      ApiResult r = Call(*client_, verb::get, path);
      EXPECT_EQ(r.status, 200) << r.raw;
      if (r.status != 200) break;
      const json::array& items = r.json.at(collection).as_array();
      EXPECT_LE(items.size(), static_cast<size_t>(limit));
      for (const auto& item : items) ids.emplace_back(item.at("id").as_string());
      const json::value& next = r.json.at("next_page_uri");
      if (next.is_null()) break;
      // An absolute URL on this server, carrying the filter.
      auto url = boost::urls::parse_uri(next.as_string());
      EXPECT_TRUE(url.has_value());
      if (!url) break;
      EXPECT_EQ(std::string(url->encoded_origin()), server_->api_url());
      path = std::string(url->encoded_target());
    }
    return ids;
  }

  std::vector<std::string> Ids(std::string_view collection, std::string_view filter) {
    return Walk(collection, filter, 100);
  }

  ApiResult Reserve(const std::string& name, const std::string& description) {
    return Call(*client_, verb::post, "/reserved_domains",
                json::object{{"domain", name}, {"description", description}});
  }

  // Uploads a certificate for name, valid since not_before_offset, and
  // returns its id and serial_number as the API shows them.
  std::pair<std::string, std::string> Upload(const std::string& name,
                                             std::chrono::seconds not_before_offset) {
    pki::testing::CertSpec spec;
    spec.common_name = name;
    spec.dns_names = {name};
    spec.not_before_offset = not_before_offset;
    auto chain = pki::testing::MakeChain(pki::testing::TestKeyType::kEcP256, spec);
    ApiResult r = Call(*client_, verb::post, "/tls_certificates",
                       UploadBody(chain.BundlePem(),
                                  pki::testing::KeyPemPkcs8(chain.leaf_key.get())));
    EXPECT_EQ(r.status, 201) << r.raw;
    if (r.status != 201) return {};
    return {std::string(r.json.at("id").as_string()),
            std::string(r.json.at("serial_number").as_string())};
  }

  std::unique_ptr<CertgateServer> server_;
  std::unique_ptr<client::ApiClient> client_;
};

TEST_F(FilterApiTest, PagingThroughAFilteredListReturnsExactlyTheMatchesNewestFirst) {
  std::vector<std::string> want;
  for (int i = 0; i < 250; ++i) {
    const bool three = i % 3 == 0;
    ApiResult r = Reserve(fmt::format("d{}.{}.example.com", i, three ? "three" : "other"),
                          i % 2 == 0 ? "even" : "odd");
    ASSERT_EQ(r.status, 201) << r.raw;
    if (three && i % 2 == 0) want.emplace_back(r.json.at("id").as_string());
  }
  std::sort(want.rbegin(), want.rend());
  ASSERT_EQ(want.size(), 42u);
  const std::string filter = R"(obj.domain.contains(".three.") && obj.description == "even")";
  EXPECT_EQ(Walk("reserved_domains", filter, 40), want);
  // The same set through in [...] of the ids, and through its negation's complement.
  EXPECT_EQ(Walk("reserved_domains", "!(" + filter + ")", 40).size(), 250u - 42u);
}

TEST_F(FilterApiTest, EachOperatorAndFunction) {
  const std::string a = std::string(Reserve("app.example.com", "web").json.at("id").as_string());
  const std::string b = std::string(Reserve("api.example.org", "api").json.at("id").as_string());
  const std::string c = std::string(Reserve("www.example.net", "").json.at("id").as_string());
  auto set = [](std::vector<std::string> ids) { return std::set<std::string>(ids.begin(), ids.end()); };
  using S = std::set<std::string>;
  struct Case {
    std::string filter;
    S want;
  };
  const Case cases[] = {
      {R"(obj.domain == "app.example.com")", {a}},
      {R"(obj.domain != "app.example.com")", {b, c}},
      {R"(obj.domain < "app")", {b}},
      {R"(obj.domain <= "app.example.com")", {a, b}},
      {R"(obj.domain > "b")", {c}},
      {R"(obj.domain >= "app.example.com")", {a, c}},
      {R"(obj.domain.startsWith("ap"))", {a, b}},
      {R"(obj.domain.endsWith(".org"))", {b}},
      {R"(obj.domain.contains("ww"))", {c}},
      {R"(obj.id in [")" + a + R"(", ")" + c + R"("])", {a, c}},
      {R"(obj.description == "" || obj.description == 'api')", {b, c}},
      {R"(obj.description != "" && !(obj.domain.endsWith(".org")))", {a}},
      {R"(obj.certificate.id == null)", {a, b, c}},
      {R"(obj.created_at > timestamp("2000-01-01T00:00:00Z"))", {a, b, c}},
      {R"(obj.created_at < timestamp("2000-01-01T00:00:00+02:00"))", {}},
      {R"(obj.region == "")", {a, b, c}},
      {R"(size(obj.description) == 3)", {a, b}},
      {R"(obj.description.size() == 0)", {c}},
      {R"(obj.created_at >= timestamp(time.now).subtract("1h"))", {a, b, c}},
      {R"(obj.created_at > timestamp(time.now).add("1d"))", {}},
      {R"(obj.created_at > timestamp("2000-01-01Z"))", {a, b, c}},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.filter);
    EXPECT_EQ(set(Ids("reserved_domains", k.filter)), k.want);
  }
  // Certificates and endpoints take filters too.
  EXPECT_TRUE(Ids("tls_certificates", R"(obj.not_after > timestamp("2000-01-01T00:00:00Z"))")
                  .empty());
  EXPECT_TRUE(Ids("endpoints", R"(obj.url.startsWith("https://"))").empty());

  // ngrok's endpoint fields: type, bindings (a list), pooling_enabled (a
  // boolean), name, principal.id.
  ApiResult e = Call(*client_, verb::post, "/endpoints",
                     json::object{{"url", "https://app.example.com"},
                                  {"upstream_url", "http://127.0.0.1:9"}});
  ASSERT_EQ(e.status, 201) << e.raw;
  const std::string ep = std::string(e.json.at("id").as_string());
  const Case endpoint_cases[] = {
      {R"(obj.type == "cloud" && obj.created_at >= timestamp(time.now).subtract("7d"))", {ep}},
      {R"(obj.type in ["agent", "cloud"])", {ep}},
      {R"("public" in obj.bindings)", {ep}},
      {R"("internal" in obj.bindings || size(obj.bindings) != 1)", {}},
      {R"(obj.pooling_enabled == false)", {ep}},
      {R"(obj.pooling_enabled)", {}},
      {R"(obj.name == "" && obj.principal.id != "")", {ep}},
      {R"(obj.url.startsWith("https://app."))", {ep}},
  };
  for (const Case& k : endpoint_cases) {
    SCOPED_TRACE(k.filter);
    EXPECT_EQ(set(Ids("endpoints", k.filter)), k.want);
  }
}

// The certificate fields ngrok filters on that certgate reads from the leaf.
TEST_F(FilterApiTest, CertificatesFilterOnSubjectCommonNameSerialNumberAndNotBefore) {
  const auto [old_id, old_serial] = Upload("old.example.com", -std::chrono::hours(48));
  const auto [new_id, new_serial] = Upload("new.example.com", -std::chrono::hours(1));
  ASSERT_FALSE(old_id.empty());
  ASSERT_FALSE(new_id.empty());
  ASSERT_NE(old_serial, new_serial);
  using S = std::set<std::string>;
  auto set = [&](std::string_view filter) {
    std::vector<std::string> ids = Ids("tls_certificates", filter);
    return S(ids.begin(), ids.end());
  };
  const std::string day_ago =
      FormatRfc3339(SystemClock::Instance().Now() - std::chrono::hours(24));
  EXPECT_EQ(set(R"(obj.subject_common_name == "old.example.com")"), S{old_id});
  EXPECT_EQ(set(R"(obj.subject_common_name.endsWith(".example.com"))"), (S{old_id, new_id}));
  EXPECT_EQ(set(R"(obj.serial_number == ")" + new_serial + R"(")"), S{new_id});
  EXPECT_EQ(set(R"(obj.serial_number in [")" + old_serial + R"(", "00"])"), S{old_id});
  EXPECT_EQ(set(R"(obj.not_before < timestamp(")" + day_ago + R"("))"), S{old_id});
  EXPECT_EQ(set(R"(obj.not_before >= timestamp(")" + day_ago + R"(") && )"
                R"(obj.subject_common_name != "old.example.com")"),
            S{new_id});
  // The service's own default certificate is never listed.
  EXPECT_EQ(set(R"(obj.not_before > timestamp("2000-01-01T00:00:00Z"))"), (S{old_id, new_id}));
}

// A certificate stored before certgate kept the summary (the columns NULL,
// as migration 7 leaves older rows) is backfilled when serve starts.
TEST_F(FilterApiTest, ACertificateStoredBeforeTheSummaryIsBackfilledAtStart) {
  const auto [id, serial] = Upload("before.example.com", -std::chrono::hours(1));
  ASSERT_FALSE(id.empty());
  const std::string key = server_->api_key();
  ASSERT_EQ(server_->Stop(), 0);
  const std::filesystem::path db = server_->data_dir() / "certgate.db";
  {
    sqlite3* conn = nullptr;
    ASSERT_EQ(sqlite3_open_v2(db.c_str(), &conn, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
    const std::string sql =
        "UPDATE tls_certificates SET subject_common_name = NULL, serial_number = NULL,"
        " not_before = NULL WHERE id = '" + id + "'";
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(conn, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK)
        << (err != nullptr ? err : "");
    sqlite3_free(err);
    EXPECT_EQ(sqlite3_changes(conn), 1);
    sqlite3_close(conn);
  }

  auto again = CertgateServer::Start(ServerOptions::InDir(server_->data_dir()));
  ASSERT_NE(again, nullptr);
  EXPECT_NE(ReadFile(again->stderr_path())
                .find("backfilled subject_common_name, serial_number and not_before of 1 "
                      "certificate(s)"),
            std::string::npos)
      << ReadFile(again->stderr_path());
  client_ = std::make_unique<client::ApiClient>(again->Client(key));
  EXPECT_EQ(Ids("tls_certificates", R"(obj.serial_number == ")" + serial + R"(")"),
            std::vector<std::string>{id});
  EXPECT_EQ(Ids("tls_certificates", R"(obj.subject_common_name == "before.example.com")"),
            std::vector<std::string>{id});
  EXPECT_EQ(Ids("tls_certificates", R"(obj.not_before < timestamp("2100-01-01T00:00:00Z"))"),
            std::vector<std::string>{id});
  EXPECT_EQ(again->Stop(), 0);
  // Nothing is left to backfill: a further start logs no count.
  auto third = CertgateServer::Start(ServerOptions::InDir(server_->data_dir()));
  ASSERT_NE(third, nullptr);
  EXPECT_EQ(ReadFile(third->stderr_path()).find("backfilled"), std::string::npos);
}

TEST_F(FilterApiTest, AnInjectionAttemptMatchesNothing) {
  ASSERT_EQ(Reserve("x.example.com", "").status, 201);
  for (std::string f : {R"(obj.domain == "x' OR 1=1 --")", R"(obj.domain == "x\" OR 1=1 --")",
                        R"(obj.domain.startsWith("x%"))", R"(obj.domain.contains("') OR ('1'='1"))"}) {
    SCOPED_TRACE(f);
    EXPECT_TRUE(Ids("reserved_domains", f).empty());
  }
  EXPECT_EQ(Ids("reserved_domains", R"(obj.domain == "x.example.com")").size(), 1u);
}

TEST_F(FilterApiTest, AMalformedFilterOrAnUnknownFieldIsA400NamingThePosition) {
  struct Case {
    std::string collection;
    std::string filter;
    std::string says;
  };
  const Case cases[] = {
      {"reserved_domains", R"(obj.domain = "x")", "column 12: '=' is not an operator"},
      {"reserved_domains", R"(obj.nope == "x")",
       "column 1: obj.nope is not a field you can filter on; the fields are: id, created_at, "
       "description, metadata, domain, region, cname_target, certificate.id, "
       "acme_challenge_cname_target"},
      {"tls_certificates", R"(obj.domain == "x")", "obj.domain is not a field you can filter on"},
      {"endpoints", R"(obj.upstream == "x")", "obj.upstream is not a field you can filter on"},
      {"reserved_domains", R"(obj.created_at > "2026")", "obj.created_at is a timestamp"},
      {"reserved_domains", "", "the filter is empty"},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.filter);
    ApiResult r = Call(*client_, verb::get, ListPath(k.collection, k.filter));
    EXPECT_TRUE(IsError(r, 400, "invalid_cel_expression", k.says, "filter"));
  }
  ApiResult big = Call(*client_, verb::get,
                       ListPath("reserved_domains", "obj.domain == \"" + std::string(5000, 'a') + "\""));
  EXPECT_TRUE(IsError(big, 400, "invalid_cel_expression", "over the limit of 4096", "filter"));
}

}  // namespace
}  // namespace certgate::testing
