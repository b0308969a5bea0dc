"""Upper-air products from pressure-level profiles: isotherm heights, precipitable water,
thickness, lapse rates, θe at 850 hPa and integrated vapour transport.

Pressure levels run from the surface upward (decreasing pressure). Profiles that
depend on the ground start at the surface: the surface point (surface pressure or
altitude with the 2 m / 10 m value) is put first and levels at or below the ground
(``p >= surface pressure``, ``Z <= surface altitude``) are dropped, as a sounding
would have them. Column work is done by the numba kernels of ``_column_kernels``
(tested column by column against MetPy and ``numpy.interp``); element-wise physics
(mixing ratio, θe) is MetPy's own.

Geopotential height is used as height (the difference from geometric height is
about 15 m at 10 km, well below the levels' spacing).
"""

from __future__ import annotations

import metpy.calc as mpcalc
import metpy.constants as mpconstants
import numpy as np
import xarray as xr

from weatherdata.compute import magnitude, pointwise, quantity, with_units
from weatherdata.errors import InputError
from weatherdata.units import convert_dataarray, unit_registry

from . import _column_kernels as kernels

__all__ = [
    "equivalent_potential_temperature_at_level",
    "integrated_vapour_transport",
    "isotherm_height",
    "layer_lapse_rate",
    "near_surface_lapse_rate",
    "precipitable_water",
    "precipitable_water_columns",
    "precipitable_water_from_dewpoint",
    "thickness",
]

PRESSURE = "pressure"
_GRAVITY = float(mpconstants.g.m_as("m s-2"))
_WATER_DENSITY = float(mpconstants.rho_l.m_as("kg m-3"))


def _as(data: xr.DataArray, units: str) -> xr.DataArray:
    """``data`` converted (lazily) to ``units``."""
    return convert_dataarray(data, units)


def _level(data: xr.DataArray, pressure) -> xr.DataArray:
    """The slice of ``data`` on the ``pressure`` level (a quantity), without the level coordinate."""
    wanted = magnitude(pressure, "hPa")
    levels = np.asarray(data.indexes[PRESSURE], dtype=float)
    match = np.flatnonzero(np.isclose(levels, wanted))
    if match.size == 0:
        raise InputError(
            f"{data.name or 'input'}: no {wanted:g} hPa level (levels: {', '.join(f'{p:g}' for p in levels)})"
        )
    return data.isel({PRESSURE: int(match[0])}).drop_vars(PRESSURE, errors="ignore")


def _surface_profile(surface_coordinate, surface_value, coordinate, values, above):
    """Columns that start at the surface point; levels not ``above`` the ground become NaN."""
    leading = np.broadcast_shapes(
        np.shape(surface_coordinate),
        np.shape(surface_value),
        values.shape[:-1],
        np.shape(above)[:-1],
    )
    n = values.shape[-1]
    coordinate = np.broadcast_to(coordinate, (*leading, n))
    column_coordinate = np.empty((*leading, n + 1))
    column_values = np.empty((*leading, n + 1))
    column_coordinate[..., 0] = surface_coordinate
    column_values[..., 0] = surface_value
    column_coordinate[..., 1:] = np.where(above, coordinate, np.nan)
    column_values[..., 1:] = np.where(above, values, np.nan)
    return column_coordinate, column_values


# -- isotherm heights ----------------------------------------------------------------


def _isotherm_block(temperature, height, temperature_2m, surface_altitude, *, isotherm):
    above = height > surface_altitude[..., None]
    heights, temperatures = _surface_profile(
        surface_altitude, temperature_2m, height, temperature, above
    )
    out, status = kernels.highest_crossing(heights, temperatures, isotherm)
    out = np.where(status == kernels.TOP_ABOVE, np.nan, out)
    return np.where(np.isnan(temperature_2m) | np.isnan(surface_altitude), np.nan, out)


def isotherm_height(
    air_temperature, geopotential_height, air_temperature_2m, surface_altitude, isotherm
):
    """Height (m above mean sea level) of the isotherm ``isotherm`` (e.g. 0 °C, −20 °C).

    The temperature profile (2 m temperature at the surface altitude, then the
    pressure levels above the ground) is searched from the top down for the highest
    level at or warmer than the isotherm; the height is interpolated linearly in
    height between it and the level above:

    .. math:: H = z_k + (z_{k+1} - z_k)\\,\\frac{T_k - T_{iso}}{T_k - T_{k+1}}

    so that the whole column above H is colder than the isotherm (with a warm layer
    aloft the highest crossing wins). If even the surface is colder, the isotherm is
    at or below the ground and the surface altitude is returned; if the top level is
    still warmer, the result is missing. Missing 2 m temperature or altitude gives
    missing. This is MRMS's model freezing-level height (``ModelHeight0C``, m MSL).

    References
    ----------
    NOAA/NSSL MRMS product table (ModelHeight0C: "Model Freezing Level Height, MSL").
    """
    out = kernels.apply_columns(
        _isotherm_block,
        _as(air_temperature, "K"),
        _as(geopotential_height, "m"),
        _as(air_temperature_2m, "K"),
        _as(surface_altitude, "m"),
        core_dims=[PRESSURE, PRESSURE, None, None],
        isotherm=magnitude(isotherm, "K"),
    )
    return with_units(out, "m")


# -- lapse rates ------------------------------------------------------------------------


def _near_surface_lapse_block(temperature, height, temperature_2m, surface_altitude, *, depth):
    above = height > surface_altitude[..., None]
    heights, temperatures = _surface_profile(
        surface_altitude, temperature_2m, height, temperature, above
    )
    at_top = kernels.interpolate_to(heights, temperatures, surface_altitude + depth)
    return (temperature_2m - at_top) / depth


def near_surface_lapse_rate(
    air_temperature, geopotential_height, air_temperature_2m, surface_altitude, depth
):
    """Lapse rate over the lowest ``depth`` above ground, :math:`\\Gamma = (T_{sfc} - T(z_{sfc} + d))/d`.

    :math:`T_{sfc}` is the 2 m temperature; :math:`T(z_{sfc} + d)` is interpolated
    linearly in height in the profile that starts at the surface (levels below the
    ground are dropped). Positive when temperature falls with height (K km⁻¹); 9.8 K km⁻¹
    is dry adiabatic.
    """
    metres = magnitude(depth, "m")
    out = kernels.apply_columns(
        _near_surface_lapse_block,
        _as(air_temperature, "K"),
        _as(geopotential_height, "m"),
        _as(air_temperature_2m, "K"),
        _as(surface_altitude, "m"),
        core_dims=[PRESSURE, PRESSURE, None, None],
        depth=metres,
    )
    return with_units(out, "K m-1")


def layer_lapse_rate(air_temperature, geopotential_height, surface_air_pressure, bottom, top):
    """Lapse rate between two pressure levels, :math:`\\Gamma = -(T_{top} - T_{bot})/(Z_{top} - Z_{bot})`.

    E.g. the 700–500 hPa lapse rate of SHARPlib/SPC (an input of the significant
    hail parameter). Missing where the bottom level is below the ground.
    """
    t_bottom, t_top = (
        _level(_as(air_temperature, "K"), bottom),
        _level(_as(air_temperature, "K"), top),
    )
    z_bottom, z_top = (
        _level(_as(geopotential_height, "m"), bottom),
        _level(_as(geopotential_height, "m"), top),
    )
    rate = (t_bottom - t_top) / (z_top - z_bottom)
    rate = rate.where(_as(surface_air_pressure, "hPa") >= magnitude(bottom, "hPa"))
    return with_units(rate, "K m-1")


# -- thickness, θe ---------------------------------------------------------------------


def thickness(geopotential_height, bottom, top):
    """Layer thickness :math:`Z_{top} - Z_{bottom}` from geopotential heights (e.g. 1000–500 hPa).

    Equal, for hydrostatic analyses, to the hypsometric thickness
    :math:`\\frac{R_d}{g}\\int_{p_{top}}^{p_{bot}} T_v\\,d\\ln p` of
    ``metpy.calc.thickness_hydrostatic`` (checked in the tests). Levels below the
    ground keep the analysis' extrapolated heights, as on the standard chart.
    """
    height = _as(geopotential_height, "m")
    return with_units(_level(height, top) - _level(height, bottom), "m")


def equivalent_potential_temperature_at_level(
    air_temperature, specific_humidity, surface_air_pressure, level
):
    """Equivalent potential temperature on a pressure level (Bolton 1980, ``metpy.calc``).

    .. math:: \\theta_e = \\theta_{DL}\\exp\\left[\\left(\\frac{3036}{T_L} - 1.78\\right) r(1 + 0.448 r)\\right]

    with the LCL temperature :math:`T_L` and :math:`\\theta_{DL}` of Bolton (1980); the
    dewpoint from the specific humidity (``metpy.calc.dewpoint_from_specific_humidity``).
    Missing where the level is below the ground.

    References
    ----------
    Bolton, D., 1980: The computation of equivalent potential temperature. Mon. Wea. Rev., 108, 1046–1053.
    """
    pressure = quantity(level).to("hPa")
    temperature = _level(_as(air_temperature, "K"), level)
    humidity = _level(_as(specific_humidity, "kg kg-1"), level)

    def theta_e(t, q):
        dewpoint = mpcalc.dewpoint_from_specific_humidity(pressure, q)
        return mpcalc.equivalent_potential_temperature(pressure, t, dewpoint)

    out = pointwise(theta_e, temperature, humidity, units="K")
    out = out.where(_as(surface_air_pressure, "hPa") >= pressure.m)
    return with_units(out, "K")


# -- column integrals ------------------------------------------------------------------


def _mixing_ratio(pressure_hpa, dewpoint_kelvin):
    """Mixing ratio of MetPy's ``precipitable_water``: :math:`\\epsilon e_s(T_d)/(p - e_s(T_d))`."""
    vapour_pressure = mpcalc.saturation_vapor_pressure(unit_registry.Quantity(dewpoint_kelvin, "K"))
    return mpcalc.mixing_ratio(vapour_pressure, unit_registry.Quantity(pressure_hpa, "hPa")).m_as(
        ""
    )


def precipitable_water_columns(pressure, mixing_ratio, top, mixing_ratio_at_top=None):
    """Precipitable water (mm) of many columns at once — vectorized ``metpy.calc.precipitable_water``.

    Parameters
    ----------
    pressure : numpy.ndarray
        hPa, shape ``(..., level)``, decreasing along the last axis (surface first).
    mixing_ratio : numpy.ndarray
        kg/kg on the same levels; NaN levels are skipped, as MetPy drops them.
    top : float or numpy.ndarray
        Top of the layer, hPa (broadcast over the leading axes).
    mixing_ratio_at_top : numpy.ndarray, optional
        The mixing ratio at ``top``; by default interpolated linearly in ln p.

    Notes
    -----
    :math:`PW = \\frac{1}{\\rho_l g}\\int_{p_{top}}^{p_{sfc}} w\\,dp` (Salby 1996, p. 28), the
    trapezoid rule over the levels, as MetPy. NaN when the column does not reach ``top``.
    """
    pressure = np.asarray(pressure, dtype=np.float64)
    mixing_ratio = np.asarray(mixing_ratio, dtype=np.float64)
    top = np.asarray(top, dtype=np.float64)
    if mixing_ratio_at_top is None:
        with np.errstate(invalid="ignore", divide="ignore"):
            mixing_ratio_at_top = kernels.interpolate_to(
                -np.log(pressure), mixing_ratio, -np.log(top)
            )
    integral = kernels.pressure_integral(pressure, mixing_ratio, top, mixing_ratio_at_top)  # hPa
    return integral * 100.0 / (_GRAVITY * _WATER_DENSITY) * 1000.0


def precipitable_water_from_dewpoint(pressure, dewpoint, top):
    """Precipitable water (mm) of soundings given as dewpoint — ``metpy.calc.precipitable_water``, vectorized.

    Same steps as MetPy: the mixing ratio of the dewpoint (MetPy), the dewpoint at
    ``top`` interpolated linearly in ln p when ``top`` is not a level
    (``metpy.calc.get_layer``), the trapezoid rule. ``pressure`` (hPa) and ``dewpoint``
    (K) have shape ``(..., level)``, pressure decreasing; NaN levels are skipped.
    """
    pressure = np.asarray(pressure, dtype=np.float64)
    dewpoint = np.asarray(dewpoint, dtype=np.float64)
    top = np.asarray(top, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mixing = _mixing_ratio(pressure, dewpoint)
        dewpoint_top = kernels.interpolate_to(-np.log(pressure), dewpoint, -np.log(top))
        mixing_top = _mixing_ratio(top, dewpoint_top)
    return precipitable_water_columns(pressure, mixing, top, mixing_top)


def _precipitable_water_block(
    pressure, mixing_ratio, surface_mixing_ratio, surface_pressure, *, top
):
    above = pressure < surface_pressure[..., None]
    column_pressure, column_mixing_ratio = _surface_profile(
        surface_pressure, surface_mixing_ratio, pressure, mixing_ratio, above
    )
    return precipitable_water_columns(column_pressure, column_mixing_ratio, top)


def precipitable_water(specific_humidity, dewpoint_temperature_2m, surface_air_pressure, top):
    """Precipitable water from the surface to ``top`` (mm), MetPy's formula on every column.

    The column is the sounding a radiosonde would report: the surface point
    (surface pressure, mixing ratio of the 2 m dewpoint) and the pressure levels above
    the ground (mixing ratio :math:`w = q/(1 - q)` of the specific humidity, MetPy).
    :math:`PW = \\frac{1}{\\rho_l g}\\int_{p_{top}}^{p_{sfc}} w\\,dp` (Salby 1996), trapezoid
    rule, see :func:`precipitable_water_columns`; agrees with
    ``metpy.calc.precipitable_water`` on each column (tests: grid columns and real
    soundings). Specific humidity rather than dewpoint on levels: it is what gridded
    analyses (ERA5, GFS) provide.

    References
    ----------
    Salby, M. L., 1996: Fundamentals of Atmospheric Physics. Academic Press, p. 28.
    """
    pressure = specific_humidity[PRESSURE].astype(np.float64)
    surface_pressure = _as(surface_air_pressure, "hPa")
    mixing_ratio = pointwise(
        mpcalc.mixing_ratio_from_specific_humidity, _as(specific_humidity, "kg kg-1"), units="1"
    )
    surface_mixing_ratio = pointwise(
        lambda p, td: mpcalc.mixing_ratio(mpcalc.saturation_vapor_pressure(td), p),
        surface_pressure,
        _as(dewpoint_temperature_2m, "K"),
        units="1",
    )
    out = kernels.apply_columns(
        _precipitable_water_block,
        pressure,
        mixing_ratio,
        surface_mixing_ratio,
        surface_pressure,
        core_dims=[PRESSURE, PRESSURE, None, None],
        top=magnitude(top, "hPa"),
    )
    return with_units(out, "mm")


def _vapour_transport_block(
    pressure, q, u, v, surface_pressure, q_surface, u_surface, v_surface, *, top
):
    eastward, northward = kernels.surface_flux_integral(
        pressure, q, u, v, surface_pressure, q_surface, u_surface, v_surface, top
    )
    return np.hypot(eastward, northward) * 100.0 / _GRAVITY


def integrated_vapour_transport(
    specific_humidity,
    eastward_wind,
    northward_wind,
    surface_air_pressure,
    dewpoint_temperature_2m,
    eastward_wind_10m,
    northward_wind_10m,
    top,
):
    """Magnitude of the vertically integrated water-vapour flux (kg m⁻¹ s⁻¹).

    .. math:: \\mathrm{IVT} = \\frac{1}{g}\\left|\\int_{p_{top}}^{p_{sfc}} q\\,\\mathbf{V}\\,dp\\right|

    over the column from the surface (specific humidity from the 2 m dewpoint and
    surface pressure with MetPy, 10 m wind) through the levels above the ground to
    ``top`` (300 hPa; the flux at ``top`` interpolated linearly in ln p), trapezoid
    rule. Over the sea this is the usual 1000–300 hPa IVT; over land it starts at
    the real surface rather than at extrapolated levels.

    References
    ----------
    Lavers, D. A., et al., 2012: The detection of atmospheric rivers in atmospheric
    reanalyses and their links to British winter floods and the large-scale climatic
    circulation. J. Geophys. Res., 117, D20106.
    """
    pressure = specific_humidity[PRESSURE].astype(np.float64)
    surface_pressure = _as(surface_air_pressure, "hPa")
    q_surface = pointwise(
        mpcalc.specific_humidity_from_dewpoint,
        surface_pressure,
        _as(dewpoint_temperature_2m, "K"),
        units="kg kg-1",
    )
    out = kernels.apply_columns(
        _vapour_transport_block,
        pressure,
        _as(specific_humidity, "kg kg-1"),
        _as(eastward_wind, "m s-1"),
        _as(northward_wind, "m s-1"),
        surface_pressure,
        q_surface,
        _as(eastward_wind_10m, "m s-1"),
        _as(northward_wind_10m, "m s-1"),
        core_dims=[PRESSURE, PRESSURE, PRESSURE, PRESSURE, None, None, None, None],
        top=magnitude(top, "hPa"),
    )
    return with_units(out, "kg m-1 s-1")
