"""pytest plugin for this package's own tests (load with ``-p fake_bridge``,
python/tests on PYTHONPATH): one bridge with a fake guest for the session,
testkit/fake-guest-main.ts run by Node, and the plugin's ``vgpio_url``
pointed at it. ``fake_bridge.guest("out 1 1")`` makes the fake guest act."""

from __future__ import annotations

import json
import os
import select
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator

import pytest

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0


@dataclass
class FakeBridge:
    url: str
    username: str
    password: str
    base_topic: str
    process: "subprocess.Popen[str]"

    @property
    def login_url(self) -> str:
        return self.url.replace("mqtt://", f"mqtt://{self.username}:{self.password}@")

    def guest(self, command: str, timeout: float = 30.0) -> None:
        """Sends one command to the fake guest and waits for its `ok`."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        answer = _read_line(self.process.stdout, timeout)
        if answer != "ok":
            raise RuntimeError(f"fake guest: {command!r} answered {answer!r}")


def _read_line(stream: IO[str], timeout: float) -> str:
    ready, _, _ = select.select([stream], [], [], timeout)
    if not ready:
        raise RuntimeError(f"fake guest: no answer within {timeout:g} s")
    return stream.readline().strip()


@pytest.fixture(scope="session")
def fake_bridge() -> Iterator[FakeBridge]:
    process = subprocess.Popen(
        ["node", "--import", "tsx", "testkit/fake-guest-main.ts"],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "NODE_NO_WARNINGS": "1"},
    )
    try:
        assert process.stdout is not None
        started = json.loads(_read_line(process.stdout, START_TIMEOUT))
        yield FakeBridge(started["url"], started["username"], started["password"], started["base_topic"], process)
    finally:
        if process.stdin is not None:
            process.stdin.close()  # the launcher stops its bridge and exits at end of input
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def vgpio_url(fake_bridge: FakeBridge) -> str:
    return fake_bridge.login_url
