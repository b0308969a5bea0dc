"""End-to-end pipeline benchmark (issue: catalog, engine and publication).

Measures, in one run on the same demo inputs (default demo: 0.2°, 5 days):

1. ``publish`` of every product (one shared graph), split into graph building and
   compute + write.
2. The naive approach, every product on its own: its whole dependency closure derived
   again for it (no sharing between products) and written with ``to_zarr``; each product
   is timed, so the run also lists the costliest products. A naive xarray + MetPy user
   has no vectorized column kernels: MetPy's sounding functions take one column per call.
   For every column intermediate in a product's closure (the three parcels, the sounding
   diagnostics, the storm kinematics) the naive time adds MetPy's per-column calls for the
   same quantities, timed on ``--metpy-columns`` real demo columns in this run and
   multiplied by the number of columns (a per-column loop is linear in the columns). Only
   the most expensive call per intermediate is counted (e.g. ``surface_based_cape_cin``,
   not also ``lfc``, ``el`` and ``lifted_index``), so this part is a lower bound. Both
   ratios are printed: sharing alone (measured) and with MetPy's column loops.
3. ``publish`` versus raw I/O: reading every input variable and writing the same number
   of bytes with zarr alone (the floor any pipeline pays).
4. Scaling (``--scaling``): a sample of products (``--sample``; every k-th id) on three
   grid sizes; time per cell-hour, total and compute-only.
5. Peak memory (``--memory``): publish of the sample in a fresh process on 2, 4, 8 and
   16 days of input, with the default 64 MiB input chunks (the demo's inputs fit one
   chunk, so memory follows the input) and with 4 MiB chunks (several chunks per input:
   what inputs larger than a chunk do; the peak should level off).

Usage::

    python benchmarks/bench_pipeline.py [--resolution 0.2] [--sample 40] [--scaling] [--memory]
    python benchmarks/bench_pipeline.py --skip-comparison --memory      # only part 5

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


def naive(observations, forecast, products, root: Path) -> dict[str, float]:
    """Each product on its own: derive (recomputing every dependency), then to_zarr.
    Returns the seconds per product."""
    seconds = {}
    for product in products:
        started = time.perf_counter()
        arrays = derive_arrays(observations, [product], forecast=forecast)
        dataset = arrays[product].to_dataset()
        # to_zarr wants uniform chunks: the first chunk of each dimension (no tuning)
        dataset = dataset.chunk({d: c[0] for d, c in dataset.chunksizes.items()})
        dataset.to_zarr(root / f"{product}.zarr", mode="w", zarr_format=3, consolidated=True)
        seconds[product] = time.perf_counter() - started
    return seconds


def _demo_columns(observations, count: int, seed: int = 0):
    """``count`` real columns of the observation pressure-level fields, surface first and
    levels below the ground dropped, as MetPy wants them."""
    import metpy.calc as mpcalc
    from metpy.units import units

    rng = np.random.default_rng(seed)
    sizes = [observations.sizes[d] for d in ("time", "latitude", "longitude")]
    picks = np.stack([rng.integers(0, n, count) for n in sizes], axis=1)
    pressure = observations["pressure"].values.astype(float)
    columns = []
    for t, y, x in picks:
        at = {"time": t, "latitude": y, "longitude": x}

        def level(name, at=at):
            return observations[name].isel(at).values.astype(float)

        temperature = level("air_temperature")
        dewpoint = mpcalc.dewpoint_from_relative_humidity(
            temperature * units.K, level("relative_humidity") * units.percent
        ).m_as("K")
        surface_pressure = float(level("surface_air_pressure"))  # hPa (canonical)
        above = pressure < surface_pressure
        columns.append(
            {
                "p": np.concatenate([[surface_pressure], pressure[above]]) * units.hPa,
                "t": np.concatenate([[level("air_temperature_2m")], temperature[above]]) * units.K,
                "td": np.concatenate([[level("dewpoint_temperature_2m")], dewpoint[above]])
                * units.K,
                "z": level("geopotential_height")[above] * units.m,
                "u": level("eastward_wind")[above] * units("m/s"),
                "v": level("northward_wind")[above] * units("m/s"),
                "p_above": pressure[above] * units.hPa,
            }
        )
    return columns


def metpy_column_seconds(observations, count: int) -> dict[str, float]:
    """Seconds per column of MetPy's per-column calls a naive user makes for the quantities
    of each column intermediate of the catalog, timed on ``count`` real demo columns."""
    import warnings

    import metpy.calc as mpcalc
    from metpy.units import units

    calls = {
        "surface_based_parcel": lambda c: mpcalc.surface_based_cape_cin(c["p"], c["t"], c["td"]),
        "mixed_layer_parcel": lambda c: mpcalc.mixed_layer_cape_cin(c["p"], c["t"], c["td"]),
        "most_unstable_parcel": lambda c: mpcalc.most_unstable_cape_cin(
            c["p"], c["t"], c["td"], depth=300 * units.hPa
        ),
        "sounding_diagnostics": lambda c: (
            mpcalc.downdraft_cape(c["p"], c["t"], c["td"]),
            mpcalc.showalter_index(c["p"], c["t"], c["td"]),
            mpcalc.ccl(c["p"], c["t"], c["td"]),
        ),
        "storm_kinematics": lambda c: (
            mpcalc.bunkers_storm_motion(c["p_above"], c["u"], c["v"], c["z"]),
            mpcalc.storm_relative_helicity(c["z"], c["u"], c["v"], depth=1 * units.km),
        ),
    }
    columns = _demo_columns(observations, count)
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, call in calls.items():
            call(columns[0])  # warm caches
            started = time.perf_counter()
            for column in columns:
                call(column)
            out[name] = (time.perf_counter() - started) / len(columns)
    return out


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


def peak_memory(
    resolution: float, products: list[str] | None, days: int, chunk_bytes: int | None = None
) -> float:
    """Peak RSS (MB) of a fresh process that opens ``days`` days of the demo and publishes
    ``products`` (the demo is written beforehand, in this process: its 30-year daily
    history would otherwise set the peak). ``chunk_bytes`` replaces the input chunk target
    (``weatherdata.ingest.TARGET_CHUNK_BYTES``, 64 MiB): the demo's inputs fit one chunk,
    so a small target shows at demo scale what happens on inputs larger than a chunk."""
    import subprocess
    import sys

    work = Path(tempfile.mkdtemp(prefix="weatherdata-bench-memory-"))
    try:
        write_demo(work / "input", resolution=resolution, days=days)
        code = f"""
import resource, pathlib, weatherdata, weatherdata.ingest
from weatherdata.publication import publish
if {chunk_bytes!r}:
    weatherdata.ingest.TARGET_CHUNK_BYTES = {chunk_bytes!r}
work = pathlib.Path({str(work)!r})
observations, forecast = weatherdata.open_inputs(work / "input")
publish(observations, work / "published", {products!r}, forecast=forecast)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        return float(result.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(work, ignore_errors=True)


def compare(args) -> None:
    """Parts 1-3: publish of every product, the naive approach and the raw I/O floor."""
    catalog = shipped_catalog()
    work = Path(tempfile.mkdtemp(prefix="weatherdata-bench-"))
    try:
        write_demo(work / "input", resolution=args.resolution, days=args.days)
        observations, forecast = weatherdata.open_inputs(work / "input")
        stages = _Stages()
        publish_s, summary = timed(
            publish, observations, work / "published", forecast=forecast, progress=stages
        )
        compute_s = time.perf_counter() - (stages.compute_started or stages.started)
        ids = [store.product for store in summary.stores]
        print(
            f"{len(ids)} products at {args.resolution} deg, {args.days} days: publish "
            f"{publish_s:.1f} s (graph {publish_s - compute_s:.1f} s, compute+write "
            f"{compute_s:.1f} s), {summary.total_bytes / 1e6:.1f} MB"
        )
        alone = naive(observations, forecast, ids, work / "naive")
        naive_s = sum(alone.values())
        print(
            f"naive, every product on its own (measured): {naive_s:.1f} s -> sharing alone "
            f"{naive_s / publish_s:.1f}x"
        )
        costliest = sorted(alone.items(), key=lambda item: -item[1])[:12]
        print("  costliest on their own: " + ", ".join(f"{p} {t:.1f} s" for p, t in costliest))
        per_column = metpy_column_seconds(observations, args.metpy_columns)
        columns = int(np.prod([observations.sizes[d] for d in ("time", "latitude", "longitude")]))
        surcharge = {
            name: sum(name in catalog.closure([p]) for p in ids) * seconds * columns
            for name, seconds in per_column.items()
        }
        for name, seconds in per_column.items():
            users = sum(name in catalog.closure([p]) for p in ids)
            print(
                f"  MetPy per column for {name}: {seconds * 1e3:.2f} ms x {columns} columns "
                f"x {users} products = {surcharge[name]:.0f} s"
            )
        naive_metpy_s = naive_s + sum(surcharge.values())
        print(
            f"naive with MetPy's column loops: {naive_metpy_s:.0f} s -> speed-up "
            f"{naive_metpy_s / publish_s:.1f}x (target >= 5x; "
            f"{sum(surcharge.values()) / naive_metpy_s:.0%} of it extrapolated from "
            f"{args.metpy_columns} columns)"
        )
        raw_s, _ = timed(raw_io, observations, forecast, summary.total_bytes, work / "raw")
        print(
            f"raw I/O floor (read inputs, write {summary.total_bytes / 1e6:.1f} MB with zarr): "
            f"{raw_s:.1f} s -> publish / raw {publish_s / raw_s:.1f}x (target <= 2x); "
            f"compute+write / raw {compute_s / raw_s:.1f}x"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--resolution", type=float, default=0.2)
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument(
        "--sample", type=int, default=40, help="products in the scaling and memory runs"
    )
    parser.add_argument(
        "--metpy-columns", type=int, default=40, help="demo columns MetPy's loops are timed on"
    )
    parser.add_argument("--scaling", action="store_true", help="also run three grid sizes")
    parser.add_argument("--memory", action="store_true", help="also measure peak memory")
    parser.add_argument(
        "--skip-comparison",
        action="store_true",
        help="skip the naive and raw I/O comparison (run only --scaling/--memory)",
    )
    args = parser.parse_args()
    if not args.skip_comparison:
        compare(args)
    chosen = sample(args.sample)
    if args.scaling:
        rows = [run(r, chosen, compare=False, days=args.days) for r in (0.4, 0.2, 0.1)]
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
        for chunk_bytes in (None, 4 * 2**20):
            label = f"{chunk_bytes / 2**20:.0f} MiB" if chunk_bytes else "64 MiB (default)"
            for days in (2, 4, 8, 16):
                peak = peak_memory(args.resolution, chosen, days, chunk_bytes)
                print(f"peak memory, {days} days of input, input chunks {label}: {peak:.0f} MB")


if __name__ == "__main__":
    main()
