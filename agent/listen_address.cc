#include "agent/listen_address.h"

#include <charconv>

namespace gatewatch {

std::string ListenAddress::LocalHost() const {
  if (host.empty() || host == "0.0.0.0") return "127.0.0.1";
  if (host == "[::]") return "[::1]";
  return host;
}

std::optional<ListenAddress> ParseListenAddress(std::string_view text) {
  size_t colon;
  if (!text.empty() && text.front() == '[') {
    size_t end = text.find(']');
    if (end == std::string_view::npos || end + 1 >= text.size() || text[end + 1] != ':') {
      return std::nullopt;
    }
    colon = end + 1;
  } else {
    colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
  }
  std::string_view port_text = text.substr(colon + 1);
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() ||
      port > 65535) {
    return std::nullopt;
  }
  return ListenAddress{std::string(text.substr(0, colon)), static_cast<uint16_t>(port)};
}

}  // namespace gatewatch
