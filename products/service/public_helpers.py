"""Shared pieces of the thermal-comfort and public-index recipes.

* solar geometry from the grid's own coordinates (cosine of the solar zenith angle,
  direct normal irradiance, WMO sunshine duration), lazily broadcast;
* daily statistics over part of the day (daytime 08–20 Beijing time, the morning
  exercise hours, …) on top of :func:`weatherdata.compute.daily`, so that the day is
  always defined explicitly;
* classing by a table of bounds, and counting unfavourable factors, for the grade and
  rule-table products.

Nothing here reads data values: times and latitudes come from coordinates (which are
in memory); everything derived from data stays a Dask graph.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import thermofeel
import xarray as xr

from weatherdata.compute import daily, elementwise, quantity, time_step, with_units
from weatherdata.errors import InputError, InsufficientDataError

__all__ = [
    "BEIJING_UTC_OFFSET",
    "averaging_step",
    "class_from_lower_bounds",
    "cos_solar_zenith_angle",
    "daily_in_hours",
    "direct_normal_irradiance",
    "flag",
    "hours_of",
    "magnitudes",
    "sunshine_duration",
    "valid_times",
]

#: Beijing time is UTC+8 all year.
BEIJING_UTC_OFFSET = pd.Timedelta(hours=8)


# -- small conversions -------------------------------------------------------------


def magnitudes(values, units: str) -> np.ndarray:
    """A list of catalog quantities (``["27 degC", "32 degC"]``) as floats in ``units``."""
    return np.array([quantity(v).m_as(units) for v in values], dtype=np.float64)


def hours_of(value) -> float:
    """A catalog duration (``"3 h"``) in hours."""
    return float(quantity(value).m_as("hour"))


# -- solar geometry ----------------------------------------------------------------------


def valid_times(data: xr.DataArray) -> xr.DataArray:
    """The time each value is valid at: ``valid_time`` on forecast grids, else ``time``."""
    for name in ("valid_time", "time"):
        if name in data.coords:
            return data.coords[name]
    raise InputError(f"{data.name or 'input'}: no time coordinate (time or valid_time)")


def _latitude_longitude(data: xr.DataArray) -> tuple[xr.DataArray, xr.DataArray]:
    for lat_name, lon_name in (("latitude", "longitude"), ("lat", "lon")):
        if lat_name in data.coords and lon_name in data.coords:
            return data.coords[lat_name], data.coords[lon_name]
    raise InputError(
        f"{data.name or 'input'}: latitude/longitude coordinates are needed for the solar angle"
    )


def averaging_step(data: xr.DataArray) -> pd.Timedelta:
    """The step of the ``time`` (or ``lead_time``) axis, zero if it cannot be known."""
    for dim in ("time", "lead_time"):
        if dim in data.dims and data.sizes[dim] >= 2:
            try:
                return time_step(data, dim)
            except InputError:
                return pd.Timedelta(0)
    return pd.Timedelta(0)


def cos_solar_zenith_angle(
    data: xr.DataArray, *, offset: pd.Timedelta = pd.Timedelta(0)
) -> xr.DataArray:
    """Cosine of the solar zenith angle at each time and grid point of ``data``, ≥ 0.

    Uses the NOAA "General Solar Position Calculations" (Spencer 1971 Fourier series):
    with the fractional year :math:`\\gamma = \\frac{2\\pi}{N}(d - 1 + \\frac{h - 12}{24})`
    (day of year :math:`d`, UTC hour :math:`h`, :math:`N` days in the year),

    .. math::

        \\delta &= 0.006918 - 0.399912\\cos\\gamma + 0.070257\\sin\\gamma
                 - 0.006758\\cos 2\\gamma + 0.000907\\sin 2\\gamma
                 - 0.002697\\cos 3\\gamma + 0.00148\\sin 3\\gamma \\\\
        E &= 229.18\\,(0.000075 + 0.001868\\cos\\gamma - 0.032077\\sin\\gamma
               - 0.014615\\cos 2\\gamma - 0.040849\\sin 2\\gamma)\\ \\text{min} \\\\
        \\omega &= \\frac{60h + E + 4\\lambda}{4} - 180^\\circ, \\qquad
        \\cos\\theta_z = \\sin\\varphi\\sin\\delta + \\cos\\varphi\\cos\\delta\\cos\\omega

    evaluated at ``time − offset`` (use half the step for fluxes that are means over the
    preceding step). Negative values (sun below the horizon) are set to 0. The result is
    lazy: the time and latitude/longitude factors are small coordinate arrays, chunked
    and broadcast by Dask.

    References
    ----------
    Spencer, J. W., 1971: Fourier series representation of the position of the sun.
    Search 2(5), 172. NOAA Global Monitoring Laboratory, "General Solar Position
    Calculations" (gml.noaa.gov/grad/solcalc/solareqns.PDF).
    """
    times = valid_times(data)
    stamps = pd.DatetimeIndex(np.ravel(times.values)) - offset
    year_start = stamps.to_period("Y").to_timestamp()
    days_in_year = np.where(stamps.is_leap_year, 366.0, 365.0)
    elapsed_days = np.asarray((stamps - year_start) / pd.Timedelta(days=1), dtype=np.float64)
    hour = np.asarray(stamps.hour + stamps.minute / 60 + stamps.second / 3600, dtype=np.float64)
    gamma = 2 * np.pi / days_in_year * (elapsed_days - 0.5)
    declination = (
        0.006918
        - 0.399912 * np.cos(gamma)
        + 0.070257 * np.sin(gamma)
        - 0.006758 * np.cos(2 * gamma)
        + 0.000907 * np.sin(2 * gamma)
        - 0.002697 * np.cos(3 * gamma)
        + 0.00148 * np.sin(3 * gamma)
    )
    equation_of_time = 229.18 * (
        0.000075
        + 0.001868 * np.cos(gamma)
        - 0.032077 * np.sin(gamma)
        - 0.014615 * np.cos(2 * gamma)
        - 0.040849 * np.sin(2 * gamma)
    )

    def on_time(values):
        return xr.DataArray(values.reshape(times.shape), dims=times.dims).chunk()

    latitude, longitude = _latitude_longitude(data)
    latitude = np.deg2rad(latitude.astype(np.float64).drop_vars(latitude.coords).chunk())
    longitude = longitude.astype(np.float64).drop_vars(longitude.coords).chunk()
    declination, minutes = on_time(declination), on_time(hour * 60 + equation_of_time)
    hour_angle = np.deg2rad((minutes + 4 * longitude) / 4 - 180)
    cosine = np.sin(latitude) * np.sin(declination) + np.cos(latitude) * np.cos(
        declination
    ) * np.cos(hour_angle)
    cosine = cosine.clip(0.0, 1.0).astype(np.float32)
    cosine = cosine.transpose(*[d for d in data.dims if d in cosine.dims], ...)
    return with_units(
        cosine.assign_coords({name: times.coords[name] for name in times.coords}), "1"
    )


def direct_normal_irradiance(
    direct_horizontal: xr.DataArray, cos_zenith: xr.DataArray, *, minimum_cosine=0.1
):
    """Direct irradiance on a plane normal to the beam, :math:`I = F_{dir} / \\cos\\theta_z`.

    ``thermofeel.approximate_dsrp``: the division is made only where
    :math:`\\cos\\theta_z > 0.1` (sun more than ~5.7° above the horizon); below it the
    horizontal value is kept, which avoids dividing by a vanishing cosine.
    """

    def kernel(direct, cosine):
        direct, cosine = np.broadcast_arrays(
            np.asarray(direct, np.float64), np.asarray(cosine, np.float64)
        )
        return thermofeel.approximate_dsrp(direct, cosine, threshold=minimum_cosine).astype(
            np.float32
        )

    out = elementwise(kernel, direct_horizontal, cos_zenith)
    return with_units(out, "W m-2")


def sunshine_duration(direct_horizontal: xr.DataArray, threshold) -> xr.DataArray:
    """Sunshine duration of each step (hours): the step counts as sunny when its mean
    direct normal irradiance reaches ``threshold``.

    WMO defines sunshine duration as the time during which the direct normal irradiance
    is at least 120 W m-2 (WMO-No. 8, Vol. I, ch. 8). On step means (hourly radiation) a
    step is counted whole or not at all: a partly sunny hour counts as one hour or none.
    """
    step = averaging_step(direct_horizontal)
    if step == pd.Timedelta(0):
        raise InputError("sunshine duration needs a regular time axis with at least two steps")
    cosine = cos_solar_zenith_angle(direct_horizontal, offset=step / 2)
    normal = direct_normal_irradiance(direct_horizontal, cosine)
    limit = quantity(threshold).m_as("W m-2")
    sunny = xr.where(normal >= limit, step / pd.Timedelta(hours=1), 0.0).where(normal.notnull())
    return with_units(sunny.astype(np.float32), "hour")


# -- days and parts of days ------------------------------------------------------------


def _beijing_hours(data: xr.DataArray) -> np.ndarray:
    stamps = pd.DatetimeIndex(data["time"].values) + BEIJING_UTC_OFFSET
    return np.asarray(stamps.hour)


def _in_hours(hour: np.ndarray, start: int, end: int) -> np.ndarray:
    if start == end:
        return np.ones_like(hour, dtype=bool)
    if start < end:
        return (hour >= start) & (hour < end)
    return (hour >= start) | (hour < end)


def daily_in_hours(data: xr.DataArray, how: str, *, day: str, hours: tuple[int, int] | None = None):
    """Daily ``how`` (mean, sum, max, min) of the values stamped at Beijing hours
    ``start ≤ h < end`` (wrapping past midnight when ``start > end``).

    The day is one of :data:`weatherdata.compute.DAY_DEFINITIONS` (a value stamped ``t``
    belongs to the step ending at ``t``). A day with a missing value *inside the hours*
    is missing; values outside the hours are ignored.
    """
    units = data.attrs.get("units", "1")
    if hours is None:
        return daily(data, how, day=day)
    inside = xr.DataArray(
        _in_hours(_beijing_hours(data), *hours), dims="time", coords={"time": data["time"]}
    )
    if not inside.any():  # a record too short (or too sparse) for the hours, not bad input
        raise InsufficientDataError(f"no time step falls in the Beijing hours {hours}")
    neutral = {"sum": 0.0, "mean": 0.0, "max": -np.inf, "min": np.inf}[how]
    reduced = daily(
        with_units(data.where(inside, neutral), units), "sum" if how == "mean" else how, day=day
    )
    if how == "mean":
        count = daily(with_units(inside.astype(np.float64), "1"), "sum", day=day)
        reduced = reduced / count.where(count > 0)
    return with_units(reduced.astype(np.float32), units)


# -- classes and factors ------------------------------------------------------------------


def class_from_lower_bounds(
    values: xr.DataArray, lower_bounds, *, first: int = 1, descending: bool = False
):
    """Class of each value from increasing ``lower_bounds`` (plain numbers).

    The class is ``first + k`` where ``k`` is the number of bounds at or below the value
    (``[b_k, b_{k+1})`` intervals, lower bound included); with ``descending`` the classes
    run the other way (``first`` for the highest interval). Missing values stay missing.
    """
    bounds = np.asarray(lower_bounds, dtype=np.float64)
    if np.any(np.diff(bounds) <= 0):
        raise ValueError(f"class bounds must increase: {lower_bounds}")

    def kernel(x):
        x = np.asarray(x, dtype=np.float64)
        k = np.searchsorted(bounds, x, side="right")
        k = (len(bounds) - k) if descending else k
        return np.where(np.isnan(x), np.nan, first + k).astype(np.float32)

    out = elementwise(kernel, values)
    return with_units(out, "1")


def flag(condition: xr.DataArray, *inputs: xr.DataArray) -> xr.DataArray:
    """``condition`` as 1.0/0.0, NaN where any of ``inputs`` is missing."""
    out = condition.astype(np.float32)
    for data in inputs:
        out = out.where(data.notnull())
    return out
