"""Benchmark: put + get of 100 × 500 KB objects through the app's S3Store to a local SeaweedFS (`weed mini`),
with the LocalStore on the same machine as the baseline, measured in the same run.

One client, one request at a time (as one web worker stores and reads photos). Prints objects/s (and MB/s) for
put, get and put+get combined. SeaweedFS is started exactly as the tests start it (tests/s3server.py: free
ports, 127.0.0.1 only, an identity file) and stopped by its PID at the end.

Usage: python benchmarks/storage_s3.py [COUNT] [SIZE_KB]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.s3server import start_weed  # noqa: E402
from uploads.storage import LocalStore, new_object_key  # noqa: E402


def measure(name: str, store, payloads: list[bytes]) -> dict:
    keys = [new_object_key("sheet", 1) for _ in payloads]
    start = time.perf_counter()
    for key, data in zip(keys, payloads, strict=True):
        store.put(key, data, "image/jpeg")
    put_s = time.perf_counter() - start
    start = time.perf_counter()
    for key, data in zip(keys, payloads, strict=True):
        if store.get(key) != data:
            raise AssertionError(f"{name}: {key} came back different")
    get_s = time.perf_counter() - start
    for key in keys:
        store.delete(key)
    n, mb = len(payloads), sum(map(len, payloads)) / 1e6
    return {"name": name, "n": n, "mb": mb, "put_s": put_s, "get_s": get_s}


def report(r: dict) -> None:
    n, mb, put_s, get_s = r["n"], r["mb"], r["put_s"], r["get_s"]
    both = put_s + get_s
    print(f"{r['name']:>10}: put {n / put_s:8.1f} objects/s ({mb / put_s:7.1f} MB/s, {put_s:.3f} s)   "
          f"get {n / get_s:8.1f} objects/s ({mb / get_s:7.1f} MB/s, {get_s:.3f} s)   "
          f"put+get {2 * n / both:8.1f} operations/s = {n / both:7.1f} objects/s ({both:.3f} s)")


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    size = (int(sys.argv[2]) if len(sys.argv) > 2 else 500) * 1000
    payloads = [os.urandom(size) for _ in range(count)]
    print(f"{count} objects × {size // 1000} KB of random bytes, one request at a time")

    server = start_weed()
    try:
        print(f"weed mini (pid {server.pid}) answered S3 after {server.startup_seconds:.2f} s; "
              f"S3 on {server.endpoint_url}")
        store = server.store("bench/")
        measure("warm-up", store, payloads[:5])
        s3 = measure("SeaweedFS", store, payloads)
    finally:
        server.stop()

    with tempfile.TemporaryDirectory(prefix="bench-local-") as directory:
        local = measure("LocalStore", LocalStore(directory), payloads)

    report(s3)
    report(local)
    s3_total, local_total = s3["put_s"] + s3["get_s"], local["put_s"] + local["get_s"]
    print(f"SeaweedFS put+get takes {s3_total / local_total:.1f}× the local directory's time")


if __name__ == "__main__":
    main()
