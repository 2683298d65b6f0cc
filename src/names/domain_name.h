// Domain names as certgate stores and matches them: normalization of what a
// user types (IDNA to its ASCII form, lower case, no trailing dot), the rules
// a reserved domain must follow, and the matching the edge does on SNI.
// Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace certgate::names {

// Normalizes and validates a domain for /reserved_domains:
// - Unicode labels become their IDNA ASCII form (UTS #46, nontransitional,
//   via libidn2); upper case becomes lower case; one trailing dot is dropped.
// - At most 253 bytes, at least two labels, each label 1..63 bytes of
//   [a-z0-9-] not starting or ending with '-' (an "xn--" label is fine).
// - '*' only as the whole leftmost label ("*.example.com"), never inside a
//   label ("a*.example.com") nor further right ("a.*.example.com"):
//   kDomainWildcard.
// - Not an IP address (kDomainInvalid).
// - Not a public suffix itself ("co.uk"), and a wildcard's base not a public
//   suffix ("*.co.uk", "*.com"), by the libpsl list: kDomainPublicSuffix.
// Other failures: kDomainInvalid. Every message quotes the input (cut to 100
// bytes) and says what rule it breaks.
Result<std::string> NormalizeDomain(std::string_view input);

// "*.example.com" -> true.
bool IsWildcard(std::string_view domain);
// "*.a.example.com" -> "a.example.com"; a non-wildcard is returned whole.
std::string_view WildcardBase(std::string_view domain);

// True if name is a strict subdomain of base, at any depth:
// IsSubdomainOf("a.b.example.com", "example.com") == true,
// IsSubdomainOf("example.com", "example.com") == false. Both normalized.
bool IsSubdomainOf(std::string_view name, std::string_view base);

// True if the normalized domain (exact or wildcard) covers host: equal, or
// the domain is "*.base" and host is exactly one label under base.
bool DomainCoversHost(std::string_view domain, std::string_view host);

// The lookup key for an SNI name from a ClientHello: lower case, one
// trailing dot dropped. nullopt if it is not a plausible host name (empty,
// over 253 bytes, characters other than [A-Za-z0-9.-_], empty labels).
std::optional<std::string> NormalizeSni(std::string_view sni);

// The wildcard name one label up: "a.b.example.com" -> "*.b.example.com",
// "b.com" -> "*.com" (which no reserved domain can be); nullopt for a single
// label.
std::optional<std::string> WildcardParent(std::string_view host);

// A random DNS label of 16 characters [a-z0-9], for CNAME targets.
std::string RandomLabel();

}  // namespace certgate::names
