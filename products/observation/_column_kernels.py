"""Vectorized column kernels (numba gufuncs) for radar and upper-air profile products.

Every kernel works on the LAST axis of its array arguments (the vertical) and
broadcasts over all leading axes, so a whole (time, y, x) grid of columns is one
call. Missing values (NaN) inside a column are skipped, as MetPy does for
soundings (``_remove_nans``); a column with no valid level gives NaN. Inputs are
plain float64 arrays in fixed units (heights in m, pressure in hPa, reflectivity
in dBZ): the recipes in ``radar``, ``hail`` and ``upper_air`` convert at the
boundary and wrap these in ``xarray.apply_ufunc(..., dask="parallelized")``.

Each kernel has a per-column reference in ``tests/products/test_observation_radar_upper_air.py``
(``numpy.interp``, ``numpy.trapezoid`` or MetPy) and a speed comparison in
``benchmarks/bench_column_products.py``.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np
import xarray as xr

__all__ = [
    "CROSSING",
    "NONE_ABOVE",
    "NO_DATA",
    "TOP_ABOVE",
    "apply_columns",
    "height_of_maximum",
    "highest_crossing",
    "interpolate_to",
    "lowest_valid_above",
    "maximum_above",
    "pressure_integral",
    "severe_hail_index",
    "vertically_integrated_liquid",
    "whole_column",
]

#: ``highest_crossing`` status codes.
CROSSING = 0  # interpolated between the highest level >= target and the valid level above it
TOP_ABOVE = 1  # the topmost valid level is still >= target (the crossing is above the column)
NONE_ABOVE = 2  # every valid level is < target (the crossing is at or below the lowest level)
NO_DATA = 3  # no valid level

_OPTIONS = {"nopython": True, "cache": True}


@nb.njit(cache=True)
def _interpolate(coordinate, values, target):
    """Linear interpolation at ``target`` on an increasing ``coordinate``; NaN outside."""
    previous_c = math.nan
    previous_v = math.nan
    for i in range(coordinate.shape[0]):
        c = coordinate[i]
        v = values[i]
        if math.isnan(c) or math.isnan(v):
            continue
        if c == target:
            return v
        if c > target:
            if math.isnan(previous_c):
                return math.nan
            return previous_v + (v - previous_v) * (target - previous_c) / (c - previous_c)
        previous_c = c
        previous_v = v
    return math.nan


@nb.guvectorize(["void(float64[:], float64[:], float64, float64[:])"], "(n),(n),()->()", **_OPTIONS)
def _interpolate_to(coordinate, values, target, out):
    """Value of a profile at ``target`` by linear interpolation in ``coordinate``.

    ``coordinate`` must increase along the column (height; for pressure pass
    ``-log(p)``, i.e. interpolation linear in ln p as ``metpy.interpolate.log_interpolate_1d``).
    Outside the column's valid range the result is NaN (``numpy.interp(..., left=nan, right=nan)``).
    """
    out[0] = _interpolate(coordinate, values, target)


@nb.guvectorize(
    ["void(float64[:], float64[:], float64, float64[:], int8[:])"], "(n),(n),()->(),()", **_OPTIONS
)
def _highest_crossing(coordinate, values, target, out, status):
    """Highest ``coordinate`` where the profile falls below ``target`` for good.

    Scanning from the top of the column down, the first valid level ``k`` with
    ``values[k] >= target`` is found; the result is the linear interpolation between
    ``k`` and the valid level above it, :math:`h = h_k + (h_{k+1} - h_k)
    \\frac{v_k - t}{v_k - v_{k+1}}`, so that everything above it is below ``target``.
    This is the echo-top rule (highest height with Z ≥ threshold, interpolated
    between levels) and the isotherm-height rule (height above which the whole
    profile is colder than the isotherm; with an inversion the highest crossing wins).

    ``status`` tells the special cases apart (``out`` in brackets): ``CROSSING``;
    ``TOP_ABOVE`` (the topmost valid level is still >= target: its height);
    ``NONE_ABOVE`` (all levels < target: the lowest valid height); ``NO_DATA`` (NaN).
    """
    upper_c = math.nan
    upper_v = math.nan
    lowest_c = math.nan
    for i in range(coordinate.shape[0] - 1, -1, -1):
        c = coordinate[i]
        v = values[i]
        if math.isnan(c) or math.isnan(v):
            continue
        lowest_c = c
        if v >= target:
            if math.isnan(upper_c):
                out[0] = c
                status[0] = TOP_ABOVE
            else:
                out[0] = c + (upper_c - c) * (v - target) / (v - upper_v)
                status[0] = CROSSING
            return
        upper_c = c
        upper_v = v
    out[0] = lowest_c
    status[0] = NONE_ABOVE if not math.isnan(lowest_c) else NO_DATA


@nb.guvectorize(["void(float64[:], float64[:], float64, float64[:])"], "(n),(n),()->()", **_OPTIONS)
def _vertically_integrated_liquid(height, reflectivity, cap, out):
    """VIL (kg m-2) of Greene & Clark (1972) over the layers between levels.

    :math:`\\mathrm{VIL} = \\sum_i 3.44\\times10^{-6}\\,[(Z_i + Z_{i+1})/2]^{4/7}\\,(h_{i+1} - h_i)`
    with Z in mm⁶ m⁻³ (``10**(dBZ/10)``, dBZ capped at ``cap``) and h in m. A missing
    level interrupts the sum (no layer is integrated across missing data).
    """
    total = 0.0
    previous_h = math.nan
    previous_z = math.nan
    found = False
    for i in range(height.shape[0]):
        h = height[i]
        dbz = reflectivity[i]
        if math.isnan(h) or math.isnan(dbz):
            previous_h = math.nan
            continue
        found = True
        z = 10.0 ** (min(dbz, cap) / 10.0)
        if not math.isnan(previous_h):
            total += 3.44e-6 * (0.5 * (previous_z + z)) ** (4.0 / 7.0) * (h - previous_h)
        previous_h = h
        previous_z = z
    out[0] = total if found else math.nan


@nb.njit(cache=True)
def _hail_integrand(h, dbz, h0, h_m20, lower, upper):
    """``0.1 · W_T(H) · E(Z)`` of Witt et al. (1998), in J m-2 s-1."""
    if h <= h0:
        return 0.0
    if h >= h_m20:
        weight_t = 1.0
    else:
        weight_t = (h - h0) / (h_m20 - h0)
    weight_z = min(max((dbz - lower) / (upper - lower), 0.0), 1.0)
    if weight_z == 0.0:
        return 0.0
    return 0.1 * weight_t * 5.0e-6 * 10.0 ** (0.084 * dbz) * weight_z


@nb.guvectorize(
    ["void(float64[:], float64[:], float64, float64, float64, float64, float64[:])"],
    "(n),(n),(),(),(),()->()",
    **_OPTIONS,
)
def _severe_hail_index(height, reflectivity, h0, h_m20, lower, upper, out):
    """SHI (J m-1 s-1), Witt et al. (1998), trapezoid rule over the levels.

    :math:`\\mathrm{SHI} = 0.1 \\int W_T(H)\\,\\dot E\\,dH`, :math:`\\dot E = 5\\times10^{-6}\\,
    10^{0.084 Z}\\,W(Z)`; W(Z) ramps 0→1 from ``lower`` to ``upper`` dBZ and W_T(H) 0→1
    from ``h0`` (0 °C) to ``h_m20`` (−20 °C). A missing level interrupts the integral.
    """
    if math.isnan(h0) or math.isnan(h_m20):
        out[0] = math.nan
        return
    total = 0.0
    previous_h = math.nan
    previous_f = math.nan
    found = False
    for i in range(height.shape[0]):
        h = height[i]
        dbz = reflectivity[i]
        if math.isnan(h) or math.isnan(dbz):
            previous_h = math.nan
            continue
        found = True
        f = _hail_integrand(h, dbz, h0, h_m20, lower, upper)
        if not math.isnan(previous_h):
            total += 0.5 * (previous_f + f) * (h - previous_h)
        previous_h = h
        previous_f = f
    out[0] = total if found else math.nan


@nb.guvectorize(["void(float64[:], float64[:], float64, float64[:])"], "(n),(n),()->()", **_OPTIONS)
def _maximum_above(height, reflectivity, bottom, out):
    """Column maximum over heights >= ``bottom``, the value interpolated at ``bottom`` included."""
    if math.isnan(bottom):
        out[0] = math.nan
        return
    at_bottom = _interpolate(height, reflectivity, bottom)
    best = -math.inf if math.isnan(at_bottom) else at_bottom
    for i in range(height.shape[0]):
        h = height[i]
        dbz = reflectivity[i]
        if math.isnan(h) or math.isnan(dbz) or h < bottom:
            continue
        if dbz > best:
            best = dbz
    out[0] = best if best > -math.inf else math.nan


@nb.guvectorize(["void(float64[:], float64[:], float64[:])"], "(n),(n)->()", **_OPTIONS)
def _height_of_maximum(height, values, out):
    """Height of the column maximum (the lowest one on ties); NaN for an empty column."""
    best = -math.inf
    where = math.nan
    for i in range(height.shape[0]):
        v = values[i]
        if math.isnan(v) or math.isnan(height[i]):
            continue
        if v > best:
            best = v
            where = height[i]
    out[0] = where


@nb.guvectorize(["void(float64[:], float64[:], float64, float64[:])"], "(n),(n),()->()", **_OPTIONS)
def _lowest_valid_above(height, values, surface, out):
    """Value at the lowest valid level at or above ``surface`` (e.g. the terrain)."""
    out[0] = math.nan
    for i in range(height.shape[0]):
        if math.isnan(values[i]) or math.isnan(height[i]) or height[i] < surface:
            continue
        out[0] = values[i]
        return


@nb.guvectorize(
    ["void(float64[:], float64[:], float64, float64, float64[:])"], "(n),(n),(),()->()", **_OPTIONS
)
def _pressure_integral(pressure, values, top, value_at_top, out):
    """:math:`\\int_{p_{top}}^{p_{bottom}} f\\,dp` by the trapezoid rule (units of f·p).

    ``pressure`` decreases along the column (surface first); the bottom is the first
    valid level. Levels above ``top`` are replaced by the point (``top``,
    ``value_at_top``), which the caller interpolates (as ``metpy.calc.get_layer``
    does, linearly in ln p). NaN if the column does not reach ``top``.
    """
    total = 0.0
    previous_p = math.nan
    previous_f = math.nan
    for i in range(pressure.shape[0]):
        p = pressure[i]
        f = values[i]
        if math.isnan(p) or math.isnan(f):
            continue
        if p < top:
            if math.isnan(previous_p) or math.isnan(value_at_top):
                out[0] = math.nan
            else:
                out[0] = total + 0.5 * (previous_f + value_at_top) * (previous_p - top)
            return
        if not math.isnan(previous_p):
            total += 0.5 * (previous_f + f) * (previous_p - p)
        previous_p = p
        previous_f = f
    out[0] = total if previous_p == top else math.nan


def _quiet(gufunc):
    """Call a gufunc with floating-point 'invalid' flags silenced.

    LLVM may evaluate a comparison with a NaN that the kernel has already skipped
    (branch-free code), which raises the 'invalid' flag; the results are unaffected.
    """

    def call(*arguments):
        with np.errstate(invalid="ignore"):
            return gufunc(*arguments)

    call.__name__ = gufunc.__name__.lstrip("_")
    call.__doc__ = gufunc.__doc__
    call.gufunc = gufunc
    return call


interpolate_to = _quiet(_interpolate_to)
highest_crossing = _quiet(_highest_crossing)
vertically_integrated_liquid = _quiet(_vertically_integrated_liquid)
severe_hail_index = _quiet(_severe_hail_index)
maximum_above = _quiet(_maximum_above)
height_of_maximum = _quiet(_height_of_maximum)
lowest_valid_above = _quiet(_lowest_valid_above)
pressure_integral = _quiet(_pressure_integral)


def warm_up() -> None:
    """Compile (or load from the cache) every kernel once, e.g. before timing."""
    h = np.array([0.0, 1000.0, 2000.0])
    v = np.array([50.0, 40.0, 10.0])
    interpolate_to(h, v, 500.0)
    highest_crossing(h, v, 18.0)
    vertically_integrated_liquid(h, v, 56.0)
    severe_hail_index(h, v, 500.0, 1500.0, 40.0, 50.0)
    maximum_above(h, v, 500.0)
    height_of_maximum(h, v)
    lowest_valid_above(h, v, 0.0)
    pressure_integral(np.array([1000.0, 850.0, 700.0]), v, 700.0, 10.0)


def whole_column(data: xr.DataArray, dim: str) -> xr.DataArray:
    """``data`` with ``dim`` in one Dask chunk (profile kernels need the whole column)."""
    if dim in data.dims and data.chunks is not None:
        return data.chunk({dim: -1})
    return data


def apply_columns(function, *arrays: xr.DataArray, core_dims, **keywords) -> xr.DataArray:
    """Run ``function`` lazily over blocks of columns (``xarray.apply_ufunc``, Dask-parallel).

    ``core_dims`` gives, for each array, the name of its vertical dimension (moved to
    the last axis and kept in one chunk) or ``None`` for arrays without one. The
    function receives plain numpy blocks and returns a float64 array without the
    vertical axis.
    """
    arrays = [whole_column(a, d) if d else a for a, d in zip(arrays, core_dims, strict=True)]
    return xr.apply_ufunc(
        function,
        *arrays,
        input_core_dims=[[d] if d else [] for d in core_dims],
        kwargs=keywords,
        dask="parallelized",
        output_dtypes=[np.float64],
        keep_attrs=False,
    )
