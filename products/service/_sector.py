"""Shared plumbing of the sector service products (fire, agriculture, energy, climate).

Days
    Daily products carry a ``day`` dimension labelled by the day's start in UTC (see
    :func:`weatherdata.compute.daily`); a day is matched to its calendar date by its
    midpoint (:func:`weatherdata.products.observation.climate.calendar_dates`). xclim
    wants a ``time`` axis of dates, so daily inputs are relabelled with their calendar dates
    for the call (:func:`as_series`) and the result is relabelled back
    (:func:`back_to_days`). The day definition (20–20 Beijing time by default) is read from
    the labels of the daily input (:func:`day_definition`), so hourly inputs reduced here
    always use the same days as the daily products they are combined with.

Periods
    Counts and sums over periods (degree days, hot days, Rx5day, …) follow the observation
    family's spell products: a ``period`` dimension labelled by the period start (pandas
    offset alias, ``YS`` calendar year), missing when a day of the period *inside the record*
    is missing, and computed over the days present when the record covers the period only
    partly (the total so far) — see :func:`period_index`.

Antecedent days
    Multi-day windows (30–150-day SPI/SPEI, the 60-day weighted precipitation of the MCI,
    the 20-day rainfall of the drought factor, the effective antecedent rainfall) reach back
    before a short record. :func:`extended_series` builds one daily series on calendar dates:
    the ``historical_daily_*`` series (the calibration record) up to the day before the
    record, then the record; dates that *neither* covers — between the end of the history
    and the start of the record (in the demo, 2021 to the record) — take the day-of-year
    normal (``climatological_*``) when ``gap_fill`` is ``climatology`` (``none`` leaves
    them missing, so windows reaching them are missing). A missing value *inside* either
    record stays missing. Products are computed on this series and the values of the
    record's days are returned. With a history that runs up to the day before the record
    (the operational case), no normal is used.

Standardized indices
    :func:`standardized_index_on_days` fits the distribution of the windowed series on the
    calibration years only for the days of year of the record (30 samples per grid point
    and day of year for 1991–2020), then transforms the record's values, in one task per
    block: SPI with the zero-inflated gamma of xclim's ``method="APP"`` (Thom's estimator,
    :func:`zero_inflated_gamma_parameters`: vectorized over the grid, where xclim fits one
    grid point per Python call; a test compares the two), as xclim's own calibration by
    day of year would, without fitting the 366 days of year; SPEI with the generalized
    logistic of the SPEI R package (no installed library has it; xclim's
    maximum-likelihood log-logistic takes ~0.1 s per fit and cannot fit left-skewed
    samples).
"""

from __future__ import annotations

import functools
import operator

import numpy as np
import pandas as pd
import xarray as xr
from scipy import special, stats

from weatherdata.compute import (
    DAY_DEFINITIONS,
    quantity,
    require_days,
    trailing_reduction,
    with_units,
)
from weatherdata.errors import InputError
from weatherdata.units import convert_dataarray, import_xclim

from ..observation.climate import calendar_dates, normals_for_days

__all__ = [
    "as_series",
    "at_beijing_hour",
    "back_to_days",
    "calendar_dates",
    "converted",
    "day_definition",
    "extended_series",
    "generalized_logistic_cdf",
    "generalized_logistic_parameters",
    "latitude",
    "period_index",
    "standardized_index_on_days",
    "trailing_total",
    "weighted_trailing_sum",
    "whole_days",
    "xclim",
    "zero_inflated_gamma_cdf",
    "zero_inflated_gamma_parameters",
]

#: Beijing time is UTC+8 all year.
BEIJING_OFFSET_HOURS = 8

GAP_FILLS = ("climatology", "none")


def xclim(module: str = "xclim.indices"):
    """An xclim module, imported without replacing pint's application registry."""
    return import_xclim(module)


def whole_days(window) -> int:
    """A catalog window (``"30 d"``) as a whole number of days."""
    days = float(quantity(window).m_as("day"))
    if days < 1 or abs(days - round(days)) > 1e-9:
        raise InputError(f"window {window!r} is not a whole number of days")
    return round(days)


def converted(result: xr.DataArray, units: str) -> xr.DataArray:
    """An xclim result converted to ``units`` with xclim's own unit handling (which knows
    its ``d``, ``K d`` and hydrological contexts), with only ``units`` set."""
    convert = xclim("xclim.core.units").convert_units_to
    return with_units(convert(result, units, context="hydro"), units)


def spatial_dims(data: xr.DataArray, time_dim: str) -> list[str]:
    """The dimensions other than ``time_dim``, in their order (the horizontal grid)."""
    return [d for d in data.dims if d != time_dim]


# -- days ---------------------------------------------------------------------------------


def day_definition(daily: xr.DataArray) -> str:
    """The day definition of a daily product, read from the UTC hour of its ``day`` labels.

    Raises
    ------
    InputError
        If the input has no ``day`` dimension or its labels do not start at one of the
        hours of :data:`weatherdata.compute.DAY_DEFINITIONS`.
    """
    if "day" not in daily.dims:
        raise InputError(f"{daily.name or 'input'}: a daily product (dimension `day`) is needed")
    hours = np.unique(pd.DatetimeIndex(daily["day"].values).hour)
    by_hour = {hour: name for name, hour in DAY_DEFINITIONS.items()}
    if hours.size != 1 or int(hours[0]) not in by_hour:
        raise InputError(
            f"{daily.name or 'input'}: day labels start at UTC hour(s) {hours.tolist()}, "
            "not a known day definition"
        )
    return by_hour[int(hours[0])]


def at_beijing_hour(data: xr.DataArray, days: xr.DataArray, hour) -> xr.DataArray:
    """The value stamped at ``hour`` o'clock Beijing time inside each day of ``days``.

    ``days`` are day labels (UTC start of each 24 h day); the stamp is the one time in
    ``(start, start + 24 h]`` — the steps of the day in :func:`weatherdata.compute.daily` —
    whose Beijing hour is ``hour`` (e.g. the 14:00 BJT relative humidity of the
    forest-fire weather index is 06 UTC). Missing where the input has no value at that
    time. Lazy (label indexing).
    """
    hour = round(float(quantity(hour).m_as("hour"))) % 24 if not isinstance(hour, int) else hour
    starts = pd.DatetimeIndex(days.values)
    shift = (hour - BEIJING_OFFSET_HOURS - np.asarray(starts.hour) - 1) % 24 + 1
    stamps = starts + pd.to_timedelta(shift, unit="h")
    extra = [c for c in data.coords if c != "time" and "time" in data[c].dims]
    picked = data.drop_vars(extra).reindex(time=stamps)
    picked = picked.rename(time="day").assign_coords(day=days.values)
    return with_units(picked, data.attrs["units"])


def as_series(daily: xr.DataArray, units: str, label: str | None = None) -> xr.DataArray:
    """A daily product as an xclim time series: dimension ``time`` holding calendar dates,
    values in ``units`` and the ``units`` attribute ``label`` (e.g. ``mm/d`` for daily
    amounts in ``mm``)."""
    require_days(daily)  # xclim infers the sampling frequency from three dates
    values = convert_dataarray(daily, units)
    series = values.rename(day="time").assign_coords(time=calendar_dates(daily["day"]).values)
    series.attrs = {"units": label or units}
    return series


def back_to_days(series: xr.DataArray, days: xr.DataArray, units: str) -> xr.DataArray:
    """An xclim result on calendar dates back on the ``day`` labels of ``days``."""
    dates = pd.DatetimeIndex(calendar_dates(days).values)
    out = series.reindex(time=dates).rename(time="day").assign_coords(day=days.values)
    others = [d for d in out.dims if d != "day"]
    return with_units(out.transpose("day", *others), units)


def latitude(data: xr.DataArray) -> xr.DataArray:
    """The latitude coordinate (1-D on regular grids, 2-D on projected grids), in degrees,
    with the ``units`` attribute xclim checks."""
    for name in ("latitude", "lat"):
        if name in data.coords:
            lat = data.coords[name]
            return lat.copy(data=np.asarray(lat.values, dtype=np.float64)).assign_attrs(
                units="degrees_north", standard_name="latitude"
            )
    raise InputError(f"{data.name or 'input'}: a latitude coordinate is needed")


# -- periods --------------------------------------------------------------------------------


def period_index(function, period: str, inputs: dict, **keywords) -> xr.DataArray:
    """An xclim index over periods from daily products, with the period missing rule.

    ``inputs`` maps xclim argument names to ``(daily_product, units, label)``; ``period``
    is a pandas offset alias. The result has a ``period`` dimension labelled by the period
    start. A period in which a day of the record is missing (in any input) is missing.
    """
    series = {name: as_series(data, units, label) for name, (data, units, label) in inputs.items()}
    result = function(**series, freq=period, **keywords)
    missing = functools.reduce(operator.or_, [s.isnull() for s in series.values()])
    incomplete = missing.resample(time=period).any()
    result = result.where(~incomplete)
    others = [d for d in result.dims if d != "time"]
    return result.transpose("time", *others).rename(time="period")


# -- antecedent days ----------------------------------------------------------------------


def extended_series(
    current: xr.DataArray,
    history: xr.DataArray,
    normals: xr.DataArray,
    *,
    units: str,
    gap_fill: str,
    end: pd.Timestamp | None = None,
) -> xr.DataArray:
    """One daily series on calendar dates from the start of the history to the record's
    last day (or ``end``): the history up to the day before the record, the day-of-year
    normal for the days between the end of the history and the record (and after the record
    up to ``end``), then the record.

    Parameters
    ----------
    current
        A daily product (dimension ``day``).
    history
        The ``historical_daily_*`` input (dimension ``history_time``); dates missing inside
        its span are missing values.
    normals
        The ``climatological_*`` input (dimension ``dayofyear``), used only for dates that
        neither record covers when ``gap_fill`` is ``"climatology"``.
    units
        Units of the returned values.
    gap_fill
        ``"climatology"`` or ``"none"`` (dates that neither record covers are missing).
    end
        Extend the series to this date (with history or normals) — Thornthwaite's annual
        heat index needs whole years.

    Returns
    -------
    xarray.DataArray
        Dimension ``time`` (daily calendar dates), lazily concatenated in 366-day chunks.
    """
    if gap_fill not in GAP_FILLS:
        raise ValueError(f"gap_fill must be one of {GAP_FILLS}, got {gap_fill!r}")
    if "history_time" not in history.dims:
        raise InputError(f"{history.name or 'history'}: a `history_time` dimension is needed")
    present_dates = pd.DatetimeIndex(calendar_dates(current["day"]).values)
    present = convert_dataarray(current, units).rename(day="time")
    present = present.assign_coords(time=present_dates)
    order = ["time", *spatial_dims(present, "time")]
    past = convert_dataarray(history, units).rename(history_time="time")
    past_dates = pd.DatetimeIndex(past["time"].values).normalize()
    if not past_dates.is_unique or not past_dates.is_monotonic_increasing:
        raise InputError("the history needs increasing, unique dates")
    past = past.assign_coords(time=past_dates).sel(time=slice(None, present_dates[0] - _DAY))
    if past.sizes["time"]:
        span = pd.date_range(past_dates[0], pd.DatetimeIndex(past["time"].values)[-1], freq="D")
        past = past.reindex(time=span) if span.size != past.sizes["time"] else past
    last = present_dates[-1] if end is None else max(present_dates[-1], pd.Timestamp(end))
    first = past_dates[0] if past.sizes["time"] else present_dates[0]
    dates = pd.date_range(first, last, freq="D")
    full = pd.date_range(present_dates[0], present_dates[-1], freq="D")
    present = present.reindex(time=full) if full.size != present.sizes["time"] else present
    covered = pd.DatetimeIndex(past["time"].values).append(full)
    missing_dates = dates.difference(covered)
    pieces = [past.transpose(*order), present.transpose(*order)]
    if missing_dates.size:
        pieces.append(_fill(normals, missing_dates, units, gap_fill, present).transpose(*order))
    series = xr.concat(pieces, "time", coords="minimal", compat="override", join="override")
    series = series.sortby("time").chunk({"time": 366, **_grid_chunks(series, order[1:])})
    return with_units(series.astype(np.float64), units)


#: Grid cells in a chunk of an extended series (366 days of float64: 12 MB). The
#: windows and fits over decades of days stream each chunk many times; a chunk that grew
#: with the grid fell out of the processor's caches (the SPI cost 34 % more per cell on a
#: 0.05° grid than on a 0.1° grid with whole-grid chunks).
EXTENDED_CHUNK_CELLS = 4096


def _grid_chunks(series: xr.DataArray, dims: list[str]) -> dict[str, int]:
    """Chunks of the grid dimensions ``dims`` holding at most :data:`EXTENDED_CHUNK_CELLS`
    cells: the first dimension is cut into equal slabs of whole rows."""
    sizes = [series.sizes[d] for d in dims]
    cells = int(np.prod(sizes)) if sizes else 1
    if cells <= EXTENDED_CHUNK_CELLS or not dims:
        return {}
    slabs = -(-cells // EXTENDED_CHUNK_CELLS)
    return {dims[0]: -(-sizes[0] // slabs)}


_DAY = pd.Timedelta(days=1)


def _fill(normals, dates: pd.DatetimeIndex, units: str, gap_fill: str, like: xr.DataArray):
    """Values for ``dates`` no record covers: day-of-year normals, or missing."""
    axis = {"time": dates}
    if gap_fill == "none":
        blank = xr.full_like(like.isel(time=0, drop=True), np.nan, dtype=np.float64)
        return blank.expand_dims(axis)
    values = convert_dataarray(normals, units)
    if hasattr(values.data, "dask"):
        values = values.chunk({"dayofyear": -1})
    return normals_for_days(
        values, xr.DataArray(dates, dims="time", coords=axis), "gap fill"
    ).assign_coords(axis)


def _geometric_ratio(weights: np.ndarray) -> float | None:
    """``r`` if ``weights`` are :math:`w_0 r^i` with :math:`0 \\le r \\le 1` (uniform:
    ``r`` = 1), else None (any other window is summed lag by lag)."""
    first = weights[0]
    if weights.size < 2 or first == 0 or not np.all(np.isfinite(weights)):
        return None
    ratio = weights[1] / first
    if not 0.0 <= ratio <= 1.0:
        return None
    expected = first * ratio ** np.arange(weights.size)
    return float(ratio) if np.allclose(weights, expected, rtol=1e-12, atol=0.0) else None


def _weighted_window(values: np.ndarray, weights: np.ndarray, axis: int) -> np.ndarray:
    """:math:`\\sum_{i=0}^{n-1} w_i x_{t-i}` along ``axis``, lag by lag (n passes over the
    block); NaN unless the whole window exists. For weights that are not geometric."""
    x = np.moveaxis(np.asarray(values, dtype=np.float64), axis, 0)
    count = weights.size
    out = np.full(x.shape, np.nan)
    if x.shape[0] >= count:
        valid = np.isfinite(x)
        filled = np.where(valid, x, 0.0)
        total = np.zeros((x.shape[0] - count + 1, *x.shape[1:]))
        for lag, weight in enumerate(weights):
            total += weight * filled[count - 1 - lag : x.shape[0] - lag]
        known = np.cumsum(valid, axis=0)
        known = known[count - 1 :] - np.concatenate([np.zeros_like(known[:1]), known[:-count]])
        out[count - 1 :] = np.where(known == count, total, np.nan)
    return np.moveaxis(out, 0, axis)


def weighted_trailing_sum(series: xr.DataArray, weights) -> xr.DataArray:
    """:math:`\\sum_{i=0}^{n-1} w_i\\,x_{t-i}` along ``time`` (``weights[0]`` for the day
    itself); missing if any day of the window is missing or the window starts before the
    series. Plain trailing sums are the case :math:`w_i = 1`. Lazy (``map_overlap``).

    Uniform and geometric weights :math:`w_0 r^i` (the trailing totals of SPI/SPEI and the
    MCI, the effective rainfall's :math:`k^i`) are :func:`weatherdata.compute.trailing_reduction`'s
    one-pass running sum times :math:`w_0`: summed lag by lag, a 150-day SPI window over
    30 years of history took 1.4 s a block (0.08 s so). Other weights are summed lag by
    lag (:func:`_weighted_window`). A test compares both with the sum written out, missing
    days and all-zero windows included.
    """
    import dask.array as dask_array

    weights = np.asarray(weights, dtype=np.float64)
    ratio = _geometric_ratio(weights)
    if ratio is not None:
        total = trailing_reduction(series, "time", weights.size, "sum", ratio=ratio)
        return with_units(series.copy(data=weights[0] * total.data), series.attrs.get("units", "1"))
    axis = series.dims.index("time")
    depth = weights.size - 1
    array = series.data
    if not hasattr(array, "dask"):
        result = _weighted_window(array, weights, axis)
    elif depth == 0:
        result = array.astype(np.float64) * weights[0]
    else:
        if min(array.chunks[axis]) < depth:
            array = array.rechunk({axis: max(depth, max(array.chunks[axis]))})
        result = dask_array.map_overlap(
            _weighted_window,
            array,
            depth={axis: (depth, 0)},
            boundary="none",
            trim=True,
            weights=weights,
            axis=axis,
            dtype=np.float64,
            allow_rechunk=True,
        )
    return with_units(series.copy(data=result), series.attrs.get("units", "1"))


def trailing_total(series: xr.DataArray, days: int) -> xr.DataArray:
    """Trailing ``days``-day total along ``time``; missing if a day is missing."""
    return weighted_trailing_sum(series, np.ones(days))


# -- standardized indices -----------------------------------------------------------------


def generalized_logistic_parameters(sample: np.ndarray) -> np.ndarray:
    """Generalized logistic (GLO) parameters by L-moments along the last axis (vectorized
    over the other axes; NaNs ignored). Returns ``[..., (kappa, alpha, xi)]``.

    With the unbiased probability-weighted moments of the ascending sample
    :math:`x_{(1)} \\le \\dots \\le x_{(N)}`,
    :math:`b_r = N^{-1}\\sum_i \\binom{i-1}{r} / \\binom{N-1}{r}\\, x_{(i)}`, the L-moments
    :math:`\\lambda_1 = b_0`, :math:`\\lambda_2 = 2b_1 - b_0`,
    :math:`\\lambda_3 = 6b_2 - 6b_1 + b_0`, :math:`\\tau_3 = \\lambda_3/\\lambda_2` give
    (Hosking 1986)

    .. math::

        \\kappa = -\\tau_3, \\quad
        \\alpha = \\frac{\\lambda_2 \\sin\\kappa\\pi}{\\kappa\\pi}, \\quad
        \\xi = \\lambda_1 - \\alpha\\left(\\frac{1}{\\kappa} - \\frac{\\pi}{\\sin\\kappa\\pi}\\right)

    (:math:`\\alpha = \\lambda_2`, :math:`\\xi = \\lambda_1` at :math:`\\kappa = 0`). For
    :math:`\\kappa < 0` this is the three-parameter log-logistic of Vicente-Serrano et al.
    (2010) with :math:`\\beta = -1/\\kappa` — their PWM equations give the same
    :math:`\\beta = 1/\\tau_3` —; unlike it, the GLO also fits left-skewed samples
    (:math:`\\kappa > 0`). It is the distribution the SPEI R package fits (Beguería et al.
    2014). NaN where fewer than 4 values or :math:`|\\kappa| \\ge 1`.

    References
    ----------
    Hosking, J. R. M., 1986: The theory of probability weighted moments. IBM Research
    Report RC12210. Hosking, J. R. M. and J. R. Wallis, 1997: Regional Frequency Analysis.
    Cambridge University Press (Appendix A.7). Beguería, S., S. M. Vicente-Serrano,
    F. Reig and B. Latorre, 2014: Standardized precipitation evapotranspiration index
    (SPEI) revisited. Int. J. Climatol. 34, 3001–3023.
    """
    x = np.sort(np.asarray(sample, dtype=np.float64), axis=-1)  # NaNs sort last
    n = np.isfinite(x).sum(axis=-1, keepdims=True).astype(np.float64)
    i = np.arange(1, x.shape[-1] + 1, dtype=np.float64)
    valid = i <= n
    values = np.where(valid, x, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        w1 = np.where(valid, (i - 1) / (n - 1), 0.0)
        w2 = np.where(valid, (i - 1) * (i - 2) / ((n - 1) * (n - 2)), 0.0)
        b0 = values.sum(axis=-1) / n[..., 0]
        b1 = (w1 * values).sum(axis=-1) / n[..., 0]
        b2 = (w2 * values).sum(axis=-1) / n[..., 0]
        l1, l2, l3 = b0, 2 * b1 - b0, 6 * b2 - 6 * b1 + b0
        kappa = -l3 / l2
        small = np.abs(kappa) < 1e-8
        k = np.where(small, 1.0, kappa)
        ratio = np.where(small, 1.0, np.sin(k * np.pi) / (k * np.pi))
        alpha = l2 * ratio
        xi = np.where(small, l1, l1 - alpha * (1 / k - np.pi / np.sin(k * np.pi)))
    out = np.stack([kappa, alpha, xi], axis=-1)
    bad = (n[..., 0] < 4) | ~(np.abs(kappa) < 1) | ~(alpha > 0)
    out[bad] = np.nan
    return out


def generalized_logistic_cdf(x, kappa, alpha, xi):
    """GLO distribution function :math:`F = 1/(1 + e^{-y})`,
    :math:`y = -\\kappa^{-1}\\ln(1 - \\kappa (x - \\xi)/\\alpha)` (:math:`y = (x - \\xi)/\\alpha`
    at :math:`\\kappa = 0`); 0 or 1 beyond the bound :math:`\\xi + \\alpha/\\kappa`."""
    x, kappa, alpha, xi = np.broadcast_arrays(
        *(np.asarray(a, np.float64) for a in (x, kappa, alpha, xi))
    )
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        small = np.abs(kappa) < 1e-8
        k = np.where(small, 1.0, kappa)
        argument = 1 - k * (x - xi) / alpha
        y = np.where(small, (x - xi) / alpha, -np.log(argument) / k)
        beyond = ~small & (argument <= 0)
        y = np.where(beyond, np.where(kappa > 0, np.inf, -np.inf), y)
        cdf = special.expit(y)
    return np.where(np.isnan(x) | np.isnan(kappa) | np.isnan(alpha) | np.isnan(xi), np.nan, cdf)


def zero_inflated_gamma_parameters(sample: np.ndarray) -> np.ndarray:
    """Zero-inflated gamma by Thom's (1958) estimator along the last axis (vectorized over
    the others). Returns ``[..., (shape, scale, probability of zero)]``.

    With :math:`\\pi = n_0/n` (zeros among the non-missing values) and the positive values
    :math:`x_i`,

    .. math::

        A = \\ln\\bar x - \\overline{\\ln x}, \\quad
        \\alpha = \\frac{1 + \\sqrt{1 + 4A/3}}{4A}, \\quad \\beta = \\bar x/\\alpha

    (location 0). xclim's ``standardized_index_fit_params(dist="gamma", method="APP",
    zero_inflated=True, fitkwargs={"floc": 0})`` computes the same one grid point per
    Python call (~1 s of an hourly run on the demo); a test compares the two. The shape
    and scale are NaN where fewer than two non-zero values remain, as in xclim.

    References
    ----------
    Thom, H. C. S., 1958: A note on the gamma distribution. Mon. Wea. Rev. 86, 117–122.
    """
    x = np.asarray(sample, dtype=np.float64)
    not_null = ~np.isnan(x)
    nonzero = np.isfinite(x) & (x != 0)
    positive = nonzero & (x > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        count = positive.sum(axis=-1)
        mean = np.where(positive, x, 0.0).sum(axis=-1) / count
        mean_of_logs = np.where(positive, np.log(np.where(positive, x, 1.0)), 0.0).sum(axis=-1)
        a = np.log(mean) - mean_of_logs / count
        shape = (1 + np.sqrt(1 + 4 * a / 3)) / (4 * a)
        scale = mean / shape
        zero_probability = (x == 0).sum(axis=-1) / not_null.sum(axis=-1)
    unfitted = (nonzero.sum(axis=-1) <= 1) | np.isnan(shape) | np.isnan(scale)
    shape, scale = np.where(unfitted, np.nan, shape), np.where(unfitted, np.nan, scale)
    return np.stack([shape, scale, zero_probability], axis=-1)


def zero_inflated_gamma_cdf(x, shape, scale, zero_probability):
    """:math:`H(x) = \\pi + (1 - \\pi)\\,G(x; \\alpha, \\beta)` for :math:`x \\ne 0`,
    :math:`\\pi` at 0 (xclim's default zero plotting position: the upper, ``ecdf``)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        gamma = stats.gamma.cdf(x, shape, loc=0.0, scale=scale)
        return np.where(x != 0, zero_probability + (1 - zero_probability) * gamma, zero_probability)


#: ``standardized_index_on_days``'s distributions: (parameters of a sample along its last
#: axis, the distribution function of values given those parameters along the last axis).
_DISTRIBUTIONS = {
    "gamma": (
        zero_inflated_gamma_parameters,
        lambda x, p: zero_inflated_gamma_cdf(x, p[..., 0], p[..., 1], p[..., 2]),
    ),
    "generalized_logistic": (
        generalized_logistic_parameters,
        lambda x, p: generalized_logistic_cdf(x, p[..., 0], p[..., 1], p[..., 2]),
    ),
}


def _standardized_by_day_of_year(
    calibration: xr.DataArray, target: xr.DataArray, distribution: str
) -> xr.DataArray:
    """:math:`\\Phi^{-1}(F(x))` of each target date, ``F`` fitted on the calibration dates
    of the same day of year, clipped to ±8.21 as xclim clips its standardized indices.
    One task per block fits every wanted day of year and transforms every date."""
    parameters, cdf = _DISTRIBUTIONS[distribution]
    calibration_days = pd.DatetimeIndex(calibration["time"].values).day_of_year.to_numpy()
    target_days = pd.DatetimeIndex(target["time"].values).day_of_year.to_numpy()
    wanted = np.unique(target_days)

    def kernel(sample, values):
        fitted = np.stack(
            [parameters(sample[..., calibration_days == day]) for day in wanted], axis=-2
        )
        on_dates = fitted[..., np.searchsorted(wanted, target_days), :]
        return np.clip(special.ndtri(cdf(values, on_dates)), -8.21, 8.21)

    if target.chunks is not None:
        target = target.chunk({"time": -1})
    index = xr.apply_ufunc(
        kernel,
        calibration,
        target.rename(time="target_time"),
        input_core_dims=[["time"], ["target_time"]],
        output_core_dims=[["target_time"]],
        dask="parallelized",
        output_dtypes=[np.float64],
    )
    return index.rename(target_time="time")


def standardized_index_on_days(
    values: xr.DataArray,
    days: xr.DataArray,
    calibration_years,
    distribution: str,
) -> xr.DataArray:
    """The standardized index of the record's days from a windowed extended series.

    Parameters
    ----------
    values
        Windowed (or weighted) daily series on calendar dates (:func:`extended_series`
        then a window), covering the calibration years and the record.
    days
        ``day`` labels of the record (a daily product's coordinate).
    calibration_years
        ``[first, last]`` calendar years of the calibration period.
    distribution
        ``"gamma"`` — SPI: zero-inflated gamma with Thom's (1958) approximation of the
        maximum-likelihood estimator (xclim ``method="APP"``, ``floc=0``), as in McKee et
        al. (1993); or
        ``"generalized_logistic"`` — SPEI: generalized logistic fitted by L-moments
        (:func:`generalized_logistic_parameters`; the log-logistic of Vicente-Serrano et al.
        2010 for right-skewed samples), transformed here (:func:`generalized_logistic_cdf`).

    Returns
    -------
    xarray.DataArray
        On ``day``, dimensionless, clipped to ±8.21 (xclim's bound).
    """
    if distribution not in _DISTRIBUTIONS:
        raise ValueError(f"unknown distribution {distribution!r}")
    dates = pd.DatetimeIndex(calendar_dates(days).values)
    first, last = (int(y.m if hasattr(y, "m") else y) for y in calibration_years)
    calibration = values.sel(time=slice(f"{first}-01-01", f"{last}-12-31"))
    calibration_dates = pd.DatetimeIndex(calibration["time"].values)
    if (
        calibration_dates.size == 0
        or calibration_dates[0].year > first
        or calibration_dates[-1].year < last
    ):
        raise InputError(
            f"the history does not cover the calibration years {first}–{last}: "
            "set the product's calibration_years to years it covers"
        )
    wanted = np.isin(calibration_dates.day_of_year, np.unique(dates.day_of_year))
    calibration = calibration.isel(time=np.flatnonzero(wanted))
    if calibration.chunks is not None:
        calibration = calibration.chunk({"time": -1})
    target = values.sel(time=slice(dates[0], dates[-1]))
    index = _standardized_by_day_of_year(calibration, target, distribution)
    return back_to_days(index, days, "1")
