// JSON storage whose heap memory is wiped before it is returned, for parsed
// documents that may hold a private key in PEM (API bodies, traffic
// policies).
#pragma once

#include <boost/json/storage_ptr.hpp>

namespace certgate {

// A fresh shared Boost.JSON memory resource that wipes each block it frees.
boost::json::storage_ptr MakeWipingJsonStorage();

}  // namespace certgate
