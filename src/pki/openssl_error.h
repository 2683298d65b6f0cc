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

}  // namespace certgate::pki
