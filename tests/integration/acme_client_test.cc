// acme::Client against the real Pebble CA, with pebble-challtestsrv as both
// Pebble's DNS and the HTTP-01 responder. Issued chains are verified against
// Pebble's issuing roots with OpenSSL.
#include "acme/client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "acme/poll.h"
#include "pki/certificate.h"
#include "pki/generate.h"
#include "pki/private_key.h"
#include "pki/testing/cert_factory.h"
#include "support/challtestsrv.h"
#include "support/pebble.h"

namespace certgate::acme {
namespace {

using certgate::testing::ChallTestSrv;
using certgate::testing::Pebble;
using certgate::testing::PebbleOptions;
using pki::testing::CachedKey;
using pki::testing::TestKeyType;
using SteadyClock = std::chrono::steady_clock;

constexpr PollOptions kFastPoll{std::chrono::milliseconds(50), std::chrono::milliseconds(500)};

// A name no other test (or earlier run) uses.
std::string UniqueName(std::string_view label) {
  static std::atomic<int> counter{0};
  return fmt::format("{}-{}-{}.certgate.test", label, getpid(), counter++);
}

std::unique_ptr<Client> MakeClient(const Pebble& pebble, int bad_nonce_retries = 5) {
  auto client = Client::Create(ClientOptions{.directory_url = pebble.directory_url(),
                                             .ca_file = pebble.ca_file(),
                                             .timeout = std::chrono::seconds(10),
                                             .bad_nonce_retries = bad_nonce_retries});
  EXPECT_TRUE(client.ok()) << client.error().message;
  return client.ok() ? std::move(client).value() : nullptr;
}

enum class Solve { kHttp01, kDns01, kNothing };

// Runs an order to the end: presents each pending authorization's challenge
// on challtestsrv, waits, finalizes with a CSR for cert_key, downloads.
Result<CertificateChain> Issue(Client& client, const AccountRef& account, ChallTestSrv& cts,
                               const std::vector<std::string>& names, EVP_PKEY* cert_key,
                               Solve solve) {
  const auto deadline = SteadyClock::now() + std::chrono::seconds(30);
  CG_ASSIGN_OR_RETURN(Order order, client.NewOrder(account, names));
  EXPECT_EQ(order.status, "pending");
  EXPECT_EQ(std::set<std::string>(order.identifiers.begin(), order.identifiers.end()),
            std::set<std::string>(names.begin(), names.end()));
  for (const std::string& url : order.authorizations) {
    CG_ASSIGN_OR_RETURN(Authorization authz, client.GetAuthorization(account, url));
    if (authz.status == "valid") continue;  // Pebble reuses valid authorizations
    const Challenge* challenge = authz.Find(solve == Solve::kDns01 ? "dns-01" : "http-01");
    if (challenge == nullptr) return MakeError(ErrorCode::kInternal, "no suitable challenge");
    if (solve == Solve::kHttp01) {
      CG_ASSIGN_OR_RETURN(std::string ka, Client::KeyAuthorization(account.key, challenge->token));
      cts.AddHttp01(challenge->token, ka);
    } else if (solve == Solve::kDns01) {
      CG_ASSIGN_OR_RETURN(std::string txt, Client::Dns01TxtValue(account.key, challenge->token));
      cts.SetTxt("_acme-challenge." + authz.identifier, txt);
    }
    CG_ASSIGN_OR_RETURN(Challenge responded, client.RespondToChallenge(account, challenge->url));
    EXPECT_EQ(responded.url, challenge->url);
  }
  CG_ASSIGN_OR_RETURN(order, WaitForOrder(client, account, order.url, deadline, kFastPoll));
  EXPECT_EQ(order.status, "ready");
  CG_ASSIGN_OR_RETURN(std::vector<uint8_t> csr, pki::MakeCsr(cert_key, names));
  CG_ASSIGN_OR_RETURN(Order finalized, client.Finalize(account, order.finalize, csr));
  EXPECT_TRUE(finalized.status == "processing" || finalized.status == "valid")
      << finalized.status;
  CG_ASSIGN_OR_RETURN(order, WaitForOrder(client, account, order.url, deadline, kFastPoll));
  EXPECT_EQ(order.status, "valid");
  if (order.certificate.empty()) return MakeError(ErrorCode::kInternal, "no certificate URL");
  return client.DownloadCertificate(account, order.certificate);
}

// Verifies chain_pem (leaf first) up to one of roots_pem with OpenSSL and
// returns the leaf's description.
pki::CertificateInfo VerifyChain(const std::string& chain_pem, const std::string& roots_pem) {
  auto chain = pki::ParseCertificateBundle(chain_pem);
  EXPECT_TRUE(chain.ok()) << chain.error().message;
  if (!chain.ok()) return {};
  EXPECT_TRUE(pki::CheckChainOrder(*chain).ok());
  auto roots = pki::ParseCertificateBundle(roots_pem);
  EXPECT_TRUE(roots.ok()) << roots.error().message;
  if (!roots.ok()) return {};
  X509_STORE* store = X509_STORE_new();
  for (const auto& root : roots->certs) X509_STORE_add_cert(store, root.get());
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  for (size_t i = 1; i < chain->certs.size(); ++i) sk_X509_push(untrusted, chain->certs[i].get());
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, chain->leaf(), untrusted);
  X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
  int ok = X509_verify_cert(ctx);
  EXPECT_EQ(ok, 1) << "chain does not verify: "
                   << X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
  X509_STORE_CTX_free(ctx);
  sk_X509_free(untrusted);
  X509_STORE_free(store);
  return pki::DescribeCertificate(chain->leaf());
}

std::set<std::string> AsSet(const std::vector<std::string>& v) { return {v.begin(), v.end()}; }

// One challtestsrv and one Pebble (with an alternate root) for the suite.
class AcmeClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cts_ = new ChallTestSrv();
    pebble_ = new Pebble(PebbleOptions{.http_port = cts_->http01_port(),
                                       .dns_server = cts_->dns_address(),
                                       .alternate_roots = 1});
  }
  static void TearDownTestSuite() {
    delete pebble_;
    delete cts_;
    pebble_ = nullptr;
    cts_ = nullptr;
  }
  void SetUp() override {
    client_ = MakeClient(*pebble_);
    ASSERT_NE(client_, nullptr);
  }

  AccountRef Register(EVP_PKEY* key) {
    auto url = client_->RegisterAccount(key, AccountOptions{.contacts = {"mailto:ops@certgate.test"}});
    EXPECT_TRUE(url.ok()) << url.error().message;
    return AccountRef{key, url.ok() ? *url : ""};
  }

  static ChallTestSrv* cts_;
  static Pebble* pebble_;
  std::unique_ptr<Client> client_;
};
ChallTestSrv* AcmeClientTest::cts_ = nullptr;
Pebble* AcmeClientTest::pebble_ = nullptr;

TEST_F(AcmeClientTest, DirectoryIsReadAndCached) {
  auto dir = client_->GetDirectory();
  ASSERT_TRUE(dir.ok()) << dir.error().message;
  EXPECT_EQ(dir->new_nonce.rfind("https://127.0.0.1:", 0), 0u) << dir->new_nonce;
  EXPECT_FALSE(dir->new_account.empty());
  EXPECT_FALSE(dir->new_order.empty());
  EXPECT_FALSE(dir->terms_of_service.empty());
  EXPECT_FALSE(dir->external_account_required);
  auto again = client_->GetDirectory();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->new_order, dir->new_order);
}

TEST_F(AcmeClientTest, RegistersAnAccountOnceAndFindsItAgain) {
  pki::EvpPkeyPtr key = pki::GenerateKey(pki::GeneratedKeyType::kEcdsaP256).value();
  auto missing = client_->FindAccount(key.get());
  ASSERT_TRUE(missing.ok()) << missing.error().message;
  EXPECT_FALSE(missing->has_value());

  auto url = client_->RegisterAccount(key.get(), AccountOptions{});
  ASSERT_TRUE(url.ok()) << url.error().message;
  EXPECT_EQ(url->rfind("https://127.0.0.1:", 0), 0u) << *url;
  auto again = client_->RegisterAccount(key.get(), AccountOptions{});
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(*again, *url);
  auto found = client_->FindAccount(key.get());
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->value_or(""), *url);

  // A different key is a different account.
  pki::EvpPkeyPtr other = pki::GenerateKey(pki::GeneratedKeyType::kEcdsaP256).value();
  auto other_url = client_->RegisterAccount(other.get(), AccountOptions{});
  ASSERT_TRUE(other_url.ok());
  EXPECT_NE(*other_url, *url);
}

TEST_F(AcmeClientTest, IssuesEcdsaCertificateForTwoNamesOverHttp01) {
  pki::EvpPkeyPtr account_key = pki::GenerateKey(pki::GeneratedKeyType::kEcdsaP256).value();
  AccountRef account = Register(account_key.get());
  pki::EvpPkeyPtr cert_key = pki::GenerateKey(pki::GeneratedKeyType::kEcdsaP256).value();
  std::vector<std::string> names = {UniqueName("www"), UniqueName("api")};
  auto chain = Issue(*client_, account, *cts_, names, cert_key.get(), Solve::kHttp01);
  ASSERT_TRUE(chain.ok()) << chain.error().message;
  auto info = VerifyChain(chain->pem, pebble_->IssuingRootsPem());
  EXPECT_EQ(AsSet(info.dns_names), AsSet(names));
  EXPECT_EQ(info.private_key_type, "ecdsa");
  auto leaf = pki::ParseCertificateBundle(chain->pem);
  ASSERT_TRUE(leaf.ok());
  EXPECT_TRUE(pki::CheckKeyMatchesCertificate(cert_key.get(), leaf->leaf()).ok());
}

// An RSA account key (RS256) ordering an RSA-4096 certificate.
TEST_F(AcmeClientTest, IssuesRsa4096CertificateWithRsaAccountKey) {
  AccountRef account = Register(CachedKey(TestKeyType::kRsa2048));
  EVP_PKEY* cert_key = CachedKey(TestKeyType::kRsa4096);
  std::vector<std::string> names = {UniqueName("rsa")};
  auto chain = Issue(*client_, account, *cts_, names, cert_key, Solve::kHttp01);
  ASSERT_TRUE(chain.ok()) << chain.error().message;
  auto info = VerifyChain(chain->pem, pebble_->IssuingRootsPem());
  EXPECT_EQ(AsSet(info.dns_names), AsSet(names));
  EXPECT_EQ(info.private_key_type, "rsa");
  EXPECT_EQ(EVP_PKEY_get_bits(X509_get0_pubkey(pki::ParseCertificateBundle(chain->pem)->leaf())),
            4096);
}

TEST_F(AcmeClientTest, IssuesWildcardOverDns01) {
  AccountRef account = Register(CachedKey(TestKeyType::kEcP256));
  std::string base = UniqueName("wild");
  std::vector<std::string> names = {"*." + base, base};
  pki::EvpPkeyPtr cert_key = pki::GenerateKey(pki::GeneratedKeyType::kEcdsaP256).value();
  auto chain = Issue(*client_, account, *cts_, names, cert_key.get(), Solve::kDns01);
  cts_->ClearTxt("_acme-challenge." + base);
  ASSERT_TRUE(chain.ok()) << chain.error().message;
  auto info = VerifyChain(chain->pem, pebble_->IssuingRootsPem());
  EXPECT_EQ(AsSet(info.dns_names), AsSet(names));
  auto parsed = pki::ParseCertificateBundle(chain->pem);
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(pki::CertificateCoversDomain(parsed->leaf(), "anything." + base));
}

TEST_F(AcmeClientTest, WildcardAuthorizationOffersOnlyDns01) {
  AccountRef account = Register(CachedKey(TestKeyType::kEcP256));
  std::string base = UniqueName("wildauthz");
  auto order = client_->NewOrder(account, {"*." + base});
  ASSERT_TRUE(order.ok()) << order.error().message;
  ASSERT_EQ(order->authorizations.size(), 1u);
  auto authz = client_->GetAuthorization(account, order->authorizations[0]);
  ASSERT_TRUE(authz.ok()) << authz.error().message;
  EXPECT_TRUE(authz->wildcard);
  EXPECT_EQ(authz->identifier, base);
  EXPECT_EQ(authz->status, "pending");
  ASSERT_NE(authz->Find("dns-01"), nullptr);
  EXPECT_EQ(authz->Find("http-01"), nullptr);
  EXPECT_FALSE(authz->Find("dns-01")->token.empty());
}

TEST_F(AcmeClientTest, AlternateChainsAreOfferedAndVerify) {
  AccountRef account = Register(CachedKey(TestKeyType::kEcP256));
  std::vector<std::string> names = {UniqueName("alt")};
  auto chain = Issue(*client_, account, *cts_, names, CachedKey(TestKeyType::kEcP384),
                     Solve::kHttp01);
  ASSERT_TRUE(chain.ok()) << chain.error().message;
  ASSERT_EQ(chain->alternate_urls.size(), 1u);
  auto alternate = client_->DownloadCertificate(account, chain->alternate_urls[0]);
  ASSERT_TRUE(alternate.ok()) << alternate.error().message;
  EXPECT_NE(alternate->pem, chain->pem);

  // Each chain leads to its own root: roots/0 for the default, roots/1 for
  // the alternate, and not the other way round.
  auto roots = pki::ParseCertificateBundle(pebble_->IssuingRootsPem());
  ASSERT_TRUE(roots.ok());
  ASSERT_EQ(roots->certs.size(), 2u);
  std::string root0 = pki::testing::CertPem(roots->certs[0].get());
  std::string root1 = pki::testing::CertPem(roots->certs[1].get());
  EXPECT_EQ(AsSet(VerifyChain(chain->pem, root0).dns_names), AsSet(names));
  EXPECT_EQ(AsSet(VerifyChain(alternate->pem, root1).dns_names), AsSet(names));
  auto cross = pki::ParseCertificateBundle(alternate->pem);
  ASSERT_TRUE(cross.ok());
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, roots->certs[0].get());
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  for (size_t i = 1; i < cross->certs.size(); ++i) sk_X509_push(untrusted, cross->certs[i].get());
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, cross->leaf(), untrusted);
  EXPECT_NE(X509_verify_cert(ctx), 1) << "the alternate chain should not lead to roots/0";
  X509_STORE_CTX_free(ctx);
  sk_X509_free(untrusted);
  X509_STORE_free(store);
}

TEST_F(AcmeClientTest, UnservedHttp01TokenEndsInvalidWithTheProblem) {
  AccountRef account = Register(CachedKey(TestKeyType::kEcP256));
  std::string name = UniqueName("unserved");
  auto chain = Issue(*client_, account, *cts_, {name}, CachedKey(TestKeyType::kEcP384),
                     Solve::kNothing);
  ASSERT_FALSE(chain.ok());
  EXPECT_EQ(chain.error().code, ErrorCode::kAcmeOrderFailed) << chain.error().message;
  // The authorization's failure is spelled out: the name, the challenge type,
  // the problem type and Pebble's detail (challtestsrv answers unknown
  // tokens with an empty body).
  EXPECT_NE(chain.error().message.find(name + ": http-01: unauthorized: "), std::string::npos)
      << chain.error().message;
  EXPECT_NE(chain.error().message.find("did not match"), std::string::npos)
      << chain.error().message;
}

TEST_F(AcmeClientTest, RefusedOrderIsAProblemWithItsType) {
  AccountRef account = Register(CachedKey(TestKeyType::kEcP256));
  auto order = client_->NewOrder(account, {"*.*." + UniqueName("double")});
  ASSERT_FALSE(order.ok());
  EXPECT_EQ(order.error().code, ErrorCode::kAcmeProblem);
  EXPECT_EQ(order.error().message.rfind("the CA refused newOrder: ", 0), 0u)
      << order.error().message;
  EXPECT_FALSE(ProblemTypeOf(order.error()).empty());
  EXPECT_NE(order.error().message.find("wildcard"), std::string::npos) << order.error().message;
}

TEST_F(AcmeClientTest, UnknownAccountIsAccountDoesNotExist) {
  AccountRef account = Register(CachedKey(TestKeyType::kEcP256));
  account.url += "-nope";
  auto order = client_->NewOrder(account, {UniqueName("ghost")});
  ASSERT_FALSE(order.ok());
  EXPECT_TRUE(IsProblem(order.error(), "accountDoesNotExist")) << order.error().message;
}

TEST_F(AcmeClientTest, ConcurrentOrdersShareOneClient) {
  AccountRef account = Register(CachedKey(TestKeyType::kEcP256));
  constexpr int kThreads = 3;
  std::vector<std::thread> threads;
  std::vector<std::string> errors(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      std::vector<std::string> names = {UniqueName("par")};
      auto chain = Issue(*client_, account, *cts_, names, CachedKey(TestKeyType::kEcP384),
                         Solve::kHttp01);
      if (!chain.ok()) errors[i] = chain.error().message;
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& e : errors) EXPECT_EQ(e, "");
}

// Pebble rejecting half of all good nonces: every request still succeeds.
TEST(AcmeClientPeersTest, SurvivesFrequentBadNonces) {
  ChallTestSrv cts;
  Pebble pebble(PebbleOptions{.http_port = cts.http01_port(),
                              .dns_server = cts.dns_address(),
                              .nonce_reject_percent = 50});
  // 50 % rejection: 20 retries leave ~1e-6 of failure per request.
  auto client = MakeClient(pebble, /*bad_nonce_retries=*/20);
  ASSERT_NE(client, nullptr);
  EVP_PKEY* key = CachedKey(TestKeyType::kEcP256);
  auto url = client->RegisterAccount(key, AccountOptions{});
  ASSERT_TRUE(url.ok()) << url.error().message;
  std::vector<std::string> names = {UniqueName("nonce")};
  auto chain = Issue(*client, AccountRef{key, *url}, cts, names, CachedKey(TestKeyType::kEcP384),
                     Solve::kHttp01);
  ASSERT_TRUE(chain.ok()) << chain.error().message;
  EXPECT_EQ(AsSet(VerifyChain(chain->pem, pebble.IssuingRootsPem()).dns_names), AsSet(names));
  // More requests, so that P(no rejection at all) is below 2^-20.
  for (int i = 0; i < 10; ++i) {
    auto found = client->FindAccount(key);
    ASSERT_TRUE(found.ok()) << found.error().message;
    EXPECT_EQ(found->value_or(""), *url);
  }
  // Pebble did reject nonces along the way: the retry was exercised.
  EXPECT_GT(client->bad_nonce_retries(), 0u);

  // Without retries, a CA that rejects every nonce is reported as such.
  Pebble always(PebbleOptions{.http_port = cts.http01_port(), .nonce_reject_percent = 100});
  auto strict = MakeClient(always, /*bad_nonce_retries=*/2);
  ASSERT_NE(strict, nullptr);
  auto refused = strict->RegisterAccount(key, AccountOptions{});
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(IsProblem(refused.error(), "badNonce")) << refused.error().message;
}

TEST(AcmeClientPeersTest, ExternalAccountBindingWhenRequired) {
  const std::string hmac = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";
  Pebble pebble(PebbleOptions{.http_port = certgate::testing::PickFreePort(), .eab_keys = {{"kid-1", hmac}}});
  auto client = MakeClient(pebble);
  ASSERT_NE(client, nullptr);
  EXPECT_TRUE(client->GetDirectory()->external_account_required);
  EVP_PKEY* key = CachedKey(TestKeyType::kEcP256);

  auto without = client->RegisterAccount(key, AccountOptions{});
  ASSERT_FALSE(without.ok());
  EXPECT_EQ(without.error().code, ErrorCode::kAcmeProblem);
  EXPECT_TRUE(IsProblem(without.error(), "externalAccountRequired")) << without.error().message;

  // The wrong MAC key: refused.
  auto wrong = client->RegisterAccount(
      key, AccountOptions{.eab = ExternalAccountBinding{
                              "kid-1", "b10lLJs8l1GPIzsLP0s6pMt8O0XVGnfTaCeROxQM0BIt2XrJMDHJZBM5"
                                       "NuQmQJQH"}});
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, ErrorCode::kAcmeProblem) << wrong.error().message;

  auto with = client->RegisterAccount(
      key, AccountOptions{.eab = ExternalAccountBinding{"kid-1", hmac}});
  ASSERT_TRUE(with.ok()) << with.error().message;
  EXPECT_FALSE(with->empty());
}

// Also: a short certificate validity (certificateValidityPeriod), as renewal
// tests use it.
TEST(AcmeClientPeersTest, StoppedAndRestartedCa) {
  ChallTestSrv cts;
  Pebble pebble(PebbleOptions{.http_port = cts.http01_port(),
                              .dns_server = cts.dns_address(),
                              .certificate_validity_seconds = 3600});
  auto client = MakeClient(pebble);
  ASSERT_NE(client, nullptr);
  EVP_PKEY* key = CachedKey(TestKeyType::kEcP256);
  auto url = client->RegisterAccount(key, AccountOptions{});
  ASSERT_TRUE(url.ok()) << url.error().message;

  pebble.Stop();
  auto start = SteadyClock::now();
  auto order = client->NewOrder(AccountRef{key, *url}, {UniqueName("down")});
  auto took = SteadyClock::now() - start;
  ASSERT_FALSE(order.ok());
  EXPECT_EQ(order.error().code, ErrorCode::kAcmeUnreachable) << order.error().message;
  EXPECT_LT(took, std::chrono::seconds(2));

  // Pebble forgets everything on restart: the old account is gone, the
  // pooled nonces are stale (retried transparently), a new account works.
  pebble.Start();
  auto gone = client->NewOrder(AccountRef{key, *url}, {UniqueName("gone")});
  ASSERT_FALSE(gone.ok());
  EXPECT_TRUE(IsProblem(gone.error(), "accountDoesNotExist")) << gone.error().message;
  auto again = client->RegisterAccount(key, AccountOptions{});
  ASSERT_TRUE(again.ok()) << again.error().message;
  std::vector<std::string> names = {UniqueName("restarted")};
  auto chain = Issue(*client, AccountRef{key, *again}, cts, names,
                     CachedKey(TestKeyType::kEcP384), Solve::kHttp01);
  ASSERT_TRUE(chain.ok()) << chain.error().message;
  auto info = VerifyChain(chain->pem, pebble.IssuingRootsPem());
  EXPECT_EQ(AsSet(info.dns_names), AsSet(names));
  auto lifetime = info.not_after - info.not_before;
  EXPECT_GE(lifetime, std::chrono::seconds(3540));
  EXPECT_LE(lifetime, std::chrono::seconds(3660));
}

// A server that accepts TCP connections and never answers: the exchange
// times out as kAcmeUnreachable at the configured deadline.
TEST(AcmeClientPeersTest, SilentServerTimesOut) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 8), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  auto client = Client::Create(ClientOptions{
      .directory_url = fmt::format("https://127.0.0.1:{}/dir", ntohs(addr.sin_port)),
      .timeout = std::chrono::milliseconds(300)});
  ASSERT_TRUE(client.ok());
  auto start = SteadyClock::now();
  auto dir = (*client)->GetDirectory();
  auto took = SteadyClock::now() - start;
  ::close(fd);
  ASSERT_FALSE(dir.ok());
  EXPECT_EQ(dir.error().code, ErrorCode::kAcmeUnreachable) << dir.error().message;
  EXPECT_GE(took, std::chrono::milliseconds(250));
  EXPECT_LT(took, std::chrono::seconds(2));
}

// The CA's HTTPS certificate must verify: without its CA file, refused.
TEST(AcmeClientPeersTest, UntrustedCaCertificateIsRefused) {
  Pebble pebble(PebbleOptions{.http_port = certgate::testing::PickFreePort()});
  auto client = Client::Create(ClientOptions{.directory_url = pebble.directory_url()});
  ASSERT_TRUE(client.ok());
  auto dir = (*client)->GetDirectory();
  ASSERT_FALSE(dir.ok());
  EXPECT_EQ(dir.error().code, ErrorCode::kAcmeUnreachable);
  EXPECT_NE(dir.error().message.find("TLS handshake"), std::string::npos) << dir.error().message;
}

}  // namespace
}  // namespace certgate::acme
