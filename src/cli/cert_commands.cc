// `certgate certs ...`: the /tls_certificates resource through the API.
#include <boost/json.hpp>
#include <fmt/format.h>

#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "cli/api_commands.h"
#include "cli/commands.h"
#include "core/secret_bytes.h"

namespace certgate::cli {
namespace {

namespace json = boost::json;
using boost::beast::http::verb;

constexpr size_t kMaxInputFile = 1024 * 1024;

// Reads a file, or stdin for "-", refusing anything over 1 MiB.
std::string ReadInput(const std::string& path, std::string_view flag) {
  std::string data;
  auto read_all = [&](std::istream& in) {
    char buf[8192];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) {
      data.append(buf, static_cast<size_t>(in.gcount()));
      if (data.size() > kMaxInputFile) {
        Die(fmt::format("{} {}: the file is larger than 1 MiB", flag, path));
      }
    }
  };
  if (path == "-") {
    read_all(std::cin);
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) Die(fmt::format("{} {}: cannot read the file", flag, path));
    read_all(in);
  }
  return data;
}

void PrintTable(const json::value& list) {
  const auto* items = list.as_object().if_contains("tls_certificates");
  if (items == nullptr || !items->is_array()) {
    PrintJson(list);
    return;
  }
  std::vector<std::array<std::string, 5>> rows;
  rows.push_back({"ID", "COMMON NAME", "KEY", "NOT AFTER", "DESCRIPTION"});
  for (const auto& item : items->as_array()) {
    const auto& o = item.as_object();
    auto str = [&](std::string_view k) -> std::string {
      const auto* v = o.if_contains(k);
      return v != nullptr && v->is_string() ? std::string(v->as_string()) : "";
    };
    rows.push_back({str("id"), str("subject_common_name"), str("private_key_type"),
                    str("not_after"), str("description")});
  }
  std::array<size_t, 5> width{};
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    fmt::print("{}\n", line);
  }
  if (rows.size() == 1) fmt::print("(no certificates; upload one with `certgate certs create`)\n");
  const auto* next = list.as_object().if_contains("next_page_uri");
  if (next != nullptr && next->is_string()) {
    fmt::print("more: certgate certs list --before-id {}\n",
               rows.back()[0]);
  }
}

}  // namespace

void AddCertCommands(CLI::App& root) {
  CLI::App* certs = root.add_subcommand(
      "certs", "Manage TLS certificates through the API (CERTGATE_API_URL, CERTGATE_API_KEY)");
  certs->require_subcommand(1);
  certs->fallthrough();  // --api-url and friends may follow the subcommand
  auto conn = std::make_shared<ApiConnection>();
  AddApiOptions(certs, *conn);

  struct CreateArgs {
    std::string cert_file, key_file;
    std::optional<std::string> description, metadata;
  };
  auto create_args = std::make_shared<CreateArgs>();
  CLI::App* create = certs->add_subcommand(
      "create", "Upload a certificate chain (leaf first) and its unencrypted private key");
  create->add_option("--cert", create_args->cert_file, "PEM chain file, leaf first; - for stdin")
      ->required();
  create->add_option("--key", create_args->key_file, "PEM private key file; - for stdin")
      ->required();
  create->add_option("--description", create_args->description, "Up to 255 bytes");
  create->add_option("--metadata", create_args->metadata, "Up to 4096 bytes");
  create->callback([conn, create_args] {
    if (create_args->cert_file == "-" && create_args->key_file == "-") {
      Die("--cert and --key cannot both read stdin");
    }
    json::object body;
    body["certificate_pem"] = ReadInput(create_args->cert_file, "--cert");
    std::string key = ReadInput(create_args->key_file, "--key");
    body["private_key_pem"] = key;
    Wipe(key.data(), key.size());
    if (create_args->description) body["description"] = *create_args->description;
    if (create_args->metadata) body["metadata"] = *create_args->metadata;
    std::string text = json::serialize(body);
    Wipe(body["private_key_pem"].as_string().data(), body["private_key_pem"].as_string().size());
    json::value out = CallApi(*conn, verb::post, "/tls_certificates", text);
    Wipe(text.data(), text.size());
    PrintJson(out);
  });

  struct ListArgs {
    int limit = 0;
    std::string before_id;
    bool json_out = false;
  };
  auto list_args = std::make_shared<ListArgs>();
  CLI::App* list = certs->add_subcommand("list", "List certificates, newest first");
  list->add_option("--limit", list_args->limit, "At most this many (1-100)")
      ->check(CLI::Range(1, 100));
  list->add_option("--before-id", list_args->before_id, "Continue after this id");
  list->add_flag("--json", list_args->json_out, "Print the API's JSON instead of a table");
  list->callback([conn, list_args] {
    std::string path = "/tls_certificates";
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
      PrintTable(out);
    }
  });

  auto id = std::make_shared<std::string>();
  CLI::App* get = certs->add_subcommand("get", "Show one certificate");
  get->add_option("id", *id, "cert_...")->required();
  get->callback([conn, id] {
    PrintJson(CallApi(*conn, verb::get, "/tls_certificates/" + UrlEncode(*id), std::nullopt));
  });

  struct UpdateArgs {
    std::string id;
    std::optional<std::string> description, metadata;
  };
  auto update_args = std::make_shared<UpdateArgs>();
  CLI::App* update = certs->add_subcommand("update", "Change a certificate's description or metadata");
  update->add_option("id", update_args->id, "cert_...")->required();
  update->add_option("--description", update_args->description, "Up to 255 bytes");
  update->add_option("--metadata", update_args->metadata, "Up to 4096 bytes");
  update->callback([conn, update_args] {
    json::object body;
    if (update_args->description) body["description"] = *update_args->description;
    if (update_args->metadata) body["metadata"] = *update_args->metadata;
    PrintJson(CallApi(*conn, verb::patch, "/tls_certificates/" + UrlEncode(update_args->id),
                      json::serialize(body)));
  });

  CLI::App* del = certs->add_subcommand("delete", "Delete a certificate no domain uses");
  del->add_option("id", *id, "cert_...")->required();
  del->callback([conn, id] {
    CallApi(*conn, verb::delete_, "/tls_certificates/" + UrlEncode(*id), std::nullopt);
    fmt::print("deleted {}\n", *id);
  });
}

}  // namespace certgate::cli
