// The direct store load of the distinct-certificates scenario: for each of
// N names its own certificate and a reserved domain pointing at it, written
// straight into a stopped server's SQLite file in one transaction, as
// scale/store_load.h does for names on one wildcard. Each tls_certificates
// row is what POST /tls_certificates stores: a fresh "cert_" id, the
// account, the chain, the leaf's summary, and the key sealed by certgate's
// own KeyVault under the data dir's master key, for that id
// (provision::SealPrivateKey, as the API seals an upload); each
// reserved_domains row is DirectStoreLoad's, but for its certificate.
#pragma once

#include "scale/distinct_pki.h"
#include "scale/scale_server.h"

namespace certgate::bench::scale {

// Loads pki.certs[0..count) into data (prepared by PrepareEmptyDataDir):
// sets its names, distinct flag, load_s, loaded_ids (the first keep_ids
// domains' ids) and the name and serial that tell it is served. Throws
// std::runtime_error on a store or vault failure.
void DistinctStoreLoad(DataDir& data, const DistinctPki& pki, int count, size_t keep_ids);

}  // namespace certgate::bench::scale
