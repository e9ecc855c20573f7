"""Object storage backends: a local directory (the embedded default) and S3 through boto3."""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse


def new_object_key(kind: str, school_id: int, ext: str = "jpg") -> str:
    """A generated key — never the client's file name."""
    now = datetime.now(UTC)
    return f"{kind}/{school_id}/{now:%Y/%m}/{secrets.token_hex(16)}.{ext}"


class LocalStore:
    """Objects as files below one directory; served to the browser through an authorized view."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root) or path == self.root:
            raise KeyError(key)
        return path

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, path)  # readers never see half an object

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise KeyError(key) from None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def check(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if not os.access(self.root, os.W_OK):
            raise OSError(f"storage directory {self.root} is not writable")

    def presigned_url(self, key: str, expires: int = 300) -> str | None:
        """Local objects have no direct URL; the web app streams them after an access check."""
        return None


class S3Store:
    """Private objects in an S3 bucket (AWS, MinIO, SeaweedFS…), read through presigned URLs."""

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        path_style: bool = True,
        prefix: str = "",
    ):
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region or "us-east-1",
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=Config(
                connect_timeout=3,
                read_timeout=10,
                retries={"mode": "standard", "max_attempts": 3},
                s3={"addressing_style": "path" if path_style else "auto"},
                signature_version="s3v4",
            ),
        )

    def _key(self, key: str) -> str:
        return self.prefix + key

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=content_type)

    def get(self, key: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise KeyError(key) from None
            raise

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return False
            raise

    def check(self) -> None:
        self.client.head_bucket(Bucket=self.bucket)

    def presigned_url(self, key: str, expires: int = 300) -> str | None:
        """A GET URL valid for at most five minutes."""
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self._key(key)}, ExpiresIn=min(expires, 300)
        )


def store_from_url(url: str, *, options: dict | None = None, base_dir: str | os.PathLike = ".") -> LocalStore | S3Store:
    """Build the backend named by ``STORAGE_URL``: ``file:///path``, a plain path, or ``s3://bucket/prefix``."""
    options = options or {}
    parsed = urlparse(url)
    if parsed.scheme == "s3":
        return S3Store(
            parsed.netloc,
            prefix=parsed.path.strip("/") + "/" if parsed.path.strip("/") else "",
            endpoint_url=options.get("endpoint_url"),
            region=options.get("region"),
            access_key=options.get("access_key"),
            secret_key=options.get("secret_key"),
            path_style=options.get("path_style", True),
        )
    if parsed.scheme in ("file", ""):
        path = parsed.path if parsed.scheme == "file" else url
        return LocalStore(Path(base_dir) / path)
    raise ValueError(f"unsupported STORAGE_URL scheme: {parsed.scheme!r} (use file:// or s3://)")
