#include "handshake/ceiling.h"

#include <stdexcept>
#include <vector>

#include <malloc.h>
#include <openssl/pem.h>
#include <time.h>

#include "handshake/bench_tls.h"
#include "handshake/load_generator.h"

namespace certgate::bench::handshake {
namespace {

using certgate::pki::SslCtxPtr;

double ThreadCpu() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

constexpr char kCeilingResponse[] = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";

// One connection over a BIO pair: handshake, request, response, close_notify.
// Only the server side's calls are timed (into *server_cpu). When keep is
// set, the server SSL is kept (its BIO swapped for a null one) and returned.
SSL* CeilingConnection(SSL_CTX* server_ctx, SSL_CTX* client_ctx, const std::string& sni,
                       double* server_cpu, long* tickets, bool keep) {
  Conn client_state;
  SSL* client = SSL_new(client_ctx);
  SSL_set_app_data(client, &client_state);
  SSL_ctrl(client, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
           const_cast<char*>(sni.c_str()));
  double t = ThreadCpu();
  SSL* server = SSL_new(server_ctx);
  *server_cpu += ThreadCpu() - t;
  BIO* cb = nullptr;
  BIO* sb = nullptr;
  BIO_new_bio_pair(&cb, 0, &sb, 0);
  SSL_set_bio(client, cb, cb);
  SSL_set_bio(server, sb, sb);
  SSL_set_connect_state(client);
  SSL_set_accept_state(server);
  bool client_done = false;
  bool server_done = false;
  for (int i = 0; i < 20 && !(client_done && server_done); ++i) {
    if (!client_done) {
      int r = SSL_do_handshake(client);
      if (r == 1)
        client_done = true;
      else if (SSL_get_error(client, r) != SSL_ERROR_WANT_READ)
        throw std::runtime_error("ceiling client: " + OpensslErrors());
    }
    if (!server_done) {
      t = ThreadCpu();
      int r = SSL_do_handshake(server);
      *server_cpu += ThreadCpu() - t;
      if (r == 1)
        server_done = true;
      else if (SSL_get_error(server, r) != SSL_ERROR_WANT_READ)
        throw std::runtime_error("ceiling server: " + OpensslErrors());
    }
  }
  if (!client_done || !server_done)
    throw std::runtime_error("ceiling: the handshake did not finish");
  const std::string request = "GET / HTTP/1.1\r\nHost: " + sni + "\r\nConnection: close\r\n\r\n";
  size_t n = 0;
  SSL_write_ex(client, request.data(), request.size(), &n);
  char buf[1024];
  t = ThreadCpu();
  if (SSL_read_ex(server, buf, sizeof buf, &n) != 1)
    throw std::runtime_error("ceiling server read: " + OpensslErrors());
  SSL_write_ex(server, kCeilingResponse, sizeof kCeilingResponse - 1, &n);
  if (!keep) SSL_shutdown(server);
  *server_cpu += ThreadCpu() - t;
  // The client reads the tickets and the response.
  while (SSL_read_ex(client, buf, sizeof buf, &n) == 1) {
  }
  *tickets += client_state.tickets;
  SSL_free(client);
  if (keep) {
    BIO* null = BIO_new(BIO_s_null());
    SSL_set_bio(server, null, null);
    return server;
  }
  t = ThreadCpu();
  SSL_free(server);
  *server_cpu += ThreadCpu() - t;
  return nullptr;
}

}  // namespace

SslCtxPtr MakeCeilingServerContext(const Pki& pki, int tickets) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  SSL_CTX* c = ctx.get();
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION);
  SSL_CTX_set1_groups_list(c, kGroup);
  SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_num_tickets(c, static_cast<size_t>(tickets));
  BIO* bio = BIO_new_mem_buf(pki.cert_pem[0].data(), static_cast<int>(pki.cert_pem[0].size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  X509* issuer = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  bio = BIO_new_mem_buf(pki.key_pem[0].data(), static_cast<int>(pki.key_pem[0].size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (cert == nullptr || issuer == nullptr || key == nullptr ||
      SSL_CTX_use_certificate(c, cert) != 1 || SSL_CTX_add0_chain_cert(c, issuer) != 1 ||
      SSL_CTX_use_PrivateKey(c, key) != 1) {
    throw std::runtime_error("ceiling context: " + OpensslErrors());
  }
  X509_free(cert);
  EVP_PKEY_free(key);
  return ctx;
}

CeilingSample RunCeiling(SSL_CTX* server_ctx, SSL_CTX* client_ctx, const std::string& sni,
                         int handshakes) {
  CeilingSample s;
  for (int i = 0; i < handshakes; ++i) {
    CeilingConnection(server_ctx, client_ctx, sni, &s.server_cpu_s, &s.tickets, false);
    ++s.handshakes;
  }
  return s;
}

double LibsslIdleBytes(SSL_CTX* server_ctx, SSL_CTX* client_ctx, const std::string& sni,
                       int count) {
  double cpu = 0;
  long tickets = 0;
  // Warm OpenSSL's lazily built tables first.
  for (int i = 0; i < 20; ++i)
    CeilingConnection(server_ctx, client_ctx, sni, &cpu, &tickets, false);
  std::vector<SSL*> kept;
  kept.reserve(static_cast<size_t>(count));
  ::malloc_trim(0);
  const struct mallinfo2 before = ::mallinfo2();
  for (int i = 0; i < count; ++i) {
    kept.push_back(CeilingConnection(server_ctx, client_ctx, sni, &cpu, &tickets, true));
  }
  const struct mallinfo2 after = ::mallinfo2();
  for (SSL* s : kept) SSL_free(s);
  const double used = static_cast<double>(after.uordblks + after.hblkhd) -
                      static_cast<double>(before.uordblks + before.hblkhd);
  return used / count;
}

}  // namespace certgate::bench::handshake
