// `certgate domains ...` and `certgate endpoints ...`: /reserved_domains and
// /endpoints through the API.
#include <boost/json.hpp>
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/resource_commands.h"

namespace certgate::cli {
namespace {

namespace json = boost::json;
using boost::beast::http::verb;

// The certificate choice shared by create and update.
struct CertificateChoice {
  std::optional<std::string> certificate_id;
  bool managed = false;
  std::optional<std::string> key_type;

  void AddTo(CLI::App* cmd) {
    auto* cert = cmd->add_option("--certificate-id", certificate_id,
                                 "Serve this uploaded certificate (cert_...) instead of an "
                                 "automatic one");
    auto* managed_flag = cmd->add_flag(
        "--managed", managed,
        "Get and renew a certificate automatically (ACME); what `create` does for a branded "
        "domain unless --certificate-id is given");
    cert->excludes(managed_flag);
    auto* key = cmd->add_option("--key-type", key_type,
                                "Key of automatic certificates: ecdsa (default) or rsa; implies "
                                "--managed")
                    ->check(CLI::IsMember({"ecdsa", "rsa"}));
    cert->excludes(key);
  }
  void Apply(json::object& body) const {
    SetIfGiven(body, "certificate_id", certificate_id);
    if (managed || key_type) {
      json::object policy{{"authority", "letsencrypt"}};
      if (key_type) policy["private_key_type"] = *key_type;
      body["certificate_management_policy"] = std::move(policy);
    }
  }
};

void AddDomainCommands(CLI::App& root) {
  CLI::App* domains = root.add_subcommand(
      "domains", "Manage reserved domains through the API (CERTGATE_API_URL, CERTGATE_API_KEY)");
  domains->require_subcommand(1);
  domains->fallthrough();
  auto conn = std::make_shared<ApiConnection>();
  AddApiOptions(domains, *conn);

  struct CreateArgs {
    std::string domain;
    CertificateChoice certificate;
    std::optional<std::string> description, metadata;
  };
  auto create_args = std::make_shared<CreateArgs>();
  CLI::App* create = domains->add_subcommand(
      "create", "Reserve a domain (app.example.com or *.example.com); prints the DNS record to "
                "create");
  create->add_option("domain", create_args->domain, "The domain name")->required();
  create_args->certificate.AddTo(create);
  create->add_option("--description", create_args->description, "Up to 255 bytes");
  create->add_option("--metadata", create_args->metadata, "Up to 4096 bytes");
  create->callback([conn, create_args] {
    json::object body{{"domain", create_args->domain}};
    create_args->certificate.Apply(body);
    SetIfGiven(body, "description", create_args->description);
    SetIfGiven(body, "metadata", create_args->metadata);
    json::value out = CallApi(*conn, verb::post, "/reserved_domains", json::serialize(body));
    PrintJson(out);
    const json::object& o = out.as_object();
    if (const auto* target = o.if_contains("cname_target"); target && target->is_string()) {
      fmt::print(stderr, "create this DNS record: {} CNAME {}\n",
                 TerminalSafe(std::string_view(o.at("domain").as_string())), TerminalSafe(std::string_view(target->as_string())));
    }
    if (const auto* acme = o.if_contains("acme_challenge_cname_target"); acme && acme->is_string()) {
      std::string_view domain = o.at("domain").as_string();
      fmt::print(stderr, "and this one: _acme-challenge.{} CNAME {}\n",
                 TerminalSafe(domain.substr(2)), TerminalSafe(std::string_view(acme->as_string())));
    }
  });

  struct UpdateArgs {
    std::string id;
    CertificateChoice certificate;
    std::optional<std::string> description, metadata;
  };
  auto update_args = std::make_shared<UpdateArgs>();
  CLI::App* update = domains->add_subcommand(
      "update", "Change a domain's certificate, management, description or metadata");
  update->add_option("id", update_args->id, "rd_...")->required();
  update_args->certificate.AddTo(update);
  update->add_option("--description", update_args->description, "Up to 255 bytes");
  update->add_option("--metadata", update_args->metadata, "Up to 4096 bytes");
  update->callback([conn, update_args] {
    json::object body;
    update_args->certificate.Apply(body);
    SetIfGiven(body, "description", update_args->description);
    SetIfGiven(body, "metadata", update_args->metadata);
    PrintJson(CallApi(*conn, verb::patch, "/reserved_domains/" + UrlEncode(update_args->id),
                      json::serialize(body)));
  });

  auto id = std::make_shared<std::string>();
  CLI::App* detach = domains->add_subcommand(
      "detach-certificate", "Stop serving the domain's uploaded certificate");
  detach->add_option("id", *id, "rd_...")->required();
  detach->callback([conn, id] {
    CallApi(*conn, verb::delete_, "/reserved_domains/" + UrlEncode(*id) + "/certificate",
            std::nullopt);
    fmt::print("detached the certificate of {}\n", TerminalSafe(*id));
  });
  CLI::App* unmanage = domains->add_subcommand(
      "unmanage", "Turn automatic certificates off (the current one stays until replaced)");
  unmanage->add_option("id", *id, "rd_...")->required();
  unmanage->callback([conn, id] {
    CallApi(*conn, verb::delete_,
            "/reserved_domains/" + UrlEncode(*id) + "/certificate_management_policy", std::nullopt);
    fmt::print("automatic certificates are off for {}\n", TerminalSafe(*id));
  });

  AddListGetDelete(domains, conn,
                   ResourceSpec{"reserved_domains",
                                "reserved domain",
                                "rd_...",
                                {{"ID", "id"},
                                 {"DOMAIN", "domain"},
                                 {"CERTIFICATE", "certificate.id"},
                                 {"MANAGED", "certificate_management_policy.private_key_type"},
                                 {"CNAME TARGET", "cname_target"}},
                                "no domains; reserve one with `certgate domains create`"});
}

void AddEndpointCommands(CLI::App& root) {
  CLI::App* endpoints = root.add_subcommand(
      "endpoints", "Manage endpoints through the API (CERTGATE_API_URL, CERTGATE_API_KEY)");
  endpoints->require_subcommand(1);
  endpoints->fallthrough();
  auto conn = std::make_shared<ApiConnection>();
  AddApiOptions(endpoints, *conn);

  struct Args {
    std::string id;
    std::string url;
    std::optional<std::string> upstream_url;
    std::optional<std::string> policy_file;
    std::optional<std::string> description, metadata;
    void Apply(json::object& body) const {
      SetIfGiven(body, "upstream_url", upstream_url);
      if (policy_file) body["traffic_policy"] = ReadInput(*policy_file, "--traffic-policy");
      SetIfGiven(body, "description", description);
      SetIfGiven(body, "metadata", metadata);
    }
  };
  auto args = std::make_shared<Args>();
  auto add_common = [&](CLI::App* cmd) {
    cmd->add_option("--traffic-policy", args->policy_file,
                    "Traffic policy file (YAML or JSON); - for stdin; an empty file removes it");
    cmd->add_option("--description", args->description, "Up to 255 bytes");
    cmd->add_option("--metadata", args->metadata, "Up to 4096 bytes");
  };
  CLI::App* create = endpoints->add_subcommand(
      "create", "Serve https://host (proxied HTTP) or tls://host:443 (TLS) from an upstream");
  create->add_option("url", args->url, "https://host or tls://host:443")->required();
  create
      ->add_option("--upstream-url,--upstream", args->upstream_url,
                   "Where traffic goes: http://host:port or https://host:port (https "
                   "endpoints), tcp://host:port (tls endpoints)")
      ->required();
  add_common(create);
  create->callback([conn, args] {
    json::object body{{"url", args->url}};
    args->Apply(body);
    PrintJson(CallApi(*conn, verb::post, "/endpoints", json::serialize(body)));
  });

  CLI::App* update = endpoints->add_subcommand(
      "update", "Change an endpoint's upstream, traffic policy, description or metadata");
  update->add_option("id", args->id, "ep_...")->required();
  update->add_option("--upstream-url,--upstream", args->upstream_url, "The new upstream");
  add_common(update);
  update->callback([conn, args] {
    json::object body;
    args->Apply(body);
    PrintJson(
        CallApi(*conn, verb::patch, "/endpoints/" + UrlEncode(args->id), json::serialize(body)));
  });

  AddListGetDelete(endpoints, conn,
                   ResourceSpec{"endpoints",
                                "endpoint",
                                "ep_...",
                                {{"ID", "id"},
                                 {"URL", "url"},
                                 {"UPSTREAM", "upstream_url"},
                                 {"DESCRIPTION", "description"}},
                                "no endpoints; create one with `certgate endpoints create`"});
}

}  // namespace

void AddDomainAndEndpointCommands(CLI::App& root) {
  AddDomainCommands(root);
  AddEndpointCommands(root);
}

}  // namespace certgate::cli
