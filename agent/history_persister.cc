#include "agent/history_persister.h"

#include <cerrno>
#include <utility>

#include "agent/base/logging.h"
#include "agent/io/atomic_file.h"
#include "exporters/history_file.h"

namespace gatewatch {

HistoryPersister::HistoryPersister(HistoryStore& store, std::string dir,
                                   std::chrono::milliseconds interval)
    : store_(store), dir_(std::move(dir)), file_(dir_ + "/history.bin"), interval_(interval) {}

HistoryPersister::~HistoryPersister() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool HistoryPersister::Prepare() {
  auto ok = EnsureDirectory(dir_);
  if (!ok) {
    Log(LogLevel::kError, "--storage.path cannot be used", {{"error", ok.error().message}});
    return false;
  }
  return true;
}

std::vector<CheckHistory> HistoryPersister::Load() {
  auto bytes = ReadFileBounded(file_, kMaxHistoryFileBytes);
  if (!bytes) {
    if (bytes.error().code == ENOENT) {
      Log(LogLevel::kInfo, "no saved history: starting empty", {{"file", file_}});
    } else {
      Log(LogLevel::kWarn, "saved history not read: starting empty",
          {{"file", file_}, {"error", bytes.error().message}});
    }
    return {};
  }
  auto checks = DecodeHistoryFile(*bytes);
  if (!checks) {
    Log(LogLevel::kWarn, "saved history ignored: starting empty",
        {{"file", file_}, {"error", checks.error().message}});
    return {};
  }
  Log(LogLevel::kInfo, "saved history loaded",
      {{"file", file_}, {"checks", std::to_string(checks->size())}});
  return std::move(*checks);
}

void HistoryPersister::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void HistoryPersister::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  SaveNow();
}

void HistoryPersister::Loop() {
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, interval_, [this] { return stop_; })) {
    lock.unlock();
    SaveNow();
    lock.lock();
  }
}

bool HistoryPersister::SaveNow() {
  const uint64_t generation = store_.generation();
  if (generation == saved_generation_) return true;
  HistoryFileEncoder encoder;
  size_t left_out = 0;
  for (const std::string& name : store_.Names()) {
    auto h = store_.Snapshot(name);  // gone if a reload removed it meanwhile
    if (h && !encoder.Add(*h)) ++left_out;
  }
  if (left_out > 0) {
    Log(LogLevel::kWarn, "history file at its size limit: some checks not saved",
        {{"file", file_}, {"not_saved", std::to_string(left_out)}});
  }
  size_t checks = encoder.checks();
  std::string bytes = encoder.Finish();
  auto written = WriteFileAtomically(file_, bytes);
  if (!written) {
    Log(LogLevel::kWarn, "history not saved", {{"error", written.error().message}});
    return false;
  }
  saved_generation_ = generation;
  Log(LogLevel::kDebug, "history saved",
      {{"file", file_},
       {"checks", std::to_string(checks)},
       {"bytes", std::to_string(bytes.size())}});
  return true;
}

}  // namespace gatewatch
