"""A deliberately non-idempotent endpoint: every POST appends a row, with no client key to dedupe on.

It exists only so the network test can show that its proxy really does cause duplicates where a
protocol has no idempotency: the server commits, the answer is cut, the client retries.
"""
from __future__ import annotations

import os
import sqlite3


def app(environ, start_response):
    path = os.environ["NAIVE_DB"]
    if environ["PATH_INFO"] == "/healthz":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length)
    conn = sqlite3.connect(path, timeout=30)
    with conn:
        conn.execute("CREATE TABLE IF NOT EXISTS rows (body TEXT)")
        conn.execute("INSERT INTO rows (body) VALUES (?)", (body.decode(),))
    conn.close()
    start_response("201 Created", [("Content-Type", "text/plain"), ("Content-Length", "2048")])
    return [b"x" * 2048]  # long enough for the proxy to cut it part-way
