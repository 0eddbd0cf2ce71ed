// --storage.path: keeps the history (exporters/history.h) in DIR/history.bin across restarts.
//
// Load() reads it once at start, before the loop runs: a missing file is a first start; a corrupt,
// truncated, foreign or newer file is logged and ignored (the history starts empty), never fatal.
// Start() then saves every `interval` on a thread of its own, which copies the store one check at
// a time (HistoryStore's lock is held for one check's copy, so the loop, which writes the store,
// is never held up by the encoding or the disk) and replaces the file atomically
// (agent/io/atomic_file.h). Stop() ends that thread and saves once more (the clean shutdown).
//
// Thread-safety: Load, Start and Stop from one thread (the agent's main thread); the store must
// outlive the persister.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "exporters/history.h"

namespace gatewatch {

class HistoryPersister {
 public:
  HistoryPersister(HistoryStore& store, std::string dir,
                   std::chrono::milliseconds interval = std::chrono::seconds(60));
  ~HistoryPersister();  // Stop() without the last save if it was not called
  HistoryPersister(const HistoryPersister&) = delete;
  HistoryPersister& operator=(const HistoryPersister&) = delete;

  const std::string& file() const { return file_; }

  // Creates DIR if needed. False (logged) if DIR cannot be used: the agent refuses to start.
  bool Prepare();
  // The saved checks, or none (logged why). Hand them to HistoryStore::Restore.
  std::vector<CheckHistory> Load();
  void Start();
  void Stop();
  // Saves now (on the calling thread) unless nothing changed since the last save.
  bool SaveNow();

 private:
  void Loop();

  HistoryStore& store_;
  std::string dir_;
  std::string file_;
  std::chrono::milliseconds interval_;
  uint64_t saved_generation_ = UINT64_MAX;  // the store's generation() at the last save
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace gatewatch
