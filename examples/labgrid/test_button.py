"""A labgrid test of guest software through vgpio2mqtt: boot the guest with
labgrid's QEMUDriver, press its button through VgpioDigitalOutputDriver and
see the guest react on its LED through VgpioDigitalInputDriver.

    pytest --lg-env examples/labgrid/env.yaml examples/labgrid
"""

from __future__ import annotations

import time
from typing import Any

import pytest

#: Under TCG the guest's reaction (gpiomon wakes, gpioset runs) takes a while: see docs/python.md.
REACTION_S = 30.0


@pytest.fixture(scope="module")
def booted(target: Any) -> Any:
    qemu = target.get_driver("QEMUDriver")
    target.activate(qemu)
    qemu.on()
    button = target.get_driver("VgpioDigitalOutputDriver", name="button")
    target.activate(button)
    started = time.monotonic()
    button.line.chip.wait_online(timeout=120.0)
    # The guest program watches the button once its interrupt is enabled (gpiomon requested the line).
    while not button.line.status()["irq"]["enabled"]:
        if time.monotonic() - started > 120:
            raise TimeoutError("the guest never started watching the button")
        time.sleep(0.2)
    print(f"guest booted and watching the button after {time.monotonic() - started:.1f} s")
    yield target
    qemu.off()


def test_each_button_press_toggles_the_led(booted: Any) -> None:
    button = booted.get_driver("VgpioDigitalOutputDriver", name="button")
    led = booted.get_driver("VgpioDigitalInputDriver", name="led")
    booted.activate(led)
    assert led.get() is False
    for want in (True, False):
        with button.line.edges() as presses, led.line.edges(timeout=REACTION_S) as edges:
            button.press(100)
            edge = edges.expect("rising" if want else "falling", source="guest")
            press = presses.expect("rising", source="host")
            # Both ts_ms are the bridge's clock: from writing the button to seeing the guest's LED change.
            print(f"press -> LED {'ON' if want else 'OFF'}: {edge.ts_ms - press.ts_ms:.1f} ms (bridge ts_ms)")
        assert led.get() is want and edge.guest_ns is not None
        # The guest program restarts gpiomon after each press: wait until it watches again.
        while not button.line.status()["irq"]["enabled"]:
            time.sleep(0.05)
