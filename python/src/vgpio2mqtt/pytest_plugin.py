"""pytest plugin: a connected client per test, lines by name, assertions that
say what was expected and what was seen, and per-test cleanup (every line a
test drove goes back to the level it had before the test's first command).

Installed, it loads by itself (entry point ``pytest11``); else load it with
``-p vgpio2mqtt.pytest_plugin``. The broker comes from ``--vgpio-url`` or
``VGPIO2MQTT_URL`` (``mqtt://user:password@host:port`` carries a login),
the base topic from ``--vgpio-base-topic`` or ``VGPIO2MQTT_BASE_TOPIC``.

    def test_button_lights_led(vgpio_line):
        vgpio_line("vgpio0", "button").pulse(100)
        assert_level(vgpio_line("vgpio0", "led"), True, within=2.0)

``vgpio_line`` is a factory, or with ``@pytest.mark.parametrize("vgpio_line",
["vgpio0/button"], indirect=True)`` the line itself.
"""

from __future__ import annotations

import os
from typing import Callable, Iterator, Optional, Union

import pytest

from .client import Client, EdgeKind, Level, Line, Source, connect
from .measure import Edge

LineFactory = Callable[[str, Union[str, int]], Line]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("vgpio2mqtt", "vgpio2mqtt: GPIO lines of QEMU guests over MQTT")
    group.addoption("--vgpio-url", default=None, help="MQTT broker of the vgpio2mqtt bridge (default: $VGPIO2MQTT_URL)")
    group.addoption("--vgpio-base-topic", default=None, help="the bridge's base_topic (default: $VGPIO2MQTT_BASE_TOPIC or vgpio2mqtt)")


@pytest.fixture(scope="session")
def vgpio_url(pytestconfig: pytest.Config) -> str:
    """The broker URL; override this fixture to point the plugin elsewhere."""
    url: Optional[str] = pytestconfig.getoption("--vgpio-url") or os.environ.get("VGPIO2MQTT_URL")
    if not url:
        pytest.fail("vgpio2mqtt: no broker URL; pass --vgpio-url mqtt://host:port or set VGPIO2MQTT_URL", pytrace=False)
    return url


@pytest.fixture(scope="session")
def vgpio_base_topic(pytestconfig: pytest.Config) -> str:
    base: Optional[str] = pytestconfig.getoption("--vgpio-base-topic") or os.environ.get("VGPIO2MQTT_BASE_TOPIC")
    return base or "vgpio2mqtt"


@pytest.fixture
def vgpio(vgpio_url: str, vgpio_base_topic: str) -> Iterator[Client]:
    """A client connected for this test; lines it drove go back to their start level afterwards."""
    with connect(vgpio_url, base_topic=vgpio_base_topic) as client:
        yield client
        client.restore()


@pytest.fixture
def vgpio_line(request: pytest.FixtureRequest, vgpio: Client) -> Union[Line, LineFactory]:
    """``vgpio_line(chip, line)``; or, parametrized indirectly with "chip/line", that line."""
    param: Optional[str] = getattr(request, "param", None)
    if param is not None:
        chip, _, line = str(param).partition("/")
        return vgpio.chip(chip).line(line)
    return lambda chip, line: vgpio.chip(chip).line(line)


def assert_level(line: Line, level: Level, within: float = 1.0) -> None:
    """Fails the test ("expected board/led ON within 200 ms; saw none; level OFF since ...") unless the level comes."""
    __tracebackhide__ = True
    line.expect_level(level, within=within)


def assert_edge(line: Line, edge: EdgeKind = "any", within: float = 1.0, source: Source = "any") -> Edge:
    """Fails the test unless such an edge comes within `within` s; returns it."""
    __tracebackhide__ = True
    return line.expect_edge(edge, within=within, source=source)
