// One API request on its way through the service: what handlers read
// (request, caller, base URL, query) and the helpers they answer with.
#pragma once

#include <boost/json.hpp>
#include <boost/url.hpp>

#include <optional>
#include <span>
#include <string>

#include "api/auth.h"
#include "api/http_types.h"
#include "core/result.h"
#include "store/list_filter.h"

namespace certgate::api {

struct Call {
  Request& req;
  const RequestContext& ctx;
  std::string base_url;           // "http://host:port", no trailing slash
  boost::urls::url_view target;   // path and query of the request
  std::optional<Principal> principal;  // set once authenticated

  const store::Account& account() const { return principal->account; }
};

Response JsonResponse(const Call& call, http::status status, const boost::json::value& body);
// 204 for deletes.
Response EmptyResponse(const Call& call, http::status status);
Response Fail(const Call& call, const Error& error);

// Logs cause with the operation id and returns a 500 error that names only
// what failed: internal details stay in the server log.
Error InternalError(const Call& call, std::string_view what, const Error& cause);

boost::json::array StringArray(const std::vector<std::string>& items);

// {"id": id, "uri": "<base>/<collection>/<id>"}
boost::json::object Ref(const Call& call, std::string_view collection, std::string_view id);

// "a", "a and b", "a, b and c"
std::string JoinForHumans(const std::vector<std::string>& items);

// Paging parameters of a list request: limit 1..100 (default 100), before_id
// (or ngrok's TypeScript spelling beforeId), which must be an id with the
// given prefix, and filter (api/list_filter_parser.h) over the resource's
// filterable fields, with time.now as now. Errors: kPageLimitInvalid,
// kInvalidPaging (before_id),
// kFilterInvalid. Other parameters are the caller's (ApiService refuses
// unknown ones).
struct Paging {
  int limit = 100;
  std::optional<std::string> before_id;
  std::optional<store::Filter> filter;
  std::string filter_text;  // as the client sent it, for next_page_uri

  store::ListQuery Query() const { return {before_id, limit, filter}; }
};
Result<Paging> ParsePaging(const Call& call, std::string_view id_prefix,
                           std::span<const store::FilterField> filter_fields, Time now);

// "<base>/<collection>" with the query "?before_id=..&limit=..[&filter=..]"
// for the next page, or null when there is none.
boost::json::value NextPageUri(const Call& call, std::string_view collection,
                               const Paging& paging, bool has_more, std::string_view last_id);

}  // namespace certgate::api
