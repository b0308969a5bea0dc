"""Reference values for the forecast_grids fragment: synoptic diagnostics, nowcasts, forecast grids.

Kinematics are checked against analytic fields (solid-body rotation on the sphere and
on a projected plane, pure divergence, pure deformation), classifications at and
around every boundary, nowcasts on fields moving at a known velocity (and against
persistence on the demo), forecast windows on constructed runs with hand-computed
values.
"""

from __future__ import annotations

from pathlib import Path

import dask.array as dask_array
import metpy.calc as mpcalc
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from metpy.units import units
from scipy.ndimage import gaussian_filter, shift

import weatherdata
from tests.helpers import catalog_section, derive_one, grid_dataset
from weatherdata.variables import canonical_variables

ROOT = Path(__file__).resolve().parents[2]
EARTH_RADIUS = 6378137.0  # the WGS84 radius MetPy's latlon geodesy uses
R_D = 287.04749097718457
LEVELS = [1000.0, 925.0, 850.0, 700.0, 500.0, 300.0, 200.0]


def test_fragment_declares_30_products_and_the_two_intermediates():
    fragment = catalog_section("forecast_grids")
    products = [entry["id"] for entry in fragment["products"]]
    assert len(products) == 30 and len(set(products)) == 30
    assert {entry["id"] for entry in fragment["intermediates"]} == {
        "latest_forecast",
        "reflectivity_nowcast",
    }
    catalog = weatherdata.load_catalog()
    assert all(catalog[pid].family == "forecast_warning" for pid in products)


# -- grids -----------------------------------------------------------------------------


def latlon_levels(u, v, *, lat, lon, times=1, extra=None):
    """Pressure-level dataset on a lat/lon grid with the given (ny, nx) wind on every level."""
    shape = (times, len(LEVELS), len(lat), len(lon))
    variables = {
        "eastward_wind": np.broadcast_to(u, shape),
        "northward_wind": np.broadcast_to(v, shape),
        **(extra or {}),
    }
    ds = grid_dataset(variables, times=times, levels=LEVELS, shape=(len(lat), len(lon)))
    return ds.assign_coords(latitude=lat, longitude=lon)


def projected(variables: dict, *, x, y, crs=None, times=1, levels=True):
    """Dataset on a projected (y, x) grid in metres with 2-D latitude/longitude coordinates."""
    spec = canonical_variables()
    data_vars = {}
    for name, value in variables.items():
        dims = ["time", "pressure", "y", "x"] if levels else ["time", "y", "x"]
        shape = (times, len(LEVELS), len(y), len(x)) if levels else (times, len(y), len(x))
        array = np.broadcast_to(np.asarray(value, dtype=np.float32), shape).copy()
        data_vars[name] = (dims, dask_array.from_array(array), {"units": spec[name].units})
    coords = {
        "time": pd.date_range("2026-07-25", periods=times, freq="1h"),
        "x": ("x", x, {"units": "m"}),
        "y": ("y", y, {"units": "m"}),
    }
    if levels:
        coords["pressure"] = LEVELS
    ds = xr.Dataset(data_vars, coords=coords)
    if crs is not None:
        from pyproj import CRS, Transformer

        xx, yy = np.meshgrid(x, y)
        to_lonlat = Transformer.from_crs(CRS.from_cf(crs), "EPSG:4326", always_xy=True)
        lon2d, lat2d = to_lonlat.transform(xx, yy)
        ds = ds.assign_coords(
            latitude=(("y", "x"), lat2d), longitude=(("y", "x"), lon2d), crs=((), 0, dict(crs))
        )
    return ds


LAMBERT = {
    "grid_mapping_name": "lambert_conformal_conic",
    "standard_parallel": [25.0, 47.0],
    "longitude_of_central_meridian": 110.0,
    "latitude_of_projection_origin": 30.0,
    "earth_radius": 6371229.0,
}


# -- kinematic diagnostics ---------------------------------------------------------------


@pytest.mark.product("relative_vorticity_500hpa")
def test_vorticity_of_solid_body_rotation_on_the_sphere():
    # u = U0 cos φ is solid-body rotation about the Earth's axis: ζ = 2 U0 sin φ / a.
    # Without the metric term u tanφ / a the answer would be off by about 50 %.
    lat = np.linspace(10.0, 40.0, 31)
    lon = np.linspace(100.0, 130.0, 31)
    u = 20.0 * np.cos(np.radians(lat))[:, None] * np.ones(lon.size)
    ds = latlon_levels(u, 0.0, lat=lat, lon=lon, times=2)
    out = derive_one("relative_vorticity_500hpa", ds)
    expected = 2 * 20.0 * np.sin(np.radians(lat))[:, None] / EARTH_RADIUS
    # MetPy's geodesic Δy is on the WGS84 ellipsoid (the meridian degree is 0.6 % shorter
    # at 10°N than on the sphere): 1.5 % against the spherical formula.
    np.testing.assert_allclose(
        out.isel(time=1)[1:-1], np.broadcast_to(expected, out.shape[1:])[1:-1], rtol=1.5e-2
    )
    # and exactly MetPy's xarray path on the same input
    grid = xr.Dataset(
        {
            "u": (("latitude", "longitude"), u, {"units": "m/s"}),
            "v": (("latitude", "longitude"), 0 * u, {"units": "m/s"}),
        },
        coords={
            "latitude": ("latitude", lat, {"units": "degrees_north"}),
            "longitude": ("longitude", lon, {"units": "degrees_east"}),
        },
    ).metpy.parse_cf()
    np.testing.assert_allclose(
        out.isel(time=1), mpcalc.vorticity(grid.u, grid.v).metpy.dequantify(), rtol=1e-5
    )
    assert (
        out.attrs["units"] == "s-1"
        and out.attrs["standard_name"] == "atmosphere_relative_vorticity"
    )


@pytest.mark.product("relative_vorticity_500hpa")
def test_vorticity_of_solid_body_rotation_on_a_projected_grid():
    # u = −Ω y, v = Ω x: ζ = 2Ω exactly (Cartesian grid, no grid mapping).
    x = np.arange(-10, 11) * 25_000.0
    y = np.arange(-8, 9) * 25_000.0
    omega = 5e-5
    xx, yy = np.meshgrid(x, y)
    ds = projected({"eastward_wind": -omega * yy, "northward_wind": omega * xx}, x=x, y=y)
    out = derive_one("relative_vorticity_500hpa", ds)
    np.testing.assert_allclose(out, 2 * omega, rtol=1e-5)
    assert out.dims == ("time", "y", "x")


@pytest.mark.product("relative_vorticity_500hpa")
@pytest.mark.product("divergence_200hpa")
def test_projected_grid_with_a_grid_mapping_matches_metpy_xarray():
    # With a Lambert grid mapping, map-scale factors enter: compare with MetPy's own
    # xarray path (which reads the CRS and computes the factors itself).
    x = np.arange(-12, 13) * 30_000.0
    y = np.arange(-10, 11) * 30_000.0
    xx, yy = np.meshgrid(x, y)
    u = 10 + 1e-5 * yy - 4e-6 * xx + 3 * np.sin(xx / 2e5)
    v = -5 + 6e-6 * xx + 2e-6 * yy
    ds = projected({"eastward_wind": u, "northward_wind": v}, x=x, y=y, crs=LAMBERT)
    vorticity = derive_one("relative_vorticity_500hpa", ds)
    divergence = derive_one("divergence_200hpa", ds)
    grid = xr.Dataset(
        {"u": (("y", "x"), u, {"units": "m/s"}), "v": (("y", "x"), v, {"units": "m/s"})},
        coords={"x": ("x", x, {"units": "m"}), "y": ("y", y, {"units": "m"})},
    ).metpy.assign_crs(LAMBERT)
    grid = grid.assign_coords(latitude=ds.latitude, longitude=ds.longitude)
    expected_vorticity = mpcalc.vorticity(grid.u, grid.v).metpy.dequantify()
    expected_divergence = mpcalc.divergence(grid.u, grid.v).metpy.dequantify()
    np.testing.assert_allclose(vorticity.isel(time=0), expected_vorticity, rtol=1e-4, atol=1e-10)
    np.testing.assert_allclose(divergence.isel(time=0), expected_divergence, rtol=1e-4, atol=1e-10)
    # the scale factors matter here: a Cartesian answer differs
    cartesian = derive_one("divergence_200hpa", ds.drop_vars("crs"))
    assert np.abs(cartesian - divergence).max() > 1e-8


@pytest.mark.product("divergence_200hpa")
def test_divergence_on_the_sphere_and_on_a_plane():
    # v = V0 cos φ on the sphere: δ = (1 / a cos φ) ∂(v cos φ)/∂φ = −2 V0 sin φ / a.
    lat = np.linspace(5.0, 45.0, 41)
    lon = np.linspace(100.0, 125.0, 26)
    v = 10.0 * np.cos(np.radians(lat))[:, None] * np.ones(lon.size)
    out = derive_one("divergence_200hpa", latlon_levels(0.0, v, lat=lat, lon=lon))
    expected = -2 * 10.0 * np.sin(np.radians(lat))[:, None] / EARTH_RADIUS
    np.testing.assert_allclose(
        out.isel(time=0)[1:-1], np.broadcast_to(expected, out.shape[1:])[1:-1], rtol=1.5e-2
    )
    # u = D x / 2, v = D y / 2 on a plane: δ = D.
    x = np.arange(-6, 7) * 10_000.0
    y = np.arange(-5, 6) * 10_000.0
    xx, yy = np.meshgrid(x, y)
    out = derive_one(
        "divergence_200hpa",
        projected({"eastward_wind": 2e-5 * xx, "northward_wind": 2e-5 * yy}, x=x, y=y),
    )
    np.testing.assert_allclose(out, 4e-5, rtol=1e-5)


@pytest.mark.product("surface_convergence_10m")
def test_surface_convergence_of_a_converging_flow():
    # u = −C x / 2, v = −C y / 2: convergence −∇·V = C = 1e-4 s-1.
    x = np.arange(-6, 7) * 5_000.0
    y = np.arange(-5, 6) * 5_000.0
    xx, yy = np.meshgrid(x, y)
    ds = projected(
        {"eastward_wind_10m": -5e-5 * xx, "northward_wind_10m": -5e-5 * yy},
        x=x,
        y=y,
        times=2,
        levels=False,
    )
    out = derive_one("surface_convergence_10m", ds)
    np.testing.assert_allclose(out, 1e-4, rtol=1e-5)
    # On lat/lon, the same MetPy call: compare with metpy.calc.divergence (sign flipped).
    lat = np.linspace(20, 24, 9)
    lon = np.linspace(110, 115, 11)
    rng = np.random.default_rng(3)
    u, v = rng.normal(size=(2, 9, 11))
    ds = grid_dataset({"eastward_wind_10m": u, "northward_wind_10m": v}, times=1, shape=(9, 11))
    ds = ds.assign_coords(latitude=lat, longitude=lon)
    out = derive_one("surface_convergence_10m", ds)
    metpy_input = xr.Dataset(
        {
            "u": (("latitude", "longitude"), u, {"units": "m/s"}),
            "v": (("latitude", "longitude"), v, {"units": "m/s"}),
        },
        coords={
            "latitude": ("latitude", lat, {"units": "degrees_north"}),
            "longitude": ("longitude", lon, {"units": "degrees_east"}),
        },
    ).metpy.parse_cf()
    expected = -mpcalc.divergence(metpy_input.u, metpy_input.v).metpy.dequantify()
    np.testing.assert_allclose(out.isel(time=0), expected, rtol=1e-4)


@pytest.mark.product("moisture_flux_divergence_850hpa")
def test_moisture_flux_divergence_hand_computed():
    # q = 10 g/kg everywhere, δ = 1e-5 s-1: ∇·(qV/g) = 0.01 · 1e-5 / 9.80665 s m-1
    # = 1.0197e-8 s m-1 = 1.0197e-7 g cm-2 hPa-1 s-1 (1 s m-1 = 10 g cm-2 hPa-1 s-1).
    x = np.arange(-6, 7) * 10_000.0
    y = np.arange(-5, 6) * 10_000.0
    xx, yy = np.meshgrid(x, y)
    ds = projected(
        {"eastward_wind": 5e-6 * xx, "northward_wind": 5e-6 * yy, "specific_humidity": 0.01},
        x=x,
        y=y,
    )
    out = derive_one("moisture_flux_divergence_850hpa", ds)
    np.testing.assert_allclose(out, 1.0197e-7, rtol=1e-4)
    assert out.attrs["units"] == "g cm-2 hPa-1 s-1"
    # a moist tongue advected by uniform wind: −V·∇q / g converges where q increases downstream
    q = 0.01 + 1e-8 * xx  # +1 g/kg per 100 km eastward
    out = derive_one(
        "moisture_flux_divergence_850hpa",
        projected({"eastward_wind": 10.0, "northward_wind": 0.0, "specific_humidity": q}, x=x, y=y),
    )
    np.testing.assert_allclose(out, 10.0 * 1e-8 / 9.80665 * 10, rtol=1e-4)


@pytest.mark.product("temperature_advection_850hpa")
def test_temperature_advection_hand_computed():
    # T rises 1 K per 100 km eastward, westerly 10 m/s: −u ∂T/∂x = −1e-4 K/s = −0.36 K/h (cold advection).
    x = np.arange(-6, 7) * 20_000.0
    y = np.arange(-5, 6) * 20_000.0
    xx, _ = np.meshgrid(x, y)
    ds = projected(
        {"air_temperature": 285.0 + 1e-5 * xx, "eastward_wind": 10.0, "northward_wind": 0.0},
        x=x,
        y=y,
    )
    out = derive_one("temperature_advection_850hpa", ds)
    np.testing.assert_allclose(out, -0.36, rtol=1e-4)
    assert out.attrs["units"] == "K h-1"


@pytest.mark.product("frontogenesis_850hpa")
def test_frontogenesis_of_pure_deformation():
    # u = αx, v = −αy stretches along x; θ increasing northward (isentropes along x, β = 0):
    # F = ½|∇θ|(D cos 2β − δ) = ½ · Gθ · 2α = α Gθ, with Gθ = (1000/850)^κ ∂T/∂y.
    alpha, gradient = 2e-5, 1e-5
    x = np.arange(-6, 7) * 20_000.0
    y = np.arange(-5, 6) * 20_000.0
    xx, yy = np.meshgrid(x, y)
    ds = projected(
        {
            "air_temperature": 285.0 + gradient * yy,
            "eastward_wind": alpha * xx,
            "northward_wind": -alpha * yy,
        },
        x=x,
        y=y,
    )
    out = derive_one("frontogenesis_850hpa", ds)
    kappa = 0.28571428571428564
    np.testing.assert_allclose(out, alpha * gradient * (1000 / 850) ** kappa, rtol=1e-3)
    # and MetPy on the same (random) lat/lon input
    lat = np.linspace(20, 26, 13)
    lon = np.linspace(110, 117, 15)
    rng = np.random.default_rng(7)
    t = 290 + gaussian_filter(rng.normal(size=(13, 15)), 2) * 20
    u, v = gaussian_filter(rng.normal(size=(2, 13, 15)), (0, 2, 2)) * 30
    ds = latlon_levels(
        u,
        v,
        lat=lat,
        lon=lon,
        extra={"air_temperature": np.broadcast_to(t, (1, len(LEVELS), 13, 15))},
    )
    out = derive_one("frontogenesis_850hpa", ds)
    coords = {
        "latitude": ("latitude", lat, {"units": "degrees_north"}),
        "longitude": ("longitude", lon, {"units": "degrees_east"}),
    }
    grid = xr.Dataset(
        {
            "t": (("latitude", "longitude"), t, {"units": "K"}),
            "u": (("latitude", "longitude"), u, {"units": "m/s"}),
            "v": (("latitude", "longitude"), v, {"units": "m/s"}),
        },
        coords=coords,
    ).metpy.parse_cf()
    theta = mpcalc.potential_temperature(850 * units.hPa, grid.t)
    expected = mpcalc.frontogenesis(theta, grid.u, grid.v).metpy.dequantify()
    np.testing.assert_allclose(out.isel(time=0), expected, rtol=1e-3, atol=1e-14)


@pytest.mark.product("low_level_jet")
def test_low_level_jet_threshold_and_levels():
    u850 = np.array([[11.99, 12.0, 0.0, np.nan]] * 3)
    u700 = np.array([[0.0, 0.0, -12.5, 5.0]] * 3)
    u = np.zeros((1, len(LEVELS), 3, 4))
    u[0, LEVELS.index(850.0)] = u850
    u[0, LEVELS.index(700.0)] = u700
    ds = grid_dataset({"eastward_wind": u, "northward_wind": 0.0}, times=1, levels=LEVELS)
    out = derive_one("low_level_jet", ds)  # default: 850 hPa only
    np.testing.assert_array_equal(out.values[0, 0], [0, 1, 0, np.nan])
    both = derive_one("low_level_jet", ds, parameters={"levels": ["850 hPa", "700 hPa"]})
    np.testing.assert_array_equal(both.values[0, 0], [0, 1, 1, np.nan])
    # 9.6 m/s and 7.2 m/s components: speed 12.0 (MetPy wind_speed) → jet
    u = np.zeros((1, len(LEVELS), 3, 4))
    v = np.zeros((1, len(LEVELS), 3, 4))
    u[0, 2], v[0, 2] = 9.6, 7.2
    assert (
        derive_one(
            "low_level_jet",
            grid_dataset({"eastward_wind": u, "northward_wind": v}, times=1, levels=LEVELS),
        ).values.min()
        == 1
    )
    assert out.attrs["flag_meanings"] == "no_low_level_jet low_level_jet"


# -- subtropical high ----------------------------------------------------------------------


def _high(lat, lon, *, peak=5900.0, centre_lon=130.0, ridge=25.5):
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    height = peak - 2.0 * (la - 25.0) ** 2 - 1.0 * (lo - centre_lon) ** 2
    wind = 2.0 * (la - ridge)  # easterly south of the ridge, westerly north of it
    return height, wind


@pytest.mark.product("subtropical_high_indices")
def test_subtropical_high_ridge_line_and_west_point():
    lat = np.arange(0.0, 41.0)
    lon = np.arange(100.0, 151.0)
    height, wind = _high(lat, lon)
    shape = (2, len(LEVELS), lat.size, lon.size)
    ds = grid_dataset(
        {
            "geopotential_height": np.broadcast_to(height, shape),
            "eastward_wind": np.broadcast_to(wind, shape),
        },
        times=2,
        levels=LEVELS,
        shape=(lat.size, lon.size),
    ).assign_coords(latitude=lat, longitude=lon)
    out = derive_one("subtropical_high_indices", ds)
    # u = 0 halfway between the 25° and 26° rows; the 588 area (≥ 5880 m) on the 25°N row
    # reaches |lon − 130| ≤ √20 = 4.47°, so its westernmost grid point is 126°E.
    assert out.sel(subtropical_high_index="ridge_line_latitude").values.tolist() == pytest.approx(
        [25.5, 25.5]
    )
    assert out.sel(
        subtropical_high_index="west_extension_longitude"
    ).values.tolist() == pytest.approx([126.0, 126.0])
    assert out.attrs["units"] == "degree"
    # A regional domain (the demo's 109.5–117.5°E) sees only the high's western part:
    # the windows are clipped to it.
    regional = ds.sel(longitude=slice(109.0, 118.0))
    height, wind = _high(lat, regional.longitude.values, centre_lon=117.0)
    shape = (2, len(LEVELS), lat.size, regional.longitude.size)
    regional["geopotential_height"] = (
        regional.geopotential_height.dims,
        dask_array.from_array(np.broadcast_to(height, shape).astype(np.float32)),
        {"units": "m"},
    )
    regional["eastward_wind"] = (
        regional.eastward_wind.dims,
        dask_array.from_array(np.broadcast_to(wind, shape).astype(np.float32)),
        {"units": "m s-1"},
    )
    out = derive_one("subtropical_high_indices", regional)
    assert out.values[0].tolist() == pytest.approx([25.5, 113.0])
    # No 588 dagpm area (a weak high): missing, not zero.
    weak = ds.assign(geopotential_height=ds.geopotential_height - 100.0)
    weak["geopotential_height"].attrs["units"] = "m"
    assert np.isnan(derive_one("subtropical_high_indices", weak).values).all()


# -- precipitation type ----------------------------------------------------------------------


def _two_point_area(t_surface, p_surface, p_level):
    """Area of the triangle from T_s (°C) at p_s to 0 °C halfway (in ln p) to the next level at −T_s."""
    return R_D * 0.5 * abs(t_surface) * 0.5 * np.log(p_surface / p_level)


def _profile_dataset(columns, surface_pressure=1000.0, precipitation=1.0):
    """One column per grid cell: (surface °C, [level °C for LEVELS])."""
    n = len(columns)
    t = np.array([levels for _, levels in columns], dtype=np.float64).T + 273.15  # (levels, n)
    ts = np.array([s for s, _ in columns]) + 273.15
    return grid_dataset(
        {
            "air_temperature": t[None, :, None, :],
            "air_temperature_2m": ts[None, None, :],
            "surface_air_pressure": surface_pressure,
            "precipitation_amount": precipitation,
        },
        times=1,
        levels=LEVELS,
        shape=(1, n),
    )


@pytest.mark.product("precipitation_type")
def test_precipitation_type_warm_surface_layer_thresholds():
    # Surface T_s at 1010 hPa, 1000 hPa at T_s too, −T_s at 925 hPa, cold above:
    # positive area = R_d T_s ln(1010/1000) + R_d T_s/2 · ½ ln(1000/925).
    def area(ts):
        return R_D * ts * np.log(1010 / 1000) + _two_point_area(ts, 1000, 925)

    scale = area(1.0)
    cold_above = [-10.0, -20.0, -30.0, -40.0, -50.0]
    columns = []
    for target in (5.5, 5.7, 13.1, 13.3, 40.0):
        ts = target / scale
        columns.append((ts, [ts, -ts, *cold_above]))
    columns.append((-3.0, [-3.0, -5.0, *cold_above]))  # cold throughout: snow
    out = derive_one("precipitation_type", _profile_dataset(columns, surface_pressure=1010.0))
    # 5.5 snow, 5.7 rain+snow, 13.1 rain+snow, 13.3 rain, 40 rain, all cold snow
    np.testing.assert_array_equal(out.values[0, 0], [2, 3, 3, 1, 1, 2])
    assert out.attrs["flag_meanings"].split()[:4] == [
        "no_precipitation",
        "rain",
        "snow",
        "rain_and_snow",
    ]


@pytest.mark.product("precipitation_type")
def test_precipitation_type_cold_surface_layer_under_a_warm_nose():
    # Surface 1000 hPa at −c, 925 hPa at +w, 850 hPa at −w, colder above. Areas by hand:
    # NA = R_d c/2 · f ln(1000/925) with f = c/(c+w) the cold fraction of the first layer;
    # PA = R_d w/2 · (1−f) ln(1000/925) + R_d w/2 · ½ ln(925/850).
    def areas(c, w):
        f = c / (c + w)
        na = R_D * c / 2 * f * np.log(1000 / 925)
        pa = R_D * w / 2 * (1 - f) * np.log(1000 / 925) + R_D * w / 2 * 0.5 * np.log(925 / 850)
        return na, pa

    cases = [(-1.0, 0.2), (-12.0, 3.0), (-3.0, 3.0), (-8.0, 2.0)]
    expected = []
    columns = []
    for c, w in cases:
        na, pa = areas(-c, w)
        if pa < 2:
            expected.append(2)
        elif na > 66 + 0.66 * pa:
            expected.append(4)
        elif na < 46 + 0.66 * pa:
            expected.append(5)
        else:
            expected.append(6)
        columns.append((c, [c, w, -w, -15.0, -30.0, -45.0, -55.0]))
    assert sorted(set(expected)) == [2, 4, 5, 6], "the cases must cover every branch"
    out = derive_one("precipitation_type", _profile_dataset(columns))
    np.testing.assert_array_equal(out.values[0, 0], expected)


@pytest.mark.product("precipitation_type")
def test_precipitation_type_no_precipitation_and_missing_values():
    columns = [(5.0, [5.0, 3.0, 1.0, -5.0, -20.0, -40.0, -50.0])] * 3
    ds = _profile_dataset(columns)
    ds["precipitation_amount"] = ds.precipitation_amount.copy(
        data=dask_array.from_array(np.array([[[0.05, 0.1, np.nan]]], dtype=np.float32))
    )
    out = derive_one("precipitation_type", ds)
    np.testing.assert_array_equal(out.values[0, 0], [0, 1, np.nan])
    ds = _profile_dataset(columns)
    t = ds.air_temperature.values.copy()
    t[0, 1, 0, 1] = np.nan  # a level above ground missing
    ds["air_temperature"] = ds.air_temperature.copy(data=dask_array.from_array(t))
    out = derive_one("precipitation_type", ds)
    np.testing.assert_array_equal(out.values[0, 0], [1, np.nan, 1])


# -- grades -----------------------------------------------------------------------------


@pytest.mark.product("cold_wave_grade")
def test_cold_wave_grade_hand_computed_series():
    # Hourly 2 m temperature: before[cell] until hour 100, after[cell] from then on.
    # At hour 123 the trailing 24 h minimum is `after`, 24/48/72 h earlier it was `before`:
    # every drop = before − after. At hour 147 the 24 h drop is 0 and the 48 h drop remains.
    before = np.array([12.0, 11.9, 14.0, 12.0, 12.0, 14.0])
    after = np.array([4.0, 4.0, 2.0, 0.0, 4.1, 4.0])
    hours = 150
    series = np.where(np.arange(hours)[:, None] < 100, before, after) + 273.15
    ds = grid_dataset({"air_temperature_2m": series[:, None, :]}, times=hours, shape=(1, 6))
    out = derive_one("cold_wave_grade", ds)
    # drop 8 & Tmin 4 → 1; drop 7.9 → 0; 12 & 2 → 2 (not 3: Tmin > 0); 12 & 0 → 3; Tmin 4.1 → 0
    np.testing.assert_array_equal(out.values[123, 0], [1, 0, 2, 3, 0, 1])
    # 24 h later only the 48 h (and 72 h) drops remain: ≥ 10 K in 48 h with Tmin ≤ 4 °C is
    # grade 1; 12 K in 48 h is grade 2 at most (grade 3 needs 14 K in 48 h)
    np.testing.assert_array_equal(out.values[147, 0], [0, 0, 2, 2, 0, 1])
    # no 24 h minimum yet: missing; then Tmin > 4 °C rules every grade out, even while the
    # 48/72 h drops are still unknown: 0
    assert np.isnan(out.values[:23]).all()
    np.testing.assert_array_equal(out.values[23:100], 0)
    assert out.attrs["flag_meanings"] == "no_cold_wave cold_wave strong_cold_wave extreme_cold_wave"


def test_cold_wave_grade_three_valued_logic():
    from weatherdata.products.forecast_warning.synoptic import cold_wave_grade

    def array(values, units_):
        return xr.DataArray(np.array(values, dtype=np.float64), dims=["x"], attrs={"units": units_})

    catalog = weatherdata.load_catalog()
    parameters = {
        k: weatherdata.catalog.parameter_value(p)
        for k, p in catalog["cold_wave_grade"].parameters.items()
    }
    nan = np.nan
    out = cold_wave_grade(
        array([nan, 8.0, 8.0, 7.0, nan], "K"),
        array([9.0, nan, nan, 7.0, nan], "K"),
        array([nan, nan, nan, 7.0, nan], "K"),
        array([3.0, 3.0, 1.0, 3.0, 5.0], "degC"),
        **parameters,
    )
    # unknown drops could still reach grade 1 → missing; 8 K with Tmin 3 °C → 1 (higher grades need ≤ 2 °C);
    # 8 K with Tmin 1 °C: grade 2 could hold through the missing 48/72 h drops → missing;
    # all drops known and small → 0; Tmin 5 °C rules out every grade → 0.
    np.testing.assert_array_equal(out.values, [nan, 1, nan, 0, 0])


@pytest.mark.product("tropical_cyclone_intensity_grade")
def test_tropical_cyclone_grade_boundaries_and_radius():
    speeds = [10.7, 10.8, 17.1, 17.2, 24.4, 24.5, 32.6, 32.7, 41.4, 41.5, 50.9, 51.0, np.nan]
    expected = [0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6]
    distance = np.array([[0.0, 300.0, 300.5, np.nan]])
    ds = grid_dataset(
        {
            "tropical_cyclone_maximum_wind_speed": np.array(speeds),
            "tropical_cyclone_distance": np.broadcast_to(distance, (len(speeds), 1, 4)),
        },
        times=len(speeds),
        shape=(1, 4),
    )
    out = derive_one("tropical_cyclone_intensity_grade", ds)
    np.testing.assert_array_equal(out.values[:-1, 0, 0], expected)
    np.testing.assert_array_equal(out.values[:-1, 0, 1], expected)  # exactly at the radius: inside
    np.testing.assert_array_equal(out.values[:-1, 0, 2], 0)  # just outside
    assert np.isnan(out.values[:, 0, 3]).all() and np.isnan(out.values[-1]).all()
    # the radius is a parameter
    wide = derive_one("tropical_cyclone_intensity_grade", ds, parameters={"radius": "400 km"})
    np.testing.assert_array_equal(wide.values[:-1, 0, 2], expected)
    assert out.attrs["flag_meanings"].split()[-1] == "super_typhoon"


# -- nowcasts ---------------------------------------------------------------------------------


def moving_cells(*, ny=48, nx=64, frames=8, vx=1.5, vy=-1.0, seed=5):
    """Smooth convective-looking reflectivity (dBZ) moving vx, vy pixels per step, with its truth."""
    rng = np.random.default_rng(seed)
    pad = 60
    field = gaussian_filter(rng.normal(size=(ny + 2 * pad, nx + 2 * pad)), 4)
    field = (field - field.min()) / (field.max() - field.min()) * 80 - 25  # −25 … 55 dBZ

    def frame(k):
        return shift(field, (vy * k, vx * k), order=3)[pad : pad + ny, pad : pad + nx]

    return np.array([frame(k) for k in range(frames)]), frame


@pytest.mark.product("nowcast_reflectivity_30min")
@pytest.mark.product("nowcast_reflectivity_60min")
@pytest.mark.product("nowcast_reflectivity_120min")
def test_nowcast_of_a_field_moving_at_a_known_velocity():
    from weatherdata.products.forecast_warning.nowcast import reflectivity_nowcast

    frames, truth = moving_cells()
    ny, nx = frames.shape[1:]
    ds = grid_dataset(
        {"radar_reflectivity": np.stack([frames, frames - 6.0], axis=1)},
        times=len(frames),
        heights=[1000.0, 3000.0],
        shape=(ny, nx),
        step="10min",
    )
    ds = ds.chunk({"time": 3})
    # motion (the intermediate): 1.5 px/step east and −1 px/step (southward: latitude ascends)
    dlat = float(ds.latitude[1] - ds.latitude[0])
    dlon = float(ds.longitude[1] - ds.longitude[0])
    catalog = weatherdata.load_catalog()
    params = {
        k: weatherdata.catalog.parameter_value(p)
        for k, p in catalog["reflectivity_nowcast"].parameters.items()
    }
    nowcast = reflectivity_nowcast(ds.radar_reflectivity, **params)
    assert hasattr(nowcast.reflectivity.data, "dask")
    motion = nowcast[["eastward_motion", "northward_motion"]].isel(time=-1).compute()
    lat = np.radians(ds.latitude.values)[:, None]
    east = 1.5 * EARTH_RADIUS * np.radians(dlon) * np.cos(lat) / 600.0
    north = -1.0 * EARTH_RADIUS * np.radians(dlat) / 600.0
    core = (slice(8, -8), slice(8, -8))
    assert np.median(motion.eastward_motion.values[core] / east[8:-8]) == pytest.approx(
        1.0, abs=0.1
    )
    assert np.median(motion.northward_motion.values[core]) == pytest.approx(north, rel=0.1)
    # nowcasts at +30/+60/+120 min (3/6/12 steps) vs the truth, and vs persistence
    last = len(frames) - 1
    np.testing.assert_array_equal(
        nowcast.lead_time.values, np.array([30, 60, 120], dtype="timedelta64[m]")
    )
    assert nowcast.valid_time.values[last, 2] == ds.time.values[last] + np.timedelta64(120, "m")
    products = {
        "nowcast_reflectivity_30min": 3,
        "nowcast_reflectivity_60min": 6,
        "nowcast_reflectivity_120min": 12,
    }
    derived = weatherdata.derive(ds, list(products))
    assert all(hasattr(derived[pid].data, "dask") for pid in products)
    derived = derived.compute()  # the three share one nowcast
    for pid, steps in products.items():
        out = derived[pid]
        assert "nowcast issued at time, valid at time + " in out.attrs["comment"]
        observed = np.maximum(truth(last + steps), 10.0)  # below 10 dBZ is "no echo"
        predicted = out.values[last]
        inside = np.isfinite(predicted)
        # cells whose departure point lies outside the domain are missing (inflow), no more
        expected_inside = (ny - 1.0 * steps) * (nx - 1.5 * steps) / (ny * nx)
        assert inside.mean() == pytest.approx(expected_inside, abs=0.05)
        error = np.abs(predicted - observed)[inside].mean()
        persistence = np.abs(np.maximum(frames[last], 10.0) - observed)[inside].mean()
        assert error < 0.25 * persistence
        assert np.isnan(out.values[0]).all()  # no earlier frame: no motion, no nowcast


def test_proesmans_pyramid_never_has_a_level_one_cell_across():
    # pysteps' Proesmans code copies edges from the neighbouring row/column without
    # bounds checks: a level 1 cell high or wide reads memory outside its array.
    from weatherdata.products.forecast_warning.nowcast import proesmans_levels

    from weatherdata.errors import InputError

    for ny in range(2, 300, 7):
        for nx in (2, 3, 12, 16, 47, 48, 64, 65, 129, 1000):
            levels = proesmans_levels(ny, nx)
            m, n = ny, nx
            for _ in range(levels - 1):  # pysteps: int(m / 2) per level
                m, n = int(m / 2), int(n / 2)
            assert m >= 2 and n >= 2, (ny, nx, levels)
            # and as many levels as allowed (up to pysteps' default of 6)
            assert levels == 6 or int(m / 2) < 2 or int(n / 2) < 2, (ny, nx, levels)
    assert proesmans_levels(48, 64) == 5  # 48 → 24 → 12 → 6 → 3 (not on to 1)
    with pytest.raises(InputError, match="at least 2 × 2"):
        proesmans_levels(1, 64)


def test_nowcast_motion_does_not_depend_on_what_runs_beside_it():
    # The same window nowcast alone and 100 times in two threads that allocate and free
    # memory meanwhile: identical. (With six pyramid levels on this 48 × 64 grid pysteps
    # read outside its arrays and about 1 call in 20 came back different.)
    from concurrent.futures import ThreadPoolExecutor

    from weatherdata.products.forecast_warning.nowcast import _nowcast_block

    frames, _ = moving_cells(frames=2)
    window = np.moveaxis(frames, 0, -1)[None]  # (1, ny, nx, frame)
    ny, nx = frames.shape[1:]
    keywords = dict(
        leads=[3.0], method="proesmans", no_echo=10.0,
        dx=np.ones((ny, nx)), dy=np.ones((ny, nx)), seconds=1.0,
    )  # fmt: skip
    alone_nowcast, alone_motion = _nowcast_block(window, **keywords)
    assert np.isfinite(alone_motion).all()

    def beside(seed):
        rng = np.random.default_rng(seed)
        churn = [rng.random(rng.integers(1, 4000)) * 1e300 for _ in range(50)]
        result = _nowcast_block(window, **keywords)
        del churn
        return result

    with ThreadPoolExecutor(2) as pool:
        for nowcast, motion in pool.map(beside, range(100)):
            np.testing.assert_array_equal(motion, alone_motion)
            np.testing.assert_array_equal(nowcast, alone_nowcast)


@pytest.mark.product("nowcast_precipitation_rate_30min")
@pytest.mark.product("nowcast_precipitation_rate_60min")
@pytest.mark.product("nowcast_precipitation_rate_120min")
def test_precipitation_rate_nowcast_uses_z_r_with_the_hail_cap():
    # A still field: the nowcast is the last frame; Z = 300 R^1.4 gives
    # 40 dBZ → (1e4/300)^(1/1.4) = 12.23 mm/h; 60 dBZ is capped at 53 dBZ → 102.4 mm/h.
    values = np.full((3, 1, 12, 16), 5.0)
    values[:, :, 3:9, 4:12] = 40.0
    values[:, :, 5:7, 6:10] = 60.0
    values[:, :, 10, 14] = 20.0
    ds = grid_dataset(
        {"radar_reflectivity": values}, times=3, heights=[1000.0], shape=(12, 16), step="6min"
    )
    products = [
        "nowcast_precipitation_rate_30min",
        "nowcast_precipitation_rate_60min",
        "nowcast_precipitation_rate_120min",
    ]
    derived = weatherdata.derive(ds, products)
    assert all(hasattr(derived[pid].data, "dask") for pid in products)
    derived = derived.compute()
    for pid in products:
        out = derived[pid]
        assert out.values[2, 4, 5] == pytest.approx((1e4 / 300) ** (1 / 1.4), rel=1e-3)
        assert out.values[2, 5, 7] == pytest.approx((10**5.3 / 300) ** (1 / 1.4), rel=1e-3)
        assert out.values[2, 0, 0] == 0.0  # no echo (5 dBZ, below the 10 dBZ floor): no rain
        assert out.values[2, 10, 14] == pytest.approx((100 / 300) ** (1 / 1.4), rel=1e-3)
        assert out.attrs["units"] == "mm h-1" and out.attrs["standard_name"] == "rainfall_rate"
    # a missing frame: no nowcast at that time or the next
    missing = values.copy()
    missing[1] = np.nan
    ds = grid_dataset(
        {"radar_reflectivity": missing}, times=3, heights=[1000.0], shape=(12, 16), step="6min"
    )
    out = derive_one("nowcast_precipitation_rate_60min", ds)
    assert np.isnan(out.values).all()


# -- forecast grids ---------------------------------------------------------------------------


def forecast_runs(
    *, runs=4, every="12h", leads=73, values=None, start="2026-07-25T00:00", shape=(2, 3)
):
    """Constructed forecast runs: T = 280 + 10 k + 0.1 L (run k, lead L hours), etc."""
    spec = canonical_variables()
    inits = pd.date_range(start, periods=runs, freq=every)
    lead = pd.to_timedelta(np.arange(leads), unit="h")
    k = np.arange(runs)[:, None, None, None]
    hour = np.arange(leads)[None, :, None, None]
    full = (runs, leads, *shape)
    defaults = {
        "air_temperature_2m": 280.0 + 10 * k + 0.1 * hour,
        "precipitation_amount": np.where(hour > 0, k + 1.0, 0.0),
        "eastward_wind_10m": 3.0 + 0 * hour,
        "northward_wind_10m": 4.0 + 0.1 * hour,
        "wind_speed_of_gust_10m": 10.0 + k + 0.5 * hour,
        "visibility_in_air": 20000.0 - 100 * hour - 1000 * k,
        "relative_humidity_2m": 80.0 + 0 * hour,
    }
    defaults.update(values or {})
    data = {
        name: (
            ("init_time", "lead_time", "latitude", "longitude"),
            dask_array.from_array(
                np.broadcast_to(value, full).astype(np.float32), chunks=(1, leads, *shape)
            ),
            {"units": spec[name].units},
        )
        for name, value in defaults.items()
    }
    coords = {
        "init_time": inits,
        "lead_time": lead,
        "latitude": np.linspace(22, 23, shape[0]),
        "longitude": np.linspace(113, 114, shape[1]),
    }
    ds = xr.Dataset(data, coords=coords)
    return ds.assign_coords(valid_time=ds.init_time + ds.lead_time)


def observation_times(hours=60, start="2026-07-24T20:00"):
    return grid_dataset({"air_temperature_2m": 290.0}, times=hours, start=start, shape=(2, 3))


@pytest.mark.product("forecast_precipitation_next_3h")
@pytest.mark.product("forecast_precipitation_next_6h")
@pytest.mark.product("forecast_precipitation_next_12h")
@pytest.mark.product("forecast_precipitation_next_24h")
def test_forecast_precipitation_windows_from_the_latest_run():
    # Runs at 00 and 12 UTC with k + 1 mm every hour; observations from 20 UTC the day before.
    fc = forecast_runs()
    obs = observation_times()
    for hours in (3, 6, 12, 24):
        out = derive_one(f"forecast_precipitation_next_{hours}h", obs, forecast=fc)
        values = out.values[:, 0, 0]
        assert np.isnan(values[:4]).all()  # before the first run
        # 00–11 UTC: run 0 (1 mm/h); 12–23 UTC: run 1 (2 mm/h); …
        np.testing.assert_allclose(values[4:16], 1.0 * hours)
        np.testing.assert_allclose(values[16:28], 2.0 * hours)
        assert out.attrs["cell_methods"] == f"time: sum (interval: {hours} hour)"
        assert (
            "latest run" in out.attrs["comment"]
            or "forecast_reference_time" in out.attrs["comment"]
        )
        assert out.forecast_reference_time.values[20] == np.datetime64("2026-07-25T12:00")
    # The last run (36 UTC = day 2 12 UTC) reaches lead 72 h: at obs time 12 UTC + 50 h = +62 h,
    # the 24 h window needs lead 62 + 24 = 86 > 72 → missing; the 3 h window still fits.
    late = observation_times(hours=40, start="2026-07-27T00:00")
    out24 = derive_one("forecast_precipitation_next_24h", late, forecast=fc)
    out3 = derive_one("forecast_precipitation_next_3h", late, forecast=fc)
    # obs 2026-07-27T00 + i h; run 3 (07-26 12 UTC) is the latest; lead offset 12 + i.
    # 24 h window fits while 12 + i + 24 ≤ 72 → i ≤ 36; the 3 h window while i ≤ 57.
    assert np.isfinite(out24.values[36]).all() and np.isnan(out24.values[37]).all()
    np.testing.assert_allclose(out3.values[39, 0, 0], 12.0)


@pytest.mark.product("forecast_maximum_temperature_next_24h")
@pytest.mark.product("forecast_minimum_temperature_next_24h")
def test_forecast_temperature_extremes_in_the_next_24h():
    fc = forecast_runs()
    obs = observation_times()
    tmax = derive_one("forecast_maximum_temperature_next_24h", obs, forecast=fc)
    tmin = derive_one("forecast_minimum_temperature_next_24h", obs, forecast=fc)
    # obs 00 UTC (index 4), run 0: leads 1…24 → 280.1 … 282.4 K
    assert tmax.values[4, 1, 1] == pytest.approx(282.4 - 273.15, abs=1e-4)
    assert tmin.values[4, 1, 1] == pytest.approx(280.1 - 273.15, abs=1e-4)
    # obs 05 UTC (index 9), still run 0, leads 6…29 of the run
    assert tmax.values[9, 0, 0] == pytest.approx(282.9 - 273.15, abs=1e-4)
    assert tmin.values[9, 0, 0] == pytest.approx(280.6 - 273.15, abs=1e-4)
    # obs 12 UTC (index 16): run 1 (290 K + 0.1 L)
    assert tmax.values[16, 0, 0] == pytest.approx(292.4 - 273.15, abs=1e-4)
    assert (
        tmax.attrs["units"] == "degC"
        and tmax.attrs["cell_methods"] == "time: maximum (interval: 24 hour)"
    )


@pytest.mark.product("forecast_maximum_wind_speed_next_24h")
@pytest.mark.product("forecast_maximum_gust_next_24h")
@pytest.mark.product("forecast_minimum_visibility_next_12h")
def test_forecast_wind_gust_and_visibility_windows():
    fc = forecast_runs()
    obs = observation_times()
    wind = derive_one("forecast_maximum_wind_speed_next_24h", obs, forecast=fc)
    gust = derive_one("forecast_maximum_gust_next_24h", obs, forecast=fc)
    visibility = derive_one("forecast_minimum_visibility_next_12h", obs, forecast=fc)
    # obs 02 UTC (index 6), run 0, leads 3…26: wind (3, 4 + 0.1·26) → √(9 + 6.6²) = 7.2498
    assert wind.values[6, 0, 0] == pytest.approx(np.hypot(3.0, 6.6), rel=1e-5)
    assert gust.values[6, 0, 0] == pytest.approx(10.0 + 0.5 * 26)
    # leads 3…14 of run 0: minimum visibility 20000 − 100·14
    assert visibility.values[6, 0, 0] == pytest.approx(18600.0)
    # obs 13 UTC (index 17): run 1, leads 2…13 → 20000 − 1000 − 1300
    assert visibility.values[17, 0, 0] == pytest.approx(17700.0)
    # a missing hour in the window makes the window missing (never a shorter window)
    vis = fc.visibility_in_air.values.copy()
    vis[0, 10, 0, 0] = np.nan
    holed = fc.assign(
        visibility_in_air=(
            fc.visibility_in_air.dims,
            dask_array.from_array(vis, chunks=(1, 73, 2, 3)),
            {"units": "m"},
        )
    )
    out = derive_one("forecast_minimum_visibility_next_12h", obs, forecast=holed)
    # obs index 4 + j uses leads j+1…j+12 of run 0: missing while lead 10 is inside (j = 0…9)
    assert np.isnan(out.values[4:14, 0, 0]).all() and np.isfinite(out.values[14, 0, 0])
    assert np.isfinite(out.values[4:14, 1, 1]).all()


def test_latest_forecast_is_lazy_with_one_block_per_run():
    from weatherdata.products.forecast_warning.forecast_grids import latest_forecast

    fc = forecast_runs(runs=6)
    obs = observation_times(hours=80)
    fields = {name: fc[name] for name in fc.data_vars}
    out = latest_forecast(obs.time, **fields, maximum_lead=pd.Timedelta("72h"))
    data = out.air_temperature_2m.data
    assert hasattr(data, "dask")
    # one block per run (4 hours before the first run, 12 per run, the last run the rest)
    assert data.chunks[0] == (4, 12, 12, 12, 12, 12, 16) and data.chunks[1] == (72,)
    assert out.sizes["lead_time"] == 72 and out.lead_time.values[0] == np.timedelta64(1, "h")
    # value at (t, L) is the run's forecast for t + L: check one entry by hand
    t = pd.Timestamp("2026-07-25T15:00")  # run 1 (12 UTC), lead 3 + 5 = 8 h
    assert float(
        out.air_temperature_2m.sel(time=t, lead_time=pd.Timedelta("5h"))[0, 0]
    ) == pytest.approx(290.8, abs=1e-4)
    assert out.valid_time.sel(time=t, lead_time=pd.Timedelta("5h")).values == np.datetime64(
        "2026-07-25T20:00"
    )
    assert float(
        out.wind_speed_10m.sel(time=t, lead_time=pd.Timedelta("5h"))[0, 0]
    ) == pytest.approx(np.hypot(3.0, 4.8), rel=1e-5)


@pytest.mark.product("forecast_temperature_2m")
@pytest.mark.product("forecast_wind_speed_10m")
def test_forecast_fields_on_the_run_axis():
    fc = forecast_runs(runs=2, leads=7)
    obs = observation_times(hours=3)
    temperature = derive_one("forecast_temperature_2m", obs, forecast=fc)
    assert temperature.dims == ("init_time", "lead_time", "latitude", "longitude")
    assert temperature.values[1, 6, 0, 0] == pytest.approx(290.6 - 273.15, abs=1e-4)
    assert "valid_time" in temperature.coords
    speed = derive_one("forecast_wind_speed_10m", obs, forecast=fc)
    # (3, 4 + 0.1 L): 5 m/s at lead 0, and MetPy on the same input
    assert speed.values[0, 0, 0, 0] == pytest.approx(5.0)
    expected = mpcalc.wind_speed(
        fc.eastward_wind_10m.values * units("m/s"), fc.northward_wind_10m.values * units("m/s")
    ).m
    np.testing.assert_allclose(speed.values, expected, rtol=1e-6)


@pytest.mark.product("forecast_precipitation_since_initialisation")
def test_precipitation_since_initialisation():
    fc = forecast_runs(runs=2, leads=7)
    rain = fc.precipitation_amount.values.copy()
    rain[1, 3, 0, 0] = np.nan
    fc["precipitation_amount"] = (
        fc.precipitation_amount.dims,
        dask_array.from_array(rain),
        {"units": "mm"},
    )
    out = derive_one(
        "forecast_precipitation_since_initialisation", observation_times(hours=3), forecast=fc
    )
    np.testing.assert_allclose(out.values[0, :, 1, 1], [0, 1, 2, 3, 4, 5, 6])
    np.testing.assert_allclose(out.values[1, :3, 0, 0], [0, 2, 4])
    assert np.isnan(out.values[1, 3:, 0, 0]).all()  # a missing step: later leads missing
    np.testing.assert_allclose(out.values[1, :, 1, 1], [0, 2, 4, 6, 8, 10, 12])


@pytest.mark.product("forecast_temperature_2m_change_from_previous_run")
def test_run_to_run_change_at_the_same_valid_time():
    # run k at lead L: 280 + 10k + 0.1L; the previous run valid at the same time is at
    # lead L + 12: 280 + 10(k−1) + 0.1(L + 12) → change = 10 − 1.2 = 8.8 K.
    fc = forecast_runs(runs=3, leads=25)
    out = derive_one(
        "forecast_temperature_2m_change_from_previous_run", observation_times(hours=3), forecast=fc
    )
    assert np.isnan(out.values[0]).all()
    np.testing.assert_allclose(out.values[1:, :13], 8.8, atol=1e-4)
    assert np.isnan(out.values[1:, 13:]).all()  # the previous run ends at lead 24
    assert out.attrs["units"] == "K"
    # an irregular run interval (18 h) still pairs the right leads: 10 − 1.8 = 8.2 K
    irregular = fc.assign_coords(
        init_time=pd.DatetimeIndex(["2026-07-25T00", "2026-07-25T18", "2026-07-26T06"])
    )
    out = derive_one(
        "forecast_temperature_2m_change_from_previous_run",
        observation_times(hours=3),
        forecast=irregular,
    )
    np.testing.assert_allclose(out.values[1, :7], 8.2, atol=1e-4)
    np.testing.assert_allclose(out.values[2, :13], 8.8, atol=1e-4)


@pytest.mark.parametrize(
    "every, lead_step, leads",
    [("6h", "1h", 25), ("12h", "3h", 9), ("12h", "1h", 5), ("3h", "1h", 4)],
)
@pytest.mark.parametrize("chunks", [2, {0: 1, 1: -1}], ids=["any chunks", "a block per run"])
def test_previous_run_by_one_shift_equals_run_by_run(every, lead_step, leads, chunks):
    """Runs at one interval, a whole number of lead steps: one shift gives what the
    reindex of each run gives (including runs whose previous run ends before them),
    whether the runs come in any chunks or one block per run with its leads whole (a
    file per run: the shift is one task per run)."""
    from weatherdata.products.forecast_warning.forecast_grids import (
        _previous_run,
        _previous_run_by_run,
    )

    rng = np.random.default_rng(0)
    field = xr.DataArray(
        dask_array.from_array(rng.normal(size=(5, leads, 2, 3)).astype(np.float32), chunks=chunks),
        dims=("init_time", "lead_time", "latitude", "longitude"),
        coords={
            "init_time": pd.date_range("2026-07-25", periods=5, freq=every),
            "lead_time": pd.timedelta_range(0, periods=leads, freq=lead_step),
        },
    )
    by_run = _previous_run_by_run(field)
    for form in (field, field.compute(), field.transpose("lead_time", "longitude", ...)):
        shifted = _previous_run(form)  # lazy, in memory, the runs' axes in another order
        assert shifted.dtype == by_run.dtype == np.float32
        assert shifted.dims == form.dims
        assert (shifted.chunks is None) == (form.chunks is None)  # lazy stays lazy
        np.testing.assert_array_equal(shifted.transpose(*field.dims).values, by_run.values)
    assert np.isfinite(by_run.values[1:]).any() or leads * pd.Timedelta(lead_step) <= pd.Timedelta(
        every
    )


# -- end to end on the demo -----------------------------------------------------------------

#: Plausible ranges on the summer demo (in the catalog units).
DEMO_RANGES = {
    "relative_vorticity_500hpa": (-5e-3, 5e-3),
    "divergence_200hpa": (-3e-3, 3e-3),
    "moisture_flux_divergence_850hpa": (-1e-4, 1e-4),
    "temperature_advection_850hpa": (-5, 5),
    "frontogenesis_850hpa": (-1e-7, 1e-7),
    "low_level_jet": (0, 1),
    "subtropical_high_indices": (0, 180),
    "surface_convergence_10m": (-5e-3, 5e-3),
    "precipitation_type": (0, 6),
    "cold_wave_grade": (0, 0),  # summer
    "tropical_cyclone_intensity_grade": (0, 6),
    "nowcast_reflectivity_30min": (10, 75),
    "nowcast_reflectivity_60min": (10, 75),
    "nowcast_reflectivity_120min": (10, 75),
    "nowcast_precipitation_rate_30min": (0, 110),
    "nowcast_precipitation_rate_60min": (0, 110),
    "nowcast_precipitation_rate_120min": (0, 110),
    "forecast_precipitation_next_3h": (0, 500),
    "forecast_precipitation_next_6h": (0, 800),
    "forecast_precipitation_next_12h": (0, 1000),
    "forecast_precipitation_next_24h": (0, 1200),
    "forecast_maximum_temperature_next_24h": (5, 45),
    "forecast_minimum_temperature_next_24h": (0, 35),
    "forecast_maximum_wind_speed_next_24h": (0, 80),
    "forecast_maximum_gust_next_24h": (0, 100),
    "forecast_minimum_visibility_next_12h": (0, 100_000),
    "forecast_temperature_2m": (0, 45),
    "forecast_wind_speed_10m": (0, 80),
    "forecast_precipitation_since_initialisation": (0, 3000),
    "forecast_temperature_2m_change_from_previous_run": (-20, 20),
}


@pytest.mark.slow
def test_every_product_computes_plausibly_on_the_demo(demo_directory):
    fragment = catalog_section("forecast_grids")
    ids = [entry["id"] for entry in fragment["products"]]
    assert set(ids) == set(DEMO_RANGES)
    from weatherdata.ingest import open_inputs

    observations, forecast = open_inputs(demo_directory)  # reads every file once
    observations = observations.isel(time=slice(0, 96))  # convection, fog, typhoon landfall
    out = weatherdata.derive(observations, ids, forecast=forecast)
    assert all(hasattr(out[pid].data, "dask") for pid in ids)
    out = out.compute()
    for pid, (low, high) in DEMO_RANGES.items():
        values = out[pid].values
        finite = values[np.isfinite(values)]
        assert finite.size > 0.5 * values.size, f"{pid}: mostly missing"
        assert low <= finite.min() and finite.max() <= high, f"{pid}: {finite.min()}…{finite.max()}"
    # the typhoon (vmax ≈ 42 m/s before landfall) is graded up to severe typhoon near its centre
    assert out["tropical_cyclone_intensity_grade"].max() >= 4
    # convection and rain bands: echoes ≥ 35 dBZ in the nowcasts, rain in the forecast windows
    assert (out["nowcast_reflectivity_60min"] >= 35).any() and out[
        "forecast_precipitation_next_24h"
    ].max() > 50


@pytest.fixture(scope="module")
def fine_demo(tmp_path_factory):
    """The demo at 0.1° (the radar field resolves the cells), the two convective days."""
    from weatherdata.demo import write_demo

    out = tmp_path_factory.mktemp("demo_fine")
    write_demo(out, resolution=0.1, days=2)
    return out


@pytest.mark.slow
@pytest.mark.product("nowcast_reflectivity_60min")
@pytest.mark.product("nowcast_reflectivity_120min")
def test_nowcasts_beat_persistence_on_the_demo(fine_demo):
    # CSI at 35 dBZ over every time whose verifying observation exists (the demo is hourly:
    # +30 min is never observed, so +60 and +120 min are verified). A missing nowcast cell
    # (inflow from outside the domain) counts as "no event", i.e. against the nowcast.
    observations = weatherdata.open_observations(fine_demo)
    ids = ["nowcast_reflectivity_60min", "nowcast_reflectivity_120min"]
    out = weatherdata.derive(observations, ids).compute()
    composite = observations.radar_reflectivity.max("height").compute().values

    def csi(forecast, observed, threshold=35.0):
        predicted = np.nan_to_num(forecast, nan=-np.inf) >= threshold
        occurred = observed >= threshold
        hits = (predicted & occurred).sum()
        return hits / (hits + (~predicted & occurred).sum() + (predicted & ~occurred).sum())

    for pid, hours in zip(ids, (1, 2), strict=True):
        nowcast = csi(out[pid].values[:-hours], composite[hours:])
        persistence = csi(composite[:-hours], composite[hours:])
        assert nowcast > persistence + 0.03, (
            f"{pid}: CSI {nowcast:.3f} vs persistence {persistence:.3f}"
        )
