"""Publication window by window: look-backs declared in the catalog, and a windowed publish
that equals one publish of the whole range."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
import xarray as xr

import weatherdata
from weatherdata import engine, publication
from weatherdata.catalog import Lookback, load_catalog, shipped_catalog
from weatherdata.errors import CatalogError, PublishError
from weatherdata.publication import publish, publish_in_windows, store_path

CATALOG = shipped_catalog()


def test_lookback_of_each_time_kind():
    assert CATALOG.lookback("temperature_2m") == Lookback()
    # a rolling window reaches back its window; a daily value one day
    assert CATALOG.lookback("precipitation_accumulation_72h").duration == pd.Timedelta("3D")
    assert CATALOG.lookback("daily_mean_temperature").duration == pd.Timedelta("1D")
    # a daily value with its own window: the window (SPI over 30 days, of daily precipitation)
    assert CATALOG.lookback("standardized_precipitation_index").duration == pd.Timedelta("32D")
    # declared where the recipe reaches further than its kind says (EHF: 30 days before 3)
    assert CATALOG.lookback("excess_heat_factor").duration == pd.Timedelta("33D")
    # a difference of two 24 h minima 72 h apart: 72 h + 24 h window + the daily minimum's day
    assert CATALOG.lookback("minimum_temperature_drop_72h").duration == pd.Timedelta("5D")


def test_lookbacks_add_up_through_the_products_a_product_is_built_from():
    # precipitation grade over 24 h: its 24 h window after the 24 h accumulation's
    accumulation = CATALOG.lookback("precipitation_accumulation_24h")
    grade = CATALOG.lookback("precipitation_grade_24h")
    assert grade.duration == 2 * accumulation.duration == pd.Timedelta("2D")
    # recursions that start on the record's first day make everything built on them so
    assert CATALOG.lookback("keetch_byram_drought_index").record
    assert CATALOG.lookback("mcarthur_forest_fire_danger_index").record  # uses KBDI
    assert CATALOG.lookback("guangdong_city_warning_signals").record  # holds the fire signal
    assert not CATALOG.lookback("heat_warning_signal").record


def test_products_read_back_count_only_with_their_readers_own_lookback():
    # McArthur's index reads KBDI and 20 days of rainfall: with KBDI read back from its
    # store, 20 days after the daily series' day
    mcarthur = CATALOG.lookback(
        "mcarthur_forest_fire_danger_index", published={"keetch_byram_drought_index"}
    )
    assert not mcarthur.record
    assert mcarthur.duration == pd.Timedelta("22D")
    # the city table with every signal read back: only its own (instant) look-back
    signals = set(CATALOG.dependencies("guangdong_city_warning_signals"))
    assert CATALOG.lookback("guangdong_city_warning_signals", published=signals) == Lookback()
    # ... but not with the drought signal derived (MCI rests on Thornthwaite's year)
    assert CATALOG.lookback(
        "guangdong_city_warning_signals", published=signals - {"drought_warning_signal"}
    ).record


def test_period_lookback_starts_at_the_period_in_progress():
    since = pd.Timestamp("2026-07-27T06:00")
    year = CATALOG.lookback("growing_degree_days")  # period YS
    assert year.periods == {"YS"}
    assert year.inputs_start(since) == pd.Timestamp("2026-01-01")
    chill = CATALOG.lookback("chill_units")  # chill season from 1 October
    assert chill.inputs_start(since) == pd.Timestamp("2025-10-01")
    # a --set of the period moves it
    monthly = CATALOG.lookback("growing_degree_days", {"growing_degree_days": {"period": "MS"}})
    assert monthly.inputs_start(since) == pd.Timestamp("2026-07-01")
    assert Lookback(record=True).inputs_start(since) is None
    assert Lookback(pd.Timedelta("36h")).inputs_start(since) == pd.Timestamp("2026-07-25T18:00")


@pytest.mark.parametrize(
    ("lookback", "message"),
    [
        ("banana", "time.lookback: quantity 'banana'"),
        ("3 m", "is not a duration"),
        ("35 degC", "not a duration"),
    ],
)
def test_a_lookback_that_is_not_a_duration_is_a_catalog_error(tmp_path, lookback, message):
    text = CATALOG.path and open(CATALOG.path, encoding="utf-8").read()
    entry = "- id: temperature_change_24h\n"
    start = text.index(entry)
    kind = text.index("    kind: period\n", start) + len("    kind: period\n")
    path = tmp_path / "catalog.yaml"
    path.write_text(text[:kind] + f"    lookback: {lookback}\n" + text[kind:], encoding="utf-8")
    with pytest.raises(CatalogError, match=message):
        load_catalog(path)


# One product (or two) of every kind of time dependence: instant, rolling windows, daily
# values on Beijing days (one that waits for three complete days), the previous day, a
# 33-day antecedent window, per-year and per-season periods, forecast lead windows and
# forecast grids, a nowcast, a warning signal, and whole-record recursions.
SAMPLE = [
    "temperature_2m",
    "precipitation_accumulation_24h",
    "precipitation_grade_24h",
    "daily_mean_temperature",
    "reference_evapotranspiration",
    "common_cold_risk_level",
    "minimum_temperature_drop_72h",
    "excess_heat_factor",
    "growing_degree_days",
    "chill_units",
    "forecast_precipitation_next_6h",
    "forecast_temperature_2m",
    "nowcast_reflectivity_30min",
    "heat_warning_signal",
    # recursions that continue, window after window, what the window before published
    # (time.carry), and a product built on one
    "keetch_byram_drought_index",
    "process_rainfall_total",
    "mcarthur_forest_fire_danger_index",
    # published by the windows, read back by the whole-record pass for the relative
    # moisture index (Thornthwaite's year)
    "daily_precipitation",
    "relative_moisture_index",
]


def _without_run_attributes(data: xr.Dataset) -> xr.Dataset:
    run = ("history", "date_created", "weatherdata_inputs")
    data.attrs = {k: v for k, v in data.attrs.items() if k not in run}
    return data


@pytest.mark.slow
@pytest.mark.parametrize("opened", ["once", "per window"])
def test_windowed_publication_equals_one_publication_of_the_whole_range(
    demo_directory, demo_inputs, published_demo, tmp_path, opened, monkeypatch
):
    observations, forecast = demo_inputs
    one_root, _ = published_demo
    reports = []
    read_back = []
    original = engine._read_back

    def recording(derived, stored):
        result = original(derived, stored)
        read_back.append((derived.name, result is not derived))
        return result

    monkeypatch.setattr(engine, "_read_back", recording)
    groups = []
    one_publish = publication.publish

    def publishing(observations, root, products, **keywords):
        groups.append(list(products))
        return one_publish(observations, root, products, **keywords)

    monkeypatch.setattr(publication, "publish", publishing)
    if opened == "once":
        inputs = {"forecast": forecast}
    else:  # each window opens the files that hold its times
        observations, inputs = None, {"sources": demo_directory}
    summary = publish_in_windows(
        observations,
        tmp_path,
        SAMPLE,
        window="2D",  # 5 days: three windows, boundaries inside chunks and Beijing days
        progress=lambda stage, done, total: reports.append((stage, done, total)),
        **inputs,
    )
    assert sorted(s.product for s in summary.stores) == sorted(SAMPLE)
    if opened == "per window":  # provenance: the files of the last window, not all
        recorded = json.loads(
            xr.open_zarr(store_path(tmp_path, CATALOG["temperature_2m"]), zarr_format=3).attrs[
                "weatherdata_inputs"
            ]
        )
        names = {item["file"] for item in recorded}
        assert "surface_20260729.nc" in names
        assert "surface_20260725.nc" not in names
    assert summary.skipped == {}
    # The relative moisture index's daily series were read back from the windows' stores
    assert {name for name, _ in read_back} == {"daily_mean_temperature", "daily_precipitation"}
    assert all(used for _, used in read_back)
    # three windows, a pass for the year and one for the chill season, the whole record
    assert ("window", 6, 6) in reports
    # the recursions that carry their state were published by every window, not over
    # the record (the last publish: the relative moisture index alone)
    for continued in ("keetch_byram_drought_index", "process_rainfall_total"):
        assert sum(continued in group for group in groups) == 3
    assert groups[-1] == ["relative_moisture_index"]
    for product_id in SAMPLE:
        entry = CATALOG[product_id]
        one = xr.open_zarr(store_path(one_root, entry), zarr_format=3).load()
        windowed = xr.open_zarr(store_path(tmp_path, entry), zarr_format=3).load()
        xr.testing.assert_identical(_without_run_attributes(one), _without_run_attributes(windowed))


@pytest.mark.slow
def test_a_range_that_ends_before_the_inputs_is_published_as_in_one_pass(
    demo_directory, demo_inputs, tmp_path
):
    # One publish of a range reads the inputs past ``until``: the day labelled 12 UTC
    # on 27 July (a Beijing day) is complete on the 28th, after ``until``, and published.
    # The window at the range's end reads as far. The windows after the record pass
    # (which read KBDI and the daily series back) read a day past each window too; the
    # hours there, after the end of the stores they read back, come from the derivation.
    products = [
        "daily_precipitation",
        "daily_maximum_temperature",
        "wind_speed_10m",  # hourly, read back: the hours past the range are derived
        "keetch_byram_drought_index",
        "mcarthur_forest_fire_danger_index",
    ]
    until = "2026-07-28T05:00"
    observations, forecast = demo_inputs
    one = publish(observations, tmp_path / "one", products, forecast=forecast, until=until)
    windowed = publish_in_windows(
        None, tmp_path / "windows", products, window="2D", sources=demo_directory, until=until
    )
    days = xr.open_zarr(store_path(tmp_path / "one", CATALOG["daily_precipitation"])).day
    assert pd.Timestamp("2026-07-27T12:00") in pd.DatetimeIndex(days.values)
    assert sorted(s.product for s in windowed.stores) == sorted(s.product for s in one.stores)
    for product_id in products:
        entry = CATALOG[product_id]
        expected = xr.open_zarr(store_path(tmp_path / "one", entry), zarr_format=3).load()
        actual = xr.open_zarr(store_path(tmp_path / "windows", entry), zarr_format=3).load()
        xr.testing.assert_identical(
            _without_run_attributes(expected), _without_run_attributes(actual)
        )


def test_windows_read_only_the_inputs_they_need(demo_inputs, tmp_path, monkeypatch):
    import weatherdata.publication as publication

    observations, _ = demo_inputs
    calls = []
    original = publication.publish

    def recording(window_observations, root, products, **keywords):
        if keywords.get("window") is None:
            times = window_observations["time"].values
            calls.append((tuple(products), times[0], keywords["since"]))
        return original(window_observations, root, products, **keywords)

    monkeypatch.setattr(publication, "publish", recording)
    publication.publish_in_windows(
        observations,
        tmp_path,
        ["temperature_2m", "precipitation_accumulation_72h"],
        window="1D",
        since=observations["time"].values[72],  # the fourth day
    )
    first_window = {products: (first_input, since) for products, first_input, since in calls[:2]}
    instant_input, since = first_window[("temperature_2m",)]
    window_input, _ = first_window[("precipitation_accumulation_72h",)]
    # the instant product reads from its window less the margin (its look-back, 0, is
    # rounded up to 1 day: one group for every short look-back) ...
    assert pd.Timestamp(since) - pd.Timestamp(instant_input) == pd.Timedelta("2D")
    # ... the 72 h accumulation 3 days more (rounded to 4), here from the record's start
    assert pd.Timestamp(window_input) == pd.Timestamp(observations["time"].values[0])
    assert len(calls) == 4  # two days left, two groups each


def test_window_must_be_a_positive_duration(demo_inputs, tmp_path):
    observations, _ = demo_inputs
    with pytest.raises(PublishError, match="positive duration"):
        publish(observations, tmp_path, ["temperature_2m"], window="-1D")


def test_cli_publishes_in_windows(demo_directory, tmp_path):
    root = tmp_path / "products"
    command = [sys.executable, "-m", "weatherdata", "publish", str(demo_directory)]
    products = "temperature_2m,daily_mean_temperature"
    result = subprocess.run(
        [*command, "--root", str(root), "--products", products, "--window", "2d"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "published 2 products" in result.stdout
    assert weatherdata.open_product("temperature_2m", str(root)).sizes["time"] == 120
    bad = subprocess.run([*command, "--window", "soon"], capture_output=True, text=True)
    assert bad.returncode != 0 and "--window 'soon'" in bad.stderr
    assert "Traceback" not in bad.stderr


@pytest.mark.slow
def test_every_products_lookback_is_enough(demo_inputs, published_demo):
    """Each product derived from inputs that start only its catalog look-back (and the
    margin) before the compared times equals the store published from the whole record:
    a recipe that reaches further back than its entry declares fails here. On the 5-day
    demo, from its fourth day: every product whose look-back is under ~2 days is checked
    (instant, hourly windows, daily values, most signals); longer ones reach the record's
    start and are covered by the windowed publication test above."""
    import dask
    import numpy as np

    from weatherdata.engine import derive_arrays
    from weatherdata.publication import WINDOW_MARGIN, _select_time, _window_inputs

    observations, forecast = demo_inputs
    root, summary = published_demo
    record_start = pd.Timestamp(observations["time"].values[0])
    since = record_start + pd.Timedelta("3D")
    groups: dict[pd.Timestamp, list[str]] = {}
    for store in summary.stores:
        lookback = CATALOG.lookback(store.product)
        start = lookback.inputs_start(since)
        if start is not None and start - WINDOW_MARGIN > record_start:
            groups.setdefault(start, []).append(store.product)
    checked = sum(len(ids) for ids in groups.values())
    assert checked > 150  # most of the catalog is short-memory
    for start, ids in groups.items():
        window_observations, window_forecast = _window_inputs(observations, forecast, start, None)
        derived = derive_arrays(window_observations, ids, forecast=window_forecast)
        derived = _select_time(derived, since, None)
        computed = dict(zip(derived, dask.compute(*derived.values()), strict=True))
        for product_id, expected in computed.items():
            stored = xr.open_zarr(store_path(root, CATALOG[product_id]), zarr_format=3)[product_id]
            stored = stored.sel({dim: expected[dim] for dim in expected.dims if dim in (
                "time", "day", "period", "init_time")})  # fmt: skip
            values = stored.values
            want = expected.values
            if values.dtype.kind == "f":
                want = want.astype(values.dtype)
            np.testing.assert_array_equal(values, want, err_msg=product_id)


def test_input_index_lists_the_times_of_each_file(demo_directory):
    from weatherdata.ingest import index_inputs, normalize

    registered = set(normalize._LAZY)
    index = {entry.path.split("/")[-1]: entry for entry in index_inputs(demo_directory)}
    # the files are closed and forgotten: no file's Dask graph stays reachable through
    # the lazy QC registry (it held ~330 MB after indexing 60 days at 0.4°)
    assert set(normalize._LAZY) == registered
    surface = index["surface_20260727.nc"]
    assert surface.kind == "observations"
    assert (surface.first, surface.last) == (
        pd.Timestamp("2026-07-27T00:00").to_datetime64(),
        pd.Timestamp("2026-07-27T23:00").to_datetime64(),
    )
    run = index["forecast_20260726T12.nc"]
    assert run.kind == "forecast" and run.first == pd.Timestamp("2026-07-26T12:00")
    assert run.last == pd.Timestamp("2026-07-26T12:00") + pd.Timedelta("72h")  # last valid time
    assert {index[name].kind for name in ("static.nc", "climatology.nc")} == {"always"}
    assert index["tropical_cyclone_track.csv"].kind == "always"
    # a window reads the files holding its times, and the always-read ones
    chosen = {
        name for name, entry in index.items() if entry.overlaps("2026-07-28", "2026-07-28T23:00")
    }
    assert "surface_20260728.nc" in chosen and "surface_20260727.nc" not in chosen
    assert "forecast_20260726T12.nc" in chosen and "static.nc" in chosen


def test_a_window_set_on_the_command_line_is_published_over_the_whole_record(
    demo_inputs, tmp_path, monkeypatch
):
    # The declared 48 h look-back of the huinantian level follows the catalog's wall
    # window, not a --set of it: such a product is published in one pass, on the safe side.
    import weatherdata.publication as publication

    observations, _ = demo_inputs
    calls = []
    original = publication.publish

    def recording(window_observations, root, products, **keywords):
        calls.append((tuple(products), keywords["since"], keywords["until"]))
        return original(window_observations, root, products, **keywords)

    monkeypatch.setattr(publication, "publish", recording)
    product = "huinantian_condensation_level"
    for wall_window, passes in (("48 h", 3), ("72 h", 1)):
        calls.clear()
        publication.publish_in_windows(
            observations,
            tmp_path / wall_window.replace(" ", ""),
            [product],
            window="2D",
            parameters={product: {"wall_window": wall_window}},
        )
        assert len(calls) == passes, calls
    assert pd.Timestamp(calls[0][1]) == pd.Timestamp(observations["time"].values[0])
    assert pd.Timestamp(calls[0][2]) == pd.Timestamp(observations["time"].values[-1])
