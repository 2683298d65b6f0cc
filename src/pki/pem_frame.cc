#include "pki/pem_frame.h"

#include <utility>

#include <fmt/format.h>
#include <openssl/pem.h>

#include "core/result.h"
#include "core/secret_bytes.h"
#include "pki/openssl_error.h"

namespace certgate::pki::internal {
namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";
constexpr std::string_view kDashes = "-----";
constexpr std::string_view kBeginPrefix = "-----BEGIN ";
constexpr std::string_view kEndPrefix = "-----END ";
constexpr size_t kMaxLabelChars = 64;

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// "-----BEGIN X-----" -> "X". nullopt when line is not a well-formed boundary
// with that prefix.
std::optional<std::string_view> BoundaryLabel(std::string_view line, std::string_view prefix) {
  if (!line.starts_with(prefix) || !line.ends_with(kDashes)) return std::nullopt;
  if (line.size() < prefix.size() + kDashes.size()) return std::nullopt;
  std::string_view label = line.substr(prefix.size(), line.size() - prefix.size() - kDashes.size());
  // RFC 7468: printable ASCII but '-'. Bounded, as messages quote it.
  if (label.empty() || label.size() > kMaxLabelChars) return std::nullopt;
  for (char c : label) {
    if (c < 0x20 || c > 0x7e || c == '-') return std::nullopt;
  }
  return label;
}

bool LooksLikeBoundary(std::string_view line) {
  return line.starts_with("-----BEGIN") || line.starts_with("-----END");
}

}  // namespace

bool PemBlock::LegacyEncrypted() const {
  for (std::string_view h : headers) {
    size_t colon = h.find(':');
    if (Trim(h.substr(0, colon)) != "Proc-Type") continue;
    std::string_view value = Trim(h.substr(colon + 1));
    if (value.ends_with("ENCRYPTED")) return true;
  }
  return false;
}

std::string PemBlock::HeaderNames() const {
  std::string names;
  for (std::string_view h : headers) {
    if (!names.empty()) names += ", ";
    names += Trim(h.substr(0, h.find(':')));
  }
  return names;
}

bool IsBlank(std::string_view text) {
  if (text.starts_with(kBom)) text.remove_prefix(kBom.size());
  for (char c : text) {
    if (!IsSpace(c)) return false;
  }
  return true;
}

PemFraming FramePem(std::string_view text, OutsideText outside) {
  if (text.starts_with(kBom)) text.remove_prefix(kBom.size());
  PemFraming out;
  std::optional<PemBlock> open;  // the block being read
  bool any_boundary = false;
  size_t first_outside = 0;  // first non-blank line outside a block, 0 if none
  auto fail = [&](PemFault fault, size_t line, std::string label, std::string other = {}) {
    out.fault = fault;
    out.fault_line = line;
    out.fault_label = std::move(label);
    out.other_label = std::move(other);
  };

  size_t line_no = 0;
  size_t pos = 0;
  while (pos <= text.size() && out.fault == PemFault::kNone) {
    size_t nl = text.find('\n', pos);
    std::string_view raw = text.substr(pos, nl == std::string_view::npos ? text.npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
    ++line_no;
    std::string_view line = Trim(raw);
    if (line.empty()) continue;

    if (LooksLikeBoundary(line)) {
      any_boundary = true;
      auto begin = BoundaryLabel(line, kBeginPrefix);
      auto end = BoundaryLabel(line, kEndPrefix);
      if (!begin && !end) {
        fail(PemFault::kBadBoundary, line_no, "");
      } else if (begin) {
        if (open) {
          // A new block starts before the open one ended: the open one is cut short.
          fail(PemFault::kMissingEnd, open->begin_line, open->label);
        } else if (first_outside != 0) {
          fail(PemFault::kTextOutsideBlock, first_outside, "");
        } else {
          open.emplace();
          open->label = std::string(*begin);
          open->begin_line = line_no;
        }
      } else if (!open) {
        // Any text before it is most likely the block's body: the BEGIN line
        // is what is missing.
        fail(PemFault::kEndWithoutBegin, line_no, std::string(*end));
      } else if (*end != open->label) {
        fail(PemFault::kMismatchedEnd, line_no, open->label, std::string(*end));
      } else {
        open->end_line = line_no;
        out.blocks.push_back(std::move(*open));
        open.reset();
      }
      continue;
    }

    if (!open) {
      if (first_outside == 0 && outside == OutsideText::kRefuse) first_outside = line_no;
      continue;
    }
    if (open->body.empty() && line.find(':') != std::string_view::npos) {
      open->headers.push_back(line);
    } else {
      open->body.push_back(line);
    }
  }

  if (out.fault != PemFault::kNone) return out;
  if (open) {
    fail(PemFault::kMissingEnd, open->begin_line, open->label);
  } else if (first_outside != 0) {
    fail(any_boundary ? PemFault::kTextOutsideBlock : PemFault::kNoBlock, first_outside, "");
  }
  return out;
}

std::optional<PemDer> DecodePemBlock(const PemBlock& block) {
  // Rebuild the block as OpenSSL's reader expects it: boundaries and base64
  // lines only, "\n" line ends. Reserved up front so that no reallocation
  // leaves an unwiped copy behind.
  const std::string begin = "-----BEGIN " + block.label + "-----\n";
  const std::string end = "-----END " + block.label + "-----\n";
  size_t total = begin.size() + end.size();
  for (std::string_view l : block.body) total += l.size() + 1;
  std::string text;
  text.reserve(total);
  text += begin;
  for (std::string_view l : block.body) {
    text += l;
    text += '\n';
  }
  text += end;

  std::optional<PemDer> result;
  BioPtr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  if (bio) {
    char* name = nullptr;
    char* header = nullptr;
    unsigned char* data = nullptr;
    long len = 0;
    int ok = PEM_read_bio(bio.get(), &name, &header, &data, &len);
    OsslCharsPtr name_owner(name);
    OsslCharsPtr header_owner(header);
    OsslSecretBytesPtr data_owner(data, OsslClearFree{static_cast<size_t>(len > 0 ? len : 0)});
    if (ok == 1 && len > 0) result = PemDer{std::move(data_owner), static_cast<size_t>(len)};
  }
  ClearOpensslErrors();
  Wipe(text.data(), text.size());
  return result;
}

std::string BlockNamed(std::string_view label) {
  const std::string_view word = label.substr(0, label.find(' '));
  bool an = !word.empty() && std::string_view("AEIOU").find(word.front()) != std::string_view::npos;
  // Short acronyms are spelled out: "an RSA", "an X509", "an SSH2".
  if (!an && !word.empty() && word.size() <= 4 && word != "NEW" &&
      std::string_view("FHLMNRSX").find(word.front()) != std::string_view::npos) {
    an = true;
  }
  return fmt::format("{} {} block", an ? "an" : "a", label);
}

Error MalformedFramingError(const PemFraming& framing, std::string_view field,
                            std::string_view example_label) {
  const size_t line = framing.fault_line;
  const std::string& label = framing.fault_label;
  switch (framing.fault) {
    case PemFault::kMissingEnd:
      return MakeError(
          ErrorCode::kPemMalformed,
          fmt::format("the {} block that begins on line {} of {} has no "
                      "-----END {}----- line: the block is truncated; paste it in full",
                      label, line, field, label));
    case PemFault::kEndWithoutBegin:
      return MakeError(ErrorCode::kPemMalformed,
                       fmt::format("line {} of {} ends {} that never began: its "
                                   "-----BEGIN {}----- line is missing; paste the block in full",
                                   line, field, BlockNamed(label), label));
    case PemFault::kMismatchedEnd:
      return MakeError(ErrorCode::kPemMalformed,
                       fmt::format("line {} of {} is -----END {}-----, but the open block is {}: "
                                   "each block must end with -----END {}-----",
                                   line, field, framing.other_label, label, label));
    case PemFault::kBadBoundary:
    default:
      return MakeError(ErrorCode::kPemMalformed,
                       fmt::format("line {} of {} is not a valid PEM boundary: -----BEGIN and "
                                   "-----END lines must stand on lines of their own, like "
                                   "-----BEGIN {}-----",
                                   line, field, example_label));
  }
}

}  // namespace certgate::pki::internal
