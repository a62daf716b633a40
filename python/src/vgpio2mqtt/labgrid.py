"""labgrid (0.4.1, Debian 12) resource and drivers for vgpio2mqtt lines.

Importing this module registers them with labgrid's target factory; in an
environment file::

    imports:
      - vgpio2mqtt.labgrid
    targets:
      main:
        resources:
          - VgpioLine: {name: button, url: "mqtt://127.0.0.1:1883", chip: vgpio0, line: button}
          - VgpioLine: {name: led, url: "mqtt://127.0.0.1:1883", chip: vgpio0, line: led}
        drivers:
          - VgpioDigitalOutputDriver: {name: button, bindings: {vgpio: button}}
          - VgpioDigitalInputDriver: {name: led, bindings: {vgpio: led}}

- ``VgpioLine``: where a line is (broker URL, base topic, chip, line).
- ``VgpioDigitalOutputDriver`` (DigitalOutputProtocol) for a line the host
  drives, an input in the guest: ``set``/``get`` (``invert`` for active-low
  wiring) and ``press(ms)``, a button press.
- ``VgpioDigitalInputDriver`` for a line the guest drives: ``get``,
  ``wait_for`` a level, ``wait_for_edge``.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, TypeVar, cast

import attr
from labgrid.driver.common import Driver
from labgrid.factory import target_factory
from labgrid.protocol import DigitalOutputProtocol
from labgrid.resource.common import Resource
from labgrid.step import step

from .client import Client, EdgeKind, Line, Source, connect
from .measure import Edge

F = TypeVar("F", bound=Callable[..., Any])


# labgrid 0.4.1 has no type hints: its decorators keep the signature, say so once here.
def _check_active(func: F) -> F:
    return cast(F, Driver.check_active(func))


def _step(**kwargs: Any) -> Callable[[F], F]:
    return cast(Callable[[F], F], step(**kwargs))


_str = attr.validators.instance_of(str)
_opt_str = attr.validators.optional(_str)


@target_factory.reg_resource
@attr.s(eq=False)
class VgpioLine(Resource):
    """A line of a vgpio2mqtt chip: ``url`` of the bridge's broker (``mqtt://user:password@host:port`` for a
    login), ``chip``, ``line`` (name or number), ``base_topic``, and optionally ``username``/``password``."""

    url: str = attr.ib(validator=_str)
    chip: str = attr.ib(validator=_str)
    line: Any = attr.ib(validator=attr.validators.instance_of((str, int)))
    base_topic: str = attr.ib(default="vgpio2mqtt", validator=_str)
    username: Optional[str] = attr.ib(default=None, validator=_opt_str)
    password: Optional[str] = attr.ib(default=None, validator=_opt_str)


@attr.s(eq=False)
class _VgpioLineDriver(Driver):
    """Connects on activate, disconnects on deactivate."""

    bindings = {"vgpio": "VgpioLine"}
    #: True: the wiring is active-low (True in labgrid means OFF on the line).
    invert: bool = attr.ib(default=False, validator=attr.validators.instance_of(bool))
    #: Seconds to wait for the broker and the bridge.
    timeout: float = attr.ib(default=5.0, converter=float)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self._client: Optional[Client] = None
        self._line: Optional[Line] = None

    def on_activate(self) -> None:
        res = self.vgpio
        self._client = connect(res.url, res.username, res.password, res.base_topic, self.timeout)
        try:
            self._line = self._client.chip(res.chip).line(res.line)
        except BaseException:
            self._client.close()
            raise

    def on_deactivate(self) -> None:
        if self._client is not None:
            self._client.close()
        self._client = None
        self._line = None

    @property
    def line(self) -> Line:
        """The client's Line, for everything else (edges(), measure(), ...) while the driver is active."""
        if self._line is None:
            raise RuntimeError(f"{self} is not active")
        return self._line

    def _logical(self, level: bool) -> bool:
        return level != self.invert


@target_factory.reg_driver
@attr.s(eq=False)
class VgpioDigitalOutputDriver(_VgpioLineDriver, DigitalOutputProtocol):
    """A line the host drives (an input in the guest: a button, a switch)."""

    @_check_active
    @_step(args=["status"])
    def set(self, status: bool) -> None:
        self.line.set(self._logical(bool(status)))

    @_check_active
    @_step(result=True)
    def get(self) -> bool:
        return self._logical(self.line.level())

    @_check_active
    @_step(args=["ms"])
    def press(self, ms: int = 100) -> None:
        """Presses (True, ``invert`` applied) for `ms` milliseconds and returns once the line is released.

        The bridge times the release, so it is `ms` on the host's clock whatever the test does meanwhile."""
        with self.line.edges(timeout=ms / 1000 + self.timeout) as edges:
            self.line.pulse(ms, self._logical(True))
            edges.expect("falling" if not self.invert else "rising", source="host")


@target_factory.reg_driver
@attr.s(eq=False)
class VgpioDigitalInputDriver(_VgpioLineDriver):
    """A line the guest drives (an output in the guest: an LED, a reset line)."""

    @_check_active
    @_step(result=True)
    def get(self) -> bool:
        return self._logical(self.line.level())

    @_check_active
    @_step(args=["status", "timeout"])
    def wait_for(self, status: bool, timeout: float = 5.0) -> None:
        """Returns once the line is `status` (``invert`` applied); else ExpectationFailed, saying what was seen."""
        self.line.wait_for(self._logical(bool(status)), timeout=timeout)

    @_check_active
    @_step(args=["edge", "timeout"])
    def wait_for_edge(self, edge: EdgeKind = "any", timeout: float = 5.0, source: Source = "guest") -> Edge:
        """The next edge of the line (on the wire: ``invert`` not applied)."""
        return self.line.expect_edge(edge, within=timeout, source=source)
