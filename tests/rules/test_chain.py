"""The audit chain names the first broken link, and signed checkpoints catch rewrites."""

from __future__ import annotations

import copy
import hashlib
import json
import math
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from lianduinspect.rules.chain import (
    GENESIS_HASH,
    Checkpoint,
    canonical,
    check_against_checkpoint,
    event_hash,
    generate_key,
    key_fingerprint,
    load_private_key,
    load_public_key,
    public_key_pem,
    sign_checkpoint,
    verify,
    verify_checkpoint_signature,
)

Triple = tuple[dict[str, Any], str, str]


def make_content(seq: int) -> dict[str, Any]:
    """Return the content of a plausible event number ``seq``."""
    at = datetime(2024, 5, 17, 1, 0, tzinfo=timezone.utc) + timedelta(minutes=seq)
    return {
        "seq": seq,
        "at": at.isoformat(),
        "actor_id": 7 if seq % 3 else None,
        "action": "inspection.submit" if seq % 2 else "evidence.upload",
        "subject_type": "inspection",
        "subject_id": f"00000000-0000-4000-8000-{seq:012d}",
        "data": {"visit_id": seq * 10, "outcome": "rectify", "note": "后厨未设置防鼠设施"},
    }


def rechain(contents: list[dict[str, Any]]) -> list[Triple]:
    """Hash contents into stored triples, as an honest writer (or a thorough forger) would."""
    triples = []
    prev = GENESIS_HASH
    for content in contents:
        digest = event_hash(prev, content)
        triples.append((content, prev, digest))
        prev = digest
    return triples


def make_chain(n: int) -> list[Triple]:
    """Return a valid chain of ``n`` events."""
    return rechain([make_content(seq) for seq in range(1, n + 1)])


@pytest.fixture(scope="module")
def private_key() -> Ed25519PrivateKey:
    """Return a checkpoint signing key."""
    return load_private_key(generate_key())


def test_canonical_sorts_keys_without_whitespace_in_utf8() -> None:
    assert canonical({"b": 1, "a": [True, None, "莲都"]}) == '{"a":[true,null,"莲都"],"b":1}'.encode()


def test_canonical_refuses_nan_and_infinity() -> None:
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError):
            canonical({"x": bad})


def test_canonical_refuses_datetimes_not_yet_iso_strings() -> None:
    with pytest.raises(TypeError, match="ISO"):
        canonical({"at": datetime(2024, 5, 17, tzinfo=timezone.utc)})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_canonical_equals_the_standard_library_reference(value: Any) -> None:
    reference = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical(value) == reference.encode("utf-8")


def test_event_hash_covers_previous_hash_and_canonical_content() -> None:
    content = make_content(1)
    expected = hashlib.sha256(b"0" * 64 + b"\n" + canonical(content)).hexdigest()
    assert event_hash(GENESIS_HASH, content) == expected


def test_intact_chain_verifies_with_its_head() -> None:
    chain = make_chain(50)
    result = verify(iter(chain))
    assert (result.ok, result.count, result.last_seq) == (True, 50, 50)
    assert result.head_hash == chain[-1][2]
    assert (result.first_broken_seq, result.reason) == (None, None)


def test_empty_chain_verifies_at_genesis() -> None:
    result = verify([])
    assert (result.ok, result.count, result.head_hash) == (True, 0, GENESIS_HASH)


def test_edited_event_is_named_at_its_seq() -> None:
    chain = make_chain(100)
    content, prev, digest = chain[41]
    edited = copy.deepcopy(content)
    edited["data"]["outcome"] = "pass"
    chain[41] = (edited, prev, digest)
    result = verify(chain)
    assert (result.ok, result.first_broken_seq, result.reason) == (False, 42, "hash_mismatch")
    assert (result.count, result.head_hash) == (41, chain[40][2])


def test_edit_with_recomputed_hash_breaks_the_next_link() -> None:
    chain = make_chain(100)
    content, prev, _ = chain[41]
    edited = {**content, "actor_id": 99}
    chain[41] = (edited, prev, event_hash(prev, edited))
    result = verify(chain)
    assert (result.first_broken_seq, result.reason) == (43, "prev_mismatch")


def test_deleted_event_is_named_as_a_gap() -> None:
    chain = make_chain(100)
    del chain[59]
    result = verify(chain)
    assert (result.ok, result.first_broken_seq, result.reason) == (False, 60, "seq_gap")
    assert result.count == 59
    assert "60" in (result.detail or "")


def test_deleted_event_with_renumbered_successors_breaks_the_link() -> None:
    chain = make_chain(100)
    del chain[59]
    chain = [({**c, "seq": i + 1}, p, h) for i, (c, p, h) in enumerate(chain)]
    result = verify(chain)
    assert (result.first_broken_seq, result.reason) == (60, "prev_mismatch")


def test_repeated_seq_is_out_of_order() -> None:
    chain = make_chain(10)
    chain.insert(5, chain[4])
    result = verify(chain)
    assert (result.first_broken_seq, result.reason) == (6, "seq_order")


def test_verify_resumes_after_a_verified_prefix() -> None:
    chain = make_chain(30)
    result = verify(chain[20:], chain[19][2], start_seq=21)
    assert (result.ok, result.count, result.last_seq, result.head_hash) == (True, 10, 30, chain[-1][2])


def test_verify_reports_hashes_at_requested_lengths_in_one_pass() -> None:
    chain = make_chain(30)
    result = verify(chain, checkpoints_at={0, 10, 30, 31})
    assert result.hashes_at == {0: GENESIS_HASH, 10: chain[9][2], 30: chain[29][2]}


def test_verify_streams_without_holding_the_chain() -> None:
    def events() -> Iterator[Triple]:
        prev = GENESIS_HASH
        for seq in range(1, 2001):
            content = make_content(seq)
            digest = event_hash(prev, content)
            yield content, prev, digest
            prev = digest

    assert verify(events()).count == 2000


def test_consistently_rewritten_chain_passes_verify_but_fails_the_checkpoint(private_key: Ed25519PrivateKey) -> None:
    chain = make_chain(100)
    signed = sign_checkpoint(Checkpoint(80, chain[79][2], "2024-05-18T00:00:00+00:00"), private_key)
    contents = [c for c, _, _ in chain]
    contents[41] = {**contents[41], "data": {"visit_id": 420, "outcome": "pass", "note": ""}}
    forged = rechain(contents)

    result = verify(forged, checkpoints_at={80})
    assert result.ok
    assert verify_checkpoint_signature(signed, private_key.public_key())
    assert check_against_checkpoint(signed, result.hashes_at.get(80), result.last_seq) == (
        False,
        "checkpoint_mismatch",
    )


def test_intact_chain_passes_its_checkpoint(private_key: Ed25519PrivateKey) -> None:
    chain = make_chain(100)
    signed = sign_checkpoint(Checkpoint(80, chain[79][2], "2024-05-18T00:00:00+00:00"), private_key)
    result = verify(chain, checkpoints_at={80})
    assert check_against_checkpoint(signed, result.hashes_at.get(80), result.last_seq) == (True, None)


def test_truncated_tail_is_found_against_the_checkpoint(private_key: Ed25519PrivateKey) -> None:
    chain = make_chain(100)
    signed = sign_checkpoint(Checkpoint(100, chain[99][2], "2024-05-18T00:00:00+00:00"), private_key)
    result = verify(chain[:95], checkpoints_at={100})
    assert result.ok  # dropping the newest events leaves a valid, shorter chain
    assert check_against_checkpoint(signed, result.hashes_at.get(100), result.last_seq) == (
        False,
        "checkpoint_truncated",
    )


def test_checkpoint_beyond_a_broken_link_is_unreached(private_key: Ed25519PrivateKey) -> None:
    chain = make_chain(100)
    signed = sign_checkpoint(Checkpoint(80, chain[79][2], "2024-05-18T00:00:00+00:00"), private_key)
    del chain[10]
    result = verify(chain, checkpoints_at={80})
    assert check_against_checkpoint(signed, result.hashes_at.get(80), 100) == (
        False,
        "checkpoint_unreached",
    )


def test_checkpoint_signature_verifies_with_the_signers_key(private_key: Ed25519PrivateKey) -> None:
    signed = sign_checkpoint(Checkpoint(5, "a" * 64, "2024-05-18T00:00:00+00:00"), private_key)
    public = load_public_key(public_key_pem(private_key))
    assert verify_checkpoint_signature(signed, public)
    assert signed["key_fingerprint"] == key_fingerprint(public)
    assert json.loads(json.dumps(signed)) == signed  # storable in a JSON column as is


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda s: s["payload"].update(length=6), id="length-changed"),
        pytest.param(lambda s: s["payload"].update(head_hash="b" * 64), id="head-changed"),
        pytest.param(lambda s: s["payload"].update(extra="x"), id="payload-key-added"),
        pytest.param(lambda s: s.update(signature="A" + s["signature"][1:]), id="signature-changed"),
        pytest.param(lambda s: s.update(signature="not base64!"), id="signature-garbled"),
        pytest.param(lambda s: s.pop("signature"), id="signature-missing"),
        pytest.param(lambda s: s["payload"].update(length="5"), id="length-not-int"),
    ],
)
def test_forged_checkpoint_signature_is_refused(
    private_key: Ed25519PrivateKey, forge: Callable[[dict[str, Any]], object]
) -> None:
    signed = sign_checkpoint(Checkpoint(5, "a" * 64, "2024-05-18T00:00:00+00:00"), private_key)
    forge(signed)
    assert not verify_checkpoint_signature(signed, private_key.public_key())


def test_checkpoint_signed_by_another_key_is_refused(private_key: Ed25519PrivateKey) -> None:
    other = load_private_key(generate_key())
    signed = sign_checkpoint(Checkpoint(5, "a" * 64, "2024-05-18T00:00:00+00:00"), other)
    signed["key_fingerprint"] = key_fingerprint(private_key.public_key())
    assert not verify_checkpoint_signature(signed, private_key.public_key())


def test_non_ed25519_key_is_refused() -> None:
    pem = generate_private_key(SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(TypeError, match="Ed25519"):
        load_private_key(pem)
