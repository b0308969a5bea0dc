"""Interoperability: every published store is read by Zarr v3 implementations independent of
zarr-python, from disk and over HTTP from ``weatherdata serve``, with identical values.

- tensorstore (C++ ``zarr3`` driver) reads every numeric array, data variables and
  coordinates, of every product. It implements no string data type (google/tensorstore#103).
- zarrita.js (Node.js) reads every array, including the label coordinates, which are the
  zarr-extensions ``string`` data type (see ``publication._variable_length_labels``). Its
  packages come from ``tests/interop/zarrita/package-lock.json``; ``.ci/run`` installs them
  into ``build/zarrita`` (``WEATHERDATA_ZARRITA``). Without them these tests are skipped,
  unless ``WEATHERDATA_ZARRITA`` is set: then a missing install fails.

Values are compared byte for byte with what zarr-python reads from the same store
(``zarr.open_array(...)[...]``: the stored, encoded arrays, before any CF decoding).

Remote access, counted in the server's access log: plain ``xr.open_zarr`` makes one
metadata request, ``list_products`` one request, ``open_product`` reads ``products.json``
once, and unreachable or refusing roots give one clear line (``benchmarks/bench_remote.py``
measures the same with bytes, and data chunks per read).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
import requests
import xarray as xr
import zarr

from tests.helpers import free_port, serving

ROOT = Path(__file__).resolve().parent.parent
ZARRITA_SOURCE = ROOT / "tests" / "interop" / "zarrita"

#: Zarr v3 core data types (what every implementation reads) and the one extension we use.
NUMERIC_TYPES = {
    "bool",
    *(f"{kind}{bits}" for kind in ("int", "uint") for bits in (8, 16, 32, 64)),
    "float16",
    "float32",
    "float64",
    "complex64",
    "complex128",
}
LABEL_TYPE = "string"


def numeric(meta: dict) -> bool:
    """Whether array metadata declares a core numeric data type (extensions are objects)."""
    return isinstance(meta["data_type"], str) and meta["data_type"] in NUMERIC_TYPES


def store_arrays(store: Path) -> dict[str, dict]:
    """Every array of a store (name → metadata), from its consolidated metadata."""
    metadata = json.loads((store / "zarr.json").read_text())["consolidated_metadata"]["metadata"]
    return {name: meta for name, meta in metadata.items() if meta["node_type"] == "array"}


@pytest.fixture(scope="module")
def stores(published_demo) -> list[tuple[str, str, dict[str, dict]]]:
    """``(product id, href relative to the root, arrays)`` of every published product."""
    root, summary = published_demo
    index = json.loads((root / "products.json").read_text())["products"]
    assert sorted(p["id"] for p in index) == sorted(s.product for s in summary.stores)
    assert len(index) == 243
    return [(p["id"], p["href"], store_arrays(root / p["href"])) for p in index]


@pytest.fixture(scope="module")
def served(published_demo, tmp_path_factory):
    """``(url, access log)`` of ``weatherdata serve`` on the published demo."""
    root, _ = published_demo
    log = tmp_path_factory.mktemp("interop-serve") / "access.log"
    with serving(root, log) as url:
        yield url, log


@pytest.fixture(scope="module")
def server(served) -> str:
    return served[0]


def reference(root: Path, href: str, name: str) -> np.ndarray:
    """The array as zarr-python reads it from disk."""
    return zarr.open_array(store=str(root / href / name), mode="r")[...]


def same_bytes(values: np.ndarray, expected: np.ndarray) -> str | None:
    """None when equal in dtype, shape and every byte (NaN payloads included); else why not."""
    if values.dtype != expected.dtype or values.shape != expected.shape:
        return f"{values.dtype}{values.shape} != {expected.dtype}{expected.shape}"
    if values.tobytes() != expected.tobytes():
        differ = values.view(np.uint8) != expected.view(np.uint8)
        return f"{int(differ.sum())} of {differ.size} bytes differ"
    return None


# -- what is published -----------------------------------------------------------------


def test_every_array_has_a_specified_data_type(stores):
    """Core numeric types everywhere, ``string`` only for label coordinates: no
    ``fixed_length_utf32`` (unreadable by zarrita.js, tensorstore, GDAL < 3.13)."""
    labels = {}
    for product, _, arrays in stores:
        for name, meta in arrays.items():
            data_type = meta["data_type"]
            assert numeric(meta) or data_type == LABEL_TYPE, (product, name, data_type)
            if data_type == LABEL_TYPE:
                assert name != product, f"{product}: the product itself is a string array"
                labels.setdefault(product, set()).add(name)
    assert labels["guangzhou_district_warning_signals"] == {
        "district",
        "district_name_en",
        "district_name_zh",
        "signal",
    }
    assert labels["guangdong_city_warning_signals"] == {
        "city",
        "city_name_en",
        "city_name_zh",
        "signal",
    }
    assert {"mean_wind_0_6km", "subtropical_high_indices"} <= set(labels)


def test_plain_xarray_gives_the_same_labels(published_demo):
    """District, city and signal labels read back with plain xarray, selectable by name."""
    from weatherdata.products.forecast_warning.districts import (
        GUANGDONG_CITIES,
        GUANGZHOU_DISTRICTS,
    )

    from weatherdata.catalog import shipped_catalog

    root, _ = published_demo
    for product, dim, names in (
        ("guangzhou_district_warning_signals", "district", GUANGZHOU_DISTRICTS),
        ("guangdong_city_warning_signals", "city", GUANGDONG_CITIES),
    ):
        data = xr.open_zarr(
            root / "forecast_warning" / f"{product}.zarr", consolidated=True, zarr_format=3
        ).load()
        assert data[dim].values.tolist() == list(names.values())
        assert data[f"{dim}_name_en"].values.tolist() == list(names.values())
        assert data[f"{dim}_name_zh"].values.tolist() == list(names.keys())
        assert data["signal"].values.tolist() == list(shipped_catalog()[product].inputs)
        last = list(names.values())[-1]
        np.testing.assert_array_equal(
            data[product].sel({dim: last, "signal": "heat_warning_signal"}).values,
            data[product].isel({dim: -1, "signal": 2}).values,
        )


# -- tensorstore -------------------------------------------------------------------------


def _tensorstore_read(specs: list[dict]) -> list[np.ndarray | str]:
    """Open and read every spec concurrently; an error is returned as its message."""
    import tensorstore as ts

    context = ts.Context()
    opened = [ts.open(spec, context=context, open=True, read=True) for spec in specs]
    reads = []
    for future in opened:
        try:
            reads.append(future.result().read())
        except Exception as exc:  # reported per array below
            reads.append(str(exc).splitlines()[0])
    out = []
    for read in reads:
        if isinstance(read, str):
            out.append(read)
            continue
        try:
            out.append(np.asarray(read.result()))
        except Exception as exc:
            out.append(str(exc).splitlines()[0])
    return out


def _check_with_tensorstore(root: Path, stores, kvstore) -> int:
    wanted = [
        (product, href, name)
        for product, href, arrays in stores
        for name, meta in arrays.items()
        if numeric(meta)
    ]
    failures = []
    for offset in range(0, len(wanted), 200):
        batch = wanted[offset : offset + 200]
        specs = [{"driver": "zarr3", "kvstore": kvstore(href, name)} for _, href, name in batch]
        for (product, href, name), values in zip(batch, _tensorstore_read(specs), strict=True):
            if isinstance(values, str):
                failures.append(f"{product}/{name}: {values}")
            elif problem := same_bytes(values, reference(root, href, name)):
                failures.append(f"{product}/{name}: {problem}")
    assert not failures, f"{len(failures)} of {len(wanted)} arrays:\n" + "\n".join(failures[:20])
    return len(wanted)


def test_tensorstore_reads_every_numeric_array_from_disk(published_demo, stores):
    root, _ = published_demo
    checked = _check_with_tensorstore(
        root, stores, lambda href, name: {"driver": "file", "path": f"{root / href / name}/"}
    )
    assert checked > 3 * len(stores)  # the product and its coordinates, for every product


def test_tensorstore_reads_every_numeric_array_over_http(published_demo, stores, server):
    root, _ = published_demo
    checked = _check_with_tensorstore(
        root,
        stores,
        lambda href, name: {"driver": "http", "base_url": server, "path": f"/{href}/{name}/"},
    )
    assert checked > 3 * len(stores)


# -- zarrita.js --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def zarrita(tmp_path_factory) -> Path:
    """A directory whose ``read_arrays.mjs`` imports zarrita from the installed packages."""
    required = "WEATHERDATA_ZARRITA" in os.environ
    installed = Path(os.environ.get("WEATHERDATA_ZARRITA", ROOT / "build" / "zarrita"))
    node = shutil.which("node")
    problem = None
    if node is None:
        problem = "Node.js (node) is not on PATH"
    elif not (installed / "node_modules" / "zarrita").is_dir():
        problem = (
            f"zarrita.js is not installed in {installed}; run: mkdir -p {installed} && cp "
            f"{ZARRITA_SOURCE}/package*.json {installed}/ && npm ci --prefix {installed}"
        )
    if problem:
        if required:
            pytest.fail(problem)
        pytest.skip(problem)
    directory = tmp_path_factory.mktemp("zarrita")
    shutil.copy(ZARRITA_SOURCE / "read_arrays.mjs", directory)
    (directory / "node_modules").symlink_to(installed / "node_modules")
    return directory


def _check_with_zarrita(zarrita: Path, root: Path, stores, location, tmp_path) -> int:
    job = {
        "out": str(tmp_path / "arrays"),
        "stores": [
            {"location": location(href), "arrays": sorted(arrays)} for _, href, arrays in stores
        ],
    }
    (tmp_path / "job.json").write_text(json.dumps(job))
    result = subprocess.run(
        ["node", str(zarrita / "read_arrays.mjs"), str(tmp_path / "job.json")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    manifest = json.loads(result.stdout)
    by_location = {location(href): (product, href, arrays) for product, href, arrays in stores}
    failures = []
    for entry in manifest:
        product, href, arrays = by_location[entry["location"]]
        name = entry["array"]
        where = f"{product}/{name}"
        if "error" in entry:
            failures.append(f"{where}: {entry['error']}")
            continue
        expected = reference(root, href, name)
        if entry["data_type"] != arrays[name]["data_type"]:
            failures.append(f"{where}: data type {entry['data_type']}")
        elif entry["stride"] != [int(s) for s in np.array(expected.strides) // expected.itemsize]:
            failures.append(f"{where}: not C order (strides {entry['stride']})")
        elif "values" in entry:
            if (
                entry["shape"] != list(expected.shape)
                or entry["values"] != expected.ravel().tolist()
            ):
                failures.append(f"{where}: labels {entry['values'][:5]} differ")
        else:
            values = np.fromfile(entry["file"], dtype=expected.dtype).reshape(entry["shape"])
            if problem := same_bytes(values, expected):
                failures.append(f"{where}: {problem}")
    total = sum(len(arrays) for _, _, arrays in stores)
    assert len(manifest) == total
    assert not failures, f"{len(failures)} of {total} arrays:\n" + "\n".join(failures[:20])
    return sum(1 for entry in manifest if "values" in entry)


def test_zarrita_reads_every_array_from_disk(published_demo, stores, zarrita, tmp_path):
    root, _ = published_demo
    labels = _check_with_zarrita(zarrita, root, stores, lambda href: str(root / href), tmp_path)
    assert labels >= 8  # the district and city tables' labels among them


def test_zarrita_reads_every_array_over_http(published_demo, stores, zarrita, server, tmp_path):
    root, _ = published_demo
    labels = _check_with_zarrita(zarrita, root, stores, lambda href: f"{server}/{href}", tmp_path)
    assert labels >= 8


# -- remote access: requests counted in the server's access log ---------------------------

ACCESS = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d{3})')


def requests_made(served, action) -> list[tuple[str, str, int]]:
    """``(method, path, status)`` of every request the server logged while ``action`` ran.

    A request with a unique query string after the action marks its end in the log.
    """
    url, log = served
    start = len(log.read_text())
    action()
    marker = f"/catalog.json?end={uuid.uuid4().hex}"
    requests.get(url + marker, timeout=10)
    for _ in range(100):
        text = log.read_text()[start:]
        if marker in text:
            break
        time.sleep(0.05)
    lines = [m.groupdict() for m in ACCESS.finditer(text)]
    made = [(m["method"], m["path"], int(m["status"])) for m in lines]
    assert made and made[-1][1] == marker
    return made[:-1]


REPRESENTATIVE = {
    "temperature_2m": "observation",
    "daily_maximum_temperature": "observation",
    "forecast_temperature_2m": "forecast_warning",
    "heat_warning_signal": "forecast_warning",
    "guangzhou_district_warning_signals": "forecast_warning",
}


@pytest.mark.parametrize("product", sorted(REPRESENTATIVE))
def test_plain_xarray_open_is_one_metadata_request(served, product):
    url = f"{served[0]}/{REPRESENTATIVE[product]}/{product}.zarr"
    made = requests_made(served, lambda: xr.open_zarr(url, consolidated=True, zarr_format=3))
    metadata = [path for _, path, _ in made if not re.search(r"/c(/\d+)+$", path)]
    assert metadata == [f"/{REPRESENTATIVE[product]}/{product}.zarr/zarr.json"]
    assert all(method == "GET" and status == 200 for method, _, status in made), made
    # the rest are coordinate chunks (for the indexes); no data chunk before .load()
    assert not [path for _, path, _ in made if f".zarr/{product}/c/" in path]


def test_open_product_reads_products_json_once_and_nothing_else_before_load(served):
    import weatherdata

    url = served[0]
    opened = {}
    made = requests_made(
        served,
        lambda: opened.setdefault(
            "data",
            weatherdata.open_product(
                "guangzhou_district_warning_signals",
                root=url,
                time=slice("2026-07-25T06:00", "2026-07-25T11:00"),
            ),
        ),
    )
    metadata = [path for _, path, _ in made if path.endswith(".json")]
    assert metadata == [
        "/products.json",
        "/forecast_warning/guangzhou_district_warning_signals.zarr/zarr.json",
    ]
    assert all(method == "GET" and status == 200 for method, _, status in made), made
    assert not [p for _, p, _ in made if ".zarr/guangzhou_district_warning_signals/c/" in p]
    table = opened["data"]["guangzhou_district_warning_signals"]
    assert table.sizes["time"] == 6 and table["district"].values.tolist()[0] == "Liwan"


def test_list_products_is_one_request(served, stores):
    import weatherdata

    listed = {}
    made = requests_made(
        served, lambda: listed.setdefault("p", weatherdata.list_products(served[0]))
    )
    assert made == [("GET", "/products.json", 200)]
    assert len(listed["p"]) == len(stores)


def test_unreachable_or_refused_roots_are_one_clear_line(published_demo, tmp_path):
    import weatherdata
    from weatherdata.errors import WeatherdataError

    nobody = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(WeatherdataError, match="cannot reach the publication root") as info:
        weatherdata.open_product("temperature_2m", root=nobody)
    assert "\n" not in str(info.value) and nobody in str(info.value)
    with pytest.raises(WeatherdataError, match="is this a weatherdata publication root"):
        weatherdata.list_products(tmp_path)
    root, _ = published_demo
    with serving(root, tmp_path / "token.log", "--token", "s3cret") as url:
        with pytest.raises(WeatherdataError, match=r"access denied \(HTTP 401\).*Bearer"):
            weatherdata.open_product("temperature_2m", root=url)
        data = weatherdata.open_product(
            "temperature_2m",
            root=url,
            storage_options={"headers": {"Authorization": "Bearer s3cret"}},
        )
        assert data["temperature_2m"].isel(time=0).notnull().any()
