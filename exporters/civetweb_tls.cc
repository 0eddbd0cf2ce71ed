#include "exporters/civetweb_tls.h"

#include <dlfcn.h>
#include <link.h>

#include <cstdint>
#include <cstring>
#include <mutex>
#include <string_view>
#include <vector>

namespace gatewatch {
namespace {

constexpr char kMissing[] = "SSL_get_peer_certificate";

using GetPeer = void* (*)(const void*);
GetPeer g_get1_peer = nullptr;

// What civetweb calls in place of the missing function.
extern "C" void* GatewatchGetPeerCertificate(const void* ssl) {
  return g_get1_peer != nullptr ? g_get1_peer(ssl) : nullptr;
}

struct Segment {
  uintptr_t begin, end;
  bool writable;
};

int CollectCivetweb(dl_phdr_info* info, size_t, void* data) {
  // libcivetweb.so.N, not libcivetweb-cpp.so (the C++ wrapper).
  if (info->dlpi_name == nullptr || std::strstr(info->dlpi_name, "/libcivetweb.so") == nullptr) {
    return 0;
  }
  auto* out = static_cast<std::vector<Segment>*>(data);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD) continue;
    uintptr_t begin = info->dlpi_addr + ph.p_vaddr;
    out->push_back({begin, begin + ph.p_memsz, (ph.p_flags & PF_W) != 0});
  }
  return 1;
}

bool Repair(std::string* error) {
  void* ssl = dlopen("libssl.so", RTLD_NOW | RTLD_NOLOAD);
  if (ssl == nullptr) {
    *error = "civetweb has not loaded libssl.so (is libssl-dev, or its libssl.so link, installed?)";
    return false;
  }
  bool exported = dlsym(ssl, kMissing) != nullptr;
  g_get1_peer = reinterpret_cast<GetPeer>(dlsym(ssl, "SSL_get1_peer_certificate"));
  dlclose(ssl);  // civetweb holds its own reference
  if (exported) return true;
  if (g_get1_peer == nullptr) {
    *error = "libssl.so exports neither SSL_get_peer_certificate nor SSL_get1_peer_certificate";
    return false;
  }
  std::vector<Segment> segments;
  dl_iterate_phdr(CollectCivetweb, &segments);
  // Where the name's text lies in civetweb's read-only data...
  std::vector<uintptr_t> names;
  std::string_view needle(kMissing, sizeof kMissing);  // with its NUL
  for (const auto& s : segments) {
    if (s.writable) continue;
    std::string_view text(reinterpret_cast<const char*>(s.begin), s.end - s.begin);
    for (size_t at = text.find(needle); at != std::string_view::npos;
         at = text.find(needle, at + 1)) {
      names.push_back(s.begin + at);
    }
  }
  // ...and the table entry that points at it with a null function. Its layout differs between
  // civetweb versions ({name, function} or {name, category, function}): the stride is the one at
  // which the next entry's name is again a pointer into civetweb's read-only data.
  auto is_text = [&](uintptr_t v) {
    for (const auto& s : segments) {
      if (!s.writable && v >= s.begin && v < s.end) return true;
    }
    return false;
  };
  for (const auto& s : segments) {
    if (!s.writable) continue;
    uintptr_t first = (s.begin + alignof(uintptr_t) - 1) & ~(alignof(uintptr_t) - 1);
    for (uintptr_t p = first; p + 4 * sizeof(uintptr_t) <= s.end; p += sizeof(uintptr_t)) {
      auto* slot = reinterpret_cast<uintptr_t*>(p);
      bool named = false;
      for (uintptr_t name : names) named = named || slot[0] == name;
      if (!named) continue;
      // The next entry's name: text, or null at the end of the table.
      auto next_name = [&](size_t stride) { return slot[stride] == 0 || is_text(slot[stride]); };
      uintptr_t* fn = nullptr;
      if (slot[1] <= 16 && slot[2] == 0 && next_name(3)) {
        fn = &slot[2];  // {name, category, function} (1.15)
      } else if (slot[1] == 0 && next_name(2)) {
        fn = &slot[1];  // {name, function}
      }
      if (fn != nullptr) {
        *fn = reinterpret_cast<uintptr_t>(&GatewatchGetPeerCertificate);
        return true;
      }
    }
  }
  *error = "civetweb's OpenSSL table has no null SSL_get_peer_certificate entry to repair";
  return false;
}

}  // namespace

bool RepairCivetwebTls(std::string* error) {
  static std::once_flag once;
  static bool ok = false;
  static std::string saved;
  std::call_once(once, [] { ok = Repair(&saved); });
  if (!ok) *error = saved;
  return ok;
}

}  // namespace gatewatch
