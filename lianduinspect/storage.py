"""Keep evidence blobs behind one small interface: a local directory or an S3-compatible bucket.

Blobs are content-addressed by the caller (the key is the SHA-256 of the bytes, possibly with a
suffix for derivatives), so a key, once stored, is never overwritten: `put` of an existing key
is a no-op, which makes every retry harmless.

Resumable uploads are offset-based, like tus: the client asks `partial_size` where to resume,
sends `append_partial(upload_key, offset, chunk)`, and the server moves the completed upload
into place with `promote_partial` once the caller has verified its hash.

Layout, the same in both backends so a directory can be copied to a bucket as it is:
``<root or prefix>/ab/cd/<key>`` for blobs and ``partial/<upload_key>`` for uploads under way
(in S3, one object per appended chunk: ``partial/<upload_key>/<offset>``).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import io
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, Protocol, runtime_checkable
from urllib.parse import unquote, urlsplit

__all__ = [
    "BlobNotFound",
    "InvalidKey",
    "LocalStorage",
    "OffsetMismatch",
    "S3Storage",
    "Storage",
    "StorageError",
    "for_app",
    "from_config",
]

# Starts with a letter or digit, so no key is ".", "..", hidden, or a temp file of ours;
# no "/", so no key leaves its directory.
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{3,199}")


class StorageError(Exception):
    """Base of every storage failure the caller may handle."""


class InvalidKey(StorageError, ValueError):
    """Refuse a key that could escape the layout or collide with internal files."""


class BlobNotFound(StorageError, LookupError):
    """Report that no blob (or no upload under way) has this key."""


class OffsetMismatch(StorageError):
    """Refuse an append that does not start where the upload currently ends."""

    def __init__(self, current: int) -> None:
        super().__init__(f"the upload holds {current} bytes; resume from there")
        self.current = current


@runtime_checkable
class Storage(Protocol):
    """Store immutable blobs and resumable uploads."""

    def put(self, key: str, data: bytes) -> None:
        """Store bytes under a key atomically; do nothing if the key exists."""

    def open(self, key: str) -> BinaryIO:
        """Open a stored blob for reading."""

    def exists(self, key: str) -> bool:
        """Tell whether a blob is stored under the key."""

    def size(self, key: str) -> int:
        """Return a stored blob's length in bytes."""

    def partial_size(self, upload_key: str) -> int:
        """Return how many bytes an upload holds so far (0 if none)."""

    def append_partial(self, upload_key: str, offset: int, chunk: bytes) -> int:
        """Append a durable chunk at exactly the current end; return the new size."""

    def promote_partial(self, upload_key: str, key: str) -> None:
        """Move a completed upload into place under a blob key."""

    def discard_partial(self, upload_key: str) -> None:
        """Forget an upload under way."""

    def read_partial(self, upload_key: str) -> bytes:
        """Return the bytes an upload holds so far."""


def check_key(key: str) -> str:
    """Return the key if it is safe to use as a file or object name."""
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise InvalidKey(f"invalid storage key {key!r}")
    return key


def _layout(key: str) -> str:
    """Fan blobs out over two directory levels so no directory grows past ~65k entries."""
    check_key(key)
    return f"{key[0:2]}/{key[2:4]}/{key}"


# --- local directory -----------------------------------------------------------------------


class LocalStorage:
    """Keep blobs in a directory tree, durably: temp file, fsync, link, fsync directory."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        """Return where a blob lives on disk."""
        return self.root / _layout(key)

    def put(self, key: str, data: bytes) -> None:
        """Store bytes under a key atomically; do nothing if the key exists."""
        final = self.path(key)
        if final.exists():
            return
        self._ensure_dir(final.parent)
        fd, temp = tempfile.mkstemp(prefix=".tmp-", dir=final.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            _link_into_place(Path(temp), final)
        finally:
            _unlink_quietly(Path(temp))
        _fsync_dir(final.parent)

    def open(self, key: str) -> BinaryIO:
        """Open a stored blob for reading."""
        try:
            return self.path(key).open("rb")
        except FileNotFoundError:
            raise BlobNotFound(key) from None

    def exists(self, key: str) -> bool:
        """Tell whether a blob is stored under the key."""
        return self.path(key).is_file()

    def size(self, key: str) -> int:
        """Return a stored blob's length in bytes."""
        try:
            return self.path(key).stat().st_size
        except FileNotFoundError:
            raise BlobNotFound(key) from None

    def partial_path(self, upload_key: str) -> Path:
        """Return where an upload under way lives on disk."""
        return self.root / "partial" / check_key(upload_key)

    def partial_size(self, upload_key: str) -> int:
        """Return how many bytes an upload holds so far (0 if none)."""
        try:
            return self.partial_path(upload_key).stat().st_size
        except FileNotFoundError:
            return 0

    def append_partial(self, upload_key: str, offset: int, chunk: bytes) -> int:
        """Append a durable chunk at exactly the current end; return the new size."""
        path = self.partial_path(upload_key)
        flags = os.O_WRONLY | os.O_APPEND
        if offset == 0:
            self._ensure_dir(path.parent)
            flags |= os.O_CREAT
        try:
            fd = os.open(path, flags, 0o600)
        except FileNotFoundError:
            raise OffsetMismatch(0) from None
        try:
            # Serialise appends to one upload across threads and processes; the offset check
            # and the write must be one step.
            fcntl.flock(fd, fcntl.LOCK_EX)
            if not _same_file(fd, path):
                # Promoted or discarded while we waited: that inode may now be evidence.
                raise OffsetMismatch(self.partial_size(upload_key))
            current = os.fstat(fd).st_size
            if offset != current:
                raise OffsetMismatch(current)
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        if current == 0:
            _fsync_dir(path.parent)
        return current + len(chunk)

    def promote_partial(self, upload_key: str, key: str) -> None:
        """Move a completed upload into place under a blob key."""
        source = self.partial_path(upload_key)
        final = self.path(key)
        try:
            fd = os.open(source, os.O_RDONLY)
        except FileNotFoundError:
            if self.exists(key):
                return  # promoted by an earlier attempt
            raise BlobNotFound(upload_key) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # no append may slip in between link and unlink
            if not _same_file(fd, source):
                if self.exists(key):
                    return
                raise BlobNotFound(upload_key)
            self._ensure_dir(final.parent)
            _link_into_place(source, final)
            _unlink_quietly(source)
        finally:
            os.close(fd)
        _fsync_dir(final.parent)
        _fsync_dir(source.parent)

    def discard_partial(self, upload_key: str) -> None:
        """Forget an upload under way."""
        path = self.partial_path(upload_key)
        _unlink_quietly(path)
        if path.parent.exists():
            _fsync_dir(path.parent)

    def read_partial(self, upload_key: str) -> bytes:
        """Return the bytes an upload holds so far."""
        try:
            return self.partial_path(upload_key).read_bytes()
        except FileNotFoundError:
            return b""

    def _ensure_dir(self, directory: Path) -> None:
        """Create a directory and make its new entries durable."""
        missing = []
        current = directory
        while not current.exists():
            missing.append(current)
            current = current.parent
        directory.mkdir(parents=True, exist_ok=True)
        for created in reversed(missing):
            _fsync_dir(created.parent)


def _link_into_place(source: Path, final: Path) -> None:
    """Give a fully written file its final name without ever replacing an existing blob."""
    try:
        os.link(source, final)
    except FileExistsError:
        pass  # stored already (a concurrent put or an earlier attempt): same key, same bytes
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
        # Some network and FUSE filesystems have no hard links; rename is still atomic there.
        if not final.exists():
            os.replace(source, final)


def _same_file(fd: int, path: Path) -> bool:
    """Tell whether an open descriptor still is the file at path."""
    try:
        on_disk = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (on_disk.st_dev, on_disk.st_ino) == (held.st_dev, held.st_ino)


def _unlink_quietly(path: Path) -> None:
    """Remove a file if it is there."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _fsync_dir(directory: Path) -> None:
    """Flush a directory's entries so a rename or link survives a power cut."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- S3-compatible bucket ------------------------------------------------------------------


class S3Storage:
    """Keep blobs in an S3-compatible bucket; uploads under way are one object per chunk.

    Chunk objects rather than one growing object: an append then costs one PUT of the chunk,
    not a re-upload of everything so far, and the partial is visible to every app host.
    `promote_partial` reads the chunks (photos are at most tens of MB) and PUTs the blob once.
    Writes carry `If-None-Match: *`, so two racing appends at one offset cannot both land and
    a stored blob is never overwritten, where the service honours it (AWS, MinIO, Ceph RGW);
    elsewhere the content-addressed keys make a lost race harmless.
    """

    def __init__(self, bucket: str, prefix: str = "", client: Any = None, **boto_kwargs: Any) -> None:
        # boto3 is an optional dependency (extra "s3"): only S3 deployments install it.
        from botocore.exceptions import ClientError

        if client is None:
            import boto3

            client = boto3.client("s3", **boto_kwargs)
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self._client_error = ClientError

    def object_key(self, key: str) -> str:
        """Return the object name of a blob."""
        return self.prefix + _layout(key)

    def put(self, key: str, data: bytes) -> None:
        """Store bytes under a key atomically; do nothing if the key exists."""
        if self.exists(key):
            return
        try:
            self.client.put_object(
                Bucket=self.bucket, Key=self.object_key(key), Body=data, IfNoneMatch="*"
            )
        except self._client_error as exc:
            if not _precondition_failed(exc):
                raise
            # A concurrent put of the same key won; content-addressed, so it holds our bytes.

    def open(self, key: str) -> BinaryIO:
        """Open a stored blob for reading (buffered in memory: photos are tens of MB at most)."""
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.object_key(key))
        except self._client_error as exc:
            if _not_found(exc):
                raise BlobNotFound(key) from None
            raise
        body = response["Body"]
        try:
            return io.BytesIO(body.read())
        finally:
            body.close()

    def exists(self, key: str) -> bool:
        """Tell whether a blob is stored under the key."""
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.object_key(key))
        except self._client_error as exc:
            if _not_found(exc):
                return False
            raise
        return True

    def size(self, key: str) -> int:
        """Return a stored blob's length in bytes."""
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self.object_key(key))
        except self._client_error as exc:
            if _not_found(exc):
                raise BlobNotFound(key) from None
            raise
        return int(head["ContentLength"])

    def partial_size(self, upload_key: str) -> int:
        """Return how many bytes an upload holds so far (0 if none)."""
        return sum(size for _, _, size in self._chunks(upload_key))

    def append_partial(self, upload_key: str, offset: int, chunk: bytes) -> int:
        """Append a chunk at exactly the current end; return the new size."""
        current = self.partial_size(upload_key)
        if offset != current:
            raise OffsetMismatch(current)
        if not chunk:
            return current
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=f"{self._partial_prefix(upload_key)}{offset:012d}",
                Body=chunk,
                IfNoneMatch="*",
            )
        except self._client_error as exc:
            if not _precondition_failed(exc):
                raise
            raise OffsetMismatch(self.partial_size(upload_key)) from None
        return current + len(chunk)

    def promote_partial(self, upload_key: str, key: str) -> None:
        """Store a completed upload under a blob key and drop its chunks."""
        if not self._chunks(upload_key):
            if self.exists(key):
                return  # promoted by an earlier attempt
            raise BlobNotFound(upload_key)
        self.put(key, self.read_partial(upload_key))
        self.discard_partial(upload_key)

    def discard_partial(self, upload_key: str) -> None:
        """Forget an upload under way."""
        names = [name for name, _, _ in self._chunks(upload_key)]
        for start in range(0, len(names), 1000):  # DeleteObjects takes 1000 keys a call
            batch = [{"Key": name} for name in names[start : start + 1000]]
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})

    def read_partial(self, upload_key: str) -> bytes:
        """Return the bytes an upload holds so far."""
        parts = []
        for name, _, _ in self._chunks(upload_key):
            body = self.client.get_object(Bucket=self.bucket, Key=name)["Body"]
            try:
                parts.append(body.read())
            finally:
                body.close()
        return b"".join(parts)

    def _partial_prefix(self, upload_key: str) -> str:
        return f"{self.prefix}partial/{check_key(upload_key)}/"

    def _chunks(self, upload_key: str) -> list[tuple[str, int, int]]:
        """List an upload's chunk objects as (name, offset, size), in offset order."""
        prefix = self._partial_prefix(upload_key)
        found = []
        for page in self._pages(prefix):
            for item in page.get("Contents", ()):
                name = item["Key"]
                offset = name[len(prefix) :]
                if offset.isdigit():
                    found.append((name, int(offset), int(item["Size"])))
        return sorted(found, key=lambda chunk: chunk[1])

    def _pages(self, prefix: str) -> Iterator[dict[str, Any]]:
        token: str | None = None
        while True:
            params: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
            if token:
                params["ContinuationToken"] = token
            page = self.client.list_objects_v2(**params)
            yield page
            if not page.get("IsTruncated"):
                return
            token = page.get("NextContinuationToken")


def _error_code(exc: Any) -> tuple[int, str]:
    response = getattr(exc, "response", None) or {}
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return int(status), str(response.get("Error", {}).get("Code", ""))


def _not_found(exc: Any) -> bool:
    status, code = _error_code(exc)
    return status == 404 or code in ("404", "NoSuchKey", "NotFound")


def _precondition_failed(exc: Any) -> bool:
    status, code = _error_code(exc)
    # 409 ConditionalRequestConflict: a concurrent conditional write to the same key.
    return status in (409, 412) or code in ("PreconditionFailed", "ConditionalRequestConflict")


# --- configuration -------------------------------------------------------------------------


def for_app(app) -> Storage:
    """Return the app's evidence store, built once per app from its STORAGE_URL and S3_ENDPOINT_URL."""
    store = app.extensions.get("lianduinspect_storage")
    if store is None:
        store = from_config(app.config["STORAGE_URL"], endpoint_url=app.config["S3_ENDPOINT_URL"])
        app.extensions["lianduinspect_storage"] = store
    return store


def from_config(url: str, **s3_options: Any) -> Storage:
    """Build the storage a URL names: a path or file:///path, or s3://bucket/prefix.

    Keyword arguments (endpoint_url, region_name, client, ...) configure the S3 backend and are
    ignored for a local directory; None values are dropped so callers can pass settings through.
    """
    options = {name: value for name, value in s3_options.items() if value is not None}
    parts = urlsplit(url)
    if parts.scheme == "s3":
        if not parts.netloc:
            raise ValueError(f"no bucket in storage URL {url!r}")
        return S3Storage(parts.netloc, parts.path, **options)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ValueError(f"storage URL {url!r} names a remote host")
        return LocalStorage(unquote(parts.path))
    if parts.scheme == "" and url:
        return LocalStorage(url)
    raise ValueError(f"unsupported storage URL {url!r}: use a path, file:///path or s3://bucket/prefix")
