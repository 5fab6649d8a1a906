"""A small TCP proxy that cuts connections mid-request and mid-response at random (seeded).

It forwards bytes between a client and a server and, for a share of connections, closes both
sides after a random number of bytes in one direction: before the server has the whole request,
or after the server has answered but before the client has the whole response. The latter is the
case that makes a non-idempotent endpoint write twice.
"""
from __future__ import annotations

import random
import socket
import threading
from dataclasses import dataclass, field


@dataclass
class CutStats:
    connections: int = 0
    cut_in_request: int = 0
    cut_in_response: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class ChaosProxy:
    """Listen on 127.0.0.1, forward to the upstream port, and cut some connections short."""

    def __init__(self, upstream_port: int, *, seed: int, cut_share: float = 0.3):
        self.upstream_port = upstream_port
        self.random = random.Random(seed)
        self.cut_share = cut_share
        self.stats = CutStats()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._rand_lock = threading.Lock()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._listener.close()
        self._thread.join(timeout=5)

    def _plan(self) -> tuple[str | None, int]:
        """Decide for one connection: no cut, or cut the request or response after n bytes."""
        with self._rand_lock:
            if self.random.random() >= self.cut_share:
                return None, 0
            where = self.random.choice(("request", "response"))
            return where, self.random.randint(1, 4000)

    def _accept(self):
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self.stats.lock:
                self.stats.connections += 1
            where, after = self._plan()
            threading.Thread(target=self._serve, args=(client, where, after), daemon=True).start()

    def _serve(self, client: socket.socket, where: str | None, after: int):
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=30)
        except OSError:
            client.close()
            return
        done = threading.Event()

        def pump(src, dst, direction):
            sent = 0
            limit = after if where == direction else None
            try:
                while not done.is_set():
                    data = src.recv(65536)
                    if not data:
                        break
                    if limit is not None and sent + len(data) >= limit:
                        dst.sendall(data[: max(0, limit - sent)])
                        with self.stats.lock:
                            if direction == "request":
                                self.stats.cut_in_request += 1
                            else:
                                self.stats.cut_in_response += 1
                        break
                    dst.sendall(data)
                    sent += len(data)
            except OSError:
                pass
            finally:
                done.set()
                for s in (client, upstream):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        forward = threading.Thread(target=pump, args=(client, upstream, "request"), daemon=True)
        forward.start()
        pump(upstream, client, "response")
        forward.join(timeout=30)
        client.close()
        upstream.close()
