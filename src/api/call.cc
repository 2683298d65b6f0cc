#include "api/call.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <charconv>

#include "api/list_filter_parser.h"
#include "api/problem.h"
#include "core/ids.h"

namespace certgate::api {

Response JsonResponse(const Call& call, http::status status, const boost::json::value& body) {
  Response res{status, call.req.version()};
  res.set(http::field::content_type, "application/json");
  res.set(kOperationIdHeader, call.ctx.operation_id);
  res.body() = boost::json::serialize(body);
  res.body() += '\n';
  res.prepare_payload();
  return res;
}

Response EmptyResponse(const Call& call, http::status status) {
  Response res{status, call.req.version()};
  res.set(kOperationIdHeader, call.ctx.operation_id);
  res.prepare_payload();
  return res;
}

Response Fail(const Call& call, const Error& error) {
  return ErrorResponse(error, call.ctx.operation_id, call.req.version());
}

Error InternalError(const Call& call, std::string_view what, const Error& cause) {
  spdlog::error("op={} {}: {}", call.ctx.operation_id, what, cause.message);
  return MakeError(ErrorCode::kInternal,
                   fmt::format("internal error ({}); operation {}", what, call.ctx.operation_id));
}

boost::json::array StringArray(const std::vector<std::string>& items) {
  boost::json::array out;
  out.reserve(items.size());
  for (const auto& s : items) out.emplace_back(s);
  return out;
}

boost::json::object Ref(const Call& call, std::string_view collection, std::string_view id) {
  return boost::json::object{{"id", id},
                             {"uri", fmt::format("{}/{}/{}", call.base_url, collection, id)}};
}

std::string JoinForHumans(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += i + 1 == items.size() ? " and " : ", ";
    out += items[i];
  }
  return out;
}

Result<Paging> ParsePaging(const Call& call, std::string_view id_prefix,
                           std::span<const store::FilterField> filter_fields, Time now) {
  Paging paging;
  auto params = call.target.params();
  for (auto param : params) {
    std::string_view key = param.key;
    if (key == "limit") {
      std::string_view v = param.value;
      int n = 0;
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec != std::errc() || end != v.data() + v.size() || n < 1 || n > 100) {
        return MakeFieldError(
            ErrorCode::kPageLimitInvalid, "limit",
            fmt::format("limit must be a whole number from 1 to 100, not '{}'", v.substr(0, 32)));
      }
      paging.limit = n;
    } else if (key == "before_id" || key == "beforeId") {
      std::string v = param.value;
      if (!IsValidId(id_prefix, v)) {
        return MakeFieldError(ErrorCode::kInvalidPaging, key,
                              fmt::format("before_id must be an id starting with '{}_', not '{}'",
                                          id_prefix, v.substr(0, 64)));
      }
      paging.before_id = std::move(v);
    } else if (key == "filter") {
      auto filter = ParseListFilter(param.value, filter_fields, now);
      if (!filter) return WithField(std::move(filter).error(), "filter");
      paging.filter = std::move(*filter);
      paging.filter_text = param.value;
    }
  }
  return paging;
}

boost::json::value NextPageUri(const Call& call, std::string_view collection,
                               const Paging& paging, bool has_more, std::string_view last_id) {
  if (!has_more) return nullptr;
  const std::string collection_url = fmt::format("{}/{}", call.base_url, collection);
  auto base = boost::urls::parse_uri(collection_url);  // a view of collection_url
  if (!base) {
    // base_url is checked where it is made; never a reason to fail a list.
    return boost::json::string(fmt::format("{}/{}?before_id={}&limit={}", call.base_url,
                                            collection, last_id, paging.limit));
  }
  boost::urls::url next(*base);
  auto params = next.params();
  params.append({"before_id", last_id});
  params.append({"limit", std::to_string(paging.limit)});
  if (paging.filter.has_value()) params.append({"filter", paging.filter_text});
  return boost::json::string(next.buffer());
}

}  // namespace certgate::api
