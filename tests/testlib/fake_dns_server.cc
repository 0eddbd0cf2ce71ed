#include "tests/testlib/fake_dns_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <map>
#include <stdexcept>

#include "tests/testlib/temp_dir.h"

namespace gatewatch::testing {
namespace {

constexpr int kTypeA = 1, kTypeNs = 2, kTypeSoa = 6;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  while (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

void Put16(std::vector<unsigned char>& m, uint16_t v) {
  m.push_back(static_cast<unsigned char>(v >> 8));
  m.push_back(static_cast<unsigned char>(v));
}
void Put32(std::vector<unsigned char>& m, uint32_t v) {
  Put16(m, static_cast<uint16_t>(v >> 16));
  Put16(m, static_cast<uint16_t>(v));
}
void PutName(std::vector<unsigned char>& m, const std::string& name) {
  size_t start = 0;
  while (start < name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    m.push_back(static_cast<unsigned char>(dot - start));
    m.insert(m.end(), name.begin() + static_cast<long>(start),
             name.begin() + static_cast<long>(dot));
    start = dot + 1;
  }
  m.push_back(0);
}

// Reads the uncompressed question name of a query (clients never compress questions).
bool ReadQuestion(const unsigned char* q, size_t len, std::string* name, int* type, size_t* end) {
  size_t pos = 12;
  std::string out;
  while (pos < len && q[pos] != 0) {
    size_t l = q[pos];
    if (l > 63 || pos + 1 + l > len) return false;
    if (!out.empty()) out += '.';
    out.append(reinterpret_cast<const char*>(q + pos + 1), l);
    pos += 1 + l;
  }
  if (pos + 5 > len) return false;
  *name = Lower(out);
  *type = q[pos + 1] << 8 | q[pos + 2];
  *end = pos + 5;
  return true;
}

}  // namespace

FakeDnsServer::FakeDnsServer(Behaviour behaviour, const char* address, int port)
    : address_(address), behaviour_(behaviour) {
  // UDP first (port 0 picks one), then TCP on the same port; retry if TCP's is taken.
  for (int attempt = 0; attempt < 20 && !tcp_.valid(); ++attempt) {
    udp_ = BindInet(SOCK_DGRAM, address, port, &port_);
    if (!udp_.valid()) break;
    int tcp_port = 0;
    tcp_ = BindInet(SOCK_STREAM, address, port_, &tcp_port);
    if (tcp_.valid() && listen(tcp_.get(), 64) != 0) tcp_.reset();
    if (port != 0) break;
  }
  if (!udp_.valid() || !tcp_.valid()) throw std::runtime_error("FakeDnsServer: cannot bind");
  wake_.reset(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  thread_ = std::thread([this] { Serve(); });
}

FakeDnsServer::~FakeDnsServer() {
  stop_ = true;
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wake_.get(), &one, sizeof one);
  thread_.join();
}

std::string FakeDnsServer::server() const { return address_ + ":" + std::to_string(port_); }

void FakeDnsServer::AddA(const std::string& name, const std::string& ipv4, uint32_t ttl) {
  std::vector<unsigned char> rdata(4);
  inet_pton(AF_INET, ipv4.c_str(), rdata.data());
  std::lock_guard<std::mutex> lock(mu_);
  records_.push_back({Lower(name), kTypeA, ttl, std::move(rdata)});
}

void FakeDnsServer::AddNs(const std::string& zone, const std::string& target, uint32_t ttl) {
  std::vector<unsigned char> rdata;
  PutName(rdata, Lower(target));
  std::lock_guard<std::mutex> lock(mu_);
  records_.push_back({Lower(zone), kTypeNs, ttl, std::move(rdata)});
}

void FakeDnsServer::AddSoa(const std::string& zone, uint32_t serial, uint32_t ttl) {
  std::vector<unsigned char> rdata;
  PutName(rdata, "ns1." + Lower(zone));
  PutName(rdata, "hostmaster." + Lower(zone));
  for (uint32_t v : {serial, 3600u, 600u, 86400u, 60u}) Put32(rdata, v);
  std::lock_guard<std::mutex> lock(mu_);
  records_.push_back({Lower(zone), kTypeSoa, ttl, std::move(rdata)});
}

void FakeDnsServer::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  records_.clear();
}

void FakeDnsServer::set_behaviour(Behaviour b) {
  std::lock_guard<std::mutex> lock(mu_);
  behaviour_ = b;
}

void FakeDnsServer::set_rcode(int rcode) {
  std::lock_guard<std::mutex> lock(mu_);
  rcode_ = rcode;
}

std::vector<unsigned char> FakeDnsServer::Answer(const unsigned char* q, size_t len, bool udp) {
  std::string name;
  int type = 0;
  size_t question_end = 0;
  if (len < 12 || !ReadQuestion(q, len, &name, &type, &question_end)) return {};
  std::lock_guard<std::mutex> lock(mu_);
  if (behaviour_ == Behaviour::kSilent) return {};

  std::vector<const Record*> answers, authority;
  bool known = false;
  for (const Record& r : records_) {
    if (r.name == name) {
      known = true;
      if (r.type == type) answers.push_back(&r);
    }
  }
  int rcode = behaviour_ == Behaviour::kRcode ? rcode_ : (known ? 0 : 3);
  if (behaviour_ == Behaviour::kRcode) answers.clear();
  if (answers.empty() && behaviour_ == Behaviour::kAnswer) {
    // The SOA of the closest enclosing zone, as real servers add to negative answers.
    for (const Record& r : records_) {
      if (r.type == kTypeSoa &&
          (name == r.name || (name.size() > r.name.size() && name.ends_with("." + r.name)))) {
        authority.push_back(&r);
        break;
      }
    }
  }

  std::vector<unsigned char> m(q, q + 2);  // the query's id
  uint16_t flags = 0x8000 | 0x0400 | 0x0080 | (q[2] & 0x01) << 8 | static_cast<uint16_t>(rcode);
  Put16(m, flags);
  Put16(m, 1);
  Put16(m, static_cast<uint16_t>(behaviour_ == Behaviour::kMalformed ? 1 : answers.size()));
  Put16(m, static_cast<uint16_t>(authority.size()));
  Put16(m, 0);
  m.insert(m.end(), q + 12, q + question_end);
  if (behaviour_ == Behaviour::kMalformed) {
    // One A record claiming 200 bytes of data that never come.
    const unsigned char bad[] = {0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 200, 10, 0};
    m.insert(m.end(), bad, bad + sizeof bad);
    return m;
  }
  auto put_record = [&](const Record& r) {
    if (r.name == name) {
      // Compressed: a pointer to the question's name, so 4,000 A records fit one message.
      m.push_back(0xC0);
      m.push_back(0x0C);
    } else {
      PutName(m, r.name);
    }
    Put16(m, static_cast<uint16_t>(r.type));
    Put16(m, 1);
    Put32(m, r.ttl);
    Put16(m, static_cast<uint16_t>(r.rdata.size()));
    m.insert(m.end(), r.rdata.begin(), r.rdata.end());
  };
  for (const Record* r : answers) put_record(*r);
  for (const Record* r : authority) put_record(*r);
  if (udp && m.size() > 512) {
    // No EDNS: too big for UDP. Header and question only, TC set: the client retries over TCP.
    m.resize(question_end);
    m[2] |= 0x02;
    m[6] = m[7] = m[8] = m[9] = 0;
  }
  return m;
}

void FakeDnsServer::Serve() {
  struct Conn {
    UniqueFd fd;
    std::vector<unsigned char> in;
  };
  std::map<int, Conn> conns;
  std::vector<unsigned char> buf(65536 + 2);
  while (!stop_) {
    std::vector<pollfd> fds = {
        {wake_.get(), POLLIN, 0}, {udp_.get(), POLLIN, 0}, {tcp_.get(), POLLIN, 0}};
    for (auto& [fd, c] : conns) fds.push_back({fd, POLLIN, 0});
    if (poll(fds.data(), fds.size(), 1000) <= 0) continue;
    if (fds[1].revents & POLLIN) {
      sockaddr_storage from{};
      socklen_t from_len = sizeof from;
      ssize_t n = recvfrom(udp_.get(), buf.data(), buf.size(), 0,
                           reinterpret_cast<sockaddr*>(&from), &from_len);
      if (n > 0) {
        ++udp_queries_;
        auto reply = Answer(buf.data(), static_cast<size_t>(n), true);
        if (!reply.empty()) {
          sendto(udp_.get(), reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&from),
                 from_len);
        }
      }
    }
    if (fds[2].revents & POLLIN) {
      int fd = accept4(tcp_.get(), nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) conns[fd].fd.reset(fd);
    }
    for (size_t i = 3; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      Conn& c = conns[fds[i].fd];
      ssize_t n = read(fds[i].fd, buf.data(), buf.size());
      if (n <= 0) {
        conns.erase(fds[i].fd);
        continue;
      }
      c.in.insert(c.in.end(), buf.begin(), buf.begin() + n);
      // TCP messages carry a two-byte length prefix.
      while (c.in.size() >= 2) {
        size_t want = static_cast<size_t>(c.in[0] << 8 | c.in[1]);
        if (c.in.size() < 2 + want) break;
        ++tcp_queries_;
        auto reply = Answer(c.in.data() + 2, want, false);
        c.in.erase(c.in.begin(), c.in.begin() + 2 + static_cast<long>(want));
        if (reply.empty()) continue;
        std::vector<unsigned char> out;
        Put16(out, static_cast<uint16_t>(reply.size()));
        out.insert(out.end(), reply.begin(), reply.end());
        // Blocking write of a bounded reply (< 64 KiB) to a local peer.
        size_t sent = 0;
        while (sent < out.size()) {
          pollfd w{fds[i].fd, POLLOUT, 0};
          if (poll(&w, 1, 1000) <= 0) break;
          ssize_t k = write(fds[i].fd, out.data() + sent, out.size() - sent);
          if (k <= 0) break;
          sent += static_cast<size_t>(k);
        }
      }
    }
  }
}

}  // namespace gatewatch::testing
