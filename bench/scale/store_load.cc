#include "scale/store_load.h"

#include <chrono>
#include <cstdint>

#include <fmt/format.h>

#include "core/ids.h"
#include "core/time.h"
#include "names/domain_name.h"
#include "scale/scale_pki.h"
#include "scale/sqlite_file.h"
#include "store/name_key.h"

namespace certgate::bench::scale {

StoreLoad DirectStoreLoad(const std::filesystem::path& db_path, int names,
                          const std::string& certificate_id, size_t keep_ids) {
  StoreLoad out;
  const auto t0 = std::chrono::steady_clock::now();
  SqliteFile db(db_path);
  const std::string account_id = AccountOf(db, certificate_id);
  const int64_t created_at = ToUnixSeconds(SystemClock::Instance().Now());
  const std::string cname_parent = fmt::format(".cname.{}", kBaseDomain);
  db.Exec("BEGIN IMMEDIATE");
  {
    SqliteFile::Statement insert(db, kInsertDomain);
    insert.Text(2, account_id).Int(3, created_at).Text(5, certificate_id);
    for (int i = 0; i < names; ++i) {
      const std::string name = LoadedName(i);
      const std::string id = NewId("rd");
      if (out.first_ids.size() < keep_ids) out.first_ids.push_back(id);
      insert.Text(1, id)
          .Text(4, name)
          .Text(6, store::NameKey(name))
          .Text(7, names::RandomLabel() + cname_parent)
          .Step("inserting " + name);
    }
  }
  db.Exec("COMMIT");
  db.Checkpoint();
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

}  // namespace certgate::bench::scale
