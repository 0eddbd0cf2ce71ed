// nginx config text through the parser, the include loader (as `nginx -T` output: the input's
// "# configuration file" sections are the files, includes between them followed), the topology
// extraction and the probe plan: errors are values with file:line, never a crash or a hang.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "checks/nginx_check.h"
#include "checks/nginx_conf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  gatewatch::NginxConfParse one = gatewatch::ParseNginxConf(text, "/etc/nginx/nginx.conf");
  if (one.error && one.error->line < 0) __builtin_trap();
  gatewatch::NginxTopology topo = gatewatch::ExtractNginxTopology(one.directives);
  gatewatch::BuildNginxProbes(topo, {});

  std::string main;
  auto files = gatewatch::SplitNginxT(text, &main);
  if (!main.empty()) {
    gatewatch::NginxConfParse all =
        gatewatch::LoadNginxConf(main, gatewatch::TableNginxConfFiles(std::move(files)));
    gatewatch::BuildNginxProbes(gatewatch::ExtractNginxTopology(all.directives), {});
  }
  gatewatch::ParseNginxTimeMs(text.substr(0, 64));
  gatewatch::ParseStubStatus(text);
  return 0;
}
