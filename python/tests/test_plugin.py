"""The pytest plugin: its fixtures in this session, and whole pytest runs
(pytester) for the option, the failure messages and the per-test cleanup."""

from __future__ import annotations

import pytest
from fake_bridge import REPO, FakeBridge

import vgpio2mqtt
from vgpio2mqtt import Client, Line
from vgpio2mqtt.pytest_plugin import LineFactory, assert_edge, assert_level


def test_vgpio_is_a_connected_client(vgpio: Client) -> None:
    assert [c.name for c in vgpio.chips()] == ["board", "spare"]


def test_vgpio_line_factory(vgpio_line: LineFactory) -> None:
    button = vgpio_line("board", "button")
    assert isinstance(button, Line) and button.label == "board/button"
    with pytest.raises(vgpio2mqtt.UnknownLine):
        vgpio_line("board", "nope")


@pytest.mark.parametrize("vgpio_line", ["board/reset", "board/0"], indirect=True)
def test_vgpio_line_indirect(vgpio_line: Line) -> None:
    assert vgpio_line.label in ("board/reset", "board/button")
    assert vgpio_line.level() is False


def test_assert_helpers_pass(vgpio_line: LineFactory, fake_bridge: FakeBridge) -> None:
    led = vgpio_line("board", "led")
    assert_level(led, False, within=0.2)
    with led.edges(timeout=3.0) as edges:
        fake_bridge.guest("out 1 1")
        fake_bridge.guest("out 1 0")
        assert edges.expect("rising", source="guest").edge == "rising"
    assert_level(led, False)


@pytest.fixture(autouse=True)
def _package_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The inner pytest runs in a temporary folder: give it this package by absolute path (installed or not)."""
    monkeypatch.setenv("PYTHONPATH", str(REPO / "python" / "src"))


INNER = """
import threading
from vgpio2mqtt.pytest_plugin import assert_edge, assert_level

def test_drives(vgpio_line):
    vgpio_line("board", "button").set(True)
    vgpio_line("board", "reset").toggle()
    assert vgpio_line("board", "button").level() is True

def test_led_on(vgpio_line):
    assert_level(vgpio_line("board", "led"), True, within=0.2)

def test_led_edge(vgpio_line):
    assert_edge(vgpio_line("board", "led"), "rising", within=0.2, source="guest")
"""


def test_a_pytest_run_restores_lines_and_explains_failures(pytester: pytest.Pytester, fake_bridge: FakeBridge, vgpio: Client) -> None:
    pytester.makepyfile(test_inner=INNER)
    result = pytester.runpytest_subprocess("-p", "vgpio2mqtt.pytest_plugin", "--vgpio-url", fake_bridge.login_url)
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*ExpectationFailed: expected board/led ON (rising) within 200 ms; saw none; level OFF since before *(no edge since then)",
            "*ExpectationFailed: expected board/led rising from the guest within 200 ms; saw none; level OFF since before *",
        ]
    )
    board = vgpio.chip("board")
    assert board.line("button").level() is False, "the inner test's button went back to OFF"
    assert board.line("reset").level() is False, "the inner test's toggle was undone"


def test_the_url_comes_from_the_environment(pytester: pytest.Pytester, fake_bridge: FakeBridge, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_env="def test_env(vgpio):\n    assert vgpio.chip('board').name == 'board'\n")
    monkeypatch.setenv("VGPIO2MQTT_URL", fake_bridge.login_url)
    pytester.runpytest_subprocess("-p", "vgpio2mqtt.pytest_plugin").assert_outcomes(passed=1)


def test_no_url_fails_the_test_saying_how_to_give_one(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_none="def test_none(vgpio):\n    pass\n")
    monkeypatch.delenv("VGPIO2MQTT_URL", raising=False)
    result = pytester.runpytest_subprocess("-p", "vgpio2mqtt.pytest_plugin")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*vgpio2mqtt: no broker URL; pass --vgpio-url mqtt://host:port or set VGPIO2MQTT_URL*"])


def test_assert_edge_is_reexported_for_tests(vgpio_line: LineFactory) -> None:
    with pytest.raises(AssertionError, match="expected board/button falling within 100 ms"):
        assert_edge(vgpio_line("board", "button"), "falling", within=0.1)
