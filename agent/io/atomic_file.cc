#include "agent/io/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "agent/base/fd.h"

namespace gatewatch {
namespace {

std::string Folder(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

Expected<void> WriteFileAtomically(const std::string& path, std::string_view data) {
  const std::string tmp = path + ".tmp";
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd.valid()) return ErrnoError("open " + tmp);
  auto fail = [&](const std::string& what) {
    Error e = ErrnoError(what + " " + tmp);
    ::unlink(tmp.c_str());
    return e;
  };
  for (size_t done = 0; done < data.size();) {
    ssize_t n = ::write(fd.get(), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail("write");
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) return fail("fsync");
  if (::close(fd.release()) != 0) return fail("close");
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail("rename to " + path + " from");
  // The rename itself is durable only once the folder is.
  UniqueFd dir(::open(Folder(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.valid()) ::fsync(dir.get());
  return {};
}

Expected<std::string> ReadFileBounded(const std::string& path, size_t max_bytes) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd.valid()) return ErrnoError("open " + path);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoError("stat " + path);
  if (!S_ISREG(st.st_mode)) return Error{path + " is not a regular file", EINVAL};
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    return Error{path + " is " + std::to_string(st.st_size) + " bytes, over the limit of " +
                     std::to_string(max_bytes),
                 EFBIG};
  }
  std::string out;
  out.reserve(static_cast<size_t>(st.st_size));
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("read " + path);
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > max_bytes) {  // grew while read
      return Error{path + " is over the limit of " + std::to_string(max_bytes) + " bytes", EFBIG};
    }
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

Expected<void> EnsureDirectory(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) return ErrnoError("mkdir " + path);
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoError("stat " + path);
  if (!S_ISDIR(st.st_mode)) return Error{path + " is not a folder", ENOTDIR};
  return {};
}

}  // namespace gatewatch
