// One answer of a page or API handler that the web server routes to (exporters/history_api.h).
#pragma once

#include <string>

namespace gatewatch {

struct WebResponse {
  int status = 200;
  std::string content_type;
  std::string body;
};

}  // namespace gatewatch
