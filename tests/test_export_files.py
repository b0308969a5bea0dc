"""File exports for service teams: CF-NetCDF, Cloud-Optimized GeoTIFF and CSV.

Every file is read back with an independent reader (netCDF4/xarray, rasterio, pandas) and
compared with the published store or with an independent computation (IOOS compliance
checker, scipy's RegularGridInterpolator, shapely masks on cnmaps boundaries).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from weatherdata.access import open_product
from weatherdata.catalog import shipped_catalog
from weatherdata.cli import main
from weatherdata.errors import WeatherdataError
from weatherdata.export import ExportOptions, export, load_product
from weatherdata.export.table import CSVExporter

NAM = Path(__file__).parent / "data" / "nam.t00z.awp21100.tm00.grib2"
BOM = b"\xef\xbb\xbf"


@pytest.fixture(scope="module")
def root(published_demo):
    return published_demo[0]


@pytest.fixture(scope="module")
def catalog():
    return shipped_catalog()


@pytest.fixture(scope="module")
def nam_temperature():
    """2 m temperature derived from the NAM Lambert-conformal analysis (projected y/x)."""
    return load_product("temperature_2m", inputs=[str(NAM)])


def store(root, product_id):
    return open_product(product_id, str(root)).load()


def partial_files(directory: Path) -> list[Path]:
    return [p for p in directory.rglob("*") if p.name.endswith(".partial")]


# -- NetCDF ------------------------------------------------------------------------


def cf_check(path: Path, tmp_path: Path) -> tuple[dict, bool]:
    from compliance_checker.runner import CheckSuite, ComplianceChecker

    CheckSuite().load_all_available_checkers()
    report = tmp_path / f"{path.stem}.cf.json"
    _, errors = ComplianceChecker.run_checker(
        str(path),
        ["cf:1.10"],
        verbose=0,
        criteria="normal",
        output_filename=str(report),
        output_format="json",
    )
    return json.loads(report.read_text())["cf:1.10"], errors


def failures(result: dict, priority: str) -> list[str]:
    return [
        f"{item['name']}: {item['msgs']}"
        for item in result[priority]
        if item["value"][0] < item["value"][1]
    ]


@pytest.mark.parametrize(
    ("product_id", "time"),
    [
        ("temperature_2m", "2026-07-26T00:00/2026-07-26T05:00"),  # hourly grid
        ("heat_warning_signal", None),  # categorical, flag_values
        ("daily_maximum_temperature", None),  # dim `day`
        ("forecast_temperature_2m", "2026-07-27T00:00/2026-07-27T12:00"),  # init x lead
        ("guangzhou_district_warning_signals", None),  # (time, signal, district), text labels
        ("consecutive_dry_days", None),  # dim `period`
    ],
)
def test_netcdf_is_cf_compliant_and_holds_the_store(root, catalog, tmp_path, product_id, time):
    [path] = export([product_id], tmp_path, format="netcdf", root=str(root), time=time)
    assert path == tmp_path / f"{product_id}.nc"

    result, checker_errors = cf_check(path, tmp_path)
    assert failures(result, "high_priorities") == []
    assert not checker_errors  # the checker ran every check without an exception

    published = load_product(product_id, root=str(root), time=time).load()
    import netCDF4

    with netCDF4.Dataset(path) as raw:
        assert raw.file_format == "NETCDF4"
        assert raw.Conventions == "CF-1.10"
        variable = raw.variables[product_id]
        assert variable.filters()["zlib"] and variable.filters()["shuffle"]
        if catalog[product_id].categories:
            assert variable.dtype == np.int8
            assert variable.flag_values.dtype == np.int8
            assert list(variable.flag_values) == [c.value for c in catalog[product_id].categories]
            assert variable.flag_meanings.split() == [
                c.meaning for c in catalog[product_id].categories
            ]
        for name in raw.variables:
            if name in ("time", "valid_time", "init_time", "day", "period"):
                assert raw.variables[name].units.startswith("seconds since 1970-01-01")
        history = raw.history.splitlines()
    # provenance: the store's lines kept, then the export (time, version, source, cut)
    assert history[:-1] == published.attrs["history"].splitlines()
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ weatherdata \d", history[-1])
    assert f"{product_id}.zarr" in history[-1]
    assert ("selection: everything published" in history[-1]) == (time is None)

    written = xr.open_dataset(path)
    assert written.attrs["weatherdata_inputs"] == published.attrs["weatherdata_inputs"]
    np.testing.assert_array_equal(written[product_id].values, published[product_id].values)
    for dim in published[product_id].dims:
        if published[dim].dtype.kind in "OUT":  # labels: auxiliary `<dim>_label`
            assert list(written[f"{dim}_label"].values) == list(published[dim].values)
        else:
            np.testing.assert_array_equal(written[dim].values, published[dim].values)
    if "valid_time" in published.coords:
        np.testing.assert_array_equal(written["valid_time"].values, published["valid_time"])
    if "day" in published.dims:
        bounds = written["day_bounds"].values
        np.testing.assert_array_equal(bounds[:, 0], published["day"].values)
        assert np.all(bounds[:, 1] - bounds[:, 0] == np.timedelta64(1, "D"))
    if "district" in published.dims:
        assert list(written["district_name_zh"].values)[:4] == [
            "荔湾区",
            "越秀区",
            "海珠区",
            "天河区",
        ]


def test_netcdf_projected_grid_keeps_its_grid_mapping(nam_temperature, catalog, tmp_path):
    from pyproj import CRS

    from weatherdata.export.netcdf import NetCDFExporter

    path = tmp_path / "nam.nc"
    NetCDFExporter().write(nam_temperature, catalog["temperature_2m"], path, ExportOptions())
    result, checker_errors = cf_check(path, tmp_path)
    assert failures(result, "high_priorities") == [] and not checker_errors
    written = xr.open_dataset(path, decode_coords="all")
    assert written["temperature_2m"].attrs.get("grid_mapping") is None  # decoded into crs
    assert CRS.from_cf(written["crs"].attrs) == CRS.from_cf(nam_temperature["crs"].attrs)
    np.testing.assert_array_equal(written["x"].values, nam_temperature["x"].values)
    np.testing.assert_array_equal(
        written["temperature_2m"].values, nam_temperature["temperature_2m"].values
    )
    assert "derived on the fly from" in written.attrs["history"].splitlines()[-1]


def test_negative_levels_survive_netcdf_and_geotiff(catalog, tmp_path):
    """human_comfort_level has a level -1: the fill value must be another number."""
    import netCDF4
    import rasterio

    from weatherdata.export.geotiff import GeoTIFFExporter
    from weatherdata.export.netcdf import NetCDFExporter

    entry = catalog["human_comfort_level"]
    levels = np.array([c.value for c in entry.categories], dtype="float32")
    values = np.resize(levels, (2, 3, 4)).astype("float32")
    values[1, 0, 0] = np.nan
    data = xr.Dataset(
        {entry.id: (("day", "latitude", "longitude"), values, {"units": "1"})},
        coords={
            "day": np.array(["2026-07-25T12", "2026-07-26T12"], dtype="datetime64[ns]"),
            "latitude": [22.0, 22.5, 23.0],
            "longitude": [113.0, 113.5, 114.0, 114.5],
        },
    )
    NetCDFExporter().write(data, entry, tmp_path / "comfort.nc", ExportOptions())
    with netCDF4.Dataset(tmp_path / "comfort.nc") as raw:
        assert raw[entry.id]._FillValue not in levels and -1 in raw[entry.id].flag_values
    np.testing.assert_array_equal(xr.open_dataset(tmp_path / "comfort.nc")[entry.id], values)
    [path] = GeoTIFFExporter().write(data, entry, tmp_path / "comfort.tif", ExportOptions())
    with rasterio.open(path) as tiff:
        assert tiff.dtypes[0] == "int16" and tiff.nodata not in levels
        written = tiff.read(masked=True).astype("float32").filled(np.nan)
    np.testing.assert_array_equal(written, values[:, ::-1, :])
    assert (written == -1).any()


# -- GeoTIFF -----------------------------------------------------------------------


def test_geotiff_continuous_north_up_with_nodata(root, tmp_path):
    import rasterio
    from rasterio.transform import xy

    time = "2026-07-27T06:00/2026-07-27T09:00"
    [path] = export(
        ["temperature_2m"],
        tmp_path / "t.tif",
        format="geotiff",
        root=str(root),
        time=time,
        district="Shaoguan",
    )
    published = load_product("temperature_2m", root=str(root), time=time, district="Shaoguan")
    published = published["temperature_2m"].load()
    assert np.isnan(published.values).any()  # cells outside Shaoguan: nodata
    with rasterio.open(path) as tiff:
        assert tiff.driver == "GTiff" and tiff.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert tiff.crs.to_epsg() == 4326
        assert tiff.count == 4 and tiff.dtypes == ("float32",) * 4 and np.isnan(tiff.nodata)
        assert tiff.descriptions == tuple(f"2026-07-27T0{hour}:00:00Z" for hour in (6, 7, 8, 9))
        # every pixel centre sits on the store's cell centre; row 0 is the northernmost
        rows, columns = np.meshgrid(range(tiff.height), range(tiff.width), indexing="ij")
        longitude, latitude = xy(tiff.transform, rows.ravel(), columns.ravel())
        latitudes = np.sort(published["latitude"].values)[::-1]
        np.testing.assert_allclose(
            np.reshape(latitude, rows.shape), np.repeat(latitudes[:, None], tiff.width, 1)
        )
        np.testing.assert_allclose(
            np.reshape(longitude, rows.shape)[0], published["longitude"].values
        )
        values = tiff.read(masked=True)
        tags = tiff.tags()
        assert tiff.tags(2)["valid_time"] == "2026-07-27T07:00:00Z"
        assert tiff.units == ("degC",) * 4
    expected = published.sortby("latitude", ascending=False).values
    np.testing.assert_array_equal(values.mask, np.isnan(expected))
    np.testing.assert_array_equal(values.filled(np.nan), expected)
    assert tags["product"] == "temperature_2m" and "temperature_2m.zarr" in tags["history"]
    assert "district Shaoguan" in tags["history"]


def test_geotiff_categorical_palette_one_file_per_time(root, catalog, tmp_path):
    import rasterio

    time = "2026-07-27T05:00/2026-07-27T07:00"
    paths = export(["heat_warning_signal"], tmp_path, format="geotiff", root=str(root), time=time)
    assert [p.name for p in paths] == [
        f"heat_warning_signal_20260727T0{hour}0000Z.tif" for hour in (5, 6, 7)
    ]
    published = load_product("heat_warning_signal", root=str(root), time=time).load()
    levels = published["heat_warning_signal"].sortby("latitude", ascending=False).values
    colours = {
        c.value: (*(int(c.colour[i : i + 2], 16) for i in (1, 3, 5)), 255)
        for c in catalog["heat_warning_signal"].categories
    }
    for step, path in enumerate(paths):
        with rasterio.open(path) as tiff:
            assert tiff.count == 1 and tiff.dtypes == ("uint8",) and tiff.nodata == 255
            assert tiff.crs.to_epsg() == 4326
            assert tiff.transform.a == 0.5 and tiff.transform.e == -0.5
            assert tiff.transform.c == published.longitude.values[0] - 0.25
            assert tiff.transform.f == published.latitude.values.max() + 0.25
            colormap = tiff.colormap(1)
            band = tiff.read(1)
        assert {value: colormap[value] for value in colours} == colours
        assert colormap[255][3] == 0  # nodata transparent
        expected = np.where(np.isnan(levels[step]), 255, levels[step])
        np.testing.assert_array_equal(band, expected)
    assert (levels >= 3).any()  # the demo's heat: the check covers real warning levels


def test_geotiff_forecast_grid_latest_run(root, tmp_path):
    import rasterio

    [path] = export(["forecast_temperature_2m"], tmp_path, format="geotiff", root=str(root))
    published = store(root, "forecast_temperature_2m")
    run = published.isel(init_time=-1)
    with rasterio.open(path) as tiff:
        assert tiff.count == run.sizes["lead_time"]
        assert tiff.tags()["forecast_reference_time"] == (
            np.datetime_as_string(run.init_time.values, unit="s") + "Z"
        )
        valid = [np.datetime_as_string(t, unit="s") + "Z" for t in run.valid_time.values]
        assert list(tiff.descriptions) == valid
        assert tiff.tags(3)["lead_time_hours"] == "2"
        values = tiff.read()
    np.testing.assert_array_equal(values, run["forecast_temperature_2m"].values[:, ::-1, :])


def test_geotiff_projected_grid_keeps_its_crs(nam_temperature, catalog, tmp_path):
    import rasterio
    from pyproj import CRS

    from weatherdata.export.geotiff import GeoTIFFExporter

    [path] = GeoTIFFExporter().write(
        nam_temperature, catalog["temperature_2m"], tmp_path / "nam.tif", ExportOptions()
    )
    from pyproj import Transformer

    x, y = nam_temperature["x"].values, nam_temperature["y"].values
    with rasterio.open(path) as tiff:
        # Same projection: lon/lat points land on the same x/y (to the millimetre).
        points = ([-120.0, -95.0, -70.0, -100.0], [25.0, 40.0, 45.0, 55.0])
        ingested = CRS.from_cf(nam_temperature["crs"].attrs)
        for crs in (CRS.from_wkt(tiff.crs.to_wkt()),):
            np.testing.assert_allclose(
                Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(*points),
                Transformer.from_crs("EPSG:4326", ingested, always_xy=True).transform(*points),
                atol=1e-3,
            )
        assert tiff.crs.to_epsg() is None and tiff.crs.is_projected
        dx, dy = np.diff(x).mean(), np.diff(y).mean()
        np.testing.assert_allclose(tiff.transform.a, dx, rtol=1e-9)
        np.testing.assert_allclose(tiff.transform.e, -dy, rtol=1e-9)
        np.testing.assert_allclose(tiff.transform.c, x[0] - dx / 2, atol=1e-3)
        np.testing.assert_allclose(tiff.transform.f, y.max() + dy / 2, atol=1e-3)
        assert tiff.descriptions == ("2018-09-17T00:00:00Z",)
        band = tiff.read(1)
    np.testing.assert_array_equal(band, nam_temperature["temperature_2m"].values[0, ::-1, :])


def test_geotiff_refuses_products_without_a_grid(root, tmp_path):
    with pytest.raises(
        WeatherdataError, match=r"guangzhou_district_warning_signals: no horizontal grid.*csv"
    ):
        export(["guangzhou_district_warning_signals"], tmp_path, format="geotiff", root=str(root))
    assert list(tmp_path.iterdir()) == []


# -- CSV ---------------------------------------------------------------------------


STATIONS = """name,name_zh,latitude,longitude
Guangzhou,广州,23.13,113.26
Shaoguan,韶关,24.8,113.6
Zhanjiang,湛江,21.2,110.4
Grid node,格点,23.0,113.5
"""


@pytest.fixture
def stations(tmp_path):
    path = tmp_path / "stations.csv"
    path.write_bytes(BOM + STATIONS.encode())  # as Excel saves it
    return path


def read_table(path: Path) -> pd.DataFrame:
    assert path.read_bytes().startswith(BOM)
    return pd.read_csv(path, encoding="utf-8-sig", keep_default_na=False, na_values=[""])


def test_csv_stations_bilinear_matches_scipy(root, stations, tmp_path):
    from scipy.interpolate import RegularGridInterpolator

    time = "2026-07-27T00:00/2026-07-27T03:00"
    options = ExportOptions(stations=stations, interpolation="bilinear", beijing_time=True)
    [path] = export(
        ["temperature_2m"],
        tmp_path / "t.csv",
        format="csv",
        root=str(root),
        time=time,
        options=options,
    )
    table = read_table(path)
    assert b"\r\n" in path.read_bytes()
    assert list(table.columns) == [
        "product", "time_utc", "time_beijing", "station", "station_zh", "latitude",
        "longitude", "value", "units", "interpolation",
    ]  # fmt: skip
    assert len(table) == 4 * 4 and set(table["interpolation"]) == {"bilinear"}
    assert set(table["units"]) == {"degC"} and list(table["station_zh"][:4]) == [
        "广州", "韶关", "湛江", "格点",
    ]  # fmt: skip
    utc = pd.to_datetime(table["time_utc"])
    assert (utc.dt.tz is not None) and table["time_utc"].str.endswith("Z").all()
    beijing = pd.to_datetime(table["time_beijing"])
    assert (beijing == utc).all() and table["time_beijing"].str.endswith("+08:00").all()
    assert table["time_beijing"][0] == "2026-07-27T08:00:00+08:00"

    published = load_product("temperature_2m", root=str(root), time=time)["temperature_2m"]
    for when in published.time.values:
        interpolate = RegularGridInterpolator(
            (published.latitude.values, published.longitude.values),
            published.sel(time=when).values.astype("float64"),
            method="linear",
        )
        rows = table[utc.dt.tz_localize(None) == pd.Timestamp(when)]
        expected = interpolate(np.column_stack([rows["latitude"], rows["longitude"]]))
        np.testing.assert_allclose(rows["value"], expected, rtol=1e-6)
    # the station on a grid node has exactly the node's value
    node = table[table["station"] == "Grid node"]["value"].to_numpy()
    np.testing.assert_allclose(
        node, published.sel(latitude=23.0, longitude=113.5).values, rtol=1e-7
    )


def test_csv_stations_nearest_and_categorical_never_interpolated(root, stations, tmp_path):
    time = "2026-07-27T06:00"
    for product_id, asked in (("temperature_2m", "nearest"), ("heat_warning_signal", "bilinear")):
        options = ExportOptions(stations=stations, interpolation=asked)
        [path] = export(
            [product_id], tmp_path, format="csv", root=str(root), time=time, options=options
        )
        table = read_table(path)
        published = load_product(product_id, root=str(root), time=time)[product_id].isel(time=0)
        expected = [
            float(published.sel(latitude=lat, longitude=lon, method="nearest"))
            for lat, lon in zip(table["latitude"], table["longitude"], strict=True)
        ]
        # the text is the shortest that reads back to the stored float32: exact
        np.testing.assert_array_equal(
            table["value"].to_numpy(dtype="float32"), np.float32(expected)
        )
    assert set(table["interpolation"]) == {"nearest (categorical: levels are not interpolated)"}
    levels = {
        c.value: (c.meaning, c.zh) for c in shipped_catalog()["heat_warning_signal"].categories
    }
    known = table.dropna(subset=["value"])
    assert len(known) and table.loc[table["value"].isna(), "level"].isna().all()
    for value, meaning, name in known[["value", "level", "level_zh"]].itertuples(index=False):
        assert (meaning, name) == levels[int(value)]


def test_csv_station_outside_the_grid_is_named(root, tmp_path):
    stations = tmp_path / "far.csv"
    stations.write_text("name,latitude,longitude\nGuangzhou,23.13,113.26\nLhasa,29.65,91.1\n")
    for interpolation in ("nearest", "bilinear"):
        with pytest.raises(WeatherdataError, match=r"station 'Lhasa' \(29\.65, 91\.1\) is outside"):
            export(
                ["temperature_2m"], tmp_path / "out", format="csv", root=str(root),
                options=ExportOptions(stations=stations, interpolation=interpolation),
            )  # fmt: skip
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_csv_stations_on_a_projected_grid(nam_temperature, catalog, tmp_path):
    """NAM Lambert grid: nearest is the cell nearest on the sphere (2-D latitude/longitude);
    bilinear interpolates in projected metres (scipy on y/x, stations projected by pyproj)."""
    from pyproj import CRS, Transformer
    from scipy.interpolate import RegularGridInterpolator

    stations = tmp_path / "us.csv"
    stations.write_text(
        "name,latitude,longitude\nDenver,39.74,-104.99\nChicago,41.88,-87.63\nMiami,25.76,-80.19\n"
    )
    field = nam_temperature["temperature_2m"].isel(time=0).values.astype("float64")
    latitude = np.deg2rad(nam_temperature["latitude"].values)
    longitude = np.deg2rad(nam_temperature["longitude"].values)
    points = pd.read_csv(stations)
    crs = CRS.from_cf(nam_temperature["crs"].attrs)
    x, y = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(
        points["longitude"], points["latitude"]
    )
    bilinear = RegularGridInterpolator(
        (nam_temperature["y"].values, nam_temperature["x"].values), field
    )(np.column_stack([y, x]))
    for method in ("nearest", "bilinear"):
        path = tmp_path / f"{method}.csv"
        options = ExportOptions(stations=stations, interpolation=method)
        CSVExporter().write(nam_temperature, catalog["temperature_2m"], path, options)
        table = read_table(path)
        if method == "bilinear":
            np.testing.assert_allclose(table["value"], bilinear, rtol=1e-6)
            continue
        for row in table.itertuples(index=False):
            phi, lam = np.deg2rad(row.latitude), np.deg2rad(row.longitude)
            haversine = (
                np.sin((latitude - phi) / 2) ** 2
                + np.cos(phi) * np.cos(latitude) * np.sin((longitude - lam) / 2) ** 2
            )
            nearest = np.unravel_index(np.argmin(haversine), haversine.shape)
            assert np.float32(row.value) == np.float32(field[nearest])


def tiny_guangzhou(product_id: str, values: np.ndarray, latitude, longitude, times) -> xr.Dataset:
    return xr.Dataset(
        {product_id: (("time", "latitude", "longitude"), values)},
        coords={"time": times, "latitude": latitude, "longitude": longitude},
    )


@pytest.mark.parametrize("product_id", ["temperature_2m", "heat_warning_signal"])
def test_csv_district_aggregates_match_shapely_masks(catalog, tmp_path, product_id):
    """Mean (continuous) and maximum level (categorical) over cells whose centre lies in
    the district, with the masks built here directly from cnmaps boundaries by shapely."""
    import shapely
    from cnmaps import get_adm_maps

    entry = catalog[product_id]
    latitude = np.arange(22.50, 23.96, 0.02)
    longitude = np.arange(112.94, 114.06, 0.02)
    times = np.array(["2026-07-27T00", "2026-07-27T01"], dtype="datetime64[ns]")
    generator = np.random.default_rng(8)
    shape = (times.size, latitude.size, longitude.size)
    if entry.categories:
        values = generator.choice([c.value for c in entry.categories], size=shape)
        values = values.astype("float32")
    else:
        values = generator.normal(30.0, 3.0, size=shape).astype("float32")
    values[0, :5, :] = np.nan  # missing cells are left out of the aggregate
    data = tiny_guangzhou(product_id, values, latitude, longitude, times)
    path = tmp_path / f"{product_id}.csv"
    CSVExporter().write(data, entry, path, ExportOptions(region="guangzhou_districts"))
    table = read_table(path)
    assert len(table) == 2 * 11
    assert list(table["district_zh"][:11]) == list(
        ["荔湾区", "越秀区", "海珠区", "天河区", "白云区", "黄埔区", "番禺区", "花都区",
         "南沙区", "从化区", "增城区"]
    )  # fmt: skip
    assert set(table["aggregation"]) == {"maximum" if entry.categories else "mean"}

    boundaries = {r["district"]: r.geometry.geom for r in get_adm_maps(city="广州市", level="区县")}
    lat2d, lon2d = np.meshgrid(latitude, longitude, indexing="ij")
    for row in table.itertuples(index=False):
        inside = shapely.contains_xy(boundaries[row.district_zh], lon2d, lat2d)
        assert row.cells == inside.sum() > 0
        step = int(np.flatnonzero(times == np.datetime64(row.time_utc.rstrip("Z")))[0])
        cells = values[step][inside]
        expected = np.nanmax(cells) if entry.categories else np.nanmean(cells.astype("float64"))
        np.testing.assert_allclose(row.value, expected, rtol=1e-6)


def test_csv_published_district_table(root, catalog, tmp_path):
    time = "2026-07-27T06:00/2026-07-27T07:00"
    [path] = export(
        ["guangzhou_district_warning_signals"], tmp_path, format="csv", root=str(root), time=time
    )
    table = read_table(path)
    published = load_product("guangzhou_district_warning_signals", root=str(root), time=time)
    published = published["guangzhou_district_warning_signals"].load()
    assert len(table) == published.size  # time x district x signal, no row lost
    assert list(table.columns[:6]) == [
        "product", "time_utc", "district", "district_zh", "signal", "value",
    ]  # fmt: skip
    for row in table.sample(40, random_state=1).itertuples(index=False):
        level = published.sel(
            time=np.datetime64(row.time_utc.rstrip("Z")), district=row.district, signal=row.signal
        ).item()
        assert (np.isnan(level) and pd.isna(row.value)) or level == row.value
    zh = dict(zip(published.district.values, published.district_name_zh.values, strict=True))
    assert all(zh[d] == z for d, z in zip(table["district"], table["district_zh"], strict=True))


def test_csv_bad_options_are_user_errors(root, tmp_path):
    for options, message in (
        (ExportOptions(interpolation="cubic"), "--interpolation 'cubic'"),
        (ExportOptions(region="guangxi"), "--region 'guangxi'"),
        (ExportOptions(stations=tmp_path / "none.csv"), "no such file"),
    ):
        with pytest.raises(WeatherdataError, match=re.escape(message)):
            export(["temperature_2m"], tmp_path, format="csv", root=str(root), options=options)
    broken = tmp_path / "broken.csv"
    broken.write_text("name,lat,lon\nA,23,113\n")
    with pytest.raises(WeatherdataError, match=r"missing column.*latitude, longitude"):
        export(["temperature_2m"], tmp_path, format="csv", root=str(root),
               options=ExportOptions(stations=broken))  # fmt: skip


# -- atomicity ----------------------------------------------------------------------


def fail_midway(path, *args, **kwargs):
    Path(path).write_bytes(b"half a file")
    raise OSError("No space left on device")


@pytest.mark.parametrize(
    ("format", "target", "product_id"),
    [
        ("netcdf", "xarray.Dataset.to_netcdf", "temperature_2m"),
        ("csv", "pandas.DataFrame.to_csv", "temperature_2m"),
        ("geotiff", "weatherdata.export.geotiff._to_cog", "temperature_2m"),
        ("geotiff", "weatherdata.export.geotiff._to_cog", "heat_warning_signal"),
    ],
)
def test_failed_export_leaves_no_partial_file(
    root, tmp_path, monkeypatch, format, target, product_id
):
    time = "2026-07-27T06:00/2026-07-27T07:00"
    first = export([product_id], tmp_path, format=format, root=str(root), time=time)
    before = {p: p.read_bytes() for p in first}

    module, name = target.rsplit(".", 1)
    if module.startswith("weatherdata"):
        import importlib

        owner = importlib.import_module(module)
        calls = []

        def fail_second(source, temporary, categorical):
            calls.append(temporary)
            if len(calls) == 2 or product_id == "temperature_2m":
                fail_midway(temporary)
            original(source, temporary, categorical)

        original = getattr(owner, name)
        monkeypatch.setattr(owner, name, fail_second)
    else:
        owner = {"xarray.Dataset": xr.Dataset, "pandas.DataFrame": pd.DataFrame}[module]

        def failing(self, path, *args, **kwargs):
            fail_midway(path)

        monkeypatch.setattr(owner, name, failing)
    with pytest.raises(OSError, match="No space left"):
        export([product_id], tmp_path, format=format, root=str(root), time="2026-07-27T00:00/")
    assert partial_files(tmp_path) == []
    assert {p: p.read_bytes() for p in first} == before  # the earlier export is untouched
    assert sorted(tmp_path.iterdir()) == sorted(first)  # and no new file appeared


# -- command line -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("format", "extra", "expected"),
    [
        ("netcdf", [], ["temperature_2m.nc"]),
        ("geotiff", [], ["temperature_2m.tif"]),
        ("csv", ["--beijing-time", "--region", "guangdong_cities"], ["temperature_2m.csv"]),
    ],
)
def test_cli_exports(root, tmp_path, capsys, format, extra, expected):
    out = tmp_path / "out"
    code = main(
        ["export", "temperature_2m", "--format", format, "--root", str(root), "--out", str(out),
         "--time", "2026-07-27T06:00/2026-07-27T08:00", *extra]
    )  # fmt: skip
    said = capsys.readouterr()
    assert code == 0, said.err
    assert f"wrote 1 {format} file (" in said.out and " for 1 product to " in said.out
    assert sorted(p.name for p in out.iterdir()) == expected
    assert all((out / name).stat().st_size > 0 for name in expected)
    assert (out / expected[0]).stat().st_mode & 0o044 == 0o044  # readable by the team
    if format == "csv":
        assert len(read_table(out / expected[0])) == 3 * 21


def test_cli_all_geotiff_skips_products_without_a_grid(root, tmp_path, capsys):
    """``--all`` exports what a format can hold: district tables are skipped, not fatal."""
    published = json.loads((root / "products.json").read_text())
    wanted = {"temperature_2m", "guangzhou_district_warning_signals"}
    small = tmp_path / "root"
    small.mkdir()
    products = [p for p in published["products"] if p["id"] in wanted]
    (small / "products.json").write_text(json.dumps({**published, "products": products}))
    for product in products:
        (small / product["href"]).parent.mkdir(exist_ok=True)
        (small / product["href"]).symlink_to((root / product["href"]).resolve())
    out = tmp_path / "out"
    code = main(
        ["export", "--all", "--format", "geotiff", "--root", str(small), "--out", str(out),
         "--time", "2026-07-27T06:00"]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert [p.name for p in out.iterdir()] == ["temperature_2m.tif"]
    assert "skipping 1 product without a grid: guangzhou_district_warning_signals" in " ".join(
        captured.err.split()
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--format", "csv", "--interpolation", "cubic"], "--interpolation 'cubic'"),
        (["--format", "csv", "--stations", "/nonexistent/stations.csv"], "no such file"),
        (
            ["--format", "geotiff", "--district", "Atlantis"],
            "district 'Atlantis': not a Guangzhou district",
        ),
        (["--format", "tiff"], "--format 'tiff'"),
    ],
)
def test_cli_bad_arguments_one_line(root, tmp_path, capsys, arguments, message):
    code = main(
        ["export", "temperature_2m", "--root", str(root), "--out", str(tmp_path), *arguments]
    )
    error = capsys.readouterr().err
    assert code != 0
    assert message in error and "Traceback" not in error
    assert len(error.strip().splitlines()) == 1


def test_a_time_outside_the_published_range_is_named_in_utc(root, tmp_path):
    """The message shows the asked and published times as a user writes them (to the
    minute, with Z), not NumPy's nanoseconds; nothing is written."""
    for time, message in (
        ("2030-01-01T00:00", "no data at 2030-01-01T00:00Z"),
        ("2026-07-26T06:30", "no data at 2026-07-26T06:30Z"),
        ("2026-07-26T06:30:15", "no data at 2026-07-26T06:30:15Z"),
        ("2030-01-01/2030-01-02", "no data between 2030-01-01T00:00Z and 2030-01-02T00:00Z"),
        ("2030-01-01/", "no data between 2030-01-01T00:00Z and …"),
    ):
        with pytest.raises(WeatherdataError) as raised:
            export(["temperature_2m"], tmp_path / "out", format="netcdf", root=str(root), time=time)
        assert str(raised.value) == (
            f"temperature_2m: {message} (published 2026-07-25T00:00Z to 2026-07-29T23:00Z)"
        )
    assert not (tmp_path / "out").exists()


def test_open_product_cuts_as_export_does(root):
    """``weatherdata.open_product`` and ``weatherdata export`` share one selection: the
    same cells and times, and the same errors; a time that is not published is an error
    naming what is (it was the nearest time, however far), an empty box or range too (they
    were empty datasets). One time drops the time dimension, as ``sel`` does."""
    import weatherdata
    from weatherdata.export import load_product

    stored = xr.open_zarr(root / "observation" / "temperature_2m.zarr")["temperature_2m"]
    expected = stored.sel(time="2026-07-26T06:00")
    for time in (
        "2026-07-26T06:00",
        "2026-07-26T06:00Z",
        "2026-07-26T14:00+08:00",
        np.datetime64("2026-07-26T06", "h"),
        pd.Timestamp("2026-07-26 06:00"),
        expected.time.values,
    ):
        one = weatherdata.open_product("temperature_2m", str(root), time=time)["temperature_2m"]
        assert one.dims == ("latitude", "longitude"), time
        xr.testing.assert_identical(one.drop_attrs(), expected.drop_attrs())
    for time in (slice("2026-07-26T00:00", "2026-07-26T05:00"), "2026-07-26T00:00/2026-07-26T05"):
        window = weatherdata.open_product("temperature_2m", str(root), time=time)
        assert window.sizes["time"] == 6
    city = weatherdata.open_product("temperature_2m", str(root), district="Guangzhou")
    exported = load_product("temperature_2m", root=str(root), district="广州")
    xr.testing.assert_identical(city["temperature_2m"], exported["temperature_2m"])
    assert city.attrs["weatherdata_district"] == "Guangzhou (广州市)"
    assert city.sizes["latitude"] * city.sizes["longitude"] < stored[0].size
    assert int(city["temperature_2m"].isel(time=0).notnull().sum()) > 0
    published = "(published 2026-07-25T00:00Z to 2026-07-29T23:00Z)"
    for cut, message in (
        ({"time": "2030-01-01"}, f"temperature_2m: no data at 2030-01-01T00:00Z {published}"),
        (
            {"time": slice("2030-01-01", None)},
            f"temperature_2m: no data between 2030-01-01T00:00Z and … {published}",
        ),
        ({"bbox": (0, 0, 1, 1)}, "temperature_2m: bbox (0, 0, 1, 1) holds no grid cell"),
        (
            {"time": "yesterday"},
            "time 'yesterday': 'yesterday' is not an ISO time such as 2026-07-27T06:00",
        ),
        ({"time": ("2026-07-27", "2026-07-26")}, "the end is before the start"),
        ({"time": ["2026-07-26", "2026-07-27"]}, "time: one time, 'T0/T1' or slice(T0, T1), not 2"),
        ({"district": "Tianhee"}, "(did you mean Tianhe?)"),
    ):
        with pytest.raises(WeatherdataError) as raised:
            weatherdata.open_product("temperature_2m", str(root), **cut)
        assert message in str(raised.value), (cut, str(raised.value))
