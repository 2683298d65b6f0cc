// Issue 17: the authoritative DNS responder keeps answering a valid query
// promptly while another source floods it with queries for random names
// that do not exist, over a real SQLite store of 20,000 reserved names held
// in memory by the zone cache: no query reaches the store.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/ip/address.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "core/ids.h"
#include "core/testing/temp_dir.h"
#include "dns/responder.h"
#include "provision/zone_cache.h"
#include "store/name_key.h"
#include "store/sqlite/sqlite_store.h"

namespace certgate::dns {
namespace {

constexpr char kZone[] = "certgate.test";
constexpr int kNames = 20'000;

// A DNS query for name, type A, with id.
std::vector<uint8_t> Query(const std::string& name, uint16_t id) {
  std::vector<uint8_t> q = {static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id), 0x00, 0x00,
                            0, 1, 0, 0, 0, 0, 0, 0};
  size_t start = 0;
  while (start <= name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    q.push_back(static_cast<uint8_t>(dot - start));
    q.insert(q.end(), name.begin() + static_cast<long>(start), name.begin() + static_cast<long>(dot));
    start = dot + 1;
  }
  q.insert(q.end(), {0, 0, 1, 0, 1});  // root, type A, class IN
  return q;
}

// A UDP socket bound to source (an address of 127.0.0.0/8) and connected to
// the responder.
int Socket(const char* source, uint16_t port, bool nonblocking) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | (nonblocking ? SOCK_NONBLOCK : 0), 0);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  ::inet_pton(AF_INET, source, &from.sin_addr);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  ::inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    if (fd >= 0) ::close(fd);
    return -1;
  }
  return fd;
}

// 20,000 domains in one transaction, as a bulk import would write them.
void LoadNames(const std::filesystem::path& db_path, const std::string& account) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               "INSERT INTO reserved_domains (id, account_id, created_at,"
                               " description, metadata, domain, cname_target, name_key)"
                               " VALUES (?1, ?2, 1700000000, '', '', ?3, ?4, ?5)",
                               -1, &stmt, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(db);
  for (int i = 0; i < kNames; ++i) {
    const std::string id = NewId("rd");
    const std::string name = fmt::format("shop{}.customer{}.example", i, i % 100);
    const std::string target = fmt::format("t{}.cname.{}", i, kZone);
    const std::string key = store::NameKey(name);
    sqlite3_bind_text(stmt, 1, id.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 2, account.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 3, name.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 4, target.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 5, key.c_str(), -1, SQLITE_TRANSIENT);
    ASSERT_EQ(sqlite3_step(stmt), SQLITE_DONE) << sqlite3_errmsg(db);
    sqlite3_reset(stmt);
  }
  sqlite3_finalize(stmt);
  ASSERT_EQ(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
}

TEST(DnsFloodTest, AValidQueryIsAnsweredPromptlyDuringANxdomainFlood) {
  certgate::testing::TempDir dir("dnsflood");
  const auto db_path = dir.path() / "certgate.db";
  std::string account;
  {
    auto store = store::OpenSqliteStore(db_path);
    ASSERT_TRUE(store.ok()) << store.error().message;
    store::Account a;
    a.id = NewId("acct");
    a.name = "Ada";
    ASSERT_TRUE((*store)->CreateAccount(a).ok());
    account = a.id;
  }
  ASSERT_NO_FATAL_FAILURE(LoadNames(db_path, account));
  auto store = store::OpenSqliteStore(db_path);
  ASSERT_TRUE(store.ok()) << store.error().message;
  provision::ZoneCache source(**store, **store, **store, kZone);
  ASSERT_TRUE(source.Load().ok());
  ResponderOptions options;
  options.listen = HostPort{"127.0.0.1", 0};
  options.zone = kZone;
  options.edge_addresses = {boost::asio::ip::make_address("192.0.2.10")};
  auto responder = Responder::Create(std::move(options), source);
  ASSERT_TRUE(responder.ok()) << responder.error().message;
  auto bound = (*responder)->Listen();
  ASSERT_TRUE(bound.ok()) << bound.error().message;
  (*responder)->Start();
  const uint16_t port = bound->port;

  // The flood: random names under the zone from 127.0.0.2, as fast as the
  // socket takes them, answers read and counted.
  std::atomic<bool> stop{false};
  std::atomic<int64_t> flood_answers{0};
  std::atomic<int64_t> flood_sent{0};
  std::thread flood([&] {
    const int fd = Socket("127.0.0.2", port, true);
    if (fd < 0) return;
    std::mt19937_64 rng(17);
    uint8_t buf[1500];
    uint16_t id = 0;
    // 20,000 queries a second: far more than one source is answered, and
    // more than the responder could look up, with ASan too.
    const auto start = std::chrono::steady_clock::now();
    for (int64_t sent = 0; !stop;) {
      // Answers are read on every pass: a sender that falls behind its
      // schedule (a busy machine) must still count them.
      while (::recv(fd, buf, sizeof buf, 0) > 0) ++flood_answers;
      const auto due = start + std::chrono::microseconds(sent * 50);
      if (std::chrono::steady_clock::now() < due) std::this_thread::sleep_until(due);
      for (int burst = 0; burst < 20; ++burst, ++sent) {
        const auto q = Query(fmt::format("r{:x}.{}", rng(), kZone), ++id);
        if (::send(fd, q.data(), q.size(), 0) < 0) break;
        ++flood_sent;
      }
    }
    ::close(fd);
  });

  // Meanwhile a resolver asks for a real edge name from 127.0.0.1, every 20 ms.
  const int fd = Socket("127.0.0.1", port, false);
  ASSERT_GE(fd, 0);
  std::vector<double> latencies_ms;
  int answered = 0;
  int with_address = 0;
  for (int i = 0; i < 100; ++i) {
    const uint16_t id = static_cast<uint16_t>(0x4000 + i);
    const auto q = Query(fmt::format("t{}.cname.{}", (i * 197) % kNames, kZone), id);
    const auto sent = std::chrono::steady_clock::now();
    ASSERT_EQ(::send(fd, q.data(), q.size(), 0), static_cast<ssize_t>(q.size()));
    uint8_t buf[1500];
    pollfd p{fd, POLLIN, 0};
    while (::poll(&p, 1, 1000) == 1) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n < 12 || ((buf[0] << 8) | buf[1]) != id) continue;  // a late answer to a lost query
      latencies_ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - sent)
              .count());
      ++answered;
      const int rcode = buf[3] & 0x0f;
      const int ancount = (buf[6] << 8) | buf[7];
      if (rcode == 0 && ancount == 1) ++with_address;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::close(fd);
  stop = true;
  flood.join();
  (*responder)->Stop();

  ASSERT_FALSE(latencies_ms.empty());
  std::sort(latencies_ms.begin(), latencies_ms.end());
  const double p50 = latencies_ms[latencies_ms.size() / 2];
  const double p99 = latencies_ms[latencies_ms.size() * 99 / 100];
  std::cout << "[          ] valid queries: " << answered << "/100 answered, p50 " << p50
            << " ms, p99 " << p99 << " ms; flood: " << flood_sent << " sent, " << flood_answers
            << " answered\n";
  EXPECT_GE(answered, 98) << "a lost UDP datagram or two at most";
  EXPECT_EQ(with_address, answered) << "every answer is the edge address";
  // Without the per-source budget this VM lost 11 of 100 and had p50 51 ms,
  // p99 311 ms; with it, p50 0.2 ms (0.4 under ASan) and p99 20 ms (190 under
  // ASan, beside a build).
  EXPECT_LT(p50, 20.0);
  EXPECT_LT(p99, 500.0);
  EXPECT_GT(flood_sent, 20000) << "the flood was real";
  EXPECT_GT(flood_answers, 1000) << "the flooding source is answered too, within its budget";
  EXPECT_LT(flood_answers, flood_sent / 2) << "but not beyond it";
  EXPECT_EQ(source.stats().full_loads, 1);
  EXPECT_EQ(source.stats().key_reads, 0);
  EXPECT_EQ(source.stats().store_answers, 0) << "the queries never read the store";
}

}  // namespace
}  // namespace certgate::dns
