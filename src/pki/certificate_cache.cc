#include <openssl/x509.h>

#include "pki/certificate.h"

namespace certgate::pki {

X509Ptr ParsedCertificateCache::Parse(std::span<const uint8_t> der) {
  std::string key(reinterpret_cast<const char*>(der.data()), der.size());
  {
    std::lock_guard lock(mu_);
    if (auto it = parsed_.find(key); it != parsed_.end()) {
      X509_up_ref(it->second.get());
      return X509Ptr(it->second.get());
    }
  }
  const unsigned char* p = der.data();
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  std::lock_guard lock(mu_);
  ++parses_;
  if (!cert || static_cast<size_t>(p - der.data()) != der.size()) return nullptr;
  if (parsed_.size() >= capacity_) parsed_.clear();
  X509_up_ref(cert.get());
  parsed_.try_emplace(std::move(key), X509Ptr(cert.get()));
  return cert;
}

size_t ParsedCertificateCache::parses() const {
  std::lock_guard lock(mu_);
  return parses_;
}

}  // namespace certgate::pki
