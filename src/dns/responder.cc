// The authoritative responder: see responder.h for the contract. Messages are
// parsed and built with ldns; sockets are Boost.Asio on one io_context thread.
#include "dns/responder.h"

#include <fmt/format.h>
// Not <ldns/ldns.h>: it declares DNSSEC key functions with OpenSSL types
// that OPENSSL_NO_DEPRECATED hides.
#include <ldns/wire2host.h>
#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <ctime>
#include <optional>
#include <span>
#include <thread>
#include <string_view>
#include <unordered_map>

#include <sys/socket.h>
#include <cerrno>
#include <cstring>
#include <functional>
// Last: ldns's C headers define true and false as macros.
#include "dns/ldns_util.h"

namespace certgate::dns {
namespace {

namespace net = boost::asio;
using net::ip::tcp;
using net::ip::udp;
constexpr auto kUseTuple = net::as_tuple(net::use_awaitable);

// Any message longer than this is not a query we want to read.
constexpr size_t kMaxQuery = 4096;
// RFC 1035 4.2.1: without EDNS, UDP messages are at most 512 bytes.
constexpr size_t kClassicUdpSize = 512;
// The EDNS payload size we offer and the most we send over UDP (the DNS flag
// day 2020 value, below common path MTUs).
constexpr uint16_t kOurUdpSize = 1232;
constexpr size_t kMaxTcpMessage = 65535;
// A TXT character-string holds at most 255 bytes.
constexpr size_t kMaxCharacterString = 255;
constexpr uint8_t kRcodeFormErr = LDNS_RCODE_FORMERR;

// An answer that only has a header: for queries whose question we cannot or
// will not read. Keeps the id, opcode and RD of the query.
std::optional<std::vector<uint8_t>> HeaderOnlyReply(std::span<const uint8_t> query,
                                                    uint8_t rcode) {
  PktPtr pkt(ldns_pkt_new());
  if (!pkt) return std::nullopt;
  ldns_pkt_set_id(pkt.get(), static_cast<uint16_t>((query[0] << 8) | query[1]));
  ldns_pkt_set_qr(pkt.get(), true);
  ldns_pkt_set_opcode(pkt.get(), static_cast<ldns_pkt_opcode>((query[2] >> 3) & 0x0f));
  ldns_pkt_set_rd(pkt.get(), (query[2] & 0x01) != 0);
  ldns_pkt_set_rcode(pkt.get(), rcode);
  return ToWire(pkt.get());
}

// The labels of a wire-format domain name, lower-cased (ASCII only).
// ldns_wire2pkt has already checked the name's structure.
std::vector<std::string> LowerLabels(const ldns_rdf* dname) {
  std::vector<std::string> labels;
  const uint8_t* p = ldns_rdf_data(dname);
  const size_t size = ldns_rdf_size(dname);
  size_t i = 0;
  while (i < size && p[i] != 0) {
    const size_t len = p[i];
    if (i + 1 + len > size) break;
    std::string label(reinterpret_cast<const char*>(p + i + 1), len);
    for (char& c : label) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    labels.push_back(std::move(label));
    i += 1 + len;
  }
  return labels;
}

bool IsHostLabel(std::string_view label) {
  if (label.empty() || label.size() > 63) return false;
  for (char c : label) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                    c == '*';
    if (!ok) return false;
  }
  return true;
}

std::vector<std::string> SplitZone(std::string_view zone) {
  std::vector<std::string> labels;
  size_t start = 0;
  for (;;) {
    size_t dot = zone.find('.', start);
    labels.emplace_back(zone.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return labels;
}

// Replaces rr's owner with a copy of name.
void SetOwner(ldns_rr* rr, const ldns_rdf* name) {
  if (ldns_rdf* old = ldns_rr_owner(rr)) ldns_rdf_deep_free(old);
  ldns_rr_set_owner(rr, ldns_rdf_clone(name));
}

RrPtr NewRr(const ldns_rdf* owner, ldns_rr_type type, uint32_t ttl) {
  RrPtr rr(ldns_rr_new());
  if (!rr) return rr;
  ldns_rr_set_owner(rr.get(), ldns_rdf_clone(owner));
  ldns_rr_set_type(rr.get(), type);
  ldns_rr_set_class(rr.get(), LDNS_RR_CLASS_IN);
  ldns_rr_set_ttl(rr.get(), ttl);
  return rr;
}

void Push(ldns_pkt* pkt, ldns_pkt_section section, RrPtr rr) {
  if (rr && ldns_pkt_push_rr(pkt, section, rr.get())) rr.release();
}

}  // namespace

// UDP answers per source address: a token bucket each, refilled at `rate`
// a second up to one second's worth. The table is bounded: past 65,536
// sources it forgets the idle ones, and if all are busy (a flood from
// spoofed addresses) it starts over rather than grow.
class SourceBudget {
 public:
  explicit SourceBudget(uint32_t rate) : rate_(rate) {}

  bool Allow(const net::ip::address& address, std::chrono::steady_clock::time_point now) {
    if (rate_ == 0) return true;
    const Key key = address.is_v4()
                        ? net::ip::make_address_v6(net::ip::v4_mapped, address.to_v4()).to_bytes()
                        : address.to_v6().to_bytes();
    auto [it, added] = buckets_.try_emplace(key, Bucket{static_cast<double>(rate_), now});
    Bucket& b = it->second;
    if (!added) {
      const double elapsed = std::chrono::duration<double>(now - b.at).count();
      b.tokens = std::min<double>(rate_, b.tokens + elapsed * rate_);
      b.at = now;
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    if (added && buckets_.size() > kMaxSources) Forget(now);
    return true;
  }

 private:
  using Key = net::ip::address_v6::bytes_type;  // IPv4 as v4-mapped IPv6
  struct KeyHash {
    size_t operator()(const Key& k) const {
      return std::hash<std::string_view>{}(
          std::string_view(reinterpret_cast<const char*>(k.data()), k.size()));
    }
  };
  struct Bucket {
    double tokens;
    std::chrono::steady_clock::time_point at;
  };
  static constexpr size_t kMaxSources = 65536;

  void Forget(std::chrono::steady_clock::time_point now) {
    std::erase_if(buckets_, [&](const auto& entry) {
      return now - entry.second.at > std::chrono::seconds(1);
    });
    if (buckets_.size() > kMaxSources) buckets_.clear();
  }

  const uint32_t rate_;
  std::unordered_map<Key, Bucket, KeyHash> buckets_;
};

struct Responder::Impl {
  Impl(ResponderOptions o, ZoneSource& s)
      : options(std::move(o)), source(s), budget(options.udp_queries_per_source) {}

  // Everything about one query, synchronous: bytes in, bytes out (nullopt:
  // send nothing). udp selects the UDP size rules.
  std::optional<std::vector<uint8_t>> Handle(std::span<const uint8_t> query, bool udp);
  // Fills the answer for an in-zone question; returns the RCODE.
  Result<uint8_t> Answer(const ldns_rr* question, const std::vector<std::string>& labels,
                         ldns_pkt* resp);
  void PushAddresses(ldns_pkt* resp, ldns_pkt_section section, const ldns_rdf* owner,
                     bool v4, bool v6, bool* pushed) const;
  void PushSoa(ldns_pkt* resp, ldns_pkt_section section, const ldns_rdf* owner) const;

  net::awaitable<void> UdpLoop();
  net::awaitable<void> AcceptLoop();
  net::awaitable<void> ServeTcp(tcp::socket socket);

  const ResponderOptions options;
  ZoneSource& source;
  std::vector<std::string> zone_labels;
  std::string ns1_name;
  RrPtr soa;          // the apex SOA, owner lower-case
  RrPtr ns;           // the apex NS
  ldns_rdf* ns1_dname = nullptr;  // owned by ns's rdata

  std::optional<net::io_context> io{std::in_place, 1};
  std::optional<udp::socket> udp_socket;
  std::optional<tcp::acceptor> acceptor;
  std::thread thread;
  std::atomic<bool> stopping{false};
  size_t open_tcp = 0;  // only touched on the io thread
  SourceBudget budget;  // only touched on the io thread
  uint64_t dropped = 0;  // over budget; only touched on the io thread
  // For Stats: answers by RCODE (the header's four bits), and drops.
  std::array<std::atomic<uint64_t>, 16> answers_by_rcode{};
  std::atomic<uint64_t> dropped_total{0};
  void Count(const std::optional<std::vector<uint8_t>>& reply) {
    if (reply && reply->size() >= 4) {
      answers_by_rcode[(*reply)[3] & 0x0f].fetch_add(1, std::memory_order_relaxed);
    }
  }
};

Result<std::unique_ptr<Responder>> Responder::Create(ResponderOptions options,
                                                     ZoneSource& source) {
  const std::string zone = options.zone;
  if (zone.empty() || zone.size() > 250 || zone.back() == '.') {
    return MakeError(ErrorCode::kConfigInvalid,
                     fmt::format("dns zone '{}' must be a domain name without a trailing dot",
                                 zone));
  }
  std::vector<std::string> labels = SplitZone(zone);
  for (const auto& label : labels) {
    if (!IsHostLabel(label) || label.find('*') != std::string::npos) {
      return MakeError(ErrorCode::kConfigInvalid,
                       fmt::format("dns zone '{}' is not a normalized domain name", zone));
    }
  }
  auto impl = std::make_unique<Impl>(std::move(options), source);
  impl->zone_labels = std::move(labels);
  impl->ns1_name = "ns1." + zone;
  const uint32_t ttl = impl->options.ttl;
  const auto serial = static_cast<uint32_t>(std::time(nullptr));
  const std::string soa_text =
      fmt::format("{0}. {1} IN SOA ns1.{0}. hostmaster.{0}. {2} 3600 600 604800 {1}", zone, ttl,
                  serial);
  const std::string ns_text = fmt::format("{0}. {1} IN NS ns1.{0}.", zone, ttl);
  ldns_rr* rr = nullptr;
  if (ldns_rr_new_frm_str(&rr, soa_text.c_str(), 0, nullptr, nullptr) != LDNS_STATUS_OK) {
    return MakeError(ErrorCode::kConfigInvalid, fmt::format("dns zone '{}': bad SOA", zone));
  }
  impl->soa.reset(rr);
  rr = nullptr;
  if (ldns_rr_new_frm_str(&rr, ns_text.c_str(), 0, nullptr, nullptr) != LDNS_STATUS_OK) {
    return MakeError(ErrorCode::kConfigInvalid, fmt::format("dns zone '{}': bad NS", zone));
  }
  impl->ns.reset(rr);
  impl->ns1_dname = ldns_rr_rdf(impl->ns.get(), 0);
  return std::unique_ptr<Responder>(new Responder(std::move(impl)));
}

Responder::Responder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Responder::~Responder() { Stop(); }

Responder::Stats Responder::stats() const {
  Stats stats;
  for (size_t i = 0; i < stats.answers_by_rcode.size(); ++i) {
    stats.answers_by_rcode[i] = impl_->answers_by_rcode[i].load(std::memory_order_relaxed);
  }
  stats.dropped = impl_->dropped_total.load(std::memory_order_relaxed);
  return stats;
}

Result<HostPort> Responder::Listen() {
  Impl& d = *impl_;
  if (d.stopping || !d.io || d.thread.joinable()) {
    return MakeError(ErrorCode::kInternal, "dns: Listen after Start or Stop");
  }
  const HostPort& want = d.options.listen;
  boost::system::error_code ec;
  const auto ip = net::ip::make_address(want.host, ec);
  if (ec) {
    return MakeError(ErrorCode::kConfigInvalid,
                     fmt::format("dns listen address '{}' is not an IP address", want.host));
  }
  auto fail = [&](std::string_view what, uint16_t port) {
    d.udp_socket.reset();
    d.acceptor.reset();
    return MakeError(ErrorCode::kIo, fmt::format("dns: cannot listen on {}: {} failed: {}",
                                                 FormatHostPort(want.host, port), what,
                                                 ec.message()));
  };
  // With port 0 the kernel picks a UDP port; TCP then takes the same number,
  // which someone else may hold: try again with another.
  const int attempts = want.port == 0 ? 50 : 1;
  for (int attempt = 0; attempt < attempts; ++attempt) {
    d.udp_socket.emplace(*d.io);
    if (d.udp_socket->open(ip.is_v6() ? udp::v6() : udp::v4(), ec); ec) return fail("socket", 0);
    if (ip.is_v6()) d.udp_socket->set_option(net::ip::v6_only(true), ec);
    if (d.udp_socket->bind(udp::endpoint(ip, want.port), ec); ec) {
      return fail("UDP bind", want.port);
    }
    const uint16_t port = d.udp_socket->local_endpoint(ec).port();
    if (ec) return fail("getsockname", want.port);
    d.acceptor.emplace(*d.io);
    if (d.acceptor->open(ip.is_v6() ? tcp::v6() : tcp::v4(), ec); ec) return fail("socket", port);
    d.acceptor->set_option(net::socket_base::reuse_address(true), ec);
    if (ip.is_v6()) d.acceptor->set_option(net::ip::v6_only(true), ec);
    if (d.acceptor->bind(tcp::endpoint(ip, port), ec); ec) {
      if (ec == boost::system::errc::address_in_use && attempt + 1 < attempts) continue;
      return fail("TCP bind", port);
    }
    if (d.acceptor->listen(net::socket_base::max_listen_connections, ec); ec) {
      return fail("listen", port);
    }
    return HostPort{want.host, port};
  }
  return fail("TCP bind", 0);  // not reached: the last attempt returns
}

void Responder::Start() {
  Impl& d = *impl_;
  if (d.thread.joinable() || !d.udp_socket || !d.acceptor) return;
  auto log_exit = [](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::debug("dns: responder loop ended: {}", ex.what());
    }
  };
  net::co_spawn(*d.io, d.UdpLoop(), log_exit);
  net::co_spawn(*d.io, d.AcceptLoop(), log_exit);
  d.thread = std::thread([io = &*d.io] {
    auto guard = net::make_work_guard(*io);
    io->run();
  });
}

void Responder::Stop() {
  Impl& d = *impl_;
  if (d.stopping.exchange(true)) return;
  if (d.io) d.io->stop();
  if (d.thread.joinable()) d.thread.join();
  // Sockets first, then the io_context, whose destruction frees the
  // suspended coroutines (they refer to this Impl, still alive).
  d.udp_socket.reset();
  d.acceptor.reset();
  d.io.reset();
}

std::optional<std::vector<uint8_t>> Responder::Impl::Handle(std::span<const uint8_t> query,
                                                            bool udp) {
  if (query.size() < LDNS_HEADER_SIZE || query.size() > kMaxQuery) return std::nullopt;
  if ((query[2] & 0x80) != 0) return std::nullopt;  // a response: never answer one
  const unsigned opcode = (query[2] >> 3) & 0x0f;
  if (opcode != LDNS_PACKET_QUERY) return HeaderOnlyReply(query, LDNS_RCODE_NOTIMPL);

  ldns_pkt* parsed = nullptr;
  if (ldns_wire2pkt(&parsed, query.data(), query.size()) != LDNS_STATUS_OK || parsed == nullptr) {
    if (parsed != nullptr) ldns_pkt_free(parsed);
    spdlog::debug("dns: malformed query ({} bytes)", query.size());
    return HeaderOnlyReply(query, kRcodeFormErr);
  }
  PktPtr q(parsed);
  const bool edns = ldns_pkt_edns(q.get());
  if (udp && !edns && query.size() > kClassicUdpSize) return HeaderOnlyReply(query, kRcodeFormErr);
  const ldns_rr_list* questions = ldns_pkt_question(q.get());
  if (ldns_pkt_qdcount(q.get()) != 1 || questions == nullptr ||
      ldns_rr_list_rr_count(questions) != 1) {
    return HeaderOnlyReply(query, kRcodeFormErr);
  }
  const ldns_rr* question = ldns_rr_list_rr(questions, 0);

  auto base = [&]() {
    PktPtr r(ldns_pkt_new());
    if (!r) return r;
    ldns_pkt_set_id(r.get(), ldns_pkt_id(q.get()));
    ldns_pkt_set_qr(r.get(), true);
    ldns_pkt_set_opcode(r.get(), LDNS_PACKET_QUERY);
    ldns_pkt_set_rd(r.get(), ldns_pkt_rd(q.get()));
    ldns_pkt_set_cd(r.get(), ldns_pkt_cd(q.get()));
    Push(r.get(), LDNS_SECTION_QUESTION, RrPtr(ldns_rr_clone(question)));
    if (edns) ldns_pkt_set_edns_udp_size(r.get(), kOurUdpSize);
    return r;
  };
  PktPtr resp = base();
  if (!resp) return std::nullopt;
  bool aa = false;
  uint8_t rcode = LDNS_RCODE_NOERROR;
  if (edns && ldns_pkt_edns_version(q.get()) != 0) {
    ldns_pkt_set_edns_extended_rcode(resp.get(), 1);  // BADVERS (16) = 1 << 4 | 0
    return ToWire(resp.get());
  }
  const ldns_rr_type qtype = ldns_rr_get_type(question);
  const ldns_rr_class qclass = ldns_rr_get_class(question);
  const std::vector<std::string> labels = LowerLabels(ldns_rr_owner(question));
  bool in_zone = labels.size() >= zone_labels.size();
  for (size_t i = 0; in_zone && i < zone_labels.size(); ++i) {
    in_zone = labels[labels.size() - zone_labels.size() + i] == zone_labels[i];
  }
  if (!in_zone || (qclass != LDNS_RR_CLASS_IN && qclass != LDNS_RR_CLASS_ANY) ||
      qtype == LDNS_RR_TYPE_AXFR || qtype == LDNS_RR_TYPE_IXFR) {
    rcode = LDNS_RCODE_REFUSED;
  } else if (qtype == LDNS_RR_TYPE_MAILA || qtype == LDNS_RR_TYPE_MAILB) {
    rcode = LDNS_RCODE_NOTIMPL;
  } else {
    aa = true;
    Result<uint8_t> answered = LDNS_RCODE_SERVFAIL;
    try {
      answered = Answer(question, labels, resp.get());
    } catch (const std::exception& e) {
      answered = MakeError(ErrorCode::kInternal, e.what());
    }
    if (answered.ok()) {
      rcode = *answered;
    } else {
      spdlog::debug("dns: SERVFAIL: the zone source failed: {}", answered.error().message);
      resp = base();
      if (!resp) return std::nullopt;
      rcode = LDNS_RCODE_SERVFAIL;
    }
  }
  ldns_pkt_set_aa(resp.get(), aa);
  ldns_pkt_set_rcode(resp.get(), rcode);
  std::optional<std::vector<uint8_t>> wire = ToWire(resp.get());
  if (!wire) return std::nullopt;

  size_t limit = kMaxTcpMessage;
  if (udp) {
    limit = kClassicUdpSize;
    if (edns) {
      limit = std::clamp<size_t>(ldns_pkt_edns_udp_size(q.get()), kClassicUdpSize, kOurUdpSize);
    }
  }
  if (wire->size() > limit) {
    // Truncated: the question (and OPT) only, TC set; the client retries
    // over TCP.
    resp = base();
    if (!resp) return std::nullopt;
    ldns_pkt_set_aa(resp.get(), aa);
    ldns_pkt_set_rcode(resp.get(), rcode);
    ldns_pkt_set_tc(resp.get(), true);
    wire = ToWire(resp.get());
  }
  return wire;
}

void Responder::Impl::PushSoa(ldns_pkt* resp, ldns_pkt_section section,
                              const ldns_rdf* owner) const {
  RrPtr rr(ldns_rr_clone(soa.get()));
  if (rr && owner != nullptr) SetOwner(rr.get(), owner);
  Push(resp, section, std::move(rr));
}

void Responder::Impl::PushAddresses(ldns_pkt* resp, ldns_pkt_section section,
                                    const ldns_rdf* owner, bool v4, bool v6,
                                    bool* pushed) const {
  for (const auto& address : options.edge_addresses) {
    if (address.is_v4() && v4) {
      const auto bytes = address.to_v4().to_bytes();
      RrPtr rr = NewRr(owner, LDNS_RR_TYPE_A, options.ttl);
      if (!rr) continue;
      ldns_rr_push_rdf(rr.get(), ldns_rdf_new_frm_data(LDNS_RDF_TYPE_A, bytes.size(), bytes.data()));
      Push(resp, section, std::move(rr));
      if (pushed != nullptr) *pushed = true;
    } else if (address.is_v6() && v6) {
      const auto bytes = address.to_v6().to_bytes();
      RrPtr rr = NewRr(owner, LDNS_RR_TYPE_AAAA, options.ttl);
      if (!rr) continue;
      ldns_rr_push_rdf(rr.get(),
                       ldns_rdf_new_frm_data(LDNS_RDF_TYPE_AAAA, bytes.size(), bytes.data()));
      Push(resp, section, std::move(rr));
      if (pushed != nullptr) *pushed = true;
    }
  }
}

Result<uint8_t> Responder::Impl::Answer(const ldns_rr* question,
                                        const std::vector<std::string>& labels, ldns_pkt* resp) {
  const ldns_rdf* owner = ldns_rr_owner(question);
  const ldns_rr_type qtype = ldns_rr_get_type(question);
  const size_t own = labels.size() - zone_labels.size();  // labels below the apex
  for (size_t i = 0; i < own; ++i) {
    // Names we could never have (dots or odd bytes inside a label) do not
    // exist; the zone source only sees host-like names.
    if (!IsHostLabel(labels[i])) {
      PushSoa(resp, LDNS_SECTION_AUTHORITY, nullptr);
      return uint8_t{LDNS_RCODE_NXDOMAIN};
    }
  }
  std::string name;
  for (const auto& label : labels) {
    if (!name.empty()) name += '.';
    name += label;
  }
  const bool apex = own == 0;
  const bool ns1 = name == ns1_name;
  const bool any = qtype == LDNS_RR_TYPE_ANY;
  auto want = [&](ldns_rr_type t) { return any || qtype == t; };

  bool has_data = false;
  if (apex && want(LDNS_RR_TYPE_SOA)) {
    PushSoa(resp, LDNS_SECTION_ANSWER, owner);
    has_data = true;
  }
  if (apex && want(LDNS_RR_TYPE_NS)) {
    RrPtr rr(ldns_rr_clone(ns.get()));
    if (rr) SetOwner(rr.get(), owner);
    Push(resp, LDNS_SECTION_ANSWER, std::move(rr));
    has_data = true;
    if (!any) PushAddresses(resp, LDNS_SECTION_ADDITIONAL, ns1_dname, true, true, nullptr);
  }
  std::optional<bool> edge;
  if (apex || ns1) edge = true;
  if (want(LDNS_RR_TYPE_A) || want(LDNS_RR_TYPE_AAAA)) {
    if (!edge) {
      CG_ASSIGN_OR_RETURN(edge, source.IsEdgeName(name));
    }
    if (*edge) {
      PushAddresses(resp, LDNS_SECTION_ANSWER, owner, want(LDNS_RR_TYPE_A),
                    want(LDNS_RR_TYPE_AAAA), &has_data);
    }
  }
  std::optional<bool> has_txt;
  if (want(LDNS_RR_TYPE_TXT)) {
    CG_ASSIGN_OR_RETURN(std::vector<std::string> values, source.TxtRecords(name));
    has_txt = !values.empty();
    for (const auto& value : values) {
      RrPtr rr = NewRr(owner, LDNS_RR_TYPE_TXT, options.ttl);
      if (!rr) continue;
      size_t off = 0;
      do {
        const size_t n = std::min(kMaxCharacterString, value.size() - off);
        std::string chunk(1, static_cast<char>(n));
        chunk.append(value, off, n);
        ldns_rr_push_rdf(rr.get(), ldns_rdf_new_frm_data(LDNS_RDF_TYPE_STR, chunk.size(),
                                                         chunk.data()));
        off += n;
      } while (off < value.size());
      Push(resp, LDNS_SECTION_ANSWER, std::move(rr));
      has_data = true;
    }
  }
  if (has_data) return uint8_t{LDNS_RCODE_NOERROR};

  // No data of the asked type: NODATA if the name exists, else NXDOMAIN.
  bool exists = apex || ns1;
  if (!exists) {
    if (!edge) {
      CG_ASSIGN_OR_RETURN(edge, source.IsEdgeName(name));
    }
    exists = *edge;
  }
  if (!exists && !has_txt) {
    CG_ASSIGN_OR_RETURN(std::vector<std::string> values, source.TxtRecords(name));
    exists = !values.empty();
  }
  if (!exists) {
    CG_ASSIGN_OR_RETURN(exists, source.HasNamesBelow(name));
  }
  PushSoa(resp, LDNS_SECTION_AUTHORITY, nullptr);
  return static_cast<uint8_t>(exists ? LDNS_RCODE_NOERROR : LDNS_RCODE_NXDOMAIN);
}

net::awaitable<void> Responder::Impl::UdpLoop() {
  // Datagrams are read in batches with recvmmsg while any are waiting, so
  // that a flood is drained far faster than it can be sent; the loop waits
  // only when there are none, and lets TCP connections have the thread
  // after each batch.
  constexpr unsigned kBatch = 32;
  std::vector<std::array<uint8_t, kMaxQuery + 1>> bufs(kBatch);  // +1: to see one is too long
  std::array<sockaddr_storage, kBatch> addrs{};
  std::array<iovec, kBatch> iovs{};
  std::array<mmsghdr, kBatch> msgs{};
  const int fd = udp_socket->native_handle();
  boost::system::error_code option_ec;
  udp_socket->non_blocking(true, option_ec);  // replies that do not fit now are dropped
  // Room for bursts (the kernel caps it at net.core.rmem_max).
  udp_socket->set_option(net::socket_base::receive_buffer_size(1 << 20), option_ec);
  for (;;) {
    for (unsigned i = 0; i < kBatch; ++i) {
      iovs[i] = iovec{bufs[i].data(), bufs[i].size()};
      msgs[i] = mmsghdr{};
      msgs[i].msg_hdr.msg_name = &addrs[i];
      msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    const int got = ::recvmmsg(fd, msgs.data(), kBatch, MSG_DONTWAIT, nullptr);
    if (stopping) co_return;
    if (got < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        auto [wec] = co_await udp_socket->async_wait(udp::socket::wait_read, kUseTuple);
        if (stopping || wec == net::error::operation_aborted) co_return;
        if (wec) spdlog::debug("dns: UDP wait failed: {}", wec.message());
        continue;
      }
      if (errno == EBADF) co_return;
      spdlog::debug("dns: UDP receive failed: {}", std::strerror(errno));
      continue;
    }
    const auto now = std::chrono::steady_clock::now();
    for (int i = 0; i < got; ++i) {
      udp::endpoint from;
      const mmsghdr& msg = msgs[static_cast<size_t>(i)];
      std::memcpy(from.data(), &addrs[static_cast<size_t>(i)],
                  std::min<size_t>(msg.msg_hdr.msg_namelen, from.capacity()));
      const size_t n = msg.msg_len;
      if (n > kMaxQuery || (msg.msg_hdr.msg_flags & MSG_TRUNC) != 0) {
        spdlog::debug("dns: dropped an oversized UDP datagram from {}",
                      from.address().to_string());
        continue;
      }
      if (!budget.Allow(from.address(), now)) {
        dropped_total.fetch_add(1, std::memory_order_relaxed);
        if (dropped++ % 100000 == 0) {
          spdlog::debug("dns: dropping UDP queries over {} a second from {} ({} so far)",
                        options.udp_queries_per_source, from.address().to_string(), dropped);
        }
        continue;
      }
      std::optional<std::vector<uint8_t>> reply = Handle(
          std::span<const uint8_t>(bufs[static_cast<size_t>(i)].data(), n), /*udp=*/true);
      if (!reply || from.port() == 0) continue;
      Count(reply);
      boost::system::error_code sec;
      udp_socket->send_to(net::buffer(*reply), from, 0, sec);  // non-blocking: dropped if full
      if (sec) spdlog::debug("dns: UDP send failed: {}", sec.message());
    }
    co_await net::post(udp_socket->get_executor(), kUseTuple);
    if (stopping) co_return;
  }
}

net::awaitable<void> Responder::Impl::AcceptLoop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor->async_accept(kUseTuple);
    if (stopping) co_return;
    if (ec) {
      if (ec == net::error::operation_aborted) co_return;
      spdlog::debug("dns: TCP accept failed: {}", ec.message());
      net::steady_timer pause(*io, std::chrono::milliseconds(50));
      co_await pause.async_wait(kUseTuple);
      continue;
    }
    if (open_tcp >= options.max_tcp_connections) {
      spdlog::debug("dns: too many TCP connections; closing a new one");
      boost::system::error_code ignored;
      socket.close(ignored);
      continue;
    }
    // Each answer is one complete message in one write: Nagle would only hold
    // the answer to a pipelined query back until the client's delayed ACK.
    boost::system::error_code nodelay_ec;
    socket.set_option(tcp::no_delay(true), nodelay_ec);
    ++open_tcp;
    net::co_spawn(*io, ServeTcp(std::move(socket)), [this](std::exception_ptr e) {
      --open_tcp;
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::debug("dns: TCP connection failed: {}", ex.what());
      }
    });
  }
}

net::awaitable<void> Responder::Impl::ServeTcp(tcp::socket socket) {
  using namespace net::experimental::awaitable_operators;
  net::steady_timer timer(socket.get_executor());
  std::array<uint8_t, 2> prefix{};
  std::vector<uint8_t> message;
  // Each read and write must finish within the idle timeout.
  auto read = [&](net::mutable_buffer buffer) -> net::awaitable<bool> {
    timer.expires_after(options.tcp_idle_timeout);
    auto r = co_await (net::async_read(socket, buffer, kUseTuple) || timer.async_wait(kUseTuple));
    co_return r.index() == 0 && !std::get<0>(std::get<0>(r));
  };
  for (;;) {
    if (!co_await read(net::buffer(prefix))) break;
    const size_t size = (size_t{prefix[0]} << 8) | prefix[1];
    if (size < LDNS_HEADER_SIZE || size > kMaxQuery) {
      spdlog::debug("dns: TCP message of {} bytes; closing", size);
      break;
    }
    message.resize(size);
    if (!co_await read(net::buffer(message))) break;
    std::optional<std::vector<uint8_t>> reply = Handle(message, /*udp=*/false);
    Count(reply);
    if (!reply) continue;
    const std::array<uint8_t, 2> out_prefix{static_cast<uint8_t>(reply->size() >> 8),
                                            static_cast<uint8_t>(reply->size() & 0xff)};
    const std::array<net::const_buffer, 2> buffers{net::buffer(out_prefix), net::buffer(*reply)};
    timer.expires_after(options.tcp_idle_timeout);
    auto w = co_await (net::async_write(socket, buffers, kUseTuple) || timer.async_wait(kUseTuple));
    if (w.index() != 0 || std::get<0>(std::get<0>(w))) break;
  }
  boost::system::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
}

}  // namespace certgate::dns
