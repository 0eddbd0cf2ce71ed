// A CheckRun that calls its done callback at most once. Finish() moves the callback out before
// calling it, because the callee may destroy this run: nothing may touch `this` after Finish().
#pragma once

#include <utility>

#include "checks/api/check.h"

namespace gatewatch {

class CheckRunBase : public CheckRun {
 protected:
  explicit CheckRunBase(DoneCallback done) : done_(std::move(done)) {}
  // Calls done(result) once; later calls do nothing. `this` may be gone when it returns.
  void Finish(Result result) {
    if (!done_) return;
    DoneCallback done = std::move(done_);
    done_ = nullptr;
    done(std::move(result));
  }
  bool finished() const { return !done_; }

 private:
  DoneCallback done_;
};

}  // namespace gatewatch
