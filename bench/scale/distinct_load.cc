#include "scale/distinct_load.h"

#include <chrono>
#include <cstdint>
#include <stdexcept>

#include <fmt/format.h>

#include "common/progress.h"
#include "core/ids.h"
#include "core/time.h"
#include "names/domain_name.h"
#include "provision/sealed_private_key.h"
#include "scale/scale_pki.h"
#include "scale/sqlite_file.h"
#include "scale/store_load.h"
#include "seal/key_vault.h"
#include "store/name_key.h"

namespace certgate::bench::scale {
namespace {

// ?1 id, ?2 account_id, ?3 created_at, ?4 certificate_pem, ?5 not_after,
// ?6 key_version, ?7 sealed_key, ?8 subject_common_name, ?9 serial_number,
// ?10 not_before; no description, metadata, issue time or owning endpoint.
constexpr char kInsertCertificate[] =
    "INSERT INTO tls_certificates (id, account_id, created_at, description, metadata,"
    " certificate_pem, issued_at, not_after, key_version, sealed_key, owner_endpoint_id,"
    " subject_common_name, serial_number, not_before)"
    " VALUES (?1, ?2, ?3, '', '', ?4, NULL, ?5, ?6, ?7, NULL, ?8, ?9, ?10)";

// The vault `certgate serve` opens on this data dir (app/local_state.cc):
// CERTGATE_MASTER_KEY if set, else data/master.key, which the first start
// created.
std::unique_ptr<seal::KeyVault> OpenVault(const std::filesystem::path& data_dir) {
  seal::MasterKeySource source = seal::MasterKeySource::FromEnvironmentOr(data_dir / "master.key");
  source.create_file_if_missing = false;
  auto vault = seal::KeyVault::Open(std::move(source));
  if (!vault) throw std::runtime_error("direct store load: " + vault.error().message);
  return std::move(*vault);
}

}  // namespace

void DistinctStoreLoad(DataDir& data, const DistinctPki& pki, int count, size_t keep_ids) {
  if (count > static_cast<int>(pki.certs.size())) {
    throw std::runtime_error("direct store load: more names than certificates");
  }
  const auto t0 = BenchClock::now();
  const std::filesystem::path data_dir = data.dir / "data";
  std::unique_ptr<seal::KeyVault> vault = OpenVault(data_dir);
  SqliteFile db(data_dir / "certgate.db");
  const std::string account_id = AccountOf(db, data.wildcard_id);
  const int64_t created_at = ToUnixSeconds(SystemClock::Instance().Now());
  const std::string cname_parent = fmt::format(".cname.{}", kBaseDomain);
  data.loaded_ids.clear();
  db.Exec("BEGIN IMMEDIATE");
  {
    SqliteFile::Statement cert_row(db, kInsertCertificate);
    SqliteFile::Statement domain_row(db, kInsertDomain);
    cert_row.Text(2, account_id).Int(3, created_at);
    domain_row.Text(2, account_id).Int(3, created_at);
    for (int i = 0; i < count; ++i) {
      const DistinctCert& c = pki.certs[static_cast<size_t>(i)];
      const std::string cert_id = NewId("cert");
      auto sealed = provision::SealPrivateKey(*vault, c.key.get(), cert_id);
      if (!sealed) {
        throw std::runtime_error("direct store load: sealing a key: " + sealed.error().message);
      }
      cert_row.Text(1, cert_id)
          .Text(4, c.chain_pem)
          .Int(5, ToUnixSeconds(c.not_after))
          .Int(6, sealed->key_version)
          .Blob(7, sealed->blob)
          .Text(8, c.name)
          .Text(9, c.serial_number)
          .Int(10, ToUnixSeconds(c.not_before))
          .Step("inserting the certificate of " + c.name);
      const std::string domain_id = NewId("rd");
      if (data.loaded_ids.size() < keep_ids) data.loaded_ids.push_back(domain_id);
      domain_row.Text(1, domain_id)
          .Text(4, c.name)
          .Text(5, cert_id)
          .Text(6, store::NameKey(c.name))
          .Text(7, names::RandomLabel() + cname_parent)
          .Step("inserting " + c.name);
    }
  }
  db.Exec("COMMIT");
  db.Checkpoint();
  data.names = count;
  data.distinct = true;
  data.load_s = Seconds(BenchClock::now() - t0);
  data.ready_name = pki.certs[static_cast<size_t>(count - 1)].name;
  data.ready_serial = pki.certs[static_cast<size_t>(count - 1)].serial;
}

}  // namespace certgate::bench::scale
