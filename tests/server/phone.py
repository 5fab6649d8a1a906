"""A phone as the sync protocol sees it: an ordered outbox replayed one entry at a time over plain HTTP.

Each request uses a fresh connection, so a cut connection is simply an error to retry. An entry
leaves the outbox only after the server acknowledged it (2xx); 401 signs in again and carries on.
"""
from __future__ import annotations

import hashlib
import http.client
import json
import time
from dataclasses import dataclass, field


class Retry(Exception):
    """The exchange failed in a way a phone retries (network error, cut, 5xx)."""


@dataclass
class Phone:
    port: int
    username: str
    password: str
    cookie: str | None = None
    csrf: str | None = None
    outbox: list = field(default_factory=list)
    attempts: int = 0
    retries: int = 0
    set_aside: list = field(default_factory=list)

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        """Send one request on a new connection; network failures and 5xx raise Retry."""
        headers = dict(headers or {})
        headers["Connection"] = "close"
        if self.cookie:
            headers["Cookie"] = self.cookie
        if self.csrf and method not in ("GET", "HEAD"):
            headers["X-CSRF-Token"] = self.csrf
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as err:
            raise Retry(repr(err)) from None
        finally:
            conn.close()
        if response.status >= 500:
            raise Retry(f"{response.status}")
        return response, data

    def login(self):
        body = json.dumps({"username": self.username, "password": self.password}).encode()
        response, data = self.request("POST", "/api/v1/auth/login", body, {"Content-Type": "application/json"})
        assert response.status == 200, data
        cookie = response.getheader("Set-Cookie").split(";", 1)[0]
        self.cookie = cookie
        self.csrf = json.loads(data)["csrf_token"]

    def queue_inspection(self, uuid: str, body: dict):
        self.outbox.append(("inspection", uuid, body))

    def queue_photo(self, data: bytes):
        self.outbox.append(("photo", hashlib.sha256(data).hexdigest(), data))

    def _send(self, kind, key, payload) -> tuple[int, bytes]:
        if kind == "inspection":
            response, data = self.request("PUT", f"/api/v1/inspections/{key}", json.dumps(payload).encode(),
                                          {"Content-Type": "application/json"})
            return response.status, data
        # Photos resume where the server stopped: ask how much it holds, send the rest.
        response, data = self.request("HEAD", f"/api/v1/evidence/{key}")
        if response.status == 401:
            return 401, data
        if response.getheader("Upload-Complete") == "1":
            return 200, data
        offset = int(response.getheader("Upload-Offset") or 0)
        response, data = self.request("PATCH", f"/api/v1/evidence/{key}", payload[offset:], {
            "Content-Type": "application/offset+octet-stream", "Upload-Offset": str(offset),
            "Upload-Length": str(len(payload))})
        return response.status, data

    def flush(self, deadline: float):
        """Replay the outbox in order until it is empty or the deadline passes."""
        backoff = 0.02
        while self.outbox and time.monotonic() < deadline:
            kind, key, payload = self.outbox[0]
            self.attempts += 1
            try:
                if self.cookie is None:
                    self.login()
                status, data = self._send(kind, key, payload)
            except Retry:
                self.retries += 1
                time.sleep(backoff)
                backoff = min(backoff * 2, 0.5)
                continue
            backoff = 0.02
            if status == 401:
                self.cookie = None  # sign in again, then carry on; nothing is dropped
                continue
            if status == 409 and kind == "photo":
                continue  # offset moved under us (a cut after the append): ask again
            if 200 <= status < 300:
                self.outbox.pop(0)
            else:
                self.set_aside.append((kind, key, status, data[:300]))
                self.outbox.pop(0)
