"""Building blocks for recipes: lazy element-wise calls with units, true time windows.

Recipes stay short by using these. Everything here keeps Dask arrays lazy (no
``.values``/``.load()``), takes units from the ``units`` attribute of its inputs,
and returns DataArrays with ``units`` set and no other metadata (the engine adds it).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numba
import numpy as np
import pandas as pd
import pint
import xarray as xr

from .errors import InputError, InsufficientDataError
from .units import ensure_registry, parse_quantity, parse_units, unit_registry

__all__ = [
    "columns_in_pieces",
    "daily",
    "dewpoint_from_relative_humidity",
    "elementwise",
    "maximum_over",
    "minimum_over",
    "pointwise",
    "quantity",
    "rolling_window",
    "time_dimension",
    "time_step",
    "to_timedelta",
    "with_units",
]

TIME_DIMENSIONS = ("time", "lead_time", "day")


def with_units(data: xr.DataArray, units: str) -> xr.DataArray:
    """Return ``data`` with only its ``units`` attribute set (recipes' return helper)."""
    out = data.copy(deep=False)
    out.attrs = {"units": str(units)}
    return out


def quantity(value, units: str | None = None) -> pint.Quantity:
    """A pint quantity from a catalog value (``"35 degC"``) or a number and a unit."""
    if isinstance(value, pint.Quantity):
        return value
    if units is not None:
        return unit_registry.Quantity(value, units)
    return parse_quantity(value)


def magnitude(value, units: str) -> float:
    """A catalog quantity as a plain number in ``units``."""
    return float(quantity(value).m_as(units))


def elementwise(
    function: Callable,
    *arrays: xr.DataArray,
    dtype=np.float32,
    join: str = "exact",
    keep_attrs=None,
    keywords: dict | None = None,
) -> xr.DataArray:
    """``function(*blocks, **keywords)`` over the aligned, broadcast blocks of ``arrays``
    (an element-wise NumPy function whose result has the broadcast shape, in ``dtype``);
    lazily if any array is Dask-backed, else at once.

    What ``xr.apply_ufunc(function, *arrays, kwargs=keywords, dask="parallelized",
    output_dtypes=[dtype], join=join)`` does, with a lighter graph: ``apply_ufunc`` lines
    the arrays up (dimensions, coordinates), and the Dask graph is one
    :func:`dask.array.blockwise` call with its metadata given. Dask's generalized ufunc
    (``"parallelized"``) also transposes each operand and calls the function on empty
    arrays to learn its output, which cost ~1.3 ms of graph building a call (0.76 ms
    rather than 2.0 ms for a warning signal's clause; a whole-catalog derivation makes ~430).
    """
    return xr.apply_ufunc(
        _blocks_of,
        *arrays,
        kwargs={"function": function, "dtype": np.dtype(dtype), "keywords": keywords or {}},
        dask="allowed",
        join=join,
        keep_attrs=keep_attrs,
    )


def _blocks_of(*arrays, function, dtype, keywords):
    """:func:`elementwise` on the arrays ``apply_ufunc`` hands over (broadcast against
    their trailing axes, as in NumPy)."""
    import dask.array

    if not any(isinstance(array, dask.array.Array) for array in arrays):
        return function(*arrays, **keywords)
    dimensions = max(np.ndim(array) for array in arrays)
    pairs = []
    for array in arrays:
        pairs += [array, tuple(range(dimensions - np.ndim(array), dimensions))]
    return dask.array.blockwise(
        function,
        tuple(range(dimensions)),
        *pairs,
        dtype=dtype,
        meta=np.empty((0,) * dimensions, dtype),
        **keywords,
    )


def columns_in_pieces(
    arrays: list[xr.DataArray], vertical_dim: str, most_columns: int
) -> list[xr.DataArray]:
    """``arrays`` rechunked so that no block of the first Dask-backed array among them holds
    more than ``most_columns`` columns (its cells but along ``vertical_dim``).

    For column kernels (a parcel ascent, 8–21 µs a column) that run one call per block:
    the inputs' chunks are sized for reading (64 MiB, the demo's whole record in one), so
    one block could be the whole record, a single task on one core while the others
    wait. Existing chunks are split, never merged, along the outermost dimensions first
    (time, then the grid's rows), into nearly equal pieces; every array with that
    dimension gets the same chunks, so the pieces line up. NumPy-backed arrays, and
    arrays whose blocks are small enough already, are returned as they are.
    """
    reference = next((a for a in arrays if a.chunks is not None), None)
    if reference is None:
        return list(arrays)
    chunks = dict(zip(reference.dims, reference.chunks, strict=True))
    outer = [dim for dim in reference.dims if dim != vertical_dim]
    largest = {dim: max(chunks[dim]) for dim in outer}
    columns = int(np.prod([largest[dim] for dim in outer]))
    split = {}
    for dim in outer:
        if columns <= most_columns:
            break
        others = columns // largest[dim]
        allowed = max(1, most_columns // others)
        pieces = []
        for size in chunks[dim]:
            count = -(-size // allowed)
            pieces += [size // count + (piece < size % count) for piece in range(count)]
        split[dim] = tuple(pieces)
        largest[dim] = max(pieces)
        columns = others * largest[dim]
    if not split:
        return list(arrays)
    return [
        array.chunk({dim: split[dim] for dim in split if dim in array.dims})
        if array.chunks is not None
        else array
        for array in arrays
    ]


def pointwise(
    function: Callable,
    *arrays: xr.DataArray,
    units: str,
    dtype=np.float32,
    **keywords,
) -> xr.DataArray:
    """Apply a pint-aware element-wise function (e.g. a MetPy calc) lazily, block by block.

    Each block of each input reaches ``function`` as a pint Quantity in the units of
    its ``units`` attribute; keyword quantities pass through unchanged. The result is
    converted to ``units``. This is how MetPy runs on Dask-backed grids (MetPy's own
    Dask support is incomplete; see MetPy issue #1479).
    """
    input_units = []
    for array in arrays:
        if "units" not in array.attrs:
            raise InputError(f"{array.name or 'input'}: units are missing")
        input_units.append(parse_units(array.attrs["units"]))
    block = _QuantityBlock(function, tuple(input_units), parse_units(units), dtype, keywords)
    out = elementwise(block, *arrays, dtype=dtype, keep_attrs=False)
    return with_units(out, units)


class _QuantityBlock:
    """:func:`pointwise`'s block function: ``function`` on each block as pint Quantities.

    A class rather than a local function for Dask's token: Dask names a task by hashing
    its function, and a local function is hashed by cloudpickling it with what it refers
    to — here the unit registry, ~2.4 ms a call (56 a derivation of the catalog). This
    one is hashed by its function, units, dtype and keywords (:meth:`__dask_tokenize__`).
    """

    def __init__(self, function: Callable, input_units: tuple, units, dtype, keywords):
        self.function = function
        self.input_units = input_units
        self.units = units
        self.dtype = np.dtype(dtype)
        self.keywords = keywords

    def __call__(self, *blocks):
        ensure_registry()  # on a Dask worker an xclim import may have swapped it
        quantities = [
            unit_registry.Quantity(np.asarray(b, dtype=np.float64), u)
            for b, u in zip(blocks, self.input_units, strict=True)
        ]
        result = self.function(*quantities, **self.keywords)
        if isinstance(result, pint.Quantity):
            result = result.m_as(self.units)
        return np.asarray(result, dtype=self.dtype)

    def __dask_tokenize__(self):
        from dask.base import tokenize

        return (
            "weatherdata.compute.pointwise",
            tokenize(self.function, self.keywords),
            tuple(map(str, self.input_units)),
            str(self.units),
            self.dtype.str,
        )


def dewpoint_from_relative_humidity(temperature, relative_humidity):
    """``metpy.calc.dewpoint_from_relative_humidity`` on pint quantities, without NumPy's
    warnings where the relative humidity is 0: no vapour has no dewpoint, and MetPy returns
    NaN there after a divide-by-zero and an invalid-value warning (GFS's stratospheric
    levels hold such zeros: each publish of them printed both)."""
    import metpy.calc as mpcalc

    with np.errstate(divide="ignore", invalid="ignore"):
        return mpcalc.dewpoint_from_relative_humidity(temperature, relative_humidity)


def maximum_over(data: xr.DataArray, dim: str) -> xr.DataArray:
    """The maximum along ``dim`` of the valid values (missing where all are missing), as
    ``data.max(dim, skipna=True)`` gives it, lazily: a Dask reduction whose steps are
    ``numpy.fmax.reduce`` (each block reduced before blocks along ``dim`` are combined).

    ``numpy.fmax`` skips NaN without the "All-NaN slice encountered" warning that
    ``nanmax`` gives a column without data. Dask silences that warning in each chunk with
    ``warnings.catch_warnings``, which is not thread-safe before Python 3.14 (CPython
    gh-128384): with two threads one restores the other's filters, and the warning
    reached the output of some publishes (radar columns out of range are all missing).
    """
    return _reduced_over(data, dim, np.fmax, "maximum_over")


def minimum_over(data: xr.DataArray, dim: str) -> xr.DataArray:
    """The minimum along ``dim`` of the valid values (missing where all are missing), as
    ``data.min(dim, skipna=True)`` gives it: :func:`maximum_over` with ``numpy.fmin``."""
    return _reduced_over(data, dim, np.fmin, "minimum_over")


def _reduced_over(data: xr.DataArray, dim: str, function: np.ufunc, name: str) -> xr.DataArray:
    axis = data.get_axis_num(dim)
    if not _is_dask(data):
        values = function.reduce(np.asarray(data.data), axis=axis)
    else:
        import dask.array

        step = functools.partial(_reduce_block, function=function)
        values = dask.array.reduction(
            data.data,
            step,
            step,
            axis=axis,
            dtype=data.dtype,
            concatenate=True,
            name=name,
        )
    # the array without ``dim`` (its coordinates, name and attributes), holding the result
    return data.isel({dim: 0}, drop=True).copy(data=values)


def _reduce_block(block, axis, keepdims, function):
    """The chunk and aggregate step of :func:`_reduced_over` (``dask.array.reduction``)."""
    return function.reduce(block, axis=axis, keepdims=keepdims)


# -- time --------------------------------------------------------------------


def time_dimension(data: xr.DataArray) -> str:
    """The time axis windows run along: ``time`` (analyses), ``lead_time`` or ``day``."""
    for dim in TIME_DIMENSIONS:
        if dim in data.dims:
            return dim
    raise InputError(
        f"{data.name or 'input'}: no time dimension (expected one of {TIME_DIMENSIONS})"
    )


def to_timedelta(value) -> pd.Timedelta:
    """``"24 h"``/``"30 min"`` or a pint duration → pandas Timedelta."""
    q = quantity(value) if not isinstance(value, pd.Timedelta) else None
    if q is None:
        return value
    return pd.Timedelta(seconds=float(q.m_as("s")))


def time_step(data: xr.DataArray, dim: str | None = None) -> pd.Timedelta:
    """The regular time step of ``data``; irregular axes are an error (regularize first)."""
    dim = dim or time_dimension(data)
    values = data[dim].values
    if values.size < 2:
        raise InsufficientDataError(
            f"{data.name or 'input'}: a time window needs at least two time steps"
        )
    steps = np.unique(np.diff(values))
    if steps.size != 1:
        raise InputError(
            f"{data.name or 'input'}: irregular {dim} axis (steps {', '.join(str(pd.Timedelta(s)) for s in steps[:3])}); "
            "call regularize_time first"
        )
    return pd.Timedelta(steps[0])


def regularize_time(data, dim: str | None = None):
    """Reindex onto a regular axis at the smallest step so gaps become missing values."""
    dim = dim or time_dimension(data)
    values = data[dim].values
    if values.size < 2:
        return data
    steps = np.diff(values)
    step = steps.min()
    if (steps == step).all():
        return data
    full = np.arange(values[0], values[-1] + step, step)
    return data.reindex({dim: full})


def rolling_window(
    data: xr.DataArray, window, how: str = "sum", *, dim: str | None = None
) -> xr.DataArray:
    """A true trailing window ending at each time step: ``(t - window, t]``.

    The window must be a whole number of time steps (a 3 h window on 10-min, hourly
    or 3-hourly data). A window with any missing step is missing — never a silently
    shorter sum. Values before the first full window are missing too.
    """
    dim = dim or time_dimension(data)
    data = regularize_time(data, dim)
    step = time_step(data, dim)
    width = to_timedelta(window)
    count = width / step
    if count < 1 or abs(count - round(count)) > 1e-9:
        raise InputError(
            f"{data.name or 'input'}: a {width} window is not a whole number of {step} time steps"
        )
    count = round(count)
    if how not in ("sum", "max", "min", "mean"):
        raise ValueError(f"unknown window reduction {how!r}")
    if data.sizes[dim] < count:
        out = xr.full_like(data, np.nan, dtype=np.float64)
    else:
        out = trailing_reduction(data, dim, count, how)
    return with_units(out.astype(data.dtype), data.attrs.get("units", "1"))


def trailing_reduction(
    data: xr.DataArray, dim: str, count: int, how: str = "sum", *, ratio: float = 1.0
) -> xr.DataArray:
    """The reduction of the ``count`` steps ending at each step along ``dim`` (float64;
    missing unless all ``count`` values exist), lazily on Dask arrays (``map_overlap``),
    without :func:`rolling_window`'s checks of the time axis. With ``ratio`` r < 1 the sum
    weighs the step ``i`` steps back by :math:`r^i` (:func:`_running_window_sum`)."""
    if _is_dask(data):
        return _dask_trailing(data, dim, count, how, ratio)
    return data.copy(
        data=_trailing_window(data.values, count, how, axis=data.dims.index(dim), ratio=ratio)
    )


def _is_dask(data) -> bool:
    return hasattr(data.data, "dask")


@numba.njit(cache=True, nogil=True)
def _running_window_sum(x, count, ratio, out):  # pragma: no cover - compiled
    """``out[t] = Σ_{i<count} r^i x[t-i]`` along axis 0 of a 2-D float64 array, NaN unless
    all ``count`` values are finite, from the running sum :math:`G_t = x_t + r\\,G_{t-1}`:
    :math:`G_t - r^n G_{t-n}`. A window without a non-zero value is exactly 0 (for
    r < 1 the difference could leave ±1e-13; the SPI counts zero totals)."""
    steps, cells = x.shape
    running = np.zeros((steps + 1, cells))
    known = np.zeros((steps + 1, cells), dtype=np.int64)
    nonzero = np.zeros((steps + 1, cells), dtype=np.int64)
    for t in range(steps):
        for m in range(cells):
            value = x[t, m]
            valid = math.isfinite(value)
            value = value if valid else 0.0
            running[t + 1, m] = value + ratio * running[t, m]
            known[t + 1, m] = known[t, m] + valid
            nonzero[t + 1, m] = nonzero[t, m] + (value != 0.0)
    decay = ratio**count
    for t in range(steps):
        for m in range(cells):
            if t < count - 1 or known[t + 1, m] - known[t + 1 - count, m] != count:
                out[t, m] = math.nan
            elif nonzero[t + 1, m] == nonzero[t + 1 - count, m]:
                out[t, m] = 0.0
            else:
                out[t, m] = running[t + 1, m] - decay * running[t + 1 - count, m]


def _trailing_window(
    values: np.ndarray, count: int, how: str, axis: int = -1, ratio: float = 1.0
) -> np.ndarray:
    """Trailing window reduction along ``axis``; NaN unless all ``count`` values exist.
    Sums and means take one pass (:func:`_running_window_sum`) whatever the window;
    ``ratio`` weighs sums geometrically."""
    values = np.moveaxis(np.asarray(values), axis, 0)
    if how in ("sum", "mean"):
        flat = np.ascontiguousarray(values.reshape(values.shape[0], -1), dtype=np.float64)
        window = np.empty_like(flat)
        _running_window_sum(flat, count, ratio, window)
        window = window.reshape(values.shape)
        return np.moveaxis(window / count if how == "mean" else window, 0, axis)
    out = np.full(values.shape, np.nan, dtype=np.float64)
    if values.shape[0] >= count:
        valid = np.isfinite(values)
        counts = np.cumsum(valid, axis=0, dtype=np.int64)
        counts = counts[count - 1 :] - np.concatenate([np.zeros_like(counts[:1]), counts[:-count]])
        view = np.lib.stride_tricks.sliding_window_view(values, count, axis=0)
        window = view.max(axis=-1) if how == "max" else view.min(axis=-1)
        out[count - 1 :] = np.where(counts == count, window, np.nan)
    return np.moveaxis(out, 0, axis)


def _dask_trailing(
    data: xr.DataArray, dim: str, count: int, how: str, ratio: float = 1.0
) -> xr.DataArray:
    import dask.array as dask_array

    axis = data.dims.index(dim)
    array = data.data
    depth = count - 1
    if depth and min(array.chunks[axis]) < depth:
        array = array.rechunk({axis: max(depth, max(array.chunks[axis]))})
    if depth:
        result = dask_array.map_overlap(
            _trailing_window,
            array,
            depth={axis: (depth, 0)},
            boundary="none",
            trim=True,
            count=count,
            how=how,
            axis=axis,
            ratio=ratio,
            dtype=np.float64,
            allow_rechunk=True,
        )
    else:
        result = array.astype(np.float64)
    return data.copy(data=result)


def difference_over(data: xr.DataArray, lag, *, dim: str | None = None) -> xr.DataArray:
    """``x(t) − x(t − lag)``; missing where either end is missing."""
    dim = dim or time_dimension(data)
    data = regularize_time(data, dim)
    step = time_step(data, dim)
    count = to_timedelta(lag) / step
    if abs(count - round(count)) > 1e-9:
        raise InputError(
            f"{data.name or 'input'}: a {to_timedelta(lag)} lag is not a whole number of {step} steps"
        )
    count = round(count)
    if count >= data.sizes[dim]:
        out = xr.full_like(data, np.nan)
    else:
        out = data - data.shift({dim: count})
    return with_units(out, _difference_units(data.attrs.get("units", "1")))


def _difference_units(units: str) -> str:
    """Differences of temperatures are in kelvin (delta), not degC."""
    parsed = parse_units(units)
    if parsed == parse_units("degC") or parsed == parse_units("K"):
        return "K"
    return units


# -- recursions continued from what was published -------------------------------------------


def continues_record(first, **published) -> bool:
    """Whether a recursion over the record whose derivation starts at ``first`` must
    continue the record already published (``{name: stored series or None}``, the catalog's
    ``time.carry``) instead of starting up.

    True when a stored series starts before ``first``: those stores were started on an
    earlier record than these inputs, and starting up again would restart it (every named
    series is then needed). False when none is given (nothing published yet) or all start
    at or after ``first`` (this derivation starts the record no later than they did).
    """
    given = {name: series for name, series in published.items() if series is not None}
    earlier = [
        name
        for name, series in given.items()
        if series.sizes[time_dimension(series)] and series[time_dimension(series)].values[0] < first
    ]
    if not earlier:
        return False
    lacking = sorted(set(published) - set(given))
    if lacking:
        raise InsufficientDataError(
            f"{earlier[0]} was published from before these inputs start "
            f"({np.datetime_as_string(np.datetime64(first, 's'))}); continuing its record needs "
            f"the published {', '.join(lacking)} too"
        )
    return True


def published_at(series: xr.DataArray, label, name: str, like=None) -> xr.DataArray:
    """The published value of ``series`` at ``label`` of its time dimension (dropped), for
    continuing a record; :class:`InsufficientDataError` if the store does not hold it, an
    :class:`InputError` if it is not on the grid of ``like`` (the inputs' grid)."""
    dim = time_dimension(series)
    found = np.flatnonzero(series[dim].values == np.datetime64(label, "ns"))
    if not found.size:
        held = series[dim].values
        raise InsufficientDataError(
            f"published {name} holds {dim} {held[0]} … {held[-1]}, not "
            f"{np.datetime64(label, 's')}: its record cannot be continued from these inputs "
            "(publish inputs that start where it ends)"
        )
    value = series.isel({dim: int(found[0])}, drop=True)
    if like is not None:
        try:
            xr.align(value, like, join="exact")
        except ValueError:
            raise InputError(
                f"published {name} is not on the grid of these inputs: its record cannot be "
                "continued from them"
            ) from None
    return value


# Day definitions: the hour (UTC) at which the day starts.
DAY_DEFINITIONS = {
    "utc": 0,  # 00–00 UTC
    "beijing_20_20": 12,  # 20–20 Beijing time (BJT = UTC+8): the Chinese climatological day
    "beijing_08_08": 0,  # 08–08 BJT = 00–00 UTC
    "beijing_00_00": 16,  # calendar day in Beijing time
}


def require_days(daily_data: xr.DataArray, minimum: int = 3, why: str = "") -> None:
    """Raise :class:`InsufficientDataError` when a daily product has fewer than ``minimum``
    days (xclim's indices infer the sampling frequency from three dates)."""
    days = daily_data.sizes.get("day", 0)
    if days < minimum:
        raise InsufficientDataError(
            f"{daily_data.name or 'input'}: {days} complete day(s) in the record; "
            f"{why or 'the index'} needs at least {minimum}"
        )


def daily(
    data: xr.DataArray, how: str = "mean", *, day: str = "beijing_20_20", complete: bool = True
) -> xr.DataArray:
    """Aggregate to days with an explicit day definition (see ``DAY_DEFINITIONS``).

    Returns a DataArray on a ``day`` dimension labelled by the day's start (UTC). A day
    with any missing step is missing when ``complete`` (the default); a partial day at
    the ends of the record is dropped.
    """
    if day not in DAY_DEFINITIONS:
        raise ValueError(f"unknown day definition {day!r}; choose from {sorted(DAY_DEFINITIONS)}")
    dim = "time"
    if dim not in data.dims:
        raise InputError(
            f"{data.name or 'input'}: daily aggregation needs an observation `time` axis "
            f"(found {', '.join(map(str, data.dims))}); daily products are not defined on forecast runs"
        )
    data = regularize_time(data, dim)
    step = time_step(data, dim)
    per_day = pd.Timedelta("1D") / step
    if abs(per_day - round(per_day)) > 1e-9:
        raise InputError(f"{data.name or 'input'}: the time step {step} does not divide a day")
    per_day = round(per_day)
    offset = pd.Timedelta(hours=DAY_DEFINITIONS[day])
    # A value stamped t covers (t - step, t]: shift labels back by one step so the
    # value at 12 UTC closes a 12–12 UTC day rather than opening the next one.
    stamped = data.assign_coords({dim: data[dim] - step})
    times = pd.DatetimeIndex(stamped[dim].values)
    # Whole days only: from the first step that opens a day to the last complete day.
    day_starts = (times - offset).floor("D") + offset
    opens_day = (times - day_starts) < step
    first = int(np.argmax(opens_day)) if opens_day.any() else len(times)
    days = (len(times) - first) // per_day
    if days == 0:
        times = pd.DatetimeIndex(data[dim].values)
        raise InsufficientDataError(
            f"{data.name or 'input'}: no complete {day} day in the record "
            f"({times[0]:%Y-%m-%dT%H:%M}Z to {times[-1]:%Y-%m-%dT%H:%M}Z)"
        )
    whole = stamped.isel({dim: slice(first, first + days * per_day)})
    if whole.chunks is not None:
        # chunks of whole days: each day is reduced inside one chunk (one task per
        # chunk, not one per day as with resample; a year of hourly data made
        # ~1,100 tasks per daily variable, a chunk of days makes one)
        axis = whole.get_axis_num(dim)
        per_chunk = max(1, round(max(whole.data.chunks[axis]) / per_day)) * per_day
        whole = whole.chunk({dim: per_chunk})
    steps = whole.coarsen({dim: per_day}).construct({dim: ("day", "_step_of_day")})
    # complete: skipna=False, so a day with any missing step is missing
    out = getattr(steps, how)("_step_of_day", **({"skipna": False} if complete else {}))
    out = out.assign_coords(day=day_starts[first : first + days * per_day : per_day])
    return with_units(out.astype(data.dtype), data.attrs.get("units", "1"))
