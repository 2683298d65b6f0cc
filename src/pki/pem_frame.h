// PEM framing shared by certificate_pem and private_key_pem (internal to pki).
// FramePem splits text into BEGIN/END blocks line by line, so that callers can
// enforce "only these blocks and whitespace" and name lines in messages; the
// base64 itself is decoded by OpenSSL (DecodePemBlock). Pure functions;
// callable from any thread.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "pki/ossl_ptr.h"

namespace certgate::pki::internal {

struct PemBlock {
  std::string label;      // "CERTIFICATE", "PRIVATE KEY", ...
  size_t begin_line = 0;  // 1-based line of "-----BEGIN <label>-----"
  size_t end_line = 0;    // 1-based line of "-----END <label>-----"
  // "Name: value" lines before the base64 (RFC 1421 headers), trimmed.
  std::vector<std::string_view> headers;
  // The base64 lines, trimmed; blank lines dropped. Views into the input.
  std::vector<std::string_view> body;

  // True when the headers carry "Proc-Type: 4,ENCRYPTED" (legacy encrypted key).
  bool LegacyEncrypted() const;
  // The header names, "Proc-Type, DEK-Info": never their values.
  std::string HeaderNames() const;
};

// The first framing problem in reading order.
enum class PemFault {
  kNone,
  kNoBlock,           // non-blank text but no BEGIN/END line at all
  kTextOutsideBlock,  // fault_line: a non-blank line outside any block
  kMissingEnd,        // fault_line: BEGIN of a block (fault_label) that never ends
  kEndWithoutBegin,   // fault_line: an END line (fault_label) outside any block
  kMismatchedEnd,     // fault_line: END of other_label inside fault_label's block
  kBadBoundary,       // fault_line: a "-----BEGIN"/"-----END" line that is malformed
};

struct PemFraming {
  // The complete blocks before the fault; all of them when there is none.
  std::vector<PemBlock> blocks;
  PemFault fault = PemFault::kNone;
  size_t fault_line = 0;
  std::string fault_label;
  std::string other_label;
};

// Blank: nothing but spaces, tabs, CR, LF, and an optional leading UTF-8 BOM.
bool IsBlank(std::string_view text);

// Text outside the blocks: refused (certificate_pem, private_key_pem), or
// skipped as RFC 7468 section 5.2 explanatory text (a trust list's entries).
enum class OutsideText { kRefuse, kSkip };

PemFraming FramePem(std::string_view text, OutsideText outside = OutsideText::kRefuse);

// "a PRIVATE KEY block", "an EC PRIVATE KEY block": the label with its article,
// for messages.
std::string BlockNamed(std::string_view label);

// The kPemMalformed error for framing faults other than kNoBlock and
// kTextOutsideBlock (which each field words itself). field: "certificate_pem".
Error MalformedFramingError(const PemFraming& framing, std::string_view field,
                            std::string_view example_label);

// The DER bytes of one block, decoded by OpenSSL; wiped when destroyed.
struct PemDer {
  OsslSecretBytesPtr data;
  size_t size = 0;
  const unsigned char* begin() const { return data.get(); }
};

// Decodes block's base64 with OpenSSL's PEM reader. nullopt when the base64 is
// corrupt or empty (OpenSSL's error queue is cleared). Every intermediate copy
// of the text is wiped, as it may encode a private key.
std::optional<PemDer> DecodePemBlock(const PemBlock& block);

}  // namespace certgate::pki::internal
