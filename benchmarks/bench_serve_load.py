"""Load on ``weatherdata serve``: concurrent clients reading random chunks from localhost.

Starts ``weatherdata serve ROOT`` in its own process (access log on, as deployed, written to
a file), then runs ``--clients`` concurrent aiohttp clients — each its own session and
connection, as separate researchers would be — for ``--seconds``. Each client GETs a chunk
chosen at random among every chunk of every published store (through the store symlinks,
the URLs readers use) and checks the status and the body length against the file. Reports
errors (target 0), requests/s, MB/s and latency percentiles.

The clients and the server share the machine (two cores here, with other work on them):
throughput and latency are noisy and bounded by the client as much as by the server; the
error count is not.

Usage::

    python benchmarks/bench_serve_load.py [--root ROOT] [--clients 50] [--seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.helpers import serving


def chunk_files(root: Path, data_only: bool = False) -> list[tuple[str, int]]:
    """``(URL path, size)`` of every chunk of every store listed in ``products.json``
    (with ``data_only``, of the product variables only: no coordinate chunks)."""
    out = []
    for product in json.loads((root / "products.json").read_text())["products"]:
        store = root / product["href"]
        for path in store.rglob("*"):
            relative = path.relative_to(store)
            if not (path.is_file() and "c" in relative.parts[:-1]):
                continue
            if data_only and relative.parts[0] != product["id"]:
                continue
            out.append((f"/{product['href']}/{relative.as_posix()}", path.stat().st_size))
    return sorted(out)


async def client(index, url, chunks, deadline, latencies, errors, totals):
    import aiohttp

    rng = random.Random(index)
    connector = aiohttp.TCPConnector(limit=1)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        while time.monotonic() < deadline:
            path, size = rng.choice(chunks)
            started = time.perf_counter()
            try:
                async with session.get(url + path) as response:
                    body = await response.read()
                    if response.status != 200 or len(body) != size:
                        errors.append(f"{path}: HTTP {response.status}, {len(body)} of {size} B")
                        continue
            except Exception as exc:
                errors.append(f"{path}: {type(exc).__name__}: {exc}")
                continue
            latencies.append(time.perf_counter() - started)
            totals[0] += len(body)


async def load(url, chunks, clients, seconds):
    latencies, errors, totals = [], [], [0]
    started = time.monotonic()
    deadline = started + seconds
    await asyncio.gather(
        *(client(i, url, chunks, deadline, latencies, errors, totals) for i in range(clients))
    )
    return latencies, errors, totals[0], time.monotonic() - started


def publish_sample(directory: Path, resolution: float) -> Path:
    import weatherdata
    from weatherdata.demo import write_demo
    from weatherdata.publication import publish

    write_demo(directory / "input", resolution=resolution, days=5)
    observations, forecast = weatherdata.open_inputs(directory / "input")
    products = [
        "temperature_2m",
        "dewpoint_2m",
        "relative_humidity_2m_analysis",
        "wind_speed_10m",
        "precipitation_accumulation_1h",
        "precipitation_accumulation_24h",
        "heat_index",
        "daily_maximum_temperature",
        "forecast_temperature_2m",
        "heat_warning_signal",
    ]
    publish(observations, directory / "products", products, forecast=forecast)
    return directory / "products"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, help="publication root (default: publish a sample)")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--resolution", type=float, default=0.2, help="demo grid of the sample")
    parser.add_argument("--no-access-log", action="store_true", help="serve without the access log")
    parser.add_argument(
        "--data-only", action="store_true", help="read product chunks only, not coordinates"
    )
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-serve-load-") as scratch:
        scratch = Path(scratch)
        root = arguments.root or publish_sample(scratch, arguments.resolution)
        chunks = chunk_files(root, arguments.data_only)
        if not chunks:
            raise SystemExit(f"{root}: no chunks to read")
        extra = ["--no-access-log"] if arguments.no_access_log else []
        with serving(root, scratch / "serve.log", *extra) as url:
            latencies, errors, body_bytes, elapsed = asyncio.run(
                load(url, chunks, arguments.clients, arguments.seconds)
            )
        log_lines = (scratch / "serve.log").read_text().count("\n")
    sizes = np.array([size for _, size in chunks])
    requests = len(latencies) + len(errors)
    print(
        f"root {root}: {len(chunks)} {'product' if arguments.data_only else 'product and coordinate'}"
        f" chunks, median {np.median(sizes) / 1024:.1f} KiB, max {sizes.max() / 1024:.1f} KiB"
    )
    print(
        f"{arguments.clients} clients, {elapsed:.1f} s, access log "
        f"{'off' if arguments.no_access_log else f'on ({log_lines} lines)'}"
    )
    print("| requests | errors | requests/s | MB/s | p50 ms | p90 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|---|---|---|")
    milliseconds = np.array(latencies) * 1000 if latencies else np.array([np.nan])
    p50, p90, p99 = np.percentile(milliseconds, [50, 90, 99])
    print(
        f"| {requests} | {len(errors)} | {requests / elapsed:.0f} | "
        f"{body_bytes / elapsed / 1e6:.1f} | {p50:.1f} | {p90:.1f} | {p99:.1f} | "
        f"{milliseconds.max():.1f} |"
    )
    for error in errors[:10]:
        print("error:", error)
    if errors:
        raise SystemExit(f"{len(errors)} errors")


if __name__ == "__main__":
    main()
