#include "cli/resource_commands.h"

#include <fmt/format.h>

#include <fstream>
#include <iostream>

#include "cli/commands.h"

namespace certgate::cli {
namespace {

namespace json = boost::json;
using boost::beast::http::verb;

constexpr size_t kMaxInputFile = 1024 * 1024;

// The field at a dotted path as text ("" when absent or null).
std::string FieldText(const json::value& item, std::string_view path) {
  const json::value* v = &item;
  while (!path.empty()) {
    size_t dot = path.find('.');
    std::string_view key = path.substr(0, dot);
    const json::object* o = v->if_object();
    if (o == nullptr) return "";
    v = o->if_contains(key);
    if (v == nullptr) return "";
    path = dot == std::string_view::npos ? "" : path.substr(dot + 1);
  }
  if (v->is_string()) return std::string(v->get_string());
  if (v->is_null()) return "";
  return json::serialize(*v);
}

void PrintTable(const json::value& list, const ResourceSpec& spec) {
  const json::object* o = list.if_object();
  const json::value* items = o != nullptr ? o->if_contains(spec.collection) : nullptr;
  if (items == nullptr || !items->is_array()) {
    PrintJson(list);
    return;
  }
  std::vector<std::vector<std::string>> rows;
  rows.emplace_back();
  for (const auto& [header, field] : spec.columns) rows.back().push_back(header);
  for (const auto& item : items->get_array()) {
    rows.emplace_back();
    // Cells hold what users wrote (descriptions, names): escaped, so that a
    // description cannot recolour or rewrite the terminal.
    for (const auto& [header, field] : spec.columns) {
      rows.back().push_back(TerminalSafe(FieldText(item, field)));
    }
  }
  std::vector<size_t> width(spec.columns.size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], DisplayWidth(row[i]));
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - DisplayWidth(row[i]) + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    fmt::print("{}\n", line);
  }
  if (rows.size() == 1) fmt::print("({})\n", spec.empty_hint);
  const json::value* next = o->if_contains("next_page_uri");
  if (next != nullptr && next->is_string()) {
    fmt::print("more: add --before-id {}\n", rows.back()[0]);
  }
}

}  // namespace

std::string ReadInput(const std::string& path, std::string_view flag) {
  std::string data;
  auto read_all = [&](std::istream& in) {
    char buf[8192];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) {
      data.append(buf, static_cast<size_t>(in.gcount()));
      if (data.size() > kMaxInputFile) {
        Die(fmt::format("{} {}: the file is larger than 1 MiB", flag, TerminalSafe(path)));
      }
    }
  };
  if (path == "-") {
    read_all(std::cin);
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) Die(fmt::format("{} {}: cannot read the file", flag, TerminalSafe(path)));
    read_all(in);
  }
  return data;
}

void SetIfGiven(json::object& body, std::string_view key, const std::optional<std::string>& value) {
  if (value) body[key] = *value;
}

void AddListGetDelete(CLI::App* group, std::shared_ptr<ApiConnection> conn,
                      const ResourceSpec& spec) {
  struct ListArgs {
    int limit = 0;
    std::string before_id;
    bool json_out = false;
  };
  auto list_args = std::make_shared<ListArgs>();
  CLI::App* list = group->add_subcommand("list", fmt::format("List {}s, newest first", spec.noun));
  list->add_option("--limit", list_args->limit, "At most this many (1-100)")
      ->check(CLI::Range(1, 100));
  list->add_option("--before-id", list_args->before_id, "Continue after this id");
  list->add_flag("--json", list_args->json_out, "Print the API's JSON instead of a table");
  list->callback([conn, list_args, spec] {
    std::string path = "/" + spec.collection;
    std::string sep = "?";
    if (list_args->limit > 0) {
      path += sep + "limit=" + std::to_string(list_args->limit);
      sep = "&";
    }
    if (!list_args->before_id.empty()) path += sep + "before_id=" + UrlEncode(list_args->before_id);
    json::value out = CallApi(*conn, verb::get, path, std::nullopt);
    if (list_args->json_out) {
      PrintJson(out);
    } else {
      PrintTable(out, spec);
    }
  });

  auto id = std::make_shared<std::string>();
  CLI::App* get = group->add_subcommand("get", fmt::format("Show one {}", spec.noun));
  get->add_option("id", *id, spec.id_hint)->required();
  get->callback([conn, id, spec] {
    PrintJson(CallApi(*conn, verb::get, "/" + spec.collection + "/" + UrlEncode(*id), std::nullopt));
  });

  CLI::App* del = group->add_subcommand("delete", fmt::format("Delete a {}", spec.noun));
  del->add_option("id", *id, spec.id_hint)->required();
  del->callback([conn, id, spec] {
    CallApi(*conn, verb::delete_, "/" + spec.collection + "/" + UrlEncode(*id), std::nullopt);
    fmt::print("deleted {}\n", TerminalSafe(*id));
  });
}

}  // namespace certgate::cli
