"""Verification of warning signals against observed events: POD, FAR and CSI.

Each cell and issue time is one forecast. For a signal and a level threshold ``L``, the
signal *forecasts* the event when its level at issue time ``t`` is ≥ ``L``; the event is
*observed* when the signal's own observed criterion for a level ≥ ``L`` (the "already
observed" clause of the catalog rule, with the same parameters) holds at some time in the
level's lead window after issue, ``(t, t + W_L]``, where ``W_L`` is the product's
``<colour>_window`` parameter. With the 2 × 2 contingency table over all cells and issue
times where both are known,

.. math::

    \\mathrm{POD} = \\frac{H}{H + M}, \\qquad \\mathrm{FAR} = \\frac{F}{H + F}, \\qquad
    \\mathrm{CSI} = \\frac{H}{H + M + F}

(hits ``H``, misses ``M``, false alarms ``F``; Wilks 2011, §8.2; Jolliffe & Stephenson
2012, ch. 3). Issue times whose window runs past the end of the record, or holds a
missing observation, are left out.

Event definitions (observed clause evaluated at each time in the window):

========================  =================================================================
signal                    observed event for level ≥ L within (t, t + W_L]
========================  =================================================================
typhoon                   cyclone centre within ``influence_radius`` (white); and mean wind
                          or 1 h gust at the level's force (blue … red)
rainstorm                 past-1 h rain ≥ 20 mm (yellow); past-3 h rain ≥ 50 / 100 mm
heat / cold               trailing 24 h maximum ≥ / minimum ≤ the level's temperature
heavy fog                 visibility < 500 / 200 / 50 m
haze                      visibility < 3000 m with relative humidity < 80 %
thunderstorm gale         wind at the level's force with composite reflectivity ≥ 40 / 45 dBZ
gale                      mean wind or 1 h gust at the level's force
road icing                precipitation in the past hour with 2 m temperature < 0 °C (red)
hail                      POSH ≥ 50 % (orange); POSH ≥ 80 % or MESH ≥ 20 mm (red)
lightning                 composite reflectivity ≥ 35 dBZ (yellow); Z(−10 °C) ≥ 40 / 50 dBZ
forest fire, drought      the grade / MCI class itself
blizzard                  trailing-window snowfall (2 m T ≤ 0 °C) ≥ the level's amount
cold wave                 24/48 h drop of the minimum, minimum and 24 h maximum mean wind
frost                     trailing 24 h minimum ≤ the level's temperature
sandstorm                 visibility below the level's with PM10 ≥ the dust threshold
========================  =================================================================

(The numbers are the catalog defaults; overrides apply to signals and events alike.)

References
----------
Wilks, D. S., 2011: Statistical Methods in the Atmospheric Sciences, 3rd ed. Academic
Press. Jolliffe, I. T. and D. B. Stephenson (eds.), 2012: Forecast Verification: A
Practitioner's Guide in Atmospheric Science, 2nd ed. Wiley.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from typing import Any

import dask
import numpy as np
import pandas as pd
import xarray as xr

from .catalog import Catalog, parameter_value, shipped_catalog
from .compute import rolling_window, time_dimension, time_step, to_timedelta, with_units
from .engine import derive, missing_inputs
from .errors import CatalogError, InputError

__all__ = ["observed_events", "signal_products", "signal_verification", "verify_signals"]

_COLUMNS = [
    "signal",
    "level",
    "level_name",
    "hits",
    "misses",
    "false_alarms",
    "correct_negatives",
    "pod",
    "far",
    "csi",
]


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else np.nan


def _level_names(signal: xr.DataArray, catalog: Catalog | None) -> dict[int, str]:
    values = signal.attrs.get("flag_values")
    meanings = signal.attrs.get("flag_meanings")
    if values is not None and meanings is not None:
        return {
            int(v): m for v, m in zip(np.atleast_1d(values), str(meanings).split(), strict=True)
        }
    if catalog is not None and signal.name in catalog and catalog[signal.name].categories:
        return {c.value: c.meaning for c in catalog[signal.name].categories}
    raise InputError(f"signal {signal.name}: no flag_values/flag_meanings to tell its levels")


def verify_signals(
    signals: xr.Dataset, observed_events: xr.Dataset, *, catalog: Catalog | None = None
) -> pd.DataFrame:
    """POD, FAR and CSI of each signal and level threshold against observed events.

    Parameters
    ----------
    signals
        Signal levels (e.g. from ``weatherdata.derive``), one variable per signal, with
        ``flag_values``/``flag_meanings`` attributes (or catalog entries) naming the levels.
    observed_events
        The observed event level per issue time (as :func:`observed_events` returns), one
        variable per signal with the same name; missing where the event is unknown.
    catalog
        Used for the level names of signals without ``flag_values`` attributes.

    Returns
    -------
    pandas.DataFrame
        One row per signal and level ``L`` ≥ 1 (event "level ≥ L"): counts of hits,
        misses, false alarms and correct negatives over all cells and times where both
        are known, and ``pod``, ``far``, ``csi`` (NaN when undefined).
    """
    counts: dict[tuple[str, int, str], tuple] = {}
    for name in signals.data_vars:
        if name not in observed_events.data_vars:
            continue
        forecast, observed = xr.align(signals[name], observed_events[name], join="inner")
        known = forecast.notnull() & observed.notnull()
        for level, meaning in sorted(_level_names(signals[name], catalog).items()):
            if level <= 0:
                continue
            warned = forecast >= level
            happened = observed >= level
            counts[(name, level, meaning)] = (
                (warned & happened & known).sum(),
                (~warned & happened & known).sum(),
                (warned & ~happened & known).sum(),
                (~warned & ~happened & known).sum(),
            )
    (computed,) = dask.compute(counts)
    rows = []
    for (name, level, meaning), values in computed.items():
        hits, misses, false_alarms, negatives = (int(v) for v in values)
        rows.append(
            {
                "signal": name,
                "level": level,
                "level_name": meaning,
                "hits": hits,
                "misses": misses,
                "false_alarms": false_alarms,
                "correct_negatives": negatives,
                "pod": _ratio(hits, hits + misses),
                "far": _ratio(false_alarms, hits + false_alarms),
                "csi": _ratio(hits, hits + misses + false_alarms),
            }
        )
    return pd.DataFrame(rows, columns=_COLUMNS)


# -- observed events from observations ------------------------------------------------


def signal_products(catalog: Catalog | None = None) -> list[str]:
    """Ids of the catalog's warning-signal products (recipes with observed clauses)."""
    catalog = catalog or shipped_catalog()
    return [
        pid
        for pid, entry in catalog.products.items()
        if entry.recipe.startswith("forecast_warning.signals:")
        and hasattr(entry.recipe_function(), "observed_levels")
    ]


def _parameters(entry, overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    values = {name: parameter_value(p) for name, p in entry.parameters.items()}
    for name, value in (overrides or {}).items():
        if name not in entry.parameters:
            raise CatalogError(f"product {entry.id}: unknown parameter {name!r}")
        values[name] = parameter_value(value)
    return values


def _forward_any(condition: xr.DataArray, window) -> xr.DataArray:
    """1 if the condition holds at some step of ``(t, t + window]``, 0 if at none.

    The trailing window maximum ending at ``t + window`` relabelled to ``t``. Missing when
    any step of the window is missing or the window runs past the record.
    """
    dim = time_dimension(condition)
    count = to_timedelta(window) / time_step(condition, dim)
    if count < 1 or abs(count - round(count)) > 1e-9:
        raise InputError(
            f"a {to_timedelta(window)} event window is not a whole number of time steps"
        )
    count = round(count)
    labels = condition[dim].values
    if count >= labels.size:  # no window fits in the record
        return xr.full_like(condition, np.nan, dtype=np.float32)
    trailing = rolling_window(with_units(condition, "1"), window, how="max", dim=dim)
    ahead = trailing.isel({dim: slice(count, None)}).assign_coords({dim: labels[:-count]})
    return ahead.reindex({dim: labels})


def observed_events(
    observations: xr.Dataset,
    products: Iterable[str] | None = None,
    *,
    catalog: Catalog | None = None,
    parameters: Mapping[str, Mapping[str, Any]] | None = None,
) -> xr.Dataset:
    """Observed event level of each signal per issue time (see the module's event table).

    For level ``L`` the event holds at issue time ``t`` when the signal's observed
    criterion for a level ≥ ``L`` holds at some time in ``(t, t + W_L]``; the value is the
    highest such level (0 none; missing when unknown). ``parameters`` overrides apply to
    the signals and to the observation products their observed clauses read. Lazy.
    """
    from weatherdata.products.forecast_warning.signals import COLOUR_OF, highest_level

    catalog = catalog or shipped_catalog()
    ids = list(products) if products is not None else signal_products(catalog)
    plans = []
    needed: set[str] = set()
    for pid in ids:
        entry = catalog[pid]
        observed = getattr(entry.recipe_function(), "observed_levels", None)
        if observed is None:
            raise CatalogError(f"product {pid} is not a warning signal with observed clauses")
        arguments = [
            name
            for name, p in inspect.signature(observed).parameters.items()
            if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
        ]
        references = {}
        for argument in arguments:
            source, name, field = catalog.split_reference(entry.inputs[argument])
            if source != "dataset" or field:
                raise CatalogError(
                    f"product {pid}: observed input {argument} is not an observation"
                )
            references[argument] = name
            if name in catalog.entries:
                needed.add(name)
        plans.append((pid, entry, observed, references))
    overrides = {pid: values for pid, values in (parameters or {}).items() if pid in needed}
    products_needed = (
        derive(observations, sorted(needed), catalog=catalog, parameters=overrides or None)
        if needed
        else xr.Dataset()
    )
    events = {}
    for pid, entry, observed, references in plans:
        inputs = {
            argument: products_needed[name] if name in products_needed else observations[name]
            for argument, name in references.items()
        }
        values = _parameters(entry, (parameters or {}).get(pid))
        criteria = observed(**inputs, **values)
        like = next(iter(inputs.values()))
        level = highest_level(criteria, like)
        windowed = {}
        # Every level of the signal, also those below the highest observed clause (road
        # icing observed is red; its yellow event is icing within the yellow window).
        for value in sorted(c.value for c in entry.categories if c.value > 0):
            window = values.get(f"{COLOUR_OF[value]}_window")
            if window is None:
                raise CatalogError(f"product {pid}: no {COLOUR_OF[value]}_window parameter")
            reached = xr.where(level.isnull(), np.nan, (level >= value).astype(np.float32))
            windowed[value] = _forward_any(reached, window)
        out = highest_level(windowed, like)
        if like.chunks is not None:  # undo the fragmentation of the look-ahead relabelling
            out = out.chunk({d: like.chunksizes[d] for d in out.dims if d in like.chunksizes})
        out.attrs = {"units": "1", "long_name": f"observed event level for {pid}"}
        events[pid] = out
    return xr.Dataset(events)


def signal_verification(
    observations: xr.Dataset,
    forecast: xr.Dataset,
    products: Iterable[str] | None = None,
    *,
    catalog: Catalog | None = None,
    parameters: Mapping[str, Mapping[str, Any]] | None = None,
) -> pd.DataFrame:
    """Derive the warning signals, their observed events, and score them (POD/FAR/CSI).

    ``products`` defaults to every warning signal whose inputs are present (the others
    are skipped); explicitly requested signals with missing inputs raise.
    """
    catalog = catalog or shipped_catalog()
    if products is None:
        ids = [
            pid
            for pid in signal_products(catalog)
            if not missing_inputs(catalog, catalog.closure([pid]), observations, forecast)
        ]
    else:
        ids = list(products)
    if not ids:
        raise InputError("no warning signal can be computed from these inputs")
    signals = derive(observations, ids, forecast=forecast, parameters=parameters, catalog=catalog)
    events = observed_events(observations, ids, catalog=catalog, parameters=parameters)
    return verify_signals(signals, events, catalog=catalog)
