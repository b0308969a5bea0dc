"""Products from forecast grids: windows ahead of each observation time, and run-axis fields.

Two views of the same forecast runs (dims ``init_time``, ``lead_time``):

* **ahead of an observation time** — :func:`latest_forecast` (an intermediate) puts,
  for each observation time *t*, the latest run issued at or before *t* on the axis
  "lead after *t*": the value at (*t*, *L*) is that run's forecast valid at *t* + *L*.
  Warning products ("within the next 24 h") are reductions over that axis
  (:func:`lead_window`).
* **on the run axis** — fields per (``init_time``, ``lead_time``) with their
  ``valid_time`` coordinate (temperature in °C, precipitation since initialisation,
  run-to-run change).
"""

from __future__ import annotations

import dask.array as dask_array
import metpy.calc as mpcalc
import numpy as np
import pandas as pd
import xarray as xr

from weatherdata.compute import pointwise, to_timedelta, with_units
from weatherdata.errors import InputError
from weatherdata.units import parse_units

__all__ = [
    "accumulation_since_initialisation",
    "change_from_previous_run",
    "forecast_field",
    "forecast_wind_speed",
    "latest_forecast",
    "lead_window",
]

_RUN_DIMS = ("init_time", "lead_time")


def _regular_lead_step(leads: pd.TimedeltaIndex) -> pd.Timedelta:
    positive = leads[leads > pd.Timedelta(0)]
    if positive.size == 0:
        raise InputError("forecast: no positive lead_time")
    return pd.Timedelta(np.diff(np.concatenate([[np.timedelta64(0, "ns")], positive.values])).min())


def _latest_run(field: xr.DataArray, times: np.ndarray, output_leads: pd.TimedeltaIndex):
    """(time, lead, *grid) dask array of the latest run ≤ t valid at t + lead, and the run per time.

    One task per run (and spatial chunk): the observation times served by run *k* form
    a contiguous block, and their leads are picked from the run's block with one
    numpy index array (missing leads point at an appended missing value). Building the
    graph costs one task per run, whatever the length of the record.
    """
    field = field.transpose(*_RUN_DIMS, ...).sortby("init_time")
    inits = field["init_time"].values.astype("datetime64[ns]")
    leads = pd.TimedeltaIndex(field["lead_time"].values)
    times = times.astype("datetime64[ns]")
    if np.any(np.diff(times) <= np.timedelta64(0, "ns")):
        raise InputError("latest forecast: observation times must increase")
    data = field.data
    if not hasattr(data, "dask"):
        data = dask_array.from_array(data, chunks=(1, -1, *data.shape[2:]))
    n_runs, n_leads, n_out = data.shape[0], data.shape[1], len(output_leads)
    grid_chunks = data.chunks[2:]
    missing_lead = dask_array.full(
        (n_runs, 1, *data.shape[2:]),
        np.nan,
        dtype=data.dtype,
        chunks=((1,) * n_runs, (1,), *grid_chunks),
    )
    padded = dask_array.concatenate([data.rechunk({0: 1}), missing_lead], axis=1).rechunk(
        {0: 1, 1: -1}
    )

    run = np.searchsorted(inits, times, side="right") - 1
    served = run >= 0
    runs = np.where(served, inits[np.maximum(run, 0)], np.datetime64("NaT"))
    wanted = (times - inits[np.maximum(run, 0)])[:, None] + output_leads.values[None, :]
    index = leads.get_indexer(pd.TimedeltaIndex(wanted.ravel())).reshape(wanted.shape)
    index = np.where(index < 0, n_leads, index)  # not on the run's lead axis: missing
    counts = np.bincount(run[served], minlength=n_runs)
    per_run = np.split(index[served], np.cumsum(counts)[:-1])
    used = np.flatnonzero(counts)  # runs that serve no time would be empty blocks
    per_run = [per_run[k] for k in used]

    def take(block, block_info=None):
        return block[0][per_run[block_info[0]["chunk-location"][0]]]

    picked = padded[used].map_blocks(
        take, chunks=(tuple(int(c) for c in counts[used]), (n_out,), *grid_chunks), dtype=data.dtype
    )
    n_before = int((~served).sum())
    if n_before:
        before = dask_array.full(
            (n_before, n_out, *data.shape[2:]),
            np.nan,
            dtype=data.dtype,
            chunks=((n_before,), (n_out,), *grid_chunks),
        )
        picked = dask_array.concatenate([before, picked], axis=0)
    return picked, runs


def latest_forecast(
    time,
    air_temperature_2m,
    precipitation_amount,
    eastward_wind_10m,
    northward_wind_10m,
    wind_speed_of_gust_10m,
    visibility_in_air,
    relative_humidity_2m,
    maximum_lead,
):
    """The latest forecast run issued at or before each observation time (intermediate).

    For observation time :math:`t`, the run :math:`k(t) = \\max\\{k : \\mathrm{init}_k \\le t\\}`
    gives, at lead :math:`L = \\Delta, 2\\Delta, \\ldots,` ``maximum_lead`` (:math:`\\Delta`
    the forecast's lead step), the value it forecast for :math:`t + L`, i.e. the run's
    lead :math:`t - \\mathrm{init}_k + L`. Missing where no run covers :math:`t + L`
    (before the first run, beyond the run's last lead, or when :math:`t - \\mathrm{init}_k`
    is not a whole number of lead steps). ``precipitation_amount`` at lead :math:`L` is
    the amount over :math:`(t + L - \\Delta, t + L]`.

    Lazy and memory-bounded: each output block is the observation times one run serves
    (e.g. 12 for 12-hourly runs and hourly observations) × all leads × one spatial chunk,
    picked from that run's block.

    Returns
    -------
    xarray.Dataset
        Dims (``time``, ``lead_time``, grid); fields ``air_temperature_2m``,
        ``precipitation_amount``, ``eastward_wind_10m``, ``northward_wind_10m``,
        ``wind_speed_of_gust_10m``, ``visibility_in_air``, ``relative_humidity_2m``
        (canonical units) and ``wind_speed_10m``; coordinates ``valid_time`` (time ×
        lead) and ``forecast_reference_time`` (the run used, per time).
    """
    fields = {
        "air_temperature_2m": air_temperature_2m,
        "precipitation_amount": precipitation_amount,
        "eastward_wind_10m": eastward_wind_10m,
        "northward_wind_10m": northward_wind_10m,
        "wind_speed_of_gust_10m": wind_speed_of_gust_10m,
        "visibility_in_air": visibility_in_air,
        "relative_humidity_2m": relative_humidity_2m,
    }
    for name, field in fields.items():
        missing = [d for d in _RUN_DIMS if d not in field.dims]
        if missing:
            raise InputError(f"forecast {name}: no {', '.join(missing)} dimension")
    leads = pd.TimedeltaIndex(air_temperature_2m["lead_time"].values)
    step = _regular_lead_step(leads)
    horizon = to_timedelta(maximum_lead)
    count = int(horizon / step)
    if count < 1:
        raise InputError(f"forecast: maximum_lead {horizon} is shorter than the lead step {step}")
    output_leads = pd.TimedeltaIndex([step * (i + 1) for i in range(count)])
    times = np.asarray(time.values)
    out = {}
    runs = None
    for name, field in fields.items():
        grid_dims = [d for d in field.dims if d not in _RUN_DIMS]
        stacked, runs = _latest_run(field, times, output_leads)
        coords = {d: field[d] for d in grid_dims if d in field.coords}
        coords.update(
            {c: v for c, v in field.coords.items() if set(v.dims) <= set(grid_dims) and v.dims}
        )
        array = xr.DataArray(stacked, dims=("time", "lead_time", *grid_dims), coords=coords)
        out[name] = with_units(array, field.attrs["units"])
    out["wind_speed_10m"] = pointwise(
        mpcalc.wind_speed, out["eastward_wind_10m"], out["northward_wind_10m"], units="m s-1"
    )
    dataset = xr.Dataset(out).assign_coords(time=times, lead_time=output_leads)
    dataset = dataset.assign_coords(
        forecast_reference_time=("time", runs),
        valid_time=dataset["time"] + dataset["lead_time"],
    )
    return dataset


def lead_window(field, window, how):
    """Reduce the latest forecast over the next ``window`` after each time, :math:`(t, t + w]`.

    ``how`` is ``sum`` (precipitation amounts), ``max`` or ``min``. Missing if any
    step of the window is missing (never a shorter window).
    """
    leads = pd.TimedeltaIndex(field["lead_time"].values)
    width = to_timedelta(window)
    step = leads[0]
    count = width / step
    if (
        abs(count - round(count)) > 1e-9
        or round(count) > len(leads)
        or leads[round(count) - 1] != width
    ):
        raise InputError(
            f"latest forecast: a {width} window does not fit the leads {leads[0]}…{leads[-1]}"
        )
    part = field.isel(lead_time=slice(0, round(count)))
    if how not in ("sum", "max", "min"):
        raise ValueError(f"unknown window reduction {how!r}")
    reduced = getattr(part, how)("lead_time", skipna=False)
    return with_units(reduced, field.attrs["units"])


# -- run axis -------------------------------------------------------------------------


def forecast_field(field):
    """A forecast field on the run axis (``init_time``, ``lead_time``), for unit conversion and QC."""
    return with_units(field, field.attrs["units"])


def forecast_wind_speed(eastward_wind, northward_wind):
    """Forecast wind speed :math:`\\sqrt{u^2 + v^2}` on the run axis (``metpy.calc.wind_speed``)."""
    return pointwise(mpcalc.wind_speed, eastward_wind, northward_wind, units="m s-1")


def accumulation_since_initialisation(precipitation):
    """Precipitation accumulated from the run's initialisation to each lead,
    :math:`\\sum_{0 < L' \\le L} P(L')`.

    The amount at lead 0 (if present) covers no forecast time and counts as zero; a
    missing step makes every later lead of that run missing.
    """
    amounts = precipitation.transpose(*_RUN_DIMS, ...)
    amounts = amounts.where(amounts["lead_time"] > pd.Timedelta(0), 0.0)
    return with_units(amounts.cumsum("lead_time", skipna=False), precipitation.attrs["units"])


def _previous_run_by_run(field: xr.DataArray) -> xr.DataArray:
    """The previous run's value at each run's valid times, one run at a time (any run
    interval, any lead spacing): run k-1 reindexed at leads :math:`L + (init_k - init_{k-1})`."""
    inits = pd.DatetimeIndex(field["init_time"].values)
    leads = pd.TimedeltaIndex(field["lead_time"].values)
    pieces = [xr.full_like(field.isel(init_time=0, drop=True), np.nan)]
    for k in range(1, len(inits)):
        delta = inits[k] - inits[k - 1]
        previous = field.isel(init_time=k - 1, drop=True).reindex(lead_time=leads + delta)
        pieces.append(previous.assign_coords(lead_time=leads))
    out = xr.concat(pieces, dim="init_time", coords="minimal", compat="override", join="override")
    return out.assign_coords(init_time=field["init_time"])


def _previous_run(field: xr.DataArray) -> xr.DataArray:
    """:func:`_previous_run_by_run`; where the runs come at one interval that is a whole
    number n of a regular lead spacing (the usual case), the same values as one shift of
    the runs by one and of the leads by n: one lazy operation rather than a reindex per
    run (9 runs on the demo: 0.08 s of building its graph, 0.01 s now)."""
    inits = pd.DatetimeIndex(field["init_time"].values)
    leads = pd.TimedeltaIndex(field["lead_time"].values)
    if len(inits) > 1 and len(leads) > 1:
        intervals, spacing = np.unique(np.diff(inits)), np.unique(np.diff(leads))
        if len(intervals) == 1 and len(spacing) == 1 and spacing[0] > np.timedelta64(0):
            steps, remainder = divmod(intervals[0], spacing[0])
            if remainder == np.timedelta64(0):
                if steps >= len(leads):  # no run reaches the next one
                    return xr.full_like(field, np.nan)
                return _shifted_runs(field, int(steps))
    return _previous_run_by_run(field)


def _shifted_runs(field: xr.DataArray, steps: int) -> xr.DataArray:
    """``field.shift(init_time=1).shift(lead_time=-steps)`` (missing where shifted in) as
    one slice and one pad of the array: the two shifts cost ~5 ms of graph building, this
    ~2.5 ms. Floating values only (NaN is their missing value); others are shifted."""
    if field.dtype.kind != "f":
        return field.shift(init_time=1).shift(lead_time=-steps)
    runs, leads = field.get_axis_num("init_time"), field.get_axis_num("lead_time")
    data = field.data
    if (
        isinstance(data, dask_array.Array)
        and len(data.chunks[leads]) == 1
        and set(data.chunks[runs]) == {1}
    ):
        # One block per run, its leads whole (a file per run, as forecasts come): run k's
        # block is made from run k − 1's by one task, its leads moved by ``steps``; the
        # pad below splits every run's leads into pieces (the demo's change product: 151
        # tasks after Dask's optimization, 41 now; its publish 0.106 s, now 0.071 s).
        before = [slice(None)] * field.ndim
        before[runs] = [0, *range(data.shape[runs] - 1)]  # run 0's own block: all missing
        return field.copy(
            data=data[tuple(before)].map_blocks(
                _previous_leads, steps=steps, runs=runs, leads=leads, dtype=data.dtype
            )
        )
    kept = [slice(None)] * field.ndim
    kept[runs], kept[leads] = slice(0, -1), slice(steps, None)
    widths = [(0, 0)] * field.ndim
    widths[runs], widths[leads] = (1, 0), (0, steps)
    array = dask_array if isinstance(field.data, dask_array.Array) else np
    shifted = array.pad(field.data[tuple(kept)], widths, constant_values=np.nan)
    return field.copy(data=shifted)


def _previous_leads(block, steps, runs, leads, block_info=None):
    """One run's block of :func:`_shifted_runs` from the previous run's ``block``: lead
    ``L`` takes the previous run's lead ``L + steps``; missing where it has none, and
    everywhere in the first run's block."""
    out = np.full_like(block, np.nan)
    if block_info[0]["chunk-location"][runs] == 0:
        return out
    target = [slice(None)] * block.ndim
    source = [slice(None)] * block.ndim
    target[leads], source[leads] = slice(0, block.shape[leads] - steps), slice(steps, None)
    out[tuple(target)] = block[tuple(source)]
    return out


def change_from_previous_run(field):
    """Run-to-run change of a forecast at the same valid time ("dprog/dt").

    :math:`F(\\mathrm{init}_k, v) - F(\\mathrm{init}_{k-1}, v)` for valid time :math:`v`:
    the previous run's lead is :math:`L + (\\mathrm{init}_k - \\mathrm{init}_{k-1})`.
    Missing for the first run and where the previous run does not reach :math:`v`.
    Large values flag an unstable forecast.
    """
    field = field.transpose(*_RUN_DIMS, ...).sortby("init_time")
    previous = _previous_run(field).drop_vars(["valid_time"], errors="ignore")
    out = field.drop_vars(["valid_time"], errors="ignore") - previous
    if "valid_time" in field.coords:
        out = out.assign_coords(valid_time=field["valid_time"])
    units = field.attrs["units"]
    if parse_units(units) in (parse_units("K"), parse_units("degC")):
        units = "K"  # a temperature difference
    return with_units(out, units)
