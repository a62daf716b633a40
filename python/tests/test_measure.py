"""measure_edges on made-up edges (one module, no broker)."""

from vgpio2mqtt.measure import Edge, measure_edges


def edge(kind: str, guest_ms: float | None, ts_ms: float = 0.0) -> Edge:
    return Edge(kind, "guest", 0, ts_ms, None if guest_ms is None else int(guest_ms * 1e6), 0.0)


def test_period_duty_and_frequency_from_guest_time() -> None:
    # 10 ms period, ON for 3 ms; the host times (ts_ms) are all over the place and must not be used.
    edges = [edge(k, t, ts_ms=1000 + i * 7) for i, (k, t) in enumerate([("rising", 0), ("falling", 3), ("rising", 10), ("falling", 13), ("rising", 20)])]
    m = measure_edges(edges, 1.0)
    assert (m.edges, m.rising, m.falling, m.timebase) == (5, 3, 2, "guest_ns")
    assert m.period_s is not None and abs(m.period_s - 0.010) < 1e-9
    assert m.frequency_hz is not None and abs(m.frequency_hz - 100) < 1e-6
    assert m.duty_cycle is not None and abs(m.duty_cycle - 0.3) < 1e-9


def test_host_time_when_an_edge_lacks_guest_ns() -> None:
    m = measure_edges([edge("rising", 0, 100), edge("falling", None, 104), edge("rising", 5, 110)], 1.0)
    assert m.timebase == "ts_ms" and m.period_s is not None and abs(m.period_s - 0.010) < 1e-9
    assert m.duty_cycle is not None and abs(m.duty_cycle - 0.4) < 1e-9


def test_too_few_edges_give_no_period() -> None:
    m = measure_edges([edge("rising", 0)], 1.0)
    assert (m.edges, m.period_s, m.frequency_hz, m.duty_cycle) == (1, None, None, None)
    assert "n/a" in str(m)
