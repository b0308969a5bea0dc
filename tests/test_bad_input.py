"""One corpus of bad input, run through the command line in-process.

Every case must give a non-zero exit, exactly one line on stderr that names the problem
(and the file and variable where there is one), no traceback, and leave the output root
exactly as it was (and create no other output). Cases collected from test_ingest.py,
test_catalog.py and test_cli.py, plus new ones.

Some input is repaired, not refused (the tests at the end): implausible values and ±Inf are
masked by quality control and counted; duplicated and unsorted times are deduplicated and
sorted; a gap in time leaves the windows across it missing; any dimension order works.
What cannot be repaired is an error: a required field with no valid value at all (all NaN,
or every value implausible, as with kelvin labelled degC).

The malformed catalog.yaml cases go through ``load_catalog``: the command line always uses
the shipped catalog.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from weatherdata.catalog import load_catalog
from weatherdata.cli import main
from weatherdata.errors import CatalogError

DATA = Path(__file__).parent / "data"
NAM = DATA / "nam.t00z.awp21100.tm00.grib2"
TIMES = pd.date_range("2026-07-25T00:00", periods=6, freq="1h")
LATITUDE = (22.0, 22.5, 23.0)
LONGITUDE = (113.0, 113.5, 114.0, 114.5)


# -- input builders ----------------------------------------------------------------


def observation_file(
    path: Path,
    *,
    values=None,
    name: str = "t2m",
    attrs: dict | None = None,
    times=TIMES,
    latitude=LATITUDE,
    longitude=LONGITUDE,
    dims=("time", "lat", "lon"),
    extra: dict | None = None,
) -> Path:
    """A small producer-style NetCDF file (its own names and units)."""
    shape = {"time": len(times), "lat": len(latitude), "lon": len(longitude)}
    if values is None:
        values = 300.0 + 0.1 * np.arange(np.prod(list(shape.values())))
        values = values.reshape(tuple(shape.values()))
        values = np.transpose(values, [list(shape).index(d) for d in dims])
    data_vars = {name: (dims, values, {"units": "K"} if attrs is None else attrs)}
    data_vars.update(extra or {})
    coords = {
        "time": ("time", pd.DatetimeIndex(times).values),
        "lat": ("lat", np.asarray(latitude, dtype="float64"), {"units": "degrees_north"}),
        "lon": ("lon", np.asarray(longitude, dtype="float64"), {"units": "degrees_east"}),
    }
    xr.Dataset(data_vars, coords=coords).to_netcdf(path)
    return path


def written(content: bytes, name: str):
    def make(directory: Path) -> list[str]:
        path = directory / name
        path.write_bytes(content)
        return [str(path)]

    return make


def truncated_netcdf(directory: Path) -> list[str]:
    path = observation_file(directory / "cut.nc")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return [str(path)]


def corrupt_netcdf(directory: Path) -> list[str]:
    """A NetCDF-4 (HDF5) signature followed by garbage."""
    path = observation_file(directory / "corrupt.nc")
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(3)
    data[8:] = rng.integers(0, 256, len(data) - 8, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    return [str(path)]


def truncated_grib(directory: Path) -> list[str]:
    path = directory / "cut.grib2"
    path.write_bytes(NAM.read_bytes()[:150_000])
    return [str(path)]


def corrupt_grib(directory: Path) -> list[str]:
    """The first GRIB message with its data section overwritten (length and end marker intact)."""
    data = bytearray(NAM.read_bytes())
    length = int.from_bytes(data[8:16], "big")
    message = data[:length]
    rng = np.random.default_rng(4)
    message[16:-4] = rng.integers(0, 256, length - 20, dtype=np.uint8).tobytes()
    path = directory / "corrupt.grib2"
    path.write_bytes(bytes(message))
    return [str(path)]


def huge_sparse(magic: bytes, name: str, size: int = 6 * 1024**3):
    """A sparse file of several GB (no disk used): it must be refused without reading it."""

    def make(directory: Path) -> list[str]:
        path = directory / name
        with open(path, "wb") as handle:
            handle.write(magic)
            handle.truncate(size)
        return [str(path)]

    return make


def netcdf(**keywords):
    def make(directory: Path) -> list[str]:
        return [str(observation_file(directory / "obs.nc", **keywords))]

    return make


def two_files(first: dict, second: dict):
    def make(directory: Path) -> list[str]:
        a = observation_file(directory / "a.nc", **first)
        b = observation_file(directory / "b.nc", **second)
        return [str(a), str(b)]

    return make


def directory_without_data(directory: Path) -> list[str]:
    (directory / "README.txt").write_text("no data here")
    return [str(directory)]


# -- the corpus --------------------------------------------------------------------


@dataclass
class Case:
    """``args`` builds the command line from a scratch directory (inputs) and the output
    root; ``message`` is a regular expression the one error line must match (``{inputs}``
    and ``{root}`` are filled in)."""

    args: Callable[[Path, Path], list[str]]
    message: str


def publish(make_inputs, *options: str, products: str = "temperature_2m"):
    def args(directory: Path, root: Path) -> list[str]:
        return [
            "publish",
            *make_inputs(directory),
            "--root",
            str(root),
            *(["--products", products] if products else []),
            *options,
        ]

    return args


def command(*words: str):
    def args(directory: Path, root: Path) -> list[str]:
        return [w.format(inputs=directory, root=root) for w in words]

    return args


STRINGS = np.array([["hot"] * 4] * 3 * 6, dtype=object).reshape(6, 3, 4)
NAN = np.full((6, 3, 4), np.nan)
IMPLAUSIBLE = np.full((6, 3, 4), 500.0)  # every value outside QC's 180..340 K

CASES = {
    # -- unreadable files
    "truncated-netcdf": Case(publish(truncated_netcdf), r"{inputs}/cut\.nc: not a NetCDF"),
    "corrupt-netcdf": Case(publish(corrupt_netcdf), r"{inputs}/corrupt\.nc: .*corrupt"),
    "truncated-grib": Case(publish(truncated_grib), r"{inputs}/cut\.grib2: .*truncated"),
    "corrupt-grib": Case(publish(corrupt_grib), r"{inputs}/corrupt\.grib2: "),
    "empty-file": Case(publish(written(b"", "empty.nc")), r"{inputs}/empty\.nc: .*empty file"),
    "random-bytes": Case(
        publish(written(np.random.default_rng(5).bytes(4096), "random.nc")),
        r"{inputs}/random\.nc: not a NetCDF, GRIB or Zarr file \(unknown format",
    ),
    "huge-sparse-netcdf": Case(publish(huge_sparse(b"CDF\x01", "huge.nc")), r"{inputs}/huge\.nc: "),
    "huge-sparse-hdf5": Case(
        publish(huge_sparse(b"\x89HDF\r\n\x1a\n", "huge.h5")), r"{inputs}/huge\.h5: "
    ),
    "huge-sparse-grib": Case(
        publish(huge_sparse(b"GRIB\x00\x00\x00\x02", "huge.grib2")), r"{inputs}/huge\.grib2: "
    ),
    "huge-sparse-unknown": Case(
        publish(huge_sparse(b"", "huge.nc")), r"{inputs}/huge\.nc: .*unknown format"
    ),
    "directory-without-data": Case(
        publish(directory_without_data), r"{inputs}: no NetCDF, GRIB, Zarr or track file"
    ),
    "no-such-input": Case(
        command("publish", "{inputs}/missing.nc", "--root", "{root}"),
        r"{inputs}/missing\.nc: no such file or directory",
    ),
    "glob-matches-nothing": Case(
        command("publish", "{inputs}/*.grib2", "--root", "{root}"), r"no file matches"
    ),
    # -- units
    "missing-units": Case(publish(netcdf(attrs={})), r"obs\.nc: variable 't2m'.*units are missing"),
    "unconvertible-units": Case(
        publish(netcdf(attrs={"units": "kg"})), r"obs\.nc: variable 't2m'.*cannot be converted"
    ),
    "unparsable-units": Case(
        publish(netcdf(attrs={"units": "degrees_Kelvinish"})),
        r"obs\.nc: variable 't2m'.*not understood",
    ),
    # -- values
    "strings-instead-of-numbers": Case(
        publish(netcdf(values=STRINGS)), r"obs\.nc: variable 't2m'.*(string|dtype|numbers)"
    ),
    "all-nan-field": Case(
        publish(netcdf(values=NAN)),
        r"obs\.nc: variable 'air_temperature_2m' has no valid value",
    ),
    "all-values-implausible": Case(  # e.g. kelvin labelled degC: QC masks every value
        publish(netcdf(values=IMPLAUSIBLE)),
        r"obs\.nc: variable 'air_temperature_2m' has no valid value",
    ),
    # -- coordinates and times
    "no-time-coordinate": Case(
        publish(
            lambda d: [
                str(
                    _write(
                        xr.Dataset(
                            {"t2m": (("lat", "lon"), np.full((3, 4), 300.0), {"units": "K"})},
                            coords={"lat": list(LATITUDE), "lon": list(LONGITUDE)},
                        ),
                        d / "obs.nc",
                    )
                )
            ]
        ),
        r"obs\.nc: variable 't2m'.*no time coordinate",
    ),
    "missing-time-values": Case(
        publish(netcdf(times=[*TIMES[:5], pd.NaT])),
        r"obs\.nc: .*time.*missing values",
    ),
    "non-monotonic-latitude": Case(
        publish(netcdf(latitude=(22.0, 24.0, 23.0))), r"obs\.nc: .*'latitude' is not monotonic"
    ),
    "latitude-out-of-range": Case(
        publish(netcdf(latitude=(89.0, 90.0, 91.0))), r"obs\.nc: .*latitude values outside"
    ),
    "mismatched-grids": Case(
        publish(
            two_files(
                {}, {"name": "u10", "attrs": {"units": "m s-1"}, "latitude": (22.2, 22.7, 23.2)}
            )
        ),
        r"{inputs}/b\.nc: variable 'u10'.*different grid from {inputs}/a\.nc",
    ),
    "no-known-variable": Case(
        publish(netcdf(name="mystery_field", attrs={"units": "1"})),
        r"obs\.nc: no variable with a known meaning",
    ),
    "unexpected-dimension": Case(
        publish(
            lambda d: [
                str(
                    _write(
                        xr.Dataset(
                            {
                                "t2m": (
                                    ("member", "time", "lat", "lon"),
                                    np.full((2, 6, 3, 4), 300.0),
                                    {"units": "K"},
                                )
                            },
                            coords={
                                "time": TIMES,
                                "lat": list(LATITUDE),
                                "lon": list(LONGITUDE),
                            },
                        ),
                        d / "obs.nc",
                    )
                )
            ]
        ),
        r"obs\.nc: no usable variable.*member",
    ),
    # -- what the inputs cannot give
    "input-lacks-variable": Case(
        publish(netcdf(), products="wind_speed_10m"),
        r"missing input variable\(s\) eastward_wind_10m, northward_wind_10m",
    ),
    "unknown-product-id": Case(
        publish(netcdf(), products="heat_signal"), r"unknown product id 'heat_signal'"
    ),
    "intermediate-is-not-a-product": Case(
        publish(netcdf(), products="surface_based_parcel"), r"surface_based_parcel"
    ),
    "unknown-family": Case(
        command("catalog", "list", "--family", "weather"), r"unknown family 'weather'"
    ),
    "catalog-show-unknown": Case(
        command("catalog", "show", "heat_signal"), r"unknown product id 'heat_signal'"
    ),
    # -- bad command-line arguments
    "bad-set-syntax": Case(
        publish(netcdf(), "--set", "novalue"), r"--set 'novalue': expected PRODUCT\.PARAMETER"
    ),
    "bad-set-unknown-parameter": Case(
        publish(netcdf(), "--set", "temperature_2m.nonsense=3"),
        r"temperature_2m: unknown parameter 'nonsense'",
    ),
    "bad-set-wrong-units": Case(
        publish(
            netcdf(),
            "--set",
            "maximum_temperature_24h.window=36 kg",
            products="maximum_temperature_24h",
        ),
        r"maximum_temperature_24h: parameter window='36 kg' does not have the units of '24 h'",
    ),
    "bad-since": Case(
        publish(netcdf(), "--since", "yesterday"), r"--since 'yesterday': not an ISO"
    ),
    "bad-until": Case(
        publish(netcdf(), "--until", "2026-13-45"), r"--until '2026-13-45': not an ISO"
    ),
    "since-after-until": Case(
        publish(netcdf(), "--since", "2026-07-25T05:00", "--until", "2026-07-25T01:00"),
        r"--since '2026-07-25T05:00' is after --until '2026-07-25T01:00'",
    ),
    "since-after-the-data": Case(
        publish(netcdf(), "--since", "2027-01-01T00:00"),
        r"--since 2027-01-01T00:00:00Z is after the inputs' last time 2026-07-25T05:00:00Z",
    ),
    "until-before-the-data": Case(
        publish(netcdf(), "--until", "2020-01-01"),
        r"--until 2020-01-01T00:00:00Z is before the inputs' first time 2026-07-25T00:00:00Z",
    ),
    "bad-time": Case(
        command(
            "export", "temperature_2m", "--root", "{root}", "--out", "{root}/x", "--time", "noon"
        ),
        r"--time 'noon'|'noon'.*time",
    ),
    "bad-bbox-syntax": Case(
        command(
            "export", "temperature_2m", "--root", "{root}", "--out", "{root}/x", "--bbox", "1,2,3"
        ),
        r"--bbox '1,2,3': expected WEST,SOUTH,EAST,NORTH",
    ),
    "bad-bbox-order": Case(
        command(
            "export",
            "temperature_2m",
            "--root",
            "{root}",
            "--out",
            "{root}/x",
            "--bbox",
            "114,22,113,23",
        ),
        r"--bbox '114,22,113,23': need WEST < EAST",
    ),
    "unknown-export-format": Case(
        command("export", "temperature_2m", "--root", "{root}", "--out", "{root}/x", "-f", "docx"),
        r"docx",
    ),
    "unknown-option": Case(command("publish", "{inputs}", "--colour", "red"), r"--colour"),
    "status-of-missing-root": Case(
        command("status", "{inputs}/nowhere"), r"{inputs}/nowhere: not a directory"
    ),
    "status-of-empty-root": Case(command("status", "{inputs}"), r"{inputs}: no published products"),
    "serve-missing-root": Case(
        command("serve", "{inputs}/nowhere", "--port", "1"), r"{inputs}/nowhere: not a directory"
    ),
    "root-is-a-file": Case(
        publish(netcdf(), "--root", "{inputs}/obs.nc"), r"--root .*obs\.nc: not a directory"
    ),
}


def _write(dataset: xr.Dataset, path: Path) -> Path:
    dataset.to_netcdf(path)
    return path


def _snapshot(directory: Path, *, contents: bool = True) -> dict[str, str]:
    """Every path under ``directory`` with its content hash (or size and modification
    time: the huge sparse inputs are not read) or its link target."""
    out = {}
    if not directory.exists():
        return out
    for path in sorted(directory.rglob("*")):
        key = str(path.relative_to(directory))
        if path.is_symlink():
            out[key] = "-> " + os.readlink(path)
        elif path.is_file() and contents:
            out[key] = hashlib.sha256(path.read_bytes()).hexdigest()
        elif path.is_file():
            out[key] = f"{path.stat().st_size} bytes, modified {path.stat().st_mtime_ns}"
        else:
            out[key] = "dir"
    return out


@pytest.fixture(scope="module")
def published_root(tmp_path_factory):
    """A root with one product already published: a failed command must leave it as it is."""
    from tests.test_publish import inputs
    from weatherdata.publication import publish as publish_products

    root = tmp_path_factory.mktemp("template") / "products"
    publish_products(inputs(12), root, ["temperature_2m"])
    return root


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_gives_one_clear_line_and_writes_nothing(name, tmp_path, published_root, capfd):
    case = CASES[name]
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    root = tmp_path / "products"
    shutil.copytree(published_root, root, symlinks=True)
    arguments = case.args(inputs, root)
    arguments = [a.format(inputs=inputs, root=root) for a in arguments]
    before = _snapshot(root)
    inputs_before = _snapshot(inputs, contents=False)
    capfd.readouterr()
    started = time.monotonic()
    code = main(arguments)
    elapsed = time.monotonic() - started
    stderr = capfd.readouterr().err  # file-descriptor level: C libraries print there too
    assert code != 0, f"exit code 0 for {arguments}"
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    expected = case.message.format(inputs=re.escape(str(inputs)), root=re.escape(str(root)))
    assert re.search(expected, lines[0]), lines[0]
    assert _snapshot(root) == before, "the output root changed"
    assert _snapshot(inputs, contents=False) == inputs_before, (
        "the command wrote next to its inputs"
    )
    assert elapsed < 30, f"{elapsed:.0f} s: the input was read instead of refused"


def test_the_corpus_has_at_least_30_cases():
    assert len(CASES) >= 30


# -- malformed catalog.yaml (the command line always uses the shipped catalog) ----------

VALID_ENTRY = """\
  - id: wind_speed_test
    family: observation
    name: {en: Wind speed, zh: 风速}
    description: test
    recipe: observation.wind:wind_speed
    inputs: {eastward_wind: eastward_wind_10m, northward_wind: northward_wind_10m}
    units: m s-1
"""

CATALOGS = {
    "not-yaml": ("version: 1\nproducts:\n  - id: [unclosed\n", r"line \d+: not valid YAML"),
    "tab-indented": ("version: 1\nproducts:\n\t- id: x\n", r"not valid YAML"),
    "empty": ("", r"expected a mapping"),
    "a-list": ("- 1\n- 2\n", r"expected a mapping"),
    "no-products": ("version: 1\n", r"products"),
    "wrong-version": ("version: 2\nproducts:\n" + VALID_ENTRY, r"version"),
    "unknown-top-level-key": (
        "version: 1\ncolour: blue\nproducts:\n" + VALID_ENTRY,
        r"colour: unknown key",
    ),
    "unknown-entry-key": (
        "version: 1\nproducts:\n" + VALID_ENTRY + "    colour_of_sky: blue\n",
        r"product wind_speed_test, colour_of_sky: unknown key",
    ),
    "unknown-input": (
        "version: 1\nproducts:\n"
        + VALID_ENTRY.replace("eastward_wind_10m", "eastward_wind_at_11m"),
        r"product wind_speed_test: input eastward_wind='eastward_wind_at_11m' is neither",
    ),
    "bad-units": (
        "version: 1\nproducts:\n" + VALID_ENTRY.replace("m s-1", "furlongs banana"),
        r"wind_speed_test.*units",
    ),
    "duplicate-id": ("version: 1\nproducts:\n" + VALID_ENTRY * 2, r"declared twice"),
    "binary-garbage": ("\x00\x01\x02 garbage: [", r"not valid YAML|expected a mapping"),
}


@pytest.mark.parametrize("name", sorted(CATALOGS))
def test_malformed_catalog_is_one_clear_line(name, tmp_path):
    text, message = CATALOGS[name]
    path = tmp_path / "catalog.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError) as error:
        load_catalog(path)
    line = str(error.value)
    assert "\n" not in line and str(path) in line
    assert re.search(message, line), line


def test_catalog_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "catalog.yaml"
    path.write_bytes(b"version: 1\nproducts: \xff\xfe\n")
    with pytest.raises(CatalogError) as error:
        load_catalog(path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)


# -- what is repaired (and reported) instead of refused --------------------------------


def _publish_ok(arguments: list[str], capfd) -> None:
    code = main(arguments)
    stderr = capfd.readouterr().err
    assert code == 0, stderr
    assert "Traceback" not in stderr


def _published(root: Path, product: str) -> xr.DataArray:
    from weatherdata.publication import open_published

    return open_published(root, product)[product].load()


def test_quality_control_masks_implausible_values_instead_of_failing(tmp_path, capfd):
    """Some implausible values (a 500 K cell, ±Inf) are masked and counted, not an error:
    the rest of the field is published."""
    from weatherdata import ingest

    values = 300.0 + 0.1 * np.arange(6 * 3 * 4).reshape(6, 3, 4)
    values[0, 0, 0] = 500.0
    values[1, 1, 1] = np.inf
    values[2, 2, 2] = -np.inf
    values[3, 0, 3] = 100.0
    path = observation_file(tmp_path / "qc.nc", values=values)
    assert ingest.qc_report(ingest.open_observations(path))["masked"] == {"air_temperature_2m": 4}
    _publish_ok(
        ["publish", str(path), "--root", str(tmp_path / "p"), "--products", "temperature_2m"], capfd
    )
    out = _published(tmp_path / "p", "temperature_2m").values
    bad = np.zeros(values.shape, bool)
    bad[0, 0, 0] = bad[1, 1, 1] = bad[2, 2, 2] = bad[3, 0, 3] = True
    assert np.isnan(out[bad]).all()
    np.testing.assert_allclose(out[~bad], values[~bad] - 273.15, atol=1e-4)


def test_duplicated_and_unsorted_times_are_repaired(tmp_path, capfd):
    times = [TIMES[2], TIMES[0], TIMES[1], TIMES[1]]
    values = np.stack([np.full((3, 4), v) for v in (302.0, 300.0, 301.0, 305.0)])
    path = observation_file(tmp_path / "t.nc", values=values, times=times)
    _publish_ok(
        ["publish", str(path), "--root", str(tmp_path / "p"), "--products", "temperature_2m"], capfd
    )
    out = _published(tmp_path / "p", "temperature_2m")
    np.testing.assert_array_equal(out.time.values, TIMES[:3].values)  # sorted, unique
    np.testing.assert_allclose(
        out[:, 0, 0], [300.0 - 273.15, 305.0 - 273.15, 302.0 - 273.15], atol=1e-4
    )


def test_a_gap_in_time_never_gives_a_short_window_sum(tmp_path, capfd):
    times = TIMES.delete(3)  # 00, 01, 02, 04, 05: hour 03 is missing
    rain = np.ones((len(times), 3, 4))
    path = observation_file(
        tmp_path / "rain.nc", name="tp", values=rain, attrs={"units": "mm"}, times=times
    )
    _publish_ok(
        [
            "publish",
            str(path),
            "--root",
            str(tmp_path / "p"),
            "--products",
            "precipitation_accumulation_3h",
        ],
        capfd,
    )
    out = _published(tmp_path / "p", "precipitation_accumulation_3h")[:, 0, 0].to_series()
    assert out[TIMES[2]] == 3.0
    for hour in (3, 4, 5):  # every window that contains 03:00
        assert TIMES[hour] not in out.index or np.isnan(out[TIMES[hour]]), out


def test_any_dimension_order_gives_the_same_store(tmp_path, capfd):
    ordered = observation_file(tmp_path / "a.nc")
    with xr.open_dataset(ordered) as dataset:
        transposed = dataset.load().transpose("lon", "time", "lat")
    transposed.to_netcdf(tmp_path / "b.nc")
    for name in ("a", "b"):
        _publish_ok(
            [
                "publish",
                str(tmp_path / f"{name}.nc"),
                "--root",
                str(tmp_path / name),
                "--products",
                "temperature_2m",
            ],
            capfd,
        )
    xr.testing.assert_identical(
        _published(tmp_path / "a", "temperature_2m"), _published(tmp_path / "b", "temperature_2m")
    )


def test_publish_everything_from_less_than_a_day(tmp_path, capfd):
    """Six hours of temperature: hourly products are published, the daily ones (and the
    products built on them) are skipped with the reason, also when asked for by name;
    ``derive`` asked for one raises, naming the product and the record."""
    from weatherdata.ingest import open_observations
    from weatherdata.publication import publish as publish_products

    path = observation_file(tmp_path / "obs.nc")
    assert main(["publish", str(path), "--root", str(tmp_path / "p")]) == 0
    out = capfd.readouterr().out
    published = {p.stem for p in (tmp_path / "p").glob("*/*.zarr")}
    assert "temperature_2m" in published
    assert "daily_maximum_temperature" not in published
    assert "skipped" in out and "no complete beijing_20_20 day in the record" in out
    summary = publish_products(open_observations(path), tmp_path / "q")
    assert {s.product for s in summary.stores} == published
    assert "no complete" in summary.skipped["daily_maximum_temperature"]
    dependents = [p for p, why in summary.skipped.items() if why.startswith("needs daily_")]
    assert dependents, summary.skipped
    # Asked for by name (an hourly job before the first day ends): not an error, the
    # product waits for its first complete day and the summary says so.
    arguments = ["--root", str(tmp_path / "r"), "--products", "daily_maximum_temperature"]
    assert main(["publish", str(path), *arguments]) == 0
    out = capfd.readouterr().out
    assert "skipped 1 product " in out and "daily_maximum_temperature" in out
    assert not list((tmp_path / "r").glob("*/*.zarr"))
    # derive() asked for it by name raises, naming the product and the record
    from weatherdata import derive
    from weatherdata.errors import InsufficientDataError

    with pytest.raises(InsufficientDataError, match=r"daily_maximum_temperature: .*no complete"):
        derive(open_observations(path), ["daily_maximum_temperature"])


@pytest.mark.slow
@pytest.mark.parametrize("days", [1, 3])
def test_publish_everything_from_a_few_days_of_the_demo(tmp_path, days):
    """With one or three days of the demo (none or two complete days), every product is
    either published or skipped with a reason about the record's length (xclim infers the
    sampling frequency from three dates; day-to-day changes need two days). The two-day
    case (one complete day) was dropped from the default run for time: 30 s, a boundary
    between the two kept."""
    import weatherdata
    from weatherdata.catalog import shipped_catalog
    from weatherdata.demo import write_demo
    from weatherdata.publication import publish as publish_products

    write_demo(tmp_path / "input", resolution=0.5, days=days)
    observations, forecast = weatherdata.open_inputs(tmp_path / "input")
    summary = publish_products(observations, tmp_path / "p", forecast=forecast)
    published = {store.product for store in summary.stores}
    assert published | set(summary.skipped) == set(shipped_catalog().products)
    assert not published & set(summary.skipped)
    for product, reason in summary.skipped.items():
        assert re.search(r"complete day\(s\)|no complete .* day|two time steps", reason), (
            product,
            reason,
        )
    assert "temperature_2m" in published and "heat_warning_signal" in published
    assert (days >= 2) == ("daily_maximum_temperature" in published)
