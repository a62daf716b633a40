"""What can go wrong, each naming what it was about. Every error is a
``VgpioError``; the failed expectations are also ``AssertionError`` so pytest
reports them as test failures, and the timeouts also ``TimeoutError``."""

from typing import Optional


class VgpioError(Exception):
    """Base of every error this package raises."""


class BrokerUnreachable(VgpioError, ConnectionError):
    """No MQTT broker answered at the URL (or it stopped answering)."""


class LoginRefused(VgpioError, PermissionError):
    """The broker refused the user name and password."""


class ConnectionLost(VgpioError, ConnectionError):
    """The connection to the broker dropped, or the client was closed."""


class BridgeNotRunning(VgpioError, TimeoutError):
    """The broker is there but no vgpio2mqtt bridge answers on the base topic."""


class UnknownChip(VgpioError, LookupError):
    """The bridge has no chip of that name."""


class UnknownLine(VgpioError, LookupError):
    """The chip has no line of that name or number."""


class CommandRefused(VgpioError):
    """The bridge refused a command; ``reason`` is its error text, ``code`` its reason code
    (``not_host_driven``, ``chip_offline``, ``queue_overflow``, ``bad_payload``, ...; docs/topics.md)."""

    def __init__(self, message: str, reason: str, code: Optional[str] = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.code = code


class NotHostDriven(CommandRefused):
    """A command to a line the guest drives (an output in the guest)."""


class ChipOffline(VgpioError, TimeoutError):
    """The chip has no guest with a bound driver (within the time allowed)."""


class ExpectationFailed(VgpioError, AssertionError):
    """A level or an edge did not come within the time allowed."""
