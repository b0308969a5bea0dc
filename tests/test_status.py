"""``weatherdata status``: what "stale" means per time axis, and the catalog's declarations of
products missing by definition in places (``undefined_where``), checked on the demo."""

import numpy as np
import pytest
import xarray as xr
from rich.console import Console

from tests.products.test_forecast_grids import forecast_runs, observation_times
from tests.test_publish import inputs
from weatherdata import cli
from weatherdata.catalog import shipped_catalog
from weatherdata.cli import main
from weatherdata.publication import TIME_DIMENSIONS, open_published, publish, status

CATALOG = shipped_catalog()
DAILY = "daily_maximum_temperature"  # days of 12-12 UTC (20-20 Beijing time)


def test_a_daily_product_is_judged_by_the_end_of_its_last_complete_day(
    tmp_path, capsys, monkeypatch
):
    # 07-25T00 … 07-27T23: the newest hour is 11 h after the last day boundary (07-27T12),
    # which ends the last possible day (07-26T12 … 07-27T12).
    data = inputs(72)
    healthy = tmp_path / "healthy"
    publish(data, healthy, ["temperature_2m", DAILY])
    rows = {row.product: row for row in status(healthy, stale_after="2 h")}
    daily = rows[DAILY]
    assert (daily.time_dimension, daily.last_complete_time) == ("day", "2026-07-26T12:00:00Z")
    assert daily.covered_until == daily.reference_time == "2026-07-27T12:00:00Z"
    assert rows["temperature_2m"].reference_time == "2026-07-27T23:00:00Z"
    assert not daily.stale and not rows["temperature_2m"].stale
    # The table shows the END of the day (wide enough not to cut the cells).
    monkeypatch.setattr(cli, "console", Console(width=250))
    capsys.readouterr()
    assert main(["status", str(healthy), "--stale-after", "2 h"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if DAILY in line)
    cells = [cell.strip() for cell in line.split("│")[1:-1]]
    assert cells[2:] == [
        "2026-07-25T12:00:00Z",
        "2026-07-27T12:00:00Z",
        "2026-07-27T12:00:00Z",
        "2 days",
        "ok",
    ]
    # At 80 columns (too narrow for a row each): nothing cut, the id whole on its line, the
    # family and times (to the minute) below it.
    monkeypatch.setattr(cli, "console", Console(width=80))
    assert main(["status", str(healthy), "--stale-after", "2 h"]) == 0
    narrow = capsys.readouterr().out
    assert "…" not in narrow and max(map(len, narrow.splitlines())) <= 80
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in narrow.splitlines()]
    at = next(i for i, row in enumerate(cells) if row and row[0] == DAILY)
    assert cells[at][1:] == ["2 days", "ok"]
    below = " ".join(row[0] for row in cells[at + 1 : at + 3])
    assert below.startswith(
        "observation: 2026-07-25T12:00Z to 2026-07-27T12:00Z, last complete 2026-07-27T12:00Z"
    ), below
    # A cell missing at 07-27T00 leaves the last day incomplete: the last complete day ends
    # at 07-26T12, a day (more than the limit) before the boundary.
    holed = data.copy(deep=True)
    holed["air_temperature_2m"] = holed["air_temperature_2m"].where(
        (holed.time != np.datetime64("2026-07-27T00:00")) | (holed.latitude != holed.latitude[0])
    )
    behind = tmp_path / "behind"
    publish(holed, behind, ["temperature_2m", DAILY])
    rows = {row.product: row for row in status(behind, stale_after="2 h")}
    daily = rows[DAILY]
    assert daily.last_time == "2026-07-26T12:00:00Z"
    assert daily.last_complete_time == "2026-07-25T12:00:00Z"
    assert daily.covered_until == "2026-07-26T12:00:00Z"
    assert daily.stale and not rows["temperature_2m"].stale
    assert main(["status", str(behind), "--stale-after", "2 h"]) == 1
    assert "1 stale product(s)" in capsys.readouterr().err
    # A limit longer than the day it lacks: not stale.
    assert not next(r for r in status(behind, stale_after="25 h") if r.product == DAILY).stale


def test_a_forecast_store_is_stale_when_it_lacks_the_newest_run(tmp_path):
    observations = observation_times(hours=6)  # ends 07-25T01: long before the newest run
    products = ["temperature_2m", "forecast_temperature_2m", "forecast_wind_speed_10m"]
    publish(observations, tmp_path, products, forecast=forecast_runs(runs=4))
    assert not any(row.stale for row in status(tmp_path, stale_after="2 h"))
    # a new run (07-27T00) reaches one forecast store only
    publish(observations, tmp_path, ["forecast_temperature_2m"], forecast=forecast_runs(runs=5))
    rows = {row.product: row for row in status(tmp_path, stale_after="2 h")}
    newer, older = rows["forecast_temperature_2m"], rows["forecast_wind_speed_10m"]
    assert newer.time_dimension == older.time_dimension == "init_time"
    assert newer.reference_time == older.reference_time == "2026-07-27T00:00:00Z"
    assert newer.last_complete_time == "2026-07-27T00:00:00Z" and not newer.stale
    assert older.last_complete_time == "2026-07-26T12:00:00Z" and older.stale
    assert not rows["temperature_2m"].stale  # observations are not judged against runs
    assert not next(
        r for r in status(tmp_path, stale_after="12 h") if r.product == older.product
    ).stale
    assert main(["status", str(tmp_path), "--stale-after", "2 h"]) == 1


def _last_step(variable: xr.DataArray) -> tuple[str, xr.DataArray]:
    """The step status judges: the last hour, the last day, the newest run (all its leads);
    for a store without a time axis (``period``) its last period."""
    axis = next((d for d in variable.dims if d in TIME_DIMENSIONS), variable.dims[0])
    return axis, variable.isel({axis: -1})


@pytest.mark.slow
def test_products_missing_by_definition_are_declared_and_only_they(published_demo):
    """A product without ``undefined_where`` has no missing cell at its last step; one with
    it has missing cells in the store (else the declaration is unnecessary) and carries the
    phrase as an attribute; status judges the whole healthy demo root as fresh."""
    root, summary = published_demo
    undeclared_with_holes, declared_without_holes = {}, []
    for store in summary.stores:
        entry = CATALOG[store.product]
        variable = open_published(root, entry.id)[entry.id]
        if entry.undefined_where is None:
            assert "weatherdata_undefined_where" not in variable.attrs, entry.id
            axis, last = _last_step(variable)
            missing = int(last.isnull().sum())
            if missing:
                undeclared_with_holes[entry.id] = f"{missing} missing at the last {axis}"
        else:
            assert variable.attrs["weatherdata_undefined_where"] == entry.undefined_where
            if not variable.isnull().any():
                declared_without_holes.append(entry.id)
    assert not undeclared_with_holes, "declare undefined_where (or fix the product)"
    assert not declared_without_holes, "undefined_where declared but nothing is missing"
    assert len(summary.stores) == len(CATALOG.products)
    rows = status(root, stale_after="2 h")
    assert [row.product for row in rows if row.stale] == []
    unchecked = {row.product for row in rows if not row.completeness_checked}
    declared = {e.id for e in CATALOG.products.values() if e.undefined_where}
    assert unchecked == declared | {row.product for row in rows if row.time_dimension is None}
    assert all(row.stale is None for row in rows if row.time_dimension is None)
