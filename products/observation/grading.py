"""Classing a continuous field by a table of lower bounds (grades, scales, levels).

The Chinese grade tables (GB/T 28591 wind force, GB/T 28592 precipitation, GB/T 27964
fog, QX/T 113 haze) are written for *reported* values: "小雨 0.1–9.9 mm, 中雨 10.0–24.9 mm"
leaves no gap at the 0.1 mm reporting resolution but does on a continuous analysis
(where does 9.95 mm go?). The rule used throughout this package:

* with a reporting ``resolution`` (precipitation 0.1 mm, wind 0.1 m s-1) the value is
  first rounded to that resolution, halves up — as a station would report it — and then
  classed on the table's lower bounds: 9.94 mm → 9.9 → 小雨, 9.95 mm → 10.0 → 中雨;
* without one (visibility) intervals are half-open, lower bound included:
  ``[lower_k, lower_{k+1})`` — so "< 500 m" in a warning criterion and "200–500 m" in a
  grade table agree at exactly 500 m.

Class ``k`` is the number of lower bounds at or below the value (0 below the first).
Missing values stay missing.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from weatherdata.compute import elementwise, quantity, with_units

__all__ = ["class_by_lower_bounds", "class_by_upper_bounds"]

# Halves round up; the tolerance (in units of the resolution) absorbs float32 storage,
# where 9.95 is stored as 9.9499998.
_HALF_UP_TOLERANCE = 1e-4


def _magnitudes(bounds, units: str) -> np.ndarray:
    values = np.array([quantity(b).m_as(units) for b in bounds], dtype=np.float64)
    if np.any(np.diff(values) <= 0):
        raise ValueError(f"class bounds must increase: {bounds}")
    return values


def _classify(values, bounds, resolution):
    values = np.asarray(values, dtype=np.float64)
    if resolution is not None:
        steps = np.floor(values / resolution + 0.5 + _HALF_UP_TOLERANCE)
        bound_steps = np.round(bounds / resolution)
        classes = np.searchsorted(bound_steps, steps, side="right").astype(np.float32)
    else:
        classes = np.searchsorted(bounds, values, side="right").astype(np.float32)
    return np.where(np.isnan(values), np.nan, classes).astype(np.float32)


def class_by_lower_bounds(
    data: xr.DataArray, lower_bounds, *, units: str, resolution=None
) -> xr.DataArray:
    """Class ``k`` = number of ``lower_bounds`` at or below the value.

    Parameters
    ----------
    data
        The field to class, with a ``units`` attribute.
    lower_bounds
        Increasing pint quantities (from the catalog), the lower bound of classes 1, 2, ….
    units
        Units in which the comparison is made (``data`` and the bounds are converted).
    resolution
        Optional reporting resolution (a quantity): values are rounded to it, halves up,
        before classing.
    """
    from weatherdata.units import convert_dataarray

    data = convert_dataarray(data, units)
    bounds = _magnitudes(lower_bounds, units)
    step = None if resolution is None else quantity(resolution).m_as(units)
    out = elementwise(_classify, data, keywords={"bounds": bounds, "resolution": step})
    return with_units(out, "1")


def class_by_upper_bounds(data: xr.DataArray, upper_bounds, *, units: str) -> xr.DataArray:
    """Class ``k`` = number of ``upper_bounds`` at or below the value, for tables that
    grade *downwards* (visibility: the lower the visibility, the higher the grade).

    ``upper_bounds`` decrease (e.g. 10 km, 1 km, 500 m, 200 m, 50 m); a value below the
    k-th bound (strictly) is at least grade k: grade = number of bounds strictly above it.
    """
    from weatherdata.units import convert_dataarray

    data = convert_dataarray(data, units)
    bounds = np.array([quantity(b).m_as(units) for b in upper_bounds], dtype=np.float64)
    if np.any(np.diff(bounds) >= 0):
        raise ValueError(f"upper bounds must decrease: {upper_bounds}")

    def count_above(values):
        values = np.asarray(values, dtype=np.float64)
        # number of bounds b with value < b
        grades = (values[..., np.newaxis] < bounds).sum(axis=-1).astype(np.float32)
        return np.where(np.isnan(values), np.nan, grades).astype(np.float32)

    out = elementwise(count_above, data)
    return with_units(out, "1")
