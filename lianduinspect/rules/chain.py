"""The tamper-evident audit chain (执法全过程记录): event hashes, verification, signed checkpoints.

Each event's hash covers the previous event's hash and the event's canonical JSON content::

    hash = sha256(prev_hash + "\\n" + canonical(content)).hexdigest()

with ``prev_hash = "0" * 64`` before the first event (seq 1). Editing, deleting or reordering a
stored event breaks a link that :func:`verify` names. Someone with write access to the whole table
could still rewrite every hash after an edit consistently, or drop the newest events; a
:class:`Checkpoint` signed with a key the database does not hold catches both.

Pure rules: no Flask, no SQLAlchemy, no clock. Events arrive as plain dicts.
"""

from __future__ import annotations

import base64
import hashlib
import json
import json.encoder
import math
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "GENESIS_HASH",
    "Checkpoint",
    "VerifyResult",
    "canonical",
    "check_against_checkpoint",
    "event_hash",
    "generate_key",
    "key_fingerprint",
    "load_private_key",
    "load_public_key",
    "public_key_pem",
    "sign_checkpoint",
    "verify",
    "verify_checkpoint_signature",
]

GENESIS_HASH = "0" * 64

# Prefixed to a checkpoint's payload before signing, so a signature made by this key for any
# other purpose can never pass as a checkpoint signature.
_CHECKPOINT_CONTEXT = b"lianduinspect.audit-checkpoint.v1\n"


def _refuse(obj: object) -> Any:
    """Refuse a value that has no single canonical JSON form."""
    raise TypeError(
        f"{type(obj).__name__} is not canonical JSON; convert it first (datetimes to ISO strings)"
    )


def _make_encoder() -> Callable[[Any], str]:
    """Return the fastest str encoder producing exactly the canonical JSON text."""
    options: dict[str, Any] = {
        "sort_keys": True,
        "separators": (",", ":"),
        "ensure_ascii": False,
        "allow_nan": False,  # NaN and ±Infinity are not JSON; json.dumps would write them
        "default": _refuse,
    }
    reference = json.JSONEncoder(**options).encode
    c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
    if c_make_encoder is None:
        return reference
    # Verification encodes every row of a 100,000+ event chain. JSONEncoder.encode builds a new C
    # encoder (and a closure) on every call; building it once saves about a fifth of the time.
    # No circular-reference markers: content comes from JSON columns, which cannot be circular.
    try:
        iterencode = c_make_encoder(
            None, _refuse, json.encoder.encode_basestring, None, ":", ",", True, False, False
        )
    except TypeError:  # a Python whose private C signature differs: stay on the public API
        return reference

    def encode(obj: Any) -> str:
        """Encode one value as canonical JSON text."""
        return "".join(iterencode(obj, 0))

    # The C signature is private: use it only if it demonstrably behaves like the reference.
    probe = {"b": [1, 2.5, None, True, "é\n\u2028"], "a": {"z": -0.0, "y": 10**20}}
    if encode(probe) != reference(probe):
        return reference
    for bad, error in ((math.nan, ValueError), (object(), TypeError)):
        try:
            encode([bad])
        except error:
            continue
        return reference
    return encode


_encode = _make_encoder()


def canonical(obj: Any) -> bytes:
    """Encode a JSON value canonically: sorted keys, no whitespace, UTF-8, no NaN."""
    return _encode(obj).encode("utf-8")


def event_hash(prev_hash: str, content: dict[str, Any]) -> str:
    """Return the hex SHA-256 chaining ``content`` onto the event whose hash is ``prev_hash``."""
    return hashlib.sha256(prev_hash.encode("ascii") + b"\n" + canonical(content)).hexdigest()


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of verifying a chain, or the first link that broke it.

    ``count`` events were verified, ending at ``last_seq`` with ``head_hash`` (``start_prev`` when
    none were). ``reason`` is one of ``"hash_mismatch"`` (the event's content or its stored hash
    was altered), ``"prev_mismatch"`` (its stored link does not point at the event before it),
    ``"seq_gap"`` (events are missing before it) or ``"seq_order"`` (a repeated, reordered or
    non-integer seq); ``detail`` says the same in a sentence. ``hashes_at`` maps each requested
    checkpoint length that was reached to the chain's hash at that length.
    """

    ok: bool
    count: int
    head_hash: str
    first_broken_seq: int | None
    reason: str | None
    last_seq: int = 0
    detail: str | None = None
    hashes_at: dict[int, str] = field(default_factory=dict)


def verify(
    events: Iterable[tuple[dict[str, Any], str, str]],
    start_prev: str = GENESIS_HASH,
    *,
    start_seq: int = 1,
    checkpoints_at: Collection[int] = (),
) -> VerifyResult:
    """Verify ``(content, stored_prev_hash, stored_hash)`` triples in seq order, in one pass.

    Stops at the first broken link. ``start_prev``/``start_seq`` resume after an already verified
    prefix. The hash at every length in ``checkpoints_at`` is returned in ``hashes_at``, so one
    pass also serves :func:`check_against_checkpoint`.
    """
    wanted = frozenset(checkpoints_at)
    hashes_at: dict[int, str] = {}
    if start_seq - 1 in wanted:  # a checkpoint exactly where verification starts
        hashes_at[start_seq - 1] = start_prev
    prev = start_prev
    expected = start_seq
    sha256 = hashlib.sha256
    encode = _encode

    def broken(seq: int, reason: str, detail: str) -> VerifyResult:
        """Describe the break at ``seq`` after the events verified so far."""
        return VerifyResult(
            ok=False,
            count=expected - start_seq,
            head_hash=prev,
            first_broken_seq=seq,
            reason=reason,
            last_seq=expected - 1,
            detail=detail,
            hashes_at=hashes_at,
        )

    # The loop is kept flat (local names, one concatenation, no helper calls) because it runs once
    # per stored event; its cost should be the JSON encoding and the hash, nothing else.
    for content, stored_prev, stored_hash in events:
        seq = content.get("seq")
        if seq != expected or type(seq) is not int:
            if type(seq) is int and seq > expected:
                missing = f"{expected}" if seq == expected + 1 else f"{expected}..{seq - 1}"
                return broken(expected, "seq_gap", f"event {missing} missing: next stored is {seq}")
            return broken(expected, "seq_order", f"expected event {expected}, found seq {seq!r}")
        if stored_prev != prev:
            return broken(
                seq, "prev_mismatch", f"event {seq} does not link to event {seq - 1}'s hash"
            )
        digest = sha256(
            (prev + "\n").encode("ascii") + encode(content).encode("utf-8")
        ).hexdigest()
        if digest != stored_hash:
            return broken(
                seq, "hash_mismatch", f"event {seq}'s content or stored hash was altered"
            )
        prev = digest
        if seq in wanted:
            hashes_at[seq] = digest
        expected += 1

    return VerifyResult(
        ok=True,
        count=expected - start_seq,
        head_hash=prev,
        first_broken_seq=None,
        reason=None,
        last_seq=expected - 1,
        hashes_at=hashes_at,
    )


@dataclass(frozen=True)
class Checkpoint:
    """The chain's length and head hash at a moment (``at``: ISO 8601 UTC)."""

    length: int
    head_hash: str
    at: str


def _payload(cp: Checkpoint) -> dict[str, Any]:
    """Return the JSON payload a checkpoint signature covers."""
    return {"length": cp.length, "head_hash": cp.head_hash, "at": cp.at}


def _checkpoint_of(signed: dict[str, Any]) -> Checkpoint:
    """Read the checkpoint out of a signed checkpoint, refusing malformed fields."""
    payload = signed["payload"]
    length, head_hash, at = payload["length"], payload["head_hash"], payload["at"]
    if type(length) is not int or length < 0:
        raise ValueError(f"checkpoint length must be a non-negative int, not {length!r}")
    if not isinstance(head_hash, str) or not isinstance(at, str):
        raise TypeError("checkpoint head_hash and at must be strings")
    return Checkpoint(length=length, head_hash=head_hash, at=at)


def key_fingerprint(public_key: Ed25519PublicKey) -> str:
    """Return the hex SHA-256 of a public key's raw 32 bytes."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def sign_checkpoint(cp: Checkpoint, private_key: Ed25519PrivateKey) -> dict[str, Any]:
    """Sign a checkpoint; return its payload, base64 signature and signer's key fingerprint."""
    payload = _payload(cp)
    signature = private_key.sign(_CHECKPOINT_CONTEXT + canonical(payload))
    return {
        "payload": payload,
        "signature": base64.b64encode(signature).decode("ascii"),
        "key_fingerprint": key_fingerprint(private_key.public_key()),
    }


def verify_checkpoint_signature(signed: dict[str, Any], public_key: Ed25519PublicKey) -> bool:
    """Tell whether ``signed`` is a checkpoint signed by ``public_key``'s private key."""
    try:
        cp = _checkpoint_of(signed)
        # Extra payload keys would ride along unchecked by check_against_checkpoint: refuse them.
        if signed["payload"] != _payload(cp):
            return False
        if signed.get("key_fingerprint") != key_fingerprint(public_key):
            return False
        signature = base64.b64decode(signed["signature"], validate=True)
        public_key.verify(signature, _CHECKPOINT_CONTEXT + canonical(_payload(cp)))
    except (InvalidSignature, KeyError, TypeError, ValueError):
        return False
    return True


def check_against_checkpoint(
    signed_checkpoint: dict[str, Any],
    result_prefix_hash_at_length: str | None,
    chain_length: int,
) -> tuple[bool, str | None]:
    """Check a verified chain against a signed checkpoint (whose signature was checked already).

    Pass the chain's hash at the checkpoint's length (``VerifyResult.hashes_at``) and the chain's
    length (``VerifyResult.last_seq``). Returns ``(True, None)`` or ``(False, reason)`` with reason
    ``"checkpoint_truncated"`` (the chain is now shorter), ``"checkpoint_mismatch"`` (the chain was
    rewritten up to that point) or ``"checkpoint_unreached"`` (no hash was computed there, e.g.
    verification stopped earlier at a broken link).
    """
    cp = _checkpoint_of(signed_checkpoint)
    if chain_length < cp.length:
        return False, "checkpoint_truncated"
    if result_prefix_hash_at_length is None:
        return False, "checkpoint_unreached"
    if result_prefix_hash_at_length != cp.head_hash:
        return False, "checkpoint_mismatch"
    return True, None


def generate_key() -> bytes:
    """Generate an Ed25519 private key for signing checkpoints, as unencrypted PKCS#8 PEM."""
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_private_key(pem: bytes | str) -> Ed25519PrivateKey:
    """Load an Ed25519 private key from PEM, refusing any other kind of key."""
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise TypeError(f"expected an Ed25519 private key, got {type(key).__name__}")
    return key


def public_key_pem(private_key: Ed25519PrivateKey) -> bytes:
    """Return the public half of a private key as SubjectPublicKeyInfo PEM."""
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_public_key(pem: bytes | str) -> Ed25519PublicKey:
    """Load an Ed25519 public key from PEM, refusing any other kind of key."""
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, Ed25519PublicKey):
        raise TypeError(f"expected an Ed25519 public key, got {type(key).__name__}")
    return key
