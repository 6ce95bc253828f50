#pragma once

// A fuzz target's assertion: a failed one traps, which libFuzzer reports
// as a crash and keeps the input of.
#define CHECK(cond)     \
  do {                  \
    if (!(cond))        \
      __builtin_trap(); \
  } while (false)
