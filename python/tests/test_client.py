"""The client against a real bridge (embedded broker, server-mode chip) with a fake guest."""

from __future__ import annotations

import re
import threading
import time
from typing import Iterator

import pytest
from fake_bridge import FakeBridge

import vgpio2mqtt
from vgpio2mqtt import Client


@pytest.fixture
def client(fake_bridge: FakeBridge) -> Iterator[Client]:
    with vgpio2mqtt.connect(fake_bridge.url, fake_bridge.username, fake_bridge.password) as c:
        yield c
        c.restore()


def test_chips_lists_the_bridges_chips_and_lines(client: Client) -> None:
    chips = {c.name: c for c in client.chips()}
    assert sorted(chips) == ["board", "spare"]
    board = chips["board"]
    assert board.online is True and chips["spare"].online is False
    lines = {l.line: l for l in board.lines}
    assert (lines[0].name, lines[1].name, lines[2].name) == ("button", "led", "reset")
    assert lines[1].direction == "output"


def test_chip_and_line_by_name_or_number(client: Client) -> None:
    board = client.chip("board")
    assert board.line("button").info.line == 0
    assert board.line(0).name == "button"
    assert board.line("2").name == "reset"
    assert board.line(3).name == "3"


def test_unknown_chip_fails_at_once_naming_the_chips(client: Client) -> None:
    with pytest.raises(vgpio2mqtt.UnknownChip, match=r"no chip 'bord' .*; chips: board, spare"):
        client.chip("bord")


def test_unknown_line_fails_naming_the_lines(client: Client) -> None:
    with pytest.raises(vgpio2mqtt.UnknownLine, match=r"chip board has no line 'buton'; lines: button \(0\), led \(1\), reset \(2\)"):
        client.chip("board").line("buton")


def test_set_level_and_unchanged(client: Client) -> None:
    button = client.chip("board").line("button")
    assert button.level() is False
    first = button.set(True)
    assert first.result in ("applied", "interrupt") and first.level is True
    assert button.level() is True
    assert button.set("on").result == "unchanged"
    assert button.set(0).level is False


def test_toggle_flips_the_level(client: Client) -> None:
    reset = client.chip("board").line("reset")
    before = reset.level()
    assert reset.toggle().level is (not before)
    assert reset.level() is (not before)
    assert reset.toggle().level is before


def test_pulse_goes_there_and_back(client: Client) -> None:
    button = client.chip("board").line("button")
    with button.edges(timeout=3.0) as edges:
        button.pulse(100)
        rise = edges.expect("rising", source="host")
        fall = edges.expect("falling", source="host")
    print(f"pulse(100): rising to falling {fall.ts_ms - rise.ts_ms:.1f} ms by the bridge's ts_ms")
    assert button.level() is False


def test_edges_are_subscribed_before_the_body(client: Client) -> None:
    button = client.chip("board").line("button")
    with button.edges(timeout=1.0) as edges:
        button.set(True)
        button.set(False)
        got = [(e.edge, e.source) for e in edges]
    assert got == [("rising", "host"), ("falling", "host")]
    assert all(isinstance(e.seq, int) and e.ts_ms > 0 for e in edges.seen)


def test_wait_for_a_level_the_line_has_returns_at_once(client: Client) -> None:
    assert client.chip("board").line("led").wait_for(False, timeout=0.5) is None


def test_wait_for_level_and_edge_driven_by_the_guest(client: Client, fake_bridge: FakeBridge) -> None:
    led = client.chip("board").line("led")
    later = threading.Timer(0.2, fake_bridge.guest, ("out 1 1",))
    later.start()
    edge = led.wait_for(True, timeout=5.0)
    later.join()
    assert edge is not None and edge.edge == "rising" and edge.source == "guest"
    assert edge.guest_ns is not None, "ring-reported guest edges carry guest_ns"
    later = threading.Timer(0.2, fake_bridge.guest, ("out 1 0",))
    later.start()
    falling = led.wait_for(edge="falling", source="guest", timeout=5.0)
    later.join()
    assert falling is not None and falling.edge == "falling"


def test_expect_level_failure_says_what_was_expected_and_seen(client: Client) -> None:
    led = client.chip("board").line("led")
    with pytest.raises(vgpio2mqtt.ExpectationFailed) as raised:
        led.expect_level(True, within=0.2)
    assert re.fullmatch(r"expected board/led ON \(rising\) within 200 ms; saw none; level OFF since before \d\d:\d\d:\d\d\.\d{3} \(no edge since then\)", str(raised.value)), str(raised.value)
    assert isinstance(raised.value, AssertionError)


def test_expect_edge_failure_lists_the_other_edges(client: Client) -> None:
    button = client.chip("board").line("button")
    with button.edges() as edges:
        button.set(True)
        with pytest.raises(vgpio2mqtt.ExpectationFailed, match=r"expected board/button falling within 300 ms; saw 1 other edge: rising \(host\) at [\d:.]+; level ON now"):
            edges.expect("falling", timeout=0.3)


def test_measure_a_guest_blink_from_guest_timestamps(client: Client, fake_bridge: FakeBridge) -> None:
    led = client.chip("board").line("led")
    blink = threading.Thread(target=fake_bridge.guest, args=("blink 1 25 20",))
    with led.edges(timeout=0.5) as edges:
        blink.start()
        blink.join()
        for _ in range(20):
            if edges.next(2.0) is None:
                break
        measured = vgpio2mqtt.measure.measure_edges(edges.seen, 1.0)
    print(f"blink with 25 ms half periods: {measured}")
    assert (measured.edges, measured.rising, measured.falling) == (20, 10, 10)
    assert measured.timebase == "guest_ns"
    assert measured.period_s is not None and measured.duty_cycle is not None and 0 < measured.duty_cycle < 1


def test_measure_over_a_window(client: Client, fake_bridge: FakeBridge) -> None:
    led = client.chip("board").line("led")
    blink = threading.Timer(0.1, fake_bridge.guest, ("blink 1 20 6",))
    blink.start()
    measured = led.measure(window=1.5)
    blink.join()
    print(f"measure(window=1.5) over 6 guest edges 20 ms apart: {measured}")
    assert measured.edges == 6 and measured.timebase == "guest_ns" and measured.frequency_hz is not None


def test_wait_online(client: Client) -> None:
    client.chip("board").wait_online(timeout=2.0)
    with pytest.raises(vgpio2mqtt.ChipOffline, match=r"expected chip spare online within 300 ms; vgpio2mqtt/spare/availability says offline"):
        client.chip("spare").wait_online(timeout=0.3)


def test_set_on_a_line_the_guest_drives_is_refused(client: Client) -> None:
    with pytest.raises(vgpio2mqtt.NotHostDriven, match=r"the bridge refused ON on board/led: line led of chip board is configured as an output") as refused:
        client.chip("board").line("led").set(True)
    assert refused.value.code == "not_host_driven"


def test_set_on_an_offline_chip_is_refused(client: Client) -> None:
    with pytest.raises(vgpio2mqtt.CommandRefused, match=r"refused ON on spare/0: chip spare has no guest with a bound driver") as refused:
        client.chip("spare").line(0).set(True)
    assert refused.value.code == "chip_offline"


def test_bad_levels_and_pulses_are_refused_before_sending(client: Client) -> None:
    button = client.chip("board").line("button")
    with pytest.raises(vgpio2mqtt.VgpioError, match=r"level 'maybe' is not one of"):
        button.set("maybe")
    with pytest.raises(vgpio2mqtt.VgpioError, match=r"pulse length 0 must be"):
        button.pulse(0)
    with pytest.raises(vgpio2mqtt.VgpioError, match="a level or edge="):
        button.wait_for()


def test_refused_login(fake_bridge: FakeBridge) -> None:
    started = time.monotonic()
    with pytest.raises(vgpio2mqtt.LoginRefused, match=r"refused the login of user 'tester'") as raised:
        vgpio2mqtt.connect(fake_bridge.url, "tester", "wrong-password")
    assert "wrong-password" not in str(raised.value)
    with pytest.raises(vgpio2mqtt.LoginRefused, match="an anonymous client"):
        vgpio2mqtt.connect(fake_bridge.url)
    print(f"two refused logins reported in {time.monotonic() - started:.3f} s")


def test_password_in_the_url_is_used_and_never_shown(fake_bridge: FakeBridge) -> None:
    with vgpio2mqtt.connect(fake_bridge.login_url) as c:
        assert fake_bridge.password not in c.conn.address.url
        assert c.chip("board").name == "board"


def test_no_broker(fake_bridge: FakeBridge) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(vgpio2mqtt.BrokerUnreachable, match=rf"cannot reach the MQTT broker at mqtt://127.0.0.1:{port}: .*refused"):
        vgpio2mqtt.connect(f"mqtt://127.0.0.1:{port}")
    with pytest.raises(vgpio2mqtt.VgpioError, match="is not one of mqtt://"):
        vgpio2mqtt.connect("http://127.0.0.1:1")


def test_no_bridge_on_the_base_topic(fake_bridge: FakeBridge) -> None:
    with vgpio2mqtt.connect(fake_bridge.login_url, base_topic="nobridge", timeout=0.5) as c:
        with pytest.raises(vgpio2mqtt.BridgeNotRunning, match=r"no vgpio2mqtt bridge publishes nobridge/bridge/info .* is a bridge running with base_topic 'nobridge'"):
            c.chips()
        with pytest.raises(vgpio2mqtt.BridgeNotRunning, match=r"no vgpio2mqtt bridge answered nobridge/bridge/request/get"):
            c.request("get", {"chip": "board", "line": "button"})


def test_restore_puts_driven_lines_back(fake_bridge: FakeBridge) -> None:
    with vgpio2mqtt.connect(fake_bridge.login_url) as c:
        reset = c.chip("board").line("reset")
        start = reset.level()
        reset.set(not start)
        reset.toggle()
        reset.toggle()
        assert c.start_levels == {("board", "reset"): start}
        c.restore()
        assert reset.level() is start and c.start_levels == {}


def test_a_bridge_that_went_offline(fake_bridge: FakeBridge) -> None:
    # What an external broker keeps after its bridge stopped: the retained info, and bridge/state offline (its will).
    with vgpio2mqtt.connect(fake_bridge.login_url, base_topic="gone") as c:
        client = c.conn._client
        for topic, payload in (("gone/bridge/info", '{"chips":[]}'), ("gone/bridge/state", '{"state":"offline"}')):
            client.publish(topic, payload, qos=1, retain=True).wait_for_publish(5)
        try:
            with pytest.raises(vgpio2mqtt.BridgeNotRunning, match=r"the vgpio2mqtt bridge on 'gone' at mqtt://tester:\*\*\*@127.0.0.1:\d+ is offline"):
                c.chips()
        finally:
            for topic in ("gone/bridge/info", "gone/bridge/state"):
                client.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)


def test_a_closed_client_says_so(fake_bridge: FakeBridge) -> None:
    with vgpio2mqtt.connect(fake_bridge.login_url) as c:
        button = c.chip("board").line("button")
    with pytest.raises(vgpio2mqtt.ConnectionLost, match="this vgpio2mqtt client is closed"):
        button.set(True)


def test_requests_from_many_threads_each_get_their_own_answer(fake_bridge: FakeBridge) -> None:
    with vgpio2mqtt.connect(fake_bridge.login_url, timeout=2.0) as c:
        lines = [c.chip("board").line(name) for name in ("button", "led", "reset", "3")]
        errors: list[BaseException] = []
        levels: list[bool] = []

        def read(line: vgpio2mqtt.Line) -> None:
            try:
                for _ in range(10):
                    levels.append(line.level())
            except BaseException as error:  # noqa: BLE001 (reported by the assertion below)
                errors.append(error)

        threads = [threading.Thread(target=read, args=(lines[i % 4],)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == [] and len(levels) == 80
