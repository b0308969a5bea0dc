"""Property-based fuzzing (hypothesis) of the two places user data enters: the ingest
normalizer and the catalog loader.

* The normalizer, given a dataset with random variable names, units, coordinate names,
  orders and ranges, times and values, returns a dataset in the canonical form (the
  invariants below hold, also once computed) or raises a ``WeatherdataError`` — never any
  other exception, at open time or when the lazy result is computed.
* The catalog loader, given random mutations of a valid entry, loads or raises a one-line
  ``CatalogError`` that names the file and the entry — never any other exception.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.test_catalog import ENTRY as MINIMAL_ENTRY
from weatherdata.catalog import load_catalog
from weatherdata.errors import CatalogError, WeatherdataError
from weatherdata.ingest import normalize_dataset
from weatherdata.variables import canonical_variables

#: ``WEATHERDATA_FUZZ_EXAMPLES=5000 pytest tests/test_fuzz.py`` fuzzes longer (and randomly).
EXAMPLES = int(os.environ.get("WEATHERDATA_FUZZ_EXAMPLES", "100"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=EXAMPLES <= 100,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# -- the ingest normalizer -----------------------------------------------------------

SURFACE = [
    name
    for name, spec in canonical_variables().items()
    if spec.dims == ("time", "horizontal") and not spec.static
]
UNITS = {
    "air_temperature_2m": ["K", "degC", "degF", "kelvin"],
    "relative_humidity_2m": ["percent", "%", "1"],
    "eastward_wind_10m": ["m s-1", "m/s", "knots", "km h-1"],
    "air_pressure_at_mean_sea_level": ["Pa", "hPa", "mbar"],
    "precipitation_amount": ["mm", "m", "kg m-2"],
}
BAD_UNITS = ["", "kg", "furlongs banana", "degrees_Kelvinish", "1/0", "m**", "%%", "s", None]
LATITUDE_NAMES = ["lat", "latitude", "nav_lat", "LAT", "y_lat"]
LONGITUDE_NAMES = ["lon", "longitude", "nav_lon", "LON", "x_lon"]
TIME_NAMES = ["time", "t", "valid_time", "date", "Times"]


@st.composite
def producer_datasets(draw):
    """A small dataset as some producer might write it, sometimes broken."""
    canonical = draw(st.sampled_from(list(UNITS) + SURFACE[:6]))
    spec = canonical_variables()[canonical]
    # mostly plausible files (so that many reach the canonical form), sometimes broken ones
    name = draw(
        st.sampled_from([canonical, *spec.aliases])
        if draw(st.integers(0, 4))
        else st.text("abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=12)
    )
    good_units = UNITS.get(canonical, [spec.units])
    units = draw(st.sampled_from(good_units if draw(st.integers(0, 3)) else BAD_UNITS))
    attrs = {} if units is None else {"units": units}
    if draw(st.booleans()) and spec.standard_name:
        attrs["standard_name"] = spec.standard_name
    ny, nx, nt = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 5))
    lat_name = draw(st.sampled_from(LATITUDE_NAMES))
    lon_name = draw(st.sampled_from(LONGITUDE_NAMES))
    time_name = draw(st.sampled_from(TIME_NAMES))
    start = draw(st.floats(-100, 100, allow_nan=False))
    step = draw(st.sampled_from([0.25, -0.25, 1.0, -1.0, 30.0, 0.0]))
    latitude = start + step * np.arange(ny)
    if not draw(st.integers(0, 4)):
        latitude = np.asarray(
            draw(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=ny, max_size=ny))
        )
    longitude = draw(st.floats(-400, 400, allow_nan=False)) + draw(
        st.sampled_from([0.5, -0.5, 90.0, 0.0])
    ) * np.arange(nx)
    hours = draw(
        st.lists(st.integers(-3, 30), min_size=nt, max_size=nt)  # unsorted, duplicated, gaps
        | st.just(list(range(nt)))
    )
    times = pd.Timestamp("2026-07-25") + pd.to_timedelta(hours, unit="h")
    kind = draw(st.sampled_from(["float64", "float32", "int16", "int64", "bool", "str"]))
    low, high = spec.range
    values = draw(
        st.lists(
            st.floats(low - (high - low), high + (high - low))
            | st.sampled_from([np.nan, np.inf, -np.inf, 1e30]),
            min_size=nt * ny * nx,
            max_size=nt * ny * nx,
        )
    )
    values = np.asarray(values, dtype="float64").reshape(nt, ny, nx)
    if kind == "str":
        values = values.astype(str).astype(object)
    elif kind != "float64":
        with np.errstate(invalid="ignore", over="ignore"):  # wrapped integers are data too
            values = np.nan_to_num(values).astype(kind)
    dims = [time_name, lat_name, lon_name]
    order = draw(st.permutations([0, 1, 2]))
    values = values.transpose(order)
    dims = [dims[i] for i in order]
    coords = {
        lat_name: (lat_name, latitude, {"units": "degrees_north"}),
        lon_name: (lon_name, longitude, {"units": "degrees_east"}),
    }
    if draw(st.integers(0, 9)):  # sometimes no time coordinate at all
        coords[time_name] = (time_name, times.values)
    return xr.Dataset({name: (dims, values, attrs)}, coords=coords)


def _check_canonical(ds: xr.Dataset) -> None:
    """The invariants of the canonical form (``weatherdata/ingest/normalize.py``)."""
    variables = canonical_variables()
    assert ds.data_vars, "a canonical dataset has at least one variable"
    assert "weatherdata_qc" in ds.attrs
    for name, da in ds.data_vars.items():
        spec = variables[name]
        assert da.attrs["units"] == spec.units
        assert da.dtype == np.float32
        assert set(da.dims) <= {"time", "latitude", "longitude"}, da.dims
        assert list(da.dims) == [d for d in ("time", "latitude", "longitude") if d in da.dims]
        values = da.values
        finite = values[np.isfinite(values)]
        low, high = spec.range
        assert np.all((finite >= np.float32(low)) & (finite <= np.float32(high)))
        assert not np.isinf(values).any()
    latitude = ds["latitude"].values
    assert np.all(np.diff(latitude) > 0) and np.all(np.abs(latitude) <= 90)
    longitude = ds["longitude"].values
    assert np.all(np.diff(longitude) > 0)
    assert np.all((longitude >= -180) & (longitude < 180))
    if "time" in ds.dims:
        time = pd.DatetimeIndex(ds["time"].values)
        assert ds["time"].dtype == np.dtype("datetime64[ns]")
        assert time.is_monotonic_increasing and time.is_unique


@FUZZ
@given(producer_datasets())
def test_normalizer_gives_canonical_data_or_a_clear_error(raw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out = normalize_dataset(raw, source="fuzz.nc")
            out = out.compute()
        except WeatherdataError as error:
            message = str(error)
            assert "\n" not in message and message.startswith("fuzz.nc"), message
            event(f"refused: {type(error).__name__}: {message.split(': ')[-1][:40]}")
            return
    _check_canonical(out)
    event("canonical")


# -- the catalog loader ---------------------------------------------------------------

# The minimal entry of tests/test_catalog.py with every optional field filled in.
ENTRY = {
    **MINIMAL_ENTRY,
    "parameters": {
        "threshold": {
            "value": "10.8 m s-1",
            "source": "WMO",
            "verified": False,
            "reason": "a test threshold",
        }
    },
    "cf": {"standard_name": "wind_speed"},
    "time": {"kind": "rolling_window", "window": "3 h"},
    "categories": [
        {"value": 0, "meaning": "calm", "en": "calm", "zh": "静", "colour": "#ffffff"},
        {"value": 1, "meaning": "windy", "en": "windy", "zh": "风", "colour": "#ff0000"},
    ],
    "style": {"colormap": "viridis", "levels": [0, 5, 10]},
    "valid_range": [0, 100],
    "references": ["WMO"],
}
REFERENCES = {"WMO": "WMO guide"}

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(["3 h", "35 degC", "m s-1", "furlongs", "observation", "#12345", "1e400"])
)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*prefix, index))


@st.composite
def mutated_entries(draw):
    entry = yaml.safe_load(yaml.safe_dump(ENTRY))  # a deep copy
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(entry) if p]
        path = draw(st.sampled_from(paths)) if paths else ()
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        parent = entry
        for key in path[:-1]:
            parent = parent[key]
        if not path:
            break
        if action == "delete":
            del parent[path[-1]]
        elif action == "replace":
            parent[path[-1]] = draw(values)
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=10))] = draw(values)
        else:
            parent.append(draw(values))
    return entry


@FUZZ
@given(mutated_entries())
def test_catalog_loader_loads_or_names_the_entry(tmp_path_factory, entry):
    path = tmp_path_factory.mktemp("fuzz") / "catalog.yaml"
    text = yaml.safe_dump(
        {"version": 1, "references": REFERENCES, "products": [entry]}, allow_unicode=True
    )
    path.write_text(text, encoding="utf-8")
    try:
        catalog = load_catalog(path)
    except CatalogError as error:
        message = str(error)
        assert "\n" not in message and str(path) in message, message
        name = entry.get("id")
        if isinstance(name, str) and name.strip():
            assert f"product {' '.join(name.split())}" in message, message
        else:
            assert "products entry 0" in message, message
        return
    assert list(catalog.products) == [entry["id"]]


def test_the_unmutated_entry_loads(tmp_path):
    path = tmp_path / "catalog.yaml"
    path.write_text(
        yaml.safe_dump({"version": 1, "references": REFERENCES, "products": [ENTRY]}),
        encoding="utf-8",
    )
    assert list(load_catalog(path).products) == ["wind_speed_test"]


@pytest.mark.parametrize("units", ["K", "degC"])
def test_a_plain_file_normalizes(units):
    """The generator's happy path reaches the invariants (the property is not vacuous)."""
    raw = xr.Dataset(
        {"t2m": (("time", "lat", "lon"), np.full((2, 2, 3), 20.0), {"units": units})},
        coords={
            "time": pd.date_range("2026-07-25", periods=2, freq="h"),
            "lat": [23.0, 22.0],
            "lon": [113.0, 114.0, 115.0],
        },
    )
    out = normalize_dataset(raw, source="fuzz.nc").compute()
    _check_canonical(out)
