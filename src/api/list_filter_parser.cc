#include "api/list_filter_parser.h"

#include <charconv>
#include <utility>
#include <variant>

#include <fmt/format.h>

namespace certgate::api {
namespace {

using store::Filter;
using store::FilterField;
using store::FilterFieldType;
using store::FilterOp;
using store::FilterValue;

constexpr int kMaxDepth = 64;
constexpr size_t kMaxTests = 256;
constexpr size_t kMaxListItems = 100;
constexpr size_t kQuoteChars = 40;

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

Error FilterError(size_t pos, std::string_view what) {
  return MakeError(ErrorCode::kFilterInvalid,
                   fmt::format("filter: at column {}: {}", pos + 1, what));
}

// What the user wrote at pos, for messages: at most kQuoteChars printable
// ASCII characters.
std::string Excerpt(std::string_view text, size_t pos) {
  std::string out;
  for (size_t i = pos; i < text.size() && out.size() < kQuoteChars; ++i) {
    const char c = text[i];
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  return out;
}

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

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  Result<Token> Next() {
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

 private:
  Result<Token> Integer() {
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

  Result<Token> String(char quote) {
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

  std::string_view text_;
  size_t pos_ = 0;
};

// What a term of the grammar turned out to be.
struct FieldRef {
  const FilterField* field = nullptr;
  size_t pos = 0;
};
struct Literal {
  FilterValue value;
  size_t pos = 0;
  std::string_view type;  // for messages: "a string", "a timestamp", ...
};
struct ListLiteral {
  std::vector<Literal> items;
  size_t pos = 0;
};
struct Condition {
  Filter filter;
  size_t pos = 0;
};
using Term = std::variant<Condition, FieldRef, Literal, ListLiteral>;

std::string_view TypeName(FilterFieldType type) {
  switch (type) {
    case FilterFieldType::kString: return "a string";
    case FilterFieldType::kTime: return "a timestamp";
    case FilterFieldType::kInteger: return "an integer";
  }
  return "a value";
}

FilterOp Mirror(FilterOp op) {
  switch (op) {
    case FilterOp::kLt: return FilterOp::kGt;
    case FilterOp::kLe: return FilterOp::kGe;
    case FilterOp::kGt: return FilterOp::kLt;
    case FilterOp::kGe: return FilterOp::kLe;
    default: return op;
  }
}

std::string_view OpText(FilterOp op) {
  switch (op) {
    case FilterOp::kEq: return "==";
    case FilterOp::kNe: return "!=";
    case FilterOp::kLt: return "<";
    case FilterOp::kLe: return "<=";
    case FilterOp::kGt: return ">";
    case FilterOp::kGe: return ">=";
    case FilterOp::kIn: return "in";
    case FilterOp::kStartsWith: return "startsWith";
    case FilterOp::kEndsWith: return "endsWith";
    case FilterOp::kContains: return "contains";
  }
  return "?";
}

class Parser {
 public:
  Parser(std::string_view text, std::span<const FilterField> fields)
      : text_(text), fields_(fields), lexer_(text) {}

  Result<Filter> Parse() {
    CG_RETURN_IF_ERROR(Advance());
    if (tok_.kind == Tok::kEnd) {
      return FilterError(0, "the filter is empty: give a condition such as obj.id == \"...\"");
    }
    CG_ASSIGN_OR_RETURN(Filter f, Or());
    if (tok_.kind != Tok::kEnd) {
      return FilterError(tok_.pos, fmt::format("expected && or || or the end of the filter, "
                                               "found '{}'",
                                               Excerpt(text_, tok_.pos)));
    }
    return f;
  }

 private:
  Result<void> Advance() {
    CG_ASSIGN_OR_RETURN(tok_, lexer_.Next());
    return {};
  }

  Result<Filter> Or() {
    CG_RETURN_IF_ERROR(Enter());
    CG_ASSIGN_OR_RETURN(Filter left, And());
    while (tok_.kind == Tok::kOr) {
      CG_RETURN_IF_ERROR(Advance());
      CG_ASSIGN_OR_RETURN(Filter right, And());
      left = Join(Filter::Kind::kOr, std::move(left), std::move(right));
    }
    --depth_;
    return left;
  }

  Result<Filter> And() {
    CG_ASSIGN_OR_RETURN(Filter left, Relation());
    while (tok_.kind == Tok::kAnd) {
      CG_RETURN_IF_ERROR(Advance());
      CG_ASSIGN_OR_RETURN(Filter right, Relation());
      left = Join(Filter::Kind::kAnd, std::move(left), std::move(right));
    }
    return left;
  }

  static Filter Join(Filter::Kind kind, Filter left, Filter right) {
    Filter f;
    f.kind = kind;
    f.operands.push_back(std::move(left));
    f.operands.push_back(std::move(right));
    return f;
  }

  static std::optional<FilterOp> RelOp(Tok kind) {
    switch (kind) {
      case Tok::kEq: return FilterOp::kEq;
      case Tok::kNe: return FilterOp::kNe;
      case Tok::kLt: return FilterOp::kLt;
      case Tok::kLe: return FilterOp::kLe;
      case Tok::kGt: return FilterOp::kGt;
      case Tok::kGe: return FilterOp::kGe;
      default: return std::nullopt;
    }
  }

  bool AtIn() const { return tok_.kind == Tok::kIdent && tok_.text == "in"; }

  Result<Filter> Relation() {
    const size_t start = tok_.pos;
    CG_ASSIGN_OR_RETURN(Term left, TermAt());
    std::optional<FilterOp> op = RelOp(tok_.kind);
    if (!op && AtIn()) op = FilterOp::kIn;
    if (!op) return AsCondition(std::move(left), start);
    const size_t op_pos = tok_.pos;
    CG_RETURN_IF_ERROR(Advance());
    CG_ASSIGN_OR_RETURN(Term right, TermAt());
    if (RelOp(tok_.kind) || AtIn()) {
      return FilterError(tok_.pos, "comparisons do not chain: join them with && or ||");
    }
    return Test(std::move(left), *op, op_pos, std::move(right));
  }

  Result<Filter> AsCondition(Term term, size_t pos) {
    if (auto* c = std::get_if<Condition>(&term)) return std::move(c->filter);
    if (auto* f = std::get_if<FieldRef>(&term)) {
      return FilterError(f->pos, fmt::format("obj.{} is {}, not a condition: compare it, e.g. "
                                             "obj.{} == ...",
                                             f->field->name, TypeName(f->field->type),
                                             f->field->name));
    }
    return FilterError(pos, "a value alone is not a condition: compare a field with it");
  }

  Result<Filter> Test(Term left, FilterOp op, size_t op_pos, Term right) {
    if (std::holds_alternative<Condition>(left) || std::holds_alternative<Condition>(right)) {
      return FilterError(op_pos, fmt::format("'{}' compares a field with a value, not "
                                             "conditions",
                                             OpText(op)));
    }
    if (op == FilterOp::kIn) {
      auto* field = std::get_if<FieldRef>(&left);
      auto* list = std::get_if<ListLiteral>(&right);
      if (field == nullptr || list == nullptr) {
        return FilterError(op_pos, "'in' needs a field on its left and a list on its right, "
                                   "e.g. obj.id in [\"a\", \"b\"]");
      }
      Filter f = NewTest(*field->field, FilterOp::kIn);
      for (Literal& item : list->items) {
        CG_RETURN_IF_ERROR(CheckLiteral(*field->field, FilterOp::kEq, item));
        f.values.push_back(std::move(item.value));
      }
      return f;
    }
    if (std::holds_alternative<ListLiteral>(left) || std::holds_alternative<ListLiteral>(right)) {
      return FilterError(op_pos, fmt::format("a list can only follow 'in', not '{}'", OpText(op)));
    }
    auto* lf = std::get_if<FieldRef>(&left);
    auto* rf = std::get_if<FieldRef>(&right);
    if (lf != nullptr && rf != nullptr) {
      return FilterError(op_pos, "compare a field with a value, not with another field");
    }
    if (lf == nullptr && rf == nullptr) {
      return FilterError(op_pos, "one side of a comparison must be a field, obj.<name>");
    }
    const FieldRef& field = lf != nullptr ? *lf : *rf;
    Literal& literal = std::get<Literal>(lf != nullptr ? right : left);
    const FilterOp effective = lf != nullptr ? op : Mirror(op);
    CG_RETURN_IF_ERROR(CheckLiteral(*field.field, effective, literal));
    Filter f = NewTest(*field.field, effective);
    f.values.push_back(std::move(literal.value));
    return f;
  }

  Result<void> CheckLiteral(const FilterField& field, FilterOp op, const Literal& literal) {
    if (std::holds_alternative<std::monostate>(literal.value)) {
      if (!field.nullable) {
        return FilterError(literal.pos, fmt::format("obj.{} is never null", field.name));
      }
      if (op != FilterOp::kEq && op != FilterOp::kNe) {
        return FilterError(literal.pos, "null can only be compared with == or !=");
      }
      return {};
    }
    const bool fits =
        (field.type == FilterFieldType::kString &&
         std::holds_alternative<std::string>(literal.value)) ||
        (field.type == FilterFieldType::kTime && std::holds_alternative<Time>(literal.value)) ||
        (field.type == FilterFieldType::kInteger &&
         std::holds_alternative<int64_t>(literal.value));
    if (fits) return {};
    std::string hint;
    if (field.type == FilterFieldType::kTime) {
      hint = fmt::format(": write timestamp(\"2026-01-02T15:04:05Z\")");
    }
    return FilterError(literal.pos, fmt::format("obj.{} is {}, but the value is {}{}", field.name,
                                                TypeName(field.type), literal.type, hint));
  }

  Filter NewTest(const FilterField& field, FilterOp op) {
    Filter f;
    f.kind = Filter::Kind::kTest;
    f.field = std::string(field.name);
    f.op = op;
    ++tests_;
    return f;
  }

  Result<void> Enter() {
    if (++depth_ > kMaxDepth) {
      return FilterError(tok_.pos, fmt::format("the filter nests deeper than {} levels", kMaxDepth));
    }
    return {};
  }

  Result<Term> TermAt() {
    CG_ASSIGN_OR_RETURN(Term t, Primary());
    if (tests_ > kMaxTests) {
      return FilterError(tok_.pos, fmt::format("the filter has more than {} comparisons",
                                               kMaxTests));
    }
    return t;
  }

  Result<Term> Primary() {
    const Token t = tok_;
    switch (t.kind) {
      case Tok::kNot: {
        CG_RETURN_IF_ERROR(Enter());
        CG_RETURN_IF_ERROR(Advance());
        CG_ASSIGN_OR_RETURN(Term inner, Primary());
        --depth_;
        auto* c = std::get_if<Condition>(&inner);
        if (c == nullptr) {
          return FilterError(t.pos, "'!' negates a condition: write !(obj.<field> == ...)");
        }
        Filter f;
        f.kind = Filter::Kind::kNot;
        f.operands.push_back(std::move(c->filter));
        return Term(Condition{std::move(f), t.pos});
      }
      case Tok::kLParen: {
        CG_RETURN_IF_ERROR(Advance());
        CG_ASSIGN_OR_RETURN(Filter inner, Or());
        if (tok_.kind != Tok::kRParen) {
          return FilterError(tok_.pos, fmt::format("expected ')' to close the '(' at column {}",
                                                   t.pos + 1));
        }
        CG_RETURN_IF_ERROR(Advance());
        return Term(Condition{std::move(inner), t.pos});
      }
      case Tok::kLBracket: return List();
      case Tok::kString: {
        CG_RETURN_IF_ERROR(Advance());
        return Term(Literal{t.text, t.pos, "a string"});
      }
      case Tok::kInt: {
        CG_RETURN_IF_ERROR(Advance());
        return Term(Literal{t.number, t.pos, "an integer"});
      }
      case Tok::kIdent: return Identifier();
      case Tok::kEnd:
        return FilterError(t.pos, "the filter ends where a field or value was expected");
      default:
        return FilterError(t.pos, fmt::format("expected a field or a value, found '{}'",
                                              Excerpt(text_, t.pos)));
    }
  }

  Result<Term> List() {
    const size_t pos = tok_.pos;
    CG_RETURN_IF_ERROR(Advance());
    ListLiteral list{{}, pos};
    while (tok_.kind != Tok::kRBracket) {
      if (!list.items.empty()) {
        if (tok_.kind != Tok::kComma) {
          return FilterError(tok_.pos, "expected ',' or ']' in the list");
        }
        CG_RETURN_IF_ERROR(Advance());
      }
      const size_t item_pos = tok_.pos;
      CG_ASSIGN_OR_RETURN(Term item, Primary());
      auto* literal = std::get_if<Literal>(&item);
      if (literal == nullptr) return FilterError(item_pos, "a list holds values only");
      if (list.items.size() == kMaxListItems) {
        return FilterError(item_pos, fmt::format("a list holds at most {} values", kMaxListItems));
      }
      list.items.push_back(std::move(*literal));
    }
    CG_RETURN_IF_ERROR(Advance());
    return Term(std::move(list));
  }

  Result<Term> Identifier() {
    const Token t = tok_;
    CG_RETURN_IF_ERROR(Advance());
    if (t.text == "true" || t.text == "false") {
      Filter f;
      f.kind = Filter::Kind::kConstant;
      f.constant = t.text == "true";
      return Term(Condition{std::move(f), t.pos});
    }
    if (t.text == "null") return Term(Literal{std::monostate{}, t.pos, "null"});
    if (t.text == "timestamp") return Timestamp(t.pos);
    if (t.text != "obj") {
      return FilterError(t.pos, fmt::format("unknown name '{}': fields are written obj.<field>",
                                            Excerpt(t.text, 0)));
    }
    // obj.a.b... and, perhaps, a method call on the last field.
    std::string path;
    size_t path_pos = t.pos;
    while (tok_.kind == Tok::kDot) {
      CG_RETURN_IF_ERROR(Advance());
      if (tok_.kind != Tok::kIdent) {
        return FilterError(tok_.pos, "expected a field name after '.'");
      }
      const Token name = tok_;
      CG_RETURN_IF_ERROR(Advance());
      if (tok_.kind == Tok::kLParen) return Method(path, path_pos, name);
      if (!path.empty()) path += '.';
      path += name.text;
    }
    if (path.empty()) return FilterError(t.pos, "obj needs a field: obj.<field>");
    CG_ASSIGN_OR_RETURN(const FilterField* field, Field(path, path_pos));
    return Term(FieldRef{field, path_pos});
  }

  Result<const FilterField*> Field(const std::string& path, size_t pos) {
    for (const FilterField& f : fields_) {
      if (f.name == path) return &f;
    }
    std::string names;
    for (const FilterField& f : fields_) {
      if (!names.empty()) names += ", ";
      names += f.name;
    }
    return FilterError(pos, fmt::format("obj.{} is not a field you can filter on; the fields "
                                        "are: {}",
                                        Excerpt(path, 0), names));
  }

  Result<Term> Method(const std::string& path, size_t path_pos, const Token& name) {
    std::optional<FilterOp> op;
    if (name.text == "startsWith") op = FilterOp::kStartsWith;
    if (name.text == "endsWith") op = FilterOp::kEndsWith;
    if (name.text == "contains") op = FilterOp::kContains;
    if (!op) {
      return FilterError(name.pos, fmt::format("unknown function '{}': use startsWith, endsWith "
                                               "or contains",
                                               Excerpt(name.text, 0)));
    }
    if (path.empty()) return FilterError(name.pos, fmt::format("{} needs a field: obj.<field>.{}(...)", name.text, name.text));
    CG_ASSIGN_OR_RETURN(const FilterField* field, Field(path, path_pos));
    if (field->type != FilterFieldType::kString) {
      return FilterError(name.pos, fmt::format("{} applies to strings; obj.{} is {}", name.text,
                                               field->name, TypeName(field->type)));
    }
    CG_RETURN_IF_ERROR(Advance());  // (
    const Token arg = tok_;
    if (arg.kind != Tok::kString) {
      return FilterError(arg.pos, fmt::format("{} takes one string, e.g. {}(\"...\")", name.text,
                                              name.text));
    }
    CG_RETURN_IF_ERROR(Advance());
    if (tok_.kind != Tok::kRParen) {
      return FilterError(tok_.pos, fmt::format("expected ')': {} takes one string", name.text));
    }
    CG_RETURN_IF_ERROR(Advance());
    Filter f = NewTest(*field, *op);
    f.values.emplace_back(arg.text);
    return Term(Condition{std::move(f), path_pos});
  }

  Result<Term> Timestamp(size_t pos) {
    if (tok_.kind != Tok::kLParen) {
      return FilterError(tok_.pos, "timestamp is a function: timestamp(\"2026-01-02T15:04:05Z\")");
    }
    CG_RETURN_IF_ERROR(Advance());
    const Token arg = tok_;
    if (arg.kind != Tok::kString) {
      return FilterError(arg.pos, "timestamp takes an RFC 3339 string, e.g. "
                                  "timestamp(\"2026-01-02T15:04:05Z\")");
    }
    std::optional<Time> when = ParseRfc3339(arg.text);
    if (!when) {
      return FilterError(arg.pos, fmt::format("\"{}\" is not an RFC 3339 time such as "
                                              "2026-01-02T15:04:05Z",
                                              Excerpt(arg.text, 0)));
    }
    CG_RETURN_IF_ERROR(Advance());
    if (tok_.kind != Tok::kRParen) {
      return FilterError(tok_.pos, "expected ')' after the timestamp's string");
    }
    CG_RETURN_IF_ERROR(Advance());
    return Term(Literal{*when, pos, "a timestamp"});
  }

  std::string_view text_;
  std::span<const FilterField> fields_;
  Lexer lexer_;
  Token tok_;
  int depth_ = 0;
  size_t tests_ = 0;
};

}  // namespace

Result<store::Filter> ParseListFilter(std::string_view text,
                                      std::span<const store::FilterField> fields) {
  if (text.size() > kMaxFilterBytes) {
    return MakeError(ErrorCode::kFilterInvalid,
                     fmt::format("filter is {} bytes, over the limit of {}", text.size(),
                                 kMaxFilterBytes));
  }
  return Parser(text, fields).Parse();
}

}  // namespace certgate::api
