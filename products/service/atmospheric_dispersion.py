"""Pollution-meteorology indices from the vertical profile: ventilation, stagnation,
near-surface inversion.

The column kernels are plain numpy, vectorised over grid points with a loop over the
(few tens of) pressure levels; ``xr.apply_ufunc`` runs them block by block with the
whole column in one chunk. Pressure levels run from the surface upward (decreasing
pressure); levels below the ground (pressure above the surface pressure, or geopotential
height below the terrain) are skipped.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from weatherdata.compute import daily, quantity, with_units
from weatherdata.errors import InputError
from weatherdata.units import convert_dataarray

#: R_d / c_p of dry air (MetPy's ``poisson_exponent``).
POISSON_EXPONENT = 0.2857142857142857
#: Height of the 10 m wind, the bottom of the transport-wind average (m above ground).
WIND_HEIGHT = 10.0


def _column(data: xr.DataArray, units: str) -> xr.DataArray:
    data = convert_dataarray(data, units)
    if "pressure" not in data.dims:
        raise InputError(f"{data.name or 'input'}: a pressure-level field is needed")
    return data.chunk({"pressure": -1}) if hasattr(data.data, "dask") else data


def _surface(data: xr.DataArray, units: str) -> xr.DataArray:
    return convert_dataarray(data, units)


def ventilation_kernel(temperature, height, eastward, northward, surface_temperature, surface_pressure,
                       surface_height, surface_wind, *, pressure, parcel_excess):  # fmt: skip
    """Mixing height (m above ground) and ventilation index (m2 s-1) of each column.

    Arrays: profiles ``(..., level)`` in K, m (MSL), m s-1; surface fields ``(...)`` in K,
    hPa, m, m s-1; ``pressure`` the levels in hPa (decreasing). Returns ``(height, index)``.
    """
    shape = np.broadcast_shapes(temperature.shape[:-1], surface_temperature.shape)
    surface_temperature, surface_pressure, surface_height, surface_wind = (
        np.broadcast_to(np.asarray(a, np.float64), shape)
        for a in (surface_temperature, surface_pressure, surface_height, surface_wind)
    )
    parcel = surface_temperature * (1000.0 / surface_pressure) ** POISSON_EXPONENT + parcel_excess
    below_z = np.full(shape, WIND_HEIGHT)
    below_theta = parcel - parcel_excess
    below_speed = surface_wind.copy()
    area = np.zeros(shape)
    mixing_height = np.full(shape, np.nan)
    done = np.zeros(shape, dtype=bool)
    for k, level in enumerate(pressure):
        z = np.broadcast_to(height[..., k], shape) - surface_height
        theta = np.broadcast_to(temperature[..., k], shape) * (1000.0 / level) ** POISSON_EXPONENT
        speed = np.broadcast_to(np.hypot(eastward[..., k], northward[..., k]), shape)
        active = ~done & (level < surface_pressure) & (z > below_z)
        crossing = active & (theta >= parcel)
        with np.errstate(divide="ignore", invalid="ignore"):
            fraction = np.clip((parcel - below_theta) / (theta - below_theta), 0.0, 1.0)
        top = below_z + fraction * (z - below_z)
        top_speed = below_speed + fraction * (speed - below_speed)
        layer = np.where(
            crossing,
            0.5 * (below_speed + top_speed) * (top - below_z),
            0.5 * (below_speed + speed) * (z - below_z),
        )
        area = np.where(active, area + layer, area)
        mixing_height = np.where(crossing, top, mixing_height)
        done = done | crossing
        climbing = active & ~crossing
        below_z = np.where(climbing, z, below_z)
        below_theta = np.where(climbing, theta, below_theta)
        below_speed = np.where(climbing, speed, below_speed)
    depth = mixing_height - WIND_HEIGHT
    with np.errstate(divide="ignore", invalid="ignore"):
        transport = np.where(depth > 1.0, area / depth, surface_wind)
    return mixing_height, mixing_height * transport


def ventilation_index(
    temperature, geopotential_height, eastward_wind, northward_wind, surface_temperature, surface_pressure,
    surface_altitude, wind_speed, parcel_excess,
):  # fmt: skip
    """Ventilation index (通风系数): mixing height × mean wind in the mixed layer, m² s⁻¹.

    The mixing height :math:`h` follows the parcel method (Holzworth 1964; Seibert et al.
    2000): the height above ground where the potential temperature profile
    :math:`\\theta(z) = T\\,(1000/p)^{R_d/c_p}` first reaches that of the 2 m air plus an
    excess, :math:`\\theta_{2m} + \\delta\\theta`, interpolated linearly between levels.
    The transport wind is the height-weighted mean wind speed from 10 m (the 10 m wind)
    to :math:`h` (trapezoidal rule on the level winds):

    .. math:: VI = h\\,\\bar U, \\qquad \\bar U = \\frac{1}{h - 10}\\int_{10}^{h} U\\,dz

    References
    ----------
    Holzworth, G. C., 1964: Estimates of mean maximum mixing depths in the contiguous
    United States. Mon. Wea. Rev., 92, 235–242. Seibert, P. et al., 2000: Review and
    intercomparison of operational methods for the determination of the mixing height.
    Atmos. Environ., 34, 1001–1027.
    """
    columns = [
        _column(temperature, "K"),
        _column(geopotential_height, "m"),
        _column(eastward_wind, "m s-1"),
        _column(northward_wind, "m s-1"),
    ]
    surface = [
        _surface(surface_temperature, "K"),
        _surface(surface_pressure, "hPa"),
        _surface(surface_altitude, "m"),
        _surface(wind_speed, "m s-1"),
    ]
    pressure = np.asarray(columns[0]["pressure"].values, dtype=np.float64)
    excess = float(quantity(parcel_excess).m_as("K"))

    def kernel(*arrays):
        _, index = ventilation_kernel(
            *(np.asarray(a, np.float64) for a in arrays), pressure=pressure, parcel_excess=excess
        )
        return index.astype(np.float32)

    out = xr.apply_ufunc(
        kernel,
        *columns,
        *surface,
        input_core_dims=[["pressure"]] * 4 + [[]] * 4,
        dask="parallelized",
        output_dtypes=[np.float32],
    )
    return with_units(out, "m2 s-1")


def inversion_kernel(
    temperature, height, surface_temperature, surface_pressure, surface_height, *, pressure, depth
):
    """Largest excess of level temperature over the 2 m temperature in the lowest ``depth``
    metres above ground, at least 0; NaN when no level lies in that layer."""
    shape = np.broadcast_shapes(temperature.shape[:-1], surface_temperature.shape)
    strongest = np.full(shape, -np.inf)
    seen = np.zeros(shape, dtype=bool)
    missing = np.zeros(shape, dtype=bool)
    for k, level in enumerate(pressure):
        z = np.broadcast_to(height[..., k], shape) - surface_height
        inside = (level < surface_pressure) & (z > 0) & (z <= depth)
        excess = np.broadcast_to(temperature[..., k], shape) - surface_temperature
        missing |= inside & np.isnan(excess)
        strongest = np.where(inside, np.fmax(strongest, excess), strongest)
        seen |= inside
    bad = (
        ~seen
        | missing
        | np.isnan(surface_temperature)
        | np.isnan(surface_pressure)
        | np.isnan(surface_height)
    )
    return np.where(bad, np.nan, np.maximum(strongest, 0.0))


def near_surface_inversion_strength(temperature, geopotential_height, surface_temperature, surface_pressure,
                                    surface_altitude, depth):  # fmt: skip
    """Near-surface temperature inversion strength (逆温强度), K.

    :math:`\\max(0, \\max_k [T_k - T_{2m}])` over the pressure levels between the ground and
    ``depth`` above it: how much warmer the air aloft is than the 2 m air (0 without an
    inversion). A strong inversion traps pollutants near the ground.
    """
    columns = [_column(temperature, "K"), _column(geopotential_height, "m")]
    surface = [
        _surface(surface_temperature, "K"),
        _surface(surface_pressure, "hPa"),
        _surface(surface_altitude, "m"),
    ]
    pressure = np.asarray(columns[0]["pressure"].values, dtype=np.float64)
    limit = float(quantity(depth).m_as("m"))

    def kernel(*arrays):
        arrays = [np.asarray(a, np.float64) for a in arrays]
        return inversion_kernel(*arrays, pressure=pressure, depth=limit).astype(np.float32)

    out = xr.apply_ufunc(
        kernel,
        *columns,
        *surface,
        input_core_dims=[["pressure"]] * 2 + [[]] * 3,
        dask="parallelized",
        output_dtypes=[np.float32],
    )
    return with_units(out, "K")


def air_stagnation_day(
    wind_speed, eastward_wind, northward_wind, precipitation, day_definition, surface_wind_threshold,
    upper_wind_threshold, upper_level, precipitation_threshold,
):  # fmt: skip
    """Air-stagnation day (空气停滞日), 1 or 0 (Wang and Angell 1999; Horton et al. 2012).

    A day is stagnant when its mean 10 m wind is below ``surface_wind_threshold``
    (3.2 m s⁻¹), its mean wind speed at ``upper_level`` (500 hPa) below
    ``upper_wind_threshold`` (13 m s⁻¹) and its precipitation below
    ``precipitation_threshold`` (1 mm).

    References
    ----------
    Wang, J. X. L. and J. K. Angell, 1999: Air stagnation climatology for the United
    States (1948–1998). NOAA/ARL Atlas No. 1. Horton, D. E., Harshvardhan and
    N. S. Diffenbaugh, 2012: Response of air stagnation frequency to anthropogenically
    enhanced radiative forcing. Environ. Res. Lett., 7, 044034.
    """
    level = float(quantity(upper_level).m_as("hPa"))
    if not np.isclose(eastward_wind["pressure"].values, level).any():
        raise InputError(f"air stagnation needs the {level:g} hPa level")
    upper_u = convert_dataarray(eastward_wind, "m s-1").sel(pressure=level, method="nearest")
    upper_v = convert_dataarray(northward_wind, "m s-1").sel(pressure=level, method="nearest")
    upper_speed = with_units(np.hypot(upper_u, upper_v).drop_vars("pressure"), "m s-1")
    surface = convert_dataarray(daily(wind_speed, "mean", day=day_definition), "m s-1")
    upper = convert_dataarray(daily(upper_speed, "mean", day=day_definition), "m s-1")
    rain = convert_dataarray(daily(precipitation, "sum", day=day_definition), "mm")
    stagnant = (
        (surface < quantity(surface_wind_threshold).m_as("m s-1"))
        & (upper < quantity(upper_wind_threshold).m_as("m s-1"))
        & (rain < quantity(precipitation_threshold).m_as("mm"))
    )
    known = surface.notnull() & upper.notnull() & rain.notnull()
    return with_units(stagnant.astype(np.float32).where(known), "1")
