#include "api/list_filter_lexer.h"

#include <charconv>

#include <fmt/format.h>

namespace certgate::api::filter {
namespace {

constexpr size_t kQuoteChars = 40;

bool IsIdentStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsHex(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

}  // namespace

Error FilterError(size_t pos, std::string_view what) {
  return MakeError(ErrorCode::kFilterInvalid,
                   fmt::format("filter: at column {}: {}", pos + 1, what));
}

std::string Excerpt(std::string_view text, size_t pos) {
  std::string out;
  for (size_t i = pos; i < text.size() && out.size() < kQuoteChars; ++i) {
    const char c = text[i];
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  return out;
}

Result<Token> Lexer::Next() {
  while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                 text_[pos_] == '\n' || text_[pos_] == '\r')) {
    ++pos_;
  }
  Token t;
  t.pos = pos_;
  if (pos_ >= text_.size()) return t;
  const char c = text_[pos_];
  const char n = pos_ + 1 < text_.size() ? text_[pos_ + 1] : '\0';
  auto one = [&](Tok k, size_t len) {
    t.kind = k;
    pos_ += len;
    return t;
  };
  switch (c) {
    case '(': return one(Tok::kLParen, 1);
    case ')': return one(Tok::kRParen, 1);
    case '[': return one(Tok::kLBracket, 1);
    case ']': return one(Tok::kRBracket, 1);
    case ',': return one(Tok::kComma, 1);
    case '.': return one(Tok::kDot, 1);
    case '!': return n == '=' ? one(Tok::kNe, 2) : one(Tok::kNot, 1);
    case '<': return n == '=' ? one(Tok::kLe, 2) : one(Tok::kLt, 1);
    case '>': return n == '=' ? one(Tok::kGe, 2) : one(Tok::kGt, 1);
    case '=':
      if (n == '=') return one(Tok::kEq, 2);
      return FilterError(pos_, "'=' is not an operator: compare with '=='");
    case '&':
      if (n == '&') return one(Tok::kAnd, 2);
      return FilterError(pos_, "'&' is not an operator: join conditions with '&&'");
    case '|':
      if (n == '|') return one(Tok::kOr, 2);
      return FilterError(pos_, "'|' is not an operator: join conditions with '||'");
    case '"':
    case '\'': return String(c);
    default: break;
  }
  if (IsDigit(c) || (c == '-' && IsDigit(n))) return Integer();
  if (IsIdentStart(c)) {
    size_t end = pos_;
    while (end < text_.size() && (IsIdentStart(text_[end]) || IsDigit(text_[end]))) ++end;
    t.kind = Tok::kIdent;
    t.text = std::string(text_.substr(pos_, end - pos_));
    pos_ = end;
    if ((t.text == "r" || t.text == "R" || t.text == "b" || t.text == "B") &&
        pos_ < text_.size() && (text_[pos_] == '"' || text_[pos_] == '\'')) {
      return FilterError(t.pos, "raw and byte strings are not supported: use a plain "
                                "\"...\" string");
    }
    return t;
  }
  return FilterError(pos_, fmt::format("unexpected '{}'", Excerpt(text_, pos_).substr(0, 1)));
}


Result<Token> Lexer::Integer() {
  Token t;
  t.kind = Tok::kInt;
  t.pos = pos_;
  size_t end = pos_ + (text_[pos_] == '-' ? 1 : 0);
  while (end < text_.size() && IsDigit(text_[end])) ++end;
  if (end < text_.size() && (IsIdentStart(text_[end]) || text_[end] == '.')) {
    return FilterError(pos_, "only whole decimal numbers are supported");
  }
  auto [ptr, ec] = std::from_chars(text_.data() + pos_, text_.data() + end, t.number);
  if (ec != std::errc() || ptr != text_.data() + end) {
    return FilterError(pos_, "the number is out of range");
  }
  pos_ = end;
  return t;
}

Result<Token> Lexer::String(char quote) {
  Token t;
  t.kind = Tok::kString;
  t.pos = pos_;
  if (text_.substr(pos_, 3) == std::string(3, quote)) {
    return FilterError(pos_, "triple-quoted strings are not supported");
  }
  size_t i = pos_ + 1;
  while (true) {
    if (i >= text_.size() || text_[i] == '\n' || text_[i] == '\r') {
      return FilterError(t.pos, fmt::format("the string has no closing {}", quote));
    }
    const char c = text_[i];
    if (c == quote) break;
    if (c != '\\') {
      t.text += c;
      ++i;
      continue;
    }
    if (i + 1 >= text_.size()) {
      return FilterError(t.pos, fmt::format("the string has no closing {}", quote));
    }
    const char e = text_[i + 1];
    const size_t at = i;
    i += 2;
    switch (e) {
      case '\\': t.text += '\\'; continue;
      case '"': t.text += '"'; continue;
      case '\'': t.text += '\''; continue;
      case '`': t.text += '`'; continue;
      case 'n': t.text += '\n'; continue;
      case 'r': t.text += '\r'; continue;
      case 't': t.text += '\t'; continue;
      case 'x':
      case 'u':
      case 'U': {
        const size_t digits = e == 'x' ? 2 : (e == 'u' ? 4 : 8);
        uint32_t cp = 0;
        for (size_t k = 0; k < digits; ++k) {
          if (i + k >= text_.size() || !IsHex(text_[i + k])) {
            return FilterError(at, fmt::format("\\{} needs {} hex digits", e, digits));
          }
          const char h = text_[i + k];
          cp = cp * 16 + static_cast<uint32_t>(IsDigit(h) ? h - '0' : (h | 0x20) - 'a' + 10);
        }
        i += digits;
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
          return FilterError(at, "the escape is not a Unicode scalar value");
        }
        AppendUtf8(t.text, cp);
        continue;
      }
      default:
        return FilterError(at, fmt::format("unknown escape '\\{}'", Excerpt(text_, i - 1).substr(0, 1)));
    }
  }
  pos_ = i + 1;
  return t;
}


std::optional<Time> ParseFilterTime(std::string_view text) {
  std::string_view date = text;
  if (date.ends_with('Z')) date.remove_suffix(1);
  if (date.size() == 10 && date[4] == '-' && date[7] == '-') {
    return ParseRfc3339(fmt::format("{}T00:00:00Z", date));
  }
  return ParseRfc3339(text);
}

std::optional<std::chrono::seconds> ParseFilterDuration(std::string_view text) {
  constexpr int64_t kMaxSeconds = int64_t{100} * 366 * 24 * 3600;
  if (text.empty()) return std::nullopt;
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t end = i;
    while (end < text.size() && IsDigit(text[end])) ++end;
    if (end == i || end == text.size() || end - i > 12) return std::nullopt;
    int64_t n = 0;
    std::from_chars(text.data() + i, text.data() + end, n);
    int64_t unit = 0;
    switch (text[end]) {
      case 'd': unit = 24 * 3600; break;
      case 'h': unit = 3600; break;
      case 'm': unit = 60; break;
      case 's': unit = 1; break;
      default: return std::nullopt;
    }
    if (n > kMaxSeconds / unit) return std::nullopt;
    total += n * unit;
    if (total > kMaxSeconds) return std::nullopt;
    i = end + 1;
  }
  return std::chrono::seconds(total);
}

bool InFilterRange(Time t) {
  static const Time kFirst = *ParseRfc3339("1900-01-01T00:00:00Z");
  static const Time kLast = *ParseRfc3339("2200-12-31T23:59:59Z");
  return t >= kFirst && t <= kLast;
}

}  // namespace certgate::api::filter
