"""End-to-end pipeline benchmark (issue: catalog, engine and publication).

Measures, in one run on the same demo inputs:

1. ``publish`` of every product (one Dask graph, shared intermediates) versus the naive
   approach: each product derived on its own (no sharing) and written with ``to_zarr``.
2. ``publish`` versus raw I/O: reading every input variable and writing the same number of
   output bytes with zarr alone (the floor any pipeline pays).
3. Scaling: the same job on three grid sizes; time per cell-hour should stay constant.

Usage::

    python benchmarks/bench_pipeline.py [--resolution 0.1] [--products N] [--scaling]

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


def run(resolution: float, limit: int | None, compare: bool) -> dict:
    work = Path(tempfile.mkdtemp(prefix="weatherdata-bench-"))
    try:
        write_demo(work / "input", resolution=resolution)
        observations, forecast = weatherdata.open_inputs(work / "input")
        catalog = shipped_catalog()
        products = sorted(catalog.products)[:limit] if limit else None
        seconds, summary = timed(
            publish, observations, work / "published", products, forecast=forecast
        )
        cells = observations.sizes["time"] * int(
            np.prod([observations.sizes[d] for d in ("latitude", "longitude")])
        )
        out = {
            "resolution": resolution,
            "products": len(summary.stores),
            "publish_s": seconds,
            "bytes": summary.total_bytes,
            "microseconds_per_cell_hour": 1e6 * seconds / cells,
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--resolution", type=float, default=0.1)
    parser.add_argument("--products", type=int, default=None, help="limit to the first N products")
    parser.add_argument("--scaling", action="store_true", help="also run three grid sizes")
    args = parser.parse_args()
    result = run(args.resolution, args.products, compare=True)
    print(f"products: {result['products']}, published {result['bytes'] / 1e6:.1f} MB")
    print(f"publish (shared graph): {result['publish_s']:.1f} s")
    print(
        f"naive (per product):    {result['naive_s']:.1f} s  -> speed-up {result['naive_s'] / result['publish_s']:.1f}x (target >= 5x)"
    )
    print(
        f"raw I/O floor:          {result['raw_io_s']:.1f} s  -> publish / raw {result['publish_s'] / result['raw_io_s']:.1f}x (target <= 2x)"
    )
    if args.scaling:
        rows = [run(r, args.products, compare=False) for r in (0.2, 0.1, 0.05)]
        base = rows[0]["microseconds_per_cell_hour"]
        for row in rows:
            print(
                f"resolution {row['resolution']}: {row['publish_s']:.1f} s, {row['microseconds_per_cell_hour']:.2f} us per cell-hour "
                f"({row['microseconds_per_cell_hour'] / base:.2f} of the coarsest)"
            )


if __name__ == "__main__":
    main()
