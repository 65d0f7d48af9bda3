"""Object storage: S3 (or MinIO) in production, a local directory in embedded mode.

Keys are opaque paths chosen by the studio (`users/<id>/images/<id>.png`); the bucket is private. Browsers
fetch objects only through time-limited URLs: presigned by S3, or signed by us and served by the
`/api/files/{token}` route for local files.
"""

from __future__ import annotations

import json
import mimetypes
import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol
from urllib.parse import quote

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from itsdangerous import BadSignature, URLSafeSerializer

from studio.errors import InvalidInput, NotFound, StorageError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

#: Objects never change once written (new content gets a new key), so browsers may keep them.
IMMUTABLE_CACHE_CONTROL = "private, max-age=31536000, immutable"
CHUNK_SIZE = 256 * 1024
FILES_ROUTE = "/api/files"

_KEY_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")


def check_key(key: str) -> str:
    """Refuse keys that could escape the store (`..`, absolute paths, hidden files, odd characters)."""
    if len(key) > 512 or not _KEY_PATTERN.match(key) or ".." in key.split("/"):
        raise InvalidInput(f"invalid object key {key!r}")
    return key


class ObjectStorage(Protocol):
    """Put, get, delete, exists, stream and a time-limited URL for browsers."""

    backend: str

    def put(self, key: str, data: bytes | BinaryIO, content_type: str) -> None: ...

    def get(self, key: str) -> bytes: ...

    def stream(self, key: str) -> Iterator[bytes]: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None: ...

    def url(self, key: str, expires_in: int, download_name: str | None = None) -> str: ...

    def check(self) -> None: ...


def content_disposition(download_name: str) -> str:
    """An attachment header that survives any file name (RFC 6266 with an ASCII fallback)."""
    fallback = re.sub(r"[^A-Za-z0-9._-]", "_", download_name) or "download"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(download_name)}"


# --- S3 -------------------------------------------------------------------------------------------------


class S3Storage:
    """A private S3 bucket through boto3; URLs are presigned GETs."""

    backend = "s3"

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        public_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
    ) -> None:
        self.bucket = bucket
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            connect_timeout=3,
            read_timeout=30,
            retries={"max_attempts": 3, "mode": "standard"},
        )
        credentials: dict[str, Any] = {"region_name": region, "config": config}
        if access_key_id:
            credentials |= {"aws_access_key_id": access_key_id, "aws_secret_access_key": secret_access_key}
        self.client: S3Client = boto3.client("s3", endpoint_url=endpoint_url, **credentials)
        # Presigned URLs must name the host the browser reaches (MinIO is `minio:9000` inside compose).
        self._signer: S3Client = (
            boto3.client("s3", endpoint_url=public_url, **credentials) if public_url else self.client
        )

    def put(self, key: str, data: bytes | BinaryIO, content_type: str) -> None:
        """Bytes in one request; a file object streamed in parts (multipart above 8 MB), never read whole."""
        try:
            if isinstance(data, bytes):
                self.client.put_object(
                    Bucket=self.bucket,
                    Key=check_key(key),
                    Body=data,
                    ContentType=content_type,
                    CacheControl=IMMUTABLE_CACHE_CONTROL,
                )
            else:
                self.client.upload_fileobj(
                    data,
                    self.bucket,
                    check_key(key),
                    ExtraArgs={"ContentType": content_type, "CacheControl": IMMUTABLE_CACHE_CONTROL},
                )
        except (BotoCoreError, ClientError) as err:
            raise StorageError(f"could not store {key}: {err}") from err

    def _get_object(self, key: str) -> Any:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=check_key(key))
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise NotFound(f"no object {key}") from err
            raise StorageError(f"could not read {key}: {err}") from err
        except BotoCoreError as err:
            raise StorageError(f"could not read {key}: {err}") from err

    def get(self, key: str) -> bytes:
        body = self._get_object(key)["Body"]
        with body:
            return bytes(body.read())

    def stream(self, key: str) -> Iterator[bytes]:
        body = self._get_object(key)["Body"]
        with body:
            yield from body.iter_chunks(CHUNK_SIZE)

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=check_key(key))
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise StorageError(f"could not look up {key}: {err}") from err
        except BotoCoreError as err:
            raise StorageError(f"could not look up {key}: {err}") from err
        return True

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=check_key(key))
        except (BotoCoreError, ClientError) as err:
            raise StorageError(f"could not delete {key}: {err}") from err

    def url(self, key: str, expires_in: int, download_name: str | None = None) -> str:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": check_key(key)}
        if download_name:
            params["ResponseContentDisposition"] = content_disposition(download_name)
        return self._signer.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in)

    def check(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as err:
            raise StorageError(f"bucket {self.bucket} is not reachable: {err}") from err

    def create_bucket(self) -> None:
        """Create the bucket when missing (tests and first start against an empty MinIO)."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self.client.create_bucket(Bucket=self.bucket)


# --- local directory ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignedFile:
    """What a valid signed URL grants: one file, its type, and how to name a download."""

    path: Path
    content_type: str
    download_name: str | None
    expires_at: int
    size: int


class LocalStorage:
    """Objects as files under a directory; URLs are signed tokens served by our own route."""

    backend = "local"

    def __init__(self, root: Path, *, secret_key: str, base_url: str, clock: Any = time.time) -> None:
        self.root = root
        self._objects = root / "objects"
        self._meta = root / "meta"
        self._signer = URLSafeSerializer(secret_key, salt="studio.files")
        self._base_url = base_url.rstrip("/")
        self._clock = clock

    def _paths(self, key: str) -> tuple[Path, Path]:
        check_key(key)
        return self._objects / key, self._meta / f"{key}.json"

    def put(self, key: str, data: bytes | BinaryIO, content_type: str) -> None:
        path, meta = self._paths(key)
        try:
            _write_atomically(path, data)
            _write_atomically(meta, json.dumps({"content_type": content_type}).encode())
        except OSError as err:
            raise StorageError(f"could not store {key}: {err}") from err

    def get(self, key: str) -> bytes:
        path, _ = self._paths(key)
        try:
            return path.read_bytes()
        except FileNotFoundError as err:
            raise NotFound(f"no object {key}") from err
        except OSError as err:
            raise StorageError(f"could not read {key}: {err}") from err

    def stream(self, key: str) -> Iterator[bytes]:
        path, _ = self._paths(key)
        try:
            handle = path.open("rb")
        except FileNotFoundError as err:
            raise NotFound(f"no object {key}") from err
        with handle:
            while chunk := handle.read(CHUNK_SIZE):
                yield chunk

    def exists(self, key: str) -> bool:
        return self._paths(key)[0].is_file()

    def delete(self, key: str) -> None:
        for path in self._paths(key):
            path.unlink(missing_ok=True)

    def url(self, key: str, expires_in: int, download_name: str | None = None) -> str:
        check_key(key)
        claims: dict[str, Any] = {"k": key, "e": int(self._clock()) + expires_in}
        if download_name:
            claims["d"] = download_name
        return f"{self._base_url}{FILES_ROUTE}/{self._signer.dumps(claims)}"

    def open_signed(self, token: str) -> SignedFile:
        """The file a signed URL grants, or NotFound for a forged, altered, expired or dangling token."""
        try:
            claims = self._signer.loads(token)
            key, expires_at = check_key(claims["k"]), int(claims["e"])
        except (BadSignature, KeyError, TypeError, ValueError, InvalidInput) as err:
            raise NotFound("invalid file link") from err
        if expires_at < self._clock():
            raise NotFound("this file link has expired")
        path, meta = self._paths(key)
        try:
            found = path.stat()
        except OSError as err:
            raise NotFound("no such file") from err
        if not stat.S_ISREG(found.st_mode):
            raise NotFound("no such file")
        try:
            content_type = json.loads(meta.read_text())["content_type"]
        except (OSError, ValueError, KeyError):
            content_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
        return SignedFile(path, content_type, claims.get("d"), expires_at, found.st_size)

    def check(self) -> None:
        self._objects.mkdir(parents=True, exist_ok=True)
        if not os.access(self._objects, os.W_OK):
            raise StorageError(f"{self._objects} is not writable")


def _write_atomically(path: Path, data: bytes | BinaryIO) -> None:
    """Write to a temporary file and rename it, so readers never see half an object (a file object is
    copied in chunks)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            if isinstance(data, bytes):
                handle.write(data)
            else:
                shutil.copyfileobj(data, handle, 1024 * 1024)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
