// Keeps an access past the end of a truncated shared-memory file from
// killing the process. A MAP_SHARED mapping outlives a truncation of its
// file, and touching a page that is no longer backed raises SIGBUS, which
// another process (or user) can cause at any moment by truncating the
// file; checking the size first only narrows that window. So the addon
// handles SIGBUS for the mappings it registered: the faulting page is
// replaced by a private zero page, the access is retried there, and the
// mapping's fault count says it happened. Faults outside every registered
// mapping go to the handler that was there before, or kill the process as
// they would have.
#ifndef VGPIO_NATIVE_FAULT_GUARD_H
#define VGPIO_NATIVE_FAULT_GUARD_H

#include <cstddef>
#include <cstdint>

namespace vgpio::fault_guard {

// Installs the SIGBUS handler (once per process). False, with errno, if sigaction failed.
bool Install();

// Guards [base, base + size); returns the guard's slot, or -1 if every slot is taken (the mapping is then
// unguarded, as before this existed). Call Unregister before unmapping.
int Register(void* base, size_t size);
void Unregister(int slot);

// The slot's fault count: how many accesses to its range met an unbacked page since it was registered. A 32-bit
// word the handler increments atomically, for JavaScript to read with Atomics; nullptr for -1. Valid until
// Unregister.
uint32_t* FaultCounter(int slot);

}  // namespace vgpio::fault_guard

#endif
