"""Blob storage keeps evidence durably, never overwrites it, and resumes uploads by offset."""

from __future__ import annotations

import errno
import hashlib
import os
import threading
from pathlib import Path

import pytest

from lianduinspect import storage as storage_module
from lianduinspect.storage import (
    BlobNotFound,
    InvalidKey,
    LocalStorage,
    OffsetMismatch,
    S3Storage,
    Storage,
    from_config,
)

BUCKET = "liandu-evidence"
PHOTO = b"\xff\xd8\xff" + bytes(range(256)) * 40
KEY = hashlib.sha256(PHOTO).hexdigest()


@pytest.fixture
def s3_client(monkeypatch):
    """Yield a boto3 client talking to moto's in-process S3."""
    moto = pytest.importorskip("moto", reason="moto is needed for the S3 backend tests")
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    import boto3

    with moto.mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path) -> Storage:
    """Yield each backend in turn; both must keep the same contract."""
    if request.param == "local":
        return LocalStorage(tmp_path / "evidence")
    return S3Storage(BUCKET, prefix="district/liandu", client=request.getfixturevalue("s3_client"))


# --- the contract, for every backend -------------------------------------------------------


def test_backends_satisfy_the_storage_protocol(store):
    assert isinstance(store, Storage)


def test_stored_blob_reads_back_byte_for_byte(store):
    store.put(KEY, PHOTO)
    assert store.exists(KEY)
    assert store.size(KEY) == len(PHOTO)
    with store.open(KEY) as blob:
        assert blob.read() == PHOTO


def test_put_of_an_existing_key_is_a_harmless_no_op(store):
    store.put(KEY, PHOTO)
    store.put(KEY, PHOTO)
    store.put(KEY, b"something else entirely")  # evidence, once stored, is never replaced
    with store.open(KEY) as blob:
        assert blob.read() == PHOTO


def test_missing_blob_is_reported_not_found(store):
    assert not store.exists(KEY)
    with pytest.raises(BlobNotFound):
        store.open(KEY)
    with pytest.raises(BlobNotFound):
        store.size(KEY)


UNSAFE_KEYS = ["", "abc", "../etc/passwd", "ab/cd", ".hidden", "-rf", "a" * 201, "键值键值"]


@pytest.mark.parametrize("key", UNSAFE_KEYS)
def test_keys_that_could_escape_the_layout_are_refused(store, key):
    with pytest.raises(InvalidKey):
        store.put(key, PHOTO)
    with pytest.raises(InvalidKey):
        store.append_partial(key, 0, b"x")


def test_upload_resumes_from_the_offset_the_server_holds(store):
    assert store.partial_size("upload-1") == 0
    assert store.read_partial("upload-1") == b""
    assert store.append_partial("upload-1", 0, PHOTO[:1000]) == 1000
    assert store.append_partial("upload-1", 1000, PHOTO[1000:4000]) == 4000
    assert store.partial_size("upload-1") == 4000
    assert store.append_partial("upload-1", 4000, PHOTO[4000:]) == len(PHOTO)
    assert store.read_partial("upload-1") == PHOTO


def test_append_at_the_wrong_offset_reports_where_to_resume(store):
    store.append_partial("upload-2", 0, PHOTO[:1000])
    for wrong in (0, 999, 1001, 5000):
        with pytest.raises(OffsetMismatch) as mismatch:
            store.append_partial("upload-2", wrong, PHOTO[wrong : wrong + 10])
        assert mismatch.value.current == 1000
    assert store.read_partial("upload-2") == PHOTO[:1000]


def test_append_to_an_unknown_upload_must_start_at_zero(store):
    with pytest.raises(OffsetMismatch) as mismatch:
        store.append_partial("upload-3", 500, b"late chunk")
    assert mismatch.value.current == 0
    assert store.partial_size("upload-3") == 0


def test_promoted_upload_becomes_the_blob_and_the_partial_is_gone(store):
    store.append_partial("upload-4", 0, PHOTO[:2000])
    store.append_partial("upload-4", 2000, PHOTO[2000:])
    store.promote_partial("upload-4", KEY)
    with store.open(KEY) as blob:
        assert blob.read() == PHOTO
    assert store.partial_size("upload-4") == 0
    store.promote_partial("upload-4", KEY)  # a retried promotion finds the work done


def test_promoting_onto_an_existing_blob_keeps_the_original(store):
    store.put(KEY, PHOTO)
    store.append_partial("upload-5", 0, b"different bytes")
    store.promote_partial("upload-5", KEY)
    with store.open(KEY) as blob:
        assert blob.read() == PHOTO
    assert store.partial_size("upload-5") == 0


def test_promoting_an_unknown_upload_is_not_found(store):
    with pytest.raises(BlobNotFound):
        store.promote_partial("upload-6", KEY)


def test_discarded_upload_starts_over_from_zero(store):
    store.append_partial("upload-7", 0, PHOTO[:100])
    store.discard_partial("upload-7")
    store.discard_partial("upload-7")
    assert store.partial_size("upload-7") == 0
    assert store.append_partial("upload-7", 0, PHOTO[:10]) == 10


def test_uploads_are_independent(store):
    store.append_partial("upload-8", 0, b"aaaa")
    store.append_partial("upload-9", 0, b"bbbbbb")
    assert (store.partial_size("upload-8"), store.partial_size("upload-9")) == (4, 6)


# --- local directory -----------------------------------------------------------------------


def test_local_blobs_are_fanned_out_by_key_prefix(tmp_path):
    local = LocalStorage(tmp_path)
    local.put(KEY, PHOTO)
    assert (tmp_path / KEY[:2] / KEY[2:4] / KEY).read_bytes() == PHOTO


def test_local_put_never_shows_a_partial_file_under_the_final_key(tmp_path, monkeypatch):
    local = LocalStorage(tmp_path)
    final = local.path(KEY)
    seen = []
    real_link = os.link
    real_fsync = os.fsync
    synced = []

    def watching_fsync(fd):
        synced.append(fd)
        real_fsync(fd)

    def watching_link(source, target):
        # At the moment the name appears, the temp file is complete and already on disk.
        seen.append((final.exists(), Path(source).read_bytes() == PHOTO, len(synced)))
        real_link(source, target)

    monkeypatch.setattr(storage_module.os, "link", watching_link)
    monkeypatch.setattr(storage_module.os, "fsync", watching_fsync)
    local.put(KEY, PHOTO)
    assert seen == [(False, True, seen[0][2])]
    assert seen[0][2] >= 1, "the data must be fsynced before the name appears"
    assert len(synced) > seen[0][2], "the directory must be fsynced after the link"
    assert [p.name for p in final.parent.iterdir()] == [KEY]


def test_local_put_that_fails_midway_leaves_nothing_behind(tmp_path, monkeypatch):
    local = LocalStorage(tmp_path)

    def failing_fsync(fd):
        raise OSError(errno.EIO, "disk on fire")

    monkeypatch.setattr(storage_module.os, "fsync", failing_fsync)
    with pytest.raises(OSError):
        local.put(KEY, PHOTO)
    monkeypatch.undo()
    assert not local.exists(KEY)
    assert list(local.path(KEY).parent.iterdir()) == []


def test_local_put_falls_back_to_rename_where_hard_links_are_missing(tmp_path, monkeypatch):
    local = LocalStorage(tmp_path)

    def no_links(source, target):
        raise OSError(errno.EPERM, "hard links not supported")

    monkeypatch.setattr(storage_module.os, "link", no_links)
    local.put(KEY, PHOTO)
    assert local.path(KEY).read_bytes() == PHOTO
    assert [p.name for p in local.path(KEY).parent.iterdir()] == [KEY]


def test_local_append_is_fsynced_before_it_is_acknowledged(tmp_path, monkeypatch):
    local = LocalStorage(tmp_path)
    events = []
    real_fsync, real_write = os.fsync, os.write

    def write(fd, data):
        events.append("write")
        return real_write(fd, data)

    def fsync(fd):
        events.append("fsync")
        real_fsync(fd)

    monkeypatch.setattr(storage_module.os, "write", write)
    monkeypatch.setattr(storage_module.os, "fsync", fsync)
    local.append_partial("upload-10", 0, b"chunk")
    last_write = len(events) - 1 - events[::-1].index("write")
    assert "fsync" in events[last_write:]


def test_concurrent_appends_at_one_offset_land_exactly_once(tmp_path):
    local = LocalStorage(tmp_path)
    local.append_partial("upload-11", 0, b"head")
    results: list[object] = []
    barrier = threading.Barrier(8)

    def append(n: int) -> None:
        barrier.wait()
        try:
            results.append(local.append_partial("upload-11", 4, bytes([65 + n]) * 100))
        except OffsetMismatch as mismatch:
            results.append(mismatch.current)

    threads = [threading.Thread(target=append, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [104] * 8
    assert local.partial_size("upload-11") == 104


def test_stale_append_after_promotion_cannot_touch_the_stored_blob(tmp_path, monkeypatch):
    local = LocalStorage(tmp_path)
    local.append_partial("upload-12", 0, PHOTO)
    real_flock = storage_module.fcntl.flock

    def promote_first(fd, operation):
        # The late append got its descriptor, then the upload was promoted under it.
        monkeypatch.setattr(storage_module.fcntl, "flock", real_flock)
        local.promote_partial("upload-12", KEY)
        real_flock(fd, operation)

    monkeypatch.setattr(storage_module.fcntl, "flock", promote_first)
    with pytest.raises(OffsetMismatch):
        local.append_partial("upload-12", len(PHOTO), b"appended to evidence?")
    assert local.path(KEY).read_bytes() == PHOTO


# --- configuration -------------------------------------------------------------------------


def test_config_url_names_a_local_directory(tmp_path):
    for url in (str(tmp_path), f"file://{tmp_path}", f"file://localhost{tmp_path}"):
        built = from_config(url, endpoint_url=None)
        assert isinstance(built, LocalStorage)
        assert built.root == tmp_path


def test_config_url_names_a_bucket_and_prefix(s3_client):
    built = from_config("s3://liandu-evidence/district/liandu/", client=s3_client, endpoint_url=None)
    assert isinstance(built, S3Storage)
    assert (built.bucket, built.prefix) == (BUCKET, "district/liandu/")
    built.put(KEY, PHOTO)
    assert s3_client.head_object(Bucket=BUCKET, Key=f"district/liandu/{KEY[:2]}/{KEY[2:4]}/{KEY}")


def test_config_builds_its_own_client_with_the_endpoint_given(s3_client):
    built = from_config("s3://liandu-evidence", endpoint_url="http://127.0.0.1:9000", region_name="us-east-1")
    assert isinstance(built, S3Storage)
    assert built.client.meta.endpoint_url == "http://127.0.0.1:9000"
    assert built.prefix == ""


@pytest.mark.parametrize("url", ["", "s3://", "ftp://host/evidence", "file://otherhost/evidence"])
def test_config_refuses_urls_it_cannot_serve(url):
    with pytest.raises(ValueError):
        from_config(url)
