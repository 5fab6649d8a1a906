"""The audit chain in the database: verify it as it streams, sign checkpoints of it, export them.

Verification reads ``(seq, prev_hash, hash, body, copy)`` per event in seq order. ``body`` is the
authoritative content (the bytes the hash covers); ``copy`` is the same canonical JSON rebuilt
by the database from the query columns, so checking that the copies agree is one bytes
comparison, not a JSON encoding. When they differ (a changed copy, or a quoting nuance of the
database's JSON functions) the event is examined exactly with one ``json.loads``.

A consistent rewrite of the whole chain, or a dropped tail, passes the links; signed checkpoints
catch both: the latest one in the database, and any exported to a file kept off the server.
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy import func, select

from ..errors import ApiError
from ..models import AuditCheckpoint, AuditEvent, AuditHead
from ..rules import chain
from . import audit

EXPORT_FORMAT = "lianduinspect.audit-checkpoints.v1"
BATCH = 5000

# The canonical body ({"action", "actor_id", "at", "data", "seq", "subject_id", "subject_type"},
# keys sorted, no spaces) rebuilt from the copy columns, as bytes. `at` is stored by SQLAlchemy
# on SQLite as "YYYY-MM-DD HH:MM:SS.ffffff" (UTC); the body writes it with a "T" and "+00:00".
_COPY_SQL = {
    "sqlite": (
        "CAST('{\"action\":' || json_quote(action) || ',\"actor_id\":' || coalesce(actor_id, 'null')"
        " || ',\"at\":\"' || replace(at, ' ', 'T') || '+00:00\",\"data\":' || data"
        " || ',\"seq\":' || seq || ',\"subject_id\":' || json_quote(subject_id)"
        " || ',\"subject_type\":' || json_quote(subject_type) || '}' AS BLOB)"
    ),
    "postgresql": (
        "convert_to('{\"action\":' || to_json(action)::text || ',\"actor_id\":'"
        " || coalesce(actor_id::text, 'null') || ',\"at\":\"'"
        " || to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') || '+00:00\",\"data\":'"
        " || data::text || ',\"seq\":' || seq::text || ',\"subject_id\":' || to_json(subject_id)::text"
        " || ',\"subject_type\":' || to_json(subject_type)::text || '}', 'UTF8')"
    ),
}

Row = tuple[int, str, str, bytes, bool]  # seq, prev_hash, hash, body, do the copy columns rebuild body?


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


# --- walking the rows ----------------------------------------------------------------------------


def walk(rows: Iterable[Row], *, start_prev: str = chain.GENESIS_HASH, start_seq: int = 1,
         checkpoints_at: Iterable[int] = (), recheck: Callable[[int, bytes], str | None] | None = None
         ) -> chain.VerifyResult:
    """Verify stored rows in seq order, in one pass; stop at the first broken link.

    ``recheck(seq, body)`` names the copy column that disagrees with the body (or None when the
    difference was only in quoting); it runs only for rows whose rebuilt copy differs.
    """
    wanted = frozenset(checkpoints_at)
    hashes_at: dict[int, str] = {}
    if start_seq - 1 in wanted:
        hashes_at[start_seq - 1] = start_prev
    prev = start_prev
    link = (prev + "\n").encode("ascii")
    expected = start_seq
    sha256 = hashlib.sha256

    def broken(seq: int, reason: str, detail: str) -> chain.VerifyResult:
        return chain.VerifyResult(ok=False, count=expected - start_seq, head_hash=prev, first_broken_seq=seq,
                                  reason=reason, last_seq=expected - 1, detail=detail, hashes_at=hashes_at)

    # Flat on purpose: it runs once per stored event, and its cost should be the hash.
    for seq, stored_prev, stored_hash, body, copies_agree in rows:
        if seq != expected:
            if seq > expected:
                missing = f"{expected}" if seq == expected + 1 else f"{expected}..{seq - 1}"
                return broken(expected, "seq_gap", f"event {missing} missing: next stored is {seq}")
            return broken(expected, "seq_order", f"expected event {expected}, found seq {seq}")
        if stored_prev != prev:
            return broken(seq, "prev_mismatch", f"event {seq} does not link to event {seq - 1}'s hash "
                                                f"(one of the two was altered)")
        hasher = sha256(link)
        hasher.update(body)  # no copy of the body into a joined buffer
        digest = hasher.hexdigest()
        if digest != stored_hash:
            return broken(seq, "hash_mismatch", f"event {seq}'s content or stored hash was altered")
        if not copies_agree:
            column = recheck(seq, body) if recheck else "copy"
            if column is not None:
                return broken(seq, "copy_mismatch", f"event {seq}'s {column} column differs from its hashed body")
        prev = digest
        link = (digest + "\n").encode("ascii")
        if seq in wanted:
            hashes_at[seq] = digest
        expected += 1
    return chain.VerifyResult(ok=True, count=expected - start_seq, head_hash=prev, first_broken_seq=None,
                              reason=None, last_seq=expected - 1, hashes_at=hashes_at)


def _page_sql(dialect: str) -> str:
    """Return the query reading the rows of one seq range, in this database's DBAPI parameter style."""
    copy = _COPY_SQL.get(dialect, "NULL")
    if dialect == "sqlite":
        # A body stored as text (by hand) is read as the bytes it holds; `IS` is never NULL.
        return (f"SELECT seq, prev_hash, hash, CAST(body AS BLOB), ({copy}) IS CAST(body AS BLOB) FROM audit_events"
                " WHERE seq > ? AND seq <= ? ORDER BY seq")
    return (f"SELECT seq, prev_hash, hash, body, ({copy}) IS NOT DISTINCT FROM body FROM audit_events"
            " WHERE seq > %s AND seq <= %s ORDER BY seq")


def stream_rows(session, *, after_seq: int = 0, upto_seq: int | None = None, batch: int = BATCH,
                progress: Callable[[int], None] | None = None) -> Iterator[Row]:
    """Yield stored rows in seq order, ``batch`` seqs at a time, each with whether its copies agree.

    Rows are read with the driver's own cursor in the session's transaction (SQLAlchemy's result
    rows and type processors cost several times the hashing; bench/audit_verify.py), and whether
    the copy columns agree with the body is decided by the database, so only a flag crosses over.
    Each page is one query over a range of seqs, read whole: the connection is free again before
    its rows are walked (``recheck`` queries it), memory stays bounded however long the chain
    grows, and the cost of a page does not depend on the planner's statistics (an open range with
    LIMIT was planned as a scan and sort of the whole remaining table on a fresh PostgreSQL table).
    """
    connection = session.connection()
    dialect = connection.dialect.name
    sql = _page_sql(dialect)
    if upto_seq is None:
        upto_seq = session.scalar(select(func.max(AuditEvent.seq))) or 0
    raw = connection.connection.driver_connection
    cursor = raw.cursor(binary=True) if dialect == "postgresql" else raw.cursor()  # bytea and ints as they are
    try:
        low = after_seq
        while low < upto_seq:
            high = min(low + batch, upto_seq)
            cursor.execute(sql, (low, high))
            part = cursor.fetchall()
            if part:
                yield from part
                if progress:
                    progress(len(part))
            else:  # events are missing here: go on from the next one stored, if any
                following = session.scalar(select(func.min(AuditEvent.seq))
                                           .where(AuditEvent.seq > high, AuditEvent.seq <= upto_seq))
                if following is None:
                    return
                high = following - 1
            low = high
    finally:
        cursor.close()


def recheck_copies(session) -> Callable[[int, bytes], str | None]:
    """Return a function naming the first copy column of an event that disagrees with its body."""

    def recheck(seq: int, body: bytes) -> str | None:
        try:
            content = json.loads(body)
        except ValueError:
            return "body"
        if not isinstance(content, dict):
            return "body"
        row = session.execute(select(AuditEvent.seq, AuditEvent.at, AuditEvent.actor_id, AuditEvent.action,
                                     AuditEvent.subject_type, AuditEvent.subject_id, AuditEvent.data)
                              .where(AuditEvent.seq == seq)).one()
        try:
            at = datetime.fromisoformat(content.get("at"))
        except (TypeError, ValueError):
            return "at"
        for column, ok in (("seq", content.get("seq") == row.seq), ("at", at == row.at),
                           ("actor_id", content.get("actor_id") == row.actor_id),
                           ("action", content.get("action") == row.action),
                           ("subject_type", content.get("subject_type") == row.subject_type),
                           ("subject_id", content.get("subject_id") == row.subject_id),
                           ("data", content.get("data") == row.data)):
            if not ok:
                return column
        return None

    return recheck


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
                 progress: Callable[[int], None] | None = None, batch: int = BATCH) -> ChainReport:
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
    result = walk(stream_rows(session, upto_seq=head.seq, batch=batch, progress=progress),
                  checkpoints_at=wanted, recheck=recheck_copies(session))
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
    result = walk(stream_rows(session, after_seq=start_seq, upto_seq=head.seq), start_prev=start_prev,
                  start_seq=start_seq + 1, recheck=recheck_copies(session))
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
           "public_key", "read_export", "recheck_copies", "signing_key", "stream_rows", "verify_chain", "walk"]
