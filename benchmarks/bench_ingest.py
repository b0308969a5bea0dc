"""Opening the inputs: ``weatherdata.open_inputs`` against xarray opening the same files.

Every command that reads inputs (``weatherdata publish``, an hourly run, a notebook's first
cell) opens them first: ``open_inputs`` reads each file's metadata, recognises its
variables, converts units, arranges time and vertical axes, masks implausible values
(lazily) and combines the files into the observation and forecast datasets. The baseline,
in the same run on the same demo files, is what xarray alone does to open them lazily with
no checks: ``open_mfdataset`` of each kind of file along its time axis, merged, and the
static and climatology files with ``open_dataset``. Both are timed warm in this process
(median of ``--repeats``, after one untimed open) and cold in a new process (the Python
start and imports included: what a command pays).

Usage::

    python benchmarks/bench_ingest.py [--resolution 0.2] [--days 5] [--repeats 5]

Ratios, not absolute times, are the result: the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np

#: The baseline, as a user would write it: each kind of file (the part of its name before
#: the date) concatenated along its time axis, the kinds merged.
XARRAY_ALONE = textwrap.dedent(
    """
    import itertools, warnings
    from pathlib import Path
    import xarray as xr

    def open_with_xarray(directory):
        directory = Path(directory)
        opened = []
        for folder in ("observations", "forecast"):
            files = sorted((directory / folder).glob("*.nc"))
            for _, group in itertools.groupby(files, key=lambda path: path.name.rsplit("_", 1)[0]):
                opened.append(
                    xr.open_mfdataset(
                        list(group), engine="netcdf4", combine="nested", concat_dim="time",
                        data_vars="minimal", coords="minimal", compat="override", join="outer",
                    )
                )
        for name in ("static.nc", "climatology.nc"):
            opened.append(xr.open_dataset(directory / name, engine="netcdf4", chunks={}))
        return opened
    """
)
WEATHERDATA = "import weatherdata\n\ndef open_with_weatherdata(directory):\n    return weatherdata.open_inputs(directory)\n"


def warm(function, directory: Path, repeats: int) -> float:
    """Median seconds of ``function(directory)`` in this process, after one untimed call."""
    function(directory)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function(directory)
        times.append(time.perf_counter() - started)
    return float(np.median(times))


def cold(code: str, call: str, directory: Path, repeats: int) -> float:
    """Median seconds of a new Python process that defines ``code`` and runs ``call``."""
    script = f"{code}\n{call}({str(directory)!r})\n"
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resolution", type=float, default=0.2)
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    from weatherdata.demo import write_demo

    namespace: dict = {}
    exec(XARRAY_ALONE, namespace)  # the same code the cold runs execute
    exec(WEATHERDATA, namespace)
    work = Path(tempfile.mkdtemp(prefix="weatherdata-bench-ingest-"))
    try:
        directory = work / "input"
        write_demo(directory, resolution=args.resolution, days=args.days)
        files = len(list(directory.rglob("*.nc")))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours_warm = warm(namespace["open_with_weatherdata"], directory, args.repeats)
            xarray_warm = warm(namespace["open_with_xarray"], directory, args.repeats)
        ours_cold = cold(WEATHERDATA, "open_with_weatherdata", directory, args.repeats)
        xarray_cold = cold(XARRAY_ALONE, "open_with_xarray", directory, args.repeats)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"opening the demo inputs ({args.resolution} deg, {args.days} days, {files} NetCDF files), "
        f"median of {args.repeats}:\n"
        f"  in this process: open_inputs {ours_warm:.2f} s, xarray alone {xarray_warm:.2f} s "
        f"-> {ours_warm / xarray_warm:.2f}x\n"
        f"  a new process (start and imports included): open_inputs {ours_cold:.2f} s, "
        f"xarray alone {xarray_cold:.2f} s -> {ours_cold / xarray_cold:.2f}x"
    )


if __name__ == "__main__":
    main()
