// Reads a benchmark's command line: "--key=value", "--key value" and bare
// "--flag" arguments, one at a time. Errors are std::invalid_argument with a
// message for the user.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace certgate::bench {

class FlagReader {
 public:
  FlagReader(int argc, char** argv) : argc_(argc), argv_(argv) {}

  // Moves to the next argument; false after the last.
  bool Next();
  // The whole argument, and its part before any '='.
  std::string_view arg() const { return arg_; }
  std::string_view key() const { return key_; }
  // The text after '=', else the next argument ("<key> needs a value").
  std::string_view Value();
  // For flags without a value: throws when one was given with '='.
  void NoValue() const;

 private:
  int argc_;
  char** argv_;
  int index_ = 0;
  std::string_view arg_;
  std::string_view key_;
  std::string_view value_;
  bool has_value_ = false;
};

// A whole number, else "<name> wants a whole number, not '<text>'".
int WholeNumber(std::string_view name, std::string_view text);

// The items of a comma-separated list, in order; empty items left out.
std::vector<std::string> SplitList(std::string_view list);

}  // namespace certgate::bench
