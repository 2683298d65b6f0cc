// Readable text from X.509 names and times, for messages and the API's derived
// fields (internal to pki). Pure functions; callable from any thread.
#pragma once

#include <optional>
#include <string>

#include "core/time.h"
#include "pki/ossl_ptr.h"

namespace certgate::pki::internal {

// RFC 2253 one-line form, UTF-8 kept as is: "CN=Example CA,O=Example,C=US".
std::string NameOneLine(const X509_NAME* name);
// The values of one attribute (NID_organizationName, ...) in UTF-8, joined by
// ", " in the order they appear; "" when absent.
std::string NameAttribute(const X509_NAME* name, int nid);
// The subject or issuer common name: the last CN attribute (as Go's crypto/x509
// reads it); "" when absent.
std::string CommonName(const X509_NAME* name);
// How messages name a certificate: "CN=app.example.com", else its whole
// subject, else "empty subject". Control characters are replaced and the text
// is shortened, as it comes from user input.
std::string CertLabel(X509* cert);
// ASN1_TIME -> Time; nullopt if OpenSSL cannot read it.
std::optional<Time> ToTime(const ASN1_TIME* t);

}  // namespace certgate::pki::internal
