#include "tests/testlib/http_client.h"

#include <curl/curl.h>

#include <thread>

namespace gatewatch::testing {
namespace {

size_t Append(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

HttpResponse Request(const std::string& url, bool post, std::chrono::milliseconds timeout) {
  HttpResponse r;
  CURL* easy = curl_easy_init();
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_PROXY, "");
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &Append);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &r.body);
  if (post) curl_easy_setopt(easy, CURLOPT_POSTFIELDS, "");
  if (curl_easy_perform(easy) == CURLE_OK)
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &r.status);
  curl_easy_cleanup(easy);
  return r;
}

}  // namespace

HttpResponse HttpGet(const std::string& url, std::chrono::milliseconds timeout) {
  return Request(url, false, timeout);
}

HttpResponse HttpPost(const std::string& url, std::chrono::milliseconds timeout) {
  return Request(url, true, timeout);
}

bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds limit) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

}  // namespace gatewatch::testing
