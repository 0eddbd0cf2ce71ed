#include "exporters/web_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "agent/base/config_node.h"

namespace gatewatch {
namespace {

struct CipherName {
  std::string_view go, openssl;
};

// The TLS 1.2 suites Go's crypto/tls implements; TLS 1.3 suites are not configurable in Go
// either, so they stay OpenSSL's default.
constexpr CipherName kCiphers[] = {
    {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256"},
    {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384"},
    {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384"},
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"},
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "ECDHE-ECDSA-CHACHA20-POLY1305"},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA-CHACHA20-POLY1305"},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", "ECDHE-RSA-CHACHA20-POLY1305"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA-AES128-SHA"},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA-AES128-SHA"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA-AES256-SHA"},
    {"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA-AES256-SHA"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "ECDHE-ECDSA-AES128-SHA256"},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "ECDHE-RSA-AES128-SHA256"},
    {"TLS_RSA_WITH_AES_128_GCM_SHA256", "AES128-GCM-SHA256"},
    {"TLS_RSA_WITH_AES_256_GCM_SHA384", "AES256-GCM-SHA384"},
    {"TLS_RSA_WITH_AES_128_CBC_SHA", "AES128-SHA"},
    {"TLS_RSA_WITH_AES_256_CBC_SHA", "AES256-SHA"},
    {"TLS_RSA_WITH_AES_128_CBC_SHA256", "AES128-SHA256"},
};

struct AllowedHeader {
  std::string_view name;
  std::vector<std::string_view> values;  // empty: any value
};

// exporter-toolkit's list: only security headers, so the file cannot break the protocol.
const std::vector<AllowedHeader>& AllowedHeaders() {
  static const std::vector<AllowedHeader> headers = {
      {"Strict-Transport-Security", {}},
      {"X-Content-Type-Options", {"nosniff"}},
      {"X-Frame-Options", {"deny", "sameorigin"}},
      {"X-XSS-Protection", {}},
      {"Content-Security-Policy", {}},
  };
  return headers;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Resolve(const std::string& path, const std::string& base_dir) {
  if (path.empty() || path[0] == '/' || base_dir.empty()) return path;
  return base_dir + "/" + path;
}

// A non-empty string scalar.
std::string NonEmptyString(const ConfigNode& node) {
  std::string value = node.AsString();
  if (value.empty()) node.Fail("must not be empty");
  return value;
}

TlsServerConfig ParseTls(const ConfigNode& node, const std::string& base_dir) {
  node.ExpectMap();
  TlsServerConfig tls;
  // exporter-toolkit also accepts inline cert/key (`cert`, `key`, `client_ca`); civetweb reads
  // files only, so those are unknown keys here.
  tls.cert_file = Resolve(NonEmptyString(node.Required("cert_file")), base_dir);
  tls.key_file = Resolve(NonEmptyString(node.Required("key_file")), base_dir);
  if (node.Has("client_ca_file")) {
    tls.client_ca_file = Resolve(NonEmptyString(node.Child("client_ca_file")), base_dir);
  }
  std::string auth = node.StringOr("client_auth_type", "");
  if (auth.empty() || auth == "NoClientCert") {
    tls.client_auth = ClientAuth::kNone;
  } else if (auth == "VerifyClientCertIfGiven") {
    tls.client_auth = ClientAuth::kVerifyIfGiven;
  } else if (auth == "RequireAndVerifyClientCert") {
    tls.client_auth = ClientAuth::kRequireAndVerify;
  } else if (auth == "RequestClientCert" || auth == "RequireAnyClientCert") {
    node.Child("client_auth_type")
        .Fail(auth +
              " is not supported (civetweb verifies every certificate it asks for): use "
              "VerifyClientCertIfGiven or RequireAndVerifyClientCert with client_ca_file");
  } else {
    node.Child("client_auth_type")
        .Fail(
            "must be NoClientCert, VerifyClientCertIfGiven or RequireAndVerifyClientCert (got \"" +
            auth + "\")");
  }
  if (tls.client_auth != ClientAuth::kNone && tls.client_ca_file.empty()) {
    node.Fail("client_auth_type " + auth + " needs client_ca_file");
  }
  if (tls.client_auth == ClientAuth::kNone && !tls.client_ca_file.empty()) {
    // exporter-toolkit's own rule: a CA without a policy is a mistake, not a default.
    node.Child("client_ca_file")
        .Fail(
            "client CAs are configured without a client_auth_type (use "
            "RequireAndVerifyClientCert)");
  }
  if (node.Has("min_version")) {
    ConfigNode v = node.Child("min_version");
    std::string s = v.AsString();
    if (s == "TLS10") {
      tls.min_version = 10;
    } else if (s == "TLS11") {
      tls.min_version = 11;
    } else if (s == "TLS12") {
      tls.min_version = 12;
    } else if (s == "TLS13") {
      tls.min_version = 13;
    } else {
      v.Fail("must be TLS10, TLS11, TLS12 or TLS13 (got \"" + s + "\")");
    }
  }
  if (node.Has("max_version")) {
    ConfigNode v = node.Child("max_version");
    if (v.AsString() != "TLS13") {
      v.Fail("only TLS13 (the default) is supported: civetweb has no maximum version");
    }
  }
  if (node.Has("cipher_suites")) {
    ConfigNode list = node.Child("cipher_suites");
    if (!list.IsSequence()) list.Fail("must be a list of cipher suite names");
    for (size_t i = 0; i < list.size(); ++i) {
      ConfigNode item = list.At(i);
      std::string name = item.AsString();
      std::string openssl = OpenSslCipherName(name);
      if (openssl.empty()) item.Fail("unknown or unsupported cipher suite \"" + name + "\"");
      tls.cipher_suites.push_back(openssl);
    }
  }
  if (node.Has("prefer_server_cipher_suites")) {
    node.Child("prefer_server_cipher_suites").AsBool();  // accepted: OpenSSL's order applies
  }
  if (node.Has("curve_preferences")) {
    ConfigNode v = node.Child("curve_preferences");
    if (v.IsSequence() && v.size() > 0) v.Fail("not supported: civetweb uses OpenSSL's curves");
  }
  node.RejectUnknownKeys();
  return tls;
}

}  // namespace

bool IsBcryptHash(std::string_view hash) {
  if (hash.size() != 60) return false;
  if (hash[0] != '$' || hash[1] != '2' || hash[3] != '$' || hash[6] != '$') return false;
  if (hash[2] != 'a' && hash[2] != 'b' && hash[2] != 'y') return false;
  if (!std::isdigit(static_cast<unsigned char>(hash[4])) ||
      !std::isdigit(static_cast<unsigned char>(hash[5]))) {
    return false;
  }
  int cost = (hash[4] - '0') * 10 + (hash[5] - '0');
  if (cost < 4 || cost > 31) return false;
  return std::all_of(hash.begin() + 7, hash.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '/';
  });
}

std::string OpenSslCipherName(std::string_view go_name) {
  for (const auto& c : kCiphers) {
    if (c.go == go_name) return std::string(c.openssl);
  }
  return "";
}

WebConfig ParseWebConfig(const std::string& text, const std::string& source,
                         const std::string& base_dir) {
  YAML::Node doc;
  try {
    doc = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    throw ConfigError("", source + ":" + std::to_string(e.mark.line + 1) + ":" +
                              std::to_string(e.mark.column + 1) + ": " + e.msg);
  } catch (const YAML::Exception& e) {
    throw ConfigError("", source + ": " + e.what());
  }
  WebConfig config;
  config.source = source;
  try {
    ConfigNode root(doc, "");
    if (!root.IsDefined())
      return config;  // an empty file: plain HTTP, no auth (as exporter-toolkit)
    if (!root.IsMap()) root.Fail(source + ": must be a map");
    if (root.Has("tls_server_config")) {
      ConfigNode tls = root.Child("tls_server_config");
      if (tls.IsDefined()) config.tls = ParseTls(tls, base_dir);
    }
    if (root.Has("basic_auth_users")) {
      ConfigNode users = root.Child("basic_auth_users");
      users.ExpectMap();
      for (const std::string& user : users.Keys()) {
        ConfigNode hash = users.Child(user);
        if (user.empty() || user.find(':') != std::string::npos) {
          hash.Fail("a user name must be non-empty and must not contain ':'");
        }
        std::string value = hash.AsString();
        if (!IsBcryptHash(value)) {
          hash.Fail("not a bcrypt hash (make one with `htpasswd -nBC 10 \"\" | tr -d ':\\n'`)");
        }
        config.users[user] = value;
      }
    }
    if (root.Has("http_server_config")) {
      ConfigNode http = root.Child("http_server_config");
      http.ExpectMap();
      if (http.Has("http2")) http.Child("http2").AsBool();  // accepted; civetweb speaks HTTP/1.1
      if (http.Has("headers")) {
        ConfigNode headers = http.Child("headers");
        headers.ExpectMap();
        for (const std::string& name : headers.Keys()) {
          ConfigNode value_node = headers.Child(name);
          const AllowedHeader* allowed = nullptr;
          for (const auto& h : AllowedHeaders()) {
            if (Lower(h.name) == Lower(name)) allowed = &h;
          }
          if (allowed == nullptr) {
            value_node.Fail(
                "header cannot be configured (allowed: Strict-Transport-Security, "
                "X-Content-Type-Options, X-Frame-Options, X-XSS-Protection, "
                "Content-Security-Policy)");
          }
          std::string value = value_node.AsString();
          if (value.find_first_of("\r\n") != std::string::npos) {
            value_node.Fail("must not contain a line break");
          }
          if (!allowed->values.empty() && std::find(allowed->values.begin(), allowed->values.end(),
                                                    Lower(value)) == allowed->values.end()) {
            std::string list;
            for (auto v : allowed->values) list += (list.empty() ? "" : ", ") + std::string(v);
            value_node.Fail("must be one of " + list + " (got \"" + value + "\")");
          }
          config.headers.emplace_back(std::string(allowed->name), value);
        }
      }
      http.RejectUnknownKeys();
    }
    root.RejectUnknownKeys();
  } catch (const YAML::Exception& e) {
    throw ConfigError("", source + ": " + e.what());
  }
  return config;
}

WebConfig LoadWebConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError(path, std::string("cannot read: ") + std::strerror(errno));
  std::stringstream text;
  text << in.rdbuf();
  std::string dir;
  if (auto slash = path.rfind('/'); slash != std::string::npos) dir = path.substr(0, slash);
  WebConfig config = ParseWebConfig(text.str(), path, dir.empty() ? "." : dir);
  if (config.tls) {
    const std::pair<const char*, const std::string*> files[] = {
        {"tls_server_config.cert_file", &config.tls->cert_file},
        {"tls_server_config.key_file", &config.tls->key_file},
        {"tls_server_config.client_ca_file", &config.tls->client_ca_file},
    };
    for (const auto& [key, file] : files) {
      if (file->empty()) continue;
      std::ifstream f(*file);
      if (!f) throw ConfigError(key, "cannot read " + *file + ": " + std::strerror(errno));
    }
  }
  return config;
}

}  // namespace gatewatch
