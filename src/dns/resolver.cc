// The resolver client: see resolver.h. Queries are built and answers parsed
// with ldns; the transport is Boost.Asio on a private io_context per call, so
// that every wait has the call's deadline.
#include "dns/resolver.h"

#include <fmt/format.h>
// Not <ldns/ldns.h>: it declares DNSSEC key functions with OpenSSL types
// that OPENSSL_NO_DEPRECATED hides.
#include <ldns/dname.h>
#include <ldns/wire2host.h>

#include <array>
#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <memory>
#include <random>
// Last: ldns's C headers define true and false as macros.
#include "dns/ldns_util.h"
#include <ldns/resolver.h>  // after packet.h, which it needs

namespace certgate::dns {
namespace {

namespace net = boost::asio;
using net::ip::tcp;
using net::ip::udp;
using Clock = std::chrono::steady_clock;
constexpr auto kUseTuple = net::as_tuple(net::use_awaitable);
constexpr uint16_t kUdpSize = 1232;
constexpr size_t kMaxUdpAnswer = 4096;
// CNAME chains longer than this are not followed.
constexpr int kMaxChain = 16;

struct ResolverFree {
  void operator()(ldns_resolver* p) const noexcept { ldns_resolver_deep_free(p); }
};

// A domain name as certgate stores names: lower-case, no trailing dot.
// Bytes that cannot appear in a host name are written as \DDD (RFC 1035
// master-file escapes), dots inside labels as "\.", so that such a name
// never equals a real one.
std::string NormalizedName(const ldns_rdf* dname) {
  std::string text;
  const uint8_t* p = ldns_rdf_data(dname);
  const size_t size = ldns_rdf_size(dname);
  size_t i = 0;
  while (i < size && p[i] != 0) {
    const size_t len = p[i];
    if (i + 1 + len > size) break;
    if (!text.empty()) text += '.';
    for (size_t j = i + 1; j <= i + len; ++j) {
      const auto c = static_cast<char>(p[j]);
      if (c >= 'A' && c <= 'Z') {
        text += static_cast<char>(c - 'A' + 'a');
      } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                 c == '*') {
        text += c;
      } else if (c == '.' || c == '\\') {
        text += '\\';
        text += c;
      } else {
        text += fmt::format("\\{:03}", unsigned{p[j]});
      }
    }
    i += 1 + len;
  }
  return text;
}

// A nameserver address from ldns's resolver (an A or AAAA rdf).
std::optional<std::string> AddressText(const ldns_rdf* rdf) {
  if (ldns_rdf_get_type(rdf) == LDNS_RDF_TYPE_A && ldns_rdf_size(rdf) == 4) {
    net::ip::address_v4::bytes_type b;
    std::copy_n(ldns_rdf_data(rdf), 4, b.begin());
    return net::ip::address_v4(b).to_string();
  }
  if (ldns_rdf_get_type(rdf) == LDNS_RDF_TYPE_AAAA && ldns_rdf_size(rdf) == 16) {
    net::ip::address_v6::bytes_type b;
    std::copy_n(ldns_rdf_data(rdf), 16, b.begin());
    return net::ip::address_v6(b).to_string();
  }
  return std::nullopt;
}

std::string RcodeName(unsigned rcode) {
  switch (rcode) {
    case LDNS_RCODE_FORMERR: return "FORMERR";
    case LDNS_RCODE_SERVFAIL: return "SERVFAIL";
    case LDNS_RCODE_NOTIMPL: return "NOTIMP";
    case LDNS_RCODE_REFUSED: return "REFUSED";
    default: return fmt::format("RCODE {}", rcode);
  }
}

// One query to the servers, in order, until the deadline. The result is the
// parsed answer (any RCODE), or kDnsUnreachable / kDnsMalformed.
class Exchange {
 public:
  Exchange(const std::vector<udp::endpoint>& servers, std::chrono::milliseconds timeout,
           std::vector<uint8_t> query, uint16_t id, const ldns_rdf* qname, ldns_rr_type qtype)
      : servers_(servers),
        timeout_(timeout),
        deadline_(Clock::now() + timeout),
        query_(std::move(query)),
        id_(id),
        qname_(qname),
        qtype_(qtype) {}

  Result<PktPtr> Run() {
    std::optional<Result<PktPtr>> out;
    net::co_spawn(io_, Loop(out), [&out](std::exception_ptr e) {
      if (e) {
        out.emplace(MakeError(ErrorCode::kDnsUnreachable, "the DNS exchange failed unexpectedly"));
      }
    });
    io_.run();
    if (!out) return MakeError(ErrorCode::kDnsUnreachable, "the DNS exchange did not finish");
    return std::move(*out);
  }

 private:
  net::awaitable<void> Loop(std::optional<Result<PktPtr>>& out) {
    out.emplace(co_await Serve());
  }

  net::awaitable<Result<PktPtr>> Serve() {
    // Retransmit over the servers: three tries in all when there is one.
    const auto per_try = std::max<Clock::duration>(
        timeout_ / std::max<size_t>(3, servers_.size()), std::chrono::milliseconds(100));
    std::string last = "no answer";
    for (int round = 0; Clock::now() < deadline_; ++round) {
      bool all_refused = true;
      for (const auto& server : servers_) {
        if (Clock::now() >= deadline_) break;
        const auto until = std::min(deadline_, Clock::now() + per_try);
        Attempt attempt = co_await TryUdp(server, until);
        if (attempt.answer) co_return std::move(*attempt.answer);
        if (!attempt.refused) all_refused = false;
        if (!attempt.note.empty()) last = attempt.note;
      }
      // Every server actively refused (ICMP port unreachable): waiting for
      // the rest of the timeout helps nobody; one more round gives a
      // restarting server a chance.
      if (all_refused && round >= 1) break;
      if (all_refused) {
        net::steady_timer pause(io_, std::min(deadline_, Clock::now() + per_try));
        co_await pause.async_wait(kUseTuple);
      }
    }
    std::string names;
    for (const auto& s : servers_) {
      if (!names.empty()) names += ", ";
      names += FormatHostPort(s.address().to_string(), s.port());
    }
    co_return MakeError(ErrorCode::kDnsUnreachable,
                        fmt::format("no answer from the DNS server {} within {} ms ({})", names,
                                    timeout_.count(), last));
  }

  struct Attempt {
    std::optional<Result<PktPtr>> answer;  // set when done (an answer or a final error)
    bool refused = false;
    std::string note;
  };

  // Sends the query over UDP and waits until `until` for its answer.
  net::awaitable<Attempt> TryUdp(const udp::endpoint& server, Clock::time_point until) {
    using namespace net::experimental::awaitable_operators;
    Attempt attempt;
    boost::system::error_code ec;
    udp::socket socket(io_);
    if (socket.open(server.protocol(), ec); ec) {
      attempt.note = ec.message();
      co_return attempt;
    }
    // Connected: the kernel drops datagrams from anyone else, and reports
    // ICMP errors.
    if (socket.connect(server, ec); ec) {
      attempt.note = ec.message();
      co_return attempt;
    }
    if (socket.send(net::buffer(query_), 0, ec); ec) {
      attempt.refused = ec == boost::system::errc::connection_refused;
      attempt.note = ec.message();
      co_return attempt;
    }
    std::vector<uint8_t> buf(kMaxUdpAnswer);
    net::steady_timer timer(io_, until);
    for (;;) {
      auto r = co_await (socket.async_receive(net::buffer(buf), kUseTuple) ||
                         timer.async_wait(kUseTuple));
      if (r.index() == 1) co_return attempt;  // this try timed out
      auto [rec, n] = std::get<0>(r);
      if (rec) {
        attempt.refused = rec == boost::system::errc::connection_refused;
        attempt.note = rec.message();
        co_return attempt;
      }
      std::optional<Result<PktPtr>> parsed = Accept(std::span<const uint8_t>(buf.data(), n));
      if (!parsed) continue;  // not ours
      if (parsed->ok() && ldns_pkt_tc(parsed->value().get())) {
        attempt.answer = co_await TryTcp(server);
        co_return attempt;
      }
      attempt.answer = std::move(*parsed);
      co_return attempt;
    }
  }

  // The query over TCP, after a truncated UDP answer; bounded by the deadline.
  net::awaitable<Result<PktPtr>> TryTcp(const udp::endpoint& server) {
    using namespace net::experimental::awaitable_operators;
    const std::string where = FormatHostPort(server.address().to_string(), server.port());
    auto unreachable = [&](std::string_view what, const boost::system::error_code& ec) {
      return MakeError(ErrorCode::kDnsUnreachable,
                       fmt::format("DNS over TCP to {}: {} failed: {}", where, what,
                                   ec ? ec.message() : std::string("timed out")));
    };
    tcp::socket socket(io_);
    net::steady_timer timer(io_, deadline_);
    auto c = co_await (socket.async_connect(tcp::endpoint(server.address(), server.port()),
                                            kUseTuple) ||
                       timer.async_wait(kUseTuple));
    if (c.index() == 1) co_return unreachable("connect", {});
    if (auto [ec] = std::get<0>(c); ec) co_return unreachable("connect", ec);
    const std::array<uint8_t, 2> prefix{static_cast<uint8_t>(query_.size() >> 8),
                                        static_cast<uint8_t>(query_.size() & 0xff)};
    const std::array<net::const_buffer, 2> out{net::buffer(prefix), net::buffer(query_)};
    auto w = co_await (net::async_write(socket, out, kUseTuple) || timer.async_wait(kUseTuple));
    if (w.index() == 1) co_return unreachable("write", {});
    if (auto [ec, n] = std::get<0>(w); ec) co_return unreachable("write", ec);
    for (;;) {  // skip answers that are not ours (there should be none)
      std::array<uint8_t, 2> len{};
      auto r = co_await (net::async_read(socket, net::buffer(len), kUseTuple) ||
                         timer.async_wait(kUseTuple));
      if (r.index() == 1) co_return unreachable("read", {});
      if (auto [ec, n] = std::get<0>(r); ec) co_return unreachable("read", ec);
      std::vector<uint8_t> body((size_t{len[0]} << 8) | len[1]);
      auto b = co_await (net::async_read(socket, net::buffer(body), kUseTuple) ||
                         timer.async_wait(kUseTuple));
      if (b.index() == 1) co_return unreachable("read", {});
      if (auto [ec, n] = std::get<0>(b); ec) co_return unreachable("read", ec);
      std::optional<Result<PktPtr>> parsed = Accept(body);
      if (parsed) co_return std::move(*parsed);
    }
  }

  // nullopt: not an answer to our query (ignored); else the parsed answer,
  // or kDnsMalformed when it claims to be ours but does not parse.
  std::optional<Result<PktPtr>> Accept(std::span<const uint8_t> bytes) const {
    if (bytes.size() < LDNS_HEADER_SIZE) return std::nullopt;
    if (((bytes[0] << 8) | bytes[1]) != id_ || (bytes[2] & 0x80) == 0) return std::nullopt;
    ldns_pkt* raw = nullptr;
    if (ldns_wire2pkt(&raw, bytes.data(), bytes.size()) != LDNS_STATUS_OK || raw == nullptr) {
      if (raw != nullptr) ldns_pkt_free(raw);
      return Result<PktPtr>(
          MakeError(ErrorCode::kDnsMalformed, "the DNS server sent an answer that does not parse"));
    }
    PktPtr pkt(raw);
    const ldns_rr_list* questions = ldns_pkt_question(pkt.get());
    // An answer with a FORMERR/NOTIMP rcode may come without the question.
    if (questions == nullptr || ldns_rr_list_rr_count(questions) == 0) {
      if (ldns_pkt_get_rcode(pkt.get()) != LDNS_RCODE_NOERROR &&
          ldns_pkt_get_rcode(pkt.get()) != LDNS_RCODE_NXDOMAIN) {
        return Result<PktPtr>(std::move(pkt));
      }
      return std::nullopt;
    }
    const ldns_rr* q = ldns_rr_list_rr(questions, 0);
    if (ldns_rr_list_rr_count(questions) != 1 || ldns_rr_get_type(q) != qtype_ ||
        ldns_dname_compare(ldns_rr_owner(q), qname_) != 0) {
      return std::nullopt;
    }
    return Result<PktPtr>(std::move(pkt));
  }

  net::io_context io_{1};
  const std::vector<udp::endpoint>& servers_;
  const std::chrono::milliseconds timeout_;
  const Clock::time_point deadline_;
  const std::vector<uint8_t> query_;
  const uint16_t id_;
  const ldns_rdf* qname_;
  const ldns_rr_type qtype_;
};

struct Answer {
  PktPtr pkt;
  RdfPtr qname;
  bool nxdomain = false;
};

Result<Answer> Query(const std::vector<HostPort>& servers, std::chrono::milliseconds timeout,
                     std::string_view name, ldns_rr_type type) {
  std::string text(name);
  if (text.empty() || text.size() > 254 || text.find('\0') != std::string::npos ||
      text.find('\\') != std::string::npos || text == "." ||
      text.find("..") != std::string::npos || text.front() == '.') {
    return MakeError(ErrorCode::kDomainInvalid, fmt::format("'{}' is not a domain name", name));
  }
  if (text.back() != '.') text += '.';
  Answer answer;
  answer.qname.reset(ldns_dname_new_frm_str(text.c_str()));
  if (!answer.qname) {
    return MakeError(ErrorCode::kDomainInvalid, fmt::format("'{}' is not a domain name", name));
  }
  std::random_device random;
  const auto id = static_cast<uint16_t>(random());
  // ldns_pkt_query_new takes the name it is given.
  PktPtr query(ldns_pkt_query_new(ldns_rdf_clone(answer.qname.get()), type, LDNS_RR_CLASS_IN,
                                  LDNS_RD));
  if (!query) return MakeError(ErrorCode::kInternal, "cannot build a DNS query");
  ldns_pkt_set_id(query.get(), id);
  ldns_pkt_set_edns_udp_size(query.get(), kUdpSize);
  std::optional<std::vector<uint8_t>> encoded = ToWire(query.get());
  if (!encoded) return MakeError(ErrorCode::kInternal, "cannot encode a DNS query");
  std::vector<uint8_t> wire = std::move(*encoded);

  std::vector<udp::endpoint> endpoints;
  for (const auto& s : servers) {
    boost::system::error_code ec;
    auto ip = net::ip::make_address(s.host, ec);
    if (!ec) endpoints.emplace_back(ip, s.port);
  }
  Exchange exchange(endpoints, timeout, std::move(wire), id, answer.qname.get(), type);
  CG_ASSIGN_OR_RETURN(answer.pkt, exchange.Run());
  const unsigned rcode = ldns_pkt_get_rcode(answer.pkt.get());
  if (rcode == LDNS_RCODE_NXDOMAIN) {
    answer.nxdomain = true;
  } else if (rcode != LDNS_RCODE_NOERROR) {
    return MakeError(ErrorCode::kDnsServerFailure,
                     fmt::format("the DNS server answered {} for {} {}", RcodeName(rcode), name,
                                 type == LDNS_RR_TYPE_CNAME ? "CNAME" : "TXT"));
  }
  return answer;
}

// The target of the CNAME owned by `owner` in the answer section, if any.
const ldns_rdf* CnameOf(const ldns_pkt* pkt, const ldns_rdf* owner) {
  const ldns_rr_list* answers = ldns_pkt_answer(pkt);
  for (size_t i = 0; answers != nullptr && i < ldns_rr_list_rr_count(answers); ++i) {
    const ldns_rr* rr = ldns_rr_list_rr(answers, i);
    if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_CNAME && ldns_rr_rd_count(rr) == 1 &&
        ldns_dname_compare(ldns_rr_owner(rr), owner) == 0) {
      return ldns_rr_rdf(rr, 0);
    }
  }
  return nullptr;
}

}  // namespace

Result<Resolver> Resolver::Create(ResolverOptions options) {
  if (options.timeout.count() <= 0) {
    return MakeError(ErrorCode::kConfigInvalid, "the DNS timeout must be positive");
  }
  std::vector<HostPort> servers;
  if (options.server) {
    boost::system::error_code ec;
    net::ip::make_address(options.server->host, ec);
    if (ec || options.server->port == 0) {
      return MakeError(ErrorCode::kConfigInvalid,
                       fmt::format("the DNS server '{}' is not an IP address and port",
                                   FormatHostPort(options.server->host, options.server->port)));
    }
    servers.push_back(*options.server);
  } else {
    ldns_resolver* raw = nullptr;
    if (ldns_resolver_new_frm_file(&raw, nullptr) != LDNS_STATUS_OK || raw == nullptr) {
      return MakeError(ErrorCode::kConfigInvalid,
                       "cannot read the system's DNS resolvers from /etc/resolv.conf");
    }
    std::unique_ptr<ldns_resolver, ResolverFree> res(raw);
    ldns_rdf** names = ldns_resolver_nameservers(res.get());
    for (size_t i = 0; i < ldns_resolver_nameserver_count(res.get()); ++i) {
      std::optional<std::string> host = AddressText(names[i]);
      if (host) servers.push_back(HostPort{*host, ldns_resolver_port(res.get())});
    }
    if (servers.empty()) {
      return MakeError(ErrorCode::kConfigInvalid, "/etc/resolv.conf names no DNS resolver");
    }
  }
  return Resolver(std::move(servers), options.timeout);
}

Result<std::optional<std::string>> Resolver::LookupCname(std::string_view name) const {
  CG_ASSIGN_OR_RETURN(Answer answer, Query(servers_, timeout_, name, LDNS_RR_TYPE_CNAME));
  if (answer.nxdomain) return std::optional<std::string>();
  const ldns_rdf* target = CnameOf(answer.pkt.get(), answer.qname.get());
  if (target == nullptr || ldns_rdf_get_type(target) != LDNS_RDF_TYPE_DNAME) {
    return std::optional<std::string>();
  }
  return std::optional<std::string>(NormalizedName(target));
}

Result<std::vector<std::string>> Resolver::LookupTxt(std::string_view name) const {
  CG_ASSIGN_OR_RETURN(Answer answer, Query(servers_, timeout_, name, LDNS_RR_TYPE_TXT));
  std::vector<std::string> out;
  if (answer.nxdomain) return out;
  // Follow the chain the recursive resolver put in front of the TXT records.
  const ldns_rdf* owner = answer.qname.get();
  for (int i = 0; i < kMaxChain; ++i) {
    const ldns_rdf* next = CnameOf(answer.pkt.get(), owner);
    if (next == nullptr || ldns_rdf_get_type(next) != LDNS_RDF_TYPE_DNAME) break;
    owner = next;
  }
  const ldns_rr_list* answers = ldns_pkt_answer(answer.pkt.get());
  for (size_t i = 0; answers != nullptr && i < ldns_rr_list_rr_count(answers); ++i) {
    const ldns_rr* rr = ldns_rr_list_rr(answers, i);
    if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_TXT ||
        ldns_dname_compare(ldns_rr_owner(rr), owner) != 0) {
      continue;
    }
    std::string value;
    for (size_t j = 0; j < ldns_rr_rd_count(rr); ++j) {
      const ldns_rdf* part = ldns_rr_rdf(rr, j);
      const uint8_t* data = ldns_rdf_data(part);
      const size_t size = ldns_rdf_size(part);
      if (size == 0 || size_t{data[0]} + 1 > size) {
        return MakeError(ErrorCode::kDnsMalformed,
                         fmt::format("a TXT record at {} is malformed", name));
      }
      value.append(reinterpret_cast<const char*>(data + 1), data[0]);
    }
    out.push_back(std::move(value));
  }
  return out;
}

}  // namespace certgate::dns
