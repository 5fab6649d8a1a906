"""The audit chain in the database: verify it as it streams, sign checkpoints of it, export them.

An event's ``body`` is authoritative (the bytes its hash covers after the previous hash and a
newline); its query columns are computed from it by the database (models.AUDIT_COPY_SQL), so
verifying the chain is hashing bodies. Verification first checks the live schema still computes
those columns from the body; where it does not (a column turned into a plain one), every event's
columns are compared with its body as well, exactly and slowly.

The chain is read a page of seqs at a time. SQLite aggregates each page into a few values: the
stored hashes and previous hashes, each concatenated, and the hashed bytes of every event joined
by 0x1e (canonical JSON escapes every control character); PostgreSQL sends each event's stored
hash and hashed bytes as a row, which costs its server and the client less than aggregating.
Checking a page is then one SHA-256 per event and two comparisons of joined strings, all in C; a
page that does not pass as a whole is read again row by row and walked event by event, which
names the first broken link exactly. ``verify_chain`` reads the next pages on connections of its
own in other threads while it hashes (one on SQLite; two on PostgreSQL, whose server does much
of the reading's work in a process per connection); SQLite and the PostgreSQL client wait
without holding the GIL, so the database's work and the hashing overlap (bench/audit_verify.py).

A consistent rewrite of the whole chain, or a dropped tail, passes the links; signed checkpoints
catch both: the latest one in the database, and any exported to a file kept off the server.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy import func, select

from ..errors import ApiError
from ..models import AUDIT_COPY_SQL, AuditCheckpoint, AuditEvent, AuditHead
from ..rules import chain
from . import audit

EXPORT_FORMAT = "lianduinspect.audit-checkpoints.v1"
BATCH = 5000
READ_AHEAD = 2  # pages read ahead of the one being hashed
READERS = {"postgresql": 2}  # connections reading ahead (one where not named)
COPY_COLUMNS = ("at", "actor_id", "action", "subject_type", "subject_id", "data")

# One page (seq > low AND seq <= high), in seq order: each event's stored hash and the bytes its
# hash covers (previous hash, newline, body), which begin with the stored previous hash. SQLite
# aggregates the page into three values (the hashes joined by commas, the previous hashes likewise,
# the hashed bytes joined by 0x1e; it keeps every byte, a NUL included), scanning a rowid range
# (seq is the rowid); PostgreSQL sends the rows, an index scan in seq order: aggregating them
# there cost a microsecond per row and value on the server and more to send than the rows
# (bench/audit_verify.py). Should either ever hand the rows over in another order, the page fails
# its check and is walked row by row: slower, never wrong.
_PAGE_SQL = {
    "sqlite": (
        "SELECT count(*), group_concat(hash, ','), group_concat(prev_hash, ','),"
        " CAST(group_concat(prev_hash || x'0a' || body, x'1e') AS BLOB)"
        " FROM audit_events WHERE seq > ? AND seq <= ?"
    ),
    "postgresql": (
        "SELECT hash, convert_to(prev_hash, 'UTF8') || '\\x0a'::bytea || body"
        " FROM audit_events WHERE seq > %s AND seq <= %s ORDER BY seq"
    ),
}
_SEPARATOR = b"\x1e"
# Copying a fresh context is faster than making one: OpenSSL 3 looks the algorithm up on every
# new context (bench/audit_verify.py measures both ways as the floor and takes the faster).
_FRESH_SHA256 = hashlib.sha256()

# The functions PostgreSQL's generated columns call, as the migration defines them.
_PG_FUNCTIONS = {
    "audit_body": " SELECT convert_from($1, 'UTF8')::json ",
    "audit_body_time": " SELECT $1::timestamptz ",
}

Row = tuple[int, str, str, bytes, "str | None"]  # seq, prev_hash, hash, body, a copy column that disagrees


@dataclass(frozen=True)
class CheckpointCheck:
    """How the chain fared against one signed checkpoint."""

    source: str  # "database #id" or the export file's path
    length: int
    at: str
    ok: bool
    reason: str | None = None  # checkpoint_signature | checkpoint_truncated | checkpoint_mismatch | checkpoint_unreached


@dataclass
class ChainReport:
    """The outcome of verifying the stored chain: the first problem found, if any."""

    ok: bool
    count: int
    last_seq: int
    head_hash: str
    broken_seq: int | None = None
    reason: str | None = None
    detail: str | None = None
    checkpoints: list[CheckpointCheck] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """Return the one-line summary the CLI ends with."""
        if self.ok:
            checked = [c for c in self.checkpoints if c.ok]
            suffix = (f"; matches {len(checked)} signed checkpoint(s), the latest at event {max(c.length for c in checked):,}"
                      if checked else "; no signed checkpoint to compare")
            return f"audit chain OK: {self.count:,} events, head {self.head_hash[:16]}…{suffix}"
        where = f" at seq {self.broken_seq}" if self.broken_seq is not None else ""
        return f"audit chain BROKEN{where}: {self.reason} — {self.detail}"


# --- walking rows one by one (the exact path) ----------------------------------------------------


def walk(rows: Iterable[Row], *, start_prev: str = chain.GENESIS_HASH, start_seq: int = 1,
         checkpoints_at: Iterable[int] = ()) -> chain.VerifyResult:
    """Verify stored rows in seq order, one by one; stop at the first broken link and name it."""
    wanted = frozenset(checkpoints_at)
    hashes_at: dict[int, str] = {}
    if start_seq - 1 in wanted:
        hashes_at[start_seq - 1] = start_prev
    prev = start_prev
    expected = start_seq

    def broken(seq: int, reason: str, detail: str) -> chain.VerifyResult:
        return chain.VerifyResult(ok=False, count=expected - start_seq, head_hash=prev, first_broken_seq=seq,
                                  reason=reason, last_seq=expected - 1, detail=detail, hashes_at=hashes_at)

    for seq, stored_prev, stored_hash, body, differing in rows:
        if seq != expected:
            if seq > expected:
                missing = f"{expected}" if seq == expected + 1 else f"{expected}..{seq - 1}"
                return broken(expected, "seq_gap", f"event {missing} missing: next stored is {seq}")
            return broken(expected, "seq_order", f"expected event {expected}, found seq {seq}")
        if stored_prev != prev:
            return broken(seq, "prev_mismatch", f"event {seq} does not link to event {seq - 1}'s hash "
                                                f"(one of the two was altered)")
        digest = hashlib.sha256((prev + "\n").encode("ascii") + body).hexdigest()
        if digest != stored_hash:
            return broken(seq, "hash_mismatch", f"event {seq}'s content or stored hash was altered")
        if differing is not None:
            return broken(seq, "copy_mismatch", f"event {seq}'s {differing} column differs from its hashed body")
        prev = digest
        if seq in wanted:
            hashes_at[seq] = digest
        expected += 1
    return chain.VerifyResult(ok=True, count=expected - start_seq, head_hash=prev, first_broken_seq=None,
                              reason=None, last_seq=expected - 1, hashes_at=hashes_at)


def _as_bytes(value) -> bytes:
    """Return a stored body as the bytes it holds (SQLite keeps what it was given, text included)."""
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def _differing_column(row, body: bytes) -> str | None:
    """Name the first query column of a row that disagrees with its body, or None."""
    try:
        content = json.loads(body)
    except ValueError:
        return "body"
    if not isinstance(content, dict):
        return "body"
    try:
        at = datetime.fromisoformat(content.get("at"))
    except (TypeError, ValueError):
        return "at"
    for column, ok in (("at", at == row.at), ("actor_id", content.get("actor_id") == row.actor_id),
                       ("action", content.get("action") == row.action),
                       ("subject_type", content.get("subject_type") == row.subject_type),
                       ("subject_id", content.get("subject_id") == row.subject_id),
                       ("data", content.get("data") == row.data)):
        if not ok:
            return column
    return None


def stream_rows(session, *, after_seq: int = 0, upto_seq: int | None = None, batch: int = BATCH,
                copies: bool = False) -> Iterator[Row]:
    """Yield stored rows in seq order, ``batch`` seqs at a time, for the exact walk.

    With ``copies`` each row also names the first query column that disagrees with its body (the
    schema no longer computes them). Each page is one query over a range of seqs; an empty range
    skips to the next stored event, so a head row claiming far more events is answered at once.
    """
    if upto_seq is None:
        upto_seq = session.scalar(select(func.max(AuditEvent.seq))) or 0
    columns = [AuditEvent.seq, AuditEvent.prev_hash, AuditEvent.hash, AuditEvent.body]
    if copies:
        columns += [getattr(AuditEvent, name) for name in COPY_COLUMNS]
    low = after_seq
    while low < upto_seq:
        high = min(low + batch, upto_seq)
        part = session.execute(select(*columns).where(AuditEvent.seq > low, AuditEvent.seq <= high)
                               .order_by(AuditEvent.seq)).all()
        for row in part:
            body = _as_bytes(row.body)
            yield row.seq, row.prev_hash, row.hash, body, _differing_column(row, body) if copies else None
        if not part:  # events are missing here: go on from the next one stored, if any
            following = session.scalar(select(func.min(AuditEvent.seq))
                                       .where(AuditEvent.seq > high, AuditEvent.seq <= upto_seq))
            if following is None:
                return
            high = following - 1
        low = high


# --- the schema's promise --------------------------------------------------------------------------


def _normalized(expression: str) -> str:
    """PostgreSQL deparses an expression with its own parentheses and casts; compare without them."""
    return re.sub(r"[()\s]|::text\b", "", expression)


def uncomputed_copies(session) -> list[str]:
    """Return the audit query columns the live schema does not compute from the body as written."""
    connection = session.connection()
    dialect = connection.dialect.name
    expected = AUDIT_COPY_SQL.get(dialect)
    if expected is None:
        return list(COPY_COLUMNS)
    if dialect == "sqlite":
        hidden = {row[1]: row[6] for row in connection.exec_driver_sql("PRAGMA table_xinfo(audit_events)")}
        sql = connection.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'audit_events'").scalar() or ""
        return [name for name in COPY_COLUMNS
                if hidden.get(name) not in (2, 3)
                or not re.search(rf"\b{name}\b[^,]*? GENERATED ALWAYS AS \({re.escape(expected[name])}\)", sql)]
    generated = {row[0]: (row[1], row[2] or "") for row in connection.exec_driver_sql(
        "SELECT a.attname, a.attgenerated, pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a"
        " LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
        " WHERE a.attrelid = 'audit_events'::regclass AND a.attnum > 0 AND NOT a.attisdropped")}
    functions = dict(connection.exec_driver_sql(
        "SELECT p.proname, p.prosrc FROM pg_proc p JOIN pg_class c ON c.relnamespace = p.pronamespace"
        " WHERE c.oid = 'audit_events'::regclass AND p.proname IN ('audit_body', 'audit_body_time')").all())
    if any(functions.get(name) != source for name, source in _PG_FUNCTIONS.items()):
        return list(COPY_COLUMNS)
    return [name for name in COPY_COLUMNS
            if generated.get(name, ("", ""))[0] not in ("s", "v")
            or _normalized(generated[name][1]) != _normalized(expected[name])]


# --- reading and checking pages ------------------------------------------------------------------


def _check_page(page, prev: str, size: int) -> str | None:
    """Return a full page's hashes (hex, comma-separated) if every event in it links and hashes, else None.

    ``page`` is ``(hashes, prefixes, pieces)`` (:func:`_page_parts`): the stored hashes joined by
    commas; each event's stored previous hash and a newline, joined by commas, as bytes; and each
    event's hashed bytes. The computed hashes, joined the same way, must equal the stored ones; the
    previous hashes must be the previous page's last hash followed by this page's all but last.
    """
    hashes, prevs, pieces = page
    if len(pieces) != size:
        return None
    digests: list[bytes] = []
    append, fresh = digests.append, _FRESH_SHA256.copy
    for piece in pieces:
        hasher = fresh()
        hasher.update(piece)
        append(hasher.digest())
    listed = b"".join(digests).hex(",", 32)  # "h1,h2,...": a comma between every 32 bytes
    inner = listed[:-65].replace(",", "\n,")  # the page's hashes but the last, each then a newline
    linked = f"{prev}\n,{inner}\n" if size > 1 else f"{prev}\n"
    if listed != hashes or prevs != linked.encode("ascii"):
        return None
    return listed


def _page_parts(dialect: str, result) -> tuple[str, bytes, list[bytes]]:
    """Return a fetched page as (hashes joined by commas, each previous hash and a newline joined by
    commas, hashed bytes per event)."""
    if dialect == "postgresql":
        pieces = [record for _, record in result]
        # Each piece begins with its stored previous hash and a newline: 64 hex digits and b"\n"
        # where it links, anything else where it does not.
        return ",".join([hash_ for hash_, _ in result]), b",".join([piece[:65] for piece in pieces]), pieces
    count, hashes, prevs, joined = result[0]
    if not count or joined is None:
        return "", b"", []
    pieces = bytes(joined).split(_SEPARATOR)
    if len(pieces) != count:  # a body holds the separator: walk the page row by row
        return "", b"", []
    # "p1,p2" becomes "p1\n,p2\n", as the pieces begin (one-to-one: a newline before every comma).
    return hashes, prevs.encode().replace(b",", b"\n,") + b"\n", pieces


def _ranges(after_seq: int, upto_seq: int, batch: int) -> Iterator[tuple[int, int]]:
    for low in range(after_seq, upto_seq, batch):
        yield low, min(low + batch, upto_seq)


def _fetch_rows(cursor, dialect: str, low: int, high: int) -> list:
    cursor.execute(_PAGE_SQL[dialect], (low, high))
    return cursor.fetchall()


def _fetch_page(cursor, dialect: str, low: int, high: int) -> tuple[str, bytes, list[bytes]]:
    return _page_parts(dialect, _fetch_rows(cursor, dialect, low, high))


def _raw_cursor(driver_connection, dialect: str):
    """Return a cursor for page queries: bytea and ints as they are on PostgreSQL (SQLite's give
    bytes for blobs already), planned as an index scan in seq order, never a sort (a fresh table
    without statistics was planned as a bitmap scan and a sort: twice the time)."""
    if dialect != "postgresql":
        return driver_connection.cursor()
    cursor = driver_connection.cursor(binary=True)
    cursor.execute("SET LOCAL enable_sort = off")  # until this transaction ends
    return cursor


def _pages(session, after_seq: int, upto_seq: int, batch: int, read_ahead: bool
           ) -> Iterator[tuple[int, int, tuple]]:
    """Yield (low, high, page parts) in order; read ahead on a connection of its own if asked."""
    connection = session.connection()
    dialect = connection.dialect.name
    engine = connection.engine
    in_memory = dialect == "sqlite" and engine.url.database in (None, "", ":memory:")
    if not read_ahead or in_memory:
        cursor = _raw_cursor(connection.connection.driver_connection, dialect)
        try:
            for low, high in _ranges(after_seq, upto_seq, batch):
                yield low, high, _fetch_page(cursor, dialect, low, high)
        finally:
            if dialect == "postgresql":
                cursor.execute("SET LOCAL enable_sort TO DEFAULT")  # the rest of the caller's transaction
            cursor.close()
        return
    # Only events up to upto_seq are read, and they never change: other connections see them.
    # PostgreSQL reads with two, in two server processes (its per-page work is the larger part).
    readers = READERS.get(dialect, 1)
    local, opened = threading.local(), []

    def fetch(low: int, high: int):
        if not hasattr(local, "cursor"):
            raw = engine.raw_connection()
            opened.append(raw)
            local.cursor = _raw_cursor(raw.driver_connection, dialect)
        # The rows only: cutting them into parts needs the GIL, which the hashing thread holds, while
        # the query runs without it (SQLite's aggregates, PostgreSQL's wait for the server).
        return _fetch_rows(local.cursor, dialect, low, high)

    pending: deque = deque()
    try:
        with ThreadPoolExecutor(readers, thread_name_prefix="audit-read") as reader:
            ranges = _ranges(after_seq, upto_seq, batch)
            try:
                for low, high in ranges:
                    pending.append((low, high, reader.submit(fetch, low, high)))
                    if len(pending) > READ_AHEAD + readers - 1:
                        break
                while pending:
                    low, high, future = pending.popleft()
                    following = next(ranges, None)
                    if following is not None:
                        pending.append((*following, reader.submit(fetch, *following)))
                    yield low, high, _page_parts(dialect, future.result())
            finally:
                for *_, future in pending:
                    future.cancel()
    finally:
        for raw in opened:
            raw.close()


def walk_stored(session, *, after_seq: int = 0, upto_seq: int, start_prev: str = chain.GENESIS_HASH,
                checkpoints_at: Iterable[int] = (), batch: int = BATCH, read_ahead: bool = False,
                progress: Callable[[int], None] | None = None, compare_copies: bool | None = None
                ) -> chain.VerifyResult:
    """Verify the stored events after ``after_seq`` up to ``upto_seq``, a page at a time.

    ``compare_copies`` (default: whether the schema no longer computes some query column from the
    body) walks every event on its own, comparing its query columns with its body.
    """
    wanted = sorted(set(checkpoints_at))
    if compare_copies is None:
        compare_copies = bool(uncomputed_copies(session))
    if compare_copies:
        rows = stream_rows(session, after_seq=after_seq, upto_seq=upto_seq, batch=batch, copies=True)
        return walk(rows, start_prev=start_prev, start_seq=after_seq + 1, checkpoints_at=wanted)
    hashes_at: dict[int, str] = {after_seq: start_prev} if after_seq in wanted else {}
    prev, last = start_prev, after_seq
    pages = _pages(session, after_seq, upto_seq, batch, read_ahead)
    try:
        for low, high, page in pages:
            digests = _check_page(page, prev, high - low)
            if digests is not None:
                for seq in wanted:
                    if low < seq <= high:
                        hashes_at[seq] = digests[(seq - low - 1) * 65:(seq - low - 1) * 65 + 64]
                prev, last = digests[-64:], high
                if progress:
                    progress(high - low)
                continue
            # Walk this page event by event, and the next stored event if the page ends short.
            rows = list(stream_rows(session, after_seq=low, upto_seq=high, batch=high - low))
            if not rows or rows[-1][0] < high:
                following = session.scalar(select(func.min(AuditEvent.seq))
                                           .where(AuditEvent.seq > high, AuditEvent.seq <= upto_seq))
                if following is not None:
                    rows += list(stream_rows(session, after_seq=following - 1, upto_seq=following))
            result = walk(rows, start_prev=prev, start_seq=low + 1, checkpoints_at=wanted)
            hashes_at.update(result.hashes_at)
            if not result.ok or result.last_seq < high:
                return chain.VerifyResult(ok=result.ok, count=result.last_seq - after_seq, head_hash=result.head_hash,
                                          first_broken_seq=result.first_broken_seq, reason=result.reason,
                                          last_seq=result.last_seq, detail=result.detail, hashes_at=hashes_at)
            prev, last = result.head_hash, high
            if progress:
                progress(high - low)
    finally:
        pages.close()
    return chain.VerifyResult(ok=True, count=last - after_seq, head_hash=prev, first_broken_seq=None, reason=None,
                              last_seq=last, hashes_at=hashes_at)


# --- keys ----------------------------------------------------------------------------------------


def signing_key(path: str):
    """Return the server's Ed25519 checkpoint key, generating it once with owner-only permissions."""
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(chain.generate_key())
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, path)  # atomic: a second host or worker racing us keeps the first key
            except FileExistsError:
                pass
        finally:
            os.unlink(tmp)
    with open(path, "rb") as fh:
        return chain.load_private_key(fh.read())


def public_key(path: str):
    """Return the public half of the server's key, or None when there is no key file."""
    if not os.path.exists(path):
        return None
    with open(path, "rb") as fh:
        return chain.load_private_key(fh.read()).public_key()


def _verified(signed: dict, key) -> bool:
    return key is not None and chain.verify_checkpoint_signature(signed, key)


# --- verify, checkpoint, export --------------------------------------------------------------------


def chain_length(session) -> int:
    """Return the number of events the head row says the chain has."""
    return session.scalar(select(AuditHead.seq).where(AuditHead.id == 1)) or 0


def read_export(path: str) -> dict:
    """Read an exported checkpoint file; a malformed one is a ValueError naming the problem."""
    with open(path, encoding="utf-8") as fh:
        doc = json.load(fh)
    if not isinstance(doc, dict) or doc.get("format") != EXPORT_FORMAT:
        raise ValueError(f"not a {EXPORT_FORMAT} file")
    if not isinstance(doc.get("checkpoints"), list) or not isinstance(doc.get("public_key"), str):
        raise ValueError("the file lacks its checkpoints or its public key")
    chain.load_public_key(doc["public_key"])
    return doc


def verify_chain(session, *, public_key=None, exported: dict | None = None, source: str = "export file",
                 progress: Callable[[int], None] | None = None, batch: int = BATCH,
                 read_ahead: bool = True) -> ChainReport:
    """Walk the whole chain and check it against the latest stored and any exported checkpoints."""
    head = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one()
    claims: list[tuple[str, dict, bool]] = []  # (source, signed, signature ok)
    notes: list[str] = []
    latest = session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc()).limit(1)).first()
    if latest is not None:
        if public_key is None:
            notes.append(f"checkpoint #{latest.id}: signature not checked (no signing key on this server)")
            claims.append((f"database #{latest.id}", latest.signed, True))
        else:
            claims.append((f"database #{latest.id}", latest.signed, _verified(latest.signed, public_key)))
    if exported is not None:
        file_key = chain.load_public_key(exported["public_key"])
        if public_key is not None and chain.key_fingerprint(file_key) != chain.key_fingerprint(public_key):
            notes.append(f"{source}: signed by another key than this server's (rotated, or replaced)")
        for signed in exported["checkpoints"]:
            claims.append((source, signed, _verified(signed, file_key)))

    wanted = set()
    for _source, signed, valid in claims:
        if valid:
            wanted.add(signed["payload"]["length"])
    uncomputed = uncomputed_copies(session)
    if uncomputed:
        notes.append(f"the {', '.join(uncomputed)} column(s) are no longer computed from the body by the database "
                     f"(the schema was altered): each event's columns were compared with its body")
    result = walk_stored(session, upto_seq=head.seq, checkpoints_at=wanted, batch=batch, read_ahead=read_ahead,
                         progress=progress, compare_copies=bool(uncomputed))
    report = ChainReport(ok=result.ok, count=result.count, last_seq=result.last_seq, head_hash=result.head_hash,
                         broken_seq=result.first_broken_seq, reason=result.reason, detail=result.detail, notes=notes)
    if result.ok and (result.last_seq != head.seq or result.head_hash != head.hash):
        report.ok = False
        if result.last_seq < head.seq:
            report.broken_seq, report.reason = result.last_seq + 1, "seq_gap"
            report.detail = f"events {result.last_seq + 1}..{head.seq} missing: the head row counts {head.seq}"
        else:
            report.broken_seq, report.reason = head.seq, "head_mismatch"
            report.detail = "the head row does not name the last event's hash"

    matched_below = 0
    for src, signed, valid in sorted(claims, key=lambda c: c[1]["payload"]["length"] if c[2] else -1):
        payload = signed.get("payload", {}) if isinstance(signed, dict) else {}
        length, at = payload.get("length", -1), str(payload.get("at", "?"))
        if not valid:
            report.checkpoints.append(CheckpointCheck(src, length, at, False, "checkpoint_signature"))
        elif not result.ok and length > result.last_seq:
            report.checkpoints.append(CheckpointCheck(src, length, at, False, "checkpoint_unreached"))
        else:
            ok, reason = chain.check_against_checkpoint(signed, result.hashes_at.get(length), result.last_seq)
            report.checkpoints.append(CheckpointCheck(src, length, at, ok, reason))
            if ok:
                matched_below = max(matched_below, length)
    if report.ok:
        for check in report.checkpoints:
            if check.ok:
                continue
            report.ok = False
            report.reason = check.reason
            if check.reason == "checkpoint_signature":
                report.detail = f"a checkpoint from {check.source} is not signed by its key (forged or damaged)"
            elif check.reason == "checkpoint_truncated":
                report.broken_seq = result.last_seq + 1
                report.detail = (f"the chain ends at event {result.last_seq} but {check.source} signed "
                                 f"{check.length} events at {check.at}: the tail was removed")
            else:
                report.detail = (f"events {matched_below + 1}..{check.length} differ from what {check.source} "
                                 f"signed at {check.at}: the chain was rewritten")
            break
    return report


def make_checkpoint(session, *, now: datetime, key) -> AuditCheckpoint:
    """Sign the chain's length and head hash after verifying the events since the last checkpoint."""
    head = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one()
    public = key.public_key()
    latest = None
    for row in session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc())):
        if _verified(row.signed, public):
            latest = row
            break
    if latest is not None and (latest.length, latest.head_hash) == (head.seq, head.hash):
        return latest  # nothing happened since: running the job twice signs once
    if latest is not None and head.seq == latest.length + 1:
        # The only event since is the one recording that checkpoint itself: nothing to sign anew.
        only = session.execute(select(AuditEvent.action, AuditEvent.subject_id)
                               .where(AuditEvent.seq == head.seq)).one_or_none()
        if only is not None and (only.action, only.subject_id) == ("audit.checkpoint", str(latest.id)):
            return latest
    start_seq, start_prev = 0, chain.GENESIS_HASH
    if latest is not None:
        if latest.length > head.seq:
            raise ApiError("audit.broken", details={"seq": head.seq + 1, "reason": "checkpoint_truncated"})
        start_seq, start_prev = latest.length, latest.head_hash
    # In the checkpoint's own transaction: events since the last checkpoint (a day's), read in it.
    result = walk_stored(session, after_seq=start_seq, upto_seq=head.seq, start_prev=start_prev)
    if not result.ok or result.last_seq != head.seq or result.head_hash != head.hash:
        raise ApiError("audit.broken", details={"seq": result.first_broken_seq or result.last_seq + 1,
                                                "reason": result.reason or "head_mismatch"})
    signed = chain.sign_checkpoint(
        chain.Checkpoint(length=head.seq, head_hash=head.hash, at=now.astimezone(timezone.utc).isoformat()), key)
    row = AuditCheckpoint(length=head.seq, head_hash=head.hash, at=now, signed=signed)
    session.add(row)
    session.flush()
    audit.record(session, None, "audit.checkpoint", "audit_checkpoint", row.id,
                 {"length": head.seq, "head_hash": head.hash, "key_fingerprint": signed["key_fingerprint"]}, now=now)
    return row


def export_checkpoints(session, actor, *, now: datetime, key) -> dict:
    """Return every checkpoint this key signed, with its public key, for keeping off the server."""
    public = key.public_key()
    rows = [row for row in session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id))
            if _verified(row.signed, public)]
    doc = {
        "format": EXPORT_FORMAT,
        "public_key": chain.public_key_pem(key).decode("ascii"),
        "key_fingerprint": chain.key_fingerprint(public),
        "exported_at": now.astimezone(timezone.utc).isoformat(),
        "checkpoints": [row.signed for row in rows],
    }
    audit.record(session, actor, "audit.export", "audit_checkpoint", "*",
                 {"count": len(rows), "latest_length": rows[-1].length if rows else 0,
                  "key_fingerprint": doc["key_fingerprint"]}, now=now)
    return doc


__all__ = ["ChainReport", "CheckpointCheck", "chain_length", "export_checkpoints", "make_checkpoint",
           "public_key", "read_export", "signing_key", "stream_rows", "uncomputed_copies", "verify_chain", "walk",
           "walk_stored"]
