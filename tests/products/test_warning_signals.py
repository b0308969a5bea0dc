"""Warning signals (catalog.d/warning_signals.yaml): official thresholds at and around each
boundary, the three-valued missing-value rule, per-district aggregation on known fields, and
POD/FAR/CSI on hand-made hits, misses and false alarms.

Rules are tested on the recipes with constructed DataArrays (observation fields on
``(time, cell)``, latest-forecast fields on ``(time, lead_time, cell)``) with the catalog's
own parameter values, and through the engine on constructed observations and forecast runs.
"""

import dask.array as dask_array
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from weatherdata.products.forecast_warning import districts
from weatherdata.products.forecast_warning import signals as rules

from tests.helpers import catalog_section, derive_one, grid_dataset
from weatherdata.catalog import parameter_value, shipped_catalog
from weatherdata.variables import canonical_variables
from weatherdata.verification import observed_events, signal_verification, verify_signals

ENTRIES = {e["id"]: e for e in catalog_section("warning_signals")["products"]}
START = "2027-01-20T00:00"
NAN = np.nan


def parameters(product_id, **overrides):
    """The catalog's parameter values of a product (as the engine passes them), overridden."""
    values = {k: parameter_value(p) for k, p in shipped_catalog()[product_id].parameters.items()}
    values.update({k: parameter_value(v) for k, v in overrides.items()})
    return values


def obs(values, units, times=1):
    """An observation field on (time, cell): every time step holds ``values``."""
    array = np.tile(np.asarray(values, dtype=np.float32), (times, 1))
    return xr.DataArray(
        dask_array.from_array(array, chunks=-1),
        dims=("time", "cell"),
        coords={"time": pd.date_range(START, periods=times, freq="h")},
        attrs={"units": units},
    )


def forecast(default, units, cells, at=None, times=1):
    """A latest_forecast field on (time, lead_time = 1…72 h, cell): ``default`` per cell
    everywhere, ``at[h]`` (per cell, NaN = keep) at lead ``h`` hours."""
    array = np.empty((times, 72, cells), dtype=np.float32)
    array[...] = np.broadcast_to(np.asarray(default, dtype=np.float32), (cells,))
    for hours, values in (at or {}).items():
        values = np.broadcast_to(np.asarray(values, dtype=np.float32), (cells,))
        keep = np.isnan(values)
        array[:, hours - 1, :] = np.where(keep, array[:, hours - 1, :], values)
    return xr.DataArray(
        dask_array.from_array(array, chunks=(1, 72, cells)),
        dims=("time", "lead_time", "cell"),
        coords={
            "time": pd.date_range(START, periods=times, freq="h"),
            "lead_time": pd.to_timedelta(np.arange(1, 73), unit="h"),
        },
        attrs={"units": units},
    )


def levels(recipe, product_id, *inputs, **overrides):
    """Run a recipe lazily with the catalog's parameters; levels at the last time step."""
    out = recipe(*inputs, **parameters(product_id, **overrides))
    assert hasattr(out.data, "dask"), f"{product_id} computed eagerly"
    assert out.attrs == {"units": "1"}
    return out.compute().values[-1].tolist()


def kelvin(celsius):
    return np.asarray(celsius, dtype=np.float64) + 273.15


def assert_levels(actual, expected):
    np.testing.assert_array_equal(
        np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    )


# ---------------------------------------------------------------- the fragment


def test_fragment_has_19_products_17_signal_types_and_2_district_tables():
    assert len(ENTRIES) == 19
    signals = [e for e in ENTRIES.values() if e["recipe"].startswith("forecast_warning.signals:")]
    tables = [e for e in ENTRIES.values() if e["recipe"].startswith("forecast_warning.districts:")]
    assert (len(signals), len(tables)) == (17, 2)
    palette = {0: "none", 1: "white", 2: "blue", 3: "yellow", 4: "orange", 5: "red"}
    colours = {
        "white": "#FFFFFF",
        "blue": "#1E90FF",
        "yellow": "#FFFF00",
        "orange": "#FFA500",
        "red": "#FF0000",
    }
    for entry in ENTRIES.values():
        assert entry["family"] == "forecast_warning" and entry["units"] == "1"
        values = [c["value"] for c in entry["categories"]]
        assert values[0] == 0 and values == sorted(values)
        for category in entry["categories"]:
            # Level codes of the Guangdong signal table: 0-解除 1-白 2-蓝 3-黄 4-橙 5-红.
            assert category["meaning"] == palette[category["value"]]
            assert category["colour"] == colours.get(category["meaning"], "#D3D3D3")
    for entry in signals:  # every level has the lead window the verification uses
        for category in entry["categories"][1:]:
            assert f"{category['meaning']}_window" in entry["parameters"], entry["id"]
    # The official level sets (Guangdong table, CMA Decree No. 16).
    level_sets = {e["id"]: [c["meaning"] for c in e["categories"][1:]] for e in signals}
    assert level_sets["typhoon_warning_signal"] == ["white", "blue", "yellow", "orange", "red"]
    assert level_sets["haze_warning_signal"] == ["yellow"]
    assert level_sets["hail_warning_signal"] == ["orange", "red"]
    assert level_sets["drought_warning_signal"] == ["orange", "red"]
    assert level_sets["frost_warning_signal"] == ["blue", "yellow", "orange"]
    assert level_sets["thunderstorm_gale_warning_signal"] == ["blue", "yellow", "orange", "red"]


# ---------------------------------------------------------------- Guangdong types


@pytest.mark.product("typhoon_warning_signal")
def test_typhoon_levels_at_the_beaufort_boundaries():
    # cells: far; white only; blue (forecast mean force 6 at 24 h); observed gust force 9 under
    # the cyclone; orange (forecast force 10 at 12 h); red (forecast gust force 13 at 6 h);
    # outside the influence radius with a strong observed wind (white only); yellow only when
    # force 10 arrives at 13 h.
    distance = obs([900, 799, 799, 400, 400, 400, 600, 400], "km")
    mean = obs([40, 0, 0, 0, 0, 0, 30, 0], "m s-1")
    gust = obs([40, 0, 0, 20.8, 0, 0, 40, 0], "m s-1")
    fmean = forecast(
        0,
        "m s-1",
        8,
        at={
            24: [40, NAN, 10.8, NAN, NAN, NAN, NAN, NAN],
            12: [NAN] * 4 + [24.5, NAN, NAN, NAN],
            13: [NAN] * 7 + [24.5],
        },
    )
    fgust = forecast(0, "m s-1", 8, at={6: [NAN] * 5 + [37.0, NAN, NAN]})
    out = levels(rules.typhoon_signal, "typhoon_warning_signal", distance, mean, gust, fmean, fgust)
    assert_levels(out, [0, 1, 2, 3, 4, 5, 1, 3])
    # Just below each boundary.
    gust = obs([0, 0, 0, 20.7, 0, 0, 0, 0], "m s-1")
    fmean = forecast(
        0, "m s-1", 8, at={24: [NAN, NAN, 10.7] + [NAN] * 5, 12: [NAN] * 4 + [24.4, NAN, NAN, NAN]}
    )
    fgust = forecast(
        0, "m s-1", 8, at={6: [NAN] * 5 + [36.9, NAN, NAN], 7: [NAN] * 5 + [40.0, NAN, NAN]}
    )
    out = levels(rules.typhoon_signal, "typhoon_warning_signal", distance, mean, gust, fmean, fgust)
    # gust 20.7 is still force 7+ (blue); force 13 gust at 7 h is beyond red's 6 h: orange
    # needs gust ≥ force 11 within 12 h (40 m/s at 7 h) → 4.
    assert_levels(out, [0, 1, 1, 2, 3, 4, 1, 1])


@pytest.mark.product("rainstorm_warning_signal")
def test_rainstorm_observed_and_expected_clauses():
    hour = obs([19.9, 20.0, 0, 0, 0, 0], "mm")
    three = obs([0, 20.0, 49.9, 50.0, 99.9, 100.0], "mm")
    continuing = forecast(0, "mm", 6, at={1: 0.1})
    out = levels(rules.rainstorm_signal, "rainstorm_warning_signal", hour, three, continuing)
    assert_levels(out, [0, 3, 0, 4, 4, 5])
    # Without rain in the next 3 h the observed clauses do not hold.
    dry = forecast(0, "mm", 6, at={4: 0.1})
    assert_levels(
        levels(rules.rainstorm_signal, "rainstorm_warning_signal", hour, three, dry), [0] * 6
    )
    # Forecast totals: 6 × 8.5 = 51 mm in 6 h (yellow); 50 mm at 3 h (orange); 50 mm at 4 h
    # (yellow only); 100 mm at 2 h (red); 49.9 mm in 6 h; 60 mm at 7 h (outside).
    zero = obs([0] * 6, "mm")
    at = {h: [8.5, NAN, NAN, NAN, NAN, NAN] for h in range(1, 7)}
    at[3] = [8.5, 50.0, NAN, NAN, NAN, NAN]
    at[4] = [8.5, NAN, 50.0, NAN, NAN, NAN]
    at[2] = [8.5, NAN, NAN, 100.0, 49.9, NAN]
    at[7] = [NAN] * 5 + [60.0]
    wet = forecast(0, "mm", 6, at=at)
    assert_levels(
        levels(rules.rainstorm_signal, "rainstorm_warning_signal", zero, zero, wet),
        [3, 4, 3, 5, 0, 0],
    )


@pytest.mark.product("heat_warning_signal")
def test_heat_thresholds_35_37_39_observed_and_within_24_h():
    maximum = obs([34.9, 35.0, 36.9, 37.0, 38.9, 39.0], "degC")
    cool = forecast(kelvin(26.85), "K", 6)
    assert_levels(
        levels(rules.heat_signal, "heat_warning_signal", maximum, cool), [0, 3, 3, 4, 4, 5]
    )
    # 37.0 °C forecast at 24 h (orange; exact despite 310.15 K in float32), 39.5 °C at 25 h
    # (outside the window), 35.0 °C at 1 h.
    hot = forecast(
        kelvin(26.85),
        "K",
        3,
        at={
            24: kelvin([37.0, 26.85, 26.85]),
            25: kelvin([26.85, 39.5, 26.85]),
            1: kelvin([26.85, 26.85, 35.0]),
        },
    )
    assert_levels(
        levels(rules.heat_signal, "heat_warning_signal", obs([30] * 3, "degC"), hot), [4, 0, 3]
    )


def test_missing_inputs_follow_three_valued_logic():
    # observed missing & forecast below 35 → unknown; observed missing & forecast ≥ 37 → orange;
    # observed 36 & forecast missing → yellow (known), higher levels unknown; observed 30 &
    # forecast missing → unknown.
    maximum = obs([NAN, NAN, 36.0, 30.0], "degC")
    fc = forecast(kelvin([30.0, 37.5, NAN, NAN]), "K", 4)
    assert_levels(levels(rules.heat_signal, "heat_warning_signal", maximum, fc), [NAN, 4, 3, NAN])


@pytest.mark.product("cold_warning_signal")
def test_cold_thresholds_8_5_0():
    minimum = obs([8.1, 8.0, 5.0, 0.0], "degC")
    warm = forecast(kelvin(15.0), "K", 4)
    assert_levels(levels(rules.cold_signal, "cold_warning_signal", minimum, warm), [0, 3, 4, 5])
    cold = forecast(kelvin(15.0), "K", 2, at={24: kelvin([5.0, 15.0]), 25: kelvin([15.0, 0.0])})
    assert_levels(
        levels(rules.cold_signal, "cold_warning_signal", obs([12, 12], "degC"), cold), [4, 0]
    )


@pytest.mark.product("heavy_fog_warning_signal")
def test_heavy_fog_visibility_and_lead_windows():
    visibility = obs([500, 499, 200, 199, 50, 49], "m")
    foggy = forecast(10000, "m", 6, at={1: 800})  # fog (< 1 km), not heavy fog, continues
    assert_levels(
        levels(rules.heavy_fog_signal, "heavy_fog_warning_signal", visibility, foggy),
        [0, 3, 3, 4, 4, 5],
    )
    clearing = forecast(10000, "m", 6)
    assert_levels(
        levels(rules.heavy_fog_signal, "heavy_fog_warning_signal", visibility, clearing), [0] * 6
    )
    # 49 m at 2 h (red) / 3 h (orange); 199 m at 6 h (orange) / 7 h (yellow); 499 m at 12 h / 13 h.
    at = {
        2: [49, NAN, NAN, NAN, NAN, NAN],
        3: [NAN, 49, NAN, NAN, NAN, NAN],
        6: [NAN, NAN, 199, NAN, NAN, NAN],
        7: [NAN, NAN, NAN, 199, NAN, NAN],
        12: [NAN, NAN, NAN, NAN, 499, NAN],
        13: [NAN, NAN, NAN, NAN, NAN, 499],
    }
    fc = forecast(10000, "m", 6, at=at)
    assert_levels(
        levels(rules.heavy_fog_signal, "heavy_fog_warning_signal", obs([10000] * 6, "m"), fc),
        [5, 4, 4, 3, 3, 0],
    )


@pytest.mark.product("haze_warning_signal")
def test_haze_needs_visibility_below_3000_m_and_relative_humidity_below_80():
    # Observed haze continuing (5 km haze forecast); RH 80 % is not haze; 3000 m is not below;
    # forecast haze at 12 h / 13 h; observed haze clearing (20 km forecast).
    visibility = obs([2999, 2999, 3000, 20000, 20000, 2999], "m")
    humidity = obs([79.9, 80.0, 50.0, 50.0, 50.0, 50.0], "percent")
    fvis = forecast(
        [5000, 5000, 5000, 20000, 20000, 20000],
        "m",
        6,
        at={12: [NAN] * 3 + [2999, NAN, NAN], 13: [NAN] * 4 + [2999, NAN]},
    )
    frh = forecast(70, "percent", 6)
    out = levels(rules.haze_signal, "haze_warning_signal", visibility, humidity, fvis, frh)
    assert_levels(out, [3, 0, 0, 3, 0, 0])
    humid = forecast(80, "percent", 6)
    assert_levels(
        levels(rules.haze_signal, "haze_warning_signal", visibility, humidity, fvis, humid), [0] * 6
    )


@pytest.mark.product("thunderstorm_gale_warning_signal")
def test_thunderstorm_gale_needs_wind_and_radar_thunder():
    n = 8
    mean = obs([0] * n, "m s-1")
    gust = obs([13.9, 13.9, 20.8, 20.8, 0, 0, 0, 13.9], "m s-1")
    reflectivity = obs([40, 39.9, 45, 44.9, 0, 0, 50, 40], "dBZ")
    nowcast60 = obs([40, 0, 40, 40, 0, 0, 0, 39], "dBZ")
    nowcast120 = obs([0, 0, 0, 0, 45, 45, 0, 0], "dBZ")
    fmean = forecast(0, "m s-1", n, at={1: [NAN] * 6 + [32.7, NAN]})
    fgust = forecast(
        0, "m s-1", n, at={2: [NAN] * 4 + [28.5, NAN, NAN, NAN], 3: [NAN] * 5 + [28.5, NAN, NAN]}
    )
    out = levels(
        rules.thunderstorm_gale_signal,
        "thunderstorm_gale_warning_signal",
        mean,
        gust,
        reflectivity,
        nowcast60,
        nowcast120,
        fmean,
        fgust,
    )
    # blue; no thunder; yellow (strong thunder); blue (thunder, not strong); orange within 2 h;
    # 28.5 m/s gust at 3 h is yellow; red (mean force 12 within 2 h); observed blue not continuing.
    assert_levels(out, [2, 0, 3, 2, 4, 3, 5, 0])


@pytest.mark.product("road_icing_warning_signal")
def test_road_icing_by_lead_time():
    temperature = obs(kelvin([-0.1, 0.0, 5, 5, 5, 5, 5]), "K")
    hour = obs([0.1, 1.0, 0, 0, 0, 0, 0], "mm")
    ftemp = forecast(
        kelvin(5.0),
        "K",
        7,
        at={
            2: kelvin([5, 5, -1, 5, 5, 5, -1]),
            6: kelvin([5, 5, 5, -1, 5, 5, 5]),
            12: kelvin([5, 5, 5, 5, -1, 5, 5]),
            13: kelvin([5, 5, 5, 5, 5, -1, 5]),
        },
    )
    fprecip = forecast(
        0.0,
        "mm",
        7,
        at={
            2: [0, 0, 0.1, 0, 0, 0, 0.09],
            6: [0, 0, 0, 0.1, 0, 0, 0],
            12: [0, 0, 0, 0, 0.1, 0, 0],
            13: [0, 0, 0, 0, 0, 0.1, 0],
        },
    )
    out = levels(
        rules.road_icing_signal, "road_icing_warning_signal", temperature, hour, ftemp, fprecip
    )
    assert_levels(out, [5, 0, 5, 4, 3, 0, 0])


@pytest.mark.product("hail_warning_signal")
def test_hail_radar_proxies():
    posh = obs([49.9, 50, 80, 0, 0, 0, 0], "percent")
    mesh = obs([0, 0, 0, 20, 0, 0, 0], "mm")
    ship = obs([0, 0, 0, 0, 1.0, 0.99, 1.0], "1")
    reflectivity = obs([0, 0, 0, 0, 45, 60, 0], "dBZ")
    nowcast60 = obs([0] * 7, "dBZ")
    nowcast120 = obs([0, 0, 0, 0, 0, 0, 55], "dBZ")
    out = levels(
        rules.hail_signal,
        "hail_warning_signal",
        posh,
        mesh,
        ship,
        reflectivity,
        nowcast60,
        nowcast120,
    )
    assert_levels(out, [0, 4, 5, 5, 4, 0, 5])


@pytest.mark.product("forest_fire_warning_signal")
def test_forest_fire_grades_three_four_five():
    grade = obs([1, 2, 3, 4, 5, NAN], "1")
    assert_levels(
        levels(rules.forest_fire_signal, "forest_fire_warning_signal", grade), [0, 0, 3, 4, 5, NAN]
    )


# ---------------------------------------------------------------- national types


@pytest.mark.product("blizzard_warning_signal")
def test_blizzard_snowfall_over_12_and_6_hours():
    # 12 hourly steps; cells: 0.5 mm/h (6 mm in 12 h, yellow); 0.375 (4.5 mm, blue); rain at
    # +1 °C; 2.5 mm/h (15 mm in 6 h, red); as cell 0 but the snow stops; forecast 10 mm at 6 h
    # (orange); forecast 15 mm at 7 h (yellow: ≥ 6 mm in 12 h only).
    times = 12
    precipitation = obs([0.5, 0.375, 1.0, 2.5, 0.5, 0, 0], "mm", times)
    temperature = obs(kelvin([-1, -1, 1, -1, -1, -1, -1]), "K", times)
    ftemp = forecast(kelvin([-1, -1, 5, -1, 5, -1, -1]), "K", 7, times=times)
    fprecip = forecast(
        0, "mm", 7, at={1: 0.1, 6: [NAN] * 5 + [10.0, NAN], 7: [NAN] * 6 + [15.0]}, times=times
    )
    out = levels(
        rules.blizzard_signal, "blizzard_warning_signal", precipitation, temperature, fprecip, ftemp
    )
    assert_levels(out, [3, 2, 0, 5, 0, 4, 3])


@pytest.mark.product("cold_wave_warning_signal")
def test_cold_wave_drop_minimum_and_wind():
    minimum = obs([4.0, 4.0, 4.0, 0.0, 0.0, 0.1, 14.0, 14.0], "degC")
    drop24 = obs([0, 0, 10, 12, 16, 16, 0, 0], "K")
    drop48 = obs([8, 7.9, 10, 12, 16, 16, 0, 0], "K")
    wind = obs([8.0, 8.0, 10.8, 10.8, 10.7, 12, 0, 0], "m s-1")
    # Forecast: 3 °C (cold continues) for cells 0–5; cells 6–7 at 15 °C except 2 °C at 20 h /
    # 30 h, with force-6 wind at 5 h.
    ftemp = forecast(
        kelvin([3, 3, 3, 3, 3, 3, 15, 15]),
        "K",
        8,
        at={20: kelvin([NAN] * 6 + [2, NAN]), 30: kelvin([NAN] * 7 + [2])},
    )
    fwind = forecast(0, "m s-1", 8, at={5: [NAN] * 6 + [10.8, 10.8]})
    out = levels(
        rules.cold_wave_signal,
        "cold_wave_warning_signal",
        minimum,
        drop24,
        drop48,
        wind,
        ftemp,
        fwind,
    )
    assert_levels(out, [2, 0, 3, 4, 2, 3, 3, 2])


@pytest.mark.product("gale_warning_signal")
def test_gale_forces_and_windows():
    mean = obs([0, 0, 0, 0, 0, 24.5, 24.5], "m s-1")
    gust = obs([0] * 7, "m s-1")
    fmean = forecast(
        0,
        "m s-1",
        7,
        at={
            12: [NAN, NAN, 17.2, NAN, NAN, NAN, NAN],
            13: [NAN, NAN, NAN, 17.2, NAN, NAN, NAN],
            3: [NAN] * 5 + [10.8, NAN],
        },
    )
    fgust = forecast(
        0,
        "m s-1",
        7,
        at={24: [13.9] + [NAN] * 6, 25: [NAN, 13.9] + [NAN] * 5, 6: [NAN] * 4 + [37.0, NAN, NAN]},
    )
    out = levels(rules.gale_signal, "gale_warning_signal", mean, gust, fmean, fgust)
    assert_levels(out, [2, 0, 3, 2, 5, 4, 0])


@pytest.mark.product("sandstorm_warning_signal")
def test_sandstorm_visibility_with_dust():
    visibility = obs([999, 999, 499, 49, 5000, 5000, 5000], "m")
    pm10 = obs([1000, 999, 1000, 1000, 1000, 1000, 10], "ug m-3")
    fvis = forecast(
        5000,
        "m",
        7,
        at={6: [NAN] * 4 + [49, NAN, NAN], 7: [NAN] * 5 + [49, NAN], 1: [NAN] * 6 + [49]},
    )
    out = levels(rules.sandstorm_signal, "sandstorm_warning_signal", visibility, pm10, fvis)
    assert_levels(out, [3, 0, 4, 5, 5, 3, 0])


@pytest.mark.product("drought_warning_signal")
def test_drought_mci_classes():
    index = obs([-1.49, -1.5, -1.99, -2.0, NAN], "1")
    assert_levels(levels(rules.drought_signal, "drought_warning_signal", index), [0, 4, 4, 5, NAN])


@pytest.mark.product("lightning_warning_signal")
def test_lightning_radar_proxies():
    reflectivity = obs([34.9, 35, 0, 0, 0, 0, 0], "dBZ")
    minus_10 = obs([0, 0, 0, 40, 0, 50, 0], "dBZ")
    nowcast60 = obs([0, 0, 0, 0, 45, 0, 0], "dBZ")
    nowcast120 = obs([0, 0, 35, 0, 0, 0, 55], "dBZ")
    out = levels(
        rules.lightning_signal,
        "lightning_warning_signal",
        reflectivity,
        minus_10,
        nowcast60,
        nowcast120,
    )
    assert_levels(out, [0, 3, 3, 4, 4, 5, 5])


@pytest.mark.product("frost_warning_signal")
def test_frost_thresholds_0_minus_3_minus_5():
    # Frost continuing is forecast frost, so blue also holds on the expected clause.
    minimum = obs([0.1, -2.9, -3.0, -5.0], "degC")
    frosty = forecast(kelvin(-1.0), "K", 4)
    assert_levels(levels(rules.frost_signal, "frost_warning_signal", minimum, frosty), [2, 2, 3, 4])
    mild = forecast(kelvin(5.0), "K", 4)
    assert_levels(levels(rules.frost_signal, "frost_warning_signal", minimum, mild), [0, 0, 0, 0])
    at = {
        24: kelvin([-3, NAN, NAN, NAN]),
        25: kelvin([NAN, -3, NAN, NAN]),
        48: kelvin([NAN, NAN, 0, NAN]),
        49: kelvin([NAN, NAN, NAN, 0]),
    }
    fc = forecast(kelvin(5.0), "K", 4, at=at)
    assert_levels(
        levels(rules.frost_signal, "frost_warning_signal", obs([5] * 4, "degC"), fc), [3, 2, 2, 0]
    )


# ---------------------------------------------------------------- through the engine


def forecast_runs(values, *, start="2026-07-25T00:00", runs=1, shape=(3, 4)):
    """Forecast runs (init_time, lead_time 0…72 h, grid) of every latest_forecast input;
    ``values`` maps canonical names to arrays broadcastable to (run, lead, *grid)."""
    spec = canonical_variables()
    defaults = {
        "air_temperature_2m": 300.0,
        "precipitation_amount": 0.0,
        "eastward_wind_10m": 0.0,
        "northward_wind_10m": 0.0,
        "wind_speed_of_gust_10m": 0.0,
        "visibility_in_air": 20000.0,
        "relative_humidity_2m": 70.0,
    }
    defaults.update(values)
    full = (runs, 73, *shape)
    data = {
        name: (
            ("init_time", "lead_time", "latitude", "longitude"),
            dask_array.from_array(
                np.broadcast_to(np.asarray(v, dtype=np.float32), full).copy(),
                chunks=(1, 73, *shape),
            ),
            {"units": spec[name].units},
        )
        for name, v in defaults.items()
    }
    coords = {
        "init_time": pd.date_range(start, periods=runs, freq="12h"),
        "lead_time": pd.to_timedelta(np.arange(73), unit="h"),
        "latitude": np.linspace(22.0, 23.0, shape[0]),
        "longitude": np.linspace(113.0, 114.0, shape[1]),
    }
    return xr.Dataset(data, coords=coords)


@pytest.mark.product("heat_warning_signal")
def test_heat_signal_through_the_engine():
    # 30 hourly observations at 30 °C; one cell reaches 37.0 °C at hour 20 (orange from then
    # on); the forecast (run at hour 0) brings 35.5 °C to another cell at lead 40 h, i.e.
    # within 24 h from observation hour 16.
    hours = 30
    temperature = np.full((hours, 3, 4), kelvin(30.0), dtype=np.float32)
    temperature[20, 0, 0] = kelvin(37.0)
    ds = grid_dataset({"air_temperature_2m": temperature}, times=hours)
    lead = np.arange(73)[None, :, None, None]
    cell = np.zeros((1, 1, 3, 4), dtype=bool)
    cell[..., 1, 1] = True
    fc = forecast_runs(
        {"air_temperature_2m": np.where((lead == 40) & cell, kelvin(35.5), kelvin(30.0))}
    )
    out = derive_one("heat_warning_signal", ds, forecast=fc)
    assert out.attrs["flag_meanings"] == "none yellow orange red"
    assert out.attrs["flag_colors"] == "#D3D3D3 #FFFF00 #FFA500 #FF0000"
    assert list(out.attrs["flag_values"]) == [0, 3, 4, 5]
    # Before a full 24 h of observations the cool forecast cannot rule the signal out.
    assert np.isnan(out.values[:23, 2, 2]).all()
    assert (out.values[23:, 2, 2] == 0).all()
    assert (out.values[23:, 0, 0] == 4).all()  # 37.0 °C observed in the past 24 h
    # 35.5 °C valid at hour 40 is within 24 h of observation hours 16…39.
    assert np.isnan(out.values[15, 1, 1]) and (out.values[16:, 1, 1] == 3).all()


@pytest.mark.product("rainstorm_warning_signal")
@pytest.mark.product("gale_warning_signal")
def test_rainstorm_and_gale_through_the_engine():
    hours = 6
    rain = np.zeros((hours, 3, 4), dtype=np.float32)
    rain[3:6, 0, 0] = 20.0  # 60 mm in the past 3 h at hour 5
    u = np.zeros((hours, 3, 4), dtype=np.float32)
    u[5, 2, 3] = 17.2  # force 8 now
    ds = grid_dataset(
        {
            "precipitation_amount": rain,
            "eastward_wind_10m": u,
            "northward_wind_10m": 0.0,
            "wind_speed_of_gust_10m": 0.0,
        },
        times=hours,
    )
    lead = np.arange(73)[None, :, None, None]
    fc = forecast_runs(
        {
            "precipitation_amount": np.where(lead == 6, 0.5, 0.0),
            "eastward_wind_10m": np.where(lead == 6, 12.0, 0.0),
        }
    )
    rain_signal = derive_one("rainstorm_warning_signal", ds, forecast=fc)
    gale = derive_one("gale_warning_signal", ds, forecast=fc)
    # Hour 5: 60 mm in 3 h and 0.5 mm forecast at 6 h ahead of the run = 1 h ahead: orange.
    assert rain_signal.values[5, 0, 0] == 4 and rain_signal.values[5, 1, 1] == 0
    # Gale: force 8 observed and 12 m/s (force 6) forecast within 3 h → yellow; elsewhere the
    # forecast force 6 within 24 h → blue.
    assert gale.values[5, 2, 3] == 3 and gale.values[5, 0, 0] == 2


# ---------------------------------------------------------------- per district


def guangdong_grid(step=0.1):
    latitude = np.round(np.arange(20.0, 26.0 + step / 2, step), 6)
    longitude = np.round(np.arange(109.5, 117.5 + step / 2, step), 6)
    return latitude, longitude


def level_field(latitude, longitude, points, times=2, dims=("latitude", "longitude")):
    values = np.zeros((times, latitude.size, longitude.size), dtype=np.float32)
    for (lon, lat), level in points.items():
        values[:, np.abs(latitude - lat).argmin(), np.abs(longitude - lon).argmin()] = level
    return xr.DataArray(
        dask_array.from_array(values, chunks=(1, -1, -1)),
        dims=("time", *dims),
        coords={
            "time": pd.date_range(START, periods=times, freq="h"),
            "latitude": latitude,
            "longitude": longitude,
        },
        attrs={"units": "1"},
    )


@pytest.mark.product("guangdong_city_warning_signals")
def test_city_level_is_the_maximum_over_the_city_cells():
    latitude, longitude = guangdong_grid()
    # Shaoguan (113.6 °E 24.8 °N): orange at one cell and yellow at another; Foshan: yellow.
    field = level_field(latitude, longitude, {(113.6, 24.8): 4, (113.5, 24.9): 3, (113.0, 23.0): 3})
    out = districts.guangdong_city_signals(heat_warning_signal=field, cold_warning_signal=field * 0)
    assert hasattr(out.data, "dask") and out.attrs == {"units": "1"}
    out = out.compute()
    assert out.dims == ("time", "signal", "city")
    assert out.sizes["city"] == 21 and list(out.signal.values) == [
        "heat_warning_signal",
        "cold_warning_signal",
    ]
    heat = out.sel(signal="heat_warning_signal").isel(time=-1).to_series()
    assert heat["Shaoguan"] == 4 and heat["Foshan"] == 3
    assert (heat.drop(["Shaoguan", "Foshan"]) == 0).all()
    assert (out.sel(signal="cold_warning_signal") == 0).all()
    assert out.city_name_zh.sel(city="Shaoguan").item() == "韶关市"
    assert out.city_name_en.sel(city="Zhongshan").item() == "Zhongshan"


@pytest.mark.product("guangzhou_district_warning_signals")
def test_guangzhou_districts_on_a_fine_and_a_coarse_grid():
    latitude, longitude = guangdong_grid(0.05)
    field = level_field(
        latitude, longitude, {(113.6, 23.6): 5, (113.3, 23.2): 2}
    )  # Conghua, Baiyun
    out = districts.guangzhou_district_signals(rainstorm_warning_signal=field).compute()
    assert out.dims == ("time", "signal", "district") and out.sizes["district"] == 11
    levels_ = out.isel(time=0, signal=0).to_series()
    assert levels_["Conghua"] == 5 and levels_["Baiyun"] == 2
    assert (levels_.drop(["Conghua", "Baiyun"]) == 0).all()
    assert out.district_name_zh.sel(district="Yuexiu").item() == "越秀区"
    # On a 0.5° grid Yuexiu (about 34 km²) contains no cell centre: it gets the nearest cell.
    lat, lon = guangdong_grid(0.5)
    masks = districts.district_masks(lat, lon, "guangzhou_districts")
    yuexiu = list(districts.GUANGZHOU_DISTRICTS.values()).index("Yuexiu")
    assert masks[yuexiu].sum() == 1
    assert np.argwhere(masks[yuexiu]).tolist() == [
        [int(np.argmin(abs(lat - 23.14))), int(np.argmin(abs(lon - 113.27)))]
    ]


def test_masks_are_cached_per_grid_and_work_on_two_dimensional_coordinates():
    latitude, longitude = guangdong_grid(0.25)
    first = districts.district_masks(latitude, longitude, "guangdong_cities")
    assert districts.district_masks(latitude.copy(), longitude.copy(), "guangdong_cities") is first
    lat2d, lon2d = np.meshgrid(latitude, longitude, indexing="ij")
    np.testing.assert_array_equal(districts.district_masks(lat2d, lon2d, "guangdong_cities"), first)
    # The same field on (y, x) with 2-D latitude/longitude gives the same levels.
    field = level_field(latitude, longitude, {(113.0, 23.0): 3})
    projected = xr.DataArray(
        field.data,
        dims=("time", "y", "x"),
        coords={
            "time": field.time,
            "latitude": (("y", "x"), lat2d),
            "longitude": (("y", "x"), lon2d),
        },
        attrs={"units": "1"},
    )
    xr.testing.assert_equal(
        districts.guangdong_city_signals(s=projected).compute(),
        districts.guangdong_city_signals(s=field).compute(),
    )


def test_district_missing_values_and_off_grid_districts():
    # The test grid (22–23 °N, 113–114 °E) does not reach Shaoguan: missing there.
    ds = grid_dataset({"air_temperature_2m": 300.0}, times=1, shape=(11, 11))
    values = np.zeros((1, 11, 11), dtype=np.float32)
    values[0, 5:, :] = np.nan  # the northern half missing
    field = xr.DataArray(
        values, dims=("time", "latitude", "longitude"), coords=ds.coords, attrs={"units": "1"}
    )
    out = districts.guangdong_city_signals(s=field).isel(time=0, signal=0).to_series()
    assert np.isnan(out["Shaoguan"]) and np.isnan(out["Meizhou"])
    assert out["Zhongshan"] == 0  # partly missing cells: the maximum of the known ones


def test_daily_signals_are_spread_over_the_hours_of_their_day():
    days = pd.DatetimeIndex(["2026-07-24T12:00", "2026-07-25T12:00"])  # Beijing 20–20 days
    grade = xr.DataArray(
        np.array([3.0, 5.0], dtype=np.float32)[:, None, None] * np.ones((2, 3, 4), np.float32),
        dims=("day", "latitude", "longitude"),
        coords={
            "day": days,
            "latitude": np.linspace(22.8, 23.4, 3),
            "longitude": np.linspace(113.1, 113.7, 4),
        },
        attrs={"units": "1"},
    )
    hourly = grid_dataset(
        {"air_temperature_2m": 300.0}, times=24, start="2026-07-25T00:00", shape=(3, 4)
    )
    hourly = hourly.assign_coords(latitude=grade.latitude, longitude=grade.longitude)
    other = xr.zeros_like(hourly.air_temperature_2m)
    other.attrs = {"units": "1"}
    out = districts.guangdong_city_signals(
        forest_fire_warning_signal=grade, heat_warning_signal=other
    ).compute()
    guangzhou = out.sel(signal="forest_fire_warning_signal", city="Guangzhou")
    times = pd.DatetimeIndex(out.time.values)
    assert guangzhou.sel(time=times[times <= "2026-07-25T12:00"]).values.tolist() == [3.0] * 13
    assert (guangzhou.sel(time=times[times > "2026-07-25T12:00"]) == 5).all()


# ---------------------------------------------------------------- verification


def level_series(values, name, meanings="none yellow orange red", flag_values=(0, 3, 4, 5)):
    data = xr.DataArray(
        np.asarray(values, dtype=np.float32)[:, None],
        dims=("time", "cell"),
        coords={"time": pd.date_range(START, periods=len(values), freq="h")},
        name=name,
    )
    data.attrs = {"flag_values": np.array(flag_values), "flag_meanings": meanings}
    return data


def test_pod_far_csi_on_hand_made_hits_misses_and_false_alarms():
    warned = level_series([3, 3, 0, 0, 3, 0, 4, NAN, 5], "heat_warning_signal")
    happened = level_series([3, 0, 3, 0, 4, 0, 0, 3, NAN], "heat_warning_signal")
    table = verify_signals(
        xr.Dataset({"heat_warning_signal": warned}), xr.Dataset({"heat_warning_signal": happened})
    )
    table = table.set_index("level_name")
    # ≥ yellow: hits 0, 4; misses 2; false alarms 1, 6; correct negatives 3, 5 (7, 8 unknown).
    yellow = table.loc["yellow"]
    assert (yellow.hits, yellow.misses, yellow.false_alarms, yellow.correct_negatives) == (
        2,
        1,
        2,
        2,
    )
    assert (
        yellow.pod == pytest.approx(2 / 3)
        and yellow.far == pytest.approx(0.5)
        and yellow.csi == pytest.approx(0.4)
    )
    orange = table.loc["orange"]  # warned orange at 6 (false alarm), observed orange at 4 (miss)
    assert (orange.hits, orange.misses, orange.false_alarms) == (0, 1, 1)
    assert (orange.pod, orange.far, orange.csi) == (0.0, 1.0, 0.0)
    red = table.loc["red"]  # never warned nor observed among known pairs: undefined scores
    assert (
        red.hits == red.misses == red.false_alarms == 0
        and np.isnan([red.pod, red.far, red.csi]).all()
    )
    assert list(table.columns) == [
        "signal",
        "level",
        "hits",
        "misses",
        "false_alarms",
        "correct_negatives",
        "pod",
        "far",
        "csi",
    ]


def test_observed_events_look_ahead_over_the_level_window():
    # 2 m temperature 30 °C, 36 °C at hour 30: the trailing 24 h maximum is ≥ 35 °C at hours
    # 30–53. The yellow event (window 24 h) holds at issue times t with (t, t + 24 h] touching
    # 30–53, i.e. t = 6…52; it is known only where the maximum exists over the whole window
    # (t ≥ 22) and the window ends inside the record (t ≤ 79 − 24 = 55).
    hours = 80
    temperature = np.full((hours, 3, 4), kelvin(30.0), dtype=np.float32)
    temperature[30] = kelvin(36.0)
    ds = grid_dataset({"air_temperature_2m": temperature}, times=hours)
    events = (
        observed_events(ds, ["heat_warning_signal"])["heat_warning_signal"]
        .compute()
        .values[:, 0, 0]
    )
    assert np.isnan(events[:22]).all() and np.isnan(events[56:]).all()
    assert (events[22:53] == 3).all() and (events[53:56] == 0).all()


def test_observed_events_use_each_level_window():
    # Road icing is observed as red only (precipitation on a sub-zero surface at hour 20);
    # the yellow / orange / red events are icing within 12 / 6 / 2 h after issue.
    hours = 30
    rain = np.zeros((hours, 3, 4), dtype=np.float32)
    rain[20] = 0.5
    ds = grid_dataset(
        {"air_temperature_2m": kelvin(-1.0), "precipitation_amount": rain}, times=hours
    )
    events = observed_events(ds, ["road_icing_warning_signal"])["road_icing_warning_signal"]
    expected = (
        [0] * 8 + [3] * 6 + [4] * 4 + [5] * 2 + [NAN] * 10
    )  # unknown once 12 h run past the end
    assert_levels(events.compute().values[:, 1, 1], expected)


def test_signal_verification_end_to_end():
    # Observed 37.5 °C at hour 40 in the western half; one run at hour 24 forecasts it at lead
    # 16 everywhere. Signals are known from hour 24 (the run), events while (t, t + 24 h] lies
    # in the record with a known 24 h maximum: t = 22…35. Pairs t = 24…35 × 12 cells: orange
    # (and yellow) hits in the 6 western cells, false alarms in the 6 eastern ones.
    hours = 60
    temperature = np.full((hours, 3, 4), kelvin(30.0), dtype=np.float32)
    temperature[40, :, :2] = kelvin(37.5)
    ds = grid_dataset({"air_temperature_2m": temperature}, times=hours)
    lead = np.arange(73)[None, :, None, None]
    fc = forecast_runs(
        {"air_temperature_2m": np.where(lead == 16, kelvin(37.5), kelvin(30.0))},
        start="2026-07-26T00:00",
    )
    table = signal_verification(ds, fc, ["heat_warning_signal"]).set_index("level_name")
    for level in ("yellow", "orange"):
        row = table.loc[level]
        assert (row.hits, row.misses, row.false_alarms, row.correct_negatives) == (72, 0, 72, 0)
        assert (row.pod, row.far, row.csi) == (1.0, 0.5, 0.5)
    assert table.loc["red"].correct_negatives == 144 and np.isnan(table.loc["red"].pod)


# ---------------------------------------------------------------- on the demo


@pytest.mark.slow
def test_all_signals_compute_on_the_demo(published_demo):
    # The demo publish derived every signal (tests/test_end_to_end.py checks each store
    # equals derive on the same inputs): read them back rather than derive them again.
    from weatherdata.publication import open_published

    root, _ = published_demo
    out = xr.merge([open_published(root, name)[[name]] for name in ENTRIES]).load()
    for name in ENTRIES:
        assert out[name].notnull().any(), name
    assert (out.typhoon_warning_signal >= 2).any() and (out.rainstorm_warning_signal >= 3).any()
    assert out.guangdong_city_warning_signals.sizes == {
        "time": out.sizes["time"],
        "signal": 17,
        "city": 21,
    }


@pytest.mark.parametrize("lazy", [False, True], ids=["numpy", "dask"])
def test_kleene_truth_tables_and_clauses(lazy):
    """OR and AND of three-valued conditions (1, 0, NaN unknown) over every pair, with
    the second operand broadcast along a dimension the first lacks; a clause is unknown
    where its value is missing."""
    from weatherdata.products.forecast_warning.signals import _all, _any, _at_least, _below

    nan = np.nan
    left = xr.DataArray(np.array([1, 1, 1, 0, 0, 0, nan, nan, nan], np.float32), dims="x")
    right = xr.DataArray(np.array([[1, 0, nan] * 3], np.float32), dims=("y", "x"))
    if lazy:
        left, right = left.chunk(x=4), right.chunk(x=5)
    either, both = _any(left, right).compute(), _all(left, right).compute()
    assert either.dims == both.dims == ("x", "y") and either.dtype == np.float32
    np.testing.assert_array_equal(either[:, 0], [1, 1, 1, 1, 0, nan, 1, nan, nan])
    np.testing.assert_array_equal(both[:, 0], [1, 0, nan, 0, 0, 0, nan, 0, nan])
    wind = xr.DataArray(np.array([10.7, 10.8, nan, 20.0], np.float32), dims="x")
    wind.attrs["units"] = "m s-1"
    if lazy:
        wind = wind.chunk(x=2)
    np.testing.assert_array_equal(_at_least(wind, "10.8 m s-1").compute(), [0, 1, nan, 1])
    np.testing.assert_array_equal(_below(wind, "10.8 m s-1").compute(), [1, 0, nan, 0])
