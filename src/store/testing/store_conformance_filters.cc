// List filters (store/list_filter.h): every backend evaluates them in its
// list query with the same semantics, so that paging through a filtered list
// gives exactly the matching records.
#include <algorithm>
#include <set>
#include <type_traits>

#include <fmt/format.h>

#include "store/testing/store_conformance.h"

namespace certgate::store::testing {
namespace {

Filter Where(std::string field, FilterOp op, std::vector<FilterValue> values) {
  Filter f;
  f.kind = Filter::Kind::kTest;
  f.field = std::move(field);
  f.op = op;
  f.values = std::move(values);
  return f;
}
Filter Where(std::string field, FilterOp op, FilterValue value) {
  return Where(std::move(field), op, std::vector<FilterValue>{std::move(value)});
}
Filter Join(Filter::Kind kind, Filter a, Filter b) {
  Filter f;
  f.kind = kind;
  f.operands = {std::move(a), std::move(b)};
  return f;
}
Filter Not(Filter a) {
  Filter f;
  f.kind = Filter::Kind::kNot;
  f.operands = {std::move(a)};
  return f;
}

// Every page of alice's domains that pass filter, walked with limit.
std::vector<std::string> WalkDomains(Store& store, const std::string& account,
                                     const std::optional<Filter>& filter, int limit) {
  std::vector<std::string> ids;
  std::optional<std::string> before;
  for (int pages = 0; pages < 1000; ++pages) {
    auto page = store.ListDomains(account, {.before_id = before, .limit = limit, .filter = filter});
    EXPECT_TRUE(page.ok()) << page.error().message;
    if (!page.ok()) break;
    EXPECT_LE(page->items.size(), static_cast<size_t>(limit));
    for (const Domain& d : page->items) ids.push_back(d.id);
    if (!page->has_more) break;
    EXPECT_EQ(page->items.size(), static_cast<size_t>(limit));
    before = page->items.back().id;
  }
  return ids;
}

TEST_P(StoreConformanceTest, FilteredListPagesThroughExactlyTheMatches) {
  std::vector<Domain> all;
  for (int i = 0; i < 250; ++i) {
    Domain d = MakeDomain(alice_, fmt::format("d{}.{}.example.com", i, i % 3 == 0 ? "three" : "other"));
    d.description = i % 2 == 0 ? "even" : "odd";
    ASSERT_TRUE(store_->InsertDomain(d).ok());
    all.push_back(d);
  }
  Domain bobs = MakeDomain(bob_, "d0.three.example.org");
  ASSERT_TRUE(store_->InsertDomain(bobs).ok());
  // Every third domain, and of those the even ones: 42 of 250.
  const Filter filter = Join(Filter::Kind::kAnd,
                             Where("domain", FilterOp::kContains, std::string(".three.")),
                             Where("description", FilterOp::kEq, std::string("even")));
  std::vector<std::string> want;
  for (const Domain& d : all) {
    if (RecordMatches(std::optional<Filter>(filter), d)) want.push_back(d.id);
  }
  std::sort(want.rbegin(), want.rend());
  ASSERT_EQ(want.size(), 42u);
  EXPECT_EQ(WalkDomains(*store_, alice_, filter, 40), want);
  EXPECT_EQ(WalkDomains(*store_, alice_, filter, 7), want);
  EXPECT_EQ(WalkDomains(*store_, alice_, filter, 42), want);
  EXPECT_EQ(WalkDomains(*store_, alice_, std::nullopt, 40).size(), 250u);
  // Another account's matching domain never shows.
  EXPECT_EQ(WalkDomains(*store_, bob_, filter, 40), std::vector<std::string>{});
}

TEST_P(StoreConformanceTest, FilterValuesAreNeverQueryText) {
  Domain d = MakeDomain(alice_, "x.example.com");
  ASSERT_TRUE(store_->InsertDomain(d).ok());
  for (const std::string& hostile : std::vector<std::string>{"x' OR 1=1 --", "x\" OR 1=1 --", "%", "_", "*", "x.example.com' --",
                              "') OR ('1'='1", std::string("x\0y", 3)}) {
    SCOPED_TRACE(hostile);
    for (FilterOp op : {FilterOp::kEq, FilterOp::kContains, FilterOp::kStartsWith,
                        FilterOp::kEndsWith}) {
      auto page = store_->ListDomains(alice_, {.filter = Where("domain", op, hostile)});
      ASSERT_TRUE(page.ok()) << page.error().message;
      EXPECT_TRUE(page->items.empty());
    }
  }
  // LIKE's wildcards are plain characters.
  auto page = store_->ListDomains(alice_, {.filter = Where("domain", FilterOp::kStartsWith,
                                                          std::string("x_example"))});
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->items.empty());
}

TEST_P(StoreConformanceTest, FilterOperatorsAndNullsAgreeWithTheInMemoryRules) {
  Certificate cert = Insert(alice_);
  Domain a = MakeDomain(alice_, "app.example.com");
  a.certificate_id = cert.id;
  a.metadata = "{\"team\": \"a\"}";
  Domain b = MakeDomain(alice_, "api.example.org");
  b.description.clear();
  Domain c = MakeDomain(alice_, "\xc3\xa9t\xc3\xa9.example.net");  // "été", bytes past ASCII
  c.created_at = a.created_at + std::chrono::hours(1);
  for (Domain* d : {&a, &b, &c}) ASSERT_TRUE(store_->InsertDomain(*d).ok());
  const std::vector<Domain> records = {a, b, c};

  const Time t = a.created_at + std::chrono::minutes(30);
  const std::vector<Filter> filters = {
      Where("domain", FilterOp::kEq, std::string("app.example.com")),
      Where("domain", FilterOp::kNe, std::string("app.example.com")),
      Where("domain", FilterOp::kLt, std::string("api.example.z")),
      Where("domain", FilterOp::kLe, std::string("api.example.org")),
      Where("domain", FilterOp::kGt, std::string("b")),
      Where("domain", FilterOp::kGe, std::string("app.example.com")),
      Where("domain", FilterOp::kStartsWith, std::string("\xc3\xa9")),
      Where("domain", FilterOp::kEndsWith, std::string(".org")),
      Where("domain", FilterOp::kEndsWith, std::string("")),
      // Every string, the empty one too, starts and ends with "".
      Where("description", FilterOp::kStartsWith, std::string("")),
      Where("description", FilterOp::kEndsWith, std::string("")),
      // ... but an absent value does not.
      Where("certificate.id", FilterOp::kStartsWith, std::string("")),
      Where("certificate.id", FilterOp::kEndsWith, std::string("")),
      Where("domain", FilterOp::kContains, std::string("t\xc3\xa9.")),
      Where("created_at", FilterOp::kGt, t),
      Where("created_at", FilterOp::kLe, t),
      Where("id", FilterOp::kIn, std::vector<FilterValue>{a.id, c.id, std::string("rd_none")}),
      Where("certificate.id", FilterOp::kEq, std::monostate{}),
      Where("certificate.id", FilterOp::kNe, std::monostate{}),
      Where("certificate.id", FilterOp::kNe, cert.id),
      Where("certificate.id", FilterOp::kLt, std::string("zzz")),
      Where("certificate.id", FilterOp::kIn, std::vector<FilterValue>{std::monostate{}}),
      Not(Where("certificate.id", FilterOp::kLt, std::string("zzz"))),
      Not(Where("certificate.id", FilterOp::kEq, cert.id)),
      Where("metadata", FilterOp::kContains, std::string("\"team\"")),
      Where("region", FilterOp::kEq, std::string("")),
      Join(Filter::Kind::kOr, Where("domain", FilterOp::kEndsWith, std::string(".net")),
           Where("description", FilterOp::kNe, std::string("x"))),
      Filter{},  // the constant true
  };
  for (size_t i = 0; i < filters.size(); ++i) {
    SCOPED_TRACE(i);
    std::set<std::string> want;
    for (const Domain& d : records) {
      if (RecordMatches(std::optional<Filter>(filters[i]), d)) want.insert(d.id);
    }
    auto page = store_->ListDomains(alice_, {.filter = filters[i]});
    ASSERT_TRUE(page.ok()) << page.error().message;
    std::set<std::string> got;
    for (const Domain& d : page->items) got.insert(d.id);
    EXPECT_EQ(got, want);
  }
  // Spot checks of the in-memory rules themselves.
  auto count = [&](const Filter& f) {
    return std::count_if(records.begin(), records.end(),
                         [&](const Domain& d) { return RecordMatches(std::optional<Filter>(f), d); });
  };
  EXPECT_EQ(count(Where("certificate.id", FilterOp::kNe, cert.id)), 2);
  EXPECT_EQ(count(Where("certificate.id", FilterOp::kLt, std::string("zzz"))), 1);
  EXPECT_EQ(count(Not(Where("certificate.id", FilterOp::kLt, std::string("zzz")))), 2);
  EXPECT_EQ(count(Where("created_at", FilterOp::kGt, t)), 1);
  EXPECT_EQ(count(Where("description", FilterOp::kStartsWith, std::string(""))), 3);
  EXPECT_EQ(count(Where("certificate.id", FilterOp::kEndsWith, std::string(""))), 1);
}

// A certificate's summary fields, and a certificate whose summary is unknown
// (stored before certgate kept it, not yet backfilled): absent, so it equals
// only null, differs from every value, and no order or string test holds.
TEST_P(StoreConformanceTest, CertificateSummaryFieldsFilterAndAnUnknownSummaryIsAbsent) {
  Certificate a = MakeCert(alice_);
  a.subject_common_name = "app.example.com";
  a.serial_number = "0abc01";
  a.not_before = FromUnixSeconds(1'700'000'000);
  Certificate b = MakeCert(alice_);
  b.subject_common_name = "";  // a leaf without a CN
  b.serial_number = "ff00";
  b.not_before = FromUnixSeconds(1'750'000'000);
  Certificate old = MakeCert(alice_);
  old.subject_common_name.clear();
  old.serial_number.clear();
  old.not_before = Time{};
  Certificate bobs = MakeCert(bob_);
  bobs.serial_number = a.serial_number;
  for (Certificate* c : {&a, &b, &old, &bobs}) {
    c->issued_at.reset();
    ASSERT_TRUE(store_->InsertCertificate(*c).ok());
  }
  const std::vector<Certificate> records = {a, b, old};
  const Time t = FromUnixSeconds(1'720'000'000);
  using Ids = std::set<std::string>;
  const std::vector<std::pair<Filter, Ids>> cases = {
      {Where("subject_common_name", FilterOp::kEq, std::string("app.example.com")), {a.id}},
      {Where("subject_common_name", FilterOp::kEq, std::string("")), {b.id}},
      {Where("subject_common_name", FilterOp::kNe, std::string("app.example.com")),
       {b.id, old.id}},
      {Where("subject_common_name", FilterOp::kStartsWith, std::string("")), {a.id, b.id}},
      {Where("subject_common_name", FilterOp::kEndsWith, std::string(".example.com")), {a.id}},
      {Where("subject_common_name", FilterOp::kContains, std::string("")), {a.id, b.id}},
      {Where("serial_number", FilterOp::kEq, std::string("0abc01")), {a.id}},
      {Where("serial_number", FilterOp::kIn, std::vector<FilterValue>{std::string("ff00"),
                                                                     std::string("0abc01")}),
       {a.id, b.id}},
      {Where("serial_number", FilterOp::kNe, std::string("ff00")), {a.id, old.id}},
      {Where("serial_number", FilterOp::kLt, std::string("1")), {a.id}},
      {Not(Where("serial_number", FilterOp::kEq, std::string("0abc01"))), {b.id, old.id}},
      {Where("not_before", FilterOp::kLt, t), {a.id}},
      {Where("not_before", FilterOp::kGe, t), {b.id}},
      {Where("not_before", FilterOp::kEq, a.not_before), {a.id}},
      {Not(Where("not_before", FilterOp::kLt, t)), {b.id, old.id}},
      {Join(Filter::Kind::kOr, Where("not_before", FilterOp::kGt, t),
            Where("subject_common_name", FilterOp::kStartsWith, std::string("app."))),
       {a.id, b.id}},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(i);
    const auto& [filter, want] = cases[i];
    Ids in_memory;
    for (const Certificate& c : records) {
      if (RecordMatches(std::optional<Filter>(filter), c)) in_memory.insert(c.id);
    }
    EXPECT_EQ(in_memory, want) << "the in-memory rules";
    auto page = store_->ListCertificates(alice_, {.filter = filter});
    ASSERT_TRUE(page.ok()) << page.error().message;
    Ids got;
    for (const Certificate& c : page->items) got.insert(c.id);
    EXPECT_EQ(got, want);
  }
}

// size(), "x" in obj.<list> and booleans: the backend's query and the
// in-memory rules agree, on multi-byte text and a control character too (a
// NUL is refused before any store: the API refuses it, kFieldNul).
TEST_P(StoreConformanceTest, SizeListAndBooleanTestsAgreeWithTheInMemoryRules) {
  Domain d = MakeDomain(alice_, "*.sizes.example.com");
  ASSERT_TRUE(store_->InsertDomain(d).ok());
  const std::vector<std::pair<std::string, std::vector<std::string>>> shapes = {
      {"", {}},
      {"abc", {"public"}},
      {"h\xc3\xa9llo", {"public", "internal"}},  // 5 code points, 6 bytes
      {"a\x01" "b", {"internal"}},
      {"\xe2\x82\xac\xe2\x82\xac", {"kubernetes", "public", "internal"}},
  };
  std::vector<Endpoint> records;
  for (size_t i = 0; i < shapes.size(); ++i) {
    Endpoint e = MakeEndpoint(d, fmt::format("e{}.sizes.example.com", i));
    e.description = shapes[i].first;
    e.bindings = shapes[i].second;
    e.pooling_enabled = i % 2 == 1;
    ASSERT_TRUE(store_->InsertEndpoint(e, std::nullopt).ok());
    records.push_back(e);
  }
  auto sized = [](std::string field, FilterOp op, int64_t n) {
    Filter f = Where(std::move(field), op, FilterValue(n));
    f.size = true;
    return f;
  };
  const Filter filters[] = {
      sized("description", FilterOp::kEq, 3),
      sized("description", FilterOp::kEq, 5),
      sized("description", FilterOp::kEq, 2),
      sized("description", FilterOp::kGt, 0),
      sized("bindings", FilterOp::kEq, 0),
      sized("bindings", FilterOp::kGe, 2),
      sized("bindings", FilterOp::kIn, 1),
      Where("bindings", FilterOp::kHas, std::string("internal")),
      Not(Where("bindings", FilterOp::kHas, std::string("public"))),
      Where("bindings", FilterOp::kHas, std::string("publi")),
      Where("pooling_enabled", FilterOp::kEq, int64_t{1}),
      Not(Where("pooling_enabled", FilterOp::kEq, int64_t{1})),
  };
  for (const Filter& f : filters) {
    SCOPED_TRACE(fmt::format("{} op {} size {}", f.field, static_cast<int>(f.op), f.size));
    std::set<std::string> want;
    for (const Endpoint& e : records) {
      if (RecordMatches(std::optional<Filter>(f), e)) want.insert(e.id);
    }
    auto page = store_->ListEndpoints(alice_, {.filter = f});
    ASSERT_TRUE(page.ok()) << page.error().message;
    std::set<std::string> got;
    for (const Endpoint& e : page->items) got.insert(e.id);
    EXPECT_EQ(got, want);
  }
  // The rules themselves, on the shapes above.
  auto count = [&](const Filter& f) {
    return std::count_if(records.begin(), records.end(), [&](const Endpoint& e) {
      return RecordMatches(std::optional<Filter>(f), e);
    });
  };
  EXPECT_EQ(count(sized("description", FilterOp::kEq, 5)), 1);
  EXPECT_EQ(count(sized("description", FilterOp::kEq, 3)), 2);  // "abc" and "a\x01b"
  EXPECT_EQ(count(sized("description", FilterOp::kEq, 2)), 1);  // two euro signs
  EXPECT_EQ(count(Where("bindings", FilterOp::kHas, std::string("internal"))), 3);
}

TEST_P(StoreConformanceTest, EveryFilterableFieldFiltersEachList) {
  Certificate cert = Insert(alice_);
  Domain d = MakeDomain(alice_, "fields.example.com");
  d.certificate_id = cert.id;
  ASSERT_TRUE(store_->InsertDomain(d).ok());
  Endpoint e = MakeEndpoint(d, "fields.example.com");
  ASSERT_TRUE(store_->InsertEndpoint(e, std::nullopt).ok());

  // For each field: equal to the record's own value matches it, and a
  // different value does not.
  auto check = [&](auto list, std::span<const FilterField> fields, const auto& record) {
    for (const FilterField& field : fields) {
      SCOPED_TRACE(std::string(field.name));
      FieldValue own = FieldOf(record, field.name);
      FilterValue same = std::monostate{};
      FilterOp op = FilterOp::kEq;
      if (own.has_value()) {
        std::visit(
            [&](const auto& v) {
              if constexpr (std::is_same_v<std::decay_t<decltype(v)>, std::vector<std::string>>) {
                ASSERT_FALSE(v.empty());
                same = v.front();  // a list field: "<its first item>" in obj.<field>
                op = FilterOp::kHas;
              } else {
                same = v;
              }
            },
            *own);
      }
      auto hit = list(Where(std::string(field.name), op, same));
      ASSERT_TRUE(hit.ok()) << hit.error().message;
      ASSERT_EQ(hit->items.size(), 1u);
      EXPECT_EQ(hit->items[0].id, record.id);
      auto miss = list(Not(Where(std::string(field.name), op, same)));
      ASSERT_TRUE(miss.ok()) << miss.error().message;
      EXPECT_TRUE(miss->items.empty());
    }
  };
  check([&](Filter f) { return store_->ListCertificates(alice_, {.filter = std::move(f)}); },
        CertificateFilterFields(), cert);
  check([&](Filter f) { return store_->ListDomains(alice_, {.filter = std::move(f)}); },
        DomainFilterFields(), d);
  check([&](Filter f) { return store_->ListEndpoints(alice_, {.filter = std::move(f)}); },
        EndpointFilterFields(), e);
}

}  // namespace
}  // namespace certgate::store::testing
