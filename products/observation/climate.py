"""Climate-monitoring products on the daily series: anomalies and dry/wet spells.

Daily products carry a ``day`` dimension labelled by the day's start (UTC). A day is
matched to its calendar date by its midpoint: the Beijing 20–20 day labelled
``07-24T12:00`` UTC ends at 20:00 BJT on 07-25 and is the climatological date 07-25
(Chinese practice); an 08–08 BJT day is the date it starts on. Normals are read by day of
year from the ``climatological_*`` inputs; day 366 falls back to day 365 when the
normals have no leap day.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from weatherdata.compute import require_days, rolling_window, to_timedelta, with_units
from weatherdata.errors import InputError
from weatherdata.units import convert_dataarray

from ._xclim import xclim_indices


def calendar_dates(day: xr.DataArray) -> xr.DataArray:
    """The calendar date of each day (its midpoint, floored to the date)."""
    return (day + pd.Timedelta(hours=12)).dt.floor("D")


def normals_for_days(climatology: xr.DataArray, day: xr.DataArray, name: str) -> xr.DataArray:
    """The normal of each day in ``day``, from ``climatology`` on ``dayofyear`` (lazy).

    Raises
    ------
    InputError
        If the climatology has no ``dayofyear`` axis or lacks a needed day of year.
    """
    if "dayofyear" not in climatology.dims:
        raise InputError(
            f"{name}: the climatology needs a `dayofyear` dimension (found {', '.join(climatology.dims)})"
        )
    available = (
        climatology["dayofyear"].values
        if "dayofyear" in climatology.coords
        else np.arange(1, climatology.sizes["dayofyear"] + 1)
    )
    wanted = calendar_dates(day).dt.dayofyear
    if 366 not in available:
        wanted = wanted.where(wanted != 366, 365)
    lacking = sorted(set(np.unique(wanted.values).tolist()) - set(np.asarray(available).tolist()))
    if lacking:
        raise InputError(f"{name}: the climatology has no normal for day(s) of year {lacking[:10]}")
    if "dayofyear" not in climatology.coords:
        climatology = climatology.assign_coords(dayofyear=available)
    normal = climatology.sel(dayofyear=wanted.rename("dayofyear"))
    return normal.drop_vars("dayofyear")


def _over_days(data, window, how):
    """Trailing window along ``day``; a one-day window is the day itself (also on a
    one-day record, where no time step can be inferred)."""
    if to_timedelta(window) == pd.Timedelta(days=1):
        return data
    return rolling_window(data, window, how=how, dim="day")


def temperature_anomaly(temperature, climatology, window):
    """Temperature anomaly (气温距平) over the trailing ``window`` of days:

    .. math:: \\Delta T = \\frac{1}{n}\\sum_{d} \\left(T_d - \\bar T_{doy(d)}\\right)

    from daily mean temperatures and the daily normals (WMO-No. 1203). A missing day makes
    the window missing.
    """
    daily_anomaly = convert_dataarray(temperature, "K") - normals_for_days(
        convert_dataarray(climatology, "K"), temperature["day"], "temperature_anomaly"
    )
    return _over_days(with_units(daily_anomaly, "K"), window, "mean")


def precipitation_anomaly_percentage(precipitation, climatology, window):
    """Precipitation anomaly percentage (降水距平百分率) over the trailing ``window``:

    .. math:: P_a = \\frac{\\sum_d P_d - \\sum_d \\bar P_{doy(d)}}{\\sum_d \\bar P_{doy(d)}}
              \\times 100\\,\\%

    Missing where the normal total is zero (undefined), or a day is missing.
    """
    normal = normals_for_days(
        convert_dataarray(climatology, "mm"),
        precipitation["day"],
        "precipitation_anomaly_percentage",
    )
    total = _over_days(convert_dataarray(precipitation, "mm"), window, "sum")
    normal_total = _over_days(with_units(normal, "mm"), window, "sum")
    ratio = (total - normal_total) / normal_total.where(normal_total > 0) * 100.0
    return with_units(ratio, "percent")


def _spell(precipitation, threshold, period, index_name, operator):
    require_days(precipitation)  # xclim infers the sampling frequency from three dates
    amounts = convert_dataarray(precipitation, "mm")
    series = amounts.rename(day="time").assign_coords(time=calendar_dates(amounts["day"]).values)
    series.attrs = {"units": "mm/d"}
    index = getattr(xclim_indices(), index_name)
    spell = index(series, thresh=f"{threshold.m_as('mm')} mm/d", op=operator, freq=period)
    incomplete = series.isnull().resample(time=period).any()
    spell = spell.where(~incomplete).rename(time="period")
    return with_units(spell, "day")


def consecutive_dry_days(precipitation, threshold, period):
    """Longest run of dry days (daily precipitation < ``threshold``) in each ``period``
    (``xclim.indices.maximum_consecutive_dry_days``; ETCCDI CDD with 1 mm, yearly).

    The result has a ``period`` dimension labelled by the period start; a period with a
    missing day is missing; a period the record covers only partly is computed over the
    days present (the longest run so far).
    """
    return _spell(precipitation, threshold, period, "maximum_consecutive_dry_days", "<")


def consecutive_wet_days(precipitation, threshold, period):
    """Longest run of wet days (daily precipitation ≥ ``threshold``) in each ``period``
    (``xclim.indices.maximum_consecutive_wet_days``; ETCCDI CWD with 1 mm, yearly)."""
    return _spell(precipitation, threshold, period, "maximum_consecutive_wet_days", ">=")
