// `certgate certs ...`: the /tls_certificates resource through the API.
#include <boost/json.hpp>
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/resource_commands.h"
#include "core/secret_bytes.h"

namespace certgate::cli {
namespace {

namespace json = boost::json;
using boost::beast::http::verb;

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
    SetIfGiven(body, "description", create_args->description);
    SetIfGiven(body, "metadata", create_args->metadata);
    std::string text = json::serialize(body);
    json::string& stored = body["private_key_pem"].as_string();
    Wipe(stored.data(), stored.size());
    json::value out = CallApi(*conn, verb::post, "/tls_certificates", text);
    Wipe(text.data(), text.size());
    PrintJson(out);
  });

  struct UpdateArgs {
    std::string id;
    std::optional<std::string> description, metadata;
  };
  auto update_args = std::make_shared<UpdateArgs>();
  CLI::App* update =
      certs->add_subcommand("update", "Change a certificate's description or metadata");
  update->add_option("id", update_args->id, "cert_...")->required();
  update->add_option("--description", update_args->description, "Up to 255 bytes");
  update->add_option("--metadata", update_args->metadata, "Up to 4096 bytes");
  update->callback([conn, update_args] {
    json::object body;
    SetIfGiven(body, "description", update_args->description);
    SetIfGiven(body, "metadata", update_args->metadata);
    PrintJson(CallApi(*conn, verb::patch, "/tls_certificates/" + UrlEncode(update_args->id),
                      json::serialize(body)));
  });

  AddListGetDelete(certs, conn,
                   ResourceSpec{"tls_certificates",
                                "certificate",
                                "cert_...",
                                {{"ID", "id"},
                                 {"COMMON NAME", "subject_common_name"},
                                 {"KEY", "private_key_type"},
                                 {"NOT AFTER", "not_after"},
                                 {"DESCRIPTION", "description"}},
                                "no certificates; upload one with `certgate certs create`"});
}

}  // namespace certgate::cli
