#include "exporters/basic_auth.h"

#include <crypt.h>

#include <array>
#include <cstring>
#include <memory>

namespace gatewatch {
namespace {

// crypt_r's scratch space is ~32 KB: on the heap, not a worker's stack.
std::string Crypt(const std::string& phrase, const std::string& setting) {
  auto data = std::make_unique<crypt_data>();
  std::memset(data.get(), 0, sizeof(crypt_data));
  const char* out = crypt_r(phrase.c_str(), setting.c_str(), data.get());
  // libxcrypt returns a string starting with '*' (or null) when the setting is invalid.
  if (out == nullptr || out[0] == '*') return "";
  return out;
}

std::string GenSalt(const char* prefix, unsigned long count) {
  std::array<char, CRYPT_GENSALT_OUTPUT_SIZE> out{};
  if (crypt_gensalt_rn(prefix, count, nullptr, 0, out.data(), static_cast<int>(out.size())) ==
      nullptr) {
    return "";
  }
  return out.data();
}

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

BasicAuthenticator::BasicAuthenticator(std::map<std::string, std::string> users)
    : users_(std::move(users)) {
  cache_salt_ = GenSalt("$5$", 1000);
  // Same cost as a configured hash, so a wrong user name takes as long as a wrong password.
  unsigned long cost = 10;
  if (!users_.empty()) {
    const std::string& h = users_.begin()->second;
    cost = static_cast<unsigned long>((h[4] - '0') * 10 + (h[5] - '0'));
  }
  dummy_setting_ = GenSalt("$2b$", cost);
}

std::optional<std::string> BasicAuthenticator::DecodeBase64(std::string_view in) {
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  if (in.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(in.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = Base64Value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

std::optional<BasicAuthenticator::Credentials> BasicAuthenticator::ParseAuthorization(
    std::string_view header) {
  constexpr std::string_view kScheme = "basic ";
  if (header.size() <= kScheme.size()) return std::nullopt;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) != kScheme[i]) return std::nullopt;
  }
  header.remove_prefix(kScheme.size());
  while (!header.empty() && header.front() == ' ') header.remove_prefix(1);
  while (!header.empty() && header.back() == ' ') header.remove_suffix(1);
  auto decoded = DecodeBase64(header);
  if (!decoded) return std::nullopt;
  // crypt_r takes C strings: a NUL would cut the password short.
  if (decoded->find('\0') != std::string::npos) return std::nullopt;
  auto colon = decoded->find(':');
  if (colon == std::string::npos) return std::nullopt;
  return Credentials{decoded->substr(0, colon), decoded->substr(colon + 1)};
}

bool BasicAuthenticator::ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

std::string BasicAuthenticator::CacheKey(const Credentials& c) const {
  if (cache_salt_.empty()) return "";
  return Crypt(c.user + ":" + c.password, cache_salt_);
}

bool BasicAuthenticator::Check(const char* authorization) const {
  if (authorization == nullptr) return false;
  auto creds = ParseAuthorization(authorization);
  if (!creds) return false;
  auto it = users_.find(creds->user);
  if (it == users_.end()) {
    if (!dummy_setting_.empty()) Crypt(creds->password, dummy_setting_);
    return false;
  }
  std::string key = CacheKey(*creds);
  if (!key.empty()) {
    std::lock_guard lock(mu_);
    if (cache_.count(key) > 0) {
      ++hits_;
      return true;
    }
  }
  std::string computed = Crypt(creds->password, it->second);
  bool ok = !computed.empty() && ConstantTimeEquals(computed, it->second);
  std::lock_guard lock(mu_);
  ++bcrypt_;
  if (ok && !key.empty()) {
    if (cache_.size() >= kMaxCacheEntries) cache_.clear();
    cache_.insert(key);
  }
  return ok;
}

size_t BasicAuthenticator::bcrypt_verifications() const {
  std::lock_guard lock(mu_);
  return bcrypt_;
}

size_t BasicAuthenticator::cache_hits() const {
  std::lock_guard lock(mu_);
  return hits_;
}

}  // namespace gatewatch
