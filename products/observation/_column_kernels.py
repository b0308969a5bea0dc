"""Vectorized column kernels (numba) for radar and upper-air profile products.

Every kernel works on the LAST axis of its array arguments (the vertical) and
broadcasts over all leading axes, as a generalized ufunc would, so a whole
(time, y, x) grid of columns is one call. Missing values (NaN) inside a column are
skipped, as MetPy does for soundings (``_remove_nans``); a column with no valid
level gives NaN. Inputs are float arrays (computed in float64) in fixed units
(heights in m, pressure in hPa, reflectivity in dBZ): the recipes in ``radar``,
``hail`` and ``upper_air`` convert at the boundary and run these through :func:`apply_columns`
(one Dask task per block of whole columns, handed over without a copy).

Why ``njit`` loops rather than ``guvectorize``: the kernels are compiled once and
cached on disk (``cache=True``), and numba's on-disk cache of gufuncs is not safe
when several processes compile at once (numba issue #10128, open in 0.68: the
kernel and its gufunc wrapper can be cached with mismatched ABI tags, and the next
load segfaults — which happened here with parallel test runs). Cached ``njit``
functions do not have that wrapper pair; the broadcasting is done in
:func:`_over_columns`.

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
    "height_and_value_of_maximum",
    "height_of_maximum",
    "highest_crossing",
    "interpolate_to",
    "lowest_valid_above",
    "maximum_above",
    "pressure_integral",
    "severe_hail_index",
    "surface_flux_integral",
    "vertically_integrated_liquid",
    "warm_up",
    "whole_column",
]

#: ``highest_crossing`` status codes.
CROSSING = 0  # interpolated between the highest level >= target and the valid level above it
TOP_ABOVE = 1  # the topmost valid level is still >= target (the crossing is above the column)
NONE_ABOVE = 2  # every valid level is < target (the crossing is at or below the lowest level)
NO_DATA = 3  # no valid level

_LN10 = math.log(10.0)
_LN10_OVER_10 = _LN10 / 10.0
_FOUR_SEVENTHS = 4.0 / 7.0

jit = nb.njit(cache=True, nogil=True)


# -- one column ------------------------------------------------------------------------------


@jit
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


@jit
def _highest_crossing(coordinate, values, target):
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
                return c, TOP_ABOVE
            return c + (upper_c - c) * (v - target) / (v - upper_v), CROSSING
        upper_c = c
        upper_v = v
    if math.isnan(lowest_c):
        return math.nan, NO_DATA
    return lowest_c, NONE_ABOVE


@jit
def _vertically_integrated_liquid(height, reflectivity, cap):
    total = 0.0
    previous_h = math.nan
    previous_dbz = math.nan
    previous_z = math.nan
    uniform_dbz = (
        math.nan
    )  # runs of equal levels (e.g. the no-echo floor) reuse their layer density
    uniform_density = math.nan
    found = False
    for i in range(height.shape[0]):
        h = height[i]
        dbz = reflectivity[i]
        if math.isnan(h) or math.isnan(dbz):
            previous_h = math.nan
            continue
        found = True
        dbz = min(dbz, cap)
        # 10^(dBZ/10) and x^(4/7) through exp/log: five times faster than pow here.
        z = previous_z if dbz == previous_dbz else math.exp(dbz * _LN10_OVER_10)
        if not math.isnan(previous_h):
            if dbz == previous_dbz and dbz == uniform_dbz:
                density = uniform_density
            else:
                density = 3.44e-6 * math.exp(_FOUR_SEVENTHS * math.log(0.5 * (previous_z + z)))
                if dbz == previous_dbz:
                    uniform_dbz = dbz
                    uniform_density = density
            total += density * (h - previous_h)
        previous_h = h
        previous_dbz = dbz
        previous_z = z
    return total if found else math.nan


@jit
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
    return 0.1 * weight_t * 5.0e-6 * math.exp(0.084 * _LN10 * dbz) * weight_z


@jit
def _severe_hail_index(height, reflectivity, h0, h_m20, lower, upper):
    if math.isnan(h0) or math.isnan(h_m20):
        return math.nan
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
    return total if found else math.nan


@jit
def _maximum_above(height, reflectivity, bottom):
    if math.isnan(bottom):
        return math.nan
    at_bottom = _interpolate(height, reflectivity, bottom)
    best = -math.inf if math.isnan(at_bottom) else at_bottom
    for i in range(height.shape[0]):
        h = height[i]
        dbz = reflectivity[i]
        if math.isnan(h) or math.isnan(dbz) or h < bottom:
            continue
        if dbz > best:
            best = dbz
    return best if best > -math.inf else math.nan


@jit
def _height_of_maximum(height, values):
    """The height of the maximum over levels with a height, and the maximum over all
    valid values (-inf for none), so callers need no second pass for the latter."""
    best = -math.inf
    where = math.nan
    strongest = -math.inf
    for i in range(height.shape[0]):
        v = values[i]
        if math.isnan(v):
            continue
        strongest = max(strongest, v)
        if math.isnan(height[i]):
            continue
        if v > best:
            best = v
            where = height[i]
    return where, strongest


@jit
def _lowest_valid_above(height, values, surface):
    for i in range(height.shape[0]):
        if math.isnan(values[i]) or math.isnan(height[i]) or height[i] < surface:
            continue
        return values[i]
    return math.nan


@jit
def _pressure_integral(pressure, values, top, value_at_top):
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
                return math.nan
            return total + 0.5 * (previous_f + value_at_top) * (previous_p - top)
        if not math.isnan(previous_p):
            total += 0.5 * (previous_f + f) * (previous_p - p)
        previous_p = p
        previous_f = f
    return total if previous_p == top else math.nan


@jit
def _surface_flux_integral(
    pressure, q, u, v, surface_pressure, q_surface, u_surface, v_surface, top
):
    previous_p = surface_pressure
    previous_u = q_surface * u_surface
    previous_v = q_surface * v_surface
    if (
        math.isnan(previous_p)
        or math.isnan(previous_u)
        or math.isnan(previous_v)
        or previous_p < top
    ):
        return math.nan, math.nan
    total_u = 0.0
    total_v = 0.0
    for i in range(pressure.shape[0]):
        p = pressure[i]
        if math.isnan(p) or p >= surface_pressure:
            continue
        flux_u = q[i] * u[i]
        flux_v = q[i] * v[i]
        if math.isnan(flux_u) or math.isnan(flux_v):
            continue
        if p < top:
            weight = (math.log(previous_p) - math.log(top)) / (math.log(previous_p) - math.log(p))
            top_u = previous_u + weight * (flux_u - previous_u)
            top_v = previous_v + weight * (flux_v - previous_v)
            return (
                total_u + 0.5 * (previous_u + top_u) * (previous_p - top),
                total_v + 0.5 * (previous_v + top_v) * (previous_p - top),
            )
        total_u += 0.5 * (previous_u + flux_u) * (previous_p - p)
        total_v += 0.5 * (previous_v + flux_v) * (previous_p - p)
        previous_p = p
        previous_u = flux_u
        previous_v = flux_v
    if previous_p == top:
        return total_u, total_v
    return math.nan, math.nan


# -- loops over columns ----------------------------------------------------------------------
#
# Column arguments arrive as 3-D arrays ``(outer, inner, n)`` with any strides, per-column
# scalars and outputs as ``(outer, inner)``. A block handed over by :func:`apply_columns` has
# its vertical moved last, a strided view of the native ``(time, level, y, x)`` layout; the
# kernels read it as it is. One column's values are ``y·x`` elements apart, but the next
# column reads the cache lines the previous one loaded, so this costs little, while
# numpy's copy of the block into rows (what the loops read before) took 14 ms of a 30 ms
# echo-top call on the 0.1° demo radar. Integrals that multiply two inputs compute in
# float64 (:func:`_over_columns`).


@jit
def _loop_interpolate(c, v, t, out):
    for o in range(v.shape[0]):
        for i in range(v.shape[1]):
            out[o, i] = _interpolate(c[o, i], v[o, i], t[o, i])


@jit
def _loop_highest_crossing(c, v, t, out, status):
    for o in range(v.shape[0]):
        for i in range(v.shape[1]):
            out[o, i], status[o, i] = _highest_crossing(c[o, i], v[o, i], t[o, i])


@jit
def _loop_vil(h, z, cap, out):
    for o in range(z.shape[0]):
        for i in range(z.shape[1]):
            out[o, i] = _vertically_integrated_liquid(h[o, i], z[o, i], cap[o, i])


@jit
def _loop_shi(h, z, h0, h20, lower, upper, out):
    for o in range(z.shape[0]):
        for i in range(z.shape[1]):
            out[o, i] = _severe_hail_index(
                h[o, i], z[o, i], h0[o, i], h20[o, i], lower[o, i], upper[o, i]
            )


@jit
def _loop_maximum_above(h, z, bottom, out):
    for o in range(z.shape[0]):
        for i in range(z.shape[1]):
            out[o, i] = _maximum_above(h[o, i], z[o, i], bottom[o, i])


@jit
def _loop_height_of_maximum(h, z, out, strongest):
    for o in range(z.shape[0]):
        for i in range(z.shape[1]):
            out[o, i], strongest[o, i] = _height_of_maximum(h[o, i], z[o, i])


@jit
def _loop_lowest_valid_above(h, z, surface, out):
    for o in range(z.shape[0]):
        for i in range(z.shape[1]):
            out[o, i] = _lowest_valid_above(h[o, i], z[o, i], surface[o, i])


@jit
def _loop_pressure_integral(p, f, top, f_top, out):
    for o in range(f.shape[0]):
        for i in range(f.shape[1]):
            out[o, i] = _pressure_integral(p[o, i], f[o, i], top[o, i], f_top[o, i])


@jit
def _loop_surface_flux_integral(p, q, u, v, ps, qs, us, vs, top, out_u, out_v):
    for o in range(q.shape[0]):
        for i in range(q.shape[1]):
            out_u[o, i], out_v[o, i] = _surface_flux_integral(
                p[o, i],
                q[o, i],
                u[o, i],
                v[o, i],
                ps[o, i],
                qs[o, i],
                us[o, i],
                vs[o, i],
                top[o, i],
            )


def _floating(column: np.ndarray, in_float64: bool) -> np.ndarray:
    """A ``(outer, inner, n)`` column array as float32 or float64 (other dtypes as
    float64); with ``in_float64``, float32 too, copied into rows in its own dtype first
    (numpy's casting copy of a strided view is slow; a plain copy is not)."""
    if column.dtype == np.float64 or (column.dtype == np.float32 and not in_float64):
        return column
    return np.ascontiguousarray(column).astype(np.float64)


def _over_columns(loop, columns, scalars, outputs=(np.float64,), in_float64=False):
    """Broadcast like a gufunc with signature ``(n),…,(),…->(),…`` and run ``loop``.

    ``columns`` are arrays whose last axis is the vertical; ``scalars`` have one value
    per column (or one for all). Returns one array per output, shaped like the
    broadcast leading axes (0-d for a single column).

    The leading axes are split into ``outer × inner``, ``inner`` the last two (the
    horizontal grid of a ``(…, y, x, level)`` block), which a transposed block merges
    without a copy, as it does broadcast axes (stride 0). Kernels that read one profile
    against a float64 coordinate read float32 columns as they are: numba promotes each
    float32 value to float64 where it meets the coordinate or a constant, so the results
    are the same, as a test checks. The pressure integrals multiply two inputs, so they
    compute in float64 (``in_float64``; in float32, integrated vapour transport differed
    by 2.4e-4).
    """
    columns = [np.asarray(c) for c in columns]
    scalars = [np.asarray(s, dtype=np.float64) for s in scalars]
    n = columns[0].shape[-1]
    leading = np.broadcast_shapes(*(c.shape[:-1] for c in columns), *(s.shape for s in scalars))
    shape = (math.prod(leading[:-2]), math.prod(leading[-2:]))

    def three_d(column):
        if column.shape[:-1] != leading:  # broadcast: convert the small array, not its copy
            column = _floating(column, in_float64)
        return _floating(np.broadcast_to(column, (*leading, n)).reshape(*shape, n), in_float64)

    flat_columns = [three_d(c) for c in columns]
    flat_scalars = [np.broadcast_to(s, leading).reshape(shape) for s in scalars]
    results = [np.empty(shape, dtype=dtype) for dtype in outputs]
    loop(*flat_columns, *flat_scalars, *results)
    results = [r.reshape(leading) for r in results]
    return results[0] if len(results) == 1 else tuple(results)


# -- public kernels ----------------------------------------------------------------------------


def interpolate_to(coordinate, values, target):
    """Value of a profile at ``target`` by linear interpolation in ``coordinate``.

    ``coordinate`` must increase along the column (height; for pressure pass
    ``-log(p)``, i.e. interpolation linear in ln p as ``metpy.interpolate.log_interpolate_1d``).
    Outside the column's valid range the result is NaN (``numpy.interp(..., left=nan, right=nan)``).
    """
    return _over_columns(_loop_interpolate, [coordinate, values], [target])


def highest_crossing(coordinate, values, target):
    """Highest ``coordinate`` where the profile falls below ``target`` for good, and a status.

    Scanning from the top of the column down, the first valid level ``k`` with
    ``values[k] >= target`` is found; the result is the linear interpolation between
    ``k`` and the valid level above it, :math:`h = h_k + (h_{k+1} - h_k)
    \\frac{v_k - t}{v_k - v_{k+1}}`, so that everything above it is below ``target``.
    This is the echo-top rule (highest height with Z ≥ threshold, interpolated
    between levels) and the isotherm-height rule (height above which the whole
    profile is colder than the isotherm; with an inversion the highest crossing wins).

    The status (int8) tells the special cases apart: ``CROSSING``; ``TOP_ABOVE`` (the
    topmost valid level is still >= target: its height); ``NONE_ABOVE`` (all levels
    < target: the lowest valid height); ``NO_DATA`` (NaN).
    """
    return _over_columns(
        _loop_highest_crossing,
        [coordinate, values],
        [target],
        (np.float64, np.int8),
    )


def vertically_integrated_liquid(height, reflectivity, cap):
    """VIL (kg m-2) of Greene & Clark (1972) over the layers between levels.

    :math:`\\mathrm{VIL} = \\sum_i 3.44\\times10^{-6}\\,[(Z_i + Z_{i+1})/2]^{4/7}\\,(h_{i+1} - h_i)`
    with Z in mm⁶ m⁻³ (``10**(dBZ/10)``, dBZ capped at ``cap``) and h in m. A missing
    level interrupts the sum (no layer is integrated across missing data).
    """
    return _over_columns(_loop_vil, [height, reflectivity], [cap])


def severe_hail_index(height, reflectivity, h0, h_m20, lower, upper):
    """SHI (J m-1 s-1), Witt et al. (1998), trapezoid rule over the levels.

    :math:`\\mathrm{SHI} = 0.1 \\int W_T(H)\\,\\dot E\\,dH`, :math:`\\dot E = 5\\times10^{-6}\\,
    10^{0.084 Z}\\,W(Z)`; W(Z) ramps 0→1 from ``lower`` to ``upper`` dBZ and W_T(H) 0→1
    from ``h0`` (0 °C) to ``h_m20`` (−20 °C). A missing level interrupts the integral.
    """
    return _over_columns(_loop_shi, [height, reflectivity], [h0, h_m20, lower, upper])


def maximum_above(height, reflectivity, bottom):
    """Column maximum over heights >= ``bottom``, the value interpolated at ``bottom`` included."""
    return _over_columns(_loop_maximum_above, [height, reflectivity], [bottom])


def height_of_maximum(height, values):
    """Height of the column maximum (the lowest one on ties); NaN for an empty column."""
    return height_and_value_of_maximum(height, values)[0]


def height_and_value_of_maximum(height, values):
    """:func:`height_of_maximum` and the column maximum over every valid value (-inf for
    an empty column), in one pass."""
    return _over_columns(_loop_height_of_maximum, [height, values], [], (np.float64, np.float64))


def lowest_valid_above(height, values, surface):
    """Value at the lowest valid level at or above ``surface`` (e.g. the terrain)."""
    return _over_columns(_loop_lowest_valid_above, [height, values], [surface])


def pressure_integral(pressure, values, top, value_at_top):
    """:math:`\\int_{p_{top}}^{p_{bottom}} f\\,dp` by the trapezoid rule (units of f·p).

    ``pressure`` decreases along the column (surface first); the bottom is the first
    valid level. Levels above ``top`` are replaced by the point (``top``,
    ``value_at_top``), which the caller interpolates (as ``metpy.calc.get_layer``
    does, linearly in ln p). NaN if the column does not reach ``top``.
    """
    return _over_columns(
        _loop_pressure_integral, [pressure, values], [top, value_at_top], in_float64=True
    )


def surface_flux_integral(
    pressure, q, u, v, surface_pressure, q_surface, u_surface, v_surface, top
):
    """:math:`\\int q u\\,dp` and :math:`\\int q v\\,dp` (hPa × units) from the surface to ``top``.

    The column is the surface point followed by the valid levels with ``p < surface_pressure``
    (pressure decreasing along the column); the trapezoid rule, and the fluxes at ``top``
    interpolated linearly in ln p between the levels around it. NaN if the column does
    not reach ``top`` or the surface point is missing.
    """
    return _over_columns(
        _loop_surface_flux_integral,
        [pressure, q, u, v],
        [surface_pressure, q_surface, u_surface, v_surface, top],
        (np.float64, np.float64),
        in_float64=True,
    )


def warm_up() -> None:
    """Compile (or load from the on-disk cache) every kernel once, e.g. before timing."""
    h = np.array([0.0, 1000.0, 2000.0])
    for v in (np.array([50.0, 40.0, 10.0]), np.array([50.0, 40.0, 10.0], dtype=np.float32)):
        interpolate_to(h, v, 500.0)
        highest_crossing(h, v, 18.0)
        vertically_integrated_liquid(h, v, 56.0)
        severe_hail_index(h, v, 500.0, 1500.0, 40.0, 50.0)
        maximum_above(h, v, 500.0)
        height_of_maximum(h, v)
        lowest_valid_above(h, v, 0.0)
    p, v = np.array([1000.0, 850.0, 700.0]), np.array([50.0, 40.0, 10.0])
    pressure_integral(p, v, 700.0, 10.0)
    surface_flux_integral(p, v, v, v, 1010.0, 1.0, 1.0, 1.0, 700.0)


# -- xarray plumbing ---------------------------------------------------------------------------


def whole_column(data: xr.DataArray, dim: str) -> xr.DataArray:
    """``data`` with ``dim`` in one Dask chunk (profile kernels need the whole column).
    Already so (the usual case), it is returned as it is: ``DataArray.chunk`` costs ~1 ms
    of graph building even when it has nothing to do."""
    if dim in data.dims and data.chunks is not None:
        if len(data.chunks[data.get_axis_num(dim)]) > 1:
            return data.chunk({dim: -1})
    return data


def apply_columns(function, *arrays: xr.DataArray, core_dims, **keywords) -> xr.DataArray:
    """Run ``function`` lazily over blocks of columns (Dask-parallel).

    ``core_dims`` gives, for each array, the name of its vertical dimension (moved to
    the last axis and kept in one chunk) or ``None`` for arrays without one. The
    function receives plain numpy blocks and returns a float64 array without the
    vertical axis.

    ``xarray.apply_ufunc`` lines up the dimensions (vertical last, the others
    broadcast); the Dask graph is one :func:`dask.array.blockwise` call of our own
    rather than ``dask="parallelized"``: Dask's generalized ufunc contracts the vertical
    axis with ``concatenate=True``, which copies every block into a new array even when
    the axis is one chunk, i.e. gathers the whole ``(time, level, y, x)`` radar block
    into ``(time, y, x, level)`` order for each product (~40 ms of a 56 ms echo-top
    task on the 0.1° demo). The kernels read the transposed view as it is.
    Arrays chunked differently are brought to common chunks first, in their own
    dimension order.
    """
    arrays = [whole_column(a, d) if d else a for a, d in zip(arrays, core_dims, strict=True)]
    if sum(a.chunks is not None for a in arrays) > 1:
        # Common chunks in the arrays' own dimension order: Dask would otherwise
        # rechunk the transposed arrays, merging blocks into ``(…, level)`` order.
        arrays = xr.unify_chunks(*arrays)
    return xr.apply_ufunc(
        _columns_of_blocks,
        *arrays,
        input_core_dims=[[d] if d else [] for d in core_dims],
        kwargs={
            "function": function,
            "vertical": tuple(d is not None for d in core_dims),
            "keywords": keywords,
        },
        dask="allowed",
        keep_attrs=False,
    )


def _columns_of_blocks(*arrays, function, vertical, keywords):
    """``function`` over the blocks of ``arrays`` (vertical last where ``vertical``),
    lazily if any is a Dask array; the vertical axis, one chunk, is contracted without
    a copy (``concatenate=False`` hands over a one-element list per block)."""
    import dask.array as dsa
    from dask.utils import funcname

    if not any(isinstance(a, dsa.Array) for a in arrays):
        return function(*arrays, **keywords)
    leading = max(np.ndim(a) - has for a, has in zip(arrays, vertical, strict=True))
    out_index = tuple(range(leading))
    pairs = []
    for array, has in zip(arrays, vertical, strict=True):
        array = dsa.asarray(array)
        own = out_index[leading - (array.ndim - has) :]
        pairs += [array, own + ((leading,) if has else ())]
    return dsa.blockwise(
        _one_block,
        out_index,
        *pairs,
        token=funcname(function).strip("_"),
        concatenate=False,
        meta=np.empty((0,) * leading, np.float64),
        function=function,
        vertical=vertical,
        keywords=keywords,
    )


def _one_block(*blocks, function, vertical, keywords):
    """One block of :func:`_columns_of_blocks`: the vertical arrays arrive as a list of
    their (single) block along the contracted axis."""
    arrays = []
    for block, has in zip(blocks, vertical, strict=True):
        if has:
            if len(block) != 1:
                raise ValueError("column kernels need the vertical axis in one chunk")
            block = block[0]
        arrays.append(block)
    return function(*arrays, **keywords)
