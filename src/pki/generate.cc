#include "pki/generate.h"

#include <array>
#include <ctime>

#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "pki/openssl_error.h"

namespace certgate::pki {
namespace {

// X.520's upper bound for a commonName; longer names live only in the SAN.
constexpr size_t kMaxCommonNameChars = 64;

// Ed25519 and Ed448 sign the message itself; everything else hashes with SHA-256.
const EVP_MD* DigestFor(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_is_a(key, "ED448")) return nullptr;
  return EVP_sha256();
}

// CN=first name, or an empty name when the first name is too long for a CN
// (as ACME CAs accept: the names are in the SAN extension).
Result<X509NamePtr> SubjectFor(const std::vector<std::string>& dns_names) {
  X509NamePtr name(X509_NAME_new());
  if (!name) return OpensslError(ErrorCode::kInternal, "cannot allocate a subject name");
  const std::string& cn = dns_names.front();
  if (cn.size() <= kMaxCommonNameChars &&
      X509_NAME_add_entry_by_NID(name.get(), NID_commonName, MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                 0) != 1) {
    return OpensslError(ErrorCode::kInternal, "cannot set the subject common name");
  }
  return name;
}

Result<GeneralNamesPtr> DnsNames(const std::vector<std::string>& dns_names) {
  GeneralNamesPtr names(GENERAL_NAMES_new());
  if (!names) return OpensslError(ErrorCode::kInternal, "cannot allocate subjectAltName");
  for (const std::string& dns : dns_names) {
    GeneralNamePtr gn(a2i_GENERAL_NAME(nullptr, nullptr, nullptr, GEN_DNS, dns.c_str(), 0));
    if (!gn || sk_GENERAL_NAME_push(names.get(), gn.get()) <= 0) {
      return OpensslError(ErrorCode::kInternal, "cannot add a DNS name to subjectAltName");
    }
    static_cast<void>(gn.release());  // now owned by names
  }
  return names;
}

Result<void> AddExtension(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  X509ExtensionPtr ext(X509V3_EXT_nconf_nid(nullptr, ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return OpensslError(ErrorCode::kInternal,
                        std::string("cannot add the certificate extension ") + OBJ_nid2sn(nid));
  }
  return {};
}

Result<void> RequireNames(const std::vector<std::string>& dns_names) {
  if (dns_names.empty()) return MakeError(ErrorCode::kInternal, "no DNS names to certify");
  for (const auto& name : dns_names) {
    if (name.empty() || name.find('\0') != std::string::npos) {
      return MakeError(ErrorCode::kInternal, "a DNS name to certify is empty or holds NUL");
    }
  }
  return {};
}

}  // namespace

Result<EvpPkeyPtr> GenerateKey(GeneratedKeyType type) {
  ScopedOpensslErrorDrain drain;
  EVP_PKEY* key = nullptr;
  switch (type) {
    case GeneratedKeyType::kEcdsaP256:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
      break;
    case GeneratedKeyType::kRsa4096:
      key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(4096));
      break;
  }
  if (key == nullptr) return OpensslError(ErrorCode::kInternal, "key generation failed");
  return EvpPkeyPtr(key);
}

Result<std::vector<uint8_t>> MakeCsr(EVP_PKEY* key, const std::vector<std::string>& dns_names) {
  ScopedOpensslErrorDrain drain;
  CG_RETURN_IF_ERROR(RequireNames(dns_names));
  X509ReqPtr req(X509_REQ_new());
  if (!req) return OpensslError(ErrorCode::kInternal, "cannot allocate a CSR");
  CG_ASSIGN_OR_RETURN(X509NamePtr subject, SubjectFor(dns_names));
  CG_ASSIGN_OR_RETURN(GeneralNamesPtr names, DnsNames(dns_names));
  X509ExtensionStackPtr exts(sk_X509_EXTENSION_new_null());
  X509ExtensionPtr san(X509V3_EXT_i2d(NID_subject_alt_name, 0, names.get()));
  if (!exts || !san || sk_X509_EXTENSION_push(exts.get(), san.get()) <= 0) {
    return OpensslError(ErrorCode::kInternal, "cannot build the CSR's subjectAltName");
  }
  static_cast<void>(san.release());  // now owned by exts
  if (X509_REQ_set_version(req.get(), X509_REQ_VERSION_1) != 1 ||
      X509_REQ_set_subject_name(req.get(), subject.get()) != 1 ||
      X509_REQ_set_pubkey(req.get(), key) != 1 ||
      X509_REQ_add_extensions(req.get(), exts.get()) != 1) {
    return OpensslError(ErrorCode::kInternal, "cannot fill in the CSR");
  }
  if (X509_REQ_sign(req.get(), key, DigestFor(key)) <= 0) {
    return OpensslError(ErrorCode::kInternal, "cannot sign the CSR");
  }
  const int len = i2d_X509_REQ(req.get(), nullptr);
  if (len <= 0) return OpensslError(ErrorCode::kInternal, "cannot encode the CSR");
  std::vector<uint8_t> der(static_cast<size_t>(len));
  unsigned char* p = der.data();
  if (i2d_X509_REQ(req.get(), &p) != len) {
    return OpensslError(ErrorCode::kInternal, "cannot encode the CSR");
  }
  return der;
}

Result<X509Ptr> MakeSelfSignedCertificate(EVP_PKEY* key, const std::vector<std::string>& dns_names,
                                          Time now, std::chrono::hours lifetime) {
  ScopedOpensslErrorDrain drain;
  CG_RETURN_IF_ERROR(RequireNames(dns_names));
  if (lifetime.count() <= 0) return MakeError(ErrorCode::kInternal, "lifetime must be positive");
  X509Ptr cert(X509_new());
  if (!cert) return OpensslError(ErrorCode::kInternal, "cannot allocate a certificate");

  // 16 random bytes, positive, and with a non-zero first byte so that the DER
  // INTEGER keeps all 16.
  std::array<unsigned char, 16> serial_bytes{};
  if (RAND_bytes(serial_bytes.data(), static_cast<int>(serial_bytes.size())) != 1) {
    return OpensslError(ErrorCode::kInternal, "cannot draw a random serial number");
  }
  serial_bytes[0] = static_cast<unsigned char>((serial_bytes[0] & 0x7f) | 0x01);
  BignumPtr serial_bn(
      BN_bin2bn(serial_bytes.data(), static_cast<int>(serial_bytes.size()), nullptr));
  Asn1IntegerPtr serial(serial_bn ? BN_to_ASN1_INTEGER(serial_bn.get(), nullptr) : nullptr);
  if (!serial) return OpensslError(ErrorCode::kInternal, "cannot encode the serial number");

  CG_ASSIGN_OR_RETURN(X509NamePtr subject, SubjectFor(dns_names));
  const Time from = now - std::chrono::hours(1);
  const std::time_t not_before = std::chrono::system_clock::to_time_t(from);
  const std::time_t not_after = std::chrono::system_clock::to_time_t(from + lifetime);
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      X509_set_serialNumber(cert.get(), serial.get()) != 1 ||
      X509_set_subject_name(cert.get(), subject.get()) != 1 ||
      X509_set_issuer_name(cert.get(), subject.get()) != 1 ||
      ASN1_TIME_set(X509_getm_notBefore(cert.get()), not_before) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert.get()), not_after) == nullptr ||
      X509_set_pubkey(cert.get(), key) != 1) {
    return OpensslError(ErrorCode::kInternal, "cannot fill in the certificate");
  }

  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  CG_RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE"));
  CG_RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_key_usage, "critical,digitalSignature"));
  CG_RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_ext_key_usage, "serverAuth"));
  CG_ASSIGN_OR_RETURN(GeneralNamesPtr names, DnsNames(dns_names));
  if (X509_add1_ext_i2d(cert.get(), NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) !=
      1) {
    return OpensslError(ErrorCode::kInternal, "cannot add subjectAltName");
  }
  if (X509_sign(cert.get(), key, DigestFor(key)) <= 0) {
    return OpensslError(ErrorCode::kInternal, "cannot sign the certificate");
  }
  ClearOpensslErrors();
  return cert;
}

}  // namespace certgate::pki
