"""Drive and watch the GPIO lines of a QEMU guest through a vgpio2mqtt bridge.

    import vgpio2mqtt
    with vgpio2mqtt.connect("mqtt://127.0.0.1:1883") as client:
        board = client.chip("vgpio0")
        board.line("button").pulse(100)
        board.line("led").expect_level(True, within=2.0)
"""

from .client import Chip, ChipInfo, Client, Edges, Line, LineInfo, SetResult, connect
from .errors import (
    BridgeNotRunning,
    BrokerUnreachable,
    ChipOffline,
    CommandRefused,
    ConnectionLost,
    ExpectationFailed,
    LoginRefused,
    NotHostDriven,
    UnknownChip,
    UnknownLine,
    VgpioError,
)
from .measure import Edge, Measurement

__all__ = [
    "BridgeNotRunning",
    "BrokerUnreachable",
    "Chip",
    "ChipInfo",
    "ChipOffline",
    "Client",
    "CommandRefused",
    "ConnectionLost",
    "Edge",
    "Edges",
    "ExpectationFailed",
    "Line",
    "LineInfo",
    "LoginRefused",
    "Measurement",
    "NotHostDriven",
    "SetResult",
    "UnknownChip",
    "UnknownLine",
    "VgpioError",
    "connect",
]
