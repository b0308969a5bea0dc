"""Reference values for the thermal-comfort, heat/cold-stress and public-index products
(candidate rows 163–195, fragment ``catalog.d/service_public.yaml``).

Published tables (NWS heat-index and wind-chill charts, Environment Canada humidex), the
libraries on the same inputs (MetPy, thermofeel, xclim), hand-computed cases for the
hand-written formulas, and every class boundary of the rule tables, exactly at and around
it. Boundary tests call the recipes directly on float64 inputs in the units the rule is
written in (so that "≥ 35 °C" is tested at 35 °C, not at a float32 kelvin neighbour);
reference tests go through the engine on lazy inputs.
"""

from __future__ import annotations

import dask.array as dask_array
import metpy.calc as mpcalc
import numpy as np
import pandas as pd
import pytest
import thermofeel
import xarray as xr
from metpy.units import units
from weatherdata.products.service import (
    atmospheric_dispersion,
    chinese_comfort,
    public_helpers,
    public_indices,
    thermal_comfort,
)

from tests.helpers import catalog_section, derive_one, grid_dataset
from weatherdata.compute import quantity
from weatherdata.variables import canonical_variables

SIGMA = 5.670374419e-8


def fahrenheit_to_kelvin(f):
    return (np.asarray(f, dtype=float) - 32) * 5 / 9 + 273.15


def celsius_to_fahrenheit(c):
    return np.asarray(c, dtype=float) * 9 / 5 + 32


def cases(times: int = 1, **variables) -> xr.Dataset:
    """One row of grid points, one scenario per column; lists become the columns."""
    n = max(len(v) for v in variables.values() if np.ndim(v))
    spec = canonical_variables()
    out = {}
    for name, value in variables.items():
        value = np.broadcast_to(np.asarray(value, dtype=float), (n,))
        if "time" in spec[name].dims:
            out[name] = np.broadcast_to(value, (times, 1, n)).copy()
        else:
            out[name] = value.reshape(1, n)
    return grid_dataset(out, times=times, shape=(1, n))


def hourly(
    values, unit: str, *, start: str = "2026-07-01T01:00", lazy: bool = False
) -> xr.DataArray:
    """An hourly (time, latitude, longitude) field in float64: rows are hours, columns scenarios."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    data = values[:, None, :]
    if lazy:
        data = dask_array.from_array(data, chunks=data.shape)
    return xr.DataArray(
        data,
        dims=("time", "latitude", "longitude"),
        coords={
            "time": pd.date_range(start, periods=values.shape[0], freq="h"),
            "latitude": [22.5],
            "longitude": 113.0 + 0.1 * np.arange(values.shape[1]),
        },
        attrs={"units": unit},
    )


def columns(*per_column, hours: int) -> np.ndarray:
    """(hours, columns) array from per-column scalars or per-hour sequences."""
    return np.stack(
        [np.broadcast_to(np.asarray(c, dtype=float), (hours,)) for c in per_column], axis=1
    )


def values(result: xr.DataArray, day: int | None = None) -> np.ndarray:
    result = result.compute()
    if day is not None:
        result = result.isel(day=day)
    return np.asarray(result).reshape(-1) if day is not None else np.asarray(result)


# -- the fragment ---------------------------------------------------------------------------------


def test_fragment_declares_the_33_products_of_rows_163_to_195():
    fragment = catalog_section("service_public")
    ids = [entry["id"] for entry in fragment["products"]]
    assert len(ids) == 33 and len(set(ids)) == 33
    assert fragment["intermediates"] == []
    assert all(entry["family"] == "service" for entry in fragment["products"])
    for entry in fragment["products"]:
        if entry.get("local_rule"):
            assert entry["categories"] and all(c.get("definition") for c in entry["categories"]), (
                entry["id"]
            )
            rules = [p for p in entry["parameters"].values() if p["source"] == "PUB_LOCAL_RULE"]
            assert not any(p["verified"] for p in rules), entry["id"]
            assert sum(not p["verified"] for p in entry["parameters"].values()) >= 2, entry["id"]
        if entry.get("time", {}).get("kind") == "daily":
            assert "day_definition" in entry["parameters"], entry["id"]


# -- NWS (MetPy) -------------------------------------------------------------------------------------

# NWS heat index chart (www.weather.gov/safety/heat-index): (°F, %RH) -> heat index (°F, rounded).
NWS_HEAT_INDEX_CHART = [
    (80, 40, 80),
    (84, 70, 90),
    (86, 85, 102),
    (88, 90, 113),
    (90, 60, 100),
    (92, 50, 99),
    (96, 65, 121),
    (100, 40, 109),
    (104, 55, 137),
]


@pytest.mark.product("heat_index")
def test_heat_index_reproduces_the_nws_chart_and_metpy():
    t_f, rh, chart = (np.array(c, dtype=float) for c in zip(*NWS_HEAT_INDEX_CHART, strict=True))
    out = derive_one(
        "heat_index", cases(air_temperature_2m=fahrenheit_to_kelvin(t_f), relative_humidity_2m=rh)
    )
    np.testing.assert_allclose(celsius_to_fahrenheit(out.values.ravel()), chart, atol=0.5)
    assert out.attrs["units"] == "degC"
    # Adjustment branches (RH < 13 %, RH > 85 % at 80–87 °F), the simple form, ≤ 40 °F, missing.
    t_f = np.array([100.0, 84.0, 70.0, 30.0, np.nan, 95.0])
    rh = np.array([10.0, 90.0, 50.0, 50.0, 50.0, np.nan])
    out = derive_one(
        "heat_index", cases(air_temperature_2m=fahrenheit_to_kelvin(t_f), relative_humidity_2m=rh)
    )
    expected = mpcalc.heat_index(
        fahrenheit_to_kelvin(t_f[:4]) * units.K, rh[:4] * units.percent, mask_undefined=False
    )
    np.testing.assert_allclose(out.values.ravel()[:4], expected.m_as("degC"), atol=2e-3)
    assert out.values.ravel()[3] == pytest.approx((30 - 32) * 5 / 9, abs=2e-3)
    assert np.isnan(out.values.ravel()[4:]).all()


# NWS wind chill chart (2001): (°F, mph) -> wind chill (°F, rounded).
NWS_WIND_CHILL_CHART = [
    (40, 5, 36),
    (30, 10, 21),
    (20, 5, 13),
    (0, 15, -19),
    (0, 30, -26),
    (-10, 20, -35),
    (-20, 10, -41),
    (-20, 20, -48),
]


@pytest.mark.product("wind_chill_temperature")
def test_wind_chill_reproduces_the_nws_chart_and_is_missing_where_undefined():
    t_f, mph, chart = (np.array(c, dtype=float) for c in zip(*NWS_WIND_CHILL_CHART, strict=True))
    ds = cases(
        air_temperature_2m=fahrenheit_to_kelvin(t_f),
        eastward_wind_10m=mph * 0.44704,
        northward_wind_10m=0.0,
    )
    out = derive_one("wind_chill_temperature", ds)
    np.testing.assert_allclose(celsius_to_fahrenheit(out.values.ravel()), chart, atol=0.5)
    expected = mpcalc.windchill(fahrenheit_to_kelvin(t_f) * units.K, mph * units.mph)
    np.testing.assert_allclose(out.values.ravel(), expected.m_as("degC"), atol=2e-3)
    # Undefined: above 10 °C, or wind at or below 3 mph (4.8 km/h); missing input.
    ds = cases(
        air_temperature_2m=[284.15, 273.15, 273.15, np.nan],
        eastward_wind_10m=[5.0, 1.3, 2.0, 5.0],
        northward_wind_10m=0.0,
    )
    out = derive_one("wind_chill_temperature", ds).values.ravel()
    assert np.isnan(out[[0, 1, 3]]).all() and np.isfinite(out[2])


@pytest.mark.product("apparent_temperature")
def test_apparent_temperature_switches_like_metpy():
    t = np.array([35.0, 0.0, 20.0]) + 273.15
    rh = np.array([60.0, 80.0, 50.0])
    wind = np.array([2.0, 5.0, 3.0])
    out = derive_one(
        "apparent_temperature",
        cases(
            air_temperature_2m=t,
            relative_humidity_2m=rh,
            eastward_wind_10m=wind,
            northward_wind_10m=0.0,
        ),
    )
    out = out.values.ravel()
    expected = mpcalc.apparent_temperature(
        t * units.K, rh * units.percent, wind * units("m/s"), mask_undefined=False
    )
    np.testing.assert_allclose(out, expected.m_as("degC"), atol=2e-3)
    assert out[0] == pytest.approx(
        mpcalc.heat_index(t[0] * units.K, rh[0] * units.percent).m_as("degC"), abs=2e-3
    )
    assert out[1] == pytest.approx(
        mpcalc.windchill(t[1] * units.K, wind[1] * units("m/s")).m_as("degC"), abs=2e-3
    )
    assert out[2] == pytest.approx(20.0, abs=1e-4)  # neither hot nor cold: the air temperature


# -- thermofeel indices ----------------------------------------------------------------------------


@pytest.mark.product("steadman_apparent_temperature")
def test_steadman_apparent_temperature_hand_computed():
    # AT = T + 0.33 e − 0.70 v − 4, e = RH/100 · 6.105 exp(17.27 T / (237.7 + T)):
    # 30 °C, 60 %, 2 m/s: e = 25.3723 hPa → 32.9729 °C; 5 °C, 80 %, 6 m/s → −0.8996 °C.
    ds = cases(
        air_temperature_2m=[303.15, 278.15, np.nan],
        relative_humidity_2m=[60.0, 80.0, 60.0],
        eastward_wind_10m=[2.0, 6.0, 2.0],
        northward_wind_10m=0.0,
    )
    out = derive_one("steadman_apparent_temperature", ds).values.ravel()
    np.testing.assert_allclose(out[:2], [32.9729, -0.8996], atol=2e-3)
    assert np.isnan(out[2])


@pytest.mark.product("humidex")
def test_humidex_environment_canada_example_and_xclim():
    import xclim.indices

    t = np.array([30.0, 35.0, 25.0, 30.0]) + 273.15
    td = np.array([15.0, 25.0, 20.0, np.nan]) + 273.15
    out = derive_one(
        "humidex", cases(air_temperature_2m=t, dewpoint_temperature_2m=td)
    ).values.ravel()
    # Environment Canada humidex table: 30 °C air, 15 °C dewpoint → 34.
    assert round(out[0]) == 34 and out[0] == pytest.approx(33.976, abs=2e-3)
    tas = xr.DataArray(t[:3], dims="x", attrs={"units": "K"})
    tdps = xr.DataArray(td[:3], dims="x", attrs={"units": "K"})
    reference = xclim.indices.humidex(tas, tdps).values - 273.15
    np.testing.assert_allclose(out[:3], reference, atol=0.05)
    assert np.isnan(out[3])


@pytest.mark.product("simplified_wet_bulb_globe_temperature")
def test_simplified_wbgt_hand_computed():
    # 0.567·30 + 0.393·25.3723 + 3.94 = 30.9213 °C.
    out = derive_one(
        "simplified_wet_bulb_globe_temperature",
        cases(air_temperature_2m=[303.15, np.nan], relative_humidity_2m=60.0),
    )
    assert out.values.ravel()[0] == pytest.approx(30.9213, abs=2e-3)
    assert np.isnan(out.values.ravel()[1])


@pytest.mark.product("normal_effective_temperature")
def test_normal_effective_temperature_hand_computed():
    # v(1.2 m) = 2·log10(1.2/0.01)/log10(10/0.01) = 1.38612 m/s;
    # NET = 37 − 7/(0.68 − 0.084 + 1/(1.76 + 1.4·1.38612^0.75)) − 0.29·30·0.4 = 25.5456 °C.
    ds = cases(
        air_temperature_2m=[303.15, 303.15],
        relative_humidity_2m=[60.0, np.nan],
        eastward_wind_10m=2.0,
        northward_wind_10m=0.0,
    )
    out = derive_one("normal_effective_temperature", ds).values.ravel()
    assert out[0] == pytest.approx(25.5456, abs=2e-3) and np.isnan(out[1])


# -- solar geometry, mean radiant temperature, UTCI, WBGT ------------------------------------------


def xclim_cos_zenith(times, latitude, longitude):
    """xclim's instantaneous cosine of the solar zenith angle (an independent implementation)."""
    from xclim.indices.helpers import (
        cosine_of_solar_zenith_angle,
        solar_declination,
        time_correction_for_solar_angle,
    )

    # xclim converts times to seconds assuming nanoseconds: give it nanoseconds (pandas 3
    # creates microsecond indexes, on which xclim 0.62's solar angle is silently wrong).
    time = xr.DataArray(pd.DatetimeIndex(times).as_unit("ns"), dims="time", name="time")
    time = time.assign_coords(time=time)
    latitude, longitude = np.broadcast_arrays(np.atleast_1d(latitude), np.atleast_1d(longitude))
    lat = xr.DataArray(latitude, dims="site", attrs={"units": "degree_north"})
    lon = xr.DataArray(longitude, dims="site", attrs={"units": "degree_east"})
    cosine = cosine_of_solar_zenith_angle(
        time,
        solar_declination(time),
        lat,
        lon=lon,
        time_correction=time_correction_for_solar_angle(time),
        stat="instant",
    )
    return cosine.transpose("time", "site").values


def test_cosine_of_the_solar_zenith_angle_matches_xclim():
    field = hourly(np.zeros((48, 4)), "1", start="2026-07-25T00:00")
    ours = public_helpers.cos_solar_zenith_angle(field).compute()
    assert hasattr(public_helpers.cos_solar_zenith_angle(field).data, "dask")
    reference = xclim_cos_zenith(field.time.values, np.full(4, 22.5), field.longitude.values)
    np.testing.assert_allclose(ours.values[:, 0, :], reference, atol=0.01)
    # Beijing noon (04 UTC) near the summer solstice at 22.5 °N: the sun is almost overhead.
    assert ours.values[4, 0, 0] > 0.98 and ours.values[16, 0, 0] == 0.0


def sunny_dataset(*, times=4, start="2026-07-25T04:00", **extra):
    """Hourly radiation around Beijing noon: 800 W m-2 down, 600 direct, 420 longwave."""
    base = {
        "air_temperature_2m": 303.15,
        "dewpoint_temperature_2m": 297.15,
        "relative_humidity_2m": 70.0,
        "surface_air_pressure": 1005.0,
        "eastward_wind_10m": 2.0,
        "northward_wind_10m": 0.0,
        "surface_downwelling_shortwave_flux": 800.0,
        "surface_direct_downwelling_shortwave_flux": 600.0,
        "surface_downwelling_longwave_flux": 420.0,
        "surface_albedo": 0.2,
    }
    base.update(extra)
    return grid_dataset(base, times=times, start=start, shape=(1, 2))


def mid_step_cosine(ds):
    mid = pd.DatetimeIndex(ds.time.values) - pd.Timedelta("30min")
    return xclim_cos_zenith(mid, ds.latitude.values[0], ds.longitude.values)


@pytest.mark.product("mean_radiant_temperature")
def test_mean_radiant_temperature_night_equilibrium_and_thermofeel_by_day():
    # Night, no shortwave, black-body sky at the air temperature: T_mrt = T_a.
    ds = cases(
        times=2,
        air_temperature_2m=[300.0, np.nan],
        surface_downwelling_shortwave_flux=0.0,
        surface_direct_downwelling_shortwave_flux=0.0,
        surface_downwelling_longwave_flux=SIGMA * 300.0**4,
        surface_albedo=0.2,
    )
    out = derive_one("mean_radiant_temperature", ds).values[:, 0, :]
    np.testing.assert_allclose(out[:, 0], 26.85, atol=0.02)
    assert np.isnan(out[:, 1]).all()
    # By day: thermofeel on the same inputs, with xclim's solar angle at mid-step.
    ds = sunny_dataset()
    out = derive_one("mean_radiant_temperature", ds).values[:, 0, :]
    cosine = mid_step_cosine(ds)
    lw_up = 0.97 * SIGMA * 303.15**4 + 0.03 * 420.0
    dsrp = thermofeel.approximate_dsrp(np.full(cosine.shape, 600.0), cosine)
    expected = (
        thermofeel.calculate_mean_radiant_temperature(
            800.0, 640.0, dsrp, 420.0, 600.0, 420.0 - lw_up, cosine
        )
        - 273.15
    )
    np.testing.assert_allclose(out, expected, atol=0.3)
    assert (out > 45).all()  # the midday sun on a standing person


@pytest.mark.product("universal_thermal_climate_index")
def test_utci_matches_xclim_on_the_same_inputs():
    import xclim.indices

    t = np.array([30.0, 10.0, 35.0, 25.0, 25.0, 25.0]) + 273.15
    td = np.array([22.0, 0.0, 25.0, 15.0, 15.0, 15.0]) + 273.15
    wind = np.array([2.0, 6.0, 1.0, 0.2, 0.5, 20.0])
    ds = cases(
        air_temperature_2m=t,
        dewpoint_temperature_2m=td,
        eastward_wind_10m=wind,
        northward_wind_10m=0.0,
        surface_downwelling_shortwave_flux=0.0,
        surface_direct_downwelling_shortwave_flux=0.0,
        surface_downwelling_longwave_flux=SIGMA * t**4,
        surface_albedo=0.2,
    )
    out = derive_one("universal_thermal_climate_index", ds).values.ravel()
    rh = mpcalc.relative_humidity_from_dewpoint(t * units.K, td * units.K).m_as("percent")
    reference = xclim.indices.universal_thermal_climate_index(
        xr.DataArray(t[:5], dims="x", attrs={"units": "K"}),
        xr.DataArray(rh[:5], dims="x", attrs={"units": "%"}),
        xr.DataArray(wind[:5], dims="x", attrs={"units": "m s-1"}),
        mrt=xr.DataArray(t[:5], dims="x", attrs={"units": "K"}),
        wind_cap_min=True,
    )
    reference = (reference.values * units(reference.attrs["units"])).m_as("degC")
    np.testing.assert_allclose(out[:5], reference, atol=0.3)
    assert out[3] == pytest.approx(out[4], abs=1e-4)  # calm air is raised to 0.5 m/s
    assert np.isnan(out[5])  # 20 m/s is outside the regression


@pytest.mark.product("wet_bulb_globe_temperature")
def test_liljegren_wbgt_matches_thermofeel_and_the_night_psychrometer():
    ds = sunny_dataset()
    out = derive_one("wet_bulb_globe_temperature", ds).values[:, 0, :]
    cosine = mid_step_cosine(ds)
    expected = thermofeel.calculate_wbgt_liljegren(
        np.full(cosine.shape, 303.15), np.full(cosine.shape, 70.0), np.full(cosine.shape, 1005.0), np.full(cosine.shape, 2.0),
        np.full(cosine.shape, 800.0), np.full(cosine.shape, 0.75), cosine,
    ) - 273.15  # fmt: skip
    np.testing.assert_allclose(out, expected, atol=0.1)
    # At night in a breeze, WBGT ≈ 0.7 Tw + 0.3 Ta (globe close to air, natural ≈ psychrometric wet bulb).
    night = sunny_dataset(
        start="2026-07-25T16:00",
        times=2,
        eastward_wind_10m=5.0,
        surface_downwelling_shortwave_flux=0.0,
        surface_direct_downwelling_shortwave_flux=0.0,
        air_temperature_2m=[[[303.15, np.nan]]],
    )
    out = derive_one("wet_bulb_globe_temperature", night).values[:, 0, :]
    wet_bulb = mpcalc.wet_bulb_temperature(
        1005 * units.hPa, 303.15 * units.K, 297.15 * units.K
    ).m_as("degC")
    np.testing.assert_allclose(out[:, 0], 0.7 * wet_bulb + 0.3 * 30.0, atol=1.0)
    assert np.isnan(out[:, 1]).all()


@pytest.mark.product("heat_force_scale")
def test_heat_force_bands_at_and_around_every_boundary():
    wbgt = [13.99, 14.0, 15.99, 16.0, 17.99, 18.0, 19.99, 20.0, 21.99, 22.0, 23.99, 24.0]
    wbgt += [25.99, 26.0, 27.99, 28.0, 29.99, 30.0, 31.99, 32.0, 45.0, np.nan]
    expected = [0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, np.nan]
    field = xr.DataArray(np.array(wbgt), dims="x", attrs={"units": "degC"})
    np.testing.assert_array_equal(thermal_comfort.heat_force_scale(field).values, expected)
    # Through the engine, from the Liljegren WBGT.
    ds = sunny_dataset()
    both = {
        pid: derive_one(pid, ds).values
        for pid in ("wet_bulb_globe_temperature", "heat_force_scale")
    }
    np.testing.assert_array_equal(
        both["heat_force_scale"],
        np.clip(np.floor((both["wet_bulb_globe_temperature"] - 14) / 2) + 1, 0, 10),
    )


# -- Chinese comfort indices ----------------------------------------------------------------------------


@pytest.mark.product("temperature_humidity_index")
def test_temperature_humidity_index_hand_computed_and_fahrenheit_form():
    # 30 °C, 60 %: I = 30 − 0.55·0.4·15.6 = 26.568 °C. Thom's °F form: 86 − 0.22·28 = 79.84 °F
    # = 26.578 °C (58 °F is 14.44 °C, the standard rounds it to 14.4).
    out = derive_one(
        "temperature_humidity_index",
        cases(
            air_temperature_2m=[303.15, 283.15, np.nan], relative_humidity_2m=[60.0, 100.0, 60.0]
        ),
    )
    out = out.values.ravel()
    assert out[0] == pytest.approx(26.568, abs=2e-3)
    assert out[0] == pytest.approx((79.84 - 32) / 1.8, abs=0.02)
    assert out[1] == pytest.approx(10.0, abs=2e-3)  # saturated air: the air temperature
    assert np.isnan(out[2])


def day_series(hours_per_day=24, days=1, **variables):
    """Hourly canonical data for whole UTC days (from 01:00, so each day is complete)."""
    return grid_dataset(
        variables,
        times=hours_per_day * days,
        start="2026-07-25T01:00",
        shape=(1, _width(variables)),
    )


def _width(variables):
    return max(np.shape(v)[-1] if np.ndim(v) else 1 for v in variables.values())


def sunshine_direct(times, latitude, longitude):
    """Direct horizontal radiation 600·cos θz where xclim's mid-step cosine exceeds 0.5
    (direct normal 600 W m-2, sunny), 0 elsewhere; and the number of sunny hours."""
    mid = pd.DatetimeIndex(times) - pd.Timedelta("30min")
    cosine = xclim_cos_zenith(mid, latitude, longitude)[:, 0]
    sunny = cosine > 0.5
    return np.where(sunny, 600.0 * cosine, 0.0), int(sunny.sum())


@pytest.mark.product("wind_effect_index")
def test_wind_effect_index_hand_computed_with_and_without_sunshine():
    times = pd.date_range("2026-07-25T01:00", periods=24, freq="h")
    direct, sunny_hours = sunshine_direct(times, 22.0, 113.0)
    assert 6 <= sunny_hours <= 10
    ds = day_series(
        air_temperature_2m=293.15,
        eastward_wind_10m=2.0,
        northward_wind_10m=0.0,
        surface_direct_downwelling_shortwave_flux=np.stack([np.zeros(24), direct], axis=1)[
            :, None, :
        ],
    )
    out = derive_one("wind_effect_index", ds, parameters={"day_definition": "utc"})
    # K = −(10√2 + 10.45 − 2)(33 − 20) = −293.698; with S hours of sunshine + 8.55·S.
    np.testing.assert_allclose(
        out.values[0, 0], [-293.698, -293.698 + 8.55 * sunny_hours], atol=0.01
    )
    assert out.dims == ("day", "latitude", "longitude")


def test_sunshine_counts_the_wmo_direct_normal_threshold():
    times = pd.date_range("2026-07-25T01:00", periods=6, freq="h")
    cosine = xclim_cos_zenith(pd.DatetimeIndex(times) - pd.Timedelta("30min"), 22.5, 113.0)[:, 0]
    direct = np.stack(
        [118.0 * cosine, 122.0 * cosine, np.where(np.arange(6) == 2, np.nan, 200.0 * cosine)],
        axis=1,
    )
    sunshine = public_helpers.sunshine_duration(
        hourly(direct, "W m-2", start="2026-07-25T01:00"), "120 W m-2"
    ).values[:, 0, :]
    np.testing.assert_array_equal(sunshine[:, 0], 0.0)
    np.testing.assert_array_equal(sunshine[:, 1], 1.0)
    assert np.isnan(sunshine[2, 2]) and (np.delete(sunshine[:, 2], 2) == 1.0).all()


def test_climate_comfort_grades_at_and_around_every_bound():
    thi_bounds = [14.0, 17.0, 25.5, 27.5]
    thi = [13.99, 14.0, 16.99, 17.0, 25.49, 25.5, 27.5, 27.51, np.nan]
    np.testing.assert_array_equal(
        chinese_comfort.grade_temperature_humidity_index(thi, thi_bounds),
        [1, 2, 2, 3, 3, 4, 4, 5, np.nan],
    )
    k_bounds = [-400.0, -300.0, -100.0, -10.0]
    k = [-400.01, -400.0, -300.01, -300.0, -100.0, -99.99, -10.0, -9.99]
    np.testing.assert_array_equal(
        chinese_comfort.grade_wind_effect_index(k, k_bounds), [1, 2, 2, 3, 3, 4, 4, 5]
    )
    combined = chinese_comfort._combined_grade(
        np.array([5, 3, 2, 4, 3, 1]), np.array([1, 4, 1, 5, 3, 2])
    )
    np.testing.assert_array_equal(combined, [5, 4, 1, 5, 3, 1])


@pytest.mark.product("climate_comfort_grade")
def test_climate_comfort_grade_hand_computed_days():
    # (T °C, RH %, V m/s), no sunshine:
    #   20, 50, 2: THI 18.46 (3), K −293.7 (3) → 3
    #   30, 80, 2: THI 28.28 (5), K −67.8 (4) → 5
    #   5, 60, 6:  THI 7.07 (1),  K −810 (1) → 1
    #   15, 50, 8: THI 14.84 (2), K −553 (1) → 1 (K is further from comfortable)
    ds = day_series(
        air_temperature_2m=np.array([20.0, 30.0, 5.0, 15.0, np.nan]) + 273.15,
        relative_humidity_2m=[50.0, 80.0, 60.0, 50.0, 50.0],
        eastward_wind_10m=[2.0, 2.0, 6.0, 8.0, 2.0],
        northward_wind_10m=0.0,
        surface_direct_downwelling_shortwave_flux=0.0,
    )
    out = derive_one("climate_comfort_grade", ds, parameters={"day_definition": "utc"})
    np.testing.assert_array_equal(out.values[0, 0], [3, 5, 1, 1, np.nan])
    assert list(out.attrs["flag_values"]) == [1, 2, 3, 4, 5]


@pytest.mark.product("human_comfort_level")
def test_human_comfort_level_hand_computed_and_table_bounds():
    # ssd(25 °C, 60 %, 2 m/s) = 63.63·1.0 − 0.35 − 6.4 + 18.2 = 75.08 → 75 → +1;
    # ssd(10, 50, 3) = 43.60 → −2; ssd(30, 80, 1) = 90.50 → +4; ssd(0, 50, 5) = 19.31 → −4.
    ds = day_series(
        air_temperature_2m=np.array([25.0, 10.0, 30.0, 0.0, 46.0]) + 273.15,
        relative_humidity_2m=[60.0, 50.0, 80.0, 50.0, 50.0],
        eastward_wind_10m=[2.0, 3.0, 1.0, 5.0, 1.0],
        northward_wind_10m=0.0,
    )
    out = derive_one("human_comfort_level", ds, parameters={"day_definition": "utc"})
    np.testing.assert_array_equal(
        out.values[0, 0], [1, -2, 4, -4, np.nan]
    )  # undefined at t ≥ 45 °C
    bounds = [26, 39, 51, 59, 71, 76, 80, 86]
    ssd = [
        25.49,
        25.5,
        38.49,
        38.5,
        50.49,
        50.5,
        58.49,
        58.5,
        70.49,
        70.5,
        75.49,
        75.5,
        79.49,
        79.5,
        85.49,
        85.5,
        95.0,
        np.nan,
    ]
    expected = [-4, -3, -3, -2, -2, -1, -1, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, np.nan]
    np.testing.assert_array_equal(chinese_comfort.comfort_level_from_index(ssd, bounds), expected)


@pytest.mark.product("missenard_effective_temperature")
def test_missenard_effective_temperature_hand_computed():
    # TE = T − 0.4(T − 10)(1 − RH/100): 30 °C 60 % → 26.8; 0 °C 50 % → 2.0; 10 °C → 10.
    ds = cases(
        air_temperature_2m=np.array([30.0, 0.0, 10.0, np.nan]) + 273.15,
        relative_humidity_2m=[60.0, 50.0, 30.0, 50.0],
    )
    out = derive_one("missenard_effective_temperature", ds).values.ravel()
    np.testing.assert_allclose(out[:3], [26.8, 2.0, 10.0], atol=2e-3)
    assert np.isnan(out[3])


# -- excess heat and cold -------------------------------------------------------------------------------


def with_climatology(ds, **by_day_of_year):
    days = np.arange(1, 367)
    shape = (366, ds.sizes["latitude"], ds.sizes["longitude"])
    for name, value in by_day_of_year.items():
        data = dask_array.from_array(
            np.full(shape, value, dtype=np.float32), chunks=(100, *shape[1:])
        )
        ds[name] = xr.DataArray(
            data,
            dims=("dayofyear", "latitude", "longitude"),
            coords={"dayofyear": days},
            attrs={"units": "K"},
        )
    return ds


def expected_excess(daily_means, normal, threshold, heat=True):
    """Nairn & Fawcett on a plain list, labelled by the last day of the three-day window."""
    record = {j: m for j, m in enumerate(daily_means)}
    out = []
    for d in range(len(daily_means)):
        if d < 2:
            out.append(np.nan)
            continue
        t3 = np.mean([record[d - 2], record[d - 1], record[d]])
        t30 = np.mean([record.get(i, normal) for i in range(d - 32, d - 2)])
        sig, accl = t3 - threshold, t3 - t30
        out.append(sig * max(1.0, accl) if heat else -sig * min(-1.0, accl))
    return np.array(out)


@pytest.mark.product("excess_heat_factor")
def test_excess_heat_factor_hand_computed_with_normals_before_the_record():
    means = [300.0 + j for j in range(8)]
    t = np.repeat(means, 24)
    ds = with_climatology(
        day_series(
            days=8,
            air_temperature_2m=np.stack([t, t], axis=1)[:, None, :] * [1.0, np.nan] + [0.0, 0.0],
        ),
        climatological_mean_air_temperature=295.0,
        climatological_95th_percentile_daily_mean_temperature=301.0,
    )
    out = derive_one("excess_heat_factor", ds, parameters={"day_definition": "utc"})
    expected = expected_excess(means, 295.0, 301.0)
    np.testing.assert_allclose(out.values[:, 0, 0], expected, atol=1e-3)
    # Day 5: T3 = 304, sig = 3; T30 = (27·295 + 300 + 301 + 302)/30 = 295.6 → EHF = 3·8.4 = 25.2 K².
    assert out.values[5, 0, 0] == pytest.approx(25.2, abs=1e-3)
    assert np.isnan(out.values[:, 0, 1]).all()
    assert out.attrs["units"] == "K2"


@pytest.mark.product("excess_cold_factor")
def test_excess_cold_factor_hand_computed():
    means = [290.0 - j for j in range(8)]
    ds = with_climatology(
        day_series(days=8, air_temperature_2m=np.repeat(means, 24)[:, None, None]),
        climatological_mean_air_temperature=295.0,
        climatological_5th_percentile_daily_mean_temperature=289.0,
    )
    out = derive_one("excess_cold_factor", ds, parameters={"day_definition": "utc"})
    expected = expected_excess(means, 295.0, 289.0, heat=False)
    np.testing.assert_allclose(out.values[:, 0, 0], expected, atol=1e-3)
    # Day 4: T3 = 287, sig = −2; T30 = (28·295 + 290 + 289)/30 = 294.63 → ECF = 2·(−7.63) = −15.27 K².
    assert out.values[4, 0, 0] == pytest.approx(2 * (287 - (28 * 295 + 579) / 30), abs=1e-3)
    assert out.values[4, 0, 0] < 0  # thermofeel's sign: excess cold is negative


# -- public life indices ---------------------------------------------------------------------------------


HEATSTROKE = {
    "day_definition": "utc",
    "heat_index_bounds": ["27 degC", "32 degC", "39 degC", "51 degC"],
    "hot_day_threshold": "35 degC",
    "hot_spell_length": "3 day",
}


def daily_constant(per_day: list[list[float]], unit: str):
    """Hourly float64 field, constant within each UTC day; ``per_day[day][column]``."""
    return hourly(np.repeat(np.asarray(per_day, dtype=float), 24, axis=0), unit)


def test_heatstroke_levels_at_every_heat_index_bound_and_the_35_degree_spell():
    heat_index = daily_constant(
        [[26.99, 27.0, 31.99, 32.0, 38.99, 39.0, 50.99, 51.0, np.nan]] * 3, "degC"
    )
    temperature = daily_constant([[30.0] * 9] * 3, "degC")
    out = public_indices.heatstroke_risk_level(
        heat_index, temperature, **{k: _parameter(v) for k, v in HEATSTROKE.items()}
    )
    np.testing.assert_array_equal(values(out, 2), [1, 2, 2, 3, 3, 4, 4, 5, np.nan])
    # 35 °C exactly is a hot day; 34.99 is not; the level is raised at the third hot day, at most to 5.
    t = [[35.0, 34.99, 35.0, 35.0], [35.0, 35.0, 35.0, 35.0], [35.0, 35.0, 34.99, 35.0]]
    out = public_indices.heatstroke_risk_level(
        daily_constant([[33.0, 33.0, 33.0, 55.0]] * 3, "degC"),
        daily_constant(t, "degC"),
        **{k: _parameter(v) for k, v in HEATSTROKE.items()},
    )
    np.testing.assert_array_equal(values(out, 2), [4, 3, 3, 5])
    # Early in the record a hot day's spell is unknown (missing), unless a cool day rules it out.
    np.testing.assert_array_equal(values(out, 0), [np.nan, 3, np.nan, np.nan])
    np.testing.assert_array_equal(values(out, 1), [np.nan, 3, np.nan, np.nan])


def _parameter(value):
    from weatherdata.catalog import parameter_value

    return parameter_value(value)


@pytest.mark.product("heatstroke_risk_level")
def test_heatstroke_risk_level_from_metpy_heat_index_and_a_hot_spell():
    # Daily constant temperatures (°C) at 40 % RH; the third ≥ 35 °C day in a row raises the level.
    days = [30.0, 36.0, 36.0, 36.0, 25.0, 36.0]
    t = np.repeat(days, 24) + 273.15
    ds = day_series(days=6, air_temperature_2m=t[:, None, None], relative_humidity_2m=40.0)
    out = derive_one("heatstroke_risk_level", ds, parameters={"day_definition": "utc"}).values[
        :, 0, 0
    ]
    heat_index = mpcalc.heat_index(
        np.array(days) * units.degC, 40 * units.percent, mask_undefined=False
    ).m_as("degC")
    base = 1 + np.searchsorted([27, 32, 39, 51], heat_index, side="right")
    spell = np.array([0, 0, 0, 1, 0, 0])
    np.testing.assert_array_equal(out, np.minimum(base + spell, 5))


DAY = "beijing_20_20"
# 2026-07-24 13:00 UTC = 21:00 Beijing: the first hour of the 20–20 Beijing day of 25 July.
BEIJING_DAY_START = "2026-07-24T13:00"


def beijing_hours(n=24):
    return (
        pd.date_range(BEIJING_DAY_START, periods=n, freq="h") + pd.Timedelta(hours=8)
    ).hour.values


@pytest.mark.product("dressing_index_daytime")
@pytest.mark.product("dressing_index_morning_evening")
def test_dressing_indices_use_their_own_hours():
    # 32 °C from 08 to 20 Beijing time, 2 °C otherwise; 50 % RH, 1 m/s.
    # Daytime AT = 32 + 0.33·23.69 − 0.7 − 4 = 35.1 °C → class 1;
    # morning/evening AT = 2 + 0.33·3.52 − 4.7 = −1.54 °C → class 7.
    hour = beijing_hours(48)
    t = np.where((hour >= 8) & (hour < 20), 32.0, 2.0) + 273.15
    ds = grid_dataset(
        {
            "air_temperature_2m": t[:, None, None],
            "relative_humidity_2m": 50.0,
            "eastward_wind_10m": 1.0,
            "northward_wind_10m": 0.0,
        },
        times=48,
        start=BEIJING_DAY_START,
        shape=(1, 1),
    )
    day = derive_one("dressing_index_daytime", ds)
    night = derive_one("dressing_index_morning_evening", ds)
    np.testing.assert_array_equal(day.values.ravel(), [1, 1])
    np.testing.assert_array_equal(night.values.ravel(), [7, 7])
    assert day.day.values[0] == np.datetime64("2026-07-24T12:00")  # the 20–20 day of 25 July


def test_dressing_classes_at_and_around_every_bound():
    at = [
        28.0,
        27.99,
        24.0,
        23.99,
        20.0,
        19.99,
        16.0,
        15.99,
        11.0,
        10.99,
        5.0,
        4.99,
        -5.0,
        -5.01,
        np.nan,
    ]
    hour = beijing_hours()
    field = hourly(
        np.where(((hour >= 8) & (hour < 20))[:, None], np.array(at)[None, :], 99.0),
        "degC",
        start=BEIJING_DAY_START,
    )
    bounds = ["-5 degC", "5 degC", "11 degC", "16 degC", "20 degC", "24 degC", "28 degC"]
    out = public_indices.dressing_index(
        field, DAY, quantity("8 h"), quantity("20 h"), [quantity(b) for b in bounds]
    )
    np.testing.assert_array_equal(
        values(out, 0), [1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, np.nan]
    )


COLD = {
    "day_to_day_change": quantity("5 K"),
    "diurnal_range": quantity("10 K"),
    "cold_day": quantity("10 degC"),
    "dry_air": quantity("40 percent"),
}


def swing_days(days):
    """Hourly values for days given as (mean, half-range): 12 h at mean + a, 12 h at mean − a."""
    return np.concatenate([np.r_[np.full(12, m + a), np.full(12, m - a)] for m, a in days])


def test_common_cold_factors_at_their_bounds():
    # day 0 unknown (no previous day); day 1: swing 6, range 12 → 3; day 2: swing 5 (=), cold 9,
    # dry 30 → 4; day 3: range 10 (=), cold 10 (=), RH 40 (not dry) → 3; day 4: only dry → 2.
    t = swing_days([(20, 3), (14, 6), (9, 2), (10, 5), (10.1, 4.99)])
    rh = np.repeat([60.0, 60.0, 30.0, 40.0, 39.9], 24)
    out = public_indices.common_cold_risk_level(
        hourly(t, "degC"), hourly(rh, "percent"), "utc", **COLD
    )
    np.testing.assert_array_equal(values(out)[:, 0, 0], [np.nan, 3, 4, 3, 2])


@pytest.mark.product("common_cold_risk_level")
def test_common_cold_risk_level_through_the_engine():
    t = swing_days([(20, 3), (13, 7), (13.5, 2)]) + 273.15
    rh = np.repeat([60.0, 70.0, 30.0], 24)
    ds = day_series(
        days=3, air_temperature_2m=t[:, None, None], relative_humidity_2m=rh[:, None, None]
    )
    out = derive_one("common_cold_risk_level", ds, parameters={"day_definition": "utc"})
    # day 1: swing 7, range 14 → 3; day 2: swing 0.5, range 4, dry → 2.
    np.testing.assert_array_equal(out.values[:, 0, 0], [np.nan, 3, 2])


MORNING = {
    "day_definition": DAY,
    "hours_start": quantity("6 h"),
    "hours_end": quantity("9 h"),
    "rain_threshold": quantity("0.1 mm"),
    "heavy_rain_threshold": quantity("1 mm"),
    "wind_threshold": quantity("5.5 m s-1"),
    "temperature_range": [quantity("5 degC"), quantity("30 degC")],
    "visibility_threshold": quantity("2000 m"),
    "low_visibility_threshold": quantity("500 m"),
    "fine_particulate_matter_threshold": quantity("75 ug m-3"),
}


@pytest.mark.product("morning_exercise_index")
def test_morning_exercise_factors_at_their_bounds():
    hour = beijing_hours()
    morning = (hour >= 6) & (hour < 9)
    scenarios = [  # (rain per morning hour, wind, temperature, visibility, PM2.5) → level
        ((0.0, 2.0, 20.0, 10000.0, 30.0), 1),
        ((0.034, 2.0, 20.0, 10000.0, 30.0), 2),  # 0.102 mm
        ((0.033, 2.0, 20.0, 10000.0, 30.0), 1),  # 0.099 mm
        ((0.0, 5.5, 20.0, 10000.0, 30.0), 2),
        ((0.0, 5.49, 20.0, 10000.0, 30.0), 1),
        ((0.0, 2.0, 5.0, 10000.0, 30.0), 1),
        ((0.0, 2.0, 4.99, 10000.0, 30.0), 2),
        ((0.0, 2.0, 30.0, 10000.0, 30.0), 1),
        ((0.0, 2.0, 30.01, 10000.0, 30.0), 2),
        ((0.0, 2.0, 20.0, 2000.0, 30.0), 1),
        ((0.0, 2.0, 20.0, 1999.0, 30.0), 2),
        ((0.0, 2.0, 20.0, 10000.0, 75.0), 1),
        ((0.0, 2.0, 20.0, 10000.0, 75.01), 2),
        ((1.0 / 3.0, 2.0, 20.0, 10000.0, 30.0), 5),  # 1 mm: unsuitable
        ((0.0, 2.0, 20.0, 499.0, 30.0), 5),
        ((0.0, 2.0, 20.0, 500.0, 30.0), 2),
        ((0.0, 6.0, 35.0, 10000.0, 80.0), 4),
        ((0.0, 6.0, 35.0, 1500.0, 80.0), 5),
        ((0.0, 2.0, np.nan, 10000.0, 30.0), np.nan),
    ]
    fields = []
    for position, unit in enumerate(("mm", "m s-1", "degC", "m", "ug m-3")):
        per_column = [
            np.where(morning, s[position], s[position] if position else 0.0) for s, _ in scenarios
        ]
        data = columns(*per_column, hours=24)
        if position == 0:
            data[12, 0] = 20.0  # heavy rain in the afternoon does not count
        fields.append(hourly(data, unit, start=BEIJING_DAY_START, lazy=True))
    rain, wind, temperature, visibility, particles = fields
    out = public_indices.morning_exercise_index(
        temperature=temperature, wind_speed=wind, precipitation=rain, visibility=visibility,
        fine_particulate_matter=particles, **MORNING,
    )  # fmt: skip
    assert hasattr(out.data, "dask")
    np.testing.assert_array_equal(values(out, 0), [level for _, level in scenarios])


@pytest.mark.product("ultraviolet_index_level")
def test_ultraviolet_levels_round_the_daily_maximum_half_up():
    peak = np.array([2.49, 2.5, 4.49, 4.5, 6.49, 6.5, 9.49, 9.5, 12.0, np.nan])
    uv = np.where(np.arange(24)[:, None] == 5, peak[None, :], 0.5)
    out = public_indices.ultraviolet_index_level(hourly(uv, "1"), "utc", [3, 5, 7, 10])
    np.testing.assert_array_equal(values(out, 0), [1, 2, 2, 3, 3, 4, 4, 5, 5, np.nan])
    ds = day_series(
        ultraviolet_index=np.where(
            np.arange(24)[:, None, None] == 5, np.array([2.0, 8.3, 11.0])[None, None, :], 0.0
        )
    )
    out = derive_one("ultraviolet_index_level", ds, parameters={"day_definition": "utc"})
    np.testing.assert_array_equal(out.values[0, 0], [1, 4, 5])


def forecast_runs(rain_by_lead: np.ndarray, *, runs=3, start="2026-07-25T00:00"):
    """Runs every 12 h, leads 0–72 h, with the same precipitation by lead in every run."""
    spec = canonical_variables()
    leads, n = rain_by_lead.shape
    shape = (runs, leads, 1, n)
    fields = {
        "air_temperature_2m": 300.0,
        "precipitation_amount": rain_by_lead[None, :, None, :],
        "eastward_wind_10m": 2.0,
        "northward_wind_10m": 0.0,
        "wind_speed_of_gust_10m": 5.0,
        "visibility_in_air": 20000.0,
        "relative_humidity_2m": 70.0,
    }
    data = {
        name: (
            ("init_time", "lead_time", "latitude", "longitude"),
            dask_array.from_array(
                np.broadcast_to(value, shape).astype(np.float32), chunks=(1, leads, 1, n)
            ),
            {"units": spec[name].units},
        )
        for name, value in fields.items()
    }
    coords = {
        "init_time": pd.date_range(start, periods=runs, freq="12h"),
        "lead_time": pd.to_timedelta(np.arange(leads), unit="h"),
        "latitude": [22.0],
        "longitude": np.linspace(113.0, 114.0, n),
    }
    ds = xr.Dataset(data, coords=coords)
    return ds.assign_coords(valid_time=ds.init_time + ds.lead_time)


def rain_at(leads_and_amounts: list[dict[int, float]]) -> np.ndarray:
    rain = np.zeros((73, len(leads_and_amounts)))
    for column, amounts in enumerate(leads_and_amounts):
        for lead, amount in amounts.items():
            rain[lead, column] = amount
    return rain


@pytest.mark.product("car_wash_index")
def test_car_wash_index_rules_at_their_bounds():
    # Evaluated at 12 UTC, the issue time of run 1: forecast leads count from then.
    forecast = rain_at(
        [
            {},
            {10: 0.1},
            {24: 0.1},
            {25: 0.1},
            {48: 0.1},
            {49: 0.1},
            {10: 0.09},
            {},
            {},
            {},
            {},
            {},
            {},
        ]
    )
    past_rain = np.zeros((24, 13))
    past_rain[5, 7] = 0.1  # 0.1 mm 7 h before the issue time
    obs = grid_dataset(
        {
            "precipitation_amount": past_rain[:, None, :],
            "mass_concentration_of_pm10_ambient_aerosol": np.array(
                [50.0] * 8 + [150.0, 149.0, 350.0, 50.0, 50.0]
            )[None, None, :],
            "eastward_wind_10m": np.array([2.0] * 11 + [8.0, 7.9])[None, None, :],
            "northward_wind_10m": 0.0,
        },
        times=24,
        start="2026-07-25T00:00",
        shape=(1, 13),
    )
    out = derive_one("car_wash_index", obs, forecast=forecast_runs(forecast))
    np.testing.assert_array_equal(out.values[12, 0], [1, 4, 4, 3, 3, 1, 1, 3, 3, 1, 4, 2, 1])
    assert np.isnan(out.values[:11]).all()  # the past-12 h window is not yet full


@pytest.mark.product("umbrella_index")
def test_umbrella_index_rules_at_their_bounds():
    forecast = rain_at(
        [{}, {}, {}, {12: 0.1}, {13: 0.1}, {3: 2.5, 9: 2.5}, {3: 2.5, 9: 2.4}, {1: 0.1}]
    )
    uv = np.array([3.0, 7.0, 6.9, 3.0, 9.0, 3.0, 3.0, 9.0])
    obs = grid_dataset(
        {"ultraviolet_index": uv[None, None, :]}, times=24, start="2026-07-25T00:00", shape=(1, 8)
    )
    out = derive_one("umbrella_index", obs, forecast=forecast_runs(forecast))
    np.testing.assert_array_equal(out.values[12, 0], [1, 2, 1, 3, 2, 4, 3, 3])
    np.testing.assert_array_equal(
        out.values[0, 0], out.values[12, 0]
    )  # run 0 at its own issue time


OUTING = {
    "day_definition": DAY,
    "hours_start": quantity("8 h"),
    "hours_end": quantity("20 h"),
    "rain_threshold": quantity("0.1 mm"),
    "heavy_rain_threshold": quantity("5 mm"),
    "wind_threshold": quantity("8.0 m s-1"),
    "strong_wind_threshold": quantity("10.8 m s-1"),
    "comfortable_range": [quantity("12 degC"), quantity("28 degC")],
    "tolerable_range": [quantity("5 degC"), quantity("33 degC")],
    "visibility_threshold": quantity("5000 m"),
    "strong_sun_threshold": 8,
}


def daytime_scenarios(scenarios, units_, *, daytime=(8, 20), outside=None):
    """Fields constant over the Beijing hours ``daytime`` (one scenario per column)."""
    hour = beijing_hours()
    inside = (hour >= daytime[0]) & (hour < daytime[1])
    fields = []
    for position, unit in enumerate(units_):
        data = columns(*[s[position] for s, _ in scenarios], hours=24)
        if outside is not None:
            data = np.where(inside[:, None], data, outside[position])
        fields.append(hourly(data, unit, start=BEIJING_DAY_START))
    return fields


@pytest.mark.product("outing_index")
def test_outing_index_rules_at_their_bounds():
    # (apparent temperature, rain per daytime hour, wind, visibility, UV) → level
    scenarios = [
        ((20.0, 0.0, 2.0, 10000.0, 5.0), 1),
        ((12.0, 0.0, 2.0, 10000.0, 5.0), 1),
        ((11.99, 0.0, 2.0, 10000.0, 5.0), 2),
        ((28.0, 0.0, 2.0, 10000.0, 5.0), 1),
        ((28.01, 0.0, 2.0, 10000.0, 5.0), 2),
        ((20.0, 0.01, 2.0, 10000.0, 5.0), 2),  # 0.12 mm
        ((20.0, 0.008, 2.0, 10000.0, 5.0), 1),  # 0.096 mm
        ((20.0, 0.0, 8.0, 10000.0, 5.0), 2),
        ((20.0, 0.0, 7.99, 10000.0, 5.0), 1),
        ((20.0, 0.0, 2.0, 4999.0, 5.0), 2),
        ((20.0, 0.0, 2.0, 5000.0, 8.0), 2),
        ((30.0, 0.0, 9.0, 10000.0, 9.0), 3),
        ((30.0, 0.2, 9.0, 3000.0, 9.0), 3),
        ((20.0, 0.5, 2.0, 10000.0, 5.0), 4),  # 6 mm
        ((20.0, 0.4, 2.0, 10000.0, 5.0), 2),  # 4.8 mm: rain, not heavy rain
        ((20.0, 0.0, 10.8, 10000.0, 5.0), 4),
        ((4.99, 0.0, 2.0, 10000.0, 5.0), 4),
        ((5.0, 0.0, 2.0, 10000.0, 5.0), 2),
        ((33.01, 0.0, 2.0, 10000.0, 5.0), 4),
        ((33.0, 0.0, 2.0, 10000.0, 5.0), 2),
        ((20.0, 0.0, 2.0, np.nan, 5.0), np.nan),
    ]
    fields = daytime_scenarios(
        scenarios, ("degC", "mm", "m s-1", "m", "1"), outside=(-30.0, 50.0, 30.0, 10.0, 15.0)
    )
    at, rain, wind, visibility, uv = fields
    out = public_indices.outing_index(at, rain, wind, visibility, uv, **OUTING)
    expected = [level for _, level in scenarios]
    np.testing.assert_array_equal(values(out, 0), expected)
    # Through the engine: a pleasant day (AT ≈ 21 °C, dry, light wind, clear, moderate UV).
    ds = grid_dataset(
        {"air_temperature_2m": 295.15, "relative_humidity_2m": 60.0, "eastward_wind_10m": 2.0, "northward_wind_10m": 0.0,
         "precipitation_amount": 0.0, "visibility_in_air": 20000.0, "ultraviolet_index": 5.0},
        times=24, start=BEIJING_DAY_START, shape=(1, 1),
    )  # fmt: skip
    np.testing.assert_array_equal(derive_one("outing_index", ds).values.ravel(), [1])


LAUNDRY = {
    "day_definition": DAY,
    "hours_start": quantity("8 h"),
    "hours_end": quantity("20 h"),
    "rain_threshold": quantity("0.1 mm"),
    "sunshine_threshold": quantity("120 W m-2"),
    "sunshine_bounds": [quantity("3 h"), quantity("6 h")],
    "humidity_bounds": [quantity("60 percent"), quantity("80 percent")],
    "wind_range": [quantity("1.6 m s-1"), quantity("10.8 m s-1")],
    "warm_threshold": quantity("15 degC"),
    "level_bounds": [3, 4, 5],
}


@pytest.mark.product("laundry_drying_index")
def test_laundry_drying_index_scores_at_their_bounds():
    # (temperature, RH, wind, rain per daytime hour, sunny daytime hours) → level
    scenarios = [
        ((20.0, 50.0, 3.0, 0.1, 6), 5),
        ((20.0, 50.0, 3.0, 0.0, 6), 1),  # 2 + 2 + 1 + 1
        ((15.0, 60.0, 1.6, 0.0, 3), 2),  # 1 + 1 + 1 + 1
        ((14.9, 79.9, 10.8, 0.0, 2), 4),  # 0 + 1 + 0 + 0
        ((15.0, 80.0, 1.59, 0.0, 6), 3),  # 2 + 0 + 0 + 1
        ((25.0, 59.9, 5.0, 0.0, 12), 1),  # 2 + 2 + 1 + 1
        ((20.0, 50.0, 3.0, 0.09 / 12, 6), 1),  # 0.09 mm is not rain
        ((20.0, np.nan, 3.0, 0.0, 6), np.nan),
    ]
    hour = beijing_hours()
    daytime = np.flatnonzero((hour >= 8) & (hour < 20))
    direct = np.zeros((24, len(scenarios)))
    for column, (s, _) in enumerate(scenarios):
        direct[daytime[: s[4]], column] = 1000.0
    t, rh, wind, rain = daytime_scenarios(
        [(s[:4], lvl) for s, lvl in scenarios], ("degC", "percent", "m s-1", "mm")
    )
    rain = rain.where(
        xr.DataArray((hour >= 8) & (hour < 20), dims="time", coords={"time": rain.time}), 3.0
    )
    out = public_indices.laundry_drying_index(
        t, rh, wind, rain, hourly(direct, "W m-2", start=BEIJING_DAY_START), **LAUNDRY
    )
    np.testing.assert_array_equal(values(out, 0), [level for _, level in scenarios])


@pytest.mark.product("huinantian_condensation_level")
def test_huinantian_levels_from_the_dewpoint_margin_over_the_48h_mean():
    # 10 °C for 48 h, then 20 °C: at hour 50 the trailing 48 h mean is (45·10 + 3·20)/48 = 10.625 °C.
    t = np.r_[np.full(48, 10.0), np.full(6, 20.0)]
    margins = np.array([-0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 3.0, 0.5])
    rh = np.array([90.0] * 7 + [84.9, 85.0])
    dewpoint = np.tile(10.625 + margins, (54, 1))
    out = public_indices.huinantian_condensation_level(
        hourly(np.tile(t[:, None], (1, 9)), "degC"),
        hourly(dewpoint, "degC"),
        hourly(np.tile(rh, (54, 1)), "percent"),
        quantity("48 h"),
        quantity("85 percent"),
        [quantity("1 K"), quantity("2 K")],
    )
    out = values(out)[:, 0, :]
    np.testing.assert_array_equal(out[50], [0, 0, 1, 2, 2, 3, 3, 0, 1])
    assert np.isnan(out[:47]).all() and np.isfinite(out[47]).all()
    # Through the engine: warm moist air after two cool days condenses heavily.
    ds = grid_dataset(
        {"air_temperature_2m": (t + 273.15)[:, None, None], "dewpoint_temperature_2m": 292.15, "relative_humidity_2m": 95.0},
        times=54, shape=(1, 1),
    )  # fmt: skip
    engine = derive_one("huinantian_condensation_level", ds).values.ravel()
    assert engine[50] == 3 and engine[47] == 3 and np.isnan(engine[46])


# -- pollution meteorology ---------------------------------------------------------------------------------

KAPPA = 2 / 7
LEVELS = [1000.0, 950.0, 900.0, 850.0, 700.0]


def profile_dataset(temperature, height, wind, surface):
    """One time, columns of profiles: ``temperature``/``height``/``wind`` are (levels, columns)."""
    temperature, height, wind = (
        np.asarray(a, dtype=float)[None, :, None, :] for a in (temperature, height, wind)
    )
    n = temperature.shape[-1]
    variables = {
        "air_temperature": temperature,
        "geopotential_height": height,
        "eastward_wind": wind,
        "northward_wind": 0.0 * wind,
    }
    for name, value in surface.items():
        value = np.broadcast_to(np.asarray(value, dtype=float), (n,))
        variables[name] = (
            value.reshape(1, n) if name == "surface_altitude" else value.reshape(1, 1, n)
        )
    return grid_dataset(variables, times=1, shape=(1, n), levels=LEVELS)


@pytest.mark.product("ventilation_index")
def test_ventilation_index_hand_computed_profile():
    # θ(2 m) = θs; levels at 100, 550, 1000, 1500, 3000 m with θ = θs + (0, 0.2, 0.4, 1.4, 5) K.
    # The parcel θs + 0.5 K is reached 10 % of the way from 1000 to 1500 m: h = 1050 m.
    # Winds 2 (10 m), 3, 4, 5, 7, 10 m/s; 5.2 m/s at h. Trapezoids from 10 m:
    # 225 + 1575 + 2025 + 255 = 4080 m²/s over 1040 m → 3.9231 m/s; VI = 4119.2 m²/s.
    theta_surface = 300.0 * (1000 / 1010) ** KAPPA
    theta = theta_surface + np.array([0.0, 0.2, 0.4, 1.4, 5.0])
    temperature = theta * (np.array(LEVELS) / 1000) ** KAPPA
    height = np.array([100.0, 550.0, 1000.0, 1500.0, 3000.0])
    wind = np.array([3.0, 4.0, 5.0, 7.0, 10.0])
    # Column 2: surface at 990 hPa, so the 1000 hPa level (here absurdly warm) is underground.
    t2 = np.stack([temperature, np.r_[350.0, temperature[1:]]], axis=1)
    ds = profile_dataset(
        t2,
        np.stack([height, height], axis=1),
        np.stack([wind, np.r_[50.0, wind[1:]]], axis=1),
        {
            "air_temperature_2m": [300.0, theta_surface * (990 / 1000) ** KAPPA],
            "surface_air_pressure": [1010.0, 990.0],
            "surface_altitude": 0.0,
            "eastward_wind_10m": 2.0,
            "northward_wind_10m": 0.0,
        },
    )
    out = derive_one("ventilation_index", ds).values.ravel()
    assert out[0] == pytest.approx(1050 * 4080 / 1040, rel=1e-4)
    # Without the 100 m level the first trapezoid runs from 10 to 550 m: 0.5·(2 + 4)·540 = 1620.
    assert out[1] == pytest.approx(1050 * (1620 + 2025 + 255) / 1040, rel=1e-4)
    height_agl, _ = atmospheric_dispersion.ventilation_kernel(
        temperature[None, :], height[None, :], wind[None, :], 0 * wind[None, :], np.array([300.0]), np.array([1010.0]),
        np.array([0.0]), np.array([2.0]), pressure=np.array(LEVELS), parcel_excess=0.5,
    )  # fmt: skip
    assert height_agl[0] == pytest.approx(1050.0, abs=0.01)


@pytest.mark.product("near_surface_inversion_strength")
def test_inversion_strength_hand_computed_profiles():
    height = np.array([100.0, 550.0, 1000.0, 1500.0, 2000.0])
    inversion = np.array([291.0, 293.0, 292.0, 295.0, 300.0])
    columns_ = {
        "inside_1500_m": (inversion, height, 1005.0, 5.0),
        "beyond_1500_m": (inversion, np.r_[height[:3], 1500.5, 2000.0], 1005.0, 3.0),
        "lapse": (np.array([289.0, 286.0, 283.0, 280.0, 277.0]), height, 1005.0, 0.0),
        "missing": (np.r_[291.0, np.nan, 292.0, 295.0, 300.0], height, 1005.0, np.nan),
        "underground": (np.r_[320.0, inversion[1:]], height, 990.0, 5.0),
    }
    ds = profile_dataset(
        np.stack([c[0] for c in columns_.values()], axis=1),
        np.stack([c[1] for c in columns_.values()], axis=1),
        np.zeros((5, len(columns_))),
        {
            "air_temperature_2m": 290.0,
            "surface_air_pressure": [c[2] for c in columns_.values()],
            "surface_altitude": 0.0,
        },
    )
    out = derive_one("near_surface_inversion_strength", ds).values.ravel()
    np.testing.assert_allclose(out, [c[3] for c in columns_.values()], atol=1e-4)


STAGNATION = {
    "day_definition": "utc",
    "surface_wind_threshold": quantity("3.25 m s-1"),
    "upper_wind_threshold": quantity("13 m s-1"),
    "upper_level": quantity("500 hPa"),
    "precipitation_threshold": quantity("1 mm"),
}


def test_air_stagnation_criteria_at_their_bounds():
    # Binary-exact bound for the 10 m wind (3.25); 13 m/s and 1 mm are exact already.
    surface = [3.0, 3.25, 3.0, 3.0, 3.0, 3.0]
    upper = [12.5, 12.5, 13.0, 12.5, 12.5, 12.5]
    rain = [0.5, 0.0, 0.0, 1.0, 0.75, np.nan]
    rain_hourly = np.zeros((24, 6))
    rain_hourly[3] = rain
    levels = [1000.0, 500.0]
    u = xr.DataArray(
        np.stack([np.tile(upper, (24, 1)), np.tile(upper, (24, 1))], axis=1)[:, :, None, :],
        dims=("time", "pressure", "latitude", "longitude"),
        coords={
            "time": hourly(rain_hourly, "mm").time,
            "pressure": levels,
            "latitude": [22.5],
            "longitude": 113 + 0.1 * np.arange(6),
        },
        attrs={"units": "m s-1"},
    )
    out = atmospheric_dispersion.air_stagnation_day(
        hourly(np.tile(surface, (24, 1)), "m s-1"),
        u,
        xr.zeros_like(u),
        hourly(rain_hourly, "mm"),
        **STAGNATION,
    )
    np.testing.assert_array_equal(values(out, 0), [1, 0, 0, 0, 1, np.nan])


@pytest.mark.product("air_stagnation_day")
def test_air_stagnation_day_through_the_engine():
    ds = grid_dataset(
        {
            "eastward_wind_10m": np.array([3.0, 3.5, 3.0, 3.0])[None, None, :],
            "northward_wind_10m": 0.0,
            "eastward_wind": np.array([12.0, 12.0, 14.0, 12.0])[None, None, None, :],
            "northward_wind": 0.0,
            "precipitation_amount": np.where(
                np.arange(24)[:, None, None] == 3,
                np.array([0.5, 0.0, 0.0, 1.5])[None, None, :],
                0.0,
            ),
        },
        times=24,
        start="2026-07-25T01:00",
        shape=(1, 4),
        levels=[1000.0, 850.0, 500.0],
    )
    out = derive_one("air_stagnation_day", ds, parameters={"day_definition": "utc"})
    np.testing.assert_array_equal(out.values[0, 0], [1, 0, 0, 0])


FIRE = {
    "day_definition": "utc",
    "temperature_bounds": [quantity("15 degC"), quantity("25 degC")],
    "humidity_bounds": [quantity("60 percent"), quantity("40 percent"), quantity("25 percent")],
    "wind_bounds": [quantity("5.5 m s-1"), quantity("10.8 m s-1")],
    "dryness_bounds": [quantity("5 mm"), quantity("0.1 mm")],
    "dryness_window": quantity("72 h"),
    "wet_day_threshold": quantity("5 mm"),
    "level_bounds": [3, 5, 7, 8],
}


@pytest.mark.product("city_fire_danger_level")
def test_city_fire_danger_points_at_their_bounds():
    # (Tmax, RH min, wind max, rain on day 0, rain on day 2) → level on day 2
    scenarios = [
        ((14.99, 60.0, 5.49, 5.0, 0.0), 1),  # 0 + 0 + 0 + 0
        ((15.0, 59.99, 5.5, 4.99, 0.0), 2),  # 1 + 1 + 1 + 1
        ((25.0, 40.0, 10.8, 0.1, 0.0), 3),  # 2 + 1 + 2 + 1
        ((25.0, 39.99, 10.8, 0.09, 0.0), 5),  # 2 + 2 + 2 + 2
        ((25.0, 25.0, 5.5, 0.0, 0.0), 4),  # 2 + 2 + 1 + 2
        ((30.0, 24.99, 12.0, 0.0, 0.0), 5),  # 2 + 3 + 2 + 2
        ((30.0, 24.99, 12.0, 0.0, 5.0), 1),  # a wet day
        ((30.0, 24.99, 12.0, 0.0, 4.99), 5),  # 2 + 3 + 2 + 1
        ((15.0, 59.99, 0.0, 6.0, 0.0), 1),  # score 2
        ((25.0, 60.0, 5.5, 5.0, 0.0), 2),  # score 3
        ((25.0, 40.0, 5.5, 0.1, 0.0), 3),  # score 5
        ((25.0, np.nan, 5.5, 0.1, 0.0), np.nan),
    ]
    hours = 72
    t = columns(*[s[0] for s, _ in scenarios], hours=hours)
    rh = columns(*[s[1] for s, _ in scenarios], hours=hours)
    wind = columns(*[s[2] for s, _ in scenarios], hours=hours)
    rain = np.zeros((hours, len(scenarios)))
    rain[5] = [s[3] for s, _ in scenarios]
    rain[53] = [s[4] for s, _ in scenarios]
    out = public_indices.city_fire_danger_level(
        hourly(t, "degC"), hourly(rh, "percent"), hourly(wind, "m s-1"), hourly(rain, "mm"), **FIRE
    )
    result = values(out)[:, 0, :]
    np.testing.assert_array_equal(result[2], [level for _, level in scenarios])
    # Before the three-day dryness window is full the level is unknown — except on a wet day.
    wet_first_day = np.array([s[3] >= 5 for s, _ in scenarios])
    assert np.isnan(result[1]).all() and np.isnan(result[0, ~wet_first_day]).all()
    assert (result[0, wet_first_day] == 1).all()
    # Through the engine (20–20 Beijing days): hot, dry and windy for three days → 极高.
    ds = grid_dataset(
        {"air_temperature_2m": 305.15, "relative_humidity_2m": 20.0, "eastward_wind_10m": 12.0, "northward_wind_10m": 0.0,
         "precipitation_amount": 0.0},
        times=72, start=BEIJING_DAY_START, shape=(1, 1),
    )  # fmt: skip
    np.testing.assert_array_equal(
        derive_one("city_fire_danger_level", ds).values.ravel(), [np.nan, np.nan, 5]
    )
