// ExtractNginxTopology (checks/nginx_conf.h): upstream blocks, the *_pass of every location, and
// the proxy settings in effect there, inherited http -> server -> location as nginx merges them.
#include <algorithm>
#include <charconv>

#include "checks/nginx_conf.h"

namespace gatewatch {

namespace {

// Settings for each kind of pass: proxy_*, grpc_* and fastcgi_* directives are separate in nginx.
struct Scope {
  NginxProxySettings proxy;
  NginxProxySettings grpc;
  NginxProxySettings fastcgi;
  std::string server_name;
  std::string location;
};

void Warn(NginxTopology& topo, const NginxDirective& d, std::string message) {
  if (topo.warnings.size() >= 64) return;  // bounded: a broken config says it with the first few
  topo.warnings.push_back({d.file, d.line, d.name + ": " + std::move(message)});
}

std::optional<int> ParseInt(std::string_view s, int max) {
  int v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || v < 0 || v > max) return std::nullopt;
  return v;
}

std::optional<bool> ParseFlag(const NginxDirective& d) {
  if (d.args.size() != 1) return std::nullopt;
  if (d.args[0] == "on") return true;
  if (d.args[0] == "off") return false;
  return std::nullopt;
}

// "host:port", "[v6]:port", "host" (port `default_port`). False for what is not an address.
bool SplitHostPort(std::string_view text, int default_port, std::string* host, int* port) {
  *port = default_port;
  if (text.empty()) return false;
  if (text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return false;
    *host = std::string(text.substr(1, close - 1));
    std::string_view rest = text.substr(close + 1);
    if (rest.empty()) return !host->empty();
    if (rest[0] != ':') return false;
    auto p = ParseInt(rest.substr(1), 65535);
    if (!p || *p == 0) return false;
    *port = *p;
    return !host->empty();
  }
  size_t colon = text.rfind(':');
  if (colon != std::string_view::npos) {
    if (text.find(':') != colon) return false;  // a bare IPv6 address needs brackets
    auto p = ParseInt(text.substr(colon + 1), 65535);
    if (!p || *p == 0) return false;
    *port = *p;
    text = text.substr(0, colon);
  }
  if (text.empty()) return false;
  *host = std::string(text);
  return true;
}

NginxProxySettings* SettingsFor(Scope& scope, std::string_view name, std::string_view* suffix) {
  struct Prefix {
    std::string_view text;
    NginxProxySettings Scope::*member;
  };
  static const Prefix kPrefixes[] = {
      {"proxy_", &Scope::proxy}, {"grpc_", &Scope::grpc}, {"fastcgi_", &Scope::fastcgi}};
  for (const Prefix& p : kPrefixes) {
    if (name.substr(0, p.text.size()) == p.text) {
      *suffix = name.substr(p.text.size());
      return &(scope.*p.member);
    }
  }
  return nullptr;
}

// A settings directive at any level (http, server, location, if). True if it was one.
bool ApplySetting(const NginxDirective& d, Scope& scope, NginxTopology& topo) {
  if (d.block) return false;
  if (d.name == "resolver") {
    std::vector<std::string> servers;
    long long valid = 0;
    for (const std::string& a : d.args) {
      if (a.rfind("valid=", 0) == 0) {
        auto ms = ParseNginxTimeMs(std::string_view(a).substr(6));
        if (!ms) {
          Warn(topo, d, "invalid " + a);
        } else {
          valid = *ms;
        }
        continue;
      }
      if (a.find('=') != std::string::npos) continue;  // ipv6=off, status_zone=...
      std::string host;
      int port = 53;
      if (!SplitHostPort(a, 53, &host, &port)) {
        Warn(topo, d, "invalid address " + a);
        continue;
      }
      servers.push_back((host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
                        std::to_string(port));
    }
    for (NginxProxySettings* s : {&scope.proxy, &scope.grpc, &scope.fastcgi}) {
      s->resolver = servers;
      s->resolver_valid_ms = valid;
    }
    return true;
  }
  std::string_view suffix;
  NginxProxySettings* s = SettingsFor(scope, d.name, &suffix);
  if (s == nullptr) return false;
  auto time = [&](long long* out) {
    std::optional<long long> ms = d.args.size() == 1 ? ParseNginxTimeMs(d.args[0]) : std::nullopt;
    if (!ms) {
      Warn(topo, d, "invalid time");
    } else {
      *out = *ms;
    }
    return true;
  };
  auto flag = [&](bool* out) {
    std::optional<bool> v = ParseFlag(d);
    if (!v) {
      Warn(topo, d, "must be on or off");
    } else {
      *out = *v;
    }
    return true;
  };
  if (suffix == "connect_timeout") return time(&s->connect_timeout_ms);
  if (suffix == "read_timeout") return time(&s->read_timeout_ms);
  if (suffix == "send_timeout") return time(&s->send_timeout_ms);
  if (suffix == "ssl_server_name") return flag(&s->ssl_server_name);
  if (suffix == "ssl_verify") return flag(&s->ssl_verify);
  if (suffix == "ssl_name") {
    if (d.args.size() == 1) s->ssl_name = d.args[0];
    return true;
  }
  if (suffix == "http_version") {
    if (d.args.size() == 1 && (d.args[0] == "1.0" || d.args[0] == "1.1")) {
      s->http_version = d.args[0];
    } else {
      Warn(topo, d, "must be 1.0 or 1.1");
    }
    return true;
  }
  return false;
}

void ReadUpstream(const NginxDirective& block, NginxTopology& topo) {
  if (block.args.size() != 1) {
    Warn(topo, block, "needs one name");
    return;
  }
  NginxUpstream up;
  up.name = block.args[0];
  up.file = block.file;
  up.line = block.line;
  for (const NginxDirective& d : block.children) {
    if (d.name == "server" && !d.block && !d.args.empty()) {
      NginxUpstreamServer s;
      s.address = d.args[0];
      s.file = d.file;
      s.line = d.line;
      if (s.address.rfind("unix:", 0) == 0) {
        s.unix_socket = true;
        s.port = 0;
      } else if (!SplitHostPort(s.address, 80, &s.host, &s.port)) {
        Warn(topo, d, "invalid address " + s.address);
        continue;
      }
      for (size_t i = 1; i < d.args.size(); ++i) {
        std::string_view a = d.args[i];
        if (a == "backup") {
          s.backup = true;
        } else if (a == "down") {
          s.down = true;
        } else if (a.rfind("weight=", 0) == 0) {
          auto v = ParseInt(a.substr(7), 1000000);
          if (v && *v > 0) {
            s.weight = *v;
          } else {
            Warn(topo, d, "invalid " + std::string(a));
          }
        } else if (a.rfind("max_fails=", 0) == 0) {
          auto v = ParseInt(a.substr(10), 1000000);
          if (v) {
            s.max_fails = *v;
          } else {
            Warn(topo, d, "invalid " + std::string(a));
          }
        } else if (a.rfind("fail_timeout=", 0) == 0) {
          auto v = ParseNginxTimeMs(a.substr(13));
          if (v) {
            s.fail_timeout_ms = *v;
          } else {
            Warn(topo, d, "invalid " + std::string(a));
          }
        }
        // max_conns=, slow_start=, resolve, service=, route=: not needed for probing.
      }
      up.servers.push_back(std::move(s));
    } else if (d.name == "keepalive" && !d.block) {
      auto v = d.args.size() == 1 ? ParseInt(d.args[0], 1000000) : std::nullopt;
      if (v) {
        up.keepalive = *v;
      } else {
        Warn(topo, d, "invalid connection count");
      }
    } else if (d.name == "keepalive_timeout" && !d.block) {
      auto v = d.args.size() == 1 ? ParseNginxTimeMs(d.args[0]) : std::nullopt;
      if (v) {
        up.keepalive_timeout_ms = *v;
      } else {
        Warn(topo, d, "invalid time");
      }
    }
  }
  topo.upstreams.push_back(std::move(up));
}

void ReadPass(const NginxDirective& d, const Scope& scope, NginxTopology& topo) {
  if (d.args.size() != 1) {
    Warn(topo, d, "needs one target");
    return;
  }
  NginxPass p;
  p.directive = d.name;
  p.target = d.args[0];
  p.file = d.file;
  p.line = d.line;
  p.server_name = scope.server_name;
  p.location = scope.location;
  std::string_view rest = p.target;
  int default_port = 80;
  if (d.name == "proxy_pass") {
    p.settings = scope.proxy;
    if (rest.rfind("http://", 0) == 0) {
      p.scheme = "http";
      rest.remove_prefix(7);
    } else if (rest.rfind("https://", 0) == 0) {
      p.scheme = "https";
      rest.remove_prefix(8);
      default_port = 443;
    } else if (rest.find('$') == std::string_view::npos) {
      Warn(topo, d, "invalid URL prefix in " + p.target);
      return;
    }
  } else if (d.name == "grpc_pass") {
    p.settings = scope.grpc;
    p.scheme = "grpc";
    if (rest.rfind("grpc://", 0) == 0) {
      rest.remove_prefix(7);
    } else if (rest.rfind("grpcs://", 0) == 0) {
      p.scheme = "grpcs";
      rest.remove_prefix(8);
      default_port = 443;
    }
  } else {
    p.settings = scope.fastcgi;
  }
  // The authority ends at the URI's "/" (after a unix: path, at its ":").
  std::string_view authority = rest;
  if (authority.rfind("unix:", 0) == 0) {
    Warn(topo, d, "unix socket targets are not probed: " + p.target);
    return;
  }
  // The authority ends at the URI ("/") or at a variable that starts it ($request_uri).
  size_t end = authority.find_first_of("/$");
  if (end != std::string_view::npos) authority = authority.substr(0, end);
  p.has_variables = rest.find('$') != std::string_view::npos;
  if (p.scheme.empty() && d.name == "proxy_pass") {
    Warn(topo, d, "target set by a variable is not probed: " + p.target);
    return;
  }
  if (authority.empty() || authority.back() == ':') {
    Warn(topo, d, "host set by a variable is not probed: " + p.target);
    return;
  }
  std::string host;
  int port = default_port;
  if (!SplitHostPort(authority, default_port, &host, &port)) {
    Warn(topo, d, "invalid address in " + p.target);
    return;
  }
  bool explicit_port = authority.find(':') != std::string_view::npos &&
                       (authority[0] != '[' || authority.find("]:") != std::string_view::npos);
  // An upstream{} block is used when the host names it and no port is given (nginx's rule).
  if (!explicit_port) {
    for (const NginxUpstream& u : topo.upstreams) {
      if (!u.implicit && u.name == host) {
        p.upstream = u.name;
        break;
      }
    }
  }
  if (p.upstream.empty()) {
    std::string name = std::string(authority);
    if (!explicit_port) name += ":" + std::to_string(port);
    p.upstream = name;
    bool known = std::any_of(topo.upstreams.begin(), topo.upstreams.end(),
                             [&](const NginxUpstream& u) { return u.name == name; });
    if (!known) {
      NginxUpstream u;
      u.name = name;
      u.implicit = true;
      u.file = d.file;
      u.line = d.line;
      NginxUpstreamServer s;
      s.address = name;
      s.host = host;
      s.port = port;
      s.file = d.file;
      s.line = d.line;
      u.servers.push_back(std::move(s));
      topo.upstreams.push_back(std::move(u));
    }
  }
  topo.passes.push_back(std::move(p));
}

constexpr size_t kMaxPasses = 4096;

void ReadLocationLevel(const std::vector<NginxDirective>& directives, Scope scope,
                       NginxTopology& topo) {
  // Settings apply to the whole level wherever they appear in it: read them first.
  for (const NginxDirective& d : directives) ApplySetting(d, scope, topo);
  for (const NginxDirective& d : directives) {
    if (d.block && (d.name == "location" || d.name == "if" || d.name == "limit_except")) {
      Scope inner = scope;
      if (d.name == "location") {
        std::string loc;
        for (const std::string& a : d.args) loc += (loc.empty() ? "" : " ") + a;
        inner.location = loc;
      }
      ReadLocationLevel(d.children, inner, topo);
    } else if (!d.block &&
               (d.name == "proxy_pass" || d.name == "fastcgi_pass" || d.name == "grpc_pass")) {
      if (topo.passes.size() < kMaxPasses) ReadPass(d, scope, topo);
    }
  }
}

}  // namespace

const NginxUpstream* NginxTopology::Find(std::string_view name) const {
  for (const NginxUpstream& u : upstreams) {
    if (u.name == name) return &u;
  }
  return nullptr;
}

NginxTopology ExtractNginxTopology(const std::vector<NginxDirective>& config) {
  NginxTopology topo;
  for (const NginxDirective& http : config) {
    if (http.name != "http" || !http.block) continue;
    // Upstream blocks first: a proxy_pass may name one defined further down.
    for (const NginxDirective& d : http.children) {
      if (d.block && d.name == "upstream") ReadUpstream(d, topo);
    }
    Scope scope;
    for (const NginxDirective& d : http.children) ApplySetting(d, scope, topo);
    for (const NginxDirective& d : http.children) {
      if (!d.block || d.name != "server") continue;
      Scope server = scope;
      for (const NginxDirective& s : d.children) {
        if (s.name == "server_name" && !s.block && !s.args.empty()) {
          server.server_name = s.args[0];
          break;
        }
      }
      ReadLocationLevel(d.children, server, topo);
    }
  }
  // upstream{} blocks first, then implicit ones: ReadPass appended those in order already.
  std::stable_partition(topo.upstreams.begin(), topo.upstreams.end(),
                        [](const NginxUpstream& u) { return !u.implicit; });
  return topo;
}

}  // namespace gatewatch
