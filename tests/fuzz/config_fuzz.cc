// A config file as a user (or a broken deploy) writes it: YAML or JSON of any shape through the
// whole loader, every check type's factory included. Errors must be ConfigError, nothing else.
#include <cstddef>
#include <cstdint>
#include <string>

#include "agent/base/config_node.h"
#include "agent/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;  // bigger inputs only slow the search down
  std::string text(reinterpret_cast<const char*>(data), size);
  try {
    gatewatch::Config config = gatewatch::ParseConfig(text, "fuzz.yml");
    (void)config;
  } catch (const gatewatch::ConfigError&) {
    // the expected answer to a bad file: a message naming the path
  }
  return 0;
}
