"""How the publication chunk layout was chosen: map reads versus point time series.

Writes one realistic product (a smooth, noisy float32 field, hourly) with several chunk
layouts — the two extremes (one map per chunk; long series in small tiles), a daily slab,
and :func:`weatherdata.publication.chunk_layout` ("balanced", what ``publish`` uses) —
and measures, for each: compressed size, write time, and for the two ways products are
read (a whole-domain map at one time; the series at one point over the whole range) the
chunks touched, the compressed bytes they hold (what a remote reader downloads) and the
local read time. Chunk counts and bytes are exact; times are noisy on a shared machine.

Usage::

    python benchmarks/bench_chunk_layout.py [--hours 720] [--rows 241] [--columns 321]
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import zarr
from zarr.codecs import BloscCodec

from weatherdata.publication import chunk_layout


def field(hours: int, rows: int, columns: int) -> np.ndarray:
    """A temperature-like field: smooth in space, diurnal in time, with some noise."""
    rng = np.random.default_rng(1)
    y = np.linspace(0, 3, rows)[:, None]
    x = np.linspace(0, 4, columns)[None, :]
    base = 25 + 3 * np.sin(y) * np.cos(x)
    hours_axis = np.arange(hours)[:, None, None]
    diurnal = 4 * np.sin(2 * np.pi * (hours_axis % 24) / 24)
    noise = rng.normal(0, 0.3, (hours, rows, columns))
    return (base[None] + diurnal + noise).astype(np.float32)


def touched(chunks: tuple[int, ...], selection: tuple) -> list[tuple[int, ...]]:
    """Chunk grid indices read by a selection of ``(axis length, int or full slice)``."""
    per_axis = []
    for size, (length, pick) in zip(chunks, selection, strict=True):
        per_axis.append([pick // size] if isinstance(pick, int) else range(-(-length // size)))
    return list(itertools.product(*per_axis))


def chunk_bytes(path: Path, indices: list[tuple[int, ...]]) -> int:
    total = 0
    for index in indices:
        chunk = path / "c" / "/".join(str(i) for i in index)
        if chunk.exists():
            total += chunk.stat().st_size
    return total


def measure(data: np.ndarray, chunks: tuple[int, ...], work: Path, name: str) -> dict:
    path = work / f"{name}.zarr"
    started = time.perf_counter()
    array = zarr.create_array(
        path,
        shape=data.shape,
        chunks=chunks,
        dtype="float32",
        compressors=(BloscCodec(cname="lz4", clevel=5, shuffle="shuffle"),),
    )
    array[...] = data
    write = time.perf_counter() - started
    size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    hours, rows, columns = data.shape
    out = {"name": name, "chunks": chunks, "MB": size / 1e6, "write_s": write}
    for label, selection in (
        ("map", (hours // 2, slice(None), slice(None))),
        ("series", (slice(None), rows // 2, columns // 2)),
    ):
        lengths = list(zip(data.shape, selection, strict=True))
        indices = touched(chunks, tuple((length, pick) for length, pick in lengths))
        reader = zarr.open_array(path, mode="r")
        started = time.perf_counter()
        for _ in range(3):
            reader[selection]
        out[f"{label}_s"] = (time.perf_counter() - started) / 3
        out[f"{label}_chunks"] = len(indices)
        out[f"{label}_MB"] = chunk_bytes(path, indices) / 1e6
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hours", type=int, default=720)
    parser.add_argument("--rows", type=int, default=241)
    parser.add_argument("--columns", type=int, default=321)
    args = parser.parse_args()
    data = field(args.hours, args.rows, args.columns)
    sizes = {"time": args.hours, "latitude": args.rows, "longitude": args.columns}
    layouts = {
        "map (1 step, whole plane)": (1, args.rows, args.columns),
        "daily slab (24 steps, whole plane)": (24, args.rows, args.columns),
        "series (whole range, 32x32 tiles)": (args.hours, 32, 32),
        "balanced (publish)": tuple(chunk_layout(sizes, "balanced").values()),
    }
    work = Path(tempfile.mkdtemp(prefix="weatherdata-chunks-"))
    try:
        rows = [
            measure(data, chunks, work, str(index)) | {"name": name}
            for index, (name, chunks) in enumerate(layouts.items())
        ]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"{args.hours} h x {args.rows} x {args.columns} float32 "
        f"({data.nbytes / 1e6:.0f} MB raw), Blosc-LZ4"
    )
    header = (
        f"{'layout':38} {'chunks':>18} {'MB':>6} {'write s':>8} | "
        f"{'map: chunks':>11} {'MB':>6} {'ms':>6} | {'series: chunks':>14} {'MB':>6} {'ms':>6}"
    )
    print(header)
    for row in rows:
        print(
            f"{row['name']:38} {'x'.join(map(str, row['chunks'])):>18} {row['MB']:6.1f} "
            f"{row['write_s']:8.2f} | {row['map_chunks']:11d} {row['map_MB']:6.2f} "
            f"{1e3 * row['map_s']:6.1f} | {row['series_chunks']:14d} {row['series_MB']:6.2f} "
            f"{1e3 * row['series_s']:6.1f}"
        )


if __name__ == "__main__":
    main()
