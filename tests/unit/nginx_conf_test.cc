// nginx's config syntax through the pure parser, the include loader (on a table of files) and the
// topology extraction: tables of config strings, with the errors nginx itself gives, by file:line.
#include "checks/nginx_conf.h"

#include <gtest/gtest.h>

namespace gatewatch {
namespace {

// A compact rendering of the AST: "name[arg|arg]{...}" per directive, ";"-separated.
std::string Render(const std::vector<NginxDirective>& ds) {
  std::string out;
  for (const NginxDirective& d : ds) {
    if (!out.empty()) out += ";";
    out += d.name;
    if (!d.args.empty()) {
      out += "[";
      for (size_t i = 0; i < d.args.size(); ++i) out += (i ? "|" : "") + d.args[i];
      out += "]";
    }
    if (d.block) out += "{" + Render(d.children) + "}";
  }
  return out;
}

struct ParseCase {
  const char* text;
  const char* ast;    // when no error
  const char* error;  // "line: message" substring, or nullptr
};

TEST(NginxConfParseTest, Syntax) {
  const ParseCase cases[] = {
      {"", "", nullptr},
      {"   \n\n # only a comment\n", "", nullptr},
      {"worker_processes 1;", "worker_processes[1]", nullptr},
      {"a b c;d;", "a[b|c];d", nullptr},
      {"events { worker_connections 256; }", "events{worker_connections[256]}", nullptr},
      {"http{server{listen 80;location /{proxy_pass http://u;}}}",
       "http{server{listen[80];location[/]{proxy_pass[http://u]}}}", nullptr},
      {"a \"b c\" 'd e';", "a[b c|d e]", nullptr},
      {"a \"x\\\"y\" 'it\\'s';", "a[x\"y|it's]", nullptr},
      {"a \"t\\tn\\nr\\r\\\\\";", "a[t\tn\nr\r\\]", nullptr},
      {"a \\d\\.;", "a[\\d\\.]", nullptr},  // unknown escapes stay (regexes)
      {"a b#c;", "a[b#c]", nullptr},        // # inside a word is not a comment
      {"a b # comment ; still comment\n c;", "a[b|c]", nullptr},
      {"return 200 \"{ok}\";", "return[200|{ok}]", nullptr},
      {"set $x ${host}abc;", "set[$x|${host}abc]", nullptr},
      {"location ~ ^/(a|b)$ { }", "location[~|^/(a|b)$]{}", nullptr},
      {"a \"\";", "a[]", nullptr},
      {"a\r\nb;\r\n", "a[b]", nullptr},
      {"a 'multi\nline';", "a[multi\nline]", nullptr},
      {"a b", nullptr, "1: unexpected end of file, expecting \";\" or \"}\""},
      {"http {\n a;\n", nullptr,
       "3: unexpected end of file, expecting \"}\" (block opened on line 1)"},
      {"}", nullptr, "1: unexpected \"}\""},
      {"a;\n;", nullptr, "2: unexpected \";\""},
      {"{ a; }", nullptr, "1: unexpected \"{\""},
      {"a b }", nullptr, "1: unexpected \"}\""},
      {"a \"unterminated;\n\n", nullptr, "1: unexpected end of file in a quoted string"},
      {"a \"x\"y;", nullptr, "1: unexpected \"y\""},
      {"a;\nb {\n c;\n}\n}", nullptr, "5: unexpected \"}\""},
  };
  for (const ParseCase& c : cases) {
    NginxConfParse p = ParseNginxConf(c.text, "t.conf");
    if (c.error == nullptr) {
      ASSERT_FALSE(p.error.has_value()) << c.text << ": " << p.error->Text();
      EXPECT_EQ(Render(p.directives), c.ast) << c.text;
    } else {
      ASSERT_TRUE(p.error.has_value()) << c.text << " parsed as " << Render(p.directives);
      EXPECT_EQ(p.error->file, "t.conf");
      EXPECT_NE(("t.conf:" + p.error->Text().substr(7)).find(c.error), std::string::npos)
          << c.text << ": " << p.error->Text();
    }
  }
}

TEST(NginxConfParseTest, LinesOfDirectives) {
  NginxConfParse p = ParseNginxConf("# c\nhttp {\n\n  upstream u {\n    server a:1;\n  }\n}\n",
                                    "/etc/nginx/nginx.conf");
  ASSERT_FALSE(p.error);
  ASSERT_EQ(p.directives.size(), 1u);
  EXPECT_EQ(p.directives[0].line, 2);
  EXPECT_EQ(p.directives[0].children[0].line, 4);
  EXPECT_EQ(p.directives[0].children[0].children[0].line, 5);
  EXPECT_EQ(p.directives[0].children[0].children[0].file, "/etc/nginx/nginx.conf");
}

TEST(NginxConfParseTest, HostileInputIsBounded) {
  NginxConfLimits limits;
  limits.max_depth = 8;
  std::string deep;
  for (int i = 0; i < 100000; ++i) deep += "a{";
  NginxConfParse p = ParseNginxConf(deep, "deep.conf", limits);
  ASSERT_TRUE(p.error);
  EXPECT_NE(p.error->message.find("nested deeper than 8"), std::string::npos);

  std::string many;
  for (int i = 0; i < 2000; ++i) many += "a;";
  limits.max_directives = 1000;
  p = ParseNginxConf(many, "many.conf", limits);
  ASSERT_TRUE(p.error);
  EXPECT_NE(p.error->message.find("more than 1000 directives"), std::string::npos);

  limits.max_token_bytes = 100;
  p = ParseNginxConf("a " + std::string(1000, 'x') + ";", "long.conf", limits);
  ASSERT_TRUE(p.error);
  p = ParseNginxConf("a \"" + std::string(1000, 'x') + "\";", "long.conf", limits);
  ASSERT_TRUE(p.error);
  // Binary garbage: an error or a parse, never a crash.
  std::string garbage;
  for (int i = 0; i < 4096; ++i) garbage.push_back(static_cast<char>((i * 7919) & 0xff));
  (void)ParseNginxConf(garbage, "garbage.conf");
}

TEST(NginxConfLoadTest, IncludesGlobsAndErrors) {
  std::map<std::string, std::string> files = {
      {"/etc/nginx/nginx.conf",
       "events {}\nhttp {\n  include mime.types;\n  include conf.d/*.conf;\n"
       "  include /etc/nginx/nothing/*.conf;\n}\n"},
      {"/etc/nginx/mime.types", "types { text/html html; }\n"},
      {"/etc/nginx/conf.d/b.conf", "server { listen 2; }\n"},
      {"/etc/nginx/conf.d/a.conf", "server { listen 1; include snippets/x; }\n"},
      {"/etc/nginx/snippets/x", "proxy_read_timeout 2s;\n"},
  };
  NginxConfParse p = LoadNginxConf("/etc/nginx/nginx.conf", TableNginxConfFiles(files));
  ASSERT_FALSE(p.error) << p.error->Text();
  EXPECT_EQ(Render(p.directives),
            "events{};http{types{text/html[html]};server{listen[1];proxy_read_timeout[2s]};"
            "server{listen[2]}}");
  // Each directive keeps its own file and line.
  const NginxDirective& timeout = p.directives[1].children[1].children[1];
  EXPECT_EQ(timeout.file, "/etc/nginx/snippets/x");
  EXPECT_EQ(timeout.line, 1);

  // A missing plain include is an error at the include's file:line.
  files["/etc/nginx/conf.d/b.conf"] = "server {\n  include missing.conf;\n}\n";
  p = LoadNginxConf("/etc/nginx/nginx.conf", TableNginxConfFiles(files));
  ASSERT_TRUE(p.error);
  EXPECT_EQ(p.error->file, "/etc/nginx/conf.d/b.conf");
  EXPECT_EQ(p.error->line, 2);
  EXPECT_NE(p.error->message.find("/etc/nginx/missing.conf"), std::string::npos);

  // A syntax error in an included file names that file.
  files["/etc/nginx/conf.d/b.conf"] = "server {\n  listen 2\n";
  p = LoadNginxConf("/etc/nginx/nginx.conf", TableNginxConfFiles(files));
  ASSERT_TRUE(p.error);
  EXPECT_EQ(p.error->Text().substr(0, 27), "/etc/nginx/conf.d/b.conf:3:");

  // An include loop stops at the include bound, with an error, not a stack overflow.
  std::map<std::string, std::string> loop = {{"/c/nginx.conf", "include nginx.conf;\n"}};
  p = LoadNginxConf("/c/nginx.conf", TableNginxConfFiles(loop));
  ASSERT_TRUE(p.error);
  EXPECT_NE(p.error->message.find("deeper than"), std::string::npos);
  std::map<std::string, std::string> wide = {{"/c/nginx.conf", ""}};
  for (int i = 0; i < 20; ++i) wide["/c/nginx.conf"] += "include x.conf;\n";
  wide["/c/x.conf"] = "a;\n";
  NginxConfLimits limits;
  limits.max_files = 10;
  p = LoadNginxConf("/c/nginx.conf", TableNginxConfFiles(wide), limits);
  ASSERT_TRUE(p.error);
  EXPECT_NE(p.error->message.find("more than 10 files"), std::string::npos);

  p = LoadNginxConf("/nope.conf", TableNginxConfFiles({}));
  ASSERT_TRUE(p.error);
  EXPECT_EQ(p.error->file, "/nope.conf");
}

TEST(NginxConfLoadTest, NginxDashTOutput) {
  const std::string output =
      "# configuration file /etc/nginx/nginx.conf:\n"
      "http {\n    include /etc/nginx/sites/*;\n}\n\n"
      "# configuration file /etc/nginx/sites/default:\n"
      "server {\n    location / { proxy_pass http://127.0.0.1:8080; }\n}\n\n";
  std::string main;
  auto files = SplitNginxT(output, &main);
  EXPECT_EQ(main, "/etc/nginx/nginx.conf");
  ASSERT_EQ(files.size(), 2u);
  NginxConfParse p = LoadNginxConf(main, TableNginxConfFiles(files));
  ASSERT_FALSE(p.error) << p.error->Text();
  EXPECT_EQ(Render(p.directives), "http{server{location[/]{proxy_pass[http://127.0.0.1:8080]}}}");
  EXPECT_EQ(p.directives[0].children[0].children[0].children[0].line, 2);
  EXPECT_EQ(p.directives[0].children[0].children[0].children[0].file, "/etc/nginx/sites/default");
  SplitNginxT("no sections at all\n", &main);
  EXPECT_EQ(main, "");
}

TEST(NginxTimeTest, Units) {
  const std::pair<const char*, long long> ok[] = {
      {"60", 60000},   {"60s", 60000},   {"500ms", 500},    {"2m", 120000}, {"1m30s", 90000},
      {"1h", 3600000}, {"1d", 86400000}, {"1w", 604800000}, {"0", 0},       {"1h 30m", 5400000},
  };
  for (auto [text, ms] : ok) {
    ASSERT_TRUE(ParseNginxTimeMs(text).has_value()) << text;
    EXPECT_EQ(*ParseNginxTimeMs(text), ms) << text;
  }
  for (const char* bad :
       {"", "s", "-1s", "1x", "30s1m", "1s1s", "10 20", "99999999999999999999s"}) {
    EXPECT_FALSE(ParseNginxTimeMs(bad).has_value()) << bad;
  }
}

TEST(NginxTopologyTest, UpstreamsPassesAndSettings) {
  const char* conf = R"(
http {
  proxy_read_timeout 30s;
  resolver 127.0.0.1:5353 10.0.0.2 valid=10s ipv6=off;
  upstream app {
    server 127.0.0.1:8081 weight=3 max_fails=2 fail_timeout=5s;
    server [::1]:8082 backup;
    server app2.internal down;
    server unix:/run/app.sock;
    keepalive 16;
    keepalive_timeout 75s;
  }
  server {
    server_name www.example.test;
    proxy_connect_timeout 3s;
    location / {
      proxy_read_timeout 2s;
      proxy_http_version 1.1;
      proxy_pass http://app;
    }
    location /api/ {
      proxy_ssl_server_name on;
      proxy_ssl_name api.example.test;
      proxy_ssl_verify on;
      proxy_pass https://api.example.test:8443$request_uri;
    }
    location /php { fastcgi_read_timeout 9s; fastcgi_pass 127.0.0.1:9000; }
    location /grpc { grpc_pass grpc://127.0.0.1:50051; }
    location /v { proxy_pass http://$backend; }
    location /port { proxy_pass http://app:8080; }
  }
}
)";
  NginxConfParse p = ParseNginxConf(conf, "n.conf");
  ASSERT_FALSE(p.error) << p.error->Text();
  NginxTopology t = ExtractNginxTopology(p.directives);
  ASSERT_GE(t.upstreams.size(), 1u);
  const NginxUpstream* app = t.Find("app");
  ASSERT_NE(app, nullptr);
  EXPECT_FALSE(app->implicit);
  EXPECT_EQ(app->keepalive, 16);
  EXPECT_EQ(app->keepalive_timeout_ms, 75000);
  ASSERT_EQ(app->servers.size(), 4u);
  EXPECT_EQ(app->servers[0].host, "127.0.0.1");
  EXPECT_EQ(app->servers[0].port, 8081);
  EXPECT_EQ(app->servers[0].weight, 3);
  EXPECT_EQ(app->servers[0].max_fails, 2);
  EXPECT_EQ(app->servers[0].fail_timeout_ms, 5000);
  EXPECT_EQ(app->servers[0].line, 6);
  EXPECT_EQ(app->servers[1].host, "::1");
  EXPECT_TRUE(app->servers[1].backup);
  EXPECT_EQ(app->servers[2].port, 80);
  EXPECT_TRUE(app->servers[2].down);
  EXPECT_TRUE(app->servers[3].unix_socket);

  ASSERT_EQ(t.passes.size(), 5u);  // the variable host is a warning, not a pass
  const NginxPass& root = t.passes[0];
  EXPECT_EQ(root.upstream, "app");
  EXPECT_EQ(root.scheme, "http");
  EXPECT_EQ(root.server_name, "www.example.test");
  EXPECT_EQ(root.location, "/");
  EXPECT_EQ(root.settings.read_timeout_ms, 2000);
  EXPECT_EQ(root.settings.connect_timeout_ms, 3000);
  EXPECT_EQ(root.settings.send_timeout_ms, 60000);
  EXPECT_EQ(root.settings.http_version, "1.1");
  EXPECT_EQ(root.settings.resolver, (std::vector<std::string>{"127.0.0.1:5353", "10.0.0.2:53"}));
  EXPECT_EQ(root.settings.resolver_valid_ms, 10000);

  const NginxPass& api = t.passes[1];
  EXPECT_EQ(api.upstream, "api.example.test:8443");
  EXPECT_EQ(api.scheme, "https");
  EXPECT_TRUE(api.has_variables);
  EXPECT_EQ(api.settings.read_timeout_ms, 30000);  // http level
  EXPECT_TRUE(api.settings.ssl_server_name);
  EXPECT_EQ(api.settings.ssl_name, "api.example.test");
  EXPECT_TRUE(api.settings.ssl_verify);
  EXPECT_EQ(api.settings.http_version, "1.0");
  const NginxUpstream* implicit = t.Find("api.example.test:8443");
  ASSERT_NE(implicit, nullptr);
  EXPECT_TRUE(implicit->implicit);
  EXPECT_EQ(implicit->servers[0].host, "api.example.test");
  EXPECT_EQ(implicit->servers[0].port, 8443);

  EXPECT_EQ(t.passes[2].directive, "fastcgi_pass");
  EXPECT_EQ(t.passes[2].settings.read_timeout_ms, 9000);
  EXPECT_EQ(t.passes[3].directive, "grpc_pass");
  EXPECT_EQ(t.passes[3].settings.read_timeout_ms, 60000);  // proxy_* does not apply to grpc
  // `app:8080` is not the upstream block (a port is given): an address of its own.
  EXPECT_EQ(t.passes[4].upstream, "app:8080");
  bool warned = false;
  for (const NginxConfError& w : t.warnings) {
    if (w.message.find("$backend") != std::string::npos) {
      warned = true;
      EXPECT_EQ(w.file, "n.conf");
      EXPECT_EQ(w.line, 29);
    }
  }
  EXPECT_TRUE(warned);
  // Upstream blocks come first.
  EXPECT_EQ(t.upstreams[0].name, "app");
}

TEST(NginxTopologyTest, DefaultsAndInvalidValuesWarn) {
  NginxConfParse p = ParseNginxConf(
      "http { proxy_read_timeout soon; upstream u { server 1.2.3.4:99999; keepalive x; }\n"
      "server { location / { proxy_pass http://u; } location /x { proxy_pass ftp://a; } } }",
      "d.conf");
  ASSERT_FALSE(p.error);
  NginxTopology t = ExtractNginxTopology(p.directives);
  ASSERT_EQ(t.passes.size(), 1u);
  EXPECT_EQ(t.passes[0].settings.read_timeout_ms, 60000);
  EXPECT_EQ(t.passes[0].settings.connect_timeout_ms, 60000);
  EXPECT_FALSE(t.passes[0].settings.ssl_server_name);
  EXPECT_FALSE(t.passes[0].settings.ssl_verify);
  ASSERT_NE(t.Find("u"), nullptr);
  EXPECT_TRUE(t.Find("u")->servers.empty());
  EXPECT_EQ(t.warnings.size(), 4u);
  for (const NginxConfError& w : t.warnings) EXPECT_EQ(w.file, "d.conf");
  // Outside http{} nothing is found.
  p = ParseNginxConf("stream { upstream s { server 1.2.3.4:5; } }", "s.conf");
  EXPECT_TRUE(ExtractNginxTopology(p.directives).upstreams.empty());
}

}  // namespace
}  // namespace gatewatch
