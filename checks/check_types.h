// The built-in check types (checks/check_types.cc), the one list a new type adds its line to.
#pragma once

namespace gatewatch {

// Registers every built-in check type once (idempotent). Adding a type adds one line to
// checks/check_types.cc and nothing else outside its own unit.
void RegisterBuiltinCheckTypes();

}  // namespace gatewatch
