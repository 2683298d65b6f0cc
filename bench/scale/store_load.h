// The "direct store load": N reserved domains written straight into a
// stopped server's SQLite file in one transaction, instead of N API calls
// (which take too long at a million). Each row is what POST
// /reserved_domains would have stored for a name with an uploaded
// certificate: a fresh "rd_" id, the certificate's account, created now, no
// description or metadata, the name and its name_key (store::NameKey), and a
// random cname_target under the base domain. The store's ownership checks
// are skipped (the names are distinct and all of one account); the tables'
// triggers run as for any insert, so the edge's change feed records them.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace certgate::bench::scale {

// The reserved_domains row a direct store load writes: ?1 id, ?2
// account_id, ?3 created_at, ?4 domain, ?5 certificate_id, ?6 name_key,
// ?7 cname_target.
inline constexpr char kInsertDomain[] =
    "INSERT INTO reserved_domains (id, account_id, created_at, description, metadata, domain,"
    " certificate_id, name_key, cname_target) VALUES (?1, ?2, ?3, '', '', ?4, ?5, ?6, ?7)";

struct StoreLoad {
  double seconds = 0;
  std::vector<std::string> first_ids;  // the ids of the first rows, in order
};

// Writes names rows LoadedName(0..names-1) pointing at certificate_id into
// db (certgate.db of a data dir no server has open) and checkpoints the WAL;
// keeps the ids of the first keep_ids rows. Throws std::runtime_error with
// SQLite's message on failure.
StoreLoad DirectStoreLoad(const std::filesystem::path& db, int names,
                          const std::string& certificate_id, size_t keep_ids);

}  // namespace certgate::bench::scale
