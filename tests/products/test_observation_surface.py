"""Reference values for the surface observation products (catalog.d/observation_surface.yaml).

References: MetPy on the same input, xclim's documented ETCCDI definitions on hand-built
series, official grade tables tested at and around every boundary, and hand-computed
cases. Every test goes through the engine (``derive_one``), which also checks laziness.
"""

import dask.array as dask_array
import metpy.calc as mpcalc
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from metpy.units import units
from weatherdata.products.observation.humidity import normand_wet_bulb_temperature

from tests.helpers import catalog_section, derive_one, grid_dataset
from weatherdata.errors import InputError

AGREED_IDS = {
    "maximum_temperature_24h",
    "minimum_temperature_24h",
    "minimum_temperature_drop_24h",
    "minimum_temperature_drop_48h",
    "minimum_temperature_drop_72h",
    "precipitation_accumulation_3h",
    "precipitation_accumulation_6h",
    "precipitation_accumulation_12h",
    "precipitation_accumulation_48h",
    "precipitation_accumulation_72h",
    "visibility",
    "wind_force_scale",
    "maximum_gust_1h",
    "maximum_gust_24h",
    "maximum_wind_speed_24h",
    "wet_bulb_temperature_2m",
    "specific_humidity_2m",
    "daily_mean_temperature",
    "daily_maximum_temperature",
    "daily_minimum_temperature",
    "daily_precipitation",
}


def test_fragment_has_exactly_38_observation_products_including_the_agreed_ids():
    products = catalog_section("observation_surface")["products"]
    observation = [p["id"] for p in products if p["family"] == "observation"]
    assert len(observation) == 38
    assert len(set(observation)) == 38
    assert AGREED_IDS <= set(observation)


# ---------------------------------------------------------------- helpers


def row(values, times=1):
    """A (times, 1, n) array whose last time step holds ``values`` (zeros before)."""
    values = np.asarray(values, dtype=np.float64)
    out = np.zeros((times, 1, values.size))
    out[-1, 0, :] = values
    return out


def series(values, n_points=1):
    """A (time, 1, n_points) array repeating one time series at every point."""
    values = np.asarray(values, dtype=np.float64)
    return np.repeat(values[:, None, None], n_points, axis=2)


def with_climatology(ds, name, values, units_, dayofyear=None):
    """Add a ``climatological_*`` variable on (dayofyear, latitude, longitude)."""
    dayofyear = np.arange(1, 367) if dayofyear is None else np.asarray(dayofyear)
    values = np.broadcast_to(
        np.asarray(values, dtype=np.float32).reshape(-1, 1, 1),
        (dayofyear.size, ds.sizes["latitude"], ds.sizes["longitude"]),
    )
    ds[name] = xr.DataArray(
        dask_array.from_array(values.copy()),
        dims=("dayofyear", "latitude", "longitude"),
        coords={"dayofyear": dayofyear},
        attrs={"units": units_},
    )
    return ds


# ---------------------------------------------------------------- temperature windows


@pytest.mark.product("maximum_temperature_24h")
@pytest.mark.product("minimum_temperature_24h")
@pytest.mark.parametrize(("step", "per_day"), [("10min", 144), ("1h", 24), ("3h", 8)])
def test_24h_extremes_are_true_windows_at_any_step(step, per_day):
    n = 3 * per_day
    t = 290.0 + (np.arange(n) % per_day) * 0.125  # a saw-tooth rising through each day
    ds = grid_dataset({"air_temperature_2m": series(t)}, times=n, step=step)
    high = derive_one("maximum_temperature_24h", ds).values[:, 0, 0]
    low = derive_one("minimum_temperature_24h", ds).values[:, 0, 0]
    assert np.isnan(high[: per_day - 1]).all() and np.isnan(low[: per_day - 1]).all()
    # The window ending at the last step of day 1 holds exactly that day's values.
    assert high[per_day - 1] == pytest.approx(290.0 + 0.125 * (per_day - 1) - 273.15, abs=1e-4)
    assert low[per_day - 1] == pytest.approx(290.0 - 273.15, abs=1e-4)
    # One step later the day-1 minimum (290 K) is still inside, the first value left.
    assert low[per_day] == pytest.approx(290.0 - 273.15, abs=1e-4)
    expected = [t[i - per_day + 1 : i + 1].max() - 273.15 for i in range(per_day - 1, n)]
    np.testing.assert_allclose(high[per_day - 1 :], expected, atol=1e-4)


@pytest.mark.product("maximum_temperature_24h")
def test_window_extreme_is_missing_when_a_step_is_missing():
    t = np.full((30, 3, 4), 300.0)
    t[10, 0, 0] = np.nan
    ds = grid_dataset({"air_temperature_2m": t}, times=30)
    out = derive_one("maximum_temperature_24h", ds)
    assert np.isnan(out.values[23:30, 0, 0]).all()  # every window containing hour 10
    assert out.values[23, 1, 1] == pytest.approx(26.85, abs=1e-4)
    assert out.attrs["cell_methods"] == "time: maximum (interval: 24 hour)"


@pytest.mark.product("daily_mean_temperature")
@pytest.mark.product("daily_maximum_temperature")
@pytest.mark.product("daily_minimum_temperature")
def test_daily_temperatures_on_the_beijing_20_20_day():
    # Value at hour index i (stamped 2026-07-25T00 + i h) is 273.15 + i K, i.e. i °C.
    ds = grid_dataset({"air_temperature_2m": series(273.15 + np.arange(72.0))}, times=72)
    mean = derive_one("daily_mean_temperature", ds)
    high = derive_one("daily_maximum_temperature", ds)
    low = derive_one("daily_minimum_temperature", ds)
    # 20–20 BJT = 12–12 UTC; the value stamped 13 UTC opens the day, 12 UTC next day closes it.
    assert mean["day"].values[0] == np.datetime64("2026-07-25T12:00")
    assert mean.sizes["day"] == 2  # 07-25T12 → 07-26T12 and 07-26T12 → 07-27T12
    assert mean.values[0, 0, 0] == pytest.approx(np.mean(np.arange(13, 37)), abs=1e-3)
    assert high.values[0, 0, 0] == pytest.approx(36.0, abs=1e-3)
    assert low.values[0, 0, 0] == pytest.approx(13.0, abs=1e-3)
    assert high.values[1, 0, 0] == pytest.approx(60.0, abs=1e-3)


@pytest.mark.product("daily_mean_temperature")
def test_daily_mean_other_day_definitions_and_missing_steps():
    t = series(273.15 + np.arange(72.0), n_points=2)
    t[30, 0, 1] = np.nan
    ds = grid_dataset({"air_temperature_2m": t}, times=72, shape=(1, 2))
    utc = derive_one("daily_mean_temperature", ds, parameters={"day_definition": "utc"})
    # UTC day 07-25 holds the values stamped 01 … 24 UTC (hour indices 1 … 24).
    assert utc["day"].values[0] == np.datetime64("2026-07-25")
    assert utc.values[0, 0, 0] == pytest.approx(12.5, abs=1e-3)
    assert np.isnan(utc.values[1, 0, 1]) and not np.isnan(utc.values[0, 0, 1])


@pytest.mark.product("temperature_change_24h")
def test_temperature_change_24h_hand_case():
    t = 280.0 + 0.5 * np.arange(40.0)  # warming by 12 K a day
    ds = grid_dataset({"air_temperature_2m": series(t)}, times=40)
    out = derive_one("temperature_change_24h", ds).values[:, 0, 0]
    assert np.isnan(out[:24]).all()
    np.testing.assert_allclose(out[24:], 12.0, atol=1e-4)


@pytest.mark.product("minimum_temperature_drop_24h")
@pytest.mark.product("minimum_temperature_drop_48h")
@pytest.mark.product("minimum_temperature_drop_72h")
def test_minimum_temperature_drops_positive_when_colder():
    # Steady cooling by 0.25 K/h: the 24 h minimum is the latest value, so the drop over
    # lag L hours is 0.25·L K (cold-wave criteria: 24 h ≥ 10 K, 48 h ≥ 8 K …).
    n = 110
    t = 300.0 - 0.25 * np.arange(n)
    t_warm = 270.0 + 0.25 * np.arange(n)  # warming: drops are negative
    ds = grid_dataset(
        {"air_temperature_2m": np.stack([t, t_warm], axis=-1)[:, None, :]}, times=n, shape=(1, 2)
    )
    for product, lag in (
        ("minimum_temperature_drop_24h", 24),
        ("minimum_temperature_drop_48h", 48),
        ("minimum_temperature_drop_72h", 72),
    ):
        out = derive_one(product, ds).values[:, 0, :]
        first = 23 + lag  # first step with two full 24 h windows `lag` apart
        assert np.isnan(out[:first]).all()
        np.testing.assert_allclose(out[first:, 0], 0.25 * lag, atol=1e-3)
        np.testing.assert_allclose(out[first:, 1], -0.25 * lag, atol=1e-3)
        assert out.dtype == np.float32


@pytest.mark.product("minimum_temperature_drop_48h")
def test_minimum_temperature_drop_48h_cold_surge_step():
    # 2 days at 15 °C, then a surge: 3 °C from hour 48 on. Tmin24 falls from 15 to 3 °C.
    t = np.where(np.arange(100) < 48, 288.15, 276.15)
    ds = grid_dataset({"air_temperature_2m": series(t)}, times=100)
    out = derive_one("minimum_temperature_drop_48h", ds).values[:, 0, 0]
    # At t = 95 h the window 48 h earlier (24–47 h) is all 15 °C, the latest all 3 °C.
    assert out[95] == pytest.approx(12.0, abs=1e-4)
    assert out[71] == pytest.approx(12.0, abs=1e-4)  # Tmin24(23 h) = 15, Tmin24(71 h) = 3


# ---------------------------------------------------------------- climate anomalies


def _two_days_of_temperature(value_k, times=72):
    return grid_dataset(
        {"air_temperature_2m": np.full((times, 1, 2), value_k)}, times=times, shape=(1, 2)
    )


@pytest.mark.product("temperature_anomaly")
def test_temperature_anomaly_against_the_normal_of_the_calendar_day():
    ds = _two_days_of_temperature(300.0)
    normals = 290.0 + np.arange(1, 367) / 100.0  # K, distinct for every day of year
    ds = with_climatology(ds, "climatological_mean_air_temperature", normals, "K")
    out = derive_one("temperature_anomaly", ds)
    # The 20–20 BJT day starting 2026-07-25T12 UTC ends on 2026-07-26 (day of year 207).
    assert pd.Timestamp("2026-07-26").day_of_year == 207
    assert out.values[0, 0, 0] == pytest.approx(300.0 - (290.0 + 2.07), abs=1e-4)
    assert out.values[1, 0, 0] == pytest.approx(300.0 - (290.0 + 2.08), abs=1e-4)
    two_days = derive_one("temperature_anomaly", ds, parameters={"window": "2 d"})
    assert np.isnan(two_days.values[0, 0, 0])
    assert two_days.values[1, 0, 0] == pytest.approx(10.0 - 2.075, abs=1e-4)
    assert out.attrs["standard_name"] == "air_temperature_anomaly"


@pytest.mark.product("temperature_anomaly")
def test_temperature_anomaly_leap_day_falls_back_to_day_365():
    ds = grid_dataset(
        {"air_temperature_2m": np.full((48, 1, 1), 280.0)},
        times=48,
        shape=(1, 1),
        start="2028-12-30T00:00",
    )
    normals = 270.0 + np.arange(1, 366) / 100.0  # a 365-day climatology
    ds = with_climatology(
        ds, "climatological_mean_air_temperature", normals, "K", np.arange(1, 366)
    )
    out = derive_one("temperature_anomaly", ds)
    # Day 2028-12-30T12 → 12-31 of a leap year = day 366 → normal of day 365.
    assert out.values[0, 0, 0] == pytest.approx(10.0 - 3.65, abs=1e-4)


@pytest.mark.product("temperature_anomaly")
@pytest.mark.product("precipitation_anomaly_percentage")
def test_anomalies_fail_clearly_without_climatology():
    ds = _two_days_of_temperature(300.0)
    ds["precipitation_amount"] = ds["air_temperature_2m"] * 0 + 1.0
    ds["precipitation_amount"].attrs = {"units": "mm"}
    with pytest.raises(InputError, match="climatological_mean_air_temperature"):
        derive_one("temperature_anomaly", ds)
    with pytest.raises(InputError, match="climatological_daily_precipitation"):
        derive_one("precipitation_anomaly_percentage", ds)
    # Present but unusable: no day-of-year axis, or days missing.
    bad = ds.copy()
    bad["climatological_mean_air_temperature"] = xr.DataArray(
        np.full((1, 2), 290.0), dims=("latitude", "longitude"), attrs={"units": "K"}
    ).expand_dims(month=[7])
    with pytest.raises(InputError, match="dayofyear"):
        derive_one("temperature_anomaly", bad)
    short = with_climatology(
        ds.copy(), "climatological_mean_air_temperature", np.full(10, 290.0), "K", np.arange(1, 11)
    )
    with pytest.raises(InputError, match=r"day\(s\) of year \[207, 208\]"):
        derive_one("temperature_anomaly", short)


@pytest.mark.product("precipitation_anomaly_percentage")
def test_precipitation_anomaly_percentage_hand_case():
    rain = np.zeros((72, 1, 2))
    rain[13:37, 0, 0] = 0.5  # 12 mm on the first 20–20 day at point 0
    rain[37:61, 0, 0] = 0.25  # 6 mm on the second
    ds = grid_dataset({"precipitation_amount": rain}, times=72, shape=(1, 2))
    normals = np.full(366, 8.0)
    normals[207] = 0.0  # day of year 208 (2026-07-27) has a zero normal at every point
    ds = with_climatology(ds, "climatological_daily_precipitation", normals, "mm")
    out = derive_one("precipitation_anomaly_percentage", ds)
    assert out.values[0, 0, 0] == pytest.approx((12 - 8) / 8 * 100)  # +50 %
    assert out.values[0, 0, 1] == pytest.approx(-100.0)  # dry day
    assert np.isnan(out.values[1]).all()  # normal 0 mm: undefined
    two = derive_one("precipitation_anomaly_percentage", ds, parameters={"window": "2 d"})
    assert two.values[1, 0, 0] == pytest.approx((18 - 8) / 8 * 100)
    assert out.attrs["units"] == "percent"


# ---------------------------------------------------------------- humidity


def _humid_inputs():
    p = np.array([1013.25, 1000.0, 950.0, 850.0, 700.0, 993.0])
    t = np.array([30.0, 35.0, 20.0, 5.0, -20.0, 32.0]) + 273.15
    td = np.array([26.0, 10.0, 20.0, -5.0, -35.0, 15.0]) + 273.15
    ds = grid_dataset(
        {
            "surface_air_pressure": p.reshape(1, 1, -1),
            "air_temperature_2m": t.reshape(1, 1, -1),
            "dewpoint_temperature_2m": td.reshape(1, 1, -1),
        },
        times=1,
        shape=(1, p.size),
    )
    return ds, p * units.hPa, t * units.K, td * units.K


@pytest.mark.product("specific_humidity_2m")
def test_specific_humidity_matches_metpy():
    ds, p, _, td = _humid_inputs()
    out = derive_one("specific_humidity_2m", ds).values.ravel()
    expected = mpcalc.specific_humidity_from_dewpoint(p, td).m_as("g/kg")
    np.testing.assert_allclose(out, expected, rtol=1e-5)
    # Hand check: 1000 hPa, Td = 10 °C: e = 12.28 hPa, q = 0.622e/(p − 0.378e) = 7.67 g/kg.
    assert out[1] == pytest.approx(7.67, abs=0.02)


@pytest.mark.product("vapour_pressure_2m")
def test_vapour_pressure_matches_metpy_and_table():
    ds, _, _, td = _humid_inputs()
    out = derive_one("vapour_pressure_2m", ds).values.ravel()
    np.testing.assert_allclose(out, mpcalc.saturation_vapor_pressure(td).m_as("hPa"), rtol=1e-5)
    # es(20 °C) = 23.39 hPa (IAPWS; WMO-No. 8 tables): MetPy's Ambaum (2020) form is 0.2 % lower.
    assert out[2] == pytest.approx(23.39, rel=2.5e-3)


@pytest.mark.product("vapour_pressure_deficit_2m")
def test_vapour_pressure_deficit_wmo_formula():
    t = np.array([30.0, 20.0, 0.0, 35.0]) + 273.15
    rh = np.array([50.0, 100.0, 80.0, 20.0])
    ds = grid_dataset(
        {"air_temperature_2m": t.reshape(1, 1, -1), "relative_humidity_2m": rh.reshape(1, 1, -1)},
        times=1,
        shape=(1, 4),
    )
    out = derive_one("vapour_pressure_deficit_2m", ds).values.ravel()
    celsius = t - 273.15
    wmo = 6.112 * np.exp(17.62 * celsius / (243.12 + celsius)) * (1 - rh / 100)
    np.testing.assert_allclose(out, wmo, rtol=1e-3, atol=1e-6)
    assert out[1] == pytest.approx(0.0, abs=1e-6)  # saturated air
    metpy = mpcalc.saturation_vapor_pressure(t * units.K).m_as("hPa") * (1 - rh / 100)
    np.testing.assert_allclose(out, metpy, rtol=5e-3)


@pytest.mark.product("wet_bulb_temperature_2m")
def test_wet_bulb_matches_metpy_normand():
    ds, p, t, td = _humid_inputs()
    out = derive_one("wet_bulb_temperature_2m", ds).values.ravel()
    expected = mpcalc.wet_bulb_temperature(p, t, td).m_as("degC")
    np.testing.assert_allclose(out, expected, atol=2e-3)
    assert out[5] == pytest.approx(20.3937601, abs=2e-3)  # MetPy docstring example
    assert out[2] == pytest.approx(20.0, abs=1e-3)  # saturated: Tw = T = Td


@pytest.mark.product("wet_bulb_temperature_2m")
def test_vectorized_normand_agrees_with_metpy_on_a_random_sample():
    rng = np.random.default_rng(42)
    n = 150
    p = rng.uniform(550, 1050, n) * units.hPa
    t = rng.uniform(-35, 48, n) * units.degC
    td = t - rng.uniform(0, 45, n) * units.delta_degC
    ours = normand_wet_bulb_temperature(p, t, td).m_as("K")
    metpy = mpcalc.wet_bulb_temperature(p, t, td).m_as("K")
    assert np.max(np.abs(ours - metpy)) < 1e-3


@pytest.mark.product("wet_bulb_temperature_2m")
def test_wet_bulb_propagates_missing_values():
    t = np.full((2, 1, 3), 300.0)
    t[1, 0, 1] = np.nan
    ds = grid_dataset(
        {"surface_air_pressure": 1000.0, "air_temperature_2m": t, "dewpoint_temperature_2m": 290.0},
        times=2,
        shape=(1, 3),
    )
    out = derive_one("wet_bulb_temperature_2m", ds).values
    assert np.isnan(out[1, 0, 1]) and np.isfinite(np.delete(out.ravel(), 4)).all()


@pytest.mark.product("equivalent_potential_temperature_2m")
def test_equivalent_potential_temperature_matches_metpy():
    ds = grid_dataset(
        {
            "surface_air_pressure": 850.0,
            "air_temperature_2m": 293.15,
            "dewpoint_temperature_2m": 291.15,
        },
        times=1,
    )
    out = derive_one("equivalent_potential_temperature_2m", ds)
    # MetPy docstring: equivalent_potential_temperature(850 hPa, 20 °C, 18 °C) = 353.898874 K.
    np.testing.assert_allclose(out.values, 353.898874, atol=2e-3)
    assert out.attrs["standard_name"] == "air_pseudo_equivalent_potential_temperature"


# ---------------------------------------------------------------- pressure


@pytest.mark.product("mean_sea_level_pressure")
def test_mean_sea_level_pressure_reduction():
    z = np.array([0.0, 100.0, 1000.0, 1500.0])
    p = np.array([1012.0, 1000.0, 900.0, 850.0])
    ds = grid_dataset(
        {
            "surface_air_pressure": p.reshape(1, 1, -1),
            "air_temperature_2m": 288.15,
            "dewpoint_temperature_2m": 278.15,
            "surface_altitude": z.reshape(1, -1),
        },
        times=1,
        shape=(1, 4),
    )
    out = derive_one("mean_sea_level_pressure", ds).values.ravel()
    assert out[0] == pytest.approx(1012.0, abs=1e-3)  # at sea level: unchanged
    # Hand computation: Tv = T (w + ε)/(ε (1 + w)) with w(900 hPa, Td 5 °C) = 6.09 g/kg.
    w = mpcalc.saturation_mixing_ratio(p * units.hPa, 278.15 * units.K).m_as("")
    tv = 288.15 * (w + 0.6219569) / (0.6219569 * (1 + w))
    hand = p * np.exp(9.80665 * z / (287.0475 * (tv + 0.0065 * z / 2)))
    np.testing.assert_allclose(out, hand, atol=1e-2)
    # By hand: Tv = 289.22 K, mean 292.47 K, exp(9.80665·1000/(287.05·292.47)) = 1.12390.
    assert out[2] == pytest.approx(900.0 * 1.12390, abs=0.05)
    # The exact barometric law for a linear Tv(z) column agrees to well under 0.1 hPa.
    exact = p * (1 + 0.0065 * z / tv) ** (9.80665 / (287.0475 * 0.0065))
    np.testing.assert_allclose(out, exact, atol=0.05)


@pytest.mark.product("pressure_tendency_3h")
@pytest.mark.parametrize(("step", "lag_steps"), [("10min", 18), ("1h", 3), ("3h", 1)])
def test_pressure_tendency_3h(step, lag_steps):
    n = 40
    p = 1000.0 + np.arange(n) * (0.9 / lag_steps)  # rising 0.9 hPa per 3 h
    ds = grid_dataset({"surface_air_pressure": series(p)}, times=n, step=step)
    out = derive_one("pressure_tendency_3h", ds).values[:, 0, 0]
    assert np.isnan(out[:lag_steps]).all()
    np.testing.assert_allclose(out[lag_steps:], 0.3 * 3, atol=1e-3)


# ---------------------------------------------------------------- wind

FORCE_LOWER_BOUNDS = [
    0.3,
    1.6,
    3.4,
    5.5,
    8.0,
    10.8,
    13.9,
    17.2,
    20.8,
    24.5,
    28.5,
    32.7,
    37.0,
    41.5,
    46.2,
    51.0,
    56.1,
]


def _boundary_cases(bounds, resolution=0.1):
    """Values at and around each lower bound and the expected class (rounding halves up)."""
    values, expected = [], []
    for k, bound in enumerate(bounds, start=1):
        for offset, cls in (
            (-resolution, k - 1),  # the table's upper value of the class below
            (-0.6 * resolution, k - 1),  # rounds down to it
            (-0.5 * resolution, k),  # exactly half a step below: halves round up
            (-0.4 * resolution, k),  # rounds up to the bound
            (0.0, k),
            (0.4 * resolution, k),
        ):
            values.append(round(bound + offset, 4))
            expected.append(cls)
    return np.array(values), np.array(expected, dtype=float)


@pytest.mark.product("wind_force_scale")
def test_wind_force_scale_at_every_boundary():
    speeds, expected = _boundary_cases(FORCE_LOWER_BOUNDS)
    speeds = np.concatenate([speeds, [0.0, 0.24, 0.25, 61.2, 61.3, 75.0, np.nan]])
    expected = np.concatenate([expected, [0, 0, 1, 17, 17, 17, np.nan]])
    ds = grid_dataset(
        {"eastward_wind_10m": speeds.reshape(1, 1, -1), "northward_wind_10m": 0.0},
        times=1,
        shape=(1, speeds.size),
    )
    out = derive_one("wind_force_scale", ds)
    np.testing.assert_array_equal(out.values.ravel(), expected)
    assert out.attrs["flag_values"].tolist() == list(range(18))
    assert out.attrs["flag_meanings"].split()[8] == "gale"
    assert out.attrs["standard_name"] == "beaufort_wind_force"


@pytest.mark.product("maximum_gust_1h")
@pytest.mark.product("maximum_gust_24h")
def test_maximum_gust_on_ten_minute_data():
    n = 6 * 50
    gust = np.full(n, 5.0)
    gust[100] = 25.0  # one 10-min peak
    ds = grid_dataset({"wind_speed_of_gust_10m": series(gust)}, times=n, step="10min")
    hour = derive_one("maximum_gust_1h", ds).values[:, 0, 0]
    day = derive_one("maximum_gust_24h", ds).values[:, 0, 0]
    assert np.isnan(hour[:5]).all()
    assert hour[99] == 5.0 and (hour[100:106] == 25.0).all() and hour[106] == 5.0
    assert np.isnan(day[:143]).all() and (day[143 : 100 + 144] == 25.0).all()
    assert day[100 + 144] == 5.0  # the peak has left the 24 h window


@pytest.mark.product("maximum_gust_1h")
def test_maximum_gust_1h_on_hourly_data_is_the_hourly_value():
    gust = np.arange(10.0)
    ds = grid_dataset({"wind_speed_of_gust_10m": series(gust)}, times=10)
    np.testing.assert_array_equal(derive_one("maximum_gust_1h", ds).values[:, 0, 0], gust)


@pytest.mark.product("maximum_wind_speed_24h")
def test_maximum_wind_speed_24h_from_the_components():
    u = np.full(30, 3.0)
    u[5] = 12.0
    ds = grid_dataset(
        {"eastward_wind_10m": series(u), "northward_wind_10m": series(np.full(30, 4.0))}, times=30
    )
    out = derive_one("maximum_wind_speed_24h", ds).values[:, 0, 0]
    assert np.isnan(out[:23]).all()
    np.testing.assert_allclose(out[23:29], np.hypot(12.0, 4.0), atol=1e-4)  # 12.65 m/s
    np.testing.assert_allclose(out[29], 5.0, atol=1e-4)  # after hour 5 left: 3-4-5


# ---------------------------------------------------------------- precipitation


@pytest.mark.product("precipitation_accumulation_3h")
@pytest.mark.product("precipitation_accumulation_6h")
@pytest.mark.product("precipitation_accumulation_12h")
@pytest.mark.product("precipitation_accumulation_48h")
@pytest.mark.product("precipitation_accumulation_72h")
@pytest.mark.parametrize(("step", "per_hour"), [("10min", 6), ("1h", 1)])
def test_accumulation_windows(step, per_hour):
    n = 80 * per_hour
    rain = np.full((n, 1, 2), 1.0 / per_hour)  # 1 mm per hour
    rain[20 * per_hour, 0, 1] = np.nan
    ds = grid_dataset({"precipitation_amount": rain}, times=n, step=step, shape=(1, 2))
    for product, hours in (
        ("precipitation_accumulation_3h", 3),
        ("precipitation_accumulation_6h", 6),
        ("precipitation_accumulation_12h", 12),
        ("precipitation_accumulation_48h", 48),
        ("precipitation_accumulation_72h", 72),
    ):
        out = derive_one(product, ds)
        width = hours * per_hour
        assert np.isnan(out.values[: width - 1, 0, 0]).all()
        np.testing.assert_allclose(out.values[width - 1 :, 0, 0], hours, rtol=1e-5)
        # Every window containing the missing step is missing at point 1.
        gap = 20 * per_hour
        assert np.isnan(out.values[gap : gap + width, 0, 1]).all()
        assert out.attrs["cell_methods"] == f"time: sum (interval: {hours} hour)"


@pytest.mark.product("precipitation_accumulation_3h")
@pytest.mark.product("precipitation_accumulation_6h")
def test_accumulation_on_three_hourly_data():
    ds = grid_dataset({"precipitation_amount": 2.0}, times=10, step="3h")
    np.testing.assert_allclose(derive_one("precipitation_accumulation_3h", ds).values, 2.0)
    six = derive_one("precipitation_accumulation_6h", ds).values
    assert np.isnan(six[0]).all() and np.allclose(six[1:], 4.0)


@pytest.mark.product("daily_precipitation")
def test_daily_precipitation_on_the_beijing_day():
    rain = np.zeros((72, 1, 2))
    rain[12, 0, 0] = 5.0  # stamped 12 UTC 07-25: closes the day before (not complete)
    rain[13, 0, 0] = 7.0  # 13 UTC: the first hour of the day starting 07-25T12
    rain[36, 0, 0] = 1.5  # 12 UTC 07-26: the last hour of that day
    rain[40, 0, 1] = np.nan
    ds = grid_dataset({"precipitation_amount": rain}, times=72, shape=(1, 2))
    out = derive_one("daily_precipitation", ds)
    np.testing.assert_array_equal(
        out["day"].values, pd.to_datetime(["2026-07-25T12:00", "2026-07-26T12:00"]).values
    )
    assert out.values[0, 0, 0] == pytest.approx(8.5)
    assert out.values[0, 0, 1] == 0.0 and np.isnan(out.values[1, 0, 1])
    eight = derive_one("daily_precipitation", ds, parameters={"day_definition": "beijing_08_08"})
    assert eight["day"].values[0] == np.datetime64("2026-07-25T00:00")
    assert eight.values[0, 0, 0] == pytest.approx(12.0)  # hours 1 … 24 UTC hold 5 + 7


@pytest.mark.product("maximum_hourly_precipitation_24h")
def test_maximum_hourly_precipitation_hourly():
    rain = np.zeros(60)
    rain[10] = 30.0
    rain[40] = 12.0
    ds = grid_dataset({"precipitation_amount": series(rain)}, times=60)
    out = derive_one("maximum_hourly_precipitation_24h", ds).values[:, 0, 0]
    assert np.isnan(out[:23]).all()
    assert (out[23:34] == 30.0).all()  # hour 10 inside (t − 24 h, t] until t = 33
    assert (out[34:40] == 0.0).all() and (out[40:60] == 12.0).all()


@pytest.mark.product("maximum_hourly_precipitation_24h")
def test_maximum_hourly_precipitation_sliding_hour_on_ten_minute_data():
    rng = np.random.default_rng(3)
    rain = rng.gamma(0.3, 1.0, 6 * 30)
    ds = grid_dataset({"precipitation_amount": series(rain)}, times=rain.size, step="10min")
    out = derive_one("maximum_hourly_precipitation_24h", ds).values[:, 0, 0]
    t = rain.size - 1
    window = rain[t - 143 : t + 1]  # the 144 steps of (t − 24 h, t]
    hourly = np.convolve(window, np.ones(6), mode="valid")  # 60-min sums inside it
    assert out[t] == pytest.approx(hourly.max(), rel=1e-5)
    assert np.isnan(out[142]) and np.isfinite(out[143])


def _grade_dataset(values, hours):
    # `hours` + 1 steps: the last window holds zeros and then the values in its last hour.
    return grid_dataset(
        {"precipitation_amount": row(values, times=hours + 1)},
        times=hours + 1,
        shape=(1, len(values)),
    )


@pytest.mark.parametrize(
    ("product", "hours", "bounds"),
    [
        pytest.param(
            "precipitation_grade_1h",
            1,
            [0.1, 2, 5, 10, 20],
            marks=pytest.mark.product("precipitation_grade_1h"),
        ),
        pytest.param(
            "precipitation_grade_3h",
            3,
            [0.1, 3, 10, 20, 50, 70],
            marks=pytest.mark.product("precipitation_grade_3h"),
        ),
        pytest.param(
            "precipitation_grade_12h",
            12,
            [0.1, 5, 15, 30, 70, 140],
            marks=pytest.mark.product("precipitation_grade_12h"),
        ),
        pytest.param(
            "precipitation_grade_24h",
            24,
            [0.1, 10, 25, 50, 100, 250],
            marks=pytest.mark.product("precipitation_grade_24h"),
        ),
    ],
)
def test_precipitation_grades_at_every_boundary(product, hours, bounds):
    values, expected = _boundary_cases(bounds)
    values = np.concatenate([values, [0.0, 0.04, 0.05, 1000.0, np.nan]])
    expected = np.concatenate([expected, [0, 0, 1, len(bounds), np.nan]])
    out = derive_one(product, _grade_dataset(values, hours))
    np.testing.assert_array_equal(out.values[-1].ravel(), expected)
    assert out.attrs["flag_values"].tolist() == list(range(len(bounds) + 1))
    assert out.attrs["flag_meanings"].split()[:2] == ["no_precipitation", "light_rain"]


@pytest.mark.product("precipitation_grade_24h")
def test_gb_t_28592_24h_examples():
    # GB/T 28592 table values: 9.9 小雨, 10.0 中雨, 24.9 中雨, 25.0 大雨, 49.9 大雨, 50.0 暴雨,
    # 99.9 暴雨, 100.0 大暴雨, 249.9 大暴雨, 250.0 特大暴雨.
    values = [9.9, 10.0, 24.9, 25.0, 49.9, 50.0, 99.9, 100.0, 249.9, 250.0]
    out = derive_one("precipitation_grade_24h", _grade_dataset(values, 24))
    np.testing.assert_array_equal(out.values[-1].ravel(), [1, 2, 2, 3, 3, 4, 4, 5, 5, 6])


def _daily_rain(daily_totals, start="2026-07-24T12:00"):
    """Hourly rain whose Beijing 20–20 days (first day labelled 07-24T12 UTC) sum to ``daily_totals``."""
    daily_totals = np.asarray(daily_totals, dtype=float)
    hours = 24 * daily_totals.size + 1
    rain = np.zeros(hours)
    rain[1:] = np.repeat(daily_totals / 24.0, 24)  # stamp 0 closes the previous day
    return grid_dataset(
        {"precipitation_amount": series(rain, 2)}, times=hours, start=start, shape=(1, 2)
    )


@pytest.mark.product("consecutive_dry_days")
@pytest.mark.product("consecutive_wet_days")
def test_consecutive_dry_and_wet_days_etccdi_definitions():
    # Daily totals (mm): dry < 1 mm, wet ≥ 1 mm (ETCCDI). Runs: dry 0,0.5,0.9 → 3; wet 1,5 → 2.
    totals = [2.0, 0.0, 0.5, 0.9, 1.0, 5.0, 0.0, 3.0]
    ds = _daily_rain(totals)
    dry = derive_one("consecutive_dry_days", ds)
    wet = derive_one("consecutive_wet_days", ds)
    assert dry.dims[0] == "period" and dry.sizes["period"] == 1
    assert dry["period"].values[0] == np.datetime64("2026-01-01")
    assert dry.values[0, 0, 0] == 3 and wet.values[0, 0, 0] == 2
    # With the Chinese 0.1 mm 无降水 threshold only the 0 mm days are dry.
    cn = derive_one("consecutive_dry_days", ds, parameters={"threshold": "0.1 mm"})
    assert cn.values[0, 0, 0] == 1
    assert dry.attrs["units"] == "day"


@pytest.mark.product("consecutive_dry_days")
def test_consecutive_dry_days_periods_and_missing_days():
    # Four days across New Year (Beijing dates 12-30 … 01-02): two periods.
    ds = _daily_rain([0.0, 0.0, 0.0, 4.0], start="2026-12-29T12:00")
    rain = ds["precipitation_amount"].values.copy()
    rain[80, 0, 1] = np.nan  # a missing hour on Beijing 2027-01-02 at point 1
    ds["precipitation_amount"] = (
        ds["precipitation_amount"].dims,
        dask_array.from_array(rain),
        {"units": "mm"},
    )
    out = derive_one("consecutive_dry_days", ds)
    np.testing.assert_array_equal(
        out["period"].values, pd.to_datetime(["2026-01-01", "2027-01-01"]).values
    )
    assert out.values[0, 0, 0] == 2 and out.values[1, 0, 0] == 1  # 12-30, 12-31 | 01-01
    assert np.isnan(out.values[1, 0, 1]) and out.values[0, 0, 1] == 2


# ---------------------------------------------------------------- visibility, fog, haze


@pytest.mark.product("visibility")
def test_visibility_is_converted_to_metres_and_range_checked():
    ds = grid_dataset(
        {"visibility_in_air": np.array([[[0.2, 12.5, 150.0, np.nan]]])}, times=1, shape=(1, 4)
    )
    ds["visibility_in_air"].attrs["units"] = "km"
    out = derive_one("visibility", ds).values.ravel()
    np.testing.assert_allclose(out[:2], [200.0, 12500.0])
    assert np.isnan(out[2:]).all()  # 150 km is outside the valid range; NaN stays NaN


@pytest.mark.product("fog_grade")
def test_fog_grade_at_every_boundary():
    vis = np.array(
        [
            20000,
            10000,
            9999,
            1000,
            999,
            500,
            499.9,
            200,
            199,
            50,
            49.9,
            0,
            300,
            300,
            300,
            np.nan,
            300,
        ]
    )
    rh = np.array([95, 95, 95, 95, 95, 95, 95, 95, 95, 95, 95, 95, 90, 89.9, 60, 95, np.nan])
    expected = [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 3, 0, 0, np.nan, np.nan]
    ds = grid_dataset(
        {"visibility_in_air": vis.reshape(1, 1, -1), "relative_humidity_2m": rh.reshape(1, 1, -1)},
        times=1,
        shape=(1, vis.size),
    )
    out = derive_one("fog_grade", ds)
    np.testing.assert_array_equal(out.values.ravel(), expected)
    assert (
        out.attrs["flag_meanings"]
        == "no_fog mist fog dense_fog strong_dense_fog extremely_dense_fog"
    )


@pytest.mark.product("haze_grade")
def test_haze_grade_at_every_boundary():
    vis = np.array([10000, 9999, 5000, 4999, 3000, 2999, 2000, 1999, 100, 2500, 2500, np.nan])
    rh = np.array([50, 50, 50, 50, 50, 50, 50, 50, 50, 79.9, 80, 50])
    expected = [0, 1, 1, 2, 2, 3, 3, 4, 4, 3, 0, np.nan]
    ds = grid_dataset(
        {"visibility_in_air": vis.reshape(1, 1, -1), "relative_humidity_2m": rh.reshape(1, 1, -1)},
        times=1,
        shape=(1, vis.size),
    )
    out = derive_one("haze_grade", ds)
    np.testing.assert_array_equal(out.values.ravel(), expected)
    assert out.attrs["flag_colors"].split()[0] == "#FFFFFF"
