#include "scale/api_connection.h"

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <arpa/inet.h>
#include <boost/json.hpp>
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

namespace certgate::bench::scale {
namespace {

// Reads and writes give up after this long: a wedged server fails the run
// instead of hanging it.
constexpr int kIoTimeoutSeconds = 60;

size_t HeaderValue(std::string_view head, std::string_view lower_name) {
  // head is lower-cased; lower_name is "\r\ncontent-length:".
  const size_t p = head.find(lower_name);
  if (p == std::string_view::npos) return std::string_view::npos;
  return std::strtoull(head.data() + p + lower_name.size(), nullptr, 10);
}

}  // namespace

ApiConnection::ApiConnection(const std::string& api_url, std::string api_key)
    : api_key_(std::move(api_key)) {
  constexpr std::string_view kScheme = "http://";
  const size_t colon = api_url.rfind(':');
  if (api_url.rfind(kScheme, 0) != 0 || colon == std::string::npos || colon < kScheme.size()) {
    throw std::runtime_error(fmt::format("API URL '{}' is not http://host:port", api_url));
  }
  host_ = api_url.substr(kScheme.size(), colon - kScheme.size());
  port_ = static_cast<uint16_t>(std::stoi(api_url.substr(colon + 1)));
  Connect();
}

ApiConnection::~ApiConnection() {
  if (fd_ >= 0) ::close(fd_);
}

void ApiConnection::Connect() {
  if (fd_ >= 0) ::close(fd_);
  buffer_.clear();
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error(fmt::format("socket: {}", std::strerror(errno)));
  const int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  timeval tv{kIoTimeoutSeconds, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port_);
  if (::inet_pton(AF_INET, host_.c_str(), &addr.sin_addr) != 1) {
    throw std::runtime_error(fmt::format("API host '{}' is not an IPv4 address", host_));
  }
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    throw std::runtime_error(
        fmt::format("connecting to the API at {}:{}: {}", host_, port_, std::strerror(errno)));
  }
}

bool ApiConnection::TrySend(const std::string& request, ApiResponse& out, std::string& why) {
  for (size_t sent = 0; sent < request.size();) {
    const ssize_t n = ::send(fd_, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      why = fmt::format("send: {}", n < 0 ? std::strerror(errno) : "closed");
      return false;
    }
    sent += static_cast<size_t>(n);
  }
  char chunk[16384];
  size_t head_end = std::string::npos;
  size_t body_length = 0;
  bool close_after = false;
  for (;;) {
    if (head_end == std::string::npos) {
      head_end = buffer_.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        std::string head = buffer_.substr(0, head_end + 2);
        for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (head.rfind("http/1.1 ", 0) != 0 && head.rfind("http/1.0 ", 0) != 0) {
          throw std::runtime_error("the API answered something other than HTTP/1.x");
        }
        out.status = std::atoi(head.c_str() + 9);
        if (head.find("\r\ntransfer-encoding:") != std::string::npos) {
          throw std::runtime_error(
              "the API sent a chunked response; this client reads only "
              "Content-Length bodies");
        }
        const size_t length = HeaderValue(head, "\r\ncontent-length:");
        body_length = length == std::string_view::npos ? 0 : length;
        close_after = head.find("\r\nconnection: close") != std::string::npos;
      }
    }
    if (head_end != std::string::npos && buffer_.size() >= head_end + 4 + body_length) {
      out.body = buffer_.substr(head_end + 4, body_length);
      buffer_.erase(0, head_end + 4 + body_length);
      if (close_after) Connect();
      return true;
    }
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) {
      why = fmt::format("recv: {}", n < 0 ? std::strerror(errno) : "closed by the server");
      // Part of a response: the request may have been carried out, so it is
      // not sent again.
      if (!buffer_.empty()) throw std::runtime_error(why + " in the middle of a response");
      // Nothing yet: the server had closed the idle connection.
      return false;
    }
    buffer_.append(chunk, static_cast<size_t>(n));
  }
}

ApiResponse ApiConnection::Send(std::string_view method, std::string_view path,
                                std::string_view json_body) {
  std::string request = fmt::format(
      "{} {} HTTP/1.1\r\nHost: {}:{}\r\nAuthorization: Bearer {}\r\nNgrok-Version: 2\r\n"
      "User-Agent: certgate-scale-bench\r\n",
      method, path, host_, port_, api_key_);
  if (!json_body.empty() || method == "POST" || method == "PATCH") {
    request +=
        fmt::format("Content-Type: application/json\r\nContent-Length: {}\r\n", json_body.size());
  }
  request += "\r\n";
  request.append(json_body);
  ApiResponse out;
  std::string why;
  if (TrySend(request, out, why)) return out;
  // A keep-alive connection the server closed while it sat idle: once more.
  Connect();
  if (TrySend(request, out, why)) return out;
  throw std::runtime_error(fmt::format("{} {}: {}", method, path, why));
}

std::string ApiConnection::CreateDomain(std::string_view name, std::string_view certificate_id) {
  const boost::json::object body{{"domain", name}, {"certificate_id", certificate_id}};
  ApiResponse r = Send("POST", "/reserved_domains", boost::json::serialize(body));
  if (r.status != 201) {
    throw std::runtime_error(
        fmt::format("creating domain {}: HTTP {}: {}", name, r.status, r.body));
  }
  return std::string(boost::json::parse(r.body).as_object().at("id").as_string());
}

void ApiConnection::DeleteDomain(std::string_view id) {
  ApiResponse r = Send("DELETE", fmt::format("/reserved_domains/{}", id));
  if (r.status != 204) {
    throw std::runtime_error(fmt::format("deleting domain {}: HTTP {}: {}", id, r.status, r.body));
  }
}

std::string ApiConnection::UploadCertificate(std::string_view chain_pem, std::string_view key_pem) {
  const boost::json::object body{
      {"certificate_pem", chain_pem}, {"private_key_pem", key_pem}, {"description", "scale bench"}};
  ApiResponse r = Send("POST", "/tls_certificates", boost::json::serialize(body));
  if (r.status != 201) {
    throw std::runtime_error(fmt::format("uploading a certificate: HTTP {}: {}", r.status, r.body));
  }
  return std::string(boost::json::parse(r.body).as_object().at("id").as_string());
}

}  // namespace certgate::bench::scale
