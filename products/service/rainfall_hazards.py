"""Rainfall products for urban flooding and geological hazards: the running total of the
current rain event, the return period of a rainfall against a city storm-intensity
formula, and the effective antecedent rainfall of landslide warning practice.

None of these is in a library; each is a short, documented formula.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from weatherdata.compute import (
    continues_record,
    published_at,
    quantity,
    rolling_window,
    time_dimension,
    time_step,
    with_units,
)
from weatherdata.errors import InputError, InsufficientDataError
from weatherdata.units import convert_dataarray

from ._sector import back_to_days, weighted_trailing_sum

__all__ = [
    "geohazard_effective_rainfall",
    "process_rainfall_total",
    "storm_intensity_return_period",
]


def _event_totals(
    amounts: np.ndarray,
    wet_threshold: float,
    dry_steps: int,
    total: np.ndarray | None = None,
    dry: np.ndarray | None = None,
) -> np.ndarray:
    """Running event totals along axis 0 (see :func:`process_rainfall_total`), from the
    state before the first step: the total and the dry steps since the last wet one
    (default: no event under way)."""
    out = np.empty(amounts.shape, dtype=np.float64)
    total = np.zeros(amounts.shape[1:]) if total is None else np.asarray(total, np.float64)
    dry = np.full(amounts.shape[1:], float(dry_steps)) if dry is None else dry
    for i in range(amounts.shape[0]):
        x = amounts[i]
        missing = np.isnan(x)
        wet = x >= wet_threshold
        ended = dry >= dry_steps
        dry = np.where(missing, 0.0, np.where(wet, 0.0, dry + 1.0))
        total = np.where(
            missing,
            np.nan,
            np.where(
                wet, np.where(ended, x, total + x), np.where(dry >= dry_steps, 0.0, total + x)
            ),
        )
        out[i] = total
    return out


def _continued_event_totals(
    amounts: np.ndarray, published: np.ndarray, wet_threshold: float, dry_steps: int
) -> np.ndarray:
    """Running event totals along axis 0 that continue the ``published`` totals of the
    first ``dry_steps`` steps of ``amounts``: after those steps the dry count is known
    from them alone (a wet or missing step resets it; ``dry_steps`` dry ones end the
    event whatever came before), and the total is the published one."""
    dry = np.zeros(amounts.shape[1:])
    for x in amounts[:dry_steps]:
        dry = np.where(np.isnan(x) | (x >= wet_threshold), 0.0, dry + 1.0)
    later = _event_totals(amounts[dry_steps:], wet_threshold, dry_steps, published[-1], dry)
    return np.concatenate([published.astype(np.float64), later])


def process_rainfall_total(precipitation, wet_threshold, dry_gap, published_total=None):
    """Rainfall total of the current rain process (过程累计雨量), at every time step:

    .. math:: R(t) = \\sum_{s = t_0}^{t} P_s

    from the first wet step :math:`t_0` (:math:`P \\ge` ``wet_threshold``) of the process
    that is under way at :math:`t`; a process ends after ``dry_gap`` (12 h) without a wet
    step, and the total is then 0 until the next wet step. A missing step makes the total
    missing until a process ends in known data. The record is assumed to start outside a
    process (a lower bound for a process already under way).

    Or it continues the published record (``published_total``, when it starts before these
    inputs: :func:`~weatherdata.compute.continues_record`): the state after the first
    ``dry_gap`` of inputs is the published total then and the dry steps since the last wet
    one, which those steps alone determine; the published totals must therefore cover
    them (an overlap of at least ``dry_gap``).

    References
    ----------
    Chinese operational practice of process rainfall (过程降水) — the dry gap separating
    processes is service-defined (recalled, 12–24 h).
    """
    dim = time_dimension(precipitation)
    step = time_step(precipitation, dim)
    gap = quantity(dry_gap).m_as("s") / step.total_seconds()
    if gap < 1 or abs(gap - round(gap)) > 1e-9:
        raise InputError(f"dry_gap {dry_gap} is not a whole number of {step} steps")
    gap = round(gap)
    amounts = convert_dataarray(precipitation, "mm")
    if hasattr(amounts.data, "dask"):
        amounts = amounts.chunk({dim: -1})
    threshold = wet_threshold.m_as("mm")
    times = amounts[dim].values
    if continues_record(times[0], published_total=published_total):
        if times.size < gap:
            raise InsufficientDataError(
                f"continuing the published process totals needs {gap} steps of inputs "
                f"(dry_gap), these have {times.size}"
            )
        overlap = [
            published_at(published_total, time, "process_rainfall_total", like=amounts[{dim: 0}])
            for time in times[:gap]
        ]
        published = xr.concat(overlap, dim).assign_coords({dim: times[:gap]})
        totals = xr.apply_ufunc(
            lambda x, p: np.moveaxis(
                _continued_event_totals(
                    np.moveaxis(x, -1, 0), np.moveaxis(p, -1, 0), threshold, gap
                ),
                0,
                -1,
            ),
            amounts,
            convert_dataarray(published, "mm")
            .rename({dim: "_published"})
            .chunk({"_published": -1}),
            input_core_dims=[[dim], ["_published"]],
            output_core_dims=[[dim]],
            dask="parallelized",
            output_dtypes=[np.float64],
        )
    else:
        totals = xr.apply_ufunc(
            lambda x: np.moveaxis(_event_totals(np.moveaxis(x, -1, 0), threshold, gap), 0, -1),
            amounts,
            input_core_dims=[[dim]],
            output_core_dims=[[dim]],
            dask="parallelized",
            output_dtypes=[np.float64],
        )
    return with_units(totals.transpose(*precipitation.dims), "mm")


def storm_intensity_return_period(
    precipitation,
    duration,
    intensity_coefficient,
    frequency_coefficient,
    duration_offset,
    duration_exponent,
):
    """Return period (years) of the rainfall of the trailing ``duration``, from a city
    storm-intensity formula (暴雨强度公式, Chinese drainage design, GB 50014):

    .. math::

        q = \\frac{A_1 (1 + C \\lg P)}{(t + b)^n}
        \\quad\\Longrightarrow\\quad
        P = 10^{\\left(\\frac{i (t + b)^n}{A_1} - 1\\right)/C}

    with the mean intensity :math:`i = R_t / t` (mm/min) of the rainfall :math:`R_t` over
    :math:`t` minutes, :math:`A_1` the ``intensity_coefficient`` (L s⁻¹ ha⁻¹, converted to
    mm/min: 1 mm/min ≈ 166.7 L s⁻¹ ha⁻¹), :math:`C`, :math:`b` (min) and :math:`n` the
    formula's parameters (default: Guangzhou, q = 3618.427(1 + 0.438 lg P)/(t + 11.259)^0.750
    — recalled, unverified). Values beyond the fitted range (about 0.25–100 years) are
    extrapolations; a dry window gives :math:`10^{-1/C}` years.

    References
    ----------
    GB 50014-2021 室外排水设计标准 (form of the storm-intensity formula); 广州市中心城区
    暴雨公式及计算图表 (2011) — parameters recalled, not read.
    """
    t = quantity(duration).m_as("min")
    total = rolling_window(convert_dataarray(precipitation, "mm"), duration, "sum")
    intensity = total / t
    a1 = quantity(intensity_coefficient).m_as("mm/min")
    c = float(getattr(frequency_coefficient, "m", frequency_coefficient))
    b = quantity(duration_offset).m_as("min")
    n = float(getattr(duration_exponent, "m", duration_exponent))
    exponent = (intensity * (t + b) ** n / a1 - 1.0) / c
    period = 10.0 ** exponent.clip(max=12.0)
    return with_units(period, "year")


def geohazard_effective_rainfall(precipitation, extended_precipitation, decay, antecedent_days):
    """Effective antecedent rainfall (有效降雨量) of geological-hazard warning:

    .. math:: R_{eff}(t) = \\sum_{i=0}^{n} k^{i} R_{t-i}

    daily precipitation of the day and the ``antecedent_days`` n (10) days before, weighted
    by the decay coefficient k (0.8). The antecedent days reach before a short record
    through the extended daily series (history, then normals).

    References
    ----------
    Crozier, M. J., 1986: Landslides: causes, consequences and environment. Croom Helm
    (antecedent daily rainfall model); Chinese geological-hazard meteorological warning
    practice (k = 0.8, n = 10–15 d) — recalled, not read.
    """
    k = float(getattr(decay, "m", decay))
    n = quantity(antecedent_days).m_as("day")
    if n < 0 or abs(n - round(n)) > 1e-9:
        raise InputError(f"antecedent_days {antecedent_days} is not a whole number of days")
    weights = k ** np.arange(round(n) + 1)
    effective = weighted_trailing_sum(extended_precipitation, weights)
    return back_to_days(effective, precipitation["day"], "mm")
