"""Wind-profile diagnostics for convection: bulk shear, storm-relative helicity, storm motions.

One shared intermediate, :func:`storm_kinematics`, runs MetPy's column algorithms
(``bulk_shear``, ``bunkers_storm_motion``, ``storm_relative_helicity``,
``corfidi_storm_motion``, ``critical_angle``) on every column at once with the numba
kernel :func:`._parcel.kinematic_columns` (tested against MetPy column by column). The
column is the 10 m wind at the surface (terrain height) followed by the pressure levels
above the ground.

Vector products (storm motions, mean wind) carry a ``component`` dimension (eastward,
northward) placed before the horizontal dimensions; the Corfidi vectors also a ``motion``
dimension (upshear, downshear).
"""

from __future__ import annotations

import xarray as xr

from weatherdata.compute import magnitude, with_units

from . import _parcel
from .convective import _in, _speed

__all__ = [
    "bulk_shear",
    "corfidi_motion",
    "critical_angle",
    "storm_kinematics",
    "storm_motion",
    "storm_relative_helicity",
]


def storm_kinematics(
    eastward_wind,
    northward_wind,
    geopotential_height,
    surface_pressure,
    surface_eastward_wind,
    surface_northward_wind,
    surface_altitude,
    shallow_shear_depth,
    deep_shear_depth,
    shallow_helicity_depth,
    deep_helicity_depth,
):
    """Shear, helicity and storm motions of every column (Dataset).

    * bulk shear over the two depths (``metpy.calc.bulk_shear`` with heights: wind at the
      top, interpolated in ln p at the pressure of that height, minus the surface wind);
    * Bunkers (2000) right/left-mover motion and 0–6 km mean wind
      (``metpy.calc.bunkers_storm_motion``): :math:`\\vec c = \\bar V_{0-6} \\pm 7.5\\,
      \\mathrm{m\\,s^{-1}}\\; \\hat k \\times \\vec S / |\\vec S|`, :math:`\\vec S = \\bar V_{5.5-6} - \\bar V_{0-0.5}`,
      means :math:`\\int V dp/\\Delta p`;
    * storm-relative helicity for the right mover over the two depths
      (``metpy.calc.storm_relative_helicity``),
      :math:`SRH = \\sum_k (u_{k+1}-c_u)(v_k-c_v) - (u_k-c_u)(v_{k+1}-c_v)`;
    * Corfidi et al. (1996) MCS motion (``metpy.calc.corfidi_storm_motion``): up-shear
      :math:`\\bar V_{850-300} - V_{LLJ}`, down-shear :math:`2\\bar V_{850-300} - V_{LLJ}` with the
      low-level jet the fastest wind at or below 850 hPa (NaN if the surface is above 850 hPa);
    * critical angle (Esterheld and Giuliano 2008, ``metpy.calc.critical_angle``) between
      the 0–500 m shear and the surface storm-relative inflow of the right mover.

    References
    ----------
    Bunkers, M. J. et al., 2000: Predicting supercell motion using a new hodograph
    technique. Wea. Forecasting 15, 61–79. —
    Corfidi, S. F., J. H. Merritt and J. M. Fritsch, 1996: Predicting the movement of
    mesoscale convective complexes. Wea. Forecasting 11, 41–46.
    """
    profiles = [
        _in(eastward_wind, "m s-1"),
        _in(northward_wind, "m s-1"),
        _in(geopotential_height, "m"),
    ]
    surface = [
        _in(surface_pressure, "hPa"),
        _in(surface_eastward_wind, "m s-1"),
        _in(surface_northward_wind, "m s-1"),
        _in(surface_altitude, "m"),
    ]
    options = {
        "shallow_shear": magnitude(shallow_shear_depth, "m"),
        "deep_shear": magnitude(deep_shear_depth, "m"),
        "shallow_helicity": magnitude(shallow_helicity_depth, "m"),
        "deep_helicity": magnitude(deep_helicity_depth, "m"),
    }
    return _parcel.apply_columns(
        _parcel.kinematic_columns, _parcel.KINEMATIC_FIELDS, profiles, surface, options=options
    )


def bulk_shear(eastward, northward):
    """Bulk wind difference magnitude :math:`|\\vec V_{top} - \\vec V_{sfc}|` [m s⁻¹]."""
    return _speed(eastward, northward)


def storm_relative_helicity(helicity):
    """Storm-relative helicity for the Bunkers right mover [m² s⁻²] (MetPy's total SRH)."""
    return with_units(helicity, helicity.attrs["units"])


def _stack(arrays: dict[str, xr.DataArray], dim: str) -> xr.DataArray:
    """Stack ``arrays`` on a new labelled ``dim`` placed just before the two horizontal dims."""
    first = next(iter(arrays.values()))
    stacked = xr.concat(
        list(arrays.values()), dim=dim, coords="minimal", compat="override", join="exact"
    )
    stacked = stacked.assign_coords({dim: list(arrays)})
    horizontal = list(first.dims[-2:])
    inner = [d for d in ("component",) if d in first.dims]
    leading = [d for d in stacked.dims if d not in (*horizontal, *inner, dim)]
    return stacked.transpose(*leading, dim, *inner, *horizontal)


def _vector(eastward: xr.DataArray, northward: xr.DataArray) -> xr.DataArray:
    """A wind-like vector in m s⁻¹ on ``component`` = eastward, northward."""
    return _stack(
        {"eastward": _in(eastward, "m s-1"), "northward": _in(northward, "m s-1")}, "component"
    )


def storm_motion(eastward, northward):
    """A motion vector (Bunkers right mover, 0–6 km mean wind), ``component`` = eastward, northward [m s⁻¹]."""
    return with_units(_vector(eastward, northward), "m s-1")


def corfidi_motion(upshear_eastward, upshear_northward, downshear_eastward, downshear_northward):
    """Corfidi MCS motion vectors on ``motion`` = upshear, downshear × ``component`` [m s⁻¹]."""
    vectors = {
        "upshear": _vector(upshear_eastward, upshear_northward),
        "downshear": _vector(downshear_eastward, downshear_northward),
    }
    return with_units(_stack(vectors, "motion"), "m s-1")


def critical_angle(angle):
    """Critical angle between the 0–500 m shear and the storm-relative inflow [degree]."""
    return with_units(angle, angle.attrs["units"])
