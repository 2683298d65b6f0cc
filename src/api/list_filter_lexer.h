// The tokens and literals of a list filter (api/list_filter_parser.h): the
// lexer, and the time and duration forms timestamp() and its methods accept.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "core/time.h"

namespace certgate::api::filter {

enum class Tok {
  kEnd, kIdent, kString, kInt, kLParen, kRParen, kLBracket, kRBracket, kComma, kDot,
  kNot, kAnd, kOr, kEq, kNe, kLt, kLe, kGt, kGe,
};

struct Token {
  Tok kind = Tok::kEnd;
  size_t pos = 0;        // 0-based byte offset
  std::string text;      // kIdent: the name; kString: the decoded value
  int64_t number = 0;    // kInt
};

// kFilterInvalid: "filter: at column <pos + 1>: <what>".
Error FilterError(size_t pos, std::string_view what);

// What the user wrote at pos, for messages: at most 40 printable ASCII
// characters.
std::string Excerpt(std::string_view text, size_t pos);

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}
  // The next token; kEnd at the end of the text.
  Result<Token> Next();

 private:
  Result<Token> Integer();
  Result<Token> String(char quote);

  std::string_view text_;
  size_t pos_ = 0;
};

// An RFC 3339 time, or a date alone ("2025-05-10", "2025-05-10Z": midnight
// UTC), within the years 1900 to 2200.
std::optional<Time> ParseFilterTime(std::string_view text);

// "7d", "24h", "15m", "30s", "1h30m": whole numbers with units d, h, m, s, at
// most 100 years in all.
std::optional<std::chrono::seconds> ParseFilterDuration(std::string_view text);

// Within the years 1900 to 2200, as ParseRfc3339 accepts.
bool InFilterRange(Time t);

}  // namespace certgate::api::filter
