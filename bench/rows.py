"""Measurements a benchmark script hands to bench/summary.py (``make bench`` runs them all,
then prints one table with every target, PASS/FAIL per row): one JSON object per line in the
file named by MESHKIT_BENCH_ROWS. Without that variable nothing is written."""

import json
import os


def record(key: str, **values) -> None:
    path = os.environ.get("MESHKIT_BENCH_ROWS")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps({"key": key, **values}) + "\n")


def load(path: str) -> dict:
    """{key: values}; a key measured twice keeps its last values."""
    found = {}
    with open(path) as f:
        for line in f:
            if line.strip():
                item = json.loads(line)
                found[item.pop("key")] = item
    return found
