"""Starts what examples/labgrid/env.yaml needs before labgrid reads it: a
vgpio2mqtt bridge (``node dist/bridge/cli.js start``, a child process with
a server-mode chip `board` in a temporary runtime folder) and the guest's
kernel and initramfs (testkit/labgrid-guest-main.ts). Sets LG_VGPIO_URL,
LG_VGPIO_KERNEL and LG_VGPIO_QEMU_ARGS for the environment file, unless
LG_VGPIO_URL is set already (a bridge of your own: then set all three).

labgrid's own pytest_configure runs last (trylast), so this one runs first.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Optional

import pytest

import vgpio2mqtt

REPO = Path(__file__).resolve().parents[2]
CLI = [str(REPO / "node_modules/.bin/tsx"), str(REPO / "bridge/cli.ts")] if not (REPO / "dist/bridge/cli.js").exists() else ["node", str(REPO / "dist/bridge/cli.js")]


def _run(args: list[str]) -> str:
    done = subprocess.run(args, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return done.stdout


class Harness:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="vgpio-labgrid-", dir="/dev/shm"))
        os.chmod(self.dir, 0o700)
        self.bridge: Optional["subprocess.Popen[bytes]"] = None

    def start(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        config = self.dir / "config.yaml"
        config.write_text(
            f"""broker: {{ host: 127.0.0.1, port: {port} }}
metrics: {{ port: null }}
web: {{ enabled: false }}
homeassistant: {{ enabled: false }}
chips:
  - name: board
    socket: {self.dir}/board.sock
    shm: {self.dir}/board.shm
    ngpio: 8
    lines:
      - {{ line: 0, name: button }}
      - {{ line: 1, name: led, direction: output }}
"""
        )
        guest = json.loads(_run(["node", "--import", "tsx", "testkit/labgrid-guest-main.ts", str(self.dir / "guest"), "board"]))
        self.bridge = subprocess.Popen([*CLI, "start", "-c", str(config), "--log-level", "warn"], cwd=REPO)
        url = f"mqtt://127.0.0.1:{port}"
        self._until_bridge(url)
        qemu_args = _run([*CLI, "qemu-args", "board", "-c", str(config)]).strip()
        os.environ["LG_VGPIO_URL"] = url
        os.environ["LG_VGPIO_KERNEL"] = guest["kernel"]
        os.environ["LG_VGPIO_QEMU_ARGS"] = f"-initrd {guest['initrd']} {qemu_args}"

    def _until_bridge(self, url: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with vgpio2mqtt.connect(url, timeout=1.0) as client:
                    client.chip("board")
                    return
            except vgpio2mqtt.VgpioError:
                if time.monotonic() > deadline or (self.bridge is not None and self.bridge.poll() is not None):
                    raise
                time.sleep(0.2)

    def stop(self) -> None:
        if self.bridge is not None:
            self.bridge.send_signal(signal.SIGTERM)
            self.bridge.wait(15)
        # The chip's ivshmem server outlives the bridge (for its guests): stop it too, by its pid file.
        pid_file = self.dir / "board.sock.pid"
        if pid_file.exists():
            os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
        shutil.rmtree(self.dir, ignore_errors=True)


_harness: Optional[Harness] = None


def pytest_configure(config: pytest.Config) -> None:
    global _harness
    if config.getoption("lg_env", None) is None or "LG_VGPIO_URL" in os.environ:
        return
    _harness = Harness()
    try:
        _harness.start()
    except BaseException:
        _harness.stop()
        raise


def pytest_unconfigure(config: pytest.Config) -> None:
    if _harness is not None:
        _harness.stop()
