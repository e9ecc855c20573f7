"""The object-store contract, run against both backends (a local directory and S3 on a real SeaweedFS), plus
what only S3 has: presigned URLs, refused anonymous access, bounded client settings, bucket checks."""

from __future__ import annotations

import hashlib
import os
import secrets
import socket
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from uploads.storage import (
    LocalStore,
    S3Store,
    StorageMisconfigured,
    StorageUnavailable,
    is_generated_key,
    new_object_key,
    store_from_url,
)

# --- the contract, on both backends ------------------------------------------------------------------------


def test_put_get_exists_delete(object_store):
    key = new_object_key("sheet", 7)
    assert not object_store.exists(key)
    object_store.put(key, b"\xff\xd8 photo bytes", "image/jpeg")
    assert object_store.exists(key)
    assert object_store.get(key) == b"\xff\xd8 photo bytes"
    object_store.put(key, b"replaced", "image/jpeg")
    assert object_store.get(key) == b"replaced"
    object_store.delete(key)
    assert not object_store.exists(key)
    object_store.delete(key)  # deleting what is gone is no error


def test_missing_object_is_a_key_error(object_store):
    with pytest.raises(KeyError):
        object_store.get(new_object_key("sheet", 7))


def test_large_object_round_trips_intact(object_store):
    data = secrets.token_bytes(6 * 1024 * 1024)  # above SeaweedFS's 4 MB chunk size
    key = new_object_key("proof", 3, "bin")
    object_store.put(key, data, "application/octet-stream")
    assert hashlib.sha256(object_store.get(key)).hexdigest() == hashlib.sha256(data).hexdigest()


def test_a_file_is_stored_from_disk_and_streamed_back_in_blocks(object_store, tmp_path):
    data = secrets.token_bytes(9 * 1024 * 1024 + 123)  # more than one 8 MB part of a multipart upload
    source = tmp_path / "archive.zip"
    source.write_bytes(data)
    key = new_object_key("archive", 3, "zip")
    with source.open("rb") as f:
        object_store.put_file(key, f, "application/zip")
    with object_store.open_object(key) as stream:
        digest = hashlib.sha256()
        while block := stream.read(1024 * 1024):
            digest.update(block)
    assert digest.hexdigest() == hashlib.sha256(data).hexdigest()
    with pytest.raises(KeyError):
        object_store.open_object(new_object_key("archive", 3, "zip"))


def test_list_objects_gives_keys_sizes_and_times(object_store):
    before = datetime.now(UTC) - timedelta(seconds=5)
    keys = sorted(new_object_key("sheet", school) for school in (1, 1, 2))
    for i, key in enumerate(keys):
        object_store.put(key, b"x" * (i + 1), "image/jpeg")
    listed = list(object_store.list_objects())
    assert [o.key for o in listed] == keys
    assert [o.size for o in listed] == [1, 2, 3]
    for o in listed:
        assert o.last_modified.tzinfo is not None
        assert before <= o.last_modified <= datetime.now(UTC) + timedelta(seconds=5)
    assert [o.key for o in object_store.list_objects("sheet/2/")] == [k for k in keys if k.startswith("sheet/2/")]
    assert list(object_store.list_objects("imports/")) == []


def test_empty_store_lists_nothing(object_store):
    assert list(object_store.list_objects()) == []


def test_check_passes_on_a_working_store(object_store):
    object_store.check()


def test_generated_keys_never_contain_the_clients_file_name():
    key = new_object_key("sheet", 12)
    kind, school, year, month, name = key.split("/")
    assert (kind, school) == ("sheet", "12")
    assert year == f"{datetime.now(UTC):%Y}" and len(month) == 2
    assert len(name) == len("0" * 32 + ".jpg") and name.endswith(".jpg")
    assert new_object_key("sheet", 12) != key
    assert new_object_key("imports", 3, "bin").endswith(".bin")
    assert is_generated_key(key) and is_generated_key(key + ".part")
    assert is_generated_key(key.removesuffix(".jpg") + ".thumb.jpg")
    for foreign in ("IMG_0001.jpg", "sheet/12/IMG_0001.jpg", "backup/2024.tar", "../" + key):
        assert not is_generated_key(foreign)


def test_local_store_refuses_keys_outside_its_directory(tmp_path):
    store = LocalStore(tmp_path / "objects")
    for key in ("../outside", "/etc/passwd", "a/../../x", ""):
        with pytest.raises(KeyError):
            store.put(key, b"x", "text/plain")


def test_local_store_has_no_url_the_app_streams_it(tmp_path):
    assert LocalStore(tmp_path).presigned_url(new_object_key("sheet", 1)) is None


# --- S3 only -------------------------------------------------------------------------------------------------


def _anonymous_url(server, store: S3Store, key: str) -> str:
    return f"{server.endpoint_url}/{store.bucket}/{store.prefix}{key}"


@pytest.mark.s3
def test_presigned_url_fetches_the_object_and_expires_within_five_minutes(s3_store):
    key = new_object_key("sheet", 1)
    s3_store.put(key, b"signed sheet", "image/jpeg")
    url = s3_store.presigned_url(key, expires=3600)  # asking for more gets at most 300 s
    assert int(parse_qs(urlparse(url).query)["X-Amz-Expires"][0]) <= 300
    response = requests.get(url, timeout=10)
    assert response.status_code == 200
    assert response.content == b"signed sheet"
    assert response.headers["Content-Type"] == "image/jpeg"
    assert urlparse(url).path == f"/{s3_store.bucket}/{s3_store.prefix}{key}"


@pytest.mark.s3
def test_expired_presigned_url_is_refused(s3_store):
    key = new_object_key("sheet", 1)
    s3_store.put(key, b"x", "image/jpeg")
    url = s3_store.presigned_url(key, expires=1)
    assert int(parse_qs(urlparse(url).query)["X-Amz-Expires"][0]) == 1
    time.sleep(2.1)
    assert requests.get(url, timeout=10).status_code == 403


@pytest.mark.s3
def test_anonymous_requests_are_refused(s3_server, s3_store):
    key = new_object_key("sheet", 1)
    s3_store.put(key, b"private", "image/jpeg")
    url = _anonymous_url(s3_server, s3_store, key)
    assert requests.get(url, timeout=10).status_code == 403
    assert requests.head(url, timeout=10).status_code == 403
    assert requests.put(_anonymous_url(s3_server, s3_store, "planted.jpg"), data=b"x", timeout=10).status_code == 403
    assert requests.delete(url, timeout=10).status_code == 403
    assert requests.get(f"{s3_server.endpoint_url}/{s3_store.bucket}?list-type=2", timeout=10).status_code == 403
    assert not s3_store.exists("planted.jpg")
    assert s3_store.get(key) == b"private"


@pytest.mark.s3
def test_tampered_signature_and_wrong_secret_are_refused(s3_server, s3_store):
    key = new_object_key("sheet", 1)
    s3_store.put(key, b"private", "image/jpeg")
    url = s3_store.presigned_url(key)
    other = s3_store.presigned_url(new_object_key("sheet", 1))
    forged = url.split("X-Amz-Signature=")[0] + "X-Amz-Signature=" + other.split("X-Amz-Signature=")[1]
    assert requests.get(forged, timeout=10).status_code == 403
    wrong = S3Store(s3_store.bucket, endpoint_url=s3_server.endpoint_url, access_key=s3_server.access_key,
                    secret_key="not-the-secret", prefix=s3_store.prefix)
    with pytest.raises(StorageMisconfigured):  # a configuration error: not retried, logged for the operator
        wrong.get(key)


@pytest.mark.s3
def test_every_listener_is_bound_to_loopback_only(s3_server):
    assert "-ip.bind=127.0.0.1" in s3_server.command and "-ip=127.0.0.1" in s3_server.command
    assert "-s3.config=" in " ".join(s3_server.command)
    tables = [Path("/proc/net/tcp"), Path("/proc/net/tcp6")]
    if not tables[0].exists():
        pytest.skip("no /proc/net/tcp on this system")
    listening: dict[int, set[str]] = {}
    for table in tables:
        if not table.exists():
            continue
        for line in table.read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            if state == "0A":  # LISTEN
                address, port = local.split(":")
                listening.setdefault(int(port, 16), set()).add(address)
    for name, port in s3_server.ports.items():
        assert listening.get(port) == {"0100007F"}, f"{name} port {port} listens on {listening.get(port)}"
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass


@pytest.mark.s3
def test_check_raises_when_the_bucket_is_missing(s3_server):
    store = S3Store("no-such-bucket-" + secrets.token_hex(4), endpoint_url=s3_server.endpoint_url,
                    access_key=s3_server.access_key, secret_key=s3_server.secret_key)
    with pytest.raises(StorageMisconfigured, match="does not exist"):
        store.check()


@pytest.mark.timing
def test_unreachable_endpoint_fails_within_bounded_time():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = S3Store("bucket", endpoint_url=f"http://127.0.0.1:{port}", access_key="a", secret_key="b")
    started = time.monotonic()
    with pytest.raises(StorageUnavailable):
        store.check()
    assert time.monotonic() - started < S3Store.CALL_SECONDS


def test_a_storage_call_fits_a_pages_budget_and_boto_does_not_retry_on_its_own():
    config = S3Store("bucket", endpoint_url="http://127.0.0.1:9", access_key="a", secret_key="b").client.meta.config
    assert config.connect_timeout + config.read_timeout <= S3Store.CALL_SECONDS <= 3
    assert config.retries["total_max_attempts"] == 1  # retries are the store's own, inside the call's deadline
    assert config.signature_version == "s3v4"
    assert config.s3["addressing_style"] == "path"
    virtual = S3Store("bucket", path_style=False, access_key="a", secret_key="b").client.meta.config
    assert virtual.s3["addressing_style"] == "auto"


# --- STORAGE_URL -------------------------------------------------------------------------------------------


OPTIONS = {"endpoint_url": "http://127.0.0.1:8333", "region": "cn-north-1", "access_key": "a", "secret_key": "b",
           "path_style": True}


@pytest.mark.parametrize(
    ("url", "bucket", "prefix"),
    [
        ("s3://photos", "photos", ""),
        ("s3://photos/", "photos", ""),
        ("s3://photos/sheets", "photos", "sheets/"),
        ("s3://photos/sheets/", "photos", "sheets/"),
        ("s3://photos/a/b/", "photos", "a/b/"),
    ],
)
def test_s3_urls_name_bucket_and_prefix(url, bucket, prefix):
    store = store_from_url(url, options=OPTIONS)
    assert isinstance(store, S3Store)
    assert (store.bucket, store.prefix) == (bucket, prefix)
    assert store.client.meta.endpoint_url == "http://127.0.0.1:8333"
    assert store.client.meta.region_name == "cn-north-1"


def test_s3_url_without_bucket_is_refused():
    with pytest.raises(ValueError, match="bucket"):
        store_from_url("s3:///prefix/", options=OPTIONS)


def test_file_urls_and_plain_paths(tmp_path):
    absolute = store_from_url(f"file://{tmp_path / 'objects'}", base_dir="/elsewhere")
    assert isinstance(absolute, LocalStore) and absolute.root == (tmp_path / "objects").resolve()
    assert store_from_url(f"file://localhost{tmp_path}", base_dir="/elsewhere").root == tmp_path.resolve()
    assert store_from_url("storage", base_dir=tmp_path).root == (tmp_path / "storage").resolve()
    assert store_from_url(str(tmp_path / "abs"), base_dir="/elsewhere").root == (tmp_path / "abs").resolve()


def test_file_url_with_a_host_is_refused():
    with pytest.raises(ValueError, match="three slashes"):
        store_from_url("file://instance/storage")


@pytest.mark.parametrize("url", ["ftp://host/dir", "http://bucket.example/", "gs://bucket/x"])
def test_unknown_scheme_is_refused(url):
    with pytest.raises(ValueError, match="unsupported STORAGE_URL scheme"):
        store_from_url(url)


def test_prefixed_s3_store_keeps_its_keys_below_the_prefix(s3_server, s3_prefix):
    store = store_from_url(f"s3://{s3_server.bucket}/{s3_prefix.rstrip('/')}", options={
        "endpoint_url": s3_server.endpoint_url, "access_key": s3_server.access_key,
        "secret_key": s3_server.secret_key})
    key = new_object_key("sheet", 1)
    store.put(key, b"x", "image/jpeg")
    raw = s3_server.client().list_objects_v2(Bucket=s3_server.bucket, Prefix=s3_prefix)["Contents"]
    assert [item["Key"] for item in raw] == [s3_prefix + key]
    assert [o.key for o in store.list_objects()] == [key]
    assert os.path.basename(key) in store.presigned_url(key)
