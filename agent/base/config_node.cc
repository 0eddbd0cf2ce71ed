#include "agent/base/config_node.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>

namespace gatewatch {
namespace {

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s.substr(0, 64)) out += (c == '"' ? '\'' : c);
  if (s.size() > 64) out += "...";
  return out + "\"";
}

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

void Emit(YAML::Emitter& out, const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      // Sorted keys: two configs that differ only in key order are the same check. Sort indices,
      // never YAML::Node values: assigning a Node writes through to the document it refers to.
      std::vector<std::pair<std::string, YAML::Node>> entries;
      for (const auto& kv : node) entries.emplace_back(kv.first.Scalar(), kv.second);
      std::vector<size_t> order(entries.size());
      for (size_t i = 0; i < order.size(); ++i) order[i] = i;
      std::sort(order.begin(), order.end(),
                [&](size_t a, size_t b) { return entries[a].first < entries[b].first; });
      out << YAML::BeginMap;
      for (size_t i : order) {
        out << YAML::Key << entries[i].first << YAML::Value;
        Emit(out, entries[i].second);
      }
      out << YAML::EndMap;
      break;
    }
    case YAML::NodeType::Sequence:
      out << YAML::BeginSeq;
      for (const auto& item : node) Emit(out, item);
      out << YAML::EndSeq;
      break;
    case YAML::NodeType::Scalar:
      out << YAML::DoubleQuoted << node.Scalar();
      break;
    default:
      out << YAML::Null;
  }
}

}  // namespace

ConfigError::ConfigError(const std::string& path, const std::string& message)
    : std::runtime_error(path.empty() ? message : path + ": " + message),
      path_(path),
      message_(message) {}

ConfigNode::ConfigNode(YAML::Node node, std::string path)
    : ConfigNode(std::move(node), std::move(path), std::make_shared<std::set<std::string>>()) {}

ConfigNode::ConfigNode(YAML::Node node, std::string path,
                       std::shared_ptr<std::set<std::string>> seen)
    : node_(std::move(node)), path_(std::move(path)), seen_(std::move(seen)) {}

void ConfigNode::Fail(const std::string& message) const { throw ConfigError(path_, message); }

void ConfigNode::ExpectMap() const {
  if (IsDefined() && !node_.IsMap()) Fail("must be a map");
}

bool ConfigNode::Has(const std::string& key) const {
  seen_->insert(key);
  const YAML::Node& n = node_;  // const access never inserts
  return n.IsMap() && n[key].IsDefined() && !n[key].IsNull();
}

ConfigNode ConfigNode::Child(const std::string& key) const {
  seen_->insert(key);
  std::string path = path_.empty() ? key : path_ + "." + key;
  if (!node_.IsMap()) return ConfigNode(YAML::Node(YAML::NodeType::Undefined), path);
  const YAML::Node& n = node_;
  YAML::Node child = n[key];
  // yaml-cpp's node for a missing key is a "zombie" whose accessors throw (and assigning to it
  // writes through), so build a fresh undefined node instead.
  if (!child.IsDefined()) return ConfigNode(YAML::Node(YAML::NodeType::Undefined), path);
  return ConfigNode(child, path);
}

ConfigNode ConfigNode::Required(const std::string& key) const {
  ConfigNode child = Child(key);
  if (child.IsDefined()) return child;
  // A missing required key is most often a typo of it (`urll:`): name the typo first, since
  // "url: is required" alone sends the user looking for a key they believe they wrote. Only keys
  // nobody has asked for yet qualify (a known key is no typo).
  std::string typo;
  size_t best_distance = 3;
  if (node_.IsMap()) {
    for (const auto& kv : node_) {
      const std::string present = kv.first.Scalar();
      if (seen_->contains(present)) continue;
      size_t d = EditDistance(present, key);
      // Short keys are close to everything: `x` is no typo of `a`.
      if (d < best_distance && 2 * d < key.size()) best_distance = d, typo = present;
    }
  }
  if (typo.empty()) child.Fail("is required");
  throw ConfigError(
      path_.empty() ? typo : path_ + "." + typo,
      "unknown key (did you mean \"" + key + "\"?)\n" + child.path() + ": is required");
}

std::vector<std::string> ConfigNode::Keys() const {
  std::vector<std::string> keys;
  if (!node_.IsMap()) return keys;
  for (const auto& kv : node_) keys.push_back(kv.first.Scalar());
  return keys;
}

size_t ConfigNode::size() const { return node_.IsSequence() || node_.IsMap() ? node_.size() : 0; }

ConfigNode ConfigNode::At(size_t i) const {
  std::string path = path_ + "[" + std::to_string(i) + "]";
  // Same as Child(): out of range gives an undefined node, never a zombie that throws.
  if (!node_.IsSequence() || i >= node_.size()) {
    return ConfigNode(YAML::Node(YAML::NodeType::Undefined), path);
  }
  const YAML::Node& n = node_;
  return ConfigNode(n[i], path);
}

std::string ConfigNode::AsString() const {
  if (!node_.IsScalar()) Fail("must be a string");
  return node_.Scalar();
}

bool ConfigNode::AsBool() const {
  if (node_.IsScalar()) {
    const std::string& s = node_.Scalar();
    if (s == "true") return true;
    if (s == "false") return false;
  }
  Fail("must be a boolean (true or false)");
}

int64_t ConfigNode::AsInt(int64_t min, int64_t max) const {
  std::string range =
      "must be an integer between " + std::to_string(min) + " and " + std::to_string(max);
  if (!node_.IsScalar()) Fail(range);
  const std::string& s = node_.Scalar();
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || v < min || v > max) {
    Fail(range + " (got " + Quote(s) + ")");
  }
  return v;
}

double ConfigNode::AsDouble(double min, double max) const {
  auto fmt = [](double d) {
    std::string s = std::to_string(d);
    s.erase(s.find_last_not_of('0') + 1);
    if (!s.empty() && s.back() == '.') s.pop_back();
    return s;
  };
  std::string range = "must be a number between " + fmt(min) + " and " + fmt(max);
  if (!node_.IsScalar()) Fail(range);
  const std::string& s = node_.Scalar();
  double v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || !std::isfinite(v) || v < min || v > max) {
    Fail(range + " (got " + Quote(s) + ")");
  }
  return v;
}

Duration ConfigNode::AsDuration() const {
  std::string s = node_.IsScalar() ? node_.Scalar() : "";
  auto d = ParseDuration(s);
  const std::string form = "must be a duration like 500ms, 30s or 5m";
  if (!node_.IsScalar()) Fail(form);
  if (!d) Fail(form + " (got " + Quote(s) + ")");
  return *d;
}

uint64_t ConfigNode::AsBytes() const {
  std::string s = node_.IsScalar() ? node_.Scalar() : "";
  auto b = ParseBytes(s);
  const std::string form = "must be a size like 65536, 64KiB or 1MiB";
  if (!node_.IsScalar()) Fail(form);
  if (!b) Fail(form + " (got " + Quote(s) + ")");
  return *b;
}

std::vector<std::string> ConfigNode::AsStringList() const {
  std::vector<std::string> out;
  if (node_.IsScalar()) {
    out.push_back(node_.Scalar());
    return out;
  }
  if (!node_.IsSequence()) Fail("must be a string or a list of strings");
  for (size_t i = 0; i < node_.size(); ++i) out.push_back(At(i).AsString());
  return out;
}

std::string ConfigNode::StringOr(const std::string& key, const std::string& fallback) const {
  auto c = Child(key);
  return c.IsDefined() ? c.AsString() : fallback;
}

bool ConfigNode::BoolOr(const std::string& key, bool fallback) const {
  auto c = Child(key);
  return c.IsDefined() ? c.AsBool() : fallback;
}

Duration ConfigNode::DurationOr(const std::string& key, Duration fallback) const {
  auto c = Child(key);
  return c.IsDefined() ? c.AsDuration() : fallback;
}

uint64_t ConfigNode::BytesOr(const std::string& key, uint64_t fallback) const {
  auto c = Child(key);
  return c.IsDefined() ? c.AsBytes() : fallback;
}

int64_t ConfigNode::IntOr(const std::string& key, int64_t fallback, int64_t min,
                          int64_t max) const {
  auto c = Child(key);
  return c.IsDefined() ? c.AsInt(min, max) : fallback;
}

void ConfigNode::RejectUnknownKeys() const {
  if (!node_.IsMap()) return;
  std::set<std::string> keys;
  for (const auto& kv : node_) {
    const std::string key = kv.first.Scalar();
    // yaml-cpp keeps duplicate keys and lookups see only the first: a silently ignored setting.
    if (!keys.insert(key).second)
      throw ConfigError(path_.empty() ? key : path_ + "." + key, "duplicate key");
    if (seen_->contains(key)) continue;
    std::string best;
    size_t best_distance = 3;
    for (const auto& known : *seen_) {
      size_t d = EditDistance(key, known);
      if (d < best_distance) best_distance = d, best = known;
    }
    std::string path = path_.empty() ? key : path_ + "." + key;
    throw ConfigError(
        path, best.empty() ? "unknown key" : "unknown key (did you mean \"" + best + "\"?)");
  }
}

std::string ConfigNode::Fingerprint() const {
  YAML::Emitter out;
  out.SetMapFormat(YAML::Flow);
  out.SetSeqFormat(YAML::Flow);
  Emit(out, node_);
  return out.c_str();
}

}  // namespace gatewatch
