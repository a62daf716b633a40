#ifndef VGPIO_NATIVE_SYSCALLS_H
#define VGPIO_NATIVE_SYSCALLS_H
#include <napi.h>
namespace vgpio {
// eventfd, unix-socket and SCM_RIGHTS wrappers; see syscalls.cc.
void InitSyscalls(Napi::Env env, Napi::Object exports);
}
#endif
