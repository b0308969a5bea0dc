"""Radar nowcasts: motion from recent composite-reflectivity frames, semi-Lagrangian extrapolation.

The method of operational extrapolation nowcasts such as Guangdong's SWIFT and Hong
Kong's SWIRLS: an optical-flow motion field from the latest frames, then the latest
frame advected backward along it to +30/+60/+120 min. pysteps does both steps
(``pysteps.motion`` and ``pysteps.extrapolation.semilagrangian``); it works on one
time step of numpy arrays, so the recipe builds, lazily, the window of past frames
that ends at each time (``rolling(...).construct``) and runs pysteps on each window
block by block with ``xarray.apply_ufunc``. The value at time *t* is the nowcast
issued at *t* from frames up to *t*, valid at *t* + lead.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from weatherdata.compute import (
    magnitude,
    maximum_over,
    quantity,
    regularize_time,
    time_step,
    to_timedelta,
    with_units,
)
from weatherdata.errors import InputError

from .synoptic import grid_geometry

__all__ = ["nowcast_at_lead", "precipitation_rate_at_lead", "reflectivity_nowcast"]

#: Frames the motion is estimated from (the latest two: one time step apart).
MOTION_FRAMES = 2


def _physical_spacing(template: xr.DataArray) -> tuple[np.ndarray, np.ndarray]:
    """Signed grid spacing (m) along x and y at every cell, shape (ny, nx)."""
    geometry = grid_geometry(template)
    ny, nx = template.shape[-2:]
    dx = np.asarray(geometry["dx"].m_as("m"), dtype=np.float64)
    dy = np.asarray(geometry["dy"].m_as("m"), dtype=np.float64)
    # Spacing between neighbours (n - 1 values) → one value per cell (the last repeated).
    dx = np.broadcast_to(np.append(dx, dx[-1])[None, :], (ny, nx))
    dy = np.broadcast_to(np.append(dy, dy[-1])[:, None], (ny, nx))
    if geometry["parallel_scale"] is not None:
        dx = dx / geometry["parallel_scale"]
        dy = dy / geometry["meridional_scale"]
    return np.asarray(dx), np.asarray(dy)


#: Most pyramid levels of pysteps' Proesmans method (its default).
PROESMANS_MOST_LEVELS = 6


def proesmans_levels(ny: int, nx: int, most: int = PROESMANS_MOST_LEVELS) -> int:
    """Pyramid levels for pysteps' Proesmans flow whose coarsest level keeps ≥ 2 × 2 cells.

    pysteps halves each level with ``int(m / 2)`` and, at every level, copies edge and
    corner values from the neighbouring row and column without bounds checks
    (``_fill_edges``: ``V[0, 0] = V[1, 1]``, ``V[m - 1, 0] = V[m - 2, 1]``). A level one
    cell high or wide reads outside its array, and the motion then depends on whatever
    memory lies there: on a 48 × 64 grid, six levels (coarsest 1 × 2) gave a different
    field in 10 of 200 calls made while other threads allocated, five levels (3 × 4)
    in none.
    """
    if min(ny, nx) < 2:
        raise InputError(f"a nowcast needs a grid of at least 2 × 2 cells, not {ny} × {nx}")
    levels = 1
    while levels < most and ny // 2 >= 2 and nx // 2 >= 2:
        ny, nx = ny // 2, nx // 2
        levels += 1
    return levels


def _nowcast_block(frames, *, leads, method, no_echo, dx, dy, seconds):
    """pysteps on each window of frames: (..., ny, nx, frame) → nowcasts and motion."""
    from pysteps import motion
    from pysteps.extrapolation import semilagrangian

    estimate = motion.get_method(method)
    shape = frames.shape[:-3]
    ny, nx = frames.shape[-3:-1]
    flat = frames.reshape(-1, ny, nx, frames.shape[-1])
    nowcasts = np.full((flat.shape[0], len(leads), ny, nx), np.nan, dtype=np.float32)
    velocity = np.full((flat.shape[0], 2, ny, nx), np.nan, dtype=np.float32)
    for i, window in enumerate(flat):
        images = np.moveaxis(window, -1, 0).astype(np.float64)
        if np.isnan(images).all(axis=(1, 2)).any():
            continue  # a frame of the window is missing: no nowcast
        # No echo (and no coverage) is the floor value: optical flow tracks echoes,
        # not noise, and the semi-Lagrangian step needs finite values.
        images = np.where(np.isfinite(images) & (images > no_echo), images, no_echo)
        if not (images > no_echo).any():
            nowcasts[i] = no_echo  # nothing to track: no echo ahead either (motion undetermined)
            continue
        if method == "proesmans":
            keywords = {"num_levels": proesmans_levels(ny, nx)}
        else:
            keywords = {"verbose": False}
        try:
            field = np.asarray(estimate(images, **keywords), dtype=np.float64)
        except ValueError:  # pysteps rejects degenerate frames: no nowcast at this time
            continue
        if not np.isfinite(field).all():
            continue
        # Round off numerical noise (1e-300 px/step on a still field): a departure point a
        # hair outside the grid would otherwise count as "advected from outside".
        field = np.where(np.abs(field) < 1e-6, 0.0, field)
        extrapolated = semilagrangian.extrapolate(images[-1], field, list(leads), outval=np.nan)
        extrapolated = np.where(extrapolated <= no_echo + 1e-6, no_echo, extrapolated)
        nowcasts[i] = extrapolated
        velocity[i, 0] = field[0] * dx / seconds
        velocity[i, 1] = field[1] * dy / seconds
    return (
        nowcasts.reshape(*shape, len(leads), ny, nx),
        velocity.reshape(*shape, 2, ny, nx),
    )


def reflectivity_nowcast(reflectivity, leads, method, no_echo_reflectivity):
    """Extrapolation nowcast of composite reflectivity (intermediate).

    1. Composite reflectivity :math:`\\max_z Z` if ``reflectivity`` has a ``height``
       axis (else it is taken as the composite already).
    2. Motion :math:`(u, v)` from the latest two frames (``t - Δt``, ``t``) by optical
       flow, ``pysteps.motion.get_method(method)`` (default ``"proesmans"``: the
       anisotropic-diffusion method of Proesmans et al. 1994). Values below
       ``no_echo_reflectivity`` (and missing values) are set to it first.
    3. Backward semi-Lagrangian advection of the frame at *t* along the motion
       (``pysteps.extrapolation.semilagrangian.extrapolate``, Germann & Zawadzki
       2002) to each lead; cells advected from outside the domain are missing.

    Returns
    -------
    xarray.Dataset
        ``composite_reflectivity`` (dBZ, time × grid), ``reflectivity`` (dBZ, time ×
        lead_time × grid; coordinate ``valid_time``), ``eastward_motion`` and
        ``northward_motion`` (m s⁻¹, time × grid). Missing when a frame of the window
        is missing.

    References
    ----------
    Pulkkinen, S. et al., 2019: Pysteps: an open-source Python library for
    probabilistic precipitation nowcasting (v1.0). Geosci. Model Dev., 12, 4185–4219.
    Germann, U. and I. Zawadzki, 2002: Scale-dependence of the predictability of
    precipitation from continental radar images. Part I. Mon. Wea. Rev., 130, 2859–2873.
    Li, P. W. and E. S. T. Lai, 2004: Short-range quantitative precipitation forecasting
    in Hong Kong (SWIRLS). J. Hydrol., 288, 189–209.
    """
    composite = (
        maximum_over(reflectivity, "height") if "height" in reflectivity.dims else reflectivity
    )
    composite = regularize_time(composite, "time")
    step = time_step(composite, "time")
    ydim, xdim = composite.dims[-2:]
    composite = composite.transpose("time", ..., ydim, xdim)
    if method == "proesmans":
        proesmans_levels(composite.sizes[ydim], composite.sizes[xdim])  # grid large enough
    lead_steps = []
    lead_values = []
    for lead in leads:
        delta = to_timedelta(lead)
        lead_values.append(delta)
        lead_steps.append(delta / step)
    if any(s <= 0 for s in lead_steps):
        raise InputError("nowcast leads must be positive")
    dx, dy = _physical_spacing(composite)
    frames = composite.rolling(time=MOTION_FRAMES).construct("frame")
    if hasattr(frames.data, "dask"):
        frames = frames.chunk({ydim: -1, xdim: -1, "frame": -1})
    nowcasts, velocity = xr.apply_ufunc(
        _nowcast_block,
        frames,
        input_core_dims=[[ydim, xdim, "frame"]],
        output_core_dims=[["lead_time", ydim, xdim], ["component", ydim, xdim]],
        dask="parallelized",
        output_dtypes=[np.float32, np.float32],
        dask_gufunc_kwargs={"output_sizes": {"lead_time": len(leads), "component": 2}},
        kwargs={
            "leads": [float(s) for s in lead_steps],
            "method": str(method),
            "no_echo": magnitude(no_echo_reflectivity, "dBZ"),
            "dx": dx,
            "dy": dy,
            "seconds": step.total_seconds(),
        },
    )
    lead_index = pd.TimedeltaIndex(lead_values)
    nowcasts = nowcasts.assign_coords(lead_time=lead_index)
    nowcasts = nowcasts.assign_coords(valid_time=nowcasts["time"] + nowcasts["lead_time"])
    return xr.Dataset(
        {
            "composite_reflectivity": with_units(composite, "dBZ"),
            "reflectivity": with_units(
                nowcasts.transpose("time", "lead_time", ..., ydim, xdim), "dBZ"
            ),
            "eastward_motion": with_units(velocity.isel(component=0, drop=True), "m s-1"),
            "northward_motion": with_units(velocity.isel(component=1, drop=True), "m s-1"),
        }
    )


def _at_lead(nowcast: xr.DataArray, lead) -> xr.DataArray:
    delta = to_timedelta(lead)
    leads = pd.TimedeltaIndex(nowcast["lead_time"].values)
    if delta not in leads:
        raise InputError(
            f"nowcast lead {delta} is not among the intermediate's leads ({', '.join(map(str, leads))})"
        )
    # The lead and valid time are the product's definition (catalog: time, cf.comment);
    # as coordinates they would clash between the 30/60/120 min products in one dataset.
    return nowcast.sel(lead_time=delta).drop_vars(["lead_time", "valid_time"])


def nowcast_at_lead(reflectivity, lead):
    """The reflectivity nowcast issued at *t* and valid at *t* + ``lead`` (dBZ), on the issue-time axis."""
    return with_units(_at_lead(reflectivity, lead), "dBZ")


def precipitation_rate_at_lead(
    reflectivity, lead, multiplier, exponent, minimum_reflectivity, maximum_reflectivity
):
    """Rain-rate nowcast from the reflectivity nowcast by a Z–R relation.

    .. math:: Z = a R^b \\Rightarrow R = (Z / a)^{1/b},\\quad Z = 10^{\\mathrm{dBZ}/10}\\ \\mathrm{mm^6\\,m^{-3}}

    with :math:`a` = ``multiplier`` (300) and :math:`b` = ``exponent`` (1.4), the
    WSR-88D convective relation. No rain at or below ``minimum_reflectivity`` (the
    nowcast's no-echo floor); reflectivity above ``maximum_reflectivity`` (the hail cap)
    is capped first so hail cores do not turn into absurd rain rates.

    References
    ----------
    Fulton, R. A. et al., 1998: The WSR-88D rainfall algorithm. Wea. Forecasting, 13,
    377–395.
    """
    dbz = _at_lead(reflectivity, lead)
    a = float(quantity(multiplier).m_as("dimensionless"))
    b = float(quantity(exponent).m_as("dimensionless"))
    capped = np.minimum(dbz, magnitude(maximum_reflectivity, "dBZ"))
    rate = (10.0 ** (capped / 10.0) / a) ** (1.0 / b)
    rate = xr.where(dbz > magnitude(minimum_reflectivity, "dBZ"), rate, 0.0)
    return with_units(rate.where(dbz.notnull()), "mm h-1")
