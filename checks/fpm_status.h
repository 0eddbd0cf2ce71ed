// php-fpm's pool status page (pm.status_path, query `json`): the figures of one pool, parsed from
// the reply body, and the judgement of those figures against a fastcgi check's thresholds. Pure
// (no I/O), table-tested in tests/unit/fpm_status_test.cc.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "checks/api/reason.h"

namespace gatewatch {

// One pool's figures as php-fpm 8.2 reports them (`pool`, `process manager` and the counters;
// other keys, e.g. `start time`, are ignored). Counters are php-fpm's own since its start.
struct FpmPoolStatus {
  std::string pool;             // at most 256 bytes kept, printable ASCII (else ?)
  std::string process_manager;  // static | dynamic | ondemand
  int64_t accepted_conn = 0;
  int64_t listen_queue = 0;      // connections waiting in the socket's backlog now
  int64_t max_listen_queue = 0;  // the most ever waiting
  int64_t listen_queue_len = 0;  // the backlog's size (0 where php-fpm cannot read it)
  int64_t idle_processes = 0;
  int64_t active_processes = 0;  // includes the child answering the status request
  int64_t total_processes = 0;
  int64_t max_active_processes = 0;
  int64_t max_children_reached = 0;
  int64_t slow_requests = 0;
};

// Parses the JSON body of `pm.status_path?json`. nullopt with *error (which key, what is wrong)
// if it is not a JSON object, is larger than 64 KiB, or a counter is missing, not an integer or
// negative.
std::optional<FpmPoolStatus> ParseFpmStatusJson(std::string_view body, std::string* error);

struct FpmThresholds {
  std::optional<int64_t> max_listen_queue;   // fail when more connections wait
  bool fail_on_max_children_reached = true;  // fail when the counter grew since the last run
};

struct FpmVerdict {
  Reason reason = Reason::kNone;
  std::string detail;  // why, with the figures; empty on kNone
};

// Judges `now` against `limits`; `previous_max_children_reached` is the counter of the last run
// that read the status of the same pool (nullopt: none, or php-fpm restarted since: the counter
// went down). A full listen queue (the backlog's size reached, or more waiting than
// max_listen_queue) is listen_queue_full; max children reached grown is pool_saturated.
FpmVerdict JudgeFpmStatus(const FpmPoolStatus& now, const FpmThresholds& limits,
                          std::optional<int64_t> previous_max_children_reached);

}  // namespace gatewatch
