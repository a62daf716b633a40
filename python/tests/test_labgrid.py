"""The labgrid resource and drivers, loaded the way users load them (an
environment file's `imports:`), against the bridge with a fake guest."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Iterator

import pytest
from fake_bridge import FakeBridge
from labgrid import Environment
from labgrid.protocol import DigitalOutputProtocol

import vgpio2mqtt

ENV = """
imports:
  - vgpio2mqtt.labgrid
targets:
  main:
    resources:
      - VgpioLine: {{name: button, url: "{url}", chip: board, line: button}}
      - VgpioLine: {{name: reset, url: "{url}", chip: board, line: 2}}
      - VgpioLine: {{name: led, url: "{url}", chip: board, line: led}}
      - VgpioLine: {{name: nope, url: "{url}", chip: board, line: nope}}
    drivers:
      - VgpioDigitalOutputDriver: {{name: button, bindings: {{vgpio: button}}}}
      - VgpioDigitalOutputDriver: {{name: reset, bindings: {{vgpio: reset}}, invert: true}}
      - VgpioDigitalInputDriver: {{name: led, bindings: {{vgpio: led}}}}
      - VgpioDigitalInputDriver: {{name: nope, bindings: {{vgpio: nope}}}}
"""


@pytest.fixture
def target(fake_bridge: FakeBridge, tmp_path: Path) -> Iterator[Any]:
    env_file = tmp_path / "env.yaml"
    env_file.write_text(ENV.format(url=fake_bridge.login_url))
    env = Environment(str(env_file))
    target = env.get_target("main")
    yield target
    target.deactivate_all_drivers()
    env.cleanup()


def test_output_driver_sets_gets_and_presses(target: Any, vgpio: vgpio2mqtt.Client) -> None:
    button = target.get_driver("VgpioDigitalOutputDriver", name="button")
    assert isinstance(button, DigitalOutputProtocol)
    target.activate(button)
    button.set(True)
    assert button.get() is True and vgpio.chip("board").line("button").level() is True
    button.set(False)
    assert button.get() is False
    with vgpio.chip("board").line("button").edges(timeout=3.0) as edges:
        button.press(80)
        assert button.get() is False, "press() returns after the release"
        assert edges.expect("rising").source == "host"
        assert edges.expect("falling").source == "host"


def test_invert_flips_both_ways(target: Any, vgpio: vgpio2mqtt.Client) -> None:
    reset = target.get_driver("VgpioDigitalOutputDriver", name="reset")
    target.activate(reset)
    line = vgpio.chip("board").line("reset")
    reset.set(False)  # active-low: False drives the wire high
    assert line.level() is True and reset.get() is False
    reset.set(True)
    assert line.level() is False and reset.get() is True


def test_input_driver_reads_and_waits_for_the_guest(target: Any, fake_bridge: FakeBridge) -> None:
    led = target.get_driver("VgpioDigitalInputDriver", name="led")
    target.activate(led)
    assert led.get() is False
    later = threading.Timer(0.2, fake_bridge.guest, ("out 1 1",))
    later.start()
    led.wait_for(True, timeout=5.0)
    later.join()
    assert led.get() is True
    later = threading.Timer(0.2, fake_bridge.guest, ("out 1 0",))
    later.start()
    edge = led.wait_for_edge("falling", timeout=5.0)
    later.join()
    assert edge.edge == "falling" and edge.guest_ns is not None
    with pytest.raises(vgpio2mqtt.ExpectationFailed, match="expected board/led ON \\(rising\\) within 300 ms; saw none"):
        led.wait_for(True, timeout=0.3)


def test_a_line_that_does_not_exist_fails_activation(target: Any) -> None:
    nope = target.get_driver("VgpioDigitalInputDriver", name="nope", activate=False)
    with pytest.raises(vgpio2mqtt.UnknownLine, match="chip board has no line 'nope'"):
        target.activate(nope)
