"""Reference values for the sector service products (catalog.d/service_sector.yaml).

References: xclim called directly and eagerly on the same inputs (FWI codes, FFDI, KBDI,
evapotranspiration, degree days, ETCCDI indices, SPI, Thornthwaite PET), independent
plain-Python implementations of the published formulas (SPEI with the generalized
logistic, MCI from its components, SHARPlib's Fosberg/EMC, Srock's HDW with MetPy's
saturation vapour pressure), official class limits tested at and around every boundary,
and hand-computed cases. Every product is derived through the engine (``derive_one``,
which also checks that it stays lazy).
"""

from __future__ import annotations

import math
import warnings

import dask.array as dask_array
import metpy.calc as mpcalc
import numpy as np
import pandas as pd
import pytest
import scipy.stats
import xarray as xr
from metpy.units import units
from weatherdata.products.service import _sector

import weatherdata
from tests.helpers import catalog_section, derive_one
from weatherdata.errors import InputError
from weatherdata.units import import_xclim
from weatherdata.variables import canonical_variables

AGREED_IDS = {"forest_fire_weather_grade", "meteorological_drought_composite_index"}

# An hourly record of six UTC days. Its complete Beijing 20–20 days are labelled
# 07-24T12 … 07-28T12 (UTC start), i.e. the dates 2025-07-25 … 2025-07-29.
START = "2025-07-24T00:00"
HOURS = 6 * 24
DATES = pd.date_range("2025-07-25", periods=5, freq="D")
DAY_LABELS = DATES - pd.Timedelta(hours=12)
LATITUDE = [23.0]
LONGITUDE = [113.0, 113.5]


@pytest.fixture(scope="module")
def xi():
    return import_xclim("xclim.indices")


# ---------------------------------------------------------------- datasets


def make(variables, *, hours=HOURS, start=START, levels=None, history=None, points=None):
    """A float64, Dask-backed canonical dataset on a 1 × 2 grid (1 × ``points``).

    Values are broadcast to each variable's canonical dims (``time`` hourly from ``start``,
    ``dayofyear`` 1–366, ``history_time`` = the dates ``history``).
    """
    spec = canonical_variables()
    longitude = LONGITUDE if points is None else list(113.0 + 0.1 * np.arange(points))
    coords = {"latitude": LATITUDE, "longitude": longitude, "dayofyear": np.arange(1, 367)}
    if hours:
        coords["time"] = pd.date_range(start, periods=hours, freq="1h")
    if levels is not None:
        coords["pressure"] = np.asarray(levels, dtype=float)
    if history is not None:
        coords["history_time"] = history
    data = {}
    for name, value in variables.items():
        dims = []
        for dim in spec[name].dims:
            dims += ["latitude", "longitude"] if dim == "horizontal" else [dim]
        shape = tuple(len(coords[d]) for d in dims)
        array = np.broadcast_to(np.asarray(value, dtype=np.float64), shape).copy()
        data[name] = (
            dims,
            dask_array.from_array(array, chunks=array.shape),
            {"units": spec[name].units},
        )
    return xr.Dataset(data, coords={k: v for k, v in coords.items()})


def per_day(values, *, first_day_offset=13):
    """An hourly (time, 1, 1) array holding ``values[k]`` for every hour of day k.

    Hour 13 UTC of 07-24 (index 13) opens the first 20–20 day; the 13 hours before it and
    the 11 after the fifth day repeat the first and last values.
    """
    values = np.asarray(values, dtype=np.float64)
    hourly = np.repeat(values, 24)
    hourly = np.concatenate([np.full(first_day_offset, values[0]), hourly])
    hourly = np.concatenate([hourly, np.full(HOURS - hourly.size, values[-1])])
    return hourly[:, None, None]


def rain_per_day(totals):
    """Hourly precipitation whose 20–20 daily totals are ``totals`` (all of it in the last
    hour of each day, 12 UTC) — exact daily sums."""
    hourly = np.zeros(HOURS)
    for k, total in enumerate(totals):
        hourly[13 + 24 * k + 23] = total
    return hourly[:, None, None]


def index_of(stamp):
    return int((pd.Timestamp(stamp) - pd.Timestamp(START)) / pd.Timedelta(hours=1))


def at_bjt(array, hour):
    """Values of an hourly (time, y, x) array at ``hour`` Beijing time of each date."""
    return np.stack([array[index_of(d + pd.Timedelta(hours=hour - 8))] for d in DATES])


def beijing_days(hourly, how):
    """Daily statistic over the 20–20 days of an hourly (time, y, x) array."""
    out = []
    for k in range(5):
        block = hourly[13 + 24 * k : 13 + 24 * (k + 1)]
        out.append(getattr(np, how)(block, axis=0))
    return np.stack(out)


def series_on(dates, values, units_):
    values = np.asarray(values, dtype=np.float64)
    dims = ("time", "latitude", "longitude")
    return xr.DataArray(
        values,
        dims=dims,
        coords={"time": dates, "latitude": LATITUDE, "longitude": LONGITUDE},
        attrs={"units": units_},
    )


def latitude_coordinate():
    return xr.DataArray(
        np.asarray(LATITUDE),
        dims="latitude",
        coords={"latitude": LATITUDE},
        attrs={"units": "degrees_north"},
    )


def by_day(values):
    """xclim output (any dim order) on ``time`` → (time, 1, 2) numpy array."""
    return values.transpose("time", "latitude", "longitude").values


# ---------------------------------------------------------------- fragment


def test_fragment_has_exactly_48_service_products_including_the_agreed_ids():
    products = catalog_section("service_sector")["products"]
    service = [p["id"] for p in products if p["family"] == "service"]
    assert len(service) == 48
    assert len(set(service)) == 48
    assert AGREED_IDS <= set(service)


# ---------------------------------------------------------------- forest-fire weather grade


def reported(value, resolution):
    """``value`` in whole steps of ``resolution``, rounded halves up (as reported)."""
    return math.floor(value / resolution + 0.5 + 1e-4)


def national_index(tmax, rh14, dry_days, wind14):
    """The national forest-fire weather index written out from the LY/T 1172 tables, on
    reported values (0.1 °C, 1 %, 0.1 m/s)."""
    t = reported(tmax, 0.1)
    a = (
        0
        if t <= 50
        else 4
        if t <= 100
        else 8
        if t <= 150
        else 12
        if t <= 200
        else 16
        if t <= 250
        else 20
    )
    h = reported(rh14, 1)
    b = (
        0
        if h >= 65
        else 4
        if h >= 55
        else 8
        if h >= 45
        else 12
        if h >= 35
        else 16
        if h >= 25
        else 20
    )
    c = min(5 * dry_days, 50)
    w = reported(wind14, 0.1)
    force = 1 + sum(w >= v for v in (16, 34, 55, 80, 108, 139, 172))  # forces 2–8 in 0.1 m/s
    return a + b + c + 5 * force


def fire_dataset(tmax, rh14, wind14, rain):
    """Hourly inputs with the given daily maximum, 14:00 BJT humidity/wind and daily rain."""
    n = len(tmax)
    temperature = per_day(np.asarray(tmax) - 10.0) + 273.15
    humidity = per_day(np.full(n, 99.0))
    wind = per_day(np.zeros(n))
    for k, date in enumerate(DATES[:n]):
        temperature[index_of(date + pd.Timedelta(hours=4))] = tmax[k] + 273.15
        humidity[index_of(date + pd.Timedelta(hours=6))] = rh14[k]  # 14 BJT = 06 UTC
        wind[index_of(date + pd.Timedelta(hours=6))] = wind14[k]
    return make(
        {
            "air_temperature_2m": temperature,
            "relative_humidity_2m": humidity,
            "eastward_wind_10m": wind,
            "northward_wind_10m": 0.0,
            "precipitation_amount": rain_per_day(rain),
        }
    )


@pytest.mark.product("forest_fire_weather_grade")
@pytest.mark.parametrize(
    ("tmax", "rh14", "wind14"),
    [
        # every boundary of tables A (°C), B (%) and D (m/s, GB/T 28591 forces), on and
        # around the reporting resolution (halves round up: 64.5 % is reported 65 %)
        ([5.0, 5.1, 10.0, 10.1, 15.0], [65.0, 64.5, 64.4, 55.0, 54.4], [1.5, 1.6, 3.3, 3.4, 5.4]),
        (
            [15.1, 20.0, 20.1, 25.0, 25.1],
            [45.0, 44.4, 35.0, 34.4, 25.0],
            [5.5, 7.9, 8.0, 10.7, 10.8],
        ),
        (
            [4.0, 30.0, 12.0, 24.96, 25.05],
            [24.4, 24.5, 90.0, 10.0, 0.0],
            [13.8, 13.9, 17.1, 17.2, 1.55],
        ),
    ],
)
def test_forest_fire_weather_grade_tables_at_every_boundary(tmax, rh14, wind14):
    rain = [5.0, 0.0, 0.0, 0.0, 0.0]  # dry days 0, 1, 2, 3, 4
    ds = fire_dataset(tmax, rh14, wind14, rain)
    out = derive_one("forest_fire_weather_grade", ds)
    assert list(out["day"].values) == list(DAY_LABELS.values)
    for k in range(5):
        index = national_index(tmax[k], rh14[k], k, wind14[k])
        expected = 1 + sum(index >= bound for bound in (26, 51, 73, 91))
        assert out.values[k, 0, 0] == expected, (k, index)


@pytest.mark.product("forest_fire_weather_grade")
def test_forest_fire_weather_grade_limits_through_the_correction():
    # Day 1: 26 °C (20) + 20 % (20) + rain day (0) + 6 m/s force 4 (20) = 60. The phenology
    # correction E puts the index on each grade limit: E = 60 − 25 gives 25 (grade I).
    ds = fire_dataset([26.0] * 5, [20.0] * 5, [6.0] * 5, [3.0, 0, 0, 0, 0])
    for index, grade in [(25, 1), (26, 2), (50, 2), (51, 3), (72, 3), (73, 4), (90, 4), (91, 5)]:
        out = derive_one(
            "forest_fire_weather_grade", ds, parameters={"phenology_correction": 60 - index}
        )
        assert out.values[0, 0, 0] == grade, index


@pytest.mark.product("forest_fire_weather_grade")
def test_forest_fire_weather_grade_hand_cases_and_dry_day_run():
    # day 1: 26 °C (20) + 20 % (20) + rain day (0) + 6 m/s force 4 (20) = 60 → III
    # day 2: 0.1 mm is a dry day: 1 dry day (5) → 65 → III; day 3: 2 dry days → 70 → III
    # day 4: 0.2 mm rain → 0 → 60 → III; day 5: calm, 70 %, 4 °C, 1 dry day → 0+0+5+5 = 10 → I
    out = derive_one(
        "forest_fire_weather_grade",
        fire_dataset(
            [26.0, 26.0, 26.0, 26.0, 4.0],
            [20.0, 20.0, 20.0, 20.0, 70.0],
            [6.0, 6.0, 6.0, 6.0, 0.0],
            [3.0, 0.1, 0.0, 0.2, 0.0],
        ),
    )
    np.testing.assert_array_equal(out.values[:, 0, 0], [3, 3, 3, 3, 1])
    assert out.attrs["flag_meanings"].split() == [
        "low",
        "fairly_low",
        "fairly_high",
        "high",
        "very_high",
    ]
    assert out.attrs["flag_colors"].split()[0] == "#33A02C"


@pytest.mark.product("forest_fire_weather_grade")
def test_forest_fire_weather_grade_missing_inputs_propagate():
    ds = fire_dataset([26.0] * 5, [20.0] * 5, [6.0] * 5, [0.0] * 5)
    rh = ds["relative_humidity_2m"].values.copy()
    rh[index_of(DATES[1] + pd.Timedelta(hours=6)), 0, 0] = np.nan
    rain = ds["precipitation_amount"].values.copy()
    rain[13 + 24 * 2 + 5, 0, 1] = np.nan  # day 3 total missing at the second point
    ds["relative_humidity_2m"] = ds["relative_humidity_2m"].copy(data=dask_array.from_array(rh))
    ds["precipitation_amount"] = ds["precipitation_amount"].copy(data=dask_array.from_array(rain))
    out = derive_one("forest_fire_weather_grade", ds).values
    assert np.isnan(out[1, 0, 0]) and not np.isnan(out[[0, 2, 3, 4], 0, 0]).any()
    # the dry-day run is unknown from the missing day until the next rain day
    assert np.isnan(out[2:, 0, 1]).all() and not np.isnan(out[:2, 0, 1]).any()


# ---------------------------------------------------------------- Canadian FWI system


def weather_hours(seed=0):
    rng = np.random.default_rng(seed)
    t = 273.15 + 24 + 8 * rng.random((HOURS, 1, 2))
    rh = 30 + 60 * rng.random((HOURS, 1, 2))
    u = 8 * rng.random((HOURS, 1, 2))
    rain = np.where(rng.random((HOURS, 1, 2)) < 0.08, rng.exponential(3.0, (HOURS, 1, 2)), 0.0)
    return t, rh, u, rain


@pytest.fixture(scope="module")
def fwi_case(xi):
    t, rh, u, rain = weather_hours()
    ds = make(
        {
            "air_temperature_2m": t,
            "relative_humidity_2m": rh,
            "eastward_wind_10m": u,
            "northward_wind_10m": 0.0,
            "precipitation_amount": rain,
        }
    )
    noon = [index_of(d + pd.Timedelta(hours=4)) for d in DATES]  # 12:00 BJT = 04 UTC
    rain_24h = np.stack([rain[i - 23 : i + 1].sum(axis=0) for i in noon])
    fire = import_xclim("xclim.indices.fire")
    codes = fire.cffwis_indices(
        tas=series_on(DATES, t[noon] - 273.15, "degC"),
        pr=series_on(DATES, rain_24h, "mm/d"),
        sfcWind=series_on(DATES, u[noon], "m/s"),
        hurs=series_on(DATES, rh[noon], "%"),
        lat=latitude_coordinate(),
    )
    return ds, dict(zip(["DC", "DMC", "FFMC", "ISI", "BUI", "FWI"], codes, strict=True))


@pytest.mark.parametrize(
    ("product_id", "code"),
    [
        pytest.param(
            "fine_fuel_moisture_code", "FFMC", marks=pytest.mark.product("fine_fuel_moisture_code")
        ),
        pytest.param("duff_moisture_code", "DMC", marks=pytest.mark.product("duff_moisture_code")),
        pytest.param("drought_code", "DC", marks=pytest.mark.product("drought_code")),
        pytest.param(
            "initial_spread_index", "ISI", marks=pytest.mark.product("initial_spread_index")
        ),
        pytest.param("buildup_index", "BUI", marks=pytest.mark.product("buildup_index")),
        pytest.param("fire_weather_index", "FWI", marks=pytest.mark.product("fire_weather_index")),
    ],
)
def test_canadian_codes_match_xclim_on_the_noon_observations(fwi_case, product_id, code):
    ds, reference = fwi_case
    out = derive_one(product_id, ds)
    assert list(out["day"].values) == list(DAY_LABELS.values)
    # float32 storage of the wind and 24 h precipitation products: agreement to 1e-4
    np.testing.assert_allclose(out.values, by_day(reference[code]), rtol=1e-4, atol=1e-4)
    assert out.values[0, 0, 0] > 0


FWI_CODES = [
    "fine_fuel_moisture_code",
    "duff_moisture_code",
    "drought_code",
    "initial_spread_index",
    "buildup_index",
    "fire_weather_index",
]


@pytest.mark.parametrize("first_hour", [24, 48])
def test_canadian_codes_continue_the_published_record_exactly(fwi_case, first_hour):
    """Inputs that start a day or two into the record, with the codes published from the
    whole record up to the day before their first day: every day equals the one pass
    over the whole record (the codes restarted from 85/6/15 do not)."""
    ds, _ = fwi_case
    whole = weatherdata.derive(ds, FWI_CODES).compute()
    later = ds.isel(time=slice(first_hour, None))
    restarted = weatherdata.derive(later, FWI_CODES).compute()
    first_day = restarted["day"].values[0]
    published = {
        name: whole[name].sel(day=slice(None, first_day - np.timedelta64(1, "D")))
        for name in ("fine_fuel_moisture_code", "duff_moisture_code", "drought_code")
    }
    continued = weatherdata.derive(later, FWI_CODES, carried=published).compute()
    assert continued["day"].size >= 3
    for name in FWI_CODES:
        expected = whole[name].sel(day=continued["day"])
        np.testing.assert_allclose(continued[name], expected, rtol=1e-5, atol=1e-4)
    assert (
        abs(
            restarted["fine_fuel_moisture_code"]
            - whole["fine_fuel_moisture_code"].sel(day=restarted["day"])
        ).max()
        > 0.1
    )


def test_canadian_codes_do_not_continue_across_a_gap_or_without_every_code(fwi_case):
    ds, _ = fwi_case
    whole = weatherdata.derive(ds, FWI_CODES[:3]).compute()
    later = ds.isel(time=slice(48, None))
    gap = {name: whole[name].isel(day=slice(0, 1)) for name in FWI_CODES[:3]}  # lacks a day
    with pytest.raises(weatherdata.errors.InsufficientDataError, match="cannot be continued"):
        weatherdata.derive(later, ["fine_fuel_moisture_code"], carried=gap)
    partial = {"fine_fuel_moisture_code": whole["fine_fuel_moisture_code"]}
    with pytest.raises(weatherdata.errors.InsufficientDataError, match="needs the published"):
        weatherdata.derive(later, ["fine_fuel_moisture_code"], carried=partial)


# ---------------------------------------------------------------- history and normals


def history_dates(start="2016-01-01", end="2025-07-24"):
    return pd.date_range(start, end, freq="D")


def climate_dataset(
    *, history=None, seed=1, extra=None, rain=None, temperature=None, normals_rain=2.0
):
    """An hourly record with a daily history and normals, and the same daily series as
    plain arrays: (dataset, dates, daily precipitation, daily mean temperature (°C))."""
    history = history_dates() if history is None else history
    rng = np.random.default_rng(seed)
    wet = rng.random((history.size, 1, 2)) < 0.45
    past_rain = np.where(wet, rng.gamma(0.7, 12.0, (history.size, 1, 2)), 0.0).round(1)
    doy = history.day_of_year.values[:, None, None]
    past_temperature = (
        22.0 + 6.0 * np.sin(2 * np.pi * (doy - 110) / 365.25) + rng.normal(0, 1.5, past_rain.shape)
    )
    rain = rng.gamma(0.8, 10.0, (5, 1, 2)).round(1) if rain is None else np.asarray(rain)
    temperature = (
        27.0 + rng.normal(0, 1.0, (5, 1, 2)) if temperature is None else np.asarray(temperature)
    )
    hourly_rain = np.zeros((HOURS, 1, 2))
    for k in range(5):
        hourly_rain[13 + 24 * k + 23] = rain[k]
    hourly_temperature = np.concatenate(
        [np.repeat(temperature[:1], 13, axis=0), np.repeat(temperature, 24, axis=0)]
    )
    hourly_temperature = np.concatenate(
        [
            hourly_temperature,
            np.repeat(temperature[-1:], HOURS - hourly_temperature.shape[0], axis=0),
        ]
    )
    variables = {
        "precipitation_amount": hourly_rain,
        "air_temperature_2m": hourly_temperature + 273.15,
        "historical_daily_precipitation": past_rain,
        "historical_daily_mean_air_temperature": past_temperature + 273.15,
        "climatological_daily_precipitation": normals_rain,
        "climatological_mean_air_temperature": 273.15 + 22.0,
        **(extra or {}),
    }
    ds = make(variables, history=history)
    gap = pd.date_range(
        history[-1] + pd.Timedelta(days=1), DATES[0] - pd.Timedelta(days=1), freq="D"
    )
    full = history.append(gap).append(DATES)
    daily_rain = np.concatenate([past_rain, np.full((gap.size, 1, 2), normals_rain), rain])
    daily_temperature = np.concatenate(
        [past_temperature, np.full((gap.size, 1, 2), 22.0), temperature]
    )
    return ds, full, daily_rain, daily_temperature


def trailing(values, n, weights=None):
    """Trailing n-day (weighted) sums along axis 0, NaN where incomplete."""
    weights = np.ones(n) if weights is None else np.asarray(weights)
    out = np.full(values.shape, np.nan)
    for t in range(n - 1, values.shape[0]):
        out[t] = np.tensordot(weights, values[t - np.arange(n)], axes=1)
    return out


@pytest.mark.parametrize(
    "weights",
    [np.ones(150), np.ones(1), 0.9 ** np.arange(60), 2.5 * 0.5 ** np.arange(11), [1, 0.5, 0.3]],
    ids=["150-day total", "one day", "MCI r^i", "scaled k^i", "other weights"],
)
@pytest.mark.parametrize("chunked", [False, True], ids=["numpy", "dask"])
def test_weighted_trailing_sum_is_the_sum_written_out(weights, chunked):
    """The running-sum difference (uniform and geometric weights) and the lag-by-lag sum
    equal the window written out, with missing days and all-zero windows (exactly 0: SPI
    counts them); Dask blocks (map_overlap) as one array."""
    weights = np.asarray(weights, dtype=np.float64)
    rng = np.random.default_rng(3)
    rain = rng.gamma(0.3, 8.0, (700, 3, 4)).astype(np.float32)
    rain[rain < 3] = 0.0  # dry spells longer than the short windows
    rain[300:500, 0, 0] = 0.0  # a 200-day drought after rain: its windows total 0
    rain[rng.random(rain.shape) < 0.002] = np.nan
    rain[350, 1, 1] = -2.5  # a water balance can be negative
    expected = trailing(
        np.where(np.isfinite(rain), rain, 0.0).astype(np.float64), weights.size, weights
    )
    incomplete = trailing(np.isnan(rain).astype(np.float64), weights.size) != 0
    expected[incomplete] = np.nan
    series = xr.DataArray(rain, dims=("time", "y", "x"), attrs={"units": "mm"})
    if chunked:
        series = series.chunk({"time": 180})
    out = _sector.weighted_trailing_sum(series, weights).values
    np.testing.assert_array_equal(np.isnan(out), np.isnan(expected))
    np.testing.assert_array_equal(out == 0, expected == 0)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


def zero_inflated_samples():
    """30 years of two days of year at six grid points: zeros, all positive, all zero, one
    non-zero value, missing values, all missing."""
    rng = np.random.default_rng(11)
    dates = pd.DatetimeIndex(
        [f"{year}-{day}" for year in range(1991, 2021) for day in ("06-01", "06-02")]
    )
    values = rng.gamma(0.8, 20.0, (dates.size, 6))
    values[rng.random(dates.size) < 0.3, 0] = 0.0
    values[:, 2] = 0.0
    values[:, 3] = 0.0
    values[5, 3] = 12.0
    values[rng.random(dates.size) < 0.2, 4] = np.nan
    values[rng.random(dates.size) < 0.2, 4] = 0.0
    values[:, 5] = np.nan
    return xr.DataArray(values, dims=("time", "cell"), coords={"time": dates})


def test_zero_inflated_gamma_parameters_are_xclims_app_fit():
    calibration = zero_inflated_samples()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = import_xclim("xclim.indices.stats").standardized_index_fit_params(
            calibration,
            freq=None,
            window=1,
            dist="gamma",
            method="APP",
            zero_inflated=True,
            fitkwargs={"floc": 0},
        )
    days = calibration["time"].dt.dayofyear.values
    for day in np.unique(days):
        ours = _sector.zero_inflated_gamma_parameters(calibration.values[days == day].T)
        theirs = expected.sel(dayofyear=day)
        np.testing.assert_allclose(ours[:, 0], theirs.sel(dparams="a").values, rtol=1e-12)
        np.testing.assert_allclose(ours[:, 1], theirs.sel(dparams="scale").values, rtol=1e-12)
        np.testing.assert_allclose(ours[:, 2], theirs["prob_of_zero"].values, rtol=1e-12)
    assert np.isnan(ours[2:4, :2]).all() and ours[2, 2] == 1.0 and np.isnan(ours[5]).all()


def test_standardized_index_by_day_of_year_is_the_transform_written_out():
    """SPI of each target date: the fit of its own day of year, zeros at the probability of
    zero (xclim's upper ``ecdf`` position), Φ⁻¹ clipped to ±8.21; lazy as eager."""
    calibration = zero_inflated_samples()
    target_dates = pd.DatetimeIndex(["2024-06-01", "2024-06-02"])
    target = xr.DataArray(
        [[0.0, 35.0, 0.0, 1e-3, np.nan, 5.0], [400.0, 0.0, 7.0, 12.0, 0.5, 0.0]],
        dims=("time", "cell"),
        coords={"time": target_dates},
    )
    days = calibration["time"].dt.dayofyear.values
    expected = np.full(target.shape, np.nan)
    for row, date in enumerate(target_dates):
        shape, scale, zero = _sector.zero_inflated_gamma_parameters(
            calibration.values[days == date.day_of_year].T
        ).T
        for cell, value in enumerate(target.values[row]):
            if value == 0:
                probability = zero[cell]
            else:
                gamma = scipy.stats.gamma(shape[cell], loc=0, scale=scale[cell]).cdf(value)
                probability = zero[cell] + (1 - zero[cell]) * gamma
            expected[row, cell] = np.clip(scipy.stats.norm.ppf(probability), -8.21, 8.21)
    for lazy in (False, True):
        sample, values = (
            (calibration.chunk({"cell": 3}), target.chunk({"cell": 3}))
            if lazy
            else (calibration, target)
        )
        out = _sector._standardized_by_day_of_year(sample, values, "gamma")
        assert out.dims == ("cell", "time")
        np.testing.assert_allclose(out.transpose("time", "cell").values, expected, rtol=1e-12)
    # a dry day is below normal, 400 mm above; a point that was always dry: 0 is the top
    # of its distribution (clipped), any rain has no fitted distribution; no data: missing
    assert expected[0, 0] < 0 < expected[1, 0]
    assert expected[0, 2] == 8.21 and np.isnan(expected[1, 2])
    assert np.isnan(expected[:, 5]).all()


def record_rows(full):
    return [full.get_loc(d) for d in DATES]


@pytest.fixture(scope="module")
def drought_case(xi):
    ds, full, rain, temperature = climate_dataset()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # Thornthwaite on the same daily series, extended to the end of the year with the
        # normal (xclim resamples to months itself).
        tail = pd.date_range(full[-1] + pd.Timedelta(days=1), "2025-12-31", freq="D")
        tas = series_on(
            full.append(tail),
            np.concatenate([temperature, np.full((tail.size, 1, 2), 22.0)]),
            "degC",
        )
        pet = xi.potential_evapotranspiration(tas=tas, lat=latitude_coordinate(), method="TW48")
        pet = import_xclim("xclim.core.units").convert_units_to(pet, "mm/d", context="hydro")
        months = full.to_period("M").to_timestamp()
        daily_pet = by_day(pet.sel(time=months))
    return ds, full, rain, daily_pet


def xclim_spi(xi, full, values, window, years):
    """xclim's own SPI (daily, calibrated on ``years``), for the record's days of year."""
    doys = DATES.day_of_year
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spi = xi.standardized_precipitation_index(
            series_on(full, values, "mm/d"),
            freq="D",
            window=window,
            dist="gamma",
            method="APP",
            fitkwargs={"floc": 0},
            cal_start=f"{years[0]}-01-01",
            cal_end=f"{years[1]}-12-31",
            doy_bounds=(int(doys.min()), int(doys.max())),
        )
    return by_day(spi.sel(time=DATES))


@pytest.mark.product("standardized_precipitation_index")
def test_spi_matches_xclim_calibrated_on_the_history(xi, drought_case):
    ds, full, rain, _ = drought_case
    parameters = {"calibration_years": [2016, 2024]}
    out = derive_one("standardized_precipitation_index", ds, parameters=parameters)
    assert list(out["day"].values) == list(DAY_LABELS.values)
    np.testing.assert_allclose(out.values, xclim_spi(xi, full, rain, 30, (2016, 2024)), atol=2e-4)
    assert out.attrs["weatherdata_window"] == "30 d"


@pytest.mark.product("standardized_precipitation_index")
def test_spi_needs_the_history_and_its_calibration_years():
    ds, *_ = climate_dataset()
    with pytest.raises(InputError, match="historical_daily_precipitation"):
        weatherdata.derive(
            ds.drop_vars("historical_daily_precipitation"), ["standardized_precipitation_index"]
        )
    with pytest.raises(InputError, match="calibration years 1991–2020"):
        derive_one("standardized_precipitation_index", ds)  # the history starts in 2016


@pytest.mark.product("standardized_precipitation_index")
def test_spi_is_missing_for_windows_with_a_missing_day():
    ds, *_ = climate_dataset()
    values = ds["precipitation_amount"].values.copy()
    values[13 + 24 * 2 + 3, 0, 0] = np.nan  # a missing hour on the third day
    ds["precipitation_amount"] = ds["precipitation_amount"].copy(data=dask_array.from_array(values))
    out = derive_one(
        "standardized_precipitation_index", ds, parameters={"calibration_years": [2016, 2024]}
    )
    assert np.isnan(out.values[2:, 0, 0]).all() and not np.isnan(out.values[:2, 0, 0]).any()
    assert not np.isnan(out.values[:, 0, 1]).any()


def glo_reference(sample):
    """Generalized logistic by L-moments (Hosking & Wallis 1997), written out plainly."""
    x = sorted(float(v) for v in sample)
    n = len(x)
    b0 = sum(x) / n
    b1 = sum((i - 1) / (n - 1) * x[i - 1] for i in range(1, n + 1)) / n
    b2 = sum((i - 1) * (i - 2) / ((n - 1) * (n - 2)) * x[i - 1] for i in range(1, n + 1)) / n
    l1, l2, l3 = b0, 2 * b1 - b0, 6 * b2 - 6 * b1 + b0
    k = -l3 / l2
    a = l2 * math.sin(k * math.pi) / (k * math.pi)
    xi_ = l1 - a * (1 / k - math.pi / math.sin(k * math.pi))
    return k, a, xi_


def glo_cdf_reference(value, k, a, xi_):
    argument = 1 - k * (value - xi_) / a
    if argument <= 0:
        return 1.0 if k > 0 else 0.0
    return 1 / (1 + math.exp(math.log(argument) / k))


@pytest.mark.product("standardized_precipitation_evapotranspiration_index")
def test_spei_matches_the_generalized_logistic_written_out(drought_case):
    ds, full, rain, pet = drought_case
    out = derive_one(
        "standardized_precipitation_evapotranspiration_index",
        ds,
        parameters={"calibration_years": [2016, 2024]},
    )
    balance = trailing(rain - pet, 30)
    calibration = (full.year >= 2016) & (full.year <= 2024)
    for k, row in enumerate(record_rows(full)):
        same_day = np.flatnonzero(calibration & (full.day_of_year == full[row].day_of_year))
        for j in range(2):
            sample = balance[same_day, 0, j]
            params = glo_reference(sample[np.isfinite(sample)])
            expected = scipy.stats.norm.ppf(glo_cdf_reference(balance[row, 0, j], *params))
            assert out.values[k, 0, j] == pytest.approx(expected, abs=2e-4)


@pytest.mark.product("standardized_precipitation_evapotranspiration_index")
def test_generalized_logistic_fit_agrees_with_xclim_log_logistic():
    """On right-skewed log-logistic samples the GLO is the log-logistic: the vectorized
    L-moment fit gives the distribution of xclim's maximum-likelihood fit."""
    stats = import_xclim("xclim.indices.stats")
    rng = np.random.default_rng(7)
    sample = scipy.stats.fisk.rvs(4.0, loc=-20.0, scale=50.0, size=4000, random_state=rng)
    kappa, alpha, location = _sector.generalized_logistic_parameters(sample)
    assert (kappa, alpha, location) == pytest.approx(glo_reference(sample), rel=1e-9)
    c, loc, scale = stats.fit(xr.DataArray(sample, dims="time"), dist="fisk", method="ML").values
    points = np.quantile(sample, [0.02, 0.1, 0.3, 0.5, 0.7, 0.9, 0.98])
    ours = _sector.generalized_logistic_cdf(points, kappa, alpha, location)
    np.testing.assert_allclose(
        ours, scipy.stats.fisk.cdf(points, c, loc=loc, scale=scale), atol=0.01
    )
    # κ < 0: exactly scipy's fisk with c = −1/κ, loc = ξ + α/κ, scale = −α/κ
    np.testing.assert_allclose(
        ours,
        scipy.stats.fisk.cdf(
            points, -1 / kappa, loc=location + alpha / kappa, scale=-alpha / kappa
        ),
        rtol=1e-12,
    )
    # a left-skewed sample (which the log-logistic cannot fit) still gets a distribution
    left = 100.0 - sample
    kappa_left, *_ = _sector.generalized_logistic_parameters(left)
    assert kappa_left > 0


@pytest.mark.product("relative_moisture_index")
def test_relative_moisture_index_with_xclim_thornthwaite(drought_case):
    ds, full, rain, pet = drought_case
    out = derive_one("relative_moisture_index", ds)
    rows = record_rows(full)
    p30, e30 = trailing(rain, 30)[rows], trailing(pet, 30)[rows]
    np.testing.assert_allclose(out.values, (p30 - e30) / e30, rtol=1e-4)


@pytest.mark.product("meteorological_drought_composite_index")
def test_mci_from_its_components(xi, drought_case):
    ds, full, rain, pet = drought_case
    years = (2016, 2024)
    parameters = {"calibration_years": list(years)}
    out = derive_one("meteorological_drought_composite_index", ds, parameters=parameters)
    rows = record_rows(full)
    weighted = trailing(rain, 60, 0.9 ** np.arange(60))
    spiw60 = xclim_spi(xi, full, weighted, 1, years)
    mi30 = ((trailing(rain, 30) - trailing(pet, 30)) / trailing(pet, 30))[rows]
    spi90 = xclim_spi(xi, full, rain, 90, years)
    spi150 = xclim_spi(xi, full, rain, 150, years)
    expected = 0.3 * spiw60 + 0.5 * mi30 + 0.3 * spi90 + 0.2 * spi150
    np.testing.assert_allclose(out.values, expected, atol=5e-4)
    # K_a of July scales the index
    factors = [1] * 12
    factors[6] = 0.5
    halved = derive_one(
        "meteorological_drought_composite_index",
        ds,
        parameters={**parameters, "seasonal_factors": factors},
    )
    np.testing.assert_allclose(halved.values, 0.5 * out.values, rtol=1e-5)


# ---------------------------------------------------------------- antecedent days


@pytest.mark.product("geohazard_effective_rainfall")
def test_effective_rainfall_reaches_into_the_normals_between_history_and_record():
    # history ends 07-10; the 14 days up to the record are filled with the 2 mm normal
    history = pd.date_range("2025-06-01", "2025-07-10", freq="D")
    ds, *_ = climate_dataset(
        history=history, rain=np.array([10.0, 0, 5, 0, 0])[:, None, None] * np.ones((5, 1, 2))
    )
    out = derive_one("geohazard_effective_rainfall", ds)
    weights = [0.8**i for i in range(11)]
    day1 = 10 + sum(w * 2 for w in weights[1:])
    day2 = 0 + 0.8 * 10 + sum(w * 2 for w in weights[2:])
    day3 = 5 + 0.8 * 0 + 0.64 * 10 + sum(w * 2 for w in weights[3:])
    np.testing.assert_allclose(out.values[:3, 0, 0], [day1, day2, day3], rtol=1e-6)
    # without the gap fill the windows reaching the gap are missing
    none = weatherdata.derive(
        ds,
        ["geohazard_effective_rainfall"],
        parameters={"extended_daily_precipitation": {"gap_fill": "none"}},
    )["geohazard_effective_rainfall"].compute()
    assert np.isnan(none.values).all()


@pytest.mark.product("geohazard_effective_rainfall")
def test_effective_rainfall_uses_the_history_when_it_reaches_the_record():
    ds, full, rain, _ = climate_dataset()
    out = derive_one(
        "geohazard_effective_rainfall", ds, parameters={"decay": 0.5, "antecedent_days": "3 d"}
    )
    rows = record_rows(full)
    expected = trailing(rain, 4, [1, 0.5, 0.25, 0.125])[rows]
    np.testing.assert_allclose(out.values, expected, rtol=1e-6)


# ---------------------------------------------------------------- McArthur FFDI and KBDI


@pytest.fixture(scope="module")
def ffdi_case():
    t, rh, u, _ = weather_hours(seed=3)
    ds, full, rain, _ = climate_dataset(
        seed=4,
        extra={
            "air_temperature_2m": t,
            "relative_humidity_2m": rh,
            "eastward_wind_10m": u,
            "northward_wind_10m": 0.0,
        },
        normals_rain=4.5,
    )
    return ds, full, rain, t, rh, u


@pytest.mark.product("keetch_byram_drought_index")
def test_kbdi_matches_xclim(ffdi_case):
    ds, full, rain, t, *_ = ffdi_case
    fire = import_xclim("xclim.indices.fire")
    tmax = beijing_days(t, "max") - 273.15
    annual = xr.full_like(series_on(DATES, tmax, "degC").isel(time=0, drop=True), 4.5 * 365.25)
    annual.attrs = {"units": "mm/year"}
    reference = fire.keetch_byram_drought_index(
        series_on(DATES, rain[record_rows(full)], "mm/d"), series_on(DATES, tmax, "degC"), annual
    )
    out = derive_one("keetch_byram_drought_index", ds)
    np.testing.assert_allclose(out.values, by_day(reference), rtol=1e-4, atol=1e-4)
    assert (out.values >= 0).all() and (out.values <= 203.2).all()


def test_kbdi_continues_the_published_record_with_the_spell_in_progress():
    """The rain spell under way at the seam decides how much of the next days' rain is
    intercepted (the first 5 mm of a spell): the continued index equals one pass over the
    whole record, where restarting the interception (xclim's kbdi0 alone) does not."""
    rain = np.array([[0.0, 3.0], [2.0, 1.0], [4.0, 0.0], [0.0, 6.0], [1.0, 0.0]])[:, None, :]
    temperature = np.full((5, 1, 2), 31.0)
    ds, *_ = climate_dataset(seed=5, rain=rain, temperature=temperature, normals_rain=4.5)
    products = ["keetch_byram_drought_index", "daily_precipitation"]
    whole = weatherdata.derive(ds, products).compute()
    later = ds.isel(time=slice(48, None))
    first_day = weatherdata.derive(later, ["daily_precipitation"])["day"].values[0]
    published = {
        name: whole[name].sel(day=slice(None, first_day - np.timedelta64(1, "D")))
        for name in products
    }
    continued = weatherdata.derive(
        later, ["keetch_byram_drought_index"], carried=published
    ).compute()["keetch_byram_drought_index"]
    expected = whole["keetch_byram_drought_index"].sel(day=continued["day"])
    np.testing.assert_allclose(continued, expected, rtol=1e-5, atol=1e-4)
    # the daily precipitation published for longer than the index does not make a first
    # index continue: it starts up, as with nothing published
    started = weatherdata.derive(
        later,
        ["keetch_byram_drought_index"],
        carried={"daily_precipitation": published["daily_precipitation"]},
    )
    xr.testing.assert_identical(started, weatherdata.derive(later, ["keetch_byram_drought_index"]))
    # xclim from the published index alone starts the spell's interception full again
    fire = import_xclim("xclim.indices.fire")
    start = published["keetch_byram_drought_index"].isel(day=-1, drop=True)
    start = start.astype(np.float64).assign_attrs(units="mm/d")
    days = continued["day"].values
    tmax = series_on(days + np.timedelta64(12, "h"), temperature[-days.size :], "degC")
    annual = xr.full_like(start, 4.5 * 365.25).assign_attrs(units="mm/year")
    naive = fire.keetch_byram_drought_index(
        series_on(days + np.timedelta64(12, "h"), rain[-days.size :], "mm/d"), tmax, annual, start
    )
    assert np.abs(by_day(naive) - expected.values).max() > 0.1


@pytest.mark.product("mcarthur_forest_fire_danger_index")
def test_ffdi_matches_xclim_with_twenty_days_of_rain(ffdi_case):
    ds, full, rain, t, rh, u = ffdi_case
    fire = import_xclim("xclim.indices.fire")
    rows = record_rows(full)
    kbdi = derive_one("keetch_byram_drought_index", ds).values
    span = full[rows[0] - 19 : rows[-1] + 1]
    deficit = np.concatenate([np.full((19, 1, 2), np.nan), kbdi])
    factor = fire.griffiths_drought_factor(
        series_on(span, rain[rows[0] - 19 : rows[-1] + 1], "mm/d"), series_on(span, deficit, "mm/d")
    )
    reference = fire.mcarthur_forest_fire_danger_index(
        series_on(DATES, by_day(factor)[19:], ""),
        series_on(DATES, beijing_days(t, "max") - 273.15, "degC"),
        series_on(DATES, at_bjt(rh, 15), "%"),
        series_on(DATES, at_bjt(u, 15), "m/s"),
    )
    out = derive_one("mcarthur_forest_fire_danger_index", ds)
    np.testing.assert_allclose(out.values, by_day(reference), rtol=1e-4)
    assert np.isfinite(out.values).all()


# ---------------------------------------------------------------- Fosberg, EMC, HDW


@pytest.mark.product("equilibrium_moisture_content")
def test_equilibrium_moisture_content_hand_values_across_the_humidity_branches():
    # (T °C, RH %) → EMC %, SHARPlib/Simard branches: < 10 %, 10–50 % (inclusive), > 50 %
    cases = [
        (20, 5, 1.241135),
        (20, 9.99, 2.44756231),
        (20, 10, 2.82352),
        (20, 30, 6.02566),
        (20, 50, 9.2278),
        (20, 50.01, 9.6236455665),
        (30, 80, 15.61268),
        (0, 100, 27.2707),
    ]
    t = np.array([[[c[0] + 273.15 for c in cases]]])
    rh = np.array([[[c[1] for c in cases]]])
    ds = xr.Dataset(
        {
            "air_temperature_2m": (
                ("time", "latitude", "longitude"),
                dask_array.from_array(t),
                {"units": "K"},
            ),
            "relative_humidity_2m": (
                ("time", "latitude", "longitude"),
                dask_array.from_array(rh),
                {"units": "percent"},
            ),
        },
        coords={
            "time": [np.datetime64("2025-07-24T06:00")],
            "latitude": [23.0],
            "longitude": np.arange(len(cases)),
        },
    )
    out = derive_one("equilibrium_moisture_content", ds)
    np.testing.assert_allclose(out.values[0, 0], [c[2] for c in cases], rtol=2e-6)


@pytest.mark.product("fosberg_fire_weather_index")
def test_fosberg_hand_values_cap_and_missing():
    # 4.4704 m/s = 10 mph; (35 °C, 5 %, 30 m/s) hits the cap of 100.
    cases = [
        (20, 30, 4.4704, 21.919310714728),
        (30, 10, 10.0, 62.661917502735),
        (35, 5, 30.0, 100.0),
        (10, 90, 0.0, 0.539415021705),
    ]
    t = np.array([[[c[0] + 273.15 for c in cases] + [np.nan]]])
    rh = np.array([[[c[1] for c in cases] + [50.0]]])
    u = np.array([[[c[2] for c in cases] + [3.0]]])
    dims = ("time", "latitude", "longitude")
    ds = xr.Dataset(
        {
            "air_temperature_2m": (dims, dask_array.from_array(t), {"units": "K"}),
            "relative_humidity_2m": (dims, dask_array.from_array(rh), {"units": "percent"}),
            "eastward_wind_10m": (dims, dask_array.from_array(u), {"units": "m s-1"}),
            "northward_wind_10m": (
                dims,
                dask_array.from_array(np.zeros_like(u)),
                {"units": "m s-1"},
            ),
        },
        coords={
            "time": [np.datetime64("2025-07-24T06:00")],
            "latitude": [23.0],
            "longitude": np.arange(5),
        },
    )
    out = derive_one("fosberg_fire_weather_index", ds).values[0, 0]
    np.testing.assert_allclose(out[:4], [c[3] for c in cases], rtol=2e-6)
    assert np.isnan(out[4])


@pytest.mark.product("hot_dry_windy_index")
def test_hot_dry_windy_index_over_the_lowest_50_hpa():
    levels = [1000.0, 975.0, 950.0, 925.0, 900.0]
    t_levels = np.array([29.0, 30.0, 26.0, 20.0, 18.0]) + 273.15
    rh_levels = np.array([35.0, 25.0, 20.0, 5.0, 5.0])
    u_levels = np.array([6.0, 9.0, 11.0, 30.0, 30.0])  # 925/900 hPa lie above the layer
    shape = (2, 5, 1, 2)
    ds = make(
        {
            "air_temperature": np.broadcast_to(t_levels[None, :, None, None], shape),
            "relative_humidity": np.broadcast_to(rh_levels[None, :, None, None], shape),
            "eastward_wind": np.broadcast_to(u_levels[None, :, None, None], shape),
            "northward_wind": 0.0,
            "air_temperature_2m": 273.15 + 31.0,
            "relative_humidity_2m": 40.0,
            "eastward_wind_10m": 3.0,
            "northward_wind_10m": 4.0,
            "surface_air_pressure": np.array([1000.0, 1010.0])[:, None, None],
        },
        hours=2,
        levels=levels,
    )
    out = derive_one("hot_dry_windy_index", ds).values

    def vpd(t_k, rh):
        return (mpcalc.saturation_vapor_pressure(t_k * units.K) * (1 - rh / 100)).m_as("hPa")

    surface = vpd(304.15, 40.0)
    # psfc 1000 hPa: 1000, 975 and 950 (= psfc − 50, on the boundary) are in the layer
    expected_0 = (
        max(surface, *(vpd(t, r) for t, r in zip(t_levels[:3], rh_levels[:3], strict=True))) * 11.0
    )
    # psfc 1010 hPa: only 1000 and 975 are in the layer
    expected_1 = (
        max(surface, *(vpd(t, r) for t, r in zip(t_levels[:2], rh_levels[:2], strict=True))) * 9.0
    )
    np.testing.assert_allclose(out[0], expected_0, rtol=1e-5)
    np.testing.assert_allclose(out[1], expected_1, rtol=1e-5)


# ---------------------------------------------------------------- agriculture


def daily_temperature_dataset(tmean=None, tmax=None, tmin=None, start=START):
    """Hourly temperatures whose 20–20 daily maximum and minimum are as given: the day's
    hours hold ``tmean`` (the daily mean when ``tmax`` and ``tmin`` are not given), one
    hour ``tmax`` and one ``tmin``."""
    tmean = np.asarray(tmean, dtype=np.float64)
    tmax = tmean if tmax is None else np.asarray(tmax, dtype=np.float64)
    tmin = tmean if tmin is None else np.asarray(tmin, dtype=np.float64)
    hourly = per_day(tmean)[:, 0, 0].copy()
    for k in range(tmean.size):
        hourly[13 + 24 * k + 5] = tmax[k]
        hourly[13 + 24 * k + 6] = tmin[k]
    return make({"air_temperature_2m": hourly[:, None, None] + 273.15}, start=start)


@pytest.mark.product("growing_degree_days")
@pytest.mark.product("active_accumulated_temperature")
def test_growing_degree_days_and_active_accumulated_temperature(xi):
    tmean = [9.9, 10.0, 10.1, 25.0, 30.5]
    ds = daily_temperature_dataset(tmean)
    gdd = derive_one("growing_degree_days", ds)
    active = derive_one("active_accumulated_temperature", ds)
    assert gdd.sizes["period"] == 1 and str(gdd["period"].values[0])[:10] == "2025-01-01"
    assert gdd.values[0, 0, 0] == pytest.approx(0.1 + 15.0 + 20.5, abs=1e-4)
    reference = xi.growing_degree_days(
        series_on(DATES, np.broadcast_to(np.array(tmean)[:, None, None], (5, 1, 2)), "degC"),
        thresh="10 degC",
    )
    assert gdd.values[0, 0, 0] == pytest.approx(float(reference.values.ravel()[0]), abs=1e-4)
    # 10.0 °C is included in the active accumulated temperature, 9.9 °C is not
    assert active.values[0, 0, 0] == pytest.approx(10.0 + 10.1 + 25.0 + 30.5, abs=1e-4)


@pytest.mark.product("growing_degree_days")
@pytest.mark.product("heating_degree_days")
def test_period_products_are_missing_when_a_day_is_missing():
    ds = daily_temperature_dataset([20.0, 12.0, 15.0, 16.0, 30.0])
    values = ds["air_temperature_2m"].values.copy()
    values[13 + 24 * 2 + 4, 0, 1] = np.nan
    ds["air_temperature_2m"] = ds["air_temperature_2m"].copy(data=dask_array.from_array(values))
    gdd = derive_one("growing_degree_days", ds).values
    hdd = derive_one("heating_degree_days", ds).values
    assert np.isnan(gdd[0, 0, 1]) and np.isnan(hdd[0, 0, 1])
    assert gdd[0, 0, 0] == pytest.approx(10 + 2 + 5 + 6 + 20, abs=1e-4)
    assert hdd[0, 0, 0] == pytest.approx(6 + 3 + 2, abs=1e-4)


@pytest.mark.product("reference_evapotranspiration")
@pytest.mark.product("climatic_water_balance")
def test_fao56_reference_evapotranspiration_and_water_balance_match_xclim(xi):
    rng = np.random.default_rng(11)
    t = (
        273.15
        + 25
        + 6 * np.sin(np.arange(HOURS) * 2 * np.pi / 24)[:, None, None]
        + rng.normal(0, 0.5, (HOURS, 1, 2))
    )
    rh = 50 + 30 * rng.random((HOURS, 1, 2))
    sw = np.clip(800 * np.sin((np.arange(HOURS) - 22) * 2 * np.pi / 24), 0, None)[
        :, None, None
    ] * np.ones((1, 1, 2))
    lw = 380 + 20 * rng.random((HOURS, 1, 2))
    u = 1 + 4 * rng.random((HOURS, 1, 2))
    rain = rain_per_day([0.0, 12.0, 0.4, 0.0, 30.0]) * np.ones((1, 1, 2))
    ds = make(
        {
            "air_temperature_2m": t,
            "relative_humidity_2m": rh,
            "surface_downwelling_shortwave_flux": sw,
            "surface_downwelling_longwave_flux": lw,
            "surface_albedo": 0.2,
            "eastward_wind_10m": u,
            "northward_wind_10m": 0.0,
            "precipitation_amount": rain,
        }
    )
    sigma = 5.670374419e-8
    daily_sw = beijing_days(sw, "mean")
    reference = xi.potential_evapotranspiration(
        tasmin=series_on(DATES, beijing_days(t, "min") - 273.15, "degC"),
        tasmax=series_on(DATES, beijing_days(t, "max") - 273.15, "degC"),
        hurs=series_on(DATES, beijing_days(rh, "mean"), "%"),
        rsds=series_on(DATES, daily_sw, "W m-2"),
        rsus=series_on(DATES, 0.2 * daily_sw, "W m-2"),
        rlds=series_on(DATES, beijing_days(lw, "mean"), "W m-2"),
        rlus=series_on(DATES, beijing_days(0.97 * sigma * t**4, "mean"), "W m-2"),
        sfcWind=series_on(DATES, beijing_days(u, "mean"), "m/s"),
        lat=latitude_coordinate(),
        method="FAO_PM98",
    )
    reference = by_day(
        import_xclim("xclim.core.units").convert_units_to(reference, "mm/d", context="hydro")
    )
    out = derive_one("reference_evapotranspiration", ds)
    np.testing.assert_allclose(out.values, reference, rtol=1e-4)
    assert 2 < out.values.mean() < 8
    balance = derive_one("climatic_water_balance", ds)
    totals = beijing_days(rain, "sum")
    np.testing.assert_allclose(balance.values, totals - reference, rtol=1e-4, atol=1e-4)


@pytest.mark.product("hargreaves_reference_evapotranspiration")
def test_hargreaves_matches_xclim(xi):
    ds = daily_temperature_dataset(
        [26, 27, 28, 29, 30], tmax=[32, 33, 35, 31, 34], tmin=[20, 21, 21, 27, 26]
    )
    reference = xi.potential_evapotranspiration(
        tasmin=series_on(
            DATES,
            np.broadcast_to(np.array([20, 21, 21, 27, 26.0])[:, None, None], (5, 1, 2)),
            "degC",
        ),
        tasmax=series_on(
            DATES,
            np.broadcast_to(np.array([32, 33, 35, 31, 34.0])[:, None, None], (5, 1, 2)),
            "degC",
        ),
        lat=latitude_coordinate(),
        method="HG85",
    )
    reference = import_xclim("xclim.core.units").convert_units_to(
        reference, "mm/d", context="hydro"
    )
    out = derive_one("hargreaves_reference_evapotranspiration", ds)
    np.testing.assert_allclose(out.values, by_day(reference), rtol=1e-5)


@pytest.mark.product("chill_units")
def test_utah_chill_units_at_every_boundary():
    # (°C, chill units): ≤1.4 0 | ≤2.4 0.5 | ≤9.1 1 | ≤12.4 0.5 | ≤15.9 0 | ≤17.9 −0.5 | above −1.
    # Temperatures pass through kelvin (9.1 °C comes back as 9.100000000000023), so the
    # limits are tested 0.01 K on either side.
    table = [
        (1.39, 0),
        (1.41, 0.5),
        (2.39, 0.5),
        (2.41, 1),
        (9.09, 1),
        (9.11, 0.5),
        (12.39, 0.5),
        (12.41, 0),
        (15.89, 0),
        (15.91, -0.5),
        (17.89, -0.5),
        (17.91, -1),
    ]
    hourly = np.full((24, 1, len(table)), 5.0)
    hourly[0, 0, :] = [c for c, _ in table]
    ds = xr.Dataset(
        {
            "air_temperature_2m": (
                ("time", "latitude", "longitude"),
                dask_array.from_array(hourly + 273.15),
                {"units": "K"},
            )
        },
        coords={
            "time": pd.date_range("2025-11-01", periods=24, freq="1h"),
            "latitude": [23.0],
            "longitude": np.arange(len(table)),
        },
    )
    out = derive_one("chill_units", ds)
    assert str(out["period"].values[0])[:10] == "2025-10-01"
    np.testing.assert_allclose(out.values[0, 0], [23 + units_ for _, units_ in table], atol=1e-6)


@pytest.mark.product("rice_heat_damage_days")
@pytest.mark.product("heat_wave_events")
@pytest.mark.product("hot_days")
def test_hot_days_runs_and_processes_at_35_degrees():
    # 35.0 counts (≥ 35 °C); the run 35, 35, 35 is a process, 34.9 breaks it
    ds = daily_temperature_dataset([30.0] * 5, tmax=[35.0, 35.0, 35.0, 34.9, 36.0])
    assert derive_one("hot_days", ds).values[0, 0, 0] == 4
    assert derive_one("rice_heat_damage_days", ds).values[0, 0, 0] == 3
    assert derive_one("heat_wave_events", ds).values[0, 0, 0] == 1
    ds = daily_temperature_dataset([30.0] * 5, tmax=[35.0, 35.0, 34.9, 35.0, 35.0])
    assert derive_one("rice_heat_damage_days", ds).values[0, 0, 0] == 0
    assert derive_one("heat_wave_events", ds).values[0, 0, 0] == 0


@pytest.mark.product("cold_dew_wind_days")
def test_cold_dew_wind_only_in_september_and_october():
    tmean = [22.0, 22.0, 22.0, 22.1, 21.0]
    september = daily_temperature_dataset(tmean, start="2025-09-09T00:00")
    assert derive_one("cold_dew_wind_days", september).values[0, 0, 0] == 3
    july = daily_temperature_dataset(tmean)
    assert derive_one("cold_dew_wind_days", july).values[0, 0, 0] == 0
    everywhen = derive_one("cold_dew_wind_days", july, parameters={"months": list(range(1, 13))})
    assert everywhen.values[0, 0, 0] == 3


@pytest.mark.product("tropical_crop_chilling_degree_days")
@pytest.mark.product("tropical_nights")
def test_chilling_degree_days_and_tropical_nights():
    ds = daily_temperature_dataset([22.0] * 5, tmin=[5.0, 4.0, 2.5, 20.0, 20.1])
    chill = derive_one("tropical_crop_chilling_degree_days", ds)
    assert str(chill["period"].values[0])[:10] == "2025-07-01"
    assert chill.values[0, 0, 0] == pytest.approx(0 + 1.0 + 2.5, abs=1e-4)
    # tropical nights: Tmin > 20 °C — 20.0 does not count, 20.1 does
    assert derive_one("tropical_nights", ds).values[0, 0, 0] == 1


@pytest.mark.product("livestock_temperature_humidity_index")
def test_livestock_thi_hand_values():
    ds = make(
        {
            "air_temperature_2m": np.array([[[298.15, 308.15]]]),
            "relative_humidity_2m": np.array([[[50.0, 80.0]]]),
        },
        hours=1,
    )
    out = derive_one("livestock_temperature_humidity_index", ds).values[0, 0]
    # (1.8T + 32) − (0.55 − 0.0055RH)(1.8T − 26.8)
    np.testing.assert_allclose(
        out, [77 - 0.275 * 18.2, 95 - 0.11 * 36.2], rtol=1e-6
    )  # float32 output


# ---------------------------------------------------------------- energy


@pytest.mark.product("heating_degree_days")
@pytest.mark.product("cooling_degree_days")
@pytest.mark.product("cold_spell_days")
def test_degree_days_and_cold_spells_hand_values():
    ds = daily_temperature_dataset([10.0, 9.0, 10.0, 11.0, 27.5])
    assert derive_one("heating_degree_days", ds).values[0, 0, 0] == pytest.approx(
        8 + 9 + 8 + 7, abs=1e-4
    )
    assert derive_one("cooling_degree_days", ds).values[0, 0, 0] == pytest.approx(1.5, abs=1e-4)
    # Tmean ≤ 10 °C for ≥ 3 days: 10.0, 9.0, 10.0 (10.0 included)
    assert derive_one("cold_spell_days", ds).values[0, 0, 0] == 3


@pytest.mark.product("wind_power_potential")
def test_wind_power_curve_around_cut_in_rated_and_cut_out():
    p, t, td = 1000.0, 303.15, 295.15
    mixing = mpcalc.mixing_ratio(mpcalc.saturation_vapor_pressure(td * units.K), p * units.hPa)
    rho = mpcalc.density(p * units.hPa, t * units.K, mixing).m_as("kg m-3")
    scale = 10**0.143 * (rho / 1.225) ** (1 / 3)  # 10 m → 100 m, density-normalized
    normalized = np.array([3.49, 3.51, 8.0, 12.99, 13.01, 24.99, 25.01])
    ds = make(
        {
            "eastward_wind_10m": (normalized / scale)[None, None, :],
            "northward_wind_10m": 0.0,
            "surface_air_pressure": p,
            "air_temperature_2m": t,
            "dewpoint_temperature_2m": td,
        },
        hours=1,
        points=normalized.size,
    )
    out = derive_one("wind_power_potential", ds).values[0, 0]
    cubic = (normalized**3 - 3.5**3) / (13**3 - 3.5**3)
    np.testing.assert_allclose(
        out, [0, cubic[1], cubic[2], cubic[3], 1, 1, 0], rtol=1e-4, atol=1e-6
    )


@pytest.mark.product("photovoltaic_power_potential")
def test_pv_potential_hand_values():
    # G 800 W m-2, T 30 °C, V 2 m/s: Tcell = 4.3 + 0.943·30 + 0.028·800 − 1.528·2 = 51.934
    ds = make(
        {
            "surface_downwelling_shortwave_flux": np.array([[[800.0, 0.0]]]),
            "air_temperature_2m": 303.15,
            "eastward_wind_10m": 2.0,
            "northward_wind_10m": 0.0,
        },
        hours=1,
    )
    out = derive_one("photovoltaic_power_potential", ds).values[0, 0]
    np.testing.assert_allclose(out, [(1 - 0.005 * (51.934 - 25)) * 0.8, 0.0], rtol=1e-6, atol=1e-9)


@pytest.mark.product("moist_air_enthalpy")
def test_moist_air_enthalpy_with_metpy_mixing_ratio():
    ds = make(
        {
            "air_temperature_2m": 303.15,
            "dewpoint_temperature_2m": np.array([[[293.15, 263.15]]]),
            "surface_air_pressure": 1000.0,
        },
        hours=1,
    )
    out = derive_one("moist_air_enthalpy", ds).values[0, 0]
    for j, td in enumerate([293.15, 263.15]):
        w = mpcalc.mixing_ratio(
            mpcalc.saturation_vapor_pressure(td * units.K), 1000 * units.hPa
        ).m_as("1")
        assert out[j] == pytest.approx(1.006 * 30 + w * (2501 + 1.86 * 30), rel=1e-6)
    # ASHRAE worked value: t = 30 °C, W ≈ 0.0149 → h ≈ 68.3 kJ/kg
    assert 60 < out[0] < 75


# ---------------------------------------------------------------- transport and aviation


@pytest.mark.product("road_icing_risk_level")
def test_road_icing_levels_at_their_boundaries():
    # columns: (T °C, RH %, rain in the last 3 h) → level
    cases = [
        (0.0, 50.0, 0.1, 3),
        (0.0, 95.0, 0.0, 2),
        (0.0, 90.0, 0.0, 2),
        (0.0, 89.9, 0.0, 0),
        (0.1, 95.0, 0.0, 1),
        (2.0, 50.0, 0.1, 1),
        (2.1, 95.0, 0.5, 0),
        (-3.0, 50.0, 0.09, 0),
    ]
    n = len(cases)
    t = np.array([c[0] for c in cases]) + 273.15
    rain = np.zeros((4, 1, n))
    rain[3, 0, :] = [c[2] for c in cases]
    ds = make(
        {
            "air_temperature_2m": t[None, None, :],
            "relative_humidity_2m": np.array([c[1] for c in cases])[None, None, :],
            "precipitation_amount": rain,
        },
        hours=4,
        points=n,
    )
    out = derive_one("road_icing_risk_level", ds).values
    assert np.isnan(out[:2]).all()  # the 3 h window is not yet complete
    np.testing.assert_array_equal(out[3, 0], [c[3] for c in cases])


@pytest.mark.product("flight_category")
def test_flight_categories_at_every_ceiling_and_visibility_limit():
    ft = units.Quantity(1.0, "ft").m_as("m")  # the limits converted as the recipe does
    mile = units.Quantity(1.0, "mile").m_as("m")
    clear = 20 * mile
    cases = [
        # (visibility m, cloud base m, cloud cover %, category)
        (clear, units.Quantity(3000, "ft").m_as("m"), 80.0, 1),
        (clear, 3001 * ft, 80.0, 0),
        (clear, units.Quantity(1000, "ft").m_as("m"), 80.0, 1),
        (clear, 999 * ft, 80.0, 2),
        (clear, units.Quantity(500, "ft").m_as("m"), 80.0, 2),
        (clear, 499 * ft, 80.0, 3),
        (clear, 200 * ft, 62.4, 0),  # scattered: no ceiling
        (clear, 200 * ft, 62.5, 3),  # broken: a ceiling
        (units.Quantity(5, "mile").m_as("m"), np.nan, 0.0, 1),
        (5.01 * mile, np.nan, 0.0, 0),
        (units.Quantity(3, "mile").m_as("m"), np.nan, 0.0, 1),
        (2.99 * mile, np.nan, 0.0, 2),
        (units.Quantity(1, "mile").m_as("m"), np.nan, 0.0, 2),
        (0.99 * mile, np.nan, 0.0, 3),
        (4 * mile, 800 * ft, 100.0, 2),  # the worse of MVFR (visibility) and IFR (ceiling)
        (clear, np.nan, 90.0, np.nan),  # a ceiling cover without a cloud base
        (np.nan, 3000 * ft, 80.0, np.nan),
    ]
    n = len(cases)
    ds = make(
        {
            "visibility_in_air": np.array([c[0] for c in cases])[None, None, :],
            "cloud_base_height": np.array([c[1] for c in cases])[None, None, :],
            "cloud_area_fraction": np.array([c[2] for c in cases])[None, None, :],
        },
        hours=1,
        points=n,
    )
    out = derive_one("flight_category", ds).values[0, 0]
    np.testing.assert_array_equal(out, [c[3] for c in cases])
    assert (
        derive_one("flight_category", ds).attrs["flag_meanings"].split()[3]
        == "low_instrument_flight_rules"
    )


@pytest.mark.product("runway_crosswind_component")
def test_runway_crosswind_hand_values():
    # wind from 100° at 10 m/s across runway 010: all crosswind; from 190°: none
    speeds, directions = np.array([10.0, 10.0, 8.0]), np.deg2rad([100.0, 190.0, 40.0])
    u, v = -speeds * np.sin(directions), -speeds * np.cos(directions)
    ds = make(
        {"eastward_wind_10m": u[None, None, :], "northward_wind_10m": v[None, None, :]},
        hours=1,
        points=3,
    )
    out = derive_one("runway_crosswind_component", ds).values[0, 0]
    np.testing.assert_allclose(out, [10.0, 0.0, 8 * math.sin(math.radians(30))], atol=1e-5)
    other = derive_one(
        "runway_crosswind_component", ds, parameters={"runway_heading": "100 degree"}
    ).values[0, 0]
    np.testing.assert_allclose(other, [0.0, 10.0, 8 * math.sin(math.radians(60))], atol=1e-5)


@pytest.mark.product("highway_low_visibility_grade")
def test_highway_visibility_grades_at_every_limit():
    visibility = [600.0, 500.0, 499.9, 200.0, 199.9, 100.0, 99.9, 50.0, 49.9, np.nan]
    ds = make(
        {"visibility_in_air": np.array(visibility)[None, None, :]}, hours=1, points=len(visibility)
    )
    out = derive_one("highway_low_visibility_grade", ds).values[0, 0]
    np.testing.assert_array_equal(out, [0, 0, 1, 1, 2, 2, 3, 3, 4, np.nan])


# ---------------------------------------------------------------- precipitation extremes


@pytest.mark.product("maximum_1day_precipitation")
@pytest.mark.product("maximum_5day_precipitation")
@pytest.mark.product("simple_daily_intensity_index")
@pytest.mark.product("rainstorm_days")
def test_precipitation_extremes_hand_values(xi):
    totals = np.array([50.0, 49.9, 0.9, 1.0, 80.0])
    ds, full, rain, _ = climate_dataset(rain=totals[:, None, None] * np.ones((5, 1, 2)))
    rows = record_rows(full)
    assert derive_one("maximum_1day_precipitation", ds).values[0, 0, 0] == pytest.approx(
        80.0, abs=1e-4
    )
    # Rx5day: the windows ending on the record's first days reach into the history
    five = trailing(rain, 5)[rows].max(axis=0)
    np.testing.assert_allclose(
        derive_one("maximum_5day_precipitation", ds).values[0], five, rtol=1e-6
    )
    # SDII: wet days ≥ 1 mm: 50, 49.9, 1.0, 80 → 180.9 / 4
    assert derive_one("simple_daily_intensity_index", ds).values[0, 0, 0] == pytest.approx(
        180.9 / 4, abs=1e-4
    )
    reference = xi.daily_pr_intensity(series_on(DATES, rain[rows], "mm/d"), thresh="1 mm/d")
    assert derive_one("simple_daily_intensity_index", ds).values[0, 0, 0] == pytest.approx(
        float(reference.values.ravel()[0]), abs=1e-4
    )
    # rainstorm days: ≥ 50 mm — 50.0 counts, 49.9 does not
    assert derive_one("rainstorm_days", ds).values[0, 0, 0] == 2


@pytest.mark.product("simple_daily_intensity_index")
def test_sdii_of_a_period_without_wet_days_is_missing_without_dividing_by_zero():
    totals = np.array([0.0, 0.5, 0.9, 0.0, 0.2])  # no day reaches 1 mm
    ds, *_ = climate_dataset(rain=totals[:, None, None] * np.ones((5, 1, 2)))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # xclim's s / wd warned on 0/0
        out = derive_one("simple_daily_intensity_index", ds)
    assert np.isnan(out.values).all()


@pytest.mark.product("very_wet_day_precipitation")
def test_r95p_sums_the_days_above_the_percentile_of_their_day_of_year(xi):
    totals = np.array([30.0, 12.0, 25.0, 0.5, 60.0])[:, None, None] * np.ones((5, 1, 2))
    percentile = np.full(366, 25.0)
    ds, *_ = climate_dataset(
        rain=totals,
        extra={"climatological_95th_percentile_daily_precipitation": percentile[:, None, None]},
    )
    out = derive_one("very_wet_day_precipitation", ds)
    assert out.values[0, 0, 0] == pytest.approx(30.0 + 60.0, abs=1e-4)  # 25.0 is not above 25
    dry, *_ = climate_dataset(
        rain=np.zeros((5, 1, 2)), extra={"climatological_95th_percentile_daily_precipitation": 25.0}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no 0/0 (it reached `make demo`)
        assert (derive_one("very_wet_day_precipitation", dry).values == 0).all()
    per = xr.DataArray(
        percentile,
        dims="dayofyear",
        coords={"dayofyear": np.arange(1, 367)},
        attrs={"units": "mm/d"},
    )
    fraction = xi.fraction_over_precip_thresh(
        series_on(DATES, totals, "mm/d"), per, thresh="1 mm/d"
    )
    assert out.values[0, 0, 0] == pytest.approx(
        float(fraction.values.ravel()[0]) * (30 + 12 + 25 + 60), abs=1e-3
    )


@pytest.mark.product("process_rainfall_total")
def test_process_rainfall_running_totals_with_a_dry_gap():
    rain = np.array([0, 1, 2, 0, 0, 0.05, 4, np.nan, 1, 0, 0, 0, 2], dtype=float)
    ds = make({"precipitation_amount": rain[:, None, None]}, hours=rain.size)
    out = derive_one("process_rainfall_total", ds, parameters={"dry_gap": "3 h"}).values[:, 0, 0]
    expected = [0, 1, 3, 3, 3, 0, 4, np.nan, np.nan, np.nan, np.nan, 0, 2]
    np.testing.assert_allclose(out, expected, atol=1e-6)


@pytest.mark.parametrize("first", [3, 5, 8])
def test_process_rainfall_continues_the_published_totals(first):
    """Later inputs that overlap the published totals by the dry gap continue every
    process under way (``first``: a process, its dry tail, a missing step) exactly."""
    rain = np.array([0, 1, 2, 0, 0, 0.05, 4, np.nan, 1, 0, 0, 0, 2, 0.5, 0, 0], dtype=float)
    ds = make({"precipitation_amount": rain[:, None, None]}, hours=rain.size)
    parameters = {"process_rainfall_total": {"dry_gap": "3 h"}}
    whole = weatherdata.derive(ds, ["process_rainfall_total"], parameters=parameters).compute()
    whole = whole["process_rainfall_total"]
    later = ds.isel(time=slice(first, None))
    published = {"process_rainfall_total": whole.isel(time=slice(0, first + 3))}
    continued = weatherdata.derive(
        later, ["process_rainfall_total"], parameters=parameters, carried=published
    ).compute()["process_rainfall_total"]
    xr.testing.assert_allclose(continued, whole.isel(time=slice(first, None)))
    short = {"process_rainfall_total": whole.isel(time=slice(0, first + 2))}  # overlap < gap
    with pytest.raises(weatherdata.errors.InsufficientDataError, match="cannot be continued"):
        weatherdata.derive(later, ["process_rainfall_total"], parameters=parameters, carried=short)


@pytest.mark.product("storm_intensity_return_period")
def test_storm_intensity_formula_inverted_at_1_10_and_100_years():
    a1 = 3618.427 * 1e-7 * 1000 * 60  # L s-1 ha-1 → mm/min (1 L s-1 ha-1 = 1e-7 m/s)
    t, b, n, c = 60.0, 11.259, 0.750, 0.438
    hourly = [a1 * (1 + c * math.log10(p)) / (t + b) ** n * t for p in (1.0, 10.0, 100.0)] + [0.0]
    rain = np.stack([np.zeros(4), np.array(hourly)])[:, None, :]  # the second hour rains
    ds = make({"precipitation_amount": rain}, hours=2, points=4)
    out = derive_one("storm_intensity_return_period", ds).values[1, 0]
    np.testing.assert_allclose(out, [1.0, 10.0, 100.0, 10 ** (-1 / c)], rtol=1e-5)


# ---------------------------------------------------------------- tourism climate index


@pytest.mark.product("tourism_climate_index")
def test_tourism_climate_index_hand_ratings():
    base = {
        "air_temperature_2m": 273.15 + 25.0,
        "relative_humidity_2m": 100.0,
        "eastward_wind_10m": 0.0,
        "northward_wind_10m": 0.0,
        "precipitation_amount": 0.0,
        "surface_direct_downwelling_shortwave_flux": 0.0,
    }
    # CID: TE(25 °C, 100 %) = 25 → 5; CIA 5; R(0 mm) 5; S(0 h) 0; W(0 km/h) 5 → 2(20 + 5 + 10 + 0 + 5)
    out = derive_one("tourism_climate_index", make(base))
    assert str(out["period"].values[0])[:10] == "2025-07-01"
    assert out.values[0, 0, 0] == pytest.approx(80.0)
    # sunshine every hour (≥ 10 h a day: 5) and 3 mm a day (≈ 91 mm a month: 2.0)
    sunny = make(
        {
            **base,
            "surface_direct_downwelling_shortwave_flux": 900.0,
            "precipitation_amount": rain_per_day([3.0] * 5),
        }
    )
    assert derive_one("tourism_climate_index", sunny).values[0, 0, 0] == pytest.approx(
        2 * (20 + 5 + 4 + 10 + 5)
    )
    # TE of 33 °C at 100 % humidity rates 1.5 (daytime and daily)
    hot = make({**base, "air_temperature_2m": 273.15 + 33.0})
    assert derive_one("tourism_climate_index", hot).values[0, 0, 0] == pytest.approx(
        2 * (4 * 1.5 + 1.5 + 10 + 0 + 5)
    )


# ---------------------------------------------------------------- missing values


HOURLY_INPUTS = {
    "air_temperature_2m": 300.0,
    "dewpoint_temperature_2m": 290.0,
    "relative_humidity_2m": 60.0,
    "surface_air_pressure": 1000.0,
    "eastward_wind_10m": 5.0,
    "northward_wind_10m": 2.0,
    "surface_downwelling_shortwave_flux": 600.0,
    "precipitation_amount": 0.5,
    "visibility_in_air": 2000.0,
    "cloud_base_height": 400.0,
    "cloud_area_fraction": 80.0,
}


@pytest.mark.parametrize(
    ("product_id", "missing_input"),
    [
        ("equilibrium_moisture_content", "relative_humidity_2m"),
        ("fosberg_fire_weather_index", "eastward_wind_10m"),
        ("livestock_temperature_humidity_index", "air_temperature_2m"),
        ("wind_power_potential", "surface_air_pressure"),
        ("photovoltaic_power_potential", "surface_downwelling_shortwave_flux"),
        ("moist_air_enthalpy", "dewpoint_temperature_2m"),
        ("road_icing_risk_level", "relative_humidity_2m"),
        ("flight_category", "cloud_area_fraction"),
        ("runway_crosswind_component", "northward_wind_10m"),
        ("highway_low_visibility_grade", "visibility_in_air"),
        ("process_rainfall_total", "precipitation_amount"),
        ("storm_intensity_return_period", "precipitation_amount"),
    ],
)
def test_hourly_products_are_missing_where_an_input_is_missing(product_id, missing_input):
    variables = {name: np.full((4, 1, 2), value) for name, value in HOURLY_INPUTS.items()}
    variables[missing_input][3, 0, 0] = np.nan
    out = derive_one(product_id, make(variables, hours=4)).values
    assert np.isnan(out[3, 0, 0])
    assert np.isfinite(out[3, 0, 1])
