"""Ingest: readers, normalization to the canonical form, combining files, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import dask
import dask.array
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from tests.helpers import grid_dataset
from weatherdata import ingest
from weatherdata.errors import InputError, UnitsError
from weatherdata.ingest import (
    check_inputs,
    open_forecast,
    open_inputs,
    open_observations,
    qc_report,
    require,
)
from weatherdata.ingest import normalize_dataset as normalize
from weatherdata.ingest import readers as readers_module
from weatherdata.variables import canonical_variables

DATA = Path(__file__).parent / "data"
NAM = DATA / "nam.t00z.awp21100.tm00.grib2"
GFS = DATA / "gfs.t12z.pgrbf120.2p5deg.grib2"


def _direct_grib(path, short_name, level_type):
    """A plain cfgrib read of one parameter, for comparison (no .idx written)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return xr.open_dataset(
            path,
            engine="cfgrib",
            backend_kwargs={
                "indexpath": "",
                "filter_by_keys": {"shortName": short_name, "typeOfLevel": level_type},
            },
        ).load()


def producer_dataset(
    variables: dict[str, tuple[tuple[str, ...], np.ndarray, dict]],
    *,
    times=("2024-07-01T00", "2024-07-01T01", "2024-07-01T02"),
    lat=(24.0, 23.0, 22.0),
    lon=(112.0, 113.0, 114.0, 115.0),
    coords: dict | None = None,
) -> xr.Dataset:
    """A small dataset as a producer writes it (its own names and units)."""
    base = {
        "lat": ("lat", np.asarray(lat, dtype="float64"), {"units": "degrees_north"}),
        "lon": ("lon", np.asarray(lon, dtype="float64"), {"units": "degrees_east"}),
    }
    if times is not None:
        base["time"] = ("time", pd.DatetimeIndex(times).values)
    base.update(coords or {})
    return xr.Dataset(
        {name: (dims, values, attrs) for name, (dims, values, attrs) in variables.items()},
        coords=base,
    )


def field(shape=(3, 3, 4), start=20.0, step=0.5):
    return (start + step * np.arange(np.prod(shape))).reshape(shape).astype("float64")


# --------------------------------------------------------------------------------------
# readers: registry and round trips
# --------------------------------------------------------------------------------------
def test_registry_has_builtin_readers_and_discovers_plugins(monkeypatch, tmp_path):
    names = [r.name for r in ingest.get_readers(refresh=True)]
    assert {"netcdf", "grib", "zarr", "tc_track"} <= set(names)

    class FooReader:
        name = "foo"

        def can_open(self, path):
            return str(path).endswith(".foo")

        def open(self, path):
            values = json.loads(Path(path).read_text())
            return producer_dataset(
                {"t2m": (("time", "lat", "lon"), np.full((3, 3, 4), values["t"]), {"units": "K"})}
            )

    class EntryPoint:
        name = "foo"

        def load(self):
            return FooReader

    monkeypatch.setattr(
        readers_module,
        "entry_points",
        lambda group: [EntryPoint()] if group == "weatherdata.readers" else [],
    )
    try:
        readers = ingest.get_readers(refresh=True)
        assert readers[0].name == "foo"  # plugins come before the built-in fallback
        assert {"netcdf", "grib", "zarr"} <= {r.name for r in readers}
        (tmp_path / "x.foo").write_text('{"t": 290.0}')
        ds = open_observations(tmp_path)  # a directory scan finds the plugin's file
        assert float(ds["air_temperature_2m"].max()) == 290.0
    finally:
        monkeypatch.undo()
        ingest.get_readers(refresh=True)


def test_netcdf_round_trip(tmp_path):
    t2m = field()
    ds = producer_dataset(
        {
            "t2m": (("time", "lat", "lon"), t2m, {"units": "degC", "long_name": "temp"}),
            "msl": (("time", "lat", "lon"), 100_000 + field(start=0, step=10), {"units": "Pa"}),
            "mystery": (("time", "lat", "lon"), field(), {"units": "1"}),
        },
        lon=(0.0, 90.0, 180.0, 270.0),
    )
    path = tmp_path / "obs.nc"
    ds.to_netcdf(path, engine="netcdf4")
    assert ingest.find_reader(path).name == "netcdf"

    out = open_observations(path)
    assert set(out.data_vars) == {"air_temperature_2m", "air_pressure_at_mean_sea_level"}
    t = out["air_temperature_2m"]
    assert t.dims == ("time", "latitude", "longitude")
    assert t.dtype == np.float32
    assert t.attrs == {
        "units": "K",
        "standard_name": "air_temperature",
        "long_name": "2 m air temperature",
    }
    assert isinstance(t.data, dask.array.Array)
    # latitude ascending, longitude 0..360 -> -180..180 sorted
    np.testing.assert_array_equal(out["latitude"], [22.0, 23.0, 24.0])
    np.testing.assert_array_equal(out["longitude"], [-180.0, -90.0, 0.0, 90.0])
    expected = t2m[:, ::-1, :][:, :, [2, 3, 0, 1]] + 273.15
    np.testing.assert_allclose(t.values, expected, rtol=1e-6)
    np.testing.assert_allclose(
        out["air_pressure_at_mean_sea_level"].isel(time=0, latitude=-1, longitude=2), 1000.0
    )
    assert out["time"].dtype == np.dtype("datetime64[ns]")
    report = json.loads(out.attrs["weatherdata_qc"])
    assert {"file": str(path), "variable": "mystery"} == {
        k: report["dropped"][0][k] for k in ("file", "variable")
    }
    assert report["files"][0]["coordinates"]["longitude_wrapped"]
    assert report["files"][0]["coordinates"]["latitude_flipped"]


def test_zarr_round_trip_and_directory_scan(tmp_path):
    ta = np.stack([field((3, 4), start=280 - 10 * i) for i in range(3)], axis=1)[None]
    ds = producer_dataset(
        {
            "ta": (
                ("time", "plev", "lat", "lon"),
                ta,
                {"units": "K", "standard_name": "air_temperature"},
            ),
            "hur": (("time", "plev", "lat", "lon"), np.full(ta.shape, 0.5), {"units": "1"}),
        },
        times=["2024-07-01T06"],
        coords={"plev": ("plev", [50000.0, 85000.0, 100000.0], {"units": "Pa"})},
    )
    store = tmp_path / "sub" / "upper.zarr"
    store.parent.mkdir()
    ds.to_zarr(store, zarr_format=3, consolidated=False)
    (tmp_path / "README.txt").write_text("not data")  # ignored by the scan
    assert ingest.input_files(tmp_path) == [str(store)]

    out = open_observations(tmp_path)
    np.testing.assert_array_equal(out["pressure"], [1000.0, 850.0, 500.0])  # surface upward
    assert out["pressure"].attrs["units"] == "hPa"
    assert out["air_temperature"].dims == ("time", "pressure", "latitude", "longitude")
    np.testing.assert_allclose(
        out["air_temperature"].sel(pressure=500.0).isel(time=0).values, ta[0, 0, ::-1], rtol=1e-6
    )
    np.testing.assert_allclose(out["relative_humidity"].values, 50.0)  # "1" -> percent
    # one humidity form present: the others are derived (lazily) and reported
    assert {"dewpoint_temperature", "specific_humidity"} <= set(out.data_vars)
    report = qc_report(out, compute=False)
    assert "metpy.calc.dewpoint_from_relative_humidity" in report["derived"]["dewpoint_temperature"]
    import metpy.calc as mpcalc
    from metpy.units import units

    td = mpcalc.dewpoint_from_relative_humidity(
        float(out["air_temperature"][0, 1, 0, 0]) * units.K, 50 * units.percent
    ).to("K")
    np.testing.assert_allclose(float(out["dewpoint_temperature"][0, 1, 0, 0]), td.m, rtol=1e-5)
    q = mpcalc.specific_humidity_from_dewpoint(850 * units.hPa, td).to("kg/kg")
    np.testing.assert_allclose(float(out["specific_humidity"][0, 1, 0, 0]), q.m, rtol=1e-4)


def test_open_is_lazy(tmp_path):
    ds = producer_dataset({"t2m": (("time", "lat", "lon"), field() + 273.15, {"units": "K"})})
    ds.to_netcdf(tmp_path / "a.nc")

    def forbidden(*args, **kwargs):
        raise AssertionError("opening must not compute")

    with dask.config.set(scheduler=forbidden):
        out = open_observations(tmp_path / "a.nc")
        report = qc_report(out, compute=False)
    assert report["masked"] == {"air_temperature_2m": None}
    assert qc_report(out)["masked"] == {"air_temperature_2m": 0}
    assert json.loads(out.attrs["weatherdata_qc"])["masked"] == {"air_temperature_2m": 0}


def test_netcdf_files_are_read_without_a_chunk_cache(tmp_path):
    # netCDF-C's default 64 MiB per variable kept every read file's decoded data resident
    # while xarray held the file open (up to 128 files).
    from weatherdata.ingest.readers import NetCDFReader, _netcdf_store

    ds = producer_dataset({"t2m": (("time", "lat", "lon"), field() + 273.15, {"units": "K"})})
    ds.to_netcdf(tmp_path / "a.nc", encoding={"t2m": {"zlib": True, "chunksizes": (1, 3, 4)}})
    store = _netcdf_store(tmp_path / "a.nc")
    for _ in range(2):  # as opened, and as reopened after the file cache closed it
        with store._manager.acquire_context() as dataset:
            assert dataset.variables["t2m"].get_var_chunk_cache()[0] == 0
        store._manager.close()
    opened = NetCDFReader().open(tmp_path / "a.nc")
    np.testing.assert_allclose(opened["t2m"].values, field() + 273.15)


def test_default_chunks(tmp_path):
    times = pd.date_range("2024-07-01", periods=60, freq="h")
    ds = producer_dataset(
        {"t2m": (("time", "lat", "lon"), np.full((60, 3, 4), 290.0), {"units": "K"})},
        times=times,
    )
    ds.to_netcdf(tmp_path / "a.nc")
    out = open_observations(tmp_path / "a.nc")
    # small: one chunk along time; planes whole
    assert out["air_temperature_2m"].chunks == ((60,), (3,), (4,))
    out = open_observations(tmp_path / "a.nc", chunks={"time": 24})
    assert out["air_temperature_2m"].chunks[0] == (24, 24, 12)


def test_default_chunks_bound_the_chunk_bytes(monkeypatch):
    import weatherdata.ingest as ingest

    big = xr.Dataset(
        {
            "radar_reflectivity": (
                ("time", "height", "latitude", "longitude"),
                dask.array.zeros((500, 20, 100, 100), dtype="float32"),
            ),
            "air_temperature_2m": (
                ("time", "latitude", "longitude"),
                dask.array.zeros((500, 100, 100), dtype="float32"),
            ),
        }
    )
    # one step of the largest variable: 20 * 100 * 100 * 4 bytes = 800 kB
    monkeypatch.setattr(ingest, "TARGET_CHUNK_BYTES", 30 * 800_000)
    spec = ingest.default_chunks(big)
    assert spec == {"time": 24, "height": -1, "latitude": -1, "longitude": -1}
    monkeypatch.setattr(ingest, "TARGET_CHUNK_BYTES", 10 * 800_000)
    assert ingest.default_chunks(big)["time"] == 10  # below a day: not rounded
    monkeypatch.setattr(ingest, "TARGET_CHUNK_BYTES", 100)
    assert ingest.default_chunks(big)["time"] == 1  # never zero


# --------------------------------------------------------------------------------------
# units
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "attrs", "values", "canonical", "expected"),
    [
        ("t2m", {"units": "degC"}, 20.0, "air_temperature_2m", 293.15),
        ("t2m", {"units": "degF"}, 68.0, "air_temperature_2m", 293.15),
        ("msl", {"units": "Pa"}, 101325.0, "air_pressure_at_mean_sea_level", 1013.25),
        ("tp", {"units": "m"}, 0.0125, "precipitation_amount", 12.5),
        ("tp", {"units": "kg m-2"}, 12.5, "precipitation_amount", 12.5),
        ("u10", {"units": "knots"}, 10.0, "eastward_wind_10m", 5.144444),
        ("tcc", {"units": "(0 - 1)"}, 0.25, "cloud_area_fraction", 25.0),
        ("hurs", {"units": "1"}, 0.8, "relative_humidity_2m", 80.0),
        ("orog", {"units": "km"}, 0.5, "surface_altitude", 500.0),
    ],
)
def test_unit_conversions(raw, attrs, values, canonical, expected):
    ds = producer_dataset({raw: (("time", "lat", "lon"), np.full((3, 3, 4), values), attrs)})
    out = normalize(ds, source="memory.nc")
    assert out[canonical].attrs["units"] == canonical_variables()[canonical].units
    np.testing.assert_allclose(out[canonical].values, expected, rtol=1e-5)


def test_cf_standard_name_with_height_and_geopotential():
    std = {"units": "K", "standard_name": "air_temperature"}
    with_height = producer_dataset(
        {"temp": (("time", "lat", "lon"), field(), std)},
        coords={"height": ((), 2.0, {"units": "m", "standard_name": "height"})},
    )
    assert set(normalize(with_height, source="cf.nc").data_vars) == {"air_temperature_2m"}
    # without a height coordinate a 2-D air_temperature is ambiguous: dropped, reported
    without = producer_dataset(
        {
            "skin": (("time", "lat", "lon"), field(), std),
            "tas": (("time", "lat", "lon"), field(), {"units": "K"}),
        }
    )
    out = normalize(without, source="cf2.nc")
    assert set(out.data_vars) == {"air_temperature_2m"}
    (dropped,) = qc_report(out, compute=False)["dropped"]
    assert dropped["variable"] == "skin" and "height" in dropped["reason"]
    # geopotential on pressure levels -> geopotential height (divided by g0)
    z = producer_dataset(
        {
            "z": (
                ("plev", "lat", "lon"),
                np.full((2, 3, 4), 9806.65),
                {"units": "m**2 s**-2", "standard_name": "geopotential"},
            )
        },
        times=None,
        coords={
            "plev": ("plev", [850.0, 500.0], {"units": "hPa"}),
            "time": ((), np.datetime64("2024-07-01T00", "ns")),
        },
    )
    out = normalize(z, source="z.nc")
    np.testing.assert_allclose(out["geopotential_height"].values, 1000.0, rtol=1e-6)
    assert out["geopotential_height"].dims == ("time", "pressure", "latitude", "longitude")


# --------------------------------------------------------------------------------------
# real GRIB files
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def nam():
    return open_observations(NAM)


@pytest.fixture(scope="module")
def gfs():
    return open_forecast(GFS)


def test_nam_lambert_conformal(nam):
    from pyproj import CRS, Transformer

    assert dict(nam.sizes) == {"time": 1, "pressure": 19, "y": 65, "x": 93}
    assert nam["air_temperature"].dims == ("time", "pressure", "y", "x")
    assert nam["latitude"].dims == ("y", "x") and nam["longitude"].dims == ("y", "x")
    assert float(nam["longitude"].max()) < 0  # 226.5..310.6 east -> western hemisphere
    assert nam["time"].values[0] == np.datetime64("2018-09-17T00:00", "ns")
    # pressure from the surface upward, in hPa
    p = nam["pressure"].values
    assert p[0] == 1000.0 and p[-1] == 100.0 and np.all(np.diff(p) < 0)
    t = nam["air_temperature"]
    assert t.attrs["units"] == "K" and t.encoding["grid_mapping"] == "crs"
    crs = nam["crs"].attrs
    assert crs["grid_mapping_name"] == "lambert_conformal_conic"
    assert crs["standard_parallel"] in ((25.0, 25.0), 25.0, [25.0, 25.0])
    assert crs["longitude_of_central_meridian"] == 265.0
    # x/y in metres reproduce the GRIB latitude/longitude
    to_ll = Transformer.from_crs(CRS.from_cf(crs), "EPSG:4326", always_xy=True)
    lon, lat = to_ll.transform(float(nam["x"][40]), float(nam["y"][30]))
    assert abs(lat - float(nam["latitude"][30, 40])) < 1e-3
    assert abs(lon - float(nam["longitude"][30, 40])) < 1e-3
    assert nam["x"].attrs["units"] == "m"
    np.testing.assert_allclose(np.diff(nam["x"].values), 81271.0)
    # values are exactly those of a direct cfgrib read
    direct = _direct_grib(NAM, "t", "isobaricInhPa")
    np.testing.assert_array_equal(
        t.sel(pressure=500.0).isel(time=0).values, direct["t"].sel(isobaricInhPa=500.0).values
    )
    assert float(t.sel(pressure=850.0)[0, 30, 40]) == float(
        direct["t"].sel(isobaricInhPa=850.0)[30, 40]
    )
    # static field without time, derived humidity, QC bookkeeping
    assert nam["surface_altitude"].dims == ("y", "x")
    report = qc_report(nam, compute=False)
    assert set(report["derived"]) == {
        "specific_humidity",
        "dewpoint_temperature",
        "dewpoint_temperature_2m",
    }
    grib = report["files"][0]["variables"]["air_temperature_2m"]["grib"]
    assert (grib["shortName"], grib["typeOfLevel"], grib["level"]) == (
        "2t",
        "heightAboveGround",
        2.0,
    )
    assert any(d["variable"] == "t__cloudTop" for d in report["dropped"])
    assert not list(DATA.glob("*.idx"))  # nothing written next to the input


def test_gfs_forecast_global_wrap(gfs):
    assert gfs["air_temperature"].dims == (
        "init_time",
        "lead_time",
        "pressure",
        "latitude",
        "longitude",
    )
    assert gfs["init_time"].values[0] == np.datetime64("2011-01-10T12:00", "ns")
    assert gfs["lead_time"].values[0] == np.timedelta64(120, "h")
    assert gfs["valid_time"].dims == ("init_time", "lead_time")
    assert gfs["valid_time"].values[0, 0] == np.datetime64("2011-01-15T12:00", "ns")
    lon = gfs["longitude"].values
    assert lon[0] == -180.0 and lon[-1] == 177.5 and np.all(np.diff(lon) > 0)
    lat = gfs["latitude"].values
    assert lat[0] == -90.0 and lat[-1] == 90.0
    assert np.all(np.diff(gfs["pressure"].values) < 0)
    direct = _direct_grib(GFS, "t", "isobaricInhPa")["t"].sel(isobaricInhPa=500.0)
    expected = direct.roll(longitude=72, roll_coords=True).isel(latitude=slice(None, None, -1))
    np.testing.assert_array_equal(expected["longitude"].values % 360, lon % 360)
    np.testing.assert_array_equal(
        gfs["air_temperature"].sel(pressure=500.0)[0, 0].values, expected.values
    )
    # static fields from the forecast file have no time axes
    assert gfs["land_binary_mask"].dims == ("latitude", "longitude")
    assert gfs["cloud_area_fraction"].attrs["units"] == "percent"
    assert float(gfs["precipitation_amount"].max()) >= 0.0


def test_open_inputs_splits_observations_and_forecasts(tmp_path):
    producer_dataset({"t2m": (("time", "lat", "lon"), field() + 273.15, {"units": "K"})}).to_netcdf(
        tmp_path / "analysis.nc"
    )
    producer_dataset(
        {"t2m": (("time", "lat", "lon"), field() + 274.15, {"units": "K"})},
        times=pd.date_range("2024-07-02T06", periods=3, freq="6h"),
        coords={"forecast_reference_time": ((), np.datetime64("2024-07-02T00", "ns"))},
    ).to_netcdf(tmp_path / "forecast.nc")
    producer_dataset(
        {"lsm": (("lat", "lon"), np.ones((3, 4)), {"units": "1"})}, times=None
    ).to_netcdf(tmp_path / "static.nc")
    obs, fc = open_inputs(tmp_path)
    assert obs["air_temperature_2m"].dims == ("time", "latitude", "longitude")
    assert fc["air_temperature_2m"].dims == ("init_time", "lead_time", "latitude", "longitude")
    assert "land_binary_mask" in obs and "land_binary_mask" in fc
    assert qc_report(obs, compute=False)["skipped_files"][0]["file"] == str(
        tmp_path / "forecast.nc"
    )
    assert qc_report(fc, compute=False)["skipped_files"][0]["file"] == str(tmp_path / "analysis.nc")


def test_no_crash_at_exit_with_metpy_and_eccodes(tmp_path):
    """eccodes >= 2.48 + pyproj crash at exit (rc 134); the pin must keep us clear."""
    code = textwrap.dedent(
        f"""
        import metpy.calc  # loads pyproj
        from weatherdata.ingest import open_raw
        raw, reader = open_raw({str(NAM)!r})
        print(reader.name, float(raw["t__isobaricInhPa"].mean()))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_inputs_open_with_xclim_imported_after_weatherdata(demo_directory):
    """Importing xclim (through cf_xarray) makes its own pint registry the application
    registry, which has no dBZ: with xclim imported after weatherdata, opening the demo's
    radar failed with "units 'dBZ' are not understood". A new process, as a notebook's
    imports are; the unit helpers restore MetPy's registry before they parse. (The other
    order worked: MetPy's import makes its registry the application registry.)"""
    radar = sorted((demo_directory / "observations").glob("radar_*.nc"))[0]
    code = textwrap.dedent(
        f"""
        import weatherdata
        import xclim
        from weatherdata.units import linear_conversion, parse_quantity
        observations = weatherdata.open_observations({str(radar)!r})
        print(observations["radar_reflectivity"].attrs["units"])
        print(parse_quantity("35 degC").m_as("K"), linear_conversion("dBZ", "dBZ"))
        print(linear_conversion("km", "m"))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[:3] == ["dBZ", "308.15 None", "(1000.0, 0.0)"]


# --------------------------------------------------------------------------------------
# time handling, forecasts in NetCDF, multi-file, static/climatology, tracks
# --------------------------------------------------------------------------------------
def test_duplicated_and_unsorted_times_are_fixed_and_reported(tmp_path):
    times = ["2024-07-01T02", "2024-07-01T00", "2024-07-01T01", "2024-07-01T01"]
    values = np.stack([np.full((3, 4), v) for v in (292.0, 290.0, 291.0, 295.0)])
    ds = producer_dataset({"t2m": (("time", "lat", "lon"), values, {"units": "K"})}, times=times)
    ds.to_netcdf(tmp_path / "t.nc")
    out = open_observations(tmp_path / "t.nc")
    np.testing.assert_array_equal(
        out["time"].values, pd.DatetimeIndex(times[1:3] + times[:1]).sort_values().values
    )
    # the last occurrence of the duplicated time is kept
    np.testing.assert_array_equal(out["air_temperature_2m"][:, 0, 0].values, [290.0, 295.0, 292.0])
    report = qc_report(out, compute=False)
    (dup,) = report["duplicated_times"]
    assert dup["file"] == str(tmp_path / "t.nc") and dup["count"] == 1 and dup["kept"] == "last"
    assert dup["values"] == ["2024-07-01T01:00:00Z"]
    assert report["unsorted_times"][0]["dim"] == "time"


def test_multi_file_concat_keeps_last_duplicate(tmp_path):
    for name, times, value in (
        ("a.nc", ["2024-07-01T00", "2024-07-01T01"], 290.0),
        ("b.nc", ["2024-07-01T01", "2024-07-01T02"], 300.0),
    ):
        producer_dataset(
            {"t2m": (("time", "lat", "lon"), np.full((2, 3, 4), value), {"units": "K"})},
            times=times,
        ).to_netcdf(tmp_path / name)
    static = producer_dataset(
        {"orog": (("lat", "lon"), np.full((3, 4), 12.0), {"units": "m"})}, times=None
    )
    static.to_netcdf(tmp_path / "static.nc")
    clim = xr.Dataset(
        {
            "tmean_normal": (
                ("dayofyear", "lat", "lon"),
                np.full((366, 3, 4), 288.0),
                {"units": "K"},
            )
        },
        coords={
            "dayofyear": np.arange(1, 367),
            "lat": [24.0, 23.0, 22.0],
            "lon": [112.0, 113.0, 114.0, 115.0],
        },
    )
    clim = clim.rename({"tmean_normal": "climatological_mean_air_temperature"})
    clim.to_netcdf(tmp_path / "clim.nc")
    out = open_observations(sorted(tmp_path.glob("*.nc")))
    assert out.sizes["time"] == 3
    np.testing.assert_array_equal(out["air_temperature_2m"][:, 0, 0].values, [290.0, 300.0, 300.0])
    assert out["surface_altitude"].dims == ("latitude", "longitude")
    assert out["climatological_mean_air_temperature"].dims == ("dayofyear", "latitude", "longitude")
    report = qc_report(out, compute=False)
    assert report["combined"]["duplicates_across_files"][0]["count"] == 1
    assert len(report["files"]) == 4


def test_netcdf_forecast_with_reference_time(tmp_path):
    valid = pd.date_range("2024-07-01T06", periods=3, freq="6h")
    ds = producer_dataset(
        {"t2m": (("time", "lat", "lon"), field() + 273.15, {"units": "K"})},
        times=valid,
        coords={"forecast_reference_time": ((), np.datetime64("2024-07-01T00", "ns"))},
    )
    ds.to_netcdf(tmp_path / "fc.nc")
    fc = open_forecast(tmp_path / "fc.nc")
    assert fc["air_temperature_2m"].dims == ("init_time", "lead_time", "latitude", "longitude")
    np.testing.assert_array_equal(
        fc["lead_time"].values, np.array([6, 12, 18], dtype="timedelta64[h]")
    )
    np.testing.assert_array_equal(fc["valid_time"].values[0], valid.values)
    with pytest.raises(InputError, match="no observation"):
        open_observations(tmp_path / "fc.nc")


def test_tropical_cyclone_track(tmp_path):
    times = pd.date_range("2024-07-01T00", periods=4, freq="6h")
    producer_dataset(
        {"t2m": (("time", "lat", "lon"), np.full((4, 3, 4), 300.0), {"units": "K"})}, times=times
    ).to_netcdf(tmp_path / "obs.nc")
    (tmp_path / "track.csv").write_text(
        "time,latitude,longitude,maximum_wind_speed_m_s,minimum_pressure_hpa\n"
        "2024-07-01T06:00Z,20.0,116.0,30.0,970\n"
        "2024-07-01T12:00Z,21.0,114.0,40.0,960\n"
    )
    out = open_observations(tmp_path)
    d = out["tropical_cyclone_distance"]
    assert d.dims == ("time", "latitude", "longitude") and d.attrs["units"] == "km"
    v = out["tropical_cyclone_maximum_wind_speed"]
    assert v.dims == ("time",)
    np.testing.assert_allclose(v.values, [0.0, 30.0, 40.0, 0.0])
    assert float(d[0].min()) == 20000.0 and float(d[3].max()) == 20000.0

    def haversine(lat1, lon1, lat2, lon2):
        p1, p2 = np.radians(lat1), np.radians(lat2)
        a = (
            np.sin((p2 - p1) / 2) ** 2
            + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
        )
        return 2 * 6371.0088 * np.arcsin(np.sqrt(a))

    got = float(d.sel(time=times[2], latitude=22.0, longitude=113.0))
    np.testing.assert_allclose(got, haversine(22.0, 113.0, 21.0, 114.0), rtol=1e-5)


# --------------------------------------------------------------------------------------
# bad input: every message is one line naming the file (and the variable)
# --------------------------------------------------------------------------------------
def _one_line(exc) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


def test_truncated_netcdf(tmp_path):
    path = tmp_path / "cut.nc"
    producer_dataset({"t2m": (("time", "lat", "lon"), field(), {"units": "K"})}).to_netcdf(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError) as exc:
        open_observations(path)
    message = _one_line(exc)
    assert message.startswith(f"{path}: not a NetCDF, GRIB or Zarr file (")


def test_truncated_grib(tmp_path):
    path = tmp_path / "cut.grib2"
    path.write_bytes(NAM.read_bytes()[:150_000])
    with pytest.raises(InputError) as exc:
        open_observations(path)
    message = _one_line(exc)
    assert str(path) in message and "truncated" in message


@pytest.mark.parametrize(
    ("name", "content", "detail"),
    [
        ("random.nc", os.urandom(256), "unknown format"),
        ("noise", b"\x00\x13" * 64, "unknown format"),
        ("empty.grib2", b"", "empty file"),
    ],
)
def test_not_a_known_format(tmp_path, name, content, detail):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError) as exc:
        open_observations([path])
    message = _one_line(exc)
    assert message.startswith(f"{path}: not a NetCDF, GRIB or Zarr file (") and detail in message


def test_no_files(tmp_path):
    with pytest.raises(InputError, match="no NetCDF, GRIB, Zarr or track file"):
        open_observations(tmp_path)
    with pytest.raises(InputError, match="no file matches"):
        open_observations(str(tmp_path / "*.nc"))
    with pytest.raises(InputError, match="no such file"):
        open_observations(tmp_path / "missing.nc")


@pytest.mark.parametrize(
    ("attrs", "problem"),
    [
        ({}, "units are missing"),
        ({"units": "kg"}, "cannot be converted"),
        ({"units": "degrees_Kelvinish"}, "not understood"),
    ],
)
def test_bad_units(tmp_path, attrs, problem):
    path = tmp_path / "units.nc"
    producer_dataset({"t2m": (("time", "lat", "lon"), field(), attrs)}).to_netcdf(path)
    with pytest.raises(UnitsError) as exc:
        open_observations(path)
    message = _one_line(exc)
    assert str(path) in message and "'t2m'" in message and problem in message


def test_mismatched_grids(tmp_path):
    producer_dataset({"t2m": (("time", "lat", "lon"), field(), {"units": "K"})}).to_netcdf(
        tmp_path / "a.nc"
    )
    producer_dataset(
        {"msl": (("time", "lat", "lon"), field() + 100_000, {"units": "Pa"})},
        lat=(24.5, 23.5, 22.5),
    ).to_netcdf(tmp_path / "b.nc")
    with pytest.raises(InputError) as exc:
        open_observations([tmp_path / "a.nc", tmp_path / "b.nc"])
    message = _one_line(exc)
    assert str(tmp_path / "a.nc") in message and str(tmp_path / "b.nc") in message
    assert "'msl'" in message and "'t2m' (air_temperature_2m)" in message
    assert "different grid" in message


def test_non_monotonic_latitude(tmp_path):
    path = tmp_path / "lat.nc"
    producer_dataset(
        {"t2m": (("time", "lat", "lon"), field(), {"units": "K"})}, lat=(22.0, 24.0, 23.0)
    ).to_netcdf(path)
    with pytest.raises(InputError) as exc:
        open_observations(path)
    message = _one_line(exc)
    assert str(path) in message and "'t2m'" in message and "'latitude' is not monotonic" in message


def test_all_nan_field(tmp_path):
    path = tmp_path / "nan.nc"
    producer_dataset(
        {
            "t2m": (("time", "lat", "lon"), field() + 273.15, {"units": "K"}),
            "msl": (("time", "lat", "lon"), np.full((3, 3, 4), np.nan), {"units": "Pa"}),
        }
    ).to_netcdf(path)
    ds = open_observations(path)  # opening does not compute
    check_inputs(ds, ["air_temperature_2m"])
    with pytest.raises(InputError) as exc:
        check_inputs(ds, ["air_temperature_2m", "air_pressure_at_mean_sea_level"])
    message = _one_line(exc)
    assert str(path) in message and "'air_pressure_at_mean_sea_level'" in message


def test_out_of_range_values_are_masked_and_counted(tmp_path):
    values = np.full((3, 3, 4), 290.0)
    values[0, 0, :2] = 500.0  # implausible
    path = tmp_path / "qc.nc"
    producer_dataset({"t2m": (("time", "lat", "lon"), values, {"units": "K"})}).to_netcdf(path)
    ds = open_observations(path)
    assert int(np.isnan(ds["air_temperature_2m"]).sum()) == 2
    assert qc_report(ds)["masked"]["air_temperature_2m"] == 2
    assert qc_report(ds)["files"][0]["variables"]["air_temperature_2m"]["masked"] == 2


def test_require_names_products_that_cannot_be_computed(tmp_path):
    path = tmp_path / "t.nc"
    producer_dataset({"t2m": (("time", "lat", "lon"), field() + 273.15, {"units": "K"})}).to_netcdf(
        path
    )
    ds = open_observations(path)
    products = {
        "heat_index": ["air_temperature_2m", "relative_humidity_2m"],
        "temperature_2m": ["air_temperature_2m"],
        "wind_speed_10m": ["eastward_wind_10m", "northward_wind_10m"],
    }
    require(ds, ["air_temperature_2m"])
    require(ds, products={"temperature_2m": products["temperature_2m"]})
    with pytest.raises(InputError) as exc:
        require(ds, ["air_temperature_2m"], products=products)
    message = _one_line(exc)
    assert str(path) in message
    assert "relative_humidity_2m" in message and "eastward_wind_10m" in message
    assert "heat_index" in message and "wind_speed_10m" in message
    assert "temperature_2m," not in message.split("cannot compute")[1]
    assert ingest.missing_inputs(ds, products) == {
        "heat_index": ["relative_humidity_2m"],
        "wind_speed_10m": ["eastward_wind_10m", "northward_wind_10m"],
    }


def test_radar_height_and_forecast_dims_in_memory():
    refl = producer_dataset(
        {
            "dbz": (
                ("time", "alt", "lat", "lon"),
                np.stack([np.full((3, 3, 4), 10.0 * (i + 1)) for i in range(2)], axis=1),
                {"units": "dBZ"},
            )
        },
        coords={"alt": ("alt", [3.0, 1.0], {"units": "km", "standard_name": "altitude"})},
    )
    out = normalize(refl, source="radar.nc")
    assert out["radar_reflectivity"].dims == ("time", "height", "latitude", "longitude")
    np.testing.assert_array_equal(out["height"], [1000.0, 3000.0])  # metres, increasing
    np.testing.assert_array_equal(out["radar_reflectivity"][0, :, 0, 0], [20.0, 10.0])

    fc = xr.Dataset(
        {
            "t2m": (
                ("init_time", "lead_time", "lat", "lon"),
                np.full((2, 3, 3, 4), 290.0),
                {"units": "K"},
            )
        },
        coords={
            "init_time": pd.DatetimeIndex(["2024-07-02T00", "2024-07-01T00"]).values,
            "lead_time": ("lead_time", [0, 6, 12], {"units": "hours"}),
            "lat": ("lat", [22.0, 23.0, 24.0], {"units": "degrees_north"}),
            "lon": ("lon", [112.0, 113.0, 114.0, 115.0], {"units": "degrees_east"}),
        },
    )
    out = normalize(fc, source="fc.nc")
    assert out["lead_time"].dtype == np.dtype("timedelta64[ns]")
    assert out["init_time"].values[0] == np.datetime64("2024-07-01T00", "ns")  # sorted
    assert out["valid_time"].values[1, 2] == np.datetime64("2024-07-02T12", "ns")
    assert qc_report(out, compute=False)["unsorted_times"][0]["dim"] == "init_time"


def test_projected_netcdf_with_grid_mapping(tmp_path):
    from pyproj import CRS, Transformer

    crs = CRS.from_proj4("+proj=lcc +lat_0=25 +lon_0=-95 +lat_1=25 +lat_2=25 +R=6371229 +units=m")
    ds = xr.Dataset(
        {
            "tas": (
                ("time", "y", "x"),
                np.full((1, 3, 4), 300.0),
                {"units": "K", "grid_mapping": "lambert"},
            ),
            "lambert": ((), 0, crs.to_cf()),
        },
        coords={
            "time": pd.DatetimeIndex(["2024-07-01"]).values,
            "x": (
                "x",
                [0.0, 80.0, 160.0, 240.0],
                {"units": "km", "standard_name": "projection_x_coordinate"},
            ),
            "y": (
                "y",
                [0.0, 80.0, 160.0],
                {"units": "km", "standard_name": "projection_y_coordinate"},
            ),
        },
    )
    ds.to_netcdf(tmp_path / "proj.nc")
    out = open_observations(tmp_path / "proj.nc")
    assert out["air_temperature_2m"].dims == ("time", "y", "x")
    np.testing.assert_array_equal(out["x"], [0.0, 80_000.0, 160_000.0, 240_000.0])
    assert out["crs"].attrs["grid_mapping_name"] == "lambert_conformal_conic"
    lon, lat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(160_000.0, 80_000.0)
    assert (
        abs(float(out["latitude"][1, 2]) - lat) < 1e-9
        and abs(float(out["longitude"][1, 2]) - lon) < 1e-9
    )


def test_a_forgotten_file_keeps_its_report_and_is_still_checked(tmp_path):
    from weatherdata.ingest import normalize as registry

    path = tmp_path / "hot.nc"
    ds = grid_dataset({"air_temperature_2m": 300.0}, times=2)
    ds["air_temperature_2m"][0, 0, 0] = 400.0  # outside the plausible range: masked
    ds.to_netcdf(path)
    opened = ingest.open_file(str(path))
    token = ingest.read_report(opened)["files"][0]["token"]
    assert token in registry._LAZY
    ingest.forget_qc(opened)
    assert token not in registry._LAZY
    report = ingest.qc_report(opened, compute=True)
    assert report["files"][0]["variables"]["air_temperature_2m"]["masked"] is None
    ingest.check_inputs(opened, ["air_temperature_2m"])  # reads the data
    empty = opened.assign(air_temperature_2m=opened["air_temperature_2m"] * float("nan"))
    with pytest.raises(InputError, match="no valid value"):
        ingest.check_inputs(empty, ["air_temperature_2m"])


@pytest.mark.parametrize("dtype", ["float32", "float64", "int16"])
def test_masking_per_block_is_the_elementwise_rule(dtype):
    """The range mask, its count and its any-finite flag, computed per block, are the
    elementwise rule: NaN outside [low, high] (NaN stays NaN, not counted), float32."""
    import dask.array

    from weatherdata.ingest import normalize

    cv = normalize._var("air_temperature_2m")
    low, high = cv.range
    values = np.linspace(low - 50, high + 50, 6 * 5 * 4).reshape(6, 5, 4).astype(dtype)
    if values.dtype.kind == "f":
        values[0, 0, :2] = np.nan
    values[3:] = low - 1  # blocks with no finite value left
    data = xr.DataArray(dask.array.from_array(values, chunks=(3, 2, 4)), dims=("t", "y", "x"))
    masked, checks = normalize._mask(data, cv)
    outside = (values < low) | (values > high)
    expected = np.where(outside, np.nan, values).astype(np.float32)
    assert masked.dtype == np.float32
    np.testing.assert_array_equal(masked.values, expected)

    def count_and_finite(checks):
        per_block = checks.outside_per_block().compute(), checks.finite_per_block().compute()
        assert per_block[0].shape == per_block[1].shape == checks.data.numblocks  # a cell each
        return checks.masked_count(per_block[0]), checks.any_finite(per_block[1])

    assert count_and_finite(checks) == (int(outside.sum()), True)
    assert int(outside.sum()) > 0
    _, checks = normalize._mask(data.isel(t=slice(3, None)), cv)
    assert count_and_finite(checks) == (3 * 5 * 4, False)


def _opened_with_and_without(monkeypatch, module, helper: str, open_inputs):
    """``open_inputs()`` as it is, then with ``module.helper`` (a shortcut that handles
    variables together) returning nothing, so that each variable takes its own path:
    ``(opened, opened each on its own, the names the shortcut handled)``."""
    handled = []
    shortcut = getattr(module, helper)

    def spy(*arguments):
        out = shortcut(*arguments)
        handled.extend(out)
        return out

    monkeypatch.setattr(module, helper, spy)
    opened = open_inputs()
    monkeypatch.setattr(module, helper, lambda *arguments: {})
    return opened, open_inputs(), handled


def _assert_opened_alike(out: xr.Dataset, alone: xr.Dataset) -> dict:
    """The two datasets identical (values, coordinates and their order, dimension order,
    data types, attributes) and their quality reports equal but for the files' tokens;
    returns the report."""
    report, report_alone = (json.loads(d.attrs.pop("weatherdata_qc")) for d in (out, alone))
    for file_report in (*report["files"], *report_alone["files"]):
        file_report.pop("token")
    assert report == report_alone
    xr.testing.assert_identical(out.load(), alone.load())
    assert list(out.variables) == list(alone.variables)
    for name in out.variables:
        assert out[name].dims == alone[name].dims and out[name].dtype == alone[name].dtype
    return report


def _layouts_sharing_their_time_axes():
    """Files whose variables share their time coordinates, one of each time layout:
    an analysis with duplicated and unsorted times, a CF forecast with a reference time,
    an init_time x lead_time forecast (unsorted runs), cfgrib's time + step, and an
    analysis beside a static field and a profile on pressure levels."""
    times = ["2024-07-01T02", "2024-07-01T00", "2024-07-01T01", "2024-07-01T01"]
    lat, lon = [24.0, 23.0, 22.0], [112.0, 113.0, 114.0, 115.0]
    grid = {
        "lat": ("lat", lat, {"units": "degrees_north"}),
        "lon": ("lon", lon, {"units": "degrees_east"}),
    }
    shape = (4, 3, 4)
    analysis = producer_dataset(
        {
            "t2m": (("time", "lat", "lon"), field(shape) + 273.15, {"units": "K"}),
            "d2m": (("time", "lat", "lon"), field(shape) + 270.0, {"units": "K"}),
            "sp": (("time", "lat", "lon"), field(shape, 1000.0), {"units": "hPa"}),
            "orog": (("time", "lat", "lon"), field(shape, 10.0), {"units": "m"}),
            "t": (("time", "plev", "lat", "lon"), field((4, 2, 3, 4), 250.0), {"units": "K"}),
            "r": (("time", "plev", "lat", "lon"), field((4, 2, 3, 4), 40.0), {"units": "%"}),
        },
        times=times,
        coords={"plev": ("plev", [500.0, 850.0], {"units": "hPa"})},
    )
    reference = producer_dataset(
        {
            "t2m": (("time", "lat", "lon"), field() + 273.15, {"units": "K"}),
            "d2m": (("time", "lat", "lon"), field() + 270.0, {"units": "K"}),
        },
        times=pd.date_range("2024-07-01T06", periods=3, freq="6h"),
        coords={"forecast_reference_time": ((), np.datetime64("2024-07-01T00", "ns"))},
    )
    runs = xr.Dataset(
        {
            name: (
                ("init_time", "lead_time", "lat", "lon"),
                np.full((2, 3, 3, 4), v),
                {"units": "K"},
            )
            for name, v in (("t2m", 290.0), ("d2m", 285.0))
        },
        coords={
            "init_time": pd.DatetimeIndex(["2024-07-02T00", "2024-07-01T00"]).values,
            "lead_time": ("lead_time", [0, 6, 12], {"units": "hours"}),
            **grid,
        },
    )
    cfgrib = xr.Dataset(
        {
            name: (("step", "latitude", "longitude"), field(), {"units": "K"})
            for name in ("t2m", "d2m")
        },
        coords={
            "time": np.datetime64("2024-07-01T00", "ns"),
            "step": ("step", pd.to_timedelta([0, 3, 6], unit="h").values),
            "valid_time": (
                "step",
                pd.DatetimeIndex(["2024-07-01T00", "2024-07-01T03", "2024-07-01T06"]).values,
            ),
            "latitude": ("latitude", lat, {"units": "degrees_north"}),
            "longitude": ("longitude", lon, {"units": "degrees_east"}),
        },
    )
    return {"analysis": analysis, "reference": reference, "runs": runs, "cfgrib": cfgrib}


@pytest.mark.parametrize("layout", ["analysis", "reference", "runs", "cfgrib"])
def test_variables_sharing_their_time_axes_are_arranged_as_each_on_its_own(layout, monkeypatch):
    """Arranging the time axes of a file's variables together (one arrangement per set of
    shared coordinates) gives what arranging each variable on its own gives: values,
    coordinates, dimension order, attributes and the quality report's notes."""
    from weatherdata.ingest import normalize as normalize_module

    raw = _layouts_sharing_their_time_axes()[layout]
    out, alone, arranged_together = _opened_with_and_without(
        monkeypatch, normalize_module, "_time_axes_together", lambda: normalize(raw, source="f.nc")
    )
    assert len(arranged_together) >= 2  # the shared arrangement was taken
    _assert_opened_alike(out, alone)


def test_a_time_error_found_arranging_together_names_the_variable():
    """A file whose shared time axes cannot be arranged fails as its first variable
    would on its own: the message names that variable, not the group."""
    raw = _layouts_sharing_their_time_axes()["runs"]
    raw = raw.assign_coords(lead_time=("lead_time", [0, 6, 12], {"units": "fortnights"}))
    with pytest.raises(UnitsError, match=r"variable 't2m' .*lead-time coordinate 'lead_time'"):
        normalize(raw, source="runs.nc")


def test_files_concatenated_together_as_each_variable_on_its_own(tmp_path, monkeypatch):
    """Series of variables that come from the same files on the same coordinates are
    concatenated (and de-duplicated across files) together: the result, its order and
    the log of duplicates across files are those of each variable on its own — with a
    variable missing from one file and one on pressure levels beside them."""
    from weatherdata import ingest as ingest_module

    for name, times, value, extra in (
        ("c.nc", ["2024-07-01T03", "2024-07-01T01"], 310.0, True),
        ("a.nc", ["2024-07-01T00", "2024-07-01T01"], 290.0, True),
        ("b.nc", ["2024-07-01T01", "2024-07-01T02"], 300.0, False),
    ):
        variables = {
            "t2m": (("time", "lat", "lon"), np.full((2, 3, 4), value), {"units": "K"}),
            "d2m": (("time", "lat", "lon"), np.full((2, 3, 4), value - 5), {"units": "K"}),
            "sp": (("time", "lat", "lon"), np.full((2, 3, 4), 1000.0), {"units": "hPa"}),
            "t": (("time", "plev", "lat", "lon"), np.full((2, 2, 3, 4), value), {"units": "K"}),
        }
        if extra:
            variables["vis"] = (("time", "lat", "lon"), np.full((2, 3, 4), 9.0), {"units": "km"})
            variables["msl"] = (
                ("time", "lat", "lon"),
                np.full((2, 3, 4), 1010.0),
                {"units": "hPa"},
            )
        producer_dataset(
            variables, times=times, coords={"plev": ("plev", [850.0, 500.0], {"units": "hPa"})}
        ).to_netcdf(tmp_path / name)
    files = sorted(tmp_path.glob("*.nc"))
    out, alone, concatenated_together = _opened_with_and_without(
        monkeypatch, ingest_module, "_concat_together", lambda: open_observations(files)
    )
    # the 2 m fields of every file together, visibility and pressure together where
    # they are; the one variable on pressure levels on its own
    assert {"air_temperature_2m", "visibility_in_air", "air_pressure_at_mean_sea_level"} <= set(
        concatenated_together
    )
    assert "air_temperature" not in concatenated_together
    report = _assert_opened_alike(out, alone)
    assert len(report["combined"]["duplicates_across_files"]) == len(out.data_vars) > 5
