# Builds the vgpio2mqtt addon (native/build/Release/vgpio_native.node).
# protocol-constants.js turns every object-like macro of kernel/vgpio_shm.h
# into an export line, so the addon exports what the header defines and
# nothing is listed by hand; the values themselves come from the compiler.
{
  "targets": [
    {
      "target_name": "vgpio_native",
      "sources": [
        "src/addon.cc",
        "src/protocol.cc",
        "src/shared_memory.cc",
        "src/fault_guard.cc",
        "src/fd_watcher.cc",
        "src/syscalls.cc",
        "src/util.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "../kernel",
        "<(INTERMEDIATE_DIR)"
      ],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Werror"],
      "actions": [
        {
          "action_name": "protocol_constants",
          "inputs": ["tools/protocol-constants.js", "../kernel/vgpio_shm.h"],
          "outputs": ["<(INTERMEDIATE_DIR)/vgpio_constants.inc"],
          "action": ["node", "tools/protocol-constants.js", "../kernel/vgpio_shm.h", "<(INTERMEDIATE_DIR)/vgpio_constants.inc"]
        }
      ]
    }
  ]
}
