"""Remote-access efficiency, counted at the server: requests and bytes per reader action.

``weatherdata serve``'s application (:func:`weatherdata.serve.create_app`) runs under Uvicorn
in this process, wrapped in an ASGI middleware that records every request it answers
(method, path, status, body bytes as sent, i.e. after gzip). Readers are plain xarray over
HTTP, as a researcher without weatherdata would use it, plus the notebook helpers. For a
representative set of products (hourly grid, daily grid, forecast grid, categorical signal,
district table) it measures:

- **open**: ``xr.open_zarr(url, consolidated=True, zarr_format=3)`` — metadata requests
  (target: 1) and the coordinate chunks xarray reads to build its indexes; the same with
  xarray's defaults, to show what the advertised open arguments save;
- **series**: the value at one point (one district and signal for a table) over the full
  time range, ``.load()`` after the open — data chunks read (target: ≤ 2);
- **map**: the whole domain at one time — data chunks read (target: bounded, one per
  horizontal tile);
- **list**: ``weatherdata.list_products(url)`` (target: 1 request), STAC ``catalog.json``.

Counts are exact and do not depend on the machine. Chunks per read grow with the store,
so a last table projects :func:`weatherdata.publication.chunk_layout` to larger grids and
longer time ranges (pure arithmetic). Times are not reported: the machine is shared.

Usage::

    python benchmarks/bench_remote.py                 # publish the representative set first
    python benchmarks/bench_remote.py --root ROOT     # an existing publication root
"""

from __future__ import annotations

import argparse
import math
import socket
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

warnings.filterwarnings("ignore", message="Consolidated metadata is currently not part")

#: (product, kind): one of each way products are shaped and read.
REPRESENTATIVE = [
    ("temperature_2m", "hourly grid"),
    ("daily_maximum_temperature", "daily grid"),
    ("forecast_temperature_2m", "forecast grid"),
    ("heat_warning_signal", "categorical"),
    ("guangzhou_district_warning_signals", "district table"),
]
TIME_DIMENSIONS = ("time", "day", "init_time")
HORIZONTAL = {("latitude", "longitude"), ("signal", "district"), ("signal", "city")}


@dataclass
class Request:
    method: str
    path: str
    status: int = 0
    bytes: int = 0
    ranged: bool = False


@dataclass
class Counter:
    """An ASGI middleware that records every HTTP request and the body bytes it sent."""

    app: object
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        record = Request(scope["method"], scope["path"], ranged=b"range" in headers)

        async def counting(message):
            if message["type"] == "http.response.start":
                record.status = message["status"]
            elif message["type"] == "http.response.body":
                record.bytes += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, counting)
        finally:
            with self.lock:
                self.requests.append(record)

    def take(self) -> list[Request]:
        """The requests since the last call (waiting briefly for in-flight ones to finish)."""
        time.sleep(0.05)
        with self.lock:
            taken, self.requests = self.requests, []
        return taken


class CountingServer:
    """``create_app(root)`` under Uvicorn in a background thread, behind a :class:`Counter`."""

    def __init__(self, root: Path):
        import uvicorn

        from weatherdata.serve import create_app

        self.counter = Counter(create_app(root))
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(
            self.counter, host="127.0.0.1", port=port, log_level="warning", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        for _ in range(200):
            if self.server.started:
                return self
            time.sleep(0.05)
        raise RuntimeError("uvicorn did not start")

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(10)


# -- measurements --------------------------------------------------------------------


@dataclass
class Counts:
    requests: int
    metadata: int
    chunks: int  # distinct data-variable chunks
    coordinate_chunks: int  # coordinate chunk requests (repeats included)
    bytes: int
    not_found: int
    ranged: int

    @classmethod
    def of(cls, requests: list[Request], product: str) -> Counts:
        metadata = [r for r in requests if r.path.endswith(".json")]
        data = {r.path for r in requests if f".zarr/{product}/c/" in r.path}
        coordinates = [
            r for r in requests if "/c/" in r.path and f".zarr/{product}/c/" not in r.path
        ]
        return cls(
            requests=len(requests),
            metadata=len(metadata),
            chunks=len(data),
            coordinate_chunks=len(coordinates),
            bytes=sum(r.bytes for r in requests),
            not_found=sum(r.status == 404 for r in requests),
            ranged=sum(r.ranged for r in requests),
        )


def _open(url: str, defaults: bool = False) -> xr.Dataset:
    if defaults:
        return xr.open_zarr(url)
    return xr.open_zarr(url, consolidated=True, zarr_format=3)


def _series_selection(variable: xr.DataArray) -> dict[str, int]:
    """One point (middle cell; first district and a signal for tables): every other dim whole."""
    time_dim = next(d for d in variable.dims if d in TIME_DIMENSIONS)
    horizontal = [d for d in variable.dims if d != time_dim][-2:]
    return {d: variable.sizes[d] // 2 for d in horizontal}


def _map_selection(variable: xr.DataArray) -> dict[str, int]:
    """The whole domain at the last time (the first lead time of the last forecast run)."""
    selection = {d: -1 for d in variable.dims if d in TIME_DIMENSIONS}
    if "lead_time" in variable.dims:
        selection["lead_time"] = 0
    return selection


def measure(server: CountingServer, href: str, product: str) -> dict:
    counter = server.counter
    url = f"{server.url}/{href}"
    counter.take()
    out = {}
    _open(url, defaults=True)
    out["open_defaults"] = Counts.of(counter.take(), product)
    data = _open(url)
    out["open"] = Counts.of(counter.take(), product)
    variable = data[product]
    out["zarr_chunks"] = dict(
        zip(variable.dims, variable.encoding.get("chunks", variable.shape), strict=True)
    )
    out["shape"] = dict(variable.sizes)
    variable.isel(_series_selection(variable)).load()
    out["series"] = Counts.of(counter.take(), product)
    variable.isel(_map_selection(variable)).load()
    out["map"] = Counts.of(counter.take(), product)
    # What a full-domain map may read: one chunk per horizontal tile.
    horizontal = [d for d in variable.dims if d not in TIME_DIMENSIONS and d != "lead_time"]
    out["map_bound"] = math.prod(
        -(-variable.sizes[d] // out["zarr_chunks"][d]) for d in horizontal[-2:]
    )
    return out


def listing(server: CountingServer) -> dict[str, Counts]:
    import weatherdata

    counter = server.counter
    counter.take()
    out = {}
    products = weatherdata.list_products(server.url)
    out[f"list_products ({len(products)} products)"] = Counts.of(counter.take(), "-")
    weatherdata.open_catalog(server.url)
    out["open_catalog (STAC root)"] = Counts.of(counter.take(), "-")
    weatherdata.open_product("temperature_2m", root=server.url)
    out["open_product temperature_2m"] = Counts.of(counter.take(), "temperature_2m")
    return out


# -- projection ------------------------------------------------------------------------


def projection() -> list[tuple]:
    """Chunks a point series and a map read under ``chunk_layout`` for larger stores."""
    from weatherdata.publication import chunk_layout

    rows = []
    for label, (ny, nx) in {
        "demo 0.5°": (13, 17),
        "demo 0.2°": (31, 41),
        "Guangdong 0.025°": (241, 321),
        "South China 0.01°": (1000, 1000),
    }.items():
        for days in (5, 30, 365):
            hours = 24 * days
            chunks = chunk_layout({"time": hours, "latitude": ny, "longitude": nx})
            series = -(-hours // chunks["time"])
            tiles = -(-ny // chunks["latitude"]) * -(-nx // chunks["longitude"])
            chunk_mib = 4 * math.prod(chunks.values()) / 2**20
            rows.append((label, days, tuple(chunks.values()), series, tiles, chunk_mib))
    return rows


# -- report ----------------------------------------------------------------------------


def _kib(n: int) -> str:
    return f"{n / 1024:.1f}"


def report(results: dict, listed: dict) -> None:
    print("\nPer product (counted at the server; KiB = response bodies as sent)")
    header = (
        "| product | kind | shape | Zarr chunk | open: metadata req + coordinate req, KiB "
        "| open, xarray defaults: req (404s) | series: data chunks + coordinate req, KiB "
        "| map: data chunks [bound] + coordinate req, KiB |"
    )
    print(header)
    print("|---" * 8 + "|")
    for product, (kind, r) in results.items():
        shape = "×".join(str(n) for n in r["shape"].values())
        chunks = "×".join(str(n) for n in r["zarr_chunks"].values())
        o, d, s, m = r["open"], r["open_defaults"], r["series"], r["map"]
        print(
            f"| {product} | {kind} | {shape} | {chunks} "
            f"| {o.metadata} + {o.coordinate_chunks}, {_kib(o.bytes)} "
            f"| {d.requests} ({d.not_found}) "
            f"| {s.chunks} + {s.coordinate_chunks}, {_kib(s.bytes)} "
            f"| {m.chunks} [{r['map_bound']}] + {m.coordinate_chunks}, {_kib(m.bytes)} |"
        )
        for counts in (o, s, m):
            assert counts.requests == counts.metadata + counts.chunks + counts.coordinate_chunks, (
                f"{product}: a data chunk was read more than once"
            )
    print("\nDiscovery")
    print("| action | requests | KiB |")
    print("|---|---|---|")
    for action, counts in listed.items():
        print(f"| {action} | {counts.requests} | {_kib(counts.bytes)} |")
    checks = {
        "open = 1 metadata request": all(r["open"].metadata == 1 for _, r in results.values()),
        "list = 1 request": next(iter(listed.values())).requests == 1,
        "series ≤ 2 chunks": all(r["series"].chunks <= 2 for _, r in results.values()),
        "map ≤ one chunk per tile": all(
            0 < r["map"].chunks <= r["map_bound"] for _, r in results.values()
        ),
        "no 404 and no range request with the advertised arguments": all(
            r[k].not_found == 0 and r[k].ranged == 0
            for _, r in results.values()
            for k in ("open", "series", "map")
        ),
    }
    print("\nTargets: " + "; ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in checks.items()))
    print("\nProjection of chunk_layout (hourly float32 product, balanced profile)")
    print("| grid | days | chunk (t×y×x) | series chunks | map chunks | MiB per chunk |")
    print("|---|---|---|---|---|---|")
    for label, days, chunks, series, tiles, mib in projection():
        flag = " (> 2)" if series > 2 else ""
        print(
            f"| {label} | {days} | {'×'.join(map(str, chunks))} | {series}{flag} | {tiles} "
            f"| {mib:.2f} |"
        )


def publish_representative(directory: Path, resolution: float, days: int) -> Path:
    import weatherdata
    from weatherdata.demo import write_demo
    from weatherdata.publication import publish

    write_demo(directory / "input", resolution=resolution, days=days)
    observations, forecast = weatherdata.open_inputs(directory / "input")
    root = directory / "products"
    publish(observations, root, [p for p, _ in REPRESENTATIVE], forecast=forecast)
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, help="an existing publication root")
    parser.add_argument("--resolution", type=float, default=0.2, help="demo grid spacing, °")
    parser.add_argument("--days", type=int, default=5, help="demo length")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-remote-") as scratch:
        root = arguments.root
        if root is None:
            print(f"publishing the representative products (demo {arguments.resolution}°) …")
            root = publish_representative(Path(scratch), arguments.resolution, arguments.days)
        import json

        index = {p["id"]: p for p in json.loads((root / "products.json").read_text())["products"]}
        missing = [p for p, _ in REPRESENTATIVE if p not in index]
        if missing:
            raise SystemExit(f"{root}: not published: {', '.join(missing)}")
        with CountingServer(root) as server:
            results = {
                product: (kind, measure(server, index[product]["href"], product))
                for product, kind in REPRESENTATIVE
            }
            listed = listing(server)
        print(f"\nroot: {root}  (numpy {np.__version__}, xarray {xr.__version__})")
        report(results, listed)


if __name__ == "__main__":
    main()
