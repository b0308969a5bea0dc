"""Radar hail products of the WSR-88D hail detection algorithm (Witt et al. 1998): SHI, POSH, MESH.

The severe hail index integrates the hail kinetic energy flux above the melting
level, weighted towards the −20 °C level; POSH and MESH are its calibrations. The
isotherm heights come from the upper-air products (``freezing_level_height``,
``minus_20c_level_height``, m MSL, as pyhail and MRMS use them). Swaths (maximum MESH
over a trailing window) use ``radar.trailing_maximum``.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from weatherdata.compute import magnitude, with_units
from weatherdata.errors import InputError
from weatherdata.units import convert_dataarray

from . import _column_kernels as kernels
from .radar import HEIGHT, _heights

__all__ = [
    "MESH_FITS",
    "maximum_expected_hail_size",
    "probability_of_severe_hail",
    "severe_hail_index",
]

#: MESH = a · SHI^b (mm), by calibration.
MESH_FITS = {
    "witt1998": (2.54, 0.5),  # Witt et al. 1998, 75th percentile of 147 reports
    "murillo_homeyer_2019_75": (
        15.096,
        0.206,
    ),  # Murillo & Homeyer 2019, 75th percentile of 5897 reports
    "murillo_homeyer_2019_95": (22.157, 0.212),  # idem, 95th percentile
}


def _shi_block(heights, reflectivity, h0, h_m20, *, lower, upper):
    return kernels.severe_hail_index(heights, reflectivity, h0, h_m20, lower, upper)


def severe_hail_index(
    radar_reflectivity,
    freezing_level_height,
    minus_20c_level_height,
    lower_reflectivity,
    upper_reflectivity,
):
    """Severe hail index SHI (J m⁻¹ s⁻¹), Witt et al. (1998).

    .. math::
        \\mathrm{SHI} = 0.1 \\int_{H_0}^{H_T} W_T(H)\\,\\dot E\\,dH, \\qquad
        \\dot E = 5\\times10^{-6}\\,10^{0.084 Z}\\,W(Z)

    with :math:`\\dot E` the hail kinetic energy flux (J m⁻² s⁻¹, Z in dBZ), W(Z) rising
    linearly from 0 at ``lower_reflectivity`` (40 dBZ) to 1 at ``upper_reflectivity``
    (50 dBZ), and :math:`W_T(H)` from 0 at the melting level :math:`H_0` to 1 at the
    −20 °C level (H in m). The integral runs over the CAPPI levels (trapezoid rule).

    References
    ----------
    Witt, A., M. D. Eilts, G. J. Stumpf, J. T. Johnson, E. D. Mitchell and K. W. Thomas,
    1998: An enhanced hail detection algorithm for the WSR-88D. Wea. Forecasting, 13, 286–303.
    """
    out = kernels.apply_columns(
        _shi_block,
        _heights(radar_reflectivity),
        radar_reflectivity,
        convert_dataarray(freezing_level_height, "m"),
        convert_dataarray(minus_20c_level_height, "m"),
        core_dims=[HEIGHT, HEIGHT, None, None],
        lower=magnitude(lower_reflectivity, "dBZ"),
        upper=magnitude(upper_reflectivity, "dBZ"),
    )
    return with_units(out, "J m-1 s-1")


def probability_of_severe_hail(severe_hail_index, freezing_level_height, minimum_warning_threshold):
    """Probability of severe hail POSH (%), Witt et al. (1998).

    .. math:: \\mathrm{POSH} = 29\\ln\\left(\\frac{\\mathrm{SHI}}{WT}\\right) + 50,
              \\qquad WT = 57.5\\,H_0 - 121

    (WT in J m⁻¹ s⁻¹, :math:`H_0` the melting-level height in km), clipped to 0–100 %;
    0 where SHI is 0. WT is kept at least ``minimum_warning_threshold`` so that it
    stays positive for low melting levels (:math:`H_0` < 2.1 km).
    """
    shi = convert_dataarray(severe_hail_index, "J m-1 s-1")
    h0 = convert_dataarray(freezing_level_height, "km")
    warning = np.maximum(57.5 * h0 - 121.0, magnitude(minimum_warning_threshold, "J m-1 s-1"))
    with np.errstate(divide="ignore", invalid="ignore"):
        posh = 29.0 * np.log(shi.where(shi > 0) / warning) + 50.0
    posh = xr.where(shi > 0, posh.clip(0.0, 100.0), 0.0).where(shi.notnull() & h0.notnull())
    return with_units(posh, "percent")


def maximum_expected_hail_size(severe_hail_index, method):
    """Maximum expected size of hail MESH (mm), :math:`\\mathrm{MESH} = a\\,\\mathrm{SHI}^b`.

    ``method``: ``witt1998`` (a = 2.54, b = 0.5; Witt et al. 1998, the MRMS/WSR-88D
    MESH), ``murillo_homeyer_2019_75`` (15.096, 0.206) or ``murillo_homeyer_2019_95``
    (22.157, 0.212). 0 where SHI is 0.

    References
    ----------
    Witt, A., et al., 1998: An enhanced hail detection algorithm for the WSR-88D. Wea. Forecasting, 13, 286–303.
    Murillo, E. M. and C. R. Homeyer, 2019: Severe hail fall and hailstorm detection using remote sensing
    observations. J. Appl. Meteor. Climatol., 58, 947–970.
    """
    if method not in MESH_FITS:
        raise InputError(f"unknown MESH method {method!r}; choose from {', '.join(MESH_FITS)}")
    coefficient, exponent = MESH_FITS[method]
    shi = convert_dataarray(severe_hail_index, "J m-1 s-1")
    mesh = coefficient * shi.clip(min=0.0) ** exponent
    return with_units(mesh, "mm")
