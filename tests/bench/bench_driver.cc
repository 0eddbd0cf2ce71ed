// Fixed-rate HTTP driver for the benchmark harness (tests/bench/run.sh): sends GET requests to the
// URLs of a file, round robin, at a fixed aggregate rate, on libcurl multi with keep-alive (so the
// peer being measured pays as little as possible for being driven). Its own CPU is not counted:
// the harness measures the peer's process.
//
// With --pid, it reads the peer's utime+stime from /proc/PID/stat at the start and the end of the
// measurement window (after --warmup), so the CPU and the completed requests cover the same
// interval. It prints one line of JSON:
//   {"sent":N,"completed":N,"ok":N,"failed":N,"window_seconds":S,"cpu_seconds":C}
// where `ok` counts responses with status 200 whose body contains --expect (if given).
//
// Usage: bench_driver --urls FILE --rate R --seconds S [--warmup W] [--pid PID] [--expect TEXT]
//                     [--max-in-flight M]
#include <curl/curl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string urls_file;
  double rate = 100;
  double seconds = 10;
  double warmup = 0;
  long pid = 0;
  std::string expect;
  size_t max_in_flight = 512;
};

struct Slot {
  CURL* easy = nullptr;
  std::string body;
  bool counted = false;  // completes inside the measurement window
};

size_t OnWrite(char* data, size_t size, size_t n, void* user) {
  auto* body = static_cast<std::string*>(user);
  if (body->size() < 1 << 20) body->append(data, size * n);
  return size * n;
}

// utime + stime of a process in seconds, or -1 if it cannot be read.
double CpuSeconds(long pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = stat.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream fields(stat.substr(close + 2));
  std::string f;
  unsigned long long utime = 0, stime = 0;
  // Fields after the command: state is field 3; utime and stime are fields 14 and 15.
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14) utime = std::strtoull(f.c_str(), nullptr, 10);
    if (i == 15) stime = std::strtoull(f.c_str(), nullptr, 10);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

bool ParseArgs(int argc, char** argv, Options* o) {
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    const char* v = argv[i + 1];
    if (k == "--urls") {
      o->urls_file = v;
    } else if (k == "--rate") {
      o->rate = std::atof(v);
    } else if (k == "--seconds") {
      o->seconds = std::atof(v);
    } else if (k == "--warmup") {
      o->warmup = std::atof(v);
    } else if (k == "--pid") {
      o->pid = std::atol(v);
    } else if (k == "--expect") {
      o->expect = v;
    } else if (k == "--max-in-flight") {
      o->max_in_flight = static_cast<size_t>(std::atol(v));
    } else {
      return false;
    }
  }
  return argc % 2 == 1 && !o->urls_file.empty() && o->rate > 0 && o->seconds > 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  if (!ParseArgs(argc, argv, &opt)) {
    std::fprintf(stderr,
                 "usage: bench_driver --urls FILE --rate R --seconds S [--warmup W] [--pid PID] "
                 "[--expect TEXT] [--max-in-flight M]\n");
    return 2;
  }
  std::vector<std::string> urls;
  {
    std::ifstream in(opt.urls_file);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) urls.push_back(line);
    }
  }
  if (urls.empty()) {
    std::fprintf(stderr, "bench_driver: no URLs in %s\n", opt.urls_file.c_str());
    return 2;
  }

  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURLM* multi = curl_multi_init();
  curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, static_cast<long>(opt.max_in_flight));
  std::vector<Slot> slots(opt.max_in_flight);
  std::vector<Slot*> idle;
  for (auto& s : slots) {
    s.easy = curl_easy_init();
    curl_easy_setopt(s.easy, CURLOPT_WRITEFUNCTION, &OnWrite);
    curl_easy_setopt(s.easy, CURLOPT_WRITEDATA, &s.body);
    curl_easy_setopt(s.easy, CURLOPT_PRIVATE, &s);
    curl_easy_setopt(s.easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(s.easy, CURLOPT_TIMEOUT_MS, 30000L);
    idle.push_back(&s);
  }

  auto start = Clock::now();
  auto window_start = start + std::chrono::duration_cast<Clock::duration>(
                                  std::chrono::duration<double>(opt.warmup));
  auto end = window_start + std::chrono::duration_cast<Clock::duration>(
                                std::chrono::duration<double>(opt.seconds));
  bool in_window = opt.warmup <= 0;
  double cpu_start = in_window && opt.pid > 0 ? CpuSeconds(opt.pid) : 0;
  double cpu_end = 0;
  unsigned long long sent = 0, started_in_window = 0, completed = 0, ok = 0, failed = 0;
  unsigned long long sent_before_window = 0;
  size_t next_url = 0;
  int running = 0;

  // Collects finished transfers and returns their handles to the idle pool.
  auto drain = [&] {
    curl_multi_perform(multi, &running);
    while (CURLMsg* msg = curl_multi_info_read(multi, &running)) {
      if (msg->msg != CURLMSG_DONE) continue;
      Slot* s = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&s));
      long status = 0;
      curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
      bool good = msg->data.result == CURLE_OK && status == 200 &&
                  (opt.expect.empty() || s->body.find(opt.expect) != std::string::npos);
      curl_multi_remove_handle(multi, s->easy);
      if (s->counted) {
        ++completed;
        good ? ++ok : ++failed;
      }
      idle.push_back(s);
    }
  };

  for (;;) {
    auto now = Clock::now();
    if (!in_window && now >= window_start) {
      in_window = true;
      sent_before_window = sent;
      if (opt.pid > 0) cpu_start = CpuSeconds(opt.pid);
    }
    if (now >= end) break;
    double elapsed = std::chrono::duration<double>(now - start).count();
    auto due = static_cast<unsigned long long>(elapsed * opt.rate);
    while (sent < due && !idle.empty()) {
      Slot* s = idle.back();
      idle.pop_back();
      s->body.clear();
      s->counted = in_window;
      curl_easy_setopt(s->easy, CURLOPT_URL, urls[next_url].c_str());
      next_url = (next_url + 1) % urls.size();
      curl_multi_add_handle(multi, s->easy);
      ++sent;
      if (in_window) ++started_in_window;
    }
    drain();
    // Wake at least every millisecond to keep the rate smooth.
    curl_multi_poll(multi, nullptr, 0, 1, nullptr);
  }
  if (opt.pid > 0) cpu_end = CpuSeconds(opt.pid);
  // Let requests of the window finish (they are counted; the CPU they cost after the window is not,
  // which the requests started before the window make up for).
  auto grace = Clock::now() + std::chrono::seconds(10);
  while (idle.size() < slots.size() && Clock::now() < grace) {
    drain();
    curl_multi_poll(multi, nullptr, 0, 10, nullptr);
  }
  std::printf(
      "{\"sent\":%llu,\"started_in_window\":%llu,\"completed\":%llu,\"ok\":%llu,\"failed\":%llu,"
      "\"window_seconds\":%.3f,\"cpu_seconds\":%.3f}\n",
      sent - sent_before_window, started_in_window, completed, ok, failed, opt.seconds,
      opt.pid > 0 ? cpu_end - cpu_start : 0.0);
  for (auto& s : slots) {
    curl_multi_remove_handle(multi, s.easy);
    curl_easy_cleanup(s.easy);
  }
  curl_multi_cleanup(multi);
  curl_global_cleanup();
  return 0;
}
