"""End-to-end pipeline benchmark (issue: catalog, engine and publication).

Measures, in one run on the same demo inputs:

1. ``publish`` versus the naive approach: each product derived on its own (every
   dependency recomputed, no shared graph) and written with ``to_zarr``. The naive run is
   slow, so both run on a sample of products spread over the catalog (``--sample``; every
   k-th id), and ``publish`` of the same sample is the comparison (sharing helps less in a
   sample than in the whole catalog, so the ratio is conservative).
2. ``publish`` of every product versus raw I/O: reading every input variable and writing
   the same number of bytes with zarr alone (the floor any pipeline pays).
3. Scaling (``--scaling``): the sample on three grid sizes; time per cell-hour, total and
   compute-only (the graph is built once per product whatever the grid size).
4. Peak memory (``--memory``): publish of the sample in a fresh process on 2, 4 and 8 days
   of input; with chunked processing the peak stays flat while the input grows.

Usage::

    python benchmarks/bench_pipeline.py [--resolution 0.2] [--sample 40] [--scaling] [--memory]

Ratios, not absolute times, are the result: the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import dask
import numpy as np
import zarr

import weatherdata
from weatherdata.catalog import shipped_catalog
from weatherdata.demo import write_demo
from weatherdata.engine import derive_arrays
from weatherdata.publication import publish


def timed(function, *args, **kwargs):
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - started, result


def naive(observations, forecast, products, root: Path):
    """Each product on its own: derive (recomputing every dependency), then to_zarr."""
    for product in products:
        arrays = derive_arrays(observations, [product], forecast=forecast)
        arrays[product].to_dataset().to_zarr(
            root / f"{product}.zarr", mode="w", zarr_format=3, consolidated=True
        )


def raw_io(observations, forecast, total_bytes: int, root: Path):
    """Read every input once and write ``total_bytes`` of float32 with zarr alone."""
    for dataset in (observations, forecast):
        if dataset is not None:
            dask.compute(*[v.data.sum() for v in dataset.data_vars.values()])
    cells = max(1, total_bytes // 4)
    side = 1000
    array = zarr.create_array(
        root / "raw.zarr",
        shape=(max(1, cells // (side * side)) + 1, side, side),
        chunks=(1, side, side),
        dtype="float32",
    )
    block = np.random.default_rng(0).random((1, side, side), dtype=np.float32)
    for index in range(array.shape[0]):
        array[index : index + 1] = block


def sample(size: int | None) -> list[str] | None:
    """Every k-th catalog id, so the sample spans all families and kinds of recipe."""
    ids = sorted(shipped_catalog().products)
    if not size or size >= len(ids):
        return None
    step = len(ids) / size
    return [ids[int(index * step)] for index in range(size)]


class _Stages:
    """Seconds spent planning stores (graph building) versus computing and writing."""

    def __init__(self):
        self.started = time.perf_counter()
        self.compute_started = None

    def __call__(self, stage, done, total):
        if stage == "compute" and self.compute_started is None:
            self.compute_started = time.perf_counter()


def run(resolution: float, products: list[str] | None, *, compare: bool, days: int = 5) -> dict:
    work = Path(tempfile.mkdtemp(prefix="weatherdata-bench-"))
    try:
        write_demo(work / "input", resolution=resolution, days=days)
        observations, forecast = weatherdata.open_inputs(work / "input")
        stages = _Stages()
        seconds, summary = timed(
            publish,
            observations,
            work / "published",
            products,
            forecast=forecast,
            progress=stages,
        )
        compute = time.perf_counter() - (stages.compute_started or stages.started)
        cells = observations.sizes["time"] * int(
            np.prod([observations.sizes[d] for d in ("latitude", "longitude")])
        )
        out = {
            "resolution": resolution,
            "products": len(summary.stores),
            "publish_s": seconds,
            "compute_s": compute,
            "bytes": summary.total_bytes,
            "microseconds_per_cell_hour": 1e6 * seconds / cells,
            "compute_microseconds_per_cell_hour": 1e6 * compute / cells,
        }
        if compare:
            ids = [s.product for s in summary.stores]
            out["naive_s"], _ = timed(naive, observations, forecast, ids, work / "naive")
            out["raw_io_s"], _ = timed(
                raw_io, observations, forecast, summary.total_bytes, work / "raw"
            )
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)


def peak_memory(resolution: float, products: list[str] | None, days: int) -> float:
    """Peak RSS (MB) of a fresh process that writes the demo and publishes ``products``."""
    import json
    import subprocess
    import sys

    code = f"""
import resource, tempfile, pathlib, weatherdata
from weatherdata.demo import write_demo
from weatherdata.publication import publish
work = pathlib.Path(tempfile.mkdtemp())
write_demo(work / "input", resolution={resolution}, days={days})
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
observations, forecast = weatherdata.open_inputs(work / "input")
publish(observations, work / "published", {products!r}, forecast=forecast)
import shutil; shutil.rmtree(work)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return float(json.loads(result.stdout.strip().splitlines()[-1]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--resolution", type=float, default=0.2)
    parser.add_argument(
        "--sample", type=int, default=40, help="products in the naive comparison (0: all)"
    )
    parser.add_argument("--scaling", action="store_true", help="also run three grid sizes")
    parser.add_argument("--memory", action="store_true", help="also measure peak memory")
    args = parser.parse_args()
    chosen = sample(args.sample)
    result = run(args.resolution, chosen, compare=True)
    print(f"sample: {result['products']} products at {args.resolution} deg")
    print(f"publish (shared graph): {result['publish_s']:.1f} s")
    print(
        f"naive (per product):    {result['naive_s']:.1f} s  -> speed-up {result['naive_s'] / result['publish_s']:.1f}x (target >= 5x)"
    )
    everything = run(args.resolution, None, compare=False)
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="weatherdata-bench-raw-"))
    try:
        write_demo(work / "input", resolution=args.resolution)
        observations, forecast = weatherdata.open_inputs(work / "input")
        started = time.perf_counter()
        raw_io(observations, forecast, everything["bytes"], work / "raw")
        raw_seconds = time.perf_counter() - started
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"all {everything['products']} products: publish {everything['publish_s']:.1f} s "
        f"(graph {everything['publish_s'] - everything['compute_s']:.1f} s, compute+write "
        f"{everything['compute_s']:.1f} s), {everything['bytes'] / 1e6:.1f} MB"
    )
    print(
        f"raw I/O floor:          {raw_seconds:.1f} s  -> publish / raw {everything['publish_s'] / raw_seconds:.1f}x (target <= 2x)"
    )
    if args.scaling:
        rows = [run(r, chosen, compare=False) for r in (0.4, 0.2, 0.1)]
        base = rows[-1]
        for row in rows:
            print(
                f"resolution {row['resolution']}: {row['publish_s']:.1f} s, "
                f"{row['microseconds_per_cell_hour']:.2f} us per cell-hour "
                f"({row['microseconds_per_cell_hour'] / base['microseconds_per_cell_hour']:.2f} of the finest); "
                f"compute only {row['compute_microseconds_per_cell_hour']:.2f} us "
                f"({row['compute_microseconds_per_cell_hour'] / base['compute_microseconds_per_cell_hour']:.2f})"
            )
    if args.memory:
        for days in (2, 4, 8):
            print(
                f"peak memory, {days} days of input: {peak_memory(args.resolution, chosen, days):.0f} MB"
            )


if __name__ == "__main__":
    main()
