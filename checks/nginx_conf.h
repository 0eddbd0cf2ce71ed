// nginx's configuration language, read the way nginx reads it (ngx_conf_file.c): directives and
// blocks, single and double quotes with nginx's escapes, comments, `include` with globs relative to
// the main file's directory, variables left as written. And `nginx -T` output split back into its
// files. Pure: text in, AST out; file access is the caller's (NginxConfFiles), so the loader runs
// on a table of files in tests and fuzzing as well as on the disk.
//
// Hostile input never crashes or grows without bound: nesting depth, directive count, token and
// argument counts, included files and total bytes are capped (NginxConfLimits), and every error
// names file:line.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gatewatch {

struct NginxDirective {
  std::string name;
  // Quotes removed and escapes resolved (\" \' \\ \t \r \n; others kept as written), variables
  // ($host, ${host}) left unresolved.
  std::vector<std::string> args;
  std::string file;
  int line = 0;
  bool block = false;                    // `name args { ... }`
  std::vector<NginxDirective> children;  // a block's directives, includes expanded
};

struct NginxConfError {
  std::string file;
  int line = 0;
  std::string message;
  std::string Text() const;  // "file:line: message" (or "file: message" for line 0)
};

struct NginxConfLimits {
  size_t max_depth = 32;                // nested blocks (nginx has no limit; real configs use < 8)
  size_t max_directives = 200000;       // in all files together
  size_t max_args = 1024;               // per directive
  size_t max_token_bytes = 64 * 1024;   // one word or quoted string
  size_t max_files = 256;               // files read, the main one included
  size_t max_bytes = 32 * 1024 * 1024;  // text of all files together
  size_t max_include_depth = 16;        // include inside an included file, ...
};

struct NginxConfParse {
  std::vector<NginxDirective> directives;
  std::optional<NginxConfError> error;  // set: `directives` is what was read before it
};

// Parses one file's text (no include is followed: `include` stays a directive). `counted` adds
// to a running directive count across files (may be null).
NginxConfParse ParseNginxConf(std::string_view text, const std::string& file,
                              const NginxConfLimits& limits = {}, size_t* counted = nullptr);

// Where the loader gets files. `read` returns the text, or nullopt with `*error` set; `glob`
// lists the paths a pattern matches, sorted (nginx sorts them too).
struct NginxConfFiles {
  std::function<std::optional<std::string>(const std::string& path, std::string* error)> read;
  std::function<std::vector<std::string>(const std::string& pattern)> glob;
};

// The real filesystem (glob(3), files read up to limits.max_bytes).
NginxConfFiles DiskNginxConfFiles(size_t max_bytes);

// The files of `nginx -T` output ("# configuration file PATH:" sections) as a table: `glob`
// matches the table's paths with fnmatch. `main` gets the first section's path ("" if none).
std::map<std::string, std::string> SplitNginxT(std::string_view output, std::string* main);
NginxConfFiles TableNginxConfFiles(std::map<std::string, std::string> files);

// Reads `main_path` and every file its `include` directives name (relative paths from the main
// file's directory, globs expanded; a pattern with no match is fine, a missing plain path is an
// error, as in nginx), each include replaced by the included directives.
NginxConfParse LoadNginxConf(const std::string& main_path, const NginxConfFiles& files,
                             const NginxConfLimits& limits = {});

// nginx's time syntax (ngx_parse_time): "60", "60s", "500ms", "1m30s", units ms s m h d w M y.
// nullopt when it is not one. Milliseconds.
std::optional<long long> ParseNginxTimeMs(std::string_view text);

// ----- What gatewatch needs from it ------------------------------------------------------------

// The proxy settings in effect for a location (inherited http -> server -> location), nginx's
// defaults when unset.
struct NginxProxySettings {
  long long connect_timeout_ms = 60000;
  long long read_timeout_ms = 60000;
  long long send_timeout_ms = 60000;
  bool ssl_server_name = false;
  std::string ssl_name;  // empty: the proxy_pass host
  bool ssl_verify = false;
  std::string http_version = "1.0";
  std::vector<std::string> resolver;  // "ip:port", from `resolver`; empty: none
  long long resolver_valid_ms = 0;    // `valid=`; 0: the answers' TTL
};

struct NginxUpstreamServer {
  std::string address;  // as written: "10.0.0.1:8080", "api.internal", "unix:/run/app.sock"
  std::string host;     // without brackets; empty for unix:
  int port = 80;
  bool unix_socket = false;
  int weight = 1;
  bool backup = false;
  bool down = false;
  int max_fails = 1;
  long long fail_timeout_ms = 10000;
  std::string file;
  int line = 0;
};

struct NginxUpstream {
  std::string name;
  // true: not an upstream{} block but the host:port a proxy_pass names directly.
  bool implicit = false;
  std::vector<NginxUpstreamServer> servers;
  int keepalive = 0;  // idle connections cached per worker; 0: none
  long long keepalive_timeout_ms = 60000;
  std::string file;
  int line = 0;
};

struct NginxPass {
  std::string directive;       // proxy_pass, fastcgi_pass, grpc_pass
  std::string target;          // as written
  std::string scheme;          // http, https, grpc, grpcs; "" for fastcgi
  std::string upstream;        // the NginxUpstream it uses (by name)
  bool has_variables = false;  // resolved at request time with `resolver`
  std::string server_name;     // the enclosing server's first server_name ("" if none)
  std::string location;        // the location's argument(s), "" outside a location
  NginxProxySettings settings;
  std::string file;
  int line = 0;
};

struct NginxTopology {
  std::vector<NginxUpstream> upstreams;  // upstream{} blocks first, in order, then implicit ones
  std::vector<NginxPass> passes;
  std::vector<NginxConfError> warnings;  // unsupported or invalid values, skipped
  const NginxUpstream* Find(std::string_view name) const;
};

// Walks the http{} blocks of a loaded config. Never fails: what it cannot read goes to warnings.
NginxTopology ExtractNginxTopology(const std::vector<NginxDirective>& config);

}  // namespace gatewatch
