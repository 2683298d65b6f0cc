#include "api/api_tls.h"

#include <fmt/format.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <filesystem>
#include <fstream>

#include "pki/openssl_error.h"
#include "pki/tls_posture.h"
#include "pki/ossl_ptr.h"

namespace certgate::api {
namespace {

namespace ssl = boost::asio::ssl;

struct Loaded {
  std::shared_ptr<ssl::context> context;
  std::string description;
};

Error ConfigError(std::string message) {
  return MakeError(ErrorCode::kConfigInvalid, std::move(message));
}

// A readable regular file, or an error that says which flag names it.
Result<void> CheckReadable(const std::string& file, std::string_view flag) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) {
    return ConfigError(fmt::format("{} {}: no such file", flag, file));
  }
  std::ifstream in(file);
  if (!in) return ConfigError(fmt::format("{} {}: cannot be read", flag, file));
  return {};
}

std::string Describe(X509* leaf) {
  std::string serial;
  const ASN1_INTEGER* s = X509_get0_serialNumber(leaf);
  pki::BignumPtr bn(ASN1_INTEGER_to_BN(s, nullptr));
  if (bn) {
    pki::OsslCharsPtr hex(BN_bn2hex(bn.get()));
    if (hex) serial = hex.get();
  }
  std::string subject;
  pki::BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio && X509_NAME_print_ex(bio.get(), X509_get_subject_name(leaf), 0, XN_FLAG_RFC2253) >= 0) {
    char* data = nullptr;
    long n = BIO_get_mem_data(bio.get(), &data);
    if (n > 0) subject.assign(data, static_cast<size_t>(n));
  }
  return fmt::format("serial {}, subject {}", serial, subject);
}

Result<Loaded> LoadFiles(const std::string& cert_file, const std::string& key_file) {
  pki::ScopedOpensslErrorDrain drain;
  CG_RETURN_IF_ERROR(CheckReadable(cert_file, "--api-tls-cert"));
  CG_RETURN_IF_ERROR(CheckReadable(key_file, "--api-tls-key"));
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* ctx = context->native_handle();
  CG_RETURN_IF_ERROR(pki::ApplyServerTlsPosture(ctx));
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
    return pki::OpensslError(
        ErrorCode::kConfigInvalid,
        fmt::format("--api-tls-cert {}: not a PEM certificate chain (leaf first)", cert_file));
  }
  X509* leaf = SSL_CTX_get0_certificate(ctx);
  if (leaf == nullptr) {
    return ConfigError(fmt::format("--api-tls-cert {}: holds no certificate", cert_file));
  }
  pki::BioPtr key_bio(BIO_new_file(key_file.c_str(), "r"));
  // An encrypted key fails instead of asking for a passphrase on the terminal.
  pem_password_cb* no_passphrase = [](char*, int, int, void*) { return -1; };
  pki::EvpPkeyPtr key(key_bio ? PEM_read_bio_PrivateKey(key_bio.get(), nullptr, no_passphrase,
                                                        nullptr)
                              : nullptr);
  if (!key) {
    return pki::OpensslError(
        ErrorCode::kConfigInvalid,
        fmt::format("--api-tls-key {}: not an unencrypted PEM private key", key_file));
  }
  if (X509_check_private_key(leaf, key.get()) != 1) {
    pki::ClearOpensslErrors();
    return ConfigError(fmt::format(
        "--api-tls-key {} does not belong to the certificate in --api-tls-cert {}", key_file,
        cert_file));
  }
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    return pki::OpensslError(ErrorCode::kConfigInvalid,
                             fmt::format("--api-tls-key {}: cannot be used", key_file));
  }
  return Loaded{std::move(context), Describe(leaf)};
}

Result<Loaded> LoadChain(const pki::Chain& chain, EVP_PKEY* key) {
  pki::ScopedOpensslErrorDrain drain;
  if (chain.certs.empty()) return ConfigError("the API's certificate chain is empty");
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* ctx = context->native_handle();
  CG_RETURN_IF_ERROR(pki::ApplyServerTlsPosture(ctx));
  if (X509_check_private_key(chain.leaf(), key) != 1) {
    pki::ClearOpensslErrors();
    return ConfigError("the API's private key does not belong to its certificate");
  }
  if (SSL_CTX_use_certificate(ctx, chain.leaf()) != 1) {
    return pki::OpensslError(ErrorCode::kConfigInvalid, "loading the API's certificate");
  }
  for (size_t i = 1; i < chain.certs.size(); ++i) {
    if (SSL_CTX_add1_chain_cert(ctx, chain.certs[i].get()) != 1) {
      return pki::OpensslError(ErrorCode::kConfigInvalid, "loading the API's certificate chain");
    }
  }
  if (SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    return pki::OpensslError(ErrorCode::kConfigInvalid, "loading the API's private key");
  }
  return Loaded{std::move(context), Describe(chain.leaf())};
}

}  // namespace

Result<std::unique_ptr<ApiTls>> ApiTls::FromChain(const pki::Chain& chain, EVP_PKEY* key) {
  CG_ASSIGN_OR_RETURN(Loaded loaded, LoadChain(chain, key));
  std::unique_ptr<ApiTls> tls(new ApiTls("", ""));
  tls->current_ = std::move(loaded.context);
  tls->description_ = std::move(loaded.description);
  return tls;
}

Result<void> ApiTls::Use(const pki::Chain& chain, EVP_PKEY* key) {
  CG_ASSIGN_OR_RETURN(Loaded loaded, LoadChain(chain, key));
  std::lock_guard lock(mu_);
  current_ = std::move(loaded.context);
  description_ = std::move(loaded.description);
  return {};
}

Result<std::unique_ptr<ApiTls>> ApiTls::Load(std::string cert_file, std::string key_file) {
  auto loaded = LoadFiles(cert_file, key_file);
  if (!loaded) return loaded.error();
  std::unique_ptr<ApiTls> tls(new ApiTls(std::move(cert_file), std::move(key_file)));
  tls->current_ = std::move(loaded->context);
  tls->description_ = std::move(loaded->description);
  return tls;
}

Result<void> ApiTls::Reload() {
  if (cert_file_.empty()) {
    return ConfigError("the API's certificate is --api-domain's, which certgate renews itself; "
                       "there are no files to reload");
  }
  auto loaded = LoadFiles(cert_file_, key_file_);
  if (!loaded) return loaded.error();
  std::lock_guard lock(mu_);
  current_ = std::move(loaded->context);
  description_ = std::move(loaded->description);
  return {};
}

std::shared_ptr<boost::asio::ssl::context> ApiTls::Current() const {
  std::lock_guard lock(mu_);
  return current_;
}

std::string ApiTls::Describe() const {
  std::lock_guard lock(mu_);
  return description_;
}

}  // namespace certgate::api
