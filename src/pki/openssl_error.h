// Turns OpenSSL's thread-local error queue into one certgate Error, leaving
// the queue empty for the next call.
#pragma once

#include <string>

#include "core/error.h"

namespace certgate::pki {

// Drains the queue and returns "<context>: <first reason>[; <more>]" under code.
Error OpensslError(ErrorCode code, std::string context);
// Drains the queue, discarding it. Call after an expected failure.
void ClearOpensslErrors();

// Drains the queue when it goes out of scope. Public pki functions start with
// one, so that nothing they leave behind reaches the caller's next call (an
// OpensslError in a return statement is built before it runs).
class ScopedOpensslErrorDrain {
 public:
  ScopedOpensslErrorDrain() = default;
  ~ScopedOpensslErrorDrain() { ClearOpensslErrors(); }
  ScopedOpensslErrorDrain(const ScopedOpensslErrorDrain&) = delete;
  ScopedOpensslErrorDrain& operator=(const ScopedOpensslErrorDrain&) = delete;
};

}  // namespace certgate::pki
