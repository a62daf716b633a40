"""The client: chips and lines of a running vgpio2mqtt bridge, over MQTT.

Every topic and payload is the bridge's (docs/topics.md): `bridge/info`
(retained) lists the chips, commands go through `bridge/request/set` with a
unique `transaction` and come back on `bridge/response/set`, levels through
`bridge/request/get`, edges on `<chip>/<line>/edge`, availability on
`<chip>/availability`.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Iterator, Literal, Optional, Union

from ._mqtt import BROKER_TIMEOUT, BrokerAddress, Connection, Message, Subscription, wait_get
from .errors import (
    BridgeNotRunning,
    ChipOffline,
    CommandRefused,
    ExpectationFailed,
    NotHostDriven,
    UnknownChip,
    UnknownLine,
    VgpioError,
)
from .measure import Edge, Measurement, measure_edges

Level = Union[bool, int, str]
EdgeKind = Literal["rising", "falling", "any"]
Source = Literal["host", "guest", "any"]

_ON = {"on", "1", "true", "high"}
_OFF = {"off", "0", "false", "low"}


def _on(level: Level) -> bool:
    """A level as True (ON) or False (OFF): True/False, 1/0 or the bridge's words (ON, high, true, ...)."""
    if isinstance(level, bool):
        return level
    if isinstance(level, int) and level in (0, 1):
        return level == 1
    if isinstance(level, str) and level.strip().lower() in _ON | _OFF:
        return level.strip().lower() in _ON
    raise VgpioError(f"level {level!r} is not one of True/False, 1/0, 'ON'/'OFF', 'high'/'low'")


def _word(on: bool) -> str:
    return "ON" if on else "OFF"


def clock(seconds: float) -> str:
    """Wall-clock time as 12:01:02.345, for messages."""
    return datetime.fromtimestamp(seconds).strftime("%H:%M:%S.%f")[:-3]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


@dataclass(frozen=True)
class LineInfo:
    line: int
    name: str
    direction: str
    configured: bool


@dataclass(frozen=True)
class ChipInfo:
    name: str
    label: str
    mode: str
    ngpio: int
    online: bool
    lines: tuple[LineInfo, ...]


@dataclass(frozen=True)
class SetResult:
    """The bridge's answer to a command: `result` is applied, interrupt, queued or unchanged."""

    result: str
    level: bool
    pending: bool
    queued: int
    data: dict[str, Any]


def connect(
    url: str,
    username: Optional[str] = None,
    password: Optional[str] = None,
    base_topic: str = "vgpio2mqtt",
    timeout: float = BROKER_TIMEOUT,
) -> "Client":
    """Connects to the broker a bridge publishes on (``mqtt://user:password@host:port`` works too)."""
    return Client(Connection(BrokerAddress.parse(url, username, password), timeout), base_topic, timeout)


class Client:
    """A connection to the broker of a vgpio2mqtt bridge. Use it as a context manager, or close() it."""

    def __init__(self, conn: Connection, base_topic: str, timeout: float) -> None:
        self.conn = conn
        self.base = base_topic
        self.timeout = timeout
        self._lock = threading.Lock()
        #: One subscription per response topic; each answer goes to the request waiting for its transaction.
        self._responses: dict[str, Subscription] = {}
        self._pending: dict[str, "queue.Queue[dict[str, Any]]"] = {}
        #: Level of each line before this client first drove it: restore() puts them back.
        self.start_levels: dict[tuple[str, str], bool] = {}

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, _t: Optional[type[BaseException]], _e: Optional[BaseException], _tb: Optional[TracebackType]) -> None:
        self.close()

    def close(self) -> None:
        self.conn.close()

    def topic(self, *parts: str) -> str:
        return "/".join((self.base, *parts))

    def _retained(self, topic: str, timeout: Optional[float] = None) -> Optional[Message]:
        with self.conn.subscribe(topic) as sub:
            return sub.get(self.timeout if timeout is None else timeout)

    def info(self) -> dict[str, Any]:
        """The bridge's retained `bridge/info` as published."""
        message = self._retained(self.topic("bridge", "info"))
        if message is None:
            raise BridgeNotRunning(
                f"no vgpio2mqtt bridge publishes {self.topic('bridge', 'info')} at {self.conn.address.url} "
                f"(nothing within {self.timeout:g} s); is a bridge running with base_topic {self.base!r}?"
            )
        state = self._retained(self.topic("bridge", "state"), 0.2)
        if state is not None and "offline" in state.text():
            raise BridgeNotRunning(f"the vgpio2mqtt bridge on {self.base!r} at {self.conn.address.url} is offline ({self.topic('bridge', 'state')} says {state.text()})")
        info: dict[str, Any] = json.loads(message.text())
        return info

    def _availability(self, names: list[str]) -> dict[str, str]:
        """Each chip's retained `<chip>/availability` (bridge/info's `online` is as of the bridge's start)."""
        seen: dict[str, str] = {}
        deadline = time.monotonic() + min(self.timeout, 2.0)
        with self.conn.subscribe(self.topic("+", "availability")) as sub:
            while len(seen) < len(names) and (left := deadline - time.monotonic()) > 0:
                message = sub.get(left)
                if message is None:
                    break
                seen[message.topic.split("/")[-2]] = message.text()
        return seen

    def chips(self) -> list[ChipInfo]:
        """The bridge's chips and lines (retained `bridge/info`), online as `<chip>/availability` says now."""
        listed = self.info().get("chips", [])
        availability = self._availability([c["name"] for c in listed])
        return [
            ChipInfo(
                c["name"],
                c.get("label", c["name"]),
                c.get("mode", ""),
                int(c.get("ngpio", len(c.get("lines", [])))),
                availability.get(c["name"]) == "online",
                tuple(LineInfo(int(l["line"]), str(l["name"]), str(l.get("direction", "")), bool(l.get("configured", True))) for l in c.get("lines", [])),
            )
            for c in listed
        ]

    def chip(self, name: str) -> "Chip":
        chips = self.chips()
        for info in chips:
            if info.name == name:
                return Chip(self, info)
        raise UnknownChip(f"no chip {name!r} on the bridge at {self.conn.address.url} (base topic {self.base!r}); chips: {', '.join(c.name for c in chips) or 'none'}")

    def _on_response(self, message: Message) -> None:
        try:
            response = json.loads(message.text())
        except ValueError:
            return
        if isinstance(response, dict):
            waiting = self._pending.get(str(response.get("transaction")))
            if waiting is not None:
                waiting.put(response)

    def request(self, command: str, body: dict[str, Any]) -> dict[str, Any]:
        """Sends `bridge/request/<command>` with a unique transaction and returns the bridge's response (thread-safe)."""
        with self._lock:
            if command not in self._responses:
                self._responses[command] = self.conn.subscribe(self.topic("bridge", "response", command), self._on_response)
        transaction = uuid.uuid4().hex
        answer: "queue.Queue[dict[str, Any]]" = queue.Queue()
        self._pending[transaction] = answer
        try:
            self.conn.publish(self.topic("bridge", "request", command), json.dumps({**body, "transaction": transaction}))
            response = wait_get(answer, self.timeout, self.conn.check)
        finally:
            del self._pending[transaction]
        if response is not None:
            return response
        raise BridgeNotRunning(
            f"no vgpio2mqtt bridge answered {self.topic('bridge', 'request', command)} at {self.conn.address.url} "
            f"within {self.timeout:g} s; is a bridge running with base_topic {self.base!r}?"
        )

    def restore(self) -> None:
        """Puts every line this client drove back to the level it had before the first command."""
        for (chip, line), level in list(self.start_levels.items()):
            self.request("set", {"chip": chip, "line": line, "state": _word(level)})
        self.start_levels.clear()


class Chip:
    def __init__(self, client: Client, info: ChipInfo) -> None:
        self.client = client
        self.info = info
        self.name = info.name

    def __repr__(self) -> str:
        return f"Chip({self.name!r})"

    def line(self, name_or_number: Union[str, int]) -> "Line":
        wanted = str(name_or_number)
        for info in self.info.lines:
            if info.name == wanted or str(info.line) == wanted:
                return Line(self, info)
        names = ", ".join(l.name if l.name == str(l.line) else f"{l.name} ({l.line})" for l in self.info.lines)
        raise UnknownLine(f"chip {self.name} has no line {wanted!r}; lines: {names or 'none'}")

    def wait_online(self, timeout: float = 10.0) -> None:
        """Returns once `<chip>/availability` says online: a guest with its driver bound."""
        topic = self.client.topic(self.name, "availability")
        seen = "nothing"
        deadline = time.monotonic() + timeout
        with self.client.conn.subscribe(topic) as sub:
            while (left := deadline - time.monotonic()) > 0:
                message = sub.get(left)
                if message is None:
                    break
                seen = message.text()
                if seen == "online":
                    return
        raise ChipOffline(f"expected chip {self.name} online within {_ms(timeout)}; {topic} says {seen} (no guest with vgpio.ko bound)")


class Line:
    def __init__(self, chip: Chip, info: LineInfo) -> None:
        self.chip = chip
        self.info = info
        self.name = info.name
        self.label = f"{chip.name}/{info.name}"
        self._client = chip.client
        self.edge_topic = self._client.topic(chip.name, info.name, "edge")

    def __repr__(self) -> str:
        return f"Line({self.label!r})"

    # Commands

    def _set(self, state: str, pulse_ms: Optional[int] = None) -> SetResult:
        key = (self.chip.name, self.name)
        if key not in self._client.start_levels:
            self._client.start_levels[key] = self.level()
        body: dict[str, Any] = {"chip": self.chip.name, "line": self.name, "state": state}
        if pulse_ms is not None:
            body["pulse_ms"] = pulse_ms
        response = self._client.request("set", body)
        if response.get("status") != "ok":
            error = str(response.get("error", "refused"))
            code = response.get("reason")
            what = f"{state}" + (f" pulse of {pulse_ms} ms" if pulse_ms is not None else "")
            kind = NotHostDriven if code == "not_host_driven" else CommandRefused
            raise kind(f"the bridge refused {what} on {self.label}: {error}", error, code if isinstance(code, str) else None)
        data: dict[str, Any] = response.get("data", {})
        return SetResult(str(data.get("result")), data.get("level") == 1, bool(data.get("pending")), int(data.get("queued", 0)), data)

    def set(self, level: Level) -> SetResult:
        return self._set(_word(_on(level)))

    def toggle(self) -> SetResult:
        return self._set("TOGGLE")

    def pulse(self, ms: int, level: Level = True) -> SetResult:
        """Drives the line to `level` and, `ms` later, back (the bridge times the return)."""
        if not isinstance(ms, int) or isinstance(ms, bool) or not 0 < ms <= 3_600_000:
            raise VgpioError(f"pulse length {ms!r} must be a whole number of milliseconds, 1..3600000")
        return self._set(_word(_on(level)), ms)

    # Observation

    def status(self) -> dict[str, Any]:
        """The bridge's `get` answer for the line (level, direction, pending, queued, ...)."""
        response = self._client.request("get", {"chip": self.chip.name, "line": self.name})
        if response.get("status") != "ok":
            code = response.get("reason")
            raise CommandRefused(f"the bridge cannot read {self.label}: {response.get('error')}", str(response.get("error")), code if isinstance(code, str) else None)
        data: dict[str, Any] = response["data"]
        return data

    def level(self) -> bool:
        """The line's level now, as the shared memory has it (True: ON)."""
        return self.status().get("level") == 1

    def edges(self, timeout: float = 1.0) -> "Edges":
        """``with line.edges() as edges:`` subscribed before the body runs; iterating ends after `timeout` s without an edge."""
        return Edges(self, timeout)

    def wait_for(
        self,
        level: Optional[Level] = None,
        *,
        edge: Optional[EdgeKind] = None,
        source: Source = "any",
        timeout: float = 5.0,
    ) -> Optional[Edge]:
        """Waits for a level (returns None at once if the line has it) or for an edge; raises ExpectationFailed after `timeout` s."""
        if (level is None) == (edge is None):
            raise VgpioError("wait_for takes a level or edge=, not both and not neither")
        want_on = None if level is None else _on(level)
        with self.edges(timeout) as edges:
            if want_on is not None:
                now = self.level()
                if now == want_on:
                    return None
            kind: EdgeKind = edge if edge is not None else ("rising" if want_on else "falling")
            what = f"{kind if kind != 'any' else 'an edge'}" if want_on is None else f"{_word(want_on)} ({kind})"
            return edges.expect(kind, source, timeout, what)

    def expect_level(self, level: Level, within: float = 1.0) -> None:
        """Raises ExpectationFailed unless the line has `level` now or gets it within `within` s."""
        self.wait_for(level, timeout=within)

    def expect_edge(self, edge: EdgeKind = "any", within: float = 1.0, source: Source = "any") -> Edge:
        found = self.wait_for(edge=edge, source=source, timeout=within)
        assert found is not None
        return found

    def measure(self, window: float = 1.0) -> Measurement:
        """Edges seen for `window` s: count, period, duty cycle and frequency (guest_ns when every edge has it)."""
        with self.edges(window) as edges:
            time.sleep(window)
            return measure_edges(edges.drain(), window)


class Edges:
    """A subscription to one line's edges (the context manager of Line.edges())."""

    def __init__(self, line: Line, timeout: float) -> None:
        self.line = line
        self.timeout = timeout
        self.seen: list[Edge] = []
        self._sub: Optional[Subscription] = None
        self._since = time.time()

    def __enter__(self) -> "Edges":
        self._sub = self.line.chip.client.conn.subscribe(self.line.edge_topic)
        self._since = time.time()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._sub is not None:
            self._sub.close()

    def next(self, timeout: Optional[float] = None) -> Optional[Edge]:
        """The next edge, or None when none came within `timeout` (default: the Edges' timeout) seconds."""
        if self._sub is None:
            raise VgpioError("use Edges inside `with line.edges() as edges:`")
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while (left := deadline - time.monotonic()) > 0:
            message = self._sub.get(left)
            if message is None:
                return None
            try:
                found = Edge.parse(message.text(), message.received)
            except ValueError:
                continue
            self.seen.append(found)
            return found
        return None

    def __iter__(self) -> Iterator[Edge]:
        while (found := self.next()) is not None:
            yield found

    def drain(self) -> list[Edge]:
        """Every edge already received (no waiting)."""
        while self.next(0.001) is not None:
            pass
        return list(self.seen)

    def expect(self, kind: EdgeKind = "any", source: Source = "any", timeout: Optional[float] = None, what: Optional[str] = None) -> Edge:
        """The next edge of that kind and source; ExpectationFailed naming what came instead after `timeout` s."""
        wait = self.timeout if timeout is None else timeout
        start = len(self.seen)
        deadline = time.monotonic() + wait
        while (left := deadline - time.monotonic()) > 0:
            found = self.next(left)
            if found is None:
                break
            if kind in ("any", found.edge) and source in ("any", found.source):
                return found
        label = what or (kind if kind != "any" else "an edge")
        if source != "any":
            label += f" from the {source}"
        raise ExpectationFailed(f"expected {self.line.label} {label} within {_ms(wait)}; {self._saw(self.seen[start:])}")

    def _saw(self, edges: list[Edge]) -> str:
        if not edges:
            try:
                level = _word(self.line.level())
            except VgpioError as error:  # the expectation failed either way: say that, and why the level is unknown
                level = f"unknown ({error})"
            last = self.seen[-1] if self.seen else None
            since = clock(last.ts_ms / 1000) if last is not None else f"before {clock(self._since)} (no edge since then)"
            return f"saw none; level {level} since {since}"
        listed = ", ".join(f"{e.edge} ({e.source}) at {clock(e.ts_ms / 1000)}" for e in edges[:5])
        more = f" and {len(edges) - 5} more" if len(edges) > 5 else ""
        return f"saw {len(edges)} other edge{'s' if len(edges) > 1 else ''}: {listed}{more}; level {_word(edges[-1].edge == 'rising')} now"
