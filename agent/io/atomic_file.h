// Whole-file reads and writes for state the agent keeps on a volume (--storage.path). Both block:
// call them from a thread of your own or before the loop runs, never on the loop.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "agent/base/expected.h"

namespace gatewatch {

// Replaces `path` with `data` so that a reader (or the next start after a crash or power loss)
// sees either the old file or the new one whole: writes `path`.tmp in the same folder, fsyncs
// it, renames it over `path` and fsyncs the folder. The temporary file is removed on failure.
Expected<void> WriteFileAtomically(const std::string& path, std::string_view data);

// The contents of the regular file `path`, if it is at most `max_bytes` long. A missing file is
// an Error with code ENOENT.
Expected<std::string> ReadFileBounded(const std::string& path, size_t max_bytes);

// Creates the folder `path` if it does not exist (not its parents). Error if it cannot, or if
// `path` is not a folder.
Expected<void> EnsureDirectory(const std::string& path);

}  // namespace gatewatch
