"""_mqtt adapts to paho-mqtt 2.x (CallbackAPIVersion) as well as Debian 12's
1.6: a unit test of that module with paho's Client replaced by a recorder,
since only 1.6 is installed here."""

from __future__ import annotations

import enum
from typing import Any

import pytest

import paho.mqtt.client as paho

from vgpio2mqtt import _mqtt


class Recorder:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        self.kwargs = kwargs


class ReasonCode:
    """Like paho 2.x's ReasonCode: a number in `.value`."""

    def __init__(self, value: int) -> None:
        self.value = value


def test_paho_2_gets_callback_api_version_2(monkeypatch: pytest.MonkeyPatch) -> None:
    class CallbackAPIVersion(enum.Enum):
        VERSION1 = 1
        VERSION2 = 2

    monkeypatch.setattr(paho, "CallbackAPIVersion", CallbackAPIVersion, raising=False)
    monkeypatch.setattr(paho, "Client", Recorder)
    client = _mqtt._new_client("id", "tcp")
    assert client.args == (CallbackAPIVersion.VERSION2,)
    assert client.kwargs["client_id"] == "id"


def test_paho_1_gets_no_callback_api_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(paho, "CallbackAPIVersion", raising=False)
    monkeypatch.setattr(paho, "Client", Recorder)
    assert _mqtt._new_client("id", "tcp").args == ()


def test_codes_from_both_versions() -> None:
    assert _mqtt._code(5) == 5
    assert _mqtt._code(ReasonCode(134)) == 134
    assert _mqtt._code(ReasonCode(0)) == 0


def test_callbacks_take_both_argument_lists() -> None:
    conn = object.__new__(_mqtt.Connection)
    import threading

    conn._lock = threading.Lock()
    conn._subs = []
    conn._acks = {7: threading.Event()}
    conn._connected = threading.Event()
    conn._refused = None
    conn._lost = None
    conn._closed = False
    conn.address = _mqtt.BrokerAddress.parse("mqtt://127.0.0.1:1", None, None)
    conn._on_connect(None, None, {}, ReasonCode(135), None)  # 2.x
    assert conn._refused == 135
    conn._on_connect(None, None, {}, 4)  # 1.6
    assert conn._refused == 4
    conn._on_subscribe(None, None, 7, [ReasonCode(1)], None)
    assert conn._acks == {}
    conn._on_disconnect(None, None, {}, ReasonCode(7), None)  # 2.x
    assert conn._lost is not None and "(code 7)" in conn._lost
    conn._on_disconnect(None, None, 1)  # 1.6
    assert conn._lost is not None and "(code 1)" in conn._lost


def test_the_password_never_shows_in_the_url() -> None:
    address = _mqtt.BrokerAddress.parse("mqtt://me:s3cret@127.0.0.1:1883", None, None)
    assert (address.username, address.password) == ("me", "s3cret")
    assert address.url == "mqtt://me:***@127.0.0.1:1883"
