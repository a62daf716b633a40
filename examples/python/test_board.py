"""Example: pytest tests of a guest's GPIO lines through a vgpio2mqtt bridge.

    pytest --vgpio-url mqtt://127.0.0.1:1883 examples/python

The plugin loads by itself once the package is installed (else add
``-p vgpio2mqtt.pytest_plugin``). The chip `board` with the lines `button`
(the host drives it: an input in the guest) and `led` (the guest drives
it) is the one testkit/fake-guest-main.ts serves; name your own chip's
lines here.
"""

from __future__ import annotations

import pytest

import vgpio2mqtt
from vgpio2mqtt import Line
from vgpio2mqtt.pytest_plugin import LineFactory, assert_level


def test_a_button_press_reaches_the_guest(vgpio_line: LineFactory) -> None:
    button = vgpio_line("board", "button")
    # Subscribed before the press: no edge can slip by.
    with button.edges(timeout=2.0) as edges:
        button.pulse(50)
        assert edges.expect("rising").source == "host"
        assert edges.expect("falling").source == "host"
    assert_level(button, False)


def test_the_led_belongs_to_the_guest(vgpio_line: LineFactory) -> None:
    with pytest.raises(vgpio2mqtt.NotHostDriven):
        vgpio_line("board", "led").set(True)


@pytest.mark.parametrize("vgpio_line", ["board/button"], indirect=True)
def test_a_held_button_is_released_after_the_test(vgpio_line: Line) -> None:
    # The plugin puts it back to OFF when the test ends, pass or fail.
    vgpio_line.set(True)
    assert vgpio_line.level() is True
