#include "fault_guard.h"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <mutex>

namespace vgpio::fault_guard {

namespace {

// One registered mapping. The handler reads these without a lock (it may
// interrupt anything, including a registration on another thread): base is
// published last on registration (release) and cleared first on removal,
// so a slot whose base is set has its size.
struct Slot {
  std::atomic<uintptr_t> base{0};
  std::atomic<size_t> size{0};
  std::atomic<uint32_t> faults{0};
};

// A bridge maps one region per chip; tests map a few hundred over a run, but never this many at once.
constexpr int kSlots = 1024;
Slot g_slots[kSlots];

// Serialises registrations (worker threads may map too); never taken in the handler.
std::mutex g_register_lock;

std::once_flag g_install_once;
bool g_installed = false;
int g_install_errno = 0;
struct sigaction g_previous;
uintptr_t g_page_mask = 0;

void OnSigbus(int signal_number, siginfo_t* info, void* context) {
  // The interrupted code may be between a system call and its look at errno; mmap and sigaction here must not change it.
  const int saved_errno = errno;
  // si_addr is only meaningful for a fault the kernel raised (not kill -BUS).
  if (info != nullptr && info->si_code > 0) {
    auto address = reinterpret_cast<uintptr_t>(info->si_addr);
    for (Slot& slot : g_slots) {
      uintptr_t base = slot.base.load(std::memory_order_acquire);
      if (base == 0 || address < base || address - base >= slot.size.load(std::memory_order_relaxed)) continue;
      // mmap is a plain system call, safe here: the page now reads zeros and takes writes nobody sees.
      void* page = reinterpret_cast<void*>(address & g_page_mask);
      if (mmap(page, ~g_page_mask + 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) ==
          MAP_FAILED) {
        break;
      }
      slot.faults.fetch_add(1, std::memory_order_relaxed);
      errno = saved_errno;
      return;  // the faulting access runs again, on the zero page
    }
  }
  errno = saved_errno;
  if ((g_previous.sa_flags & SA_SIGINFO) != 0 && g_previous.sa_sigaction != nullptr) {
    g_previous.sa_sigaction(signal_number, info, context);
    return;
  }
  if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN) {
    g_previous.sa_handler(signal_number);
    return;
  }
  // Nobody else handles it: back to the default action, which the access meets again when we return.
  struct sigaction fallback = {};
  fallback.sa_handler = SIG_DFL;
  sigemptyset(&fallback.sa_mask);
  sigaction(SIGBUS, &fallback, nullptr);
  errno = saved_errno;
}

}  // namespace

bool Install() {
  std::call_once(g_install_once, [] {
    g_page_mask = ~(static_cast<uintptr_t>(sysconf(_SC_PAGESIZE)) - 1);
    struct sigaction action = {};
    action.sa_sigaction = OnSigbus;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    g_installed = sigaction(SIGBUS, &action, &g_previous) == 0;
    if (!g_installed) g_install_errno = errno;
  });
  if (!g_installed) errno = g_install_errno;
  return g_installed;
}

int Register(void* base, size_t size) {
  std::lock_guard<std::mutex> hold(g_register_lock);
  for (int i = 0; i < kSlots; i++) {
    Slot& slot = g_slots[i];
    if (slot.base.load(std::memory_order_relaxed) != 0) continue;
    slot.size.store(size, std::memory_order_relaxed);
    slot.faults.store(0, std::memory_order_relaxed);
    slot.base.store(reinterpret_cast<uintptr_t>(base), std::memory_order_release);
    return i;
  }
  return -1;
}

void Unregister(int slot) {
  if (slot < 0 || slot >= kSlots) return;
  std::lock_guard<std::mutex> hold(g_register_lock);
  g_slots[slot].base.store(0, std::memory_order_release);
}

uint32_t* FaultCounter(int slot) {
  if (slot < 0 || slot >= kSlots) return nullptr;
  static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t) && std::atomic<uint32_t>::is_always_lock_free,
                "the fault count must be a plain 32-bit word for JavaScript's Atomics");
  return reinterpret_cast<uint32_t*>(&g_slots[slot].faults);
}

}  // namespace vgpio::fault_guard
