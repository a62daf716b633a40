"""A synchronous face on paho-mqtt: connect (and say why not), subscribe and
wait for the broker's SUBACK, publish and wait until it left, with each
subscription's messages in a queue of its own.

paho runs its network loop in a thread; everything here blocks the caller
until the broker answered or a timeout passed, so no call hangs. Works with
paho-mqtt 1.6 (Debian 12) and 2.x (``CallbackAPIVersion``): the callbacks
take the arguments both versions pass in the same positions.
"""

from __future__ import annotations

import queue
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, TypeVar
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho

from .errors import BrokerUnreachable, ConnectionLost, LoginRefused, VgpioError

#: How long connect, subscribe and publish wait for the broker, in seconds.
BROKER_TIMEOUT = 5.0

_SCHEMES = {"mqtt": ("tcp", False, 1883), "mqtts": ("tcp", True, 8883), "ws": ("websockets", False, 80), "wss": ("websockets", True, 443)}

# CONNACK return codes of MQTT 3.1.1 and the reason codes paho 2.x maps them to.
_LOGIN_CODES = {4, 5, 134, 135}


@dataclass(frozen=True)
class Message:
    topic: str
    payload: bytes
    retain: bool
    received: float = field(default_factory=time.time)

    def text(self) -> str:
        return self.payload.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class BrokerAddress:
    url: str
    transport: str
    tls: bool
    host: str
    port: int
    path: str
    username: Optional[str]
    password: Optional[str]

    @staticmethod
    def parse(url: str, username: Optional[str], password: Optional[str]) -> "BrokerAddress":
        parts = urlsplit(url)
        if parts.scheme not in _SCHEMES or not parts.hostname:
            raise VgpioError(f"broker URL {_safe(url)!r} is not one of mqtt://host:port, mqtts://, ws://, wss://")
        transport, tls, default_port = _SCHEMES[parts.scheme]
        user = username if username is not None else (unquote(parts.username) if parts.username else None)
        pw = password if password is not None else (unquote(parts.password) if parts.password else None)
        return BrokerAddress(_safe(url), transport, tls, parts.hostname, parts.port or default_port, parts.path or "/mqtt", user, pw)


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return parts._replace(netloc=netloc).geturl()


def _code(rc: Any) -> int:
    """A CONNACK or disconnect code as a number: paho 1.x passes ints, 2.x ReasonCode objects."""
    value = getattr(rc, "value", rc)
    return int(value) if isinstance(value, int) else 0


def _new_client(client_id: str, transport: str) -> Any:
    api = getattr(paho, "CallbackAPIVersion", None)
    if api is not None:  # paho-mqtt 2.x
        return paho.Client(api.VERSION2, client_id=client_id, protocol=paho.MQTTv311, transport=transport)
    return paho.Client(client_id=client_id, protocol=paho.MQTTv311, transport=transport)


T = TypeVar("T")


def wait_get(items: "queue.Queue[T]", timeout: float, check: Callable[[], None]) -> Optional[T]:
    """The next item, or None after ``timeout`` seconds; ``check`` raises if the connection went away meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        try:
            return items.get(timeout=max(0.0, min(left, 0.1)))
        except queue.Empty:
            check()
            if left <= 0:
                return None


class Subscription:
    """Messages on one topic filter, in arrival order (or handed to ``callback`` in paho's thread). Close it to unsubscribe."""

    def __init__(self, conn: "Connection", topic_filter: str, callback: Optional[Callable[[Message], None]] = None) -> None:
        self.conn = conn
        self.topic_filter = topic_filter
        self.callback = callback
        self.messages: "queue.Queue[Message]" = queue.Queue()

    def get(self, timeout: float) -> Optional[Message]:
        """The next message, or None when none came within ``timeout`` seconds."""
        return wait_get(self.messages, timeout, self.conn.check)

    def close(self) -> None:
        self.conn.unsubscribe(self)

    def __enter__(self) -> "Subscription":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Connection:
    def __init__(self, address: BrokerAddress, timeout: float = BROKER_TIMEOUT) -> None:
        self.address = address
        self.timeout = timeout
        self._lock = threading.Lock()
        self._subs: list[Subscription] = []
        self._acks: dict[int, threading.Event] = {}
        self._connected = threading.Event()
        self._refused: Optional[int] = None
        self._lost: Optional[str] = None
        self._closed = False
        client = _new_client(f"vgpio2mqtt-py-{uuid.uuid4().hex[:12]}", address.transport)
        if address.transport == "websockets":
            client.ws_set_options(path=address.path)
        if address.tls:
            client.tls_set(cert_reqs=ssl.CERT_REQUIRED)
        if address.username is not None:
            client.username_pw_set(address.username, address.password)
        # paho's thread waits min_delay before it tries again after a refused CONNACK, and loop_stop() waits for
        # that wait: 1 s by default. Short here, so a refused login is reported at once; it still backs off to 30 s.
        client.reconnect_delay_set(min_delay=0.1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        self._client = client
        self._open()

    def _open(self) -> None:
        where = f"the MQTT broker at {self.address.url}"
        try:
            self._client.connect(self.address.host, self.address.port, keepalive=30)
        except OSError as error:
            raise BrokerUnreachable(f"cannot reach {where}: {error.strerror or error}; is the bridge (or the broker) running?") from None
        self._client.loop_start()
        deadline = time.monotonic() + self.timeout
        while not self._connected.is_set() and self._refused is None and time.monotonic() < deadline:
            self._connected.wait(0.05)
        if self._connected.is_set():
            return
        refused = self._refused
        self._stop()
        if refused is not None and refused in _LOGIN_CODES:
            who = f"user {self.address.username!r}" if self.address.username else "an anonymous client"
            raise LoginRefused(
                f"{where} refused the login of {who} (code {refused}: {paho.connack_string(refused) if refused < 6 else 'not authorized'}); "
                "pass username= and password= (or user:password@ in the URL) of a user the broker knows"
            )
        if refused is not None:
            raise BrokerUnreachable(f"{where} refused the connection (code {refused})")
        raise BrokerUnreachable(f"{where} accepted TCP but sent no CONNACK within {self.timeout:g} s; is it an MQTT broker?")

    # paho callbacks: the same positions in paho 1.x and 2.x.
    def _on_connect(self, _client: Any, _userdata: Any, _flags: Any, rc: Any, _props: Any = None) -> None:
        code = _code(rc)
        if code == 0:
            self._connected.set()
            # After a reconnect the broker may have forgotten us: subscribe again.
            with self._lock:
                filters = {s.topic_filter for s in self._subs}
            for topic_filter in filters:
                self._client.subscribe(topic_filter, qos=1)
        else:
            self._refused = code

    def _on_disconnect(self, *args: Any) -> None:
        self._connected.clear()
        if not self._closed:
            self._lost = f"lost the connection to the MQTT broker at {self.address.url} (code {_code(args[-2] if len(args) == 5 else args[-1])})"

    def _on_subscribe(self, _client: Any, _userdata: Any, mid: int, *_rest: Any) -> None:
        with self._lock:
            event = self._acks.pop(mid, None)
        if event is not None:
            event.set()

    def _on_message(self, _client: Any, _userdata: Any, msg: Any) -> None:
        message = Message(str(msg.topic), bytes(msg.payload), bool(msg.retain))
        with self._lock:
            subs = [s for s in self._subs if paho.topic_matches_sub(s.topic_filter, message.topic)]
        for sub in subs:
            if sub.callback is not None:
                sub.callback(message)
            else:
                sub.messages.put(message)

    def check(self) -> None:
        """Raises when the connection is gone (paho reconnects by itself; say so while it is down)."""
        if self._closed:
            raise ConnectionLost("this vgpio2mqtt client is closed")
        if not self._connected.is_set() and self._lost is not None:
            raise ConnectionLost(self._lost)

    def subscribe(self, topic_filter: str, callback: Optional[Callable[[Message], None]] = None) -> Subscription:
        """Subscribes (QoS 1) and returns once the broker acknowledged: nothing published after that is missed."""
        self.check()
        sub = Subscription(self, topic_filter, callback)
        event = threading.Event()
        with self._lock:
            self._subs.append(sub)
            # paho may call on_subscribe before subscribe() returns: hold the lock over both.
            rc, mid = self._client.subscribe(topic_filter, qos=1)
            if rc == 0:
                self._acks[mid] = event
        if rc != 0 or not event.wait(self.timeout):
            self.unsubscribe(sub)
            self.check()
            raise BrokerUnreachable(f"the MQTT broker at {self.address.url} did not acknowledge the subscription to {topic_filter} within {self.timeout:g} s")
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            if sub not in self._subs:
                return
            self._subs.remove(sub)
            still = any(s.topic_filter == sub.topic_filter for s in self._subs)
        if not still and not self._closed:
            self._client.unsubscribe(sub.topic_filter)

    def publish(self, topic: str, payload: str) -> None:
        self.check()
        info = self._client.publish(topic, payload, qos=1)
        if info.rc == 0:
            info.wait_for_publish(self.timeout)
        if info.rc != 0 or not info.is_published():
            self.check()
            raise BrokerUnreachable(f"the MQTT broker at {self.address.url} did not take the message on {topic} within {self.timeout:g} s")

    def _stop(self) -> None:
        self._closed = True
        try:
            self._client.disconnect()
        finally:
            self._client.loop_stop()

    def close(self) -> None:
        if not self._closed:
            self._stop()
