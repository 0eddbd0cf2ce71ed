#include "agent/diagnose_cli.h"

#include <curl/curl.h>

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "agent/diagnosis_sink.h"
#include "exporters/status_json.h"

namespace gatewatch {
namespace {

constexpr size_t kMaxBody = 4u << 20;  // the document is small; refuse anything unbounded

size_t Collect(char* data, size_t size, size_t n, void* user) {
  auto* body = static_cast<std::string*>(user);
  if (body->size() + size * n > kMaxBody) return 0;  // aborts the transfer
  body->append(data, size * n);
  return size * n;
}

}  // namespace

int RunDiagnose(const DiagnoseOptions& options) {
  if (options.url.empty()) {
    std::fprintf(stderr,
                 "gatewatch diagnose: --url=http://HOST:PORT of a running agent is required\n");
    return 2;
  }
  std::string url = options.url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  url += "/api/v1/diagnosis";
  if (!options.service.empty()) url += "?service=" + options.service;

  CURL* curl = curl_easy_init();
  if (curl == nullptr) {
    std::fprintf(stderr, "gatewatch diagnose: cannot initialise libcurl\n");
    return 2;
  }
  std::string body;
  char error[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout_seconds * 1000));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK) {
    std::fprintf(stderr, "gatewatch diagnose: %s: %s\n", url.c_str(),
                 error[0] ? error : curl_easy_strerror(rc));
    return 2;
  }
  if (status != 200) {
    std::fprintf(stderr, "gatewatch diagnose: %s: HTTP %ld\n", url.c_str(), status);
    return 2;
  }
  nlohmann::json doc = nlohmann::json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    std::fprintf(stderr, "gatewatch diagnose: %s: not a diagnosis document\n", url.c_str());
    return 2;
  }
  if (options.json) {
    std::cout << DumpJson(doc, 2) << "\n";
  } else {
    std::cout << FormatDiagnosis(doc, options.service);
  }
  bool verdict = false;
  if (auto s = doc.find("services"); s != doc.end() && s->is_array()) {
    for (const auto& one : *s) {
      if (one.contains("verdict") && one["verdict"].is_object()) verdict = true;
    }
  }
  return verdict ? 1 : 0;
}

}  // namespace gatewatch
