"""Edges as the bridge publishes them on `<chip>/<line>/edge`, and the
figures of a run of them: count, period, duty cycle, frequency. The figures
use the guest's timestamps (`guest_ns`) when every edge carries one, since
the host's `ts_ms` adds MQTT and scheduling delay; else `ts_ms`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from statistics import mean
from typing import Optional


@dataclass(frozen=True)
class Edge:
    edge: str  # "rising" | "falling"
    source: str  # "host" | "guest"
    seq: int
    ts_ms: float
    guest_ns: Optional[int]
    received: float  # this client's wall clock when it arrived

    @property
    def level(self) -> bool:
        """The level after the edge."""
        return self.edge == "rising"

    @staticmethod
    def parse(text: str, received: float) -> "Edge":
        payload = json.loads(text)
        if not isinstance(payload, dict) or payload.get("edge") not in ("rising", "falling"):
            raise ValueError(f"not an edge payload: {text!r}")
        guest_ns = payload.get("guest_ns")
        return Edge(
            str(payload["edge"]),
            str(payload.get("source", "")),
            int(payload.get("seq", 0)),
            float(payload.get("ts_ms", received * 1000)),
            int(guest_ns) if isinstance(guest_ns, int) else None,
            received,
        )


@dataclass(frozen=True)
class Measurement:
    edges: int
    rising: int
    falling: int
    window_s: float
    #: "guest_ns" or "ts_ms": the clock the times below come from.
    timebase: str
    period_s: Optional[float]
    frequency_hz: Optional[float]
    #: Share of each full period spent ON (0..1).
    duty_cycle: Optional[float]

    def __str__(self) -> str:
        def fmt(value: Optional[float], unit: str, scale: float = 1.0) -> str:
            return "n/a" if value is None else f"{value * scale:.3f} {unit}"

        return (
            f"{self.edges} edges ({self.rising} rising, {self.falling} falling) in {self.window_s:g} s; "
            f"period {fmt(self.period_s, 'ms', 1000)}, frequency {fmt(self.frequency_hz, 'Hz')}, "
            f"duty cycle {fmt(self.duty_cycle, '%', 100)} (from {self.timebase})"
        )


def measure_edges(edges: list[Edge], window_s: float) -> Measurement:
    guest = len(edges) > 0 and all(e.guest_ns is not None for e in edges)
    times = [(e.guest_ns or 0) / 1e9 if guest else e.ts_ms / 1000 for e in edges]
    rises = [t for t, e in zip(times, edges) if e.edge == "rising"]
    falls = [t for t, e in zip(times, edges) if e.edge == "falling"]
    starts = rises if len(rises) >= 2 else falls
    period = mean(b - a for a, b in zip(starts, starts[1:])) if len(starts) >= 2 else None
    # ON time of each full period: a rising edge, the falling edge after it, the next rising edge.
    highs = [next(f for f in falls if f > r) - r for r, nxt in zip(rises, rises[1:]) if any(r < f < nxt for f in falls)]
    duty = mean(highs) / period if highs and period else None
    return Measurement(
        len(edges),
        sum(1 for e in edges if e.edge == "rising"),
        sum(1 for e in edges if e.edge == "falling"),
        window_s,
        "guest_ns" if guest else "ts_ms",
        period,
        1 / period if period else None,
        duty,
    )
