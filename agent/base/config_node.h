// A view of one node of the configuration document that knows its own path
// (`checks[2].expect.status[0]`), so that every error names exactly where it is.
//
// The config is YAML (yaml-cpp); JSON is accepted because it is a subset of YAML.
// Maps track which keys were read: RejectUnknownKeys() then refuses any key nobody asked for,
// so a typo like `timout:` is an error instead of a silently ignored setting.
//
// Errors are thrown as ConfigError; they never escape the config boundary (Config::Load and the
// check factories it calls).
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "agent/base/clock.h"
#include "agent/base/units.h"

namespace gatewatch {

class ConfigError : public std::runtime_error {
 public:
  // what() is "<path>: <message>", or just the message when path is empty.
  ConfigError(const std::string& path, const std::string& message);
  const std::string& path() const { return path_; }
  const std::string& message() const { return message_; }

 private:
  std::string path_;
  std::string message_;
};

class ConfigNode {
 public:
  ConfigNode(YAML::Node node, std::string path);

  const std::string& path() const { return path_; }
  bool IsDefined() const { return node_.IsDefined() && !node_.IsNull(); }
  bool IsMap() const { return node_.IsMap(); }
  bool IsSequence() const { return node_.IsSequence(); }
  bool IsScalar() const { return node_.IsScalar(); }

  // Map access. Each marks `key` as known. Child() of an absent key is a node that is not defined.
  bool Has(const std::string& key) const;
  ConfigNode Child(const std::string& key) const;
  ConfigNode Required(const std::string& key) const;  // "<path>.<key>: is required"
  std::vector<std::string> Keys() const;              // in document order; marks none

  // Sequence access: "<path>[i]".
  size_t size() const;
  ConfigNode At(size_t i) const;

  // Scalar conversions; each fails with a message naming the expected form.
  std::string AsString() const;
  bool AsBool() const;
  int64_t AsInt(int64_t min, int64_t max) const;
  double AsDouble(double min, double max) const;
  Duration AsDuration() const;
  uint64_t AsBytes() const;
  // A string, or a list of strings.
  std::vector<std::string> AsStringList() const;

  // Convenience: value of an optional key, or the fallback.
  std::string StringOr(const std::string& key, const std::string& fallback) const;
  bool BoolOr(const std::string& key, bool fallback) const;
  Duration DurationOr(const std::string& key, Duration fallback) const;
  uint64_t BytesOr(const std::string& key, uint64_t fallback) const;
  int64_t IntOr(const std::string& key, int64_t fallback, int64_t min, int64_t max) const;

  // Fails on the first key of this map that no Child/Required/Has call asked for.
  void RejectUnknownKeys() const;
  // Requires this node to be a map (or absent); "<path>: must be a map".
  void ExpectMap() const;

  [[noreturn]] void Fail(const std::string& message) const;

  // A stable text form of this subtree, used to tell whether a check changed across a reload.
  std::string Fingerprint() const;

 private:
  ConfigNode(YAML::Node node, std::string path, std::shared_ptr<std::set<std::string>> seen);

  YAML::Node node_;
  std::string path_;
  // Shared between copies of the same map node, so a copy's lookups count too.
  std::shared_ptr<std::set<std::string>> seen_;
};

}  // namespace gatewatch
