#include "api/list_filter_parser.h"

#include <utility>
#include <variant>

#include <fmt/format.h>

#include "api/list_filter_lexer.h"

namespace certgate::api {
namespace {

using store::Filter;
using store::FilterField;
using store::FilterFieldType;
using store::FilterOp;
using store::FilterValue;
using filter::Excerpt;
using filter::FilterError;
using filter::Lexer;
using filter::ParseFilterDuration;
using filter::ParseFilterTime;
using filter::InFilterRange;
using filter::Tok;
using filter::Token;

constexpr int kMaxDepth = 64;
constexpr size_t kMaxTests = 256;
constexpr size_t kMaxListItems = 100;

// What a term of the grammar turned out to be.
struct FieldRef {
  const FilterField* field = nullptr;
  size_t pos = 0;
  bool size = false;  // size(obj.<field>): an integer
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
    case FilterFieldType::kBool: return "a boolean";
    case FilterFieldType::kStringList: return "a list of strings";
  }
  return "a value";
}

// The type a field reference stands for: size(...) is an integer.
FilterFieldType TypeOf(const FieldRef& ref) {
  return ref.size ? FilterFieldType::kInteger : ref.field->type;
}

// "obj.x" or "size(obj.x)", for messages.
std::string Describe(const FieldRef& ref) {
  return ref.size ? fmt::format("size(obj.{})", ref.field->name)
                  : fmt::format("obj.{}", ref.field->name);
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
    case FilterOp::kHas: return "in";
  }
  return "?";
}

class Parser {
 public:
  Parser(std::string_view text, std::span<const FilterField> fields, Time now)
      : text_(text), fields_(fields), now_(now), lexer_(text) {}

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
      if (TypeOf(*f) == FilterFieldType::kBool) {  // obj.pooling_enabled alone
        Filter test = NewTest(*f, FilterOp::kEq);
        test.values.emplace_back(int64_t{1});
        return test;
      }
      return FilterError(f->pos, fmt::format("{} is {}, not a condition: compare it, e.g. "
                                             "{} == ...",
                                             Describe(*f), TypeName(TypeOf(*f)), Describe(*f)));
    }
    return FilterError(pos, "a value alone is not a condition: compare a field with it");
  }

  // `true` and `false` parse as conditions; next to a boolean field they are
  // its values.
  static void BoolLiteral(Term& term, const Term& other) {
    const auto* field = std::get_if<FieldRef>(&other);
    const auto* c = std::get_if<Condition>(&term);
    if (field == nullptr || c == nullptr || TypeOf(*field) != FilterFieldType::kBool ||
        c->filter.kind != Filter::Kind::kConstant) {
      return;
    }
    term = Literal{int64_t{c->filter.constant ? 1 : 0}, c->pos, "a boolean"};
  }

  Result<Filter> Test(Term left, FilterOp op, size_t op_pos, Term right) {
    BoolLiteral(left, right);
    BoolLiteral(right, left);
    if (op == FilterOp::kIn && std::holds_alternative<FieldRef>(right)) {
      return Has(std::move(left), op_pos, std::get<FieldRef>(right));
    }
    for (const Term* t : {&left, &right}) {
      const auto* f = std::get_if<FieldRef>(t);
      if (f != nullptr && TypeOf(*f) == FilterFieldType::kStringList) {
        return FilterError(f->pos, fmt::format("obj.{0} is a list: test a member with "
                                               "\"value\" in obj.{0}, or its length with "
                                               "size(obj.{0})",
                                               f->field->name));
      }
    }
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
      Filter f = NewTest(*field, FilterOp::kIn);
      for (Literal& item : list->items) {
        CG_RETURN_IF_ERROR(CheckLiteral(*field, FilterOp::kEq, item));
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
    CG_RETURN_IF_ERROR(CheckLiteral(field, effective, literal));
    Filter f = NewTest(field, effective);
    f.values.push_back(std::move(literal.value));
    return f;
  }

  // "public" in obj.bindings
  Result<Filter> Has(Term item, size_t op_pos, const FieldRef& list) {
    if (TypeOf(list) != FilterFieldType::kStringList) {
      return FilterError(op_pos, fmt::format("'in' needs a list on its right; {} is {}",
                                             Describe(list), TypeName(TypeOf(list))));
    }
    const auto* literal = std::get_if<Literal>(&item);
    if (literal == nullptr || !std::holds_alternative<std::string>(literal->value)) {
      return FilterError(op_pos, fmt::format("'in obj.{0}' needs a string on its left, e.g. "
                                             "\"public\" in obj.{0}",
                                             list.field->name));
    }
    Filter f = NewTest(list, FilterOp::kHas);
    f.values.push_back(literal->value);
    return f;
  }

  Result<void> CheckLiteral(const FieldRef& ref, FilterOp op, const Literal& literal) {
    const FilterFieldType type = TypeOf(ref);
    if (std::holds_alternative<std::monostate>(literal.value)) {
      if (!ref.field->nullable || ref.size) {
        return FilterError(literal.pos, fmt::format("{} is never null", Describe(ref)));
      }
      if (op != FilterOp::kEq && op != FilterOp::kNe) {
        return FilterError(literal.pos, "null can only be compared with == or !=");
      }
      return {};
    }
    const bool is_bool = literal.type == std::string_view("a boolean");
    const bool fits =
        (type == FilterFieldType::kString && std::holds_alternative<std::string>(literal.value)) ||
        (type == FilterFieldType::kTime && std::holds_alternative<Time>(literal.value)) ||
        (type == FilterFieldType::kInteger && std::holds_alternative<int64_t>(literal.value) &&
         !is_bool) ||
        (type == FilterFieldType::kBool && is_bool);
    if (fits) {
      if (type == FilterFieldType::kBool && op != FilterOp::kEq && op != FilterOp::kNe &&
          op != FilterOp::kIn) {
        return FilterError(literal.pos, "a boolean can only be compared with == or !=");
      }
      return {};
    }
    std::string hint;
    if (type == FilterFieldType::kTime) {
      hint = ": write timestamp(\"2026-01-02T15:04:05Z\")";
    } else if (type == FilterFieldType::kBool) {
      hint = ": write true or false";
    }
    return FilterError(literal.pos, fmt::format("{} is {}, but the value is {}{}", Describe(ref),
                                                TypeName(type), literal.type, hint));
  }

  Filter NewTest(const FieldRef& ref, FilterOp op) {
    Filter f;
    f.kind = Filter::Kind::kTest;
    f.field = std::string(ref.field->name);
    f.op = op;
    f.size = ref.size;
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
        const auto* ref = std::get_if<FieldRef>(&inner);
        if (std::get_if<Condition>(&inner) == nullptr &&
            (ref == nullptr || TypeOf(*ref) != FilterFieldType::kBool)) {
          return FilterError(t.pos, "'!' negates a condition: write !(obj.<field> == ...)");
        }
        Filter f;
        f.kind = Filter::Kind::kNot;
        CG_ASSIGN_OR_RETURN(Filter operand, AsCondition(std::move(inner), t.pos));
        f.operands.push_back(std::move(operand));
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
      // A list inside a list is refused before it is read: reading it would
      // recurse once per '[' the text holds (the list_filter fuzzer found it).
      if (tok_.kind == Tok::kLBracket) return FilterError(item_pos, "a list holds values only");
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
    if (t.text == "size") return SizeCall(t.pos);
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

  // size(obj.<field>)
  Result<Term> SizeCall(size_t pos) {
    if (tok_.kind != Tok::kLParen) {
      return FilterError(tok_.pos, "size is a function: size(obj.<field>)");
    }
    CG_RETURN_IF_ERROR(Advance());
    const size_t arg_pos = tok_.pos;
    std::optional<FieldRef> ref;
    if (tok_.kind == Tok::kIdent && tok_.text == "obj") {
      CG_ASSIGN_OR_RETURN(Term arg, Identifier());
      if (auto* f = std::get_if<FieldRef>(&arg)) ref = *f;
    }
    if (!ref || ref->size) return FilterError(arg_pos, "size takes a field: size(obj.<field>)");
    if (tok_.kind != Tok::kRParen) return FilterError(tok_.pos, "expected ')' after size's field");
    CG_RETURN_IF_ERROR(Advance());
    return Sized(*ref, pos);
  }

  Result<Term> Sized(FieldRef ref, size_t pos) {
    if (ref.field->type != FilterFieldType::kString &&
        ref.field->type != FilterFieldType::kStringList) {
      return FilterError(pos, fmt::format("size applies to strings and lists; obj.{} is {}",
                                          ref.field->name, TypeName(ref.field->type)));
    }
    ref.size = true;
    return Term(ref);
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
    if (name.text == "size" && !path.empty()) {  // obj.<field>.size()
      CG_ASSIGN_OR_RETURN(const FilterField* field, Field(path, path_pos));
      CG_RETURN_IF_ERROR(Advance());  // (
      if (tok_.kind != Tok::kRParen) {
        return FilterError(tok_.pos, "size() takes no argument: obj.<field>.size()");
      }
      CG_RETURN_IF_ERROR(Advance());
      return Sized(FieldRef{field, path_pos}, name.pos);
    }
    std::optional<FilterOp> op;
    if (name.text == "startsWith") op = FilterOp::kStartsWith;
    if (name.text == "endsWith") op = FilterOp::kEndsWith;
    if (name.text == "contains") op = FilterOp::kContains;
    if (!op) {
      return FilterError(name.pos, fmt::format("unknown function '{}': use startsWith, endsWith, "
                                               "contains or size",
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
    Filter f = NewTest(FieldRef{field, path_pos}, *op);
    f.values.emplace_back(arg.text);
    return Term(Condition{std::move(f), path_pos});
  }

  // timestamp("RFC 3339" | "YYYY-MM-DD[Z]" | time.now), then any number of
  // .add("<duration>") / .subtract("<duration>").
  Result<Term> Timestamp(size_t pos) {
    if (tok_.kind != Tok::kLParen) {
      return FilterError(tok_.pos, "timestamp is a function: timestamp(\"2026-01-02T15:04:05Z\")");
    }
    CG_RETURN_IF_ERROR(Advance());
    const Token arg = tok_;
    std::optional<Time> when;
    if (arg.kind == Tok::kIdent && arg.text == "time") {
      CG_RETURN_IF_ERROR(Advance());
      const bool dot = tok_.kind == Tok::kDot;
      if (dot) CG_RETURN_IF_ERROR(Advance());
      if (!dot || tok_.kind != Tok::kIdent || tok_.text != "now") {
        return FilterError(arg.pos, "the current time is written time.now");
      }
      when = now_;
    } else if (arg.kind == Tok::kString) {
      when = ParseFilterTime(arg.text);
      if (!when) {
        return FilterError(arg.pos, fmt::format("\"{}\" is not an RFC 3339 time such as "
                                                "2026-01-02T15:04:05Z or a date such as 2026-01-02",
                                                Excerpt(arg.text, 0)));
      }
    } else {
      return FilterError(arg.pos, "timestamp takes an RFC 3339 string or time.now, e.g. "
                                  "timestamp(\"2026-01-02T15:04:05Z\")");
    }
    CG_RETURN_IF_ERROR(Advance());
    if (tok_.kind != Tok::kRParen) {
      return FilterError(tok_.pos, "expected ')' after the timestamp's value");
    }
    CG_RETURN_IF_ERROR(Advance());
    while (tok_.kind == Tok::kDot) {
      CG_RETURN_IF_ERROR(Advance());
      const Token method = tok_;
      if (method.kind != Tok::kIdent || (method.text != "add" && method.text != "subtract")) {
        return FilterError(method.pos, "a timestamp has the methods add and subtract, e.g. "
                                       ".subtract(\"7d\")");
      }
      CG_RETURN_IF_ERROR(Advance());
      if (tok_.kind != Tok::kLParen) {
        return FilterError(tok_.pos, fmt::format("{} is a method: .{}(\"24h\")", method.text,
                                                 method.text));
      }
      CG_RETURN_IF_ERROR(Advance());
      const Token duration = tok_;
      std::optional<std::chrono::seconds> d;
      if (duration.kind == Tok::kString) d = ParseFilterDuration(duration.text);
      if (!d) {
        return FilterError(duration.pos, "a duration is a string of whole numbers with units "
                                         "d, h, m or s, e.g. \"7d\", \"1h30m\"");
      }
      CG_RETURN_IF_ERROR(Advance());
      if (tok_.kind != Tok::kRParen) {
        return FilterError(tok_.pos, fmt::format("expected ')': {} takes one duration",
                                                 method.text));
      }
      CG_RETURN_IF_ERROR(Advance());
      when = method.text == "add" ? *when + *d : *when - *d;
      if (!InFilterRange(*when)) {
        return FilterError(duration.pos, "the timestamp falls outside the years 1900 to 2200");
      }
    }
    return Term(Literal{*when, pos, "a timestamp"});
  }

  std::string_view text_;
  std::span<const FilterField> fields_;
  Time now_;
  Lexer lexer_;
  Token tok_;
  int depth_ = 0;
  size_t tests_ = 0;
};

}  // namespace

Result<store::Filter> ParseListFilter(std::string_view text,
                                      std::span<const store::FilterField> fields, Time now) {
  if (text.size() > kMaxFilterBytes) {
    return MakeError(ErrorCode::kFilterInvalid,
                     fmt::format("filter is {} bytes, over the limit of {}", text.size(),
                                 kMaxFilterBytes));
  }
  return Parser(text, fields, now).Parse();
}

}  // namespace certgate::api
