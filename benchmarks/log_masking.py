"""What the log filter that masks phone and ID numbers costs per record: CPU time to format and write 50,000 records
to an in-memory stream through a handler with the filter (webapp.log_masking.MaskingFilter), against the same handler
without it, measured in the same run (best of 5 rounds, process CPU time). Two kinds of record: a typical line with
no personal number, and one with a phone and an ID number as arguments.

    .venv/bin/python benchmarks/log_masking.py
"""

from __future__ import annotations

import io
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from webapp.log_masking import MaskingFilter  # noqa: E402

RECORDS = 50_000
ROUNDS = 5
ID_18 = "52010220160301007X"  # synthetic (see confirm.validation.make_resident_id)


def _logger(masked: bool) -> logging.Logger:
    logger = logging.getLogger(f"bench.masking.{masked}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    if masked:
        handler.addFilter(MaskingFilter())
    logger.handlers[:] = [handler]
    return logger


def _cpu_seconds(logger: logging.Logger, personal: bool) -> float:
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.process_time()
        for n in range(RECORDS):
            if personal:
                logger.info("SMS %s queued for %s (student %s)", n, "13912345678", ID_18)
            else:
                logger.info("printed %s sheets on %s pages for class %s", n, n // 2, 17)
        best = min(best, time.process_time() - start)
    return best


def main() -> None:
    print(f"{RECORDS} records, best of {ROUNDS} rounds, CPU time")
    for personal in (False, True):
        plain = _cpu_seconds(_logger(False), personal)
        masked = _cpu_seconds(_logger(True), personal)
        kind = "with a phone and an ID number" if personal else "without personal numbers   "
        print(f"  {kind}: unmasked {plain * 1e6 / RECORDS:5.1f} µs/record, masked {masked * 1e6 / RECORDS:5.1f} "
              f"µs/record, ratio {masked / plain:.2f}")


if __name__ == "__main__":
    main()
