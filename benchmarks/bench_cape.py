"""CAPE/CIN kernels against MetPy's per-column loop, on the same columns, in one run.

1. **Per column**: MetPy 1.7 ``surface_based_cape_cin``, ``mixed_layer_cape_cin`` and
   ``most_unstable_cape_cin`` in a Python loop over ``--metpy-columns`` columns (default
   200), against the numba kernels of ``products/forecast_warning/_parcel.py`` on the same
   columns (repeated to ``--kernel-columns`` so the timing is stable), one thread each.
   The kernels also return the LCL/LFC/EL and their heights (and, surface-based, the
   lifted index and 0–3 km CAPE), which MetPy's calls do not. Agreement is checked on the
   MetPy columns (|ΔCAPE|, |ΔCIN| ≤ max(1 J/kg, 0.5 %)).
2. **Grid**: the three CAPE products through ``weatherdata.derive`` (xarray + Dask, all
   cores) on a ``--grid``×``--grid`` grid with 21 pressure levels; columns per second.
3. **Compile**: numba compile time of the kernels on a cold cache (a fresh
   ``NUMBA_CACHE_DIR`` in a subprocess) and the load time from the cache (``cache=True``).

Run::

    .venv/bin/python benchmarks/bench_cape.py                    # 200 MetPy columns, 500×500 grid
    .venv/bin/python benchmarks/bench_cape.py --grid 200 --no-compile

Machines are shared and noisy: compare the ratios of one run, not absolute times.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import metpy.calc as mpcalc  # noqa: E402
from metpy.units import units  # noqa: E402
from weatherdata.products.forecast_warning import _parcel  # noqa: E402

from tests.products.test_forecast_convective import STANDARD_LEVELS, synthetic_columns  # noqa: E402

KERNELS = {
    "surface-based": (_parcel.surface_based_columns, (3000.0,), mpcalc.surface_based_cape_cin),
    "mixed-layer": (_parcel.mixed_layer_columns, (100.0,), mpcalc.mixed_layer_cape_cin),
    "most-unstable": (_parcel.most_unstable_columns, (300.0,), mpcalc.most_unstable_cape_cin),
}


def _arrays(columns):
    s = columns["surface"]
    return (
        STANDARD_LEVELS,
        columns["t"],
        columns["td"],
        columns["z"],
        s["p"],
        s["t"],
        s["td"],
        s["z"],
    )


def _column(columns, c):
    s = columns["surface"]
    keep = STANDARD_LEVELS < s["p"][c]
    p = np.concatenate([[s["p"][c]], STANDARD_LEVELS[keep]])
    t = np.concatenate([[s["t"][c]], columns["t"][c][keep]])
    td = np.concatenate([[s["td"][c]], columns["td"][c][keep]])
    return p * units.hPa, t * units.K, td * units.K


def per_column(metpy_columns, kernel_columns):
    columns = synthetic_columns(metpy_columns, seed=11)
    arrays = _arrays(columns)
    repeat = max(1, kernel_columns // metpy_columns)
    tiled = tuple(a if a is STANDARD_LEVELS else np.concatenate([a] * repeat) for a in arrays)
    print(
        f"1. per column: {metpy_columns} columns (MetPy loop) vs {tiled[1].shape[0]} columns (kernel), 21 levels"
    )
    total_metpy = total_ours = 0.0
    for name, (kernel, options, reference) in KERNELS.items():
        ours = kernel(*arrays, *options)  # warm (compiled or loaded from the cache)
        start = time.perf_counter()
        kernel(*tiled, *options)
        ours_per_column = (time.perf_counter() - start) / tiled[1].shape[0]
        values = np.empty((metpy_columns, 2))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            for c in range(metpy_columns):
                cape, cin = reference(*_column(columns, c))
                values[c] = cape.m, cin.m
            metpy_per_column = (time.perf_counter() - start) / metpy_columns
        tolerance = np.maximum(1.0, 0.005 * np.abs(values))
        agree = (np.abs(ours[:, :2] - values) <= tolerance).all(axis=1).mean()
        total_metpy += metpy_per_column
        total_ours += ours_per_column
        print(
            f"   {name:14s} MetPy {metpy_per_column * 1e3:7.2f} ms/column   kernel {ours_per_column * 1e6:7.2f} µs/column"
            f"   ratio {metpy_per_column / ours_per_column:7.0f}×   agreement {agree:.1%}"
        )
    print(
        f"   {'all three':14s} MetPy {total_metpy * 1e3:7.2f} ms/column   kernel {total_ours * 1e6:7.2f} µs/column   ratio {total_metpy / total_ours:7.0f}×"
    )


def grid(size):
    import dask

    import weatherdata
    from tests.products.test_forecast_convective import to_dataset

    count = size * size
    base = synthetic_columns(min(count, 2000), seed=5)
    take = np.arange(count) % base["t"].shape[0]
    columns = {k: base[k][take] for k in ("t", "td", "z", "u", "v")}
    columns["surface"] = {k: v[take] for k, v in base["surface"].items()}
    ds = to_dataset(columns, (size, size)).chunk({"latitude": 125, "longitude": 125})
    ids = ["surface_based_cape", "mixed_layer_cape", "most_unstable_cape"]
    threads = os.cpu_count()
    print(f"2. grid: {size}×{size}×{STANDARD_LEVELS.size} levels, {ids}, Dask threads = {threads}")
    with dask.config.set(scheduler="threads"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        out = weatherdata.derive(ds, ids).compute()
        elapsed = time.perf_counter() - start
    print(
        f"   wall {elapsed:6.1f} s   {count / elapsed:9.0f} columns/s (three parcels each)   "
        f"max SBCAPE {float(out['surface_based_cape'].max()):.0f} J/kg"
    )


_COMPILE = """
import time, numpy as np
start = time.perf_counter()
from weatherdata.products.forecast_warning import _parcel as P
from tests.products.test_forecast_convective import STANDARD_LEVELS, synthetic_columns
c = synthetic_columns(2, seed=1); s = c["surface"]
a = (STANDARD_LEVELS, c["t"], c["td"], c["z"], s["p"], s["t"], s["td"], s["z"])
t0 = time.perf_counter()
P.surface_based_columns(*a, 3000.0); P.mixed_layer_columns(*a, 100.0); P.most_unstable_columns(*a, 300.0)
t1 = time.perf_counter()
P.profile_columns(*a); P.kinematic_columns(STANDARD_LEVELS, c["u"], c["v"], c["z"], s["p"], s["u"], s["v"], s["z"], 1e3, 6e3, 1e3, 3e3)
t2 = time.perf_counter()
print(f"{t1 - t0:.1f} {t2 - t1:.1f}")
"""


def compile_time():
    print("3. numba compile (cache=True)")
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        for label in ("cold cache", "warm cache"):
            result = subprocess.run(
                [sys.executable, "-c", _COMPILE],
                env=env,
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            )
            parcels, others = result.stdout.split()
            print(f"   {label}: CAPE kernels {parcels} s, profile + wind kernels {others} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--metpy-columns", type=int, default=200)
    parser.add_argument("--kernel-columns", type=int, default=20000)
    parser.add_argument("--grid", type=int, default=500)
    parser.add_argument("--no-compile", action="store_true")
    args = parser.parse_args()
    per_column(args.metpy_columns, args.kernel_columns)
    if args.grid:
        grid(args.grid)
    if not args.no_compile:
        compile_time()


if __name__ == "__main__":
    main()
