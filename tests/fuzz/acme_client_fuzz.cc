// What an ACME CA answers, read by acme::Client: the HTTP response (status
// line, headers, Replay-Nonce, Retry-After, Link, Content-Type) and its body
// (the directory, orders, authorizations, challenges, problem documents,
// certificate chains, renewal information).
//
// A fake CA runs on loopback for the whole session. The input's first byte
// picks the client call; the rest is the CA's answer to it: status line and
// header lines up to the first empty line ("200 OK\nContent-Type: ...\n\n"),
// then the body (Content-Length is added). The directory and nonces are
// fixed, except for call 0, which reads the fuzzed answer as the directory
// and stops there (a fuzzed directory's URLs could point anywhere).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/pem.h>

#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "acme/client.h"
#include "fuzz_util.h"
#include "pki/generate.h"
#include "pki/ossl_ptr.h"

namespace {

using namespace certgate;

// A leaf with an authority key identifier, for renewal information.
constexpr char kLeafPem[] = R"(-----BEGIN CERTIFICATE-----
MIICYDCCAgagAwIBAgIUbqeVZAk+ARNQZ9w0xc1nOa6VQ2wwCgYIKoZIzj0EAwIw
NDEaMBgGA1UEAwwRRnV6eiBJbnRlcm1lZGlhdGUxFjAUBgNVBAoMDWNlcnRnYXRl
IGZ1enowHhcNMjYxMjA2MDQwODAxWhcNMzYxMjAzMDQwODAxWjBlMRgwFgYDVQQD
DA9hcHAuZXhhbXBsZS5jb20xEDAOBgNVBAoMB0V4YW1wbGUxDDAKBgNVBAsMA09w
czEPMA0GA1UEBwwGQmVybGluMQswCQYDVQQIDAJCRTELMAkGA1UEBhMCREUwWTAT
BgcqhkjOPQIBBggqhkjOPQMBBwNCAATQAGfiesRxXqNqs4WoMq18xm8pP0zUUPYm
yitchWnpZgGg0a14WawvhJHM1KkjntjT4I+NhgBvb5tmHQewr8ILo4HEMIHBMAkG
A1UdEwQCMAAwDgYDVR0PAQH/BAQDAgeAMB0GA1UdJQQWMBQGCCsGAQUFBwMBBggr
BgEFBQcDAjBFBgNVHREEPjA8gg9hcHAuZXhhbXBsZS5jb22CESouYXBwLmV4YW1w
bGUuY29thwTAAAIBhxAgAQ24AAAAAAAAAAAAAAABMB0GA1UdDgQWBBSPaAOTFqi1
J0wQxx6AzCZ471JPdTAfBgNVHSMEGDAWgBQlbfZvwUpeXdHRfHmSERpIHRWH6DAK
BggqhkjOPQQDAgNIADBFAiEA0fGCoxMIK1GpNZ32ea5H6tga6p9aEYnZjsbLzpjg
2mMCICjAO6j09dP+XRXHVJ0dmYdxjgtwBfDTbfpF1psICmwG
-----END CERTIFICATE-----
)";

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "acme_client_fuzz: %s\n", what.c_str());
  std::abort();
}

class FakeCa {
 public:
  FakeCa() {
    listener_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (listener_ < 0 || bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        listen(listener_, 64) != 0 ||
        getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      Die("cannot listen");
    }
    base_ = "http://127.0.0.1:" + std::to_string(ntohs(a.sin_port));
    std::thread([this] { Serve(); }).detach();
  }

  const std::string& base() const { return base_; }
  std::string Directory() const {
    return R"({"newNonce":")" + base_ + R"(/nonce","newAccount":")" + base_ +
           R"(/new-acct","newOrder":")" + base_ + R"(/new-order","revokeCert":")" + base_ +
           R"(/revoke","renewalInfo":")" + base_ +
           R"(/renewal-info","meta":{"termsOfService":"https://ca.test/tos"}})";
  }
  void SetAnswer(std::string answer, bool fuzz_directory) {
    std::lock_guard lock(mu_);
    answer_ = std::move(answer);
    fuzz_directory_ = fuzz_directory;
  }

 private:
  static std::string Ok(std::string_view headers, std::string_view body) {
    return "HTTP/1.1 200 OK\r\n" + std::string(headers) +
           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
  }

  void Serve() {
    // libFuzzer's -timeout SIGALRM (no SA_RESTART) goes to the fuzzing thread,
    // not here, where it would cut a recv or send short with EINTR.
    sigset_t alarm;
    sigemptyset(&alarm);
    sigaddset(&alarm, SIGALRM);
    pthread_sigmask(SIG_BLOCK, &alarm, nullptr);
    for (uint64_t n = 0;; ++n) {
      const int c = accept(listener_, nullptr, nullptr);
      if (c < 0) continue;
      const std::string target = ReadRequestTarget(c);
      std::string out;
      {
        std::lock_guard lock(mu_);
        if (target == "/dir") {
          out = fuzz_directory_ ? answer_
                                : Ok("Content-Type: application/json\r\n", Directory());
        } else if (target == "/nonce") {
          out = Ok("Replay-Nonce: nonce" + std::to_string(n) + "\r\n", "");
        } else {
          out = answer_;
        }
      }
      send(c, out.data(), out.size(), MSG_NOSIGNAL);
      shutdown(c, SHUT_WR);
      char drain[4096];
      while (recv(c, drain, sizeof drain, 0) > 0) {
      }
      close(c);
    }
  }

  // Reads the request (head and Content-Length body) and returns its target.
  static std::string ReadRequestTarget(int c) {
    std::string in;
    char buf[8192];
    size_t head_end = std::string::npos;
    while (head_end == std::string::npos) {
      const ssize_t n = recv(c, buf, sizeof buf, 0);
      if (n <= 0) return "";
      in.append(buf, static_cast<size_t>(n));
      head_end = in.find("\r\n\r\n");
    }
    size_t body = 0;
    if (auto p = in.find("Content-Length: "); p != std::string::npos && p < head_end) {
      body = std::strtoul(in.c_str() + p + 16, nullptr, 10);
    }
    while (in.size() < head_end + 4 + body) {
      const ssize_t n = recv(c, buf, sizeof buf, 0);
      if (n <= 0) break;
      in.append(buf, static_cast<size_t>(n));
    }
    const size_t sp1 = in.find(' ');
    const size_t sp2 = in.find(' ', sp1 + 1);
    if (sp1 == std::string::npos || sp2 == std::string::npos) return "";
    return in.substr(sp1 + 1, sp2 - sp1 - 1);
  }

  int listener_ = -1;
  std::string base_;
  std::mutex mu_;
  std::string answer_;
  bool fuzz_directory_ = false;
};

struct World {
  FakeCa ca;
  acme::ClientOptions options;
  std::unique_ptr<acme::Client> client;
  pki::EvpPkeyPtr key;
  pki::X509Ptr leaf;

  World() {
    options.directory_url = ca.base() + "/dir";
    options.timeout = std::chrono::seconds(5);
    options.bad_nonce_retries = 1;
    client = NewClient();
    auto k = pki::GenerateKey(pki::GeneratedKeyType::kEcdsaP256);
    if (!k.ok()) Die(k.error().message);
    key = std::move(*k);
    pki::BioPtr bio(BIO_new_mem_buf(kLeafPem, -1));
    leaf.reset(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    ERR_clear_error();
  }
  std::unique_ptr<acme::Client> NewClient() {
    auto c = acme::Client::Create(options);
    if (!c.ok()) Die(c.error().message);
    return std::move(*c);
  }
};

World& TheWorld() {
  static World* w = new World;
  return *w;
}

// "200 OK\nA: b\n\nbody" -> a complete HTTP/1.1 response.
std::string Response(std::string_view in) {
  auto [head, body] = fuzz::SplitAt(in, "\n\n");
  std::string out = "HTTP/1.1 ";
  for (char c : head) {
    if (c == '\n') out += '\r';
    out += c;
  }
  out += "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  out += body;
  return out;
}

template <class T>
void Check(const Result<T>& r) {
  fuzz::CheckIfError(r);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 64 * 1024) return -1;
  World& w = TheWorld();
  const unsigned call = data[0] % 10;
  w.ca.SetAnswer(Response(fuzz::AsText(data + 1, size - 1)), call == 0);
  const acme::AccountRef account{w.key.get(), w.ca.base() + "/acct/1"};
  const std::string url = w.ca.base() + "/obj/1";
  switch (call) {
    case 0: {
      auto fresh = w.NewClient();
      Check(fresh->GetDirectory());
      break;
    }
    case 1:
      Check(w.client->NewOrder(account, {"app.example.com", "*.app.example.com"}));
      break;
    case 2:
      Check(w.client->GetOrder(account, url));
      break;
    case 3: {
      auto a = w.client->GetAuthorization(account, url);
      Check(a);
      if (a.ok()) (void)a->Find("http-01");
      break;
    }
    case 4:
      Check(w.client->RespondToChallenge(account, url));
      break;
    case 5: {
      const uint8_t csr[] = {0x30, 0x00};
      Check(w.client->Finalize(account, url, csr));
      break;
    }
    case 6:
      Check(w.client->DownloadCertificate(account, url));
      break;
    case 7:
      Check(w.client->FindAccount(w.key.get()));
      break;
    case 8:
      Check(w.client->RegisterAccount(w.key.get(), {.contacts = {"mailto:ops@example.com"}}));
      break;
    case 9:
      if (w.leaf) Check(w.client->GetRenewalInfo(w.leaf.get()));
      break;
  }
  ERR_clear_error();
  return 0;
}
