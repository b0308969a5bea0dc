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
   of bytes with zarr alone (the floor any pipeline pays). For the whole catalog this is
   mostly the physics (three parcel ascents, optical flow, xclim indices); so also (3b) the
   products whose cost is I/O — one input each, its time steps — against the raw I/O of
   exactly their inputs and bytes, and those of them without column physics (echo tops,
   VIL, ... run a kernel over every radar column): the engine's own overhead. For scale,
   3b also times zarr alone writing the same stores (each product's group, arrays,
   chunks and consolidated metadata, from values already in memory) after the same
   reads: what a hand-written zarr script pays for those files, against the floor's
   single array.
   (3c) The physics floor (``--physics-floor`` alone): one product per physics
   intermediate (the three parcel ascents, sounding diagnostics, storm kinematics, the
   radar nowcast), computed and not written. No publish of the whole catalog can be
   faster on this machine, so its time against twice the raw I/O says whether the 2x
   target can be met with this physics at all.
4. Scaling (``--scaling``): a sample of products (``--sample``; every k-th id) on the
   grid sizes of ``--scaling-resolutions`` (default three), after one untimed run on the first (imports,
   Numba compilation and first-use caches are paid once per process, not per cell); time
   per cell-hour, total and compute-only, and the least-squares line
   ``seconds = fixed + per cell-hour × cell-hours`` through the runs.
5. Peak memory (``--memory``): publish of every product in a fresh process on 2, 4, 8
   and 16 days of input (``--memory-days``), with the default 64 MiB input chunks (the
   demo grid is so small that one chunk holds 78 days: the whole record is one chunk, so
   memory follows the record up to that size) and with 4 MiB chunks (several chunks per
   input: what a record of many chunks does; the peak should level off). The child's own
   high-water mark (VmHWM), after opening the inputs and at the end.
6. Inputs larger than the memory (``--memory-limit MB``): publish of ``--limit-days``
   (32) days, whose decoded inputs exceed MB, in a cgroup limited to MB (root only):
   the kernel kills the process if it needs more.
7. An hourly run (``--hourly``): one new hour published onto the stores of the hours
   before (``since`` = that hour), against a publish of everything, in the same run.

Usage::

    python benchmarks/bench_pipeline.py [--resolution 0.2] [--sample 40] [--scaling] [--memory]
    python benchmarks/bench_pipeline.py --skip-comparison --memory      # only part 5
    python benchmarks/bench_pipeline.py --skip-comparison --memory-limit 1500   # part 6
    python benchmarks/bench_pipeline.py --skip-comparison --input-bound --hourly  # 3b and 7
    python benchmarks/bench_pipeline.py --skip-comparison --physics-floor  # 3c

Ratios, not absolute times, are the result: the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import shutil
import tempfile
import time
import warnings
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


def read_inputs(observations, forecast, variables=None) -> None:
    """Read every input (or only ``variables``: ``{"observations"|"forecast": names}``) once."""
    for key, dataset in (("observations", observations), ("forecast", forecast)):
        if dataset is None:
            continue
        names = list(dataset.data_vars) if variables is None else variables.get(key, [])
        dask.compute(*[dataset[name].data.sum() for name in names])


def raw_io(observations, forecast, total_bytes: int, root: Path, variables=None):
    """:func:`read_inputs`, then write exactly ``total_bytes`` of float32 with zarr alone,
    in 4 MiB chunks."""
    read_inputs(observations, forecast, variables)
    cells = max(1, total_bytes // 4)
    chunk = 2**20
    array = zarr.create_array(root / "raw.zarr", shape=(cells,), chunks=(chunk,), dtype="float32")
    block = np.random.default_rng(0).random(chunk, dtype=np.float32)
    for start in range(0, cells, chunk):
        stop = min(cells, start + chunk)
        array[start:stop] = block[: stop - start]


def _stores_in_memory(root: Path) -> list[tuple]:
    """Every store under ``root`` as ``(name, group attributes, {array: (metadata,
    values)})``, read into memory (for :func:`zarr_same_stores`)."""
    stores = []
    for link in sorted(root.glob("*/*.zarr")):
        group = zarr.open_group(link, mode="r")
        arrays = {name: (array.metadata, array[...]) for name, array in group.arrays()}
        stores.append((link.name, dict(group.attrs), arrays))
    return stores


def zarr_same_stores(observations, forecast, stores: list[tuple], out: Path, variables) -> None:
    """:func:`read_inputs` as :func:`raw_io` does, then write ``stores``
    (:func:`_stores_in_memory`) with zarr alone: per store a group, each array created
    with the published metadata and written in one call, the metadata consolidated."""
    read_inputs(observations, forecast, variables)
    for name, attributes, arrays in stores:
        group = zarr.open_group(out / name, mode="w", attributes=attributes, zarr_format=3)
        for array_name, (metadata, values) in arrays.items():
            array = group.create_array(
                array_name,
                shape=metadata.shape,
                dtype=values.dtype,
                chunks=metadata.chunk_grid.chunk_shape,
                serializer=metadata.codecs[0],
                compressors=metadata.codecs[1:],
                fill_value=metadata.fill_value,
                dimension_names=metadata.dimension_names,
                attributes=metadata.attributes,
            )
            array[...] = values
        with warnings.catch_warnings():  # zarr notes consolidated metadata is its extension
            warnings.simplefilter("ignore", UserWarning)
            zarr.consolidate_metadata(out / name)


def input_bound_products() -> list[str]:
    """Products that read one input and nothing else and keep its time steps (a unit
    conversion, a column maximum, an echo top, a forecast field): their cost is mostly
    reading and writing, so publish / raw I/O on them measures the engine's own overhead
    (graph, store layout, metadata, index) rather than the physics of the whole catalog;
    the radar column products among them still compute (:func:`io_only_products`)."""
    catalog = shipped_catalog()
    return sorted(
        pid
        for pid, entry in catalog.products.items()
        if entry.family != "intermediate"
        and catalog.closure([pid]) == [pid]
        and len(entry.inputs) == 1
        and entry.time.kind == "instant"
    )


#: Recipes among the input-bound products that are computation, not I/O: a numba kernel
#: over every column of the 3-D radar (echo tops, VIL, the height of the maximum) or a
#: neighbourhood filter over each map (Steiner's classification). At 0.05° they are
#: ~1.2 of the input-bound publish's 4.4 task-seconds.
COLUMN_PHYSICS_RECIPES = {
    "observation.radar:echo_top",
    "observation.radar:vertically_integrated_liquid",
    "observation.radar:height_of_composite_reflectivity",
    "observation.radar:convective_stratiform_classification",
}


def io_only_products() -> list[str]:
    """The input-bound products without :data:`COLUMN_PHYSICS_RECIPES`: unit conversions,
    column and layer maxima, a thickness, a grade, forecast fields. Publish / raw I/O on
    them is the engine's own overhead alone."""
    catalog = shipped_catalog()
    return [p for p in input_bound_products() if catalog[p].recipe not in COLUMN_PHYSICS_RECIPES]


def input_variables(products: list[str]) -> dict[str, list[str]]:
    """The canonical input variables ``products`` read, by dataset."""
    catalog = shipped_catalog()
    out: dict[str, set] = {"observations": set(), "forecast": set()}
    for pid in products:
        for reference in catalog[pid].inputs.values():
            source, name, _ = catalog.split_reference(reference)
            out["forecast" if source == "forecast" else "observations"].add(name)
    return {key: sorted(names) for key, names in out.items()}


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


@contextlib.contextmanager
def demo_workspace(resolution: float, days: int):
    """A temporary directory holding a demo written at ``resolution`` for ``days``, and
    its opened inputs: ``(work, observations, forecast)``; removed afterwards."""
    work = Path(tempfile.mkdtemp(prefix="weatherdata-bench-"))
    try:
        write_demo(work / "input", resolution=resolution, days=days)
        yield work, *weatherdata.open_inputs(work / "input")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(resolution: float, products: list[str] | None, *, compare: bool, days: int = 5) -> dict:
    with demo_workspace(resolution, days) as (work, observations, forecast):
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
            "cell_hours": cells,
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


_MEMORY_CHILD = """
import pathlib, re, sys, time
import weatherdata, weatherdata.ingest
from weatherdata.publication import publish, publish_in_windows

def high_water_mb():
    # this process's own peak (VmHWM). Not getrusage's ru_maxrss: Linux carries the
    # parent's peak over into a child across fork and exec, so a child started by a
    # process that wrote a long demo reported the parent's peak, not its own.
    status = open("/proc/self/status").read()
    return int(re.search(r"VmHWM:\\s+(\\d+)", status).group(1)) / 1024

work, chunk_bytes, products = pathlib.Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
window = sys.argv[4] or None
if chunk_bytes:
    weatherdata.ingest.TARGET_CHUNK_BYTES = chunk_bytes
selected = None if products == "all" else products.split(",")
started = time.perf_counter()
if window:  # each window opens the files it needs: nothing is opened beforehand
    opened = high_water_mb()
    summary = publish_in_windows(
        None, work / "published", selected, window=window, sources=work / "input"
    )
else:
    observations, forecast = weatherdata.open_inputs(work / "input")
    opened = high_water_mb()
    started = time.perf_counter()
    summary = publish(observations, work / "published", selected, forecast=forecast)
print(opened, high_water_mb(), len(summary.stores), time.perf_counter() - started)
"""


def _input_bytes(observations, forecast) -> int:
    """Bytes of every input variable once decoded (what the inputs occupy in memory)."""
    return sum(
        variable.nbytes
        for dataset in (observations, forecast)
        if dataset is not None
        for variable in dataset.data_vars.values()
    )


def _memory_cgroup(limit_mb: int) -> Path | None:
    """A fresh cgroup (v2, or v1's memory controller) limited to ``limit_mb``, or None
    where this process may not create one (not root, no writable cgroup file system)."""
    candidates = []
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controllers == "":
            candidates.append((Path("/sys/fs/cgroup") / path.lstrip("/"), "memory.max"))
        elif "memory" in controllers.split(","):
            base = Path("/sys/fs/cgroup/memory") / path.lstrip("/")
            candidates.append((base, "memory.limit_in_bytes"))
    for base, limit_file in candidates:
        group = base / f"weatherdata-bench-{os.getpid()}"
        try:
            group.mkdir()
            (group / limit_file).write_text(str(limit_mb * 2**20))
            if limit_file == "memory.limit_in_bytes":  # v1: no swap either
                with contextlib.suppress(OSError):
                    (group / "memory.memsw.limit_in_bytes").write_text(str(limit_mb * 2**20))
            return group
        except OSError:
            with contextlib.suppress(OSError):
                group.rmdir()
    return None


def peak_memory(
    resolution: float,
    products: list[str] | None,
    days: int,
    chunk_bytes: int | None = None,
    limit_mb: int | None = None,
    window: str | None = None,
) -> dict:
    """Peak resident memory of a fresh process that opens ``days`` days of the demo and
    publishes ``products`` (all by default): MB after opening the inputs and at the end.

    The demo is written beforehand in this process; the child's own high-water mark is
    read from /proc (see ``_MEMORY_CHILD``). ``chunk_bytes`` replaces the input chunk
    target (``weatherdata.ingest.TARGET_CHUNK_BYTES``, 64 MiB): the demo grid is so
    small that 64 MiB holds 78 days of its largest variable, so the whole record is one
    chunk and memory follows the record up to that size; a small target shows at demo
    scale what a record of many chunks does. ``limit_mb`` runs the child in a cgroup with
    that memory limit (where one can be created): the kernel kills it if it needs more.
    ``window``: publish window by window, each window opening the input files it needs
    (``publish_in_windows(..., sources=...)``); "after opening" is then the process
    before any input is opened.
    """
    import subprocess
    import sys

    work = Path(tempfile.mkdtemp(prefix="weatherdata-bench-memory-"))
    group = None
    try:
        write_demo(work / "input", resolution=resolution, days=days)
        observations, forecast = weatherdata.open_inputs(work / "input")
        input_mb = _input_bytes(observations, forecast) / 2**20
        del observations, forecast
        preexec = None
        if limit_mb:
            group = _memory_cgroup(limit_mb)
            if group is None:
                return {"days": days, "input_mb": input_mb, "error": "no cgroup (needs root)"}

            def preexec():  # the child joins the limited group before it starts Python
                (group / "cgroup.procs").write_text(str(os.getpid()))

        products_argument = "all" if not products else ",".join(products)
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-c", _MEMORY_CHILD, str(work), str(chunk_bytes or 0),
             products_argument, window or ""],
            capture_output=True,
            text=True,
            preexec_fn=preexec,
        )  # fmt: skip
        row = {"days": days, "input_mb": input_mb, "seconds": time.perf_counter() - started}
        if result.returncode:
            killed = result.returncode in (-9, 137)
            row["error"] = (
                f"killed by the kernel at the {limit_mb} MB limit"
                if killed and limit_mb
                else (result.stderr.strip().splitlines() or ["exit " + str(result.returncode)])[-1]
            )
            return row
        opened, peak, stores, publish_seconds = result.stdout.split()[-4:]
        row.update(
            opened_mb=float(opened),
            peak_mb=float(peak),
            stores=int(stores),
            publish_s=float(publish_seconds),
        )
        return row
    finally:
        if group is not None:
            with contextlib.suppress(OSError):
                group.rmdir()
        shutil.rmtree(work, ignore_errors=True)


def _print_memory(row: dict, label: str) -> None:
    head = f"{row['days']:3d} days ({row['input_mb']:6.0f} MB of decoded input), {label}: "
    if "error" in row:
        print(head + row["error"])
        return
    print(
        head
        + f"peak {row['peak_mb']:6.0f} MB, after opening the inputs {row['opened_mb']:5.0f} MB,"
        f" publish adds {row['peak_mb'] - row['opened_mb']:5.0f} MB"
        f" ({row['stores']} stores, {row['publish_s']:.0f} s)"
    )


def compare(args) -> None:
    """Parts 1-3: publish of every product, the naive approach and the raw I/O floor."""
    catalog = shipped_catalog()
    with demo_workspace(args.resolution, args.days) as (work, observations, forecast):
        stages = _Stages()
        cpu = time.process_time()
        publish_s, summary = timed(
            publish, observations, work / "published", forecast=forecast, progress=stages
        )
        publish_cpu_s = time.process_time() - cpu
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
        _print_physics_floor(observations, forecast, raw_s, publish_cpu_s)
        input_bound(observations, forecast, work)


def _print_physics_floor(observations, forecast, raw_s: float, publish_cpu_s=None) -> None:
    products, floor_s, floor_cpu_s = physics_floor(observations, forecast)
    cores = os.cpu_count() or 1
    print(
        f"physics floor ({len(products)} products, one per physics intermediate: "
        f"{', '.join(products)}; computed, nothing written, fastest of 2): {floor_s:.1f} s "
        f"({floor_cpu_s:.1f} CPU s) -> {floor_s / raw_s:.1f}x raw I/O, against the target's "
        f"2x ({2 * raw_s:.1f} s) for all {len(shipped_catalog().products)} products"
    )
    if publish_cpu_s is not None:
        print(
            f"CPU time of the whole publish {publish_cpu_s:.1f} s: on {cores} cores at least "
            f"{publish_cpu_s / cores:.1f} s even if every thread were busy throughout "
            f"-> {publish_cpu_s / cores / raw_s:.1f}x raw I/O"
        )


#: The catalog's intermediates that are physics rather than I/O: the three parcel ascents,
#: the sounding diagnostics and the storm kinematics (numba column kernels over every
#: column, 8-21 us a column) and the radar nowcast (pysteps' optical flow on every frame,
#: which holds the GIL).
PHYSICS_INTERMEDIATES = (
    "surface_based_parcel",
    "mixed_layer_parcel",
    "most_unstable_parcel",
    "sounding_diagnostics",
    "storm_kinematics",
    "reflectivity_nowcast",
)


def physics_products() -> list[str]:
    """For each of :data:`PHYSICS_INTERMEDIATES`, the product that needs it and the least
    else (the smallest dependency closure): computing them computes that physics once."""
    catalog = shipped_catalog()
    chosen = []
    for intermediate in PHYSICS_INTERMEDIATES:
        users = [pid for pid in sorted(catalog.products) if intermediate in catalog.closure([pid])]
        chosen.append(min(users, key=lambda pid: len(catalog.closure([pid]))))
    return chosen


def physics_floor(observations, forecast, repeats: int = 2) -> tuple[list[str], float, float]:
    """Part 3c: the fastest of ``repeats`` runs computing :func:`physics_products` alone
    (derived and computed with the threaded scheduler, nothing written): a lower bound of
    any publish of the whole catalog with this physics on this machine, to set against
    the raw I/O floor's 2x. Returns the products, the seconds and the process's CPU
    seconds (every thread's) of that run."""
    products = physics_products()
    runs = []
    for _ in range(repeats):
        cpu = time.process_time()
        seconds, _ = timed(
            lambda: dask.compute(
                *[a.data for a in derive_arrays(observations, products, forecast=forecast).values()]
            )
        )
        runs.append((seconds, time.process_time() - cpu))
    seconds, cpu_seconds = min(runs)
    return products, seconds, cpu_seconds


def input_bound(observations, forecast, work: Path, repeats: int = 5) -> None:
    """Part 3b: the products whose cost is I/O (:func:`input_bound_products`), then those of
    them without column physics (:func:`io_only_products`), against the raw I/O of
    exactly their inputs and bytes; the median of ``repeats`` runs of each, after one
    untimed run (imports, first-use caches)."""
    for label, products in (
        ("input-bound products", input_bound_products()),
        ("of them, without column physics", io_only_products()),
    ):
        variables = input_variables(products)
        publish_runs, raw_runs, planning_runs, zarr_runs = [], [], [], []
        stores = None
        for attempt in range(repeats + 1):
            stages = _Stages()
            seconds, summary = timed(
                publish,
                observations,
                work / f"bound-{len(products)}-{attempt}",
                products,
                forecast=forecast,
                progress=stages,
            )
            raw_s, _ = timed(
                raw_io,
                observations,
                forecast,
                summary.total_bytes,
                work / f"bound-raw-{len(products)}-{attempt}",
                variables,
            )
            if stores is None:
                stores = _stores_in_memory(work / f"bound-{len(products)}-{attempt}")
            zarr_s, _ = timed(
                zarr_same_stores,
                observations,
                forecast,
                stores,
                work / f"bound-zarr-{len(products)}-{attempt}",
                variables,
            )
            if attempt:
                publish_runs.append(seconds)
                raw_runs.append(raw_s)
                zarr_runs.append(zarr_s)
                planning_runs.append(stages.compute_started - stages.started)
        publish_s, raw_s = float(np.median(publish_runs)), float(np.median(raw_runs))
        planning_s = float(np.median(planning_runs))
        read = ", ".join(
            variables["observations"] + [f"forecast {v}" for v in variables["forecast"]]
        )
        print(
            f"{label} ({len(products)}: one input each, its time steps; read {read}), "
            f"{summary.total_bytes / 1e6:.1f} MB: publish {publish_s:.2f} s, raw I/O of the "
            f"same inputs and bytes {raw_s:.2f} s -> {publish_s / raw_s:.2f}x (median of "
            f"{repeats}); of the publish, {planning_s:.2f} s before the first task (graph, "
            f"store layout), {publish_s - planning_s:.2f} s computing, writing and indexing "
            f"({(publish_s - planning_s) / raw_s:.2f}x raw); for scale, zarr alone writing "
            f"the same {len(stores)} stores from memory after the same reads "
            f"{np.median(zarr_runs):.2f} s -> publish / that {publish_s / np.median(zarr_runs):.2f}x"
        )


def hourly(resolution: float, days: int, repeats: int = 3) -> None:
    """Part 7 (``--hourly``): what an hourly service pays for one new hour. Every product
    is published from inputs up to the hour before the last, then the last hour with
    ``since`` = that hour (each repeat on a copy of that root: 243 appends), against the
    publish of every product from all the inputs in the same run."""
    import pandas as pd

    with demo_workspace(resolution, days) as (work, observations, forecast):
        last = pd.Timestamp(observations["time"].values[-1])
        publish(observations, work / "warm", forecast=forecast)  # imports, compilation
        full_s, _ = timed(publish, observations, work / "full", forecast=forecast)
        before = work / "before"
        publish(observations, before, forecast=forecast, until=last - pd.Timedelta(hours=1))
        runs = []
        for attempt in range(repeats):
            root = work / f"hour-{attempt}"
            shutil.copytree(before, root, symlinks=True)
            seconds, summary = timed(publish, observations, root, forecast=forecast, since=last)
            runs.append(seconds)
        hour_s = float(np.median(runs))
        actions = dict(collections.Counter(store.action for store in summary.stores))
        print(
            f"hourly run at {resolution} deg, {days} days of inputs: one new hour {hour_s:.1f} s "
            f"(median of {repeats}; {actions}, {len(summary.skipped)} kept or skipped) against "
            f"all of it {full_s:.1f} s -> {hour_s / full_s:.2f} of a full publish"
        )


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
    parser.add_argument(
        "--scaling", action="store_true", help="also run the --scaling-resolutions grid sizes"
    )
    parser.add_argument(
        "--scaling-resolutions",
        type=lambda text: [float(r) for r in text.split(",")],
        default=[0.4, 0.2, 0.1],
        help="grid spacings (degrees) of the scaling runs, coarsest first",
    )
    parser.add_argument("--memory", action="store_true", help="also measure peak memory")
    parser.add_argument(
        "--skip-comparison",
        action="store_true",
        help="skip the naive and raw I/O comparison (run only --scaling/--memory)",
    )
    parser.add_argument(
        "--memory-days",
        type=lambda text: [int(d) for d in text.split(",")],
        default=[2, 4, 8, 16],
        help="days of input in the memory runs (comma-separated)",
    )
    parser.add_argument(
        "--memory-products",
        choices=("all", "sample", "windowed"),
        default="all",
        help="publish every product (default), the --sample, or the products whose "
        "look-back is a duration (what --memory-window publishes window by window; not the "
        "per-period totals, one pass per period, nor the whole-record ones)",
    )
    parser.add_argument(
        "--memory-window",
        metavar="DURATION",
        help="publish window by window (e.g. 4D) in the memory runs",
    )
    parser.add_argument(
        "--memory-chunks",
        choices=("both", "default", "4MiB"),
        default="both",
        help="input chunk targets of the memory runs",
    )
    parser.add_argument(
        "--memory-limit",
        type=int,
        metavar="MB",
        help="also publish --limit-days of input in a cgroup limited to MB (needs root)",
    )
    parser.add_argument("--limit-days", type=int, default=32, help="days for --memory-limit")
    parser.add_argument(
        "--input-bound",
        action="store_true",
        help="also run part 3b alone (input-bound products against raw I/O) at --resolution",
    )
    parser.add_argument(
        "--hourly", action="store_true", help="also time one new hour against a full publish"
    )
    parser.add_argument(
        "--physics-floor",
        action="store_true",
        help="also run part 3c alone (the physics products computed, against raw I/O)",
    )
    args = parser.parse_args()
    if not args.skip_comparison:
        compare(args)
    if args.input_bound:
        with demo_workspace(args.resolution, args.days) as (work, observations, forecast):
            input_bound(observations, forecast, work)
    if args.physics_floor:
        with demo_workspace(args.resolution, args.days) as (work, observations, forecast):
            cpu = time.process_time()
            publish_s, summary = timed(publish, observations, work / "published", forecast=forecast)
            publish_cpu_s = time.process_time() - cpu
            raw_s, _ = timed(raw_io, observations, forecast, summary.total_bytes, work / "raw")
            print(
                f"publish of all products {publish_s:.1f} s, raw I/O {raw_s:.1f} s "
                f"-> {publish_s / raw_s:.1f}x"
            )
            _print_physics_floor(observations, forecast, raw_s, publish_cpu_s)
    if args.hourly:
        hourly(args.resolution, args.days)
    chosen = sample(args.sample)
    if args.scaling:
        run(args.scaling_resolutions[0], chosen, compare=False, days=args.days)  # warm-up
        rows = [run(r, chosen, compare=False, days=args.days) for r in args.scaling_resolutions]
        base = rows[-1]
        for row in rows:
            print(
                f"resolution {row['resolution']}: {row['publish_s']:.1f} s, "
                f"{row['microseconds_per_cell_hour']:.2f} us per cell-hour "
                f"({row['microseconds_per_cell_hour'] / base['microseconds_per_cell_hour']:.2f} of the finest); "
                f"compute only {row['compute_microseconds_per_cell_hour']:.2f} us "
                f"({row['compute_microseconds_per_cell_hour'] / base['compute_microseconds_per_cell_hour']:.2f})"
            )
        cell_hours = np.array([row["cell_hours"] for row in rows], dtype=float)
        slope, fixed = np.polyfit(cell_hours, [row["publish_s"] for row in rows], 1)
        print(
            f"least squares: {fixed:.1f} s fixed per publish + {slope * 1e6:.2f} us per cell-hour"
        )
    products = {
        "all": None,
        "sample": chosen,
        "windowed": [
            pid
            for pid, entry in shipped_catalog().products.items()
            if entry.family != "intermediate"
            and not shipped_catalog().lookback(pid).record
            and not shipped_catalog().lookback(pid).periods
        ],
    }[args.memory_products]
    in_windows = f", in windows of {args.memory_window}" if args.memory_window else ""
    if args.memory:
        targets = {"both": (None, 4 * 2**20), "default": (None,), "4MiB": (4 * 2**20,)}
        for chunk_bytes in targets[args.memory_chunks]:
            label = f"{chunk_bytes / 2**20:.0f} MiB" if chunk_bytes else "64 MiB (default)"
            for days in args.memory_days:
                row = peak_memory(
                    args.resolution, products, days, chunk_bytes, window=args.memory_window
                )
                _print_memory(row, f"input chunks {label}{in_windows}")
    if args.memory_limit:
        row = peak_memory(
            args.resolution,
            products,
            args.limit_days,
            4 * 2**20,
            limit_mb=args.memory_limit,
            window=args.memory_window,
        )
        _print_memory(
            row,
            f"input chunks 4 MiB, in a cgroup limited to {args.memory_limit} MB{in_windows}",
        )


if __name__ == "__main__":
    main()
