// The protocol half of the addon: every constant of kernel/vgpio_shm.h (the
// list is generated from the header at build time, see binding.gyp) and the
// header's own layout functions, so TypeScript never re-derives either.
#include "protocol.h"

#include "util.h"
#include "vgpio_shm.h"

namespace vgpio {

namespace {

Napi::Object LayoutToObject(Napi::Env env, const struct vgpio_shm_layout& l) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("ngpio", l.ngpio);
  o.Set("namesOff", l.names_off);
  o.Set("bankOff", l.bank_off);
  o.Set("ringOff", l.ring_off);
  o.Set("ringLen", l.ring_len);
  o.Set("end", l.end);
  return o;
}

__u32 LayoutField(Napi::Env env, Napi::Object o, const char* name) {
  Napi::Value v = o.Get(name);
  if (!v.IsNumber()) throw Napi::TypeError::New(env, std::string("layout.") + name + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= 4294967295.0) || static_cast<double>(static_cast<__u32>(d)) != d) {
    throw Napi::RangeError::New(env, std::string("layout.") + name + " must be a 32-bit unsigned integer");
  }
  return static_cast<__u32>(d);
}

// defaultLayout(ngpio, ringLen): vgpio_shm_default_layout(). The inputs are
// checked here because the C function assumes valid ones (it would overflow).
Napi::Value DefaultLayout(const Napi::CallbackInfo& info) {
  auto ngpio = static_cast<__u32>(IntegerArg(info, 0, "ngpio", VGPIO_NGPIO_MIN, VGPIO_NGPIO_MAX));
  auto ring_len = static_cast<__u32>(IntegerArg(info, 1, "ringLen", 0, VGPIO_RING_LEN_MAX));
  return LayoutToObject(info.Env(), vgpio_shm_default_layout(ngpio, ring_len));
}

// checkLayout(layout, size, hasNames, hasRing): vgpio_shm_check_layout().
Napi::Value CheckLayout(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "layout must be an object");
  Napi::Object o = info[0].As<Napi::Object>();
  struct vgpio_shm_layout l;
  l.ngpio = LayoutField(env, o, "ngpio");
  l.names_off = LayoutField(env, o, "namesOff");
  l.bank_off = LayoutField(env, o, "bankOff");
  l.ring_off = LayoutField(env, o, "ringOff");
  l.ring_len = LayoutField(env, o, "ringLen");
  l.end = LayoutField(env, o, "end");
  auto size = static_cast<__u64>(IntegerArg(info, 1, "size", 0, 9007199254740991.0));
  bool has_names = info.Length() > 2 && info[2].ToBoolean();
  bool has_ring = info.Length() > 3 && info[3].ToBoolean();
  return Napi::Number::New(env, vgpio_shm_check_layout(&l, size, has_names, has_ring));
}

// doorbellValue(peer, vector): VGPIO_DOORBELL_VALUE(), what a peer writes to
// BAR0's Doorbell register to ring `vector` of `peer`.
Napi::Value DoorbellValue(const Napi::CallbackInfo& info) {
  auto peer = static_cast<__u32>(IntegerArg(info, 0, "peer", 0, 0xffff));
  auto vector = static_cast<__u32>(IntegerArg(info, 1, "vector", 0, 0xffff));
  return Napi::Number::New(info.Env(), VGPIO_DOORBELL_VALUE(peer, vector));
}

}  // namespace

void InitProtocol(Napi::Env env, Napi::Object exports) {
  Napi::Object constants = Napi::Object::New(env);
#define VGPIO_CONSTANT(name) constants.Set(#name, Napi::Number::New(env, static_cast<double>(VGPIO_##name)));
#include "vgpio_constants.inc"
#undef VGPIO_CONSTANT
  constants.Freeze();
  exports.Set("protocol", constants);
  exports.Set("defaultLayout", Napi::Function::New(env, DefaultLayout, "defaultLayout"));
  exports.Set("checkLayout", Napi::Function::New(env, CheckLayout, "checkLayout"));
  exports.Set("doorbellValue", Napi::Function::New(env, DoorbellValue, "doorbellValue"));
}

}  // namespace vgpio
