#ifndef VGPIO_NATIVE_PROTOCOL_H
#define VGPIO_NATIVE_PROTOCOL_H
#include <napi.h>
namespace vgpio {
void InitProtocol(Napi::Env env, Napi::Object exports);
}
#endif
