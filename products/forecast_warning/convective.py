"""Convective diagnostics from pressure-level profiles: parcel ascents, stability indices, composites.

The parcel ascents (surface-based, 100 hPa mixed-layer, most-unstable), the downdraft and
the other sounding diagnostics are shared intermediates, each computed once per column
by the numba kernels of :mod:`._parcel`, which reproduce MetPy 1.7's ``cape_cin``
family column by column (tests compare them with MetPy on real and perturbed soundings).
Indices MetPy already computes on whole arrays (K index, total totals, SWEAT,
Gálvez–Davison, significant tornado, supercell composite) call MetPy directly.

A column is the surface (2 m temperature and dewpoint at the surface pressure, terrain
height) followed by the pressure levels strictly above the ground with valid values, as
MetPy users build soundings from gridded data. Dewpoints on pressure levels come from the
relative humidity (the humidity every source provides, directly or via ingest).
"""

from __future__ import annotations

import metpy.calc as mpcalc
import metpy.constants
import numpy as np
import xarray as xr

from weatherdata import compute
from weatherdata.compute import (
    elementwise,
    magnitude,
    minimum_over,
    pointwise,
    quantity,
    with_units,
)
from weatherdata.errors import InputError
from weatherdata.units import convert_dataarray, parse_units, unit_registry

from . import _parcel

__all__ = [
    "convective_available_potential_energy",
    "convective_inhibition",
    "convective_temperature",
    "derecho_composite_parameter",
    "dewpoint_from_relative_humidity",
    "downdraft_convective_available_potential_energy",
    "energy_helicity_index",
    "equivalent_potential_temperature_deficit",
    "galvez_davison_index",
    "height_above_ground",
    "k_index",
    "mixed_layer_parcel",
    "most_unstable_parcel",
    "severe_weather_threat_index",
    "significant_hail_parameter",
    "significant_tornado_parameter",
    "sounding_diagnostics",
    "stability_index",
    "supercell_composite_parameter",
    "surface_based_parcel",
    "total_totals_index",
]

PRESSURE = "pressure"


def _in(data: xr.DataArray, units: str) -> xr.DataArray:
    """``data`` in ``units`` (lazy; no copy when already there)."""
    if parse_units(data.attrs["units"]) == parse_units(units):
        return data
    return convert_dataarray(data, units)


def _columns(
    temperature,
    dewpoint,
    height,
    surface_pressure,
    surface_temperature,
    surface_dewpoint,
    surface_altitude,
):
    profiles = [_in(temperature, "K"), _in(dewpoint, "K"), _in(height, "m")]
    surface = [
        _in(surface_pressure, "hPa"),
        _in(surface_temperature, "K"),
        _in(surface_dewpoint, "K"),
        _in(surface_altitude, "m"),
    ]
    return profiles, surface


# ---------------------------------------------------------------------- intermediates


def dewpoint_from_relative_humidity(temperature, relative_humidity):
    """Dewpoint on pressure levels from temperature and relative humidity.

    :math:`T_d` inverts Bolton's (1980) formula at :math:`e = \\mathrm{RH}\\, e_s(T)`, with
    :math:`e_s` of Ambaum (2020) (``metpy.calc.dewpoint_from_relative_humidity``).

    References
    ----------
    Bolton, D., 1980: The computation of equivalent potential temperature. MWR 108, 1046–1053.
    """
    return pointwise(
        compute.dewpoint_from_relative_humidity,
        temperature,
        relative_humidity,
        units="K",
        dtype=np.float64,
    )


def surface_based_parcel(
    temperature,
    dewpoint,
    geopotential_height,
    surface_pressure,
    surface_temperature,
    surface_dewpoint,
    surface_altitude,
    low_level_depth,
):
    """Surface-based parcel: CAPE, CIN, LCL, LFC, EL, lifted index and 0–3 km CAPE (Dataset).

    Same steps as ``metpy.calc.surface_based_cape_cin`` (parcel profile with the LCL
    inserted, virtual-temperature correction, LFC = lowest free-convection level, EL =
    highest equilibrium level, CAPE/CIN by the trapezoid rule in ln p),

    .. math:: \\mathrm{CAPE} = R_d \\int_{EL}^{LFC} (T_{v,parcel} - T_{v,env})\\, d\\ln p,
              \\qquad \\mathrm{CIN} = R_d \\int_{LFC}^{p_{sfc}} (T_{v,parcel} - T_{v,env})\\, d\\ln p,

    computed by :func:`._parcel.surface_based_columns`. ``lifted_index`` is
    ``metpy.calc.lifted_index`` with the surface parcel (Galway 1956); ``cape_0_3km`` is the
    CAPE of the same parcel on the profile cut ``low_level_depth`` (3 km) above the ground
    (``metpy.calc.get_layer`` then ``surface_based_cape_cin``). Heights are m above the
    ground, interpolated linearly in ln p between the geopotential heights of the column.

    References
    ----------
    Doswell, C. A. and E. N. Rasmussen, 1994: The effect of neglecting the virtual
    temperature correction on CAPE calculations. Wea. Forecasting 9, 625–629.
    """
    profiles, surface = _columns(
        temperature,
        dewpoint,
        geopotential_height,
        surface_pressure,
        surface_temperature,
        surface_dewpoint,
        surface_altitude,
    )
    return _parcel.apply_columns(
        _parcel.surface_based_columns,
        _parcel.SURFACE_BASED_FIELDS,
        profiles,
        surface,
        options={"low_level_depth": magnitude(low_level_depth, "m")},
    )


def mixed_layer_parcel(
    temperature,
    dewpoint,
    geopotential_height,
    surface_pressure,
    surface_temperature,
    surface_dewpoint,
    surface_altitude,
    depth,
):
    """Mixed-layer parcel (``metpy.calc.mixed_layer_cape_cin``): Dataset of CAPE, CIN, LCL, LFC, EL.

    The parcel has the mass-weighted mean potential temperature and mixing ratio of the
    lowest ``depth`` (100 hPa) above the surface, :math:`\\bar x = \\int x\\, dp / \\Delta p`,
    and starts at the surface pressure; the profile below the top of the mixed layer is
    replaced by the parcel, as MetPy does.
    """
    profiles, surface = _columns(
        temperature,
        dewpoint,
        geopotential_height,
        surface_pressure,
        surface_temperature,
        surface_dewpoint,
        surface_altitude,
    )
    return _parcel.apply_columns(
        _parcel.mixed_layer_columns,
        _parcel.MIXED_LAYER_FIELDS,
        profiles,
        surface,
        options={"depth": magnitude(depth, "hPa")},
    )


def most_unstable_parcel(
    temperature,
    dewpoint,
    geopotential_height,
    surface_pressure,
    surface_temperature,
    surface_dewpoint,
    surface_altitude,
    depth,
):
    """Most-unstable parcel (``metpy.calc.most_unstable_cape_cin``): Dataset of CAPE, CIN, LCL, LFC, EL…

    The parcel is the level of highest equivalent potential temperature (Bolton 1980)
    within ``depth`` (300 hPa) of the surface; CIN is integrated from that level. Also
    returns the parcel's pressure, temperature, dewpoint and mixing ratio.
    """
    profiles, surface = _columns(
        temperature,
        dewpoint,
        geopotential_height,
        surface_pressure,
        surface_temperature,
        surface_dewpoint,
        surface_altitude,
    )
    return _parcel.apply_columns(
        _parcel.most_unstable_columns,
        _parcel.MOST_UNSTABLE_FIELDS,
        profiles,
        surface,
        options={"depth": magnitude(depth, "hPa")},
    )


def sounding_diagnostics(
    temperature,
    dewpoint,
    geopotential_height,
    surface_pressure,
    surface_temperature,
    surface_dewpoint,
    surface_altitude,
):
    """Other column diagnostics in one pass (Dataset).

    * ``downdraft_cape``: ``metpy.calc.downdraft_cape`` — the minimum-θe parcel of the
      700–500 hPa layer at its wet-bulb temperature, lowered moist-adiabatically:
      :math:`\\mathrm{DCAPE} = -R_d\\int_{p_{top}}^{p_{sfc}} (T_{v,env} - T_{v,parcel})\\,d\\ln p`
      (Emanuel 1994);
    * ``showalter_index``: ``metpy.calc.showalter_index``, :math:`T_{500} - T_{p,500}` for a
      parcel from 850 hPa (Showalter 1953);
    * ``wet_bulb_zero_height`` / ``freezing_level_height``: height above ground of the top of
      the lowest layer where the wet-bulb temperature (``metpy.calc.wet_bulb_temperature``)
      / the temperature is at or above 0 °C (0 m if the surface is already at or below);
    * ``convective_temperature``: ``metpy.calc.ccl(p, T, Td)[2]``, the surface temperature
      that makes the surface parcel reach the (top) convective condensation level dry
      adiabatically;
    * ``lapse_rate_700_500`` (K km⁻¹) and ``temperature_500`` for the hail parameter.
    """
    profiles, surface = _columns(
        temperature,
        dewpoint,
        geopotential_height,
        surface_pressure,
        surface_temperature,
        surface_dewpoint,
        surface_altitude,
    )
    return _parcel.apply_columns(_parcel.profile_columns, _parcel.PROFILE_FIELDS, profiles, surface)


# --------------------------------------------------------------------- parcel fields


def convective_available_potential_energy(cape):
    """CAPE of a parcel ascent [J kg⁻¹] (a field of a parcel intermediate; MetPy ``cape_cin``)."""
    return with_units(cape, cape.attrs["units"])


def convective_inhibition(cin):
    """CIN of a parcel ascent [J kg⁻¹], zero or negative as in MetPy ``cape_cin``."""
    return with_units(cin, cin.attrs["units"])


def downdraft_convective_available_potential_energy(downdraft_cape):
    """Downdraft CAPE [J kg⁻¹] (``metpy.calc.downdraft_cape``, Emanuel 1994)."""
    return with_units(downdraft_cape, downdraft_cape.attrs["units"])


def height_above_ground(height):
    """A level's height above the ground [m] (LCL, LFC, EL, wet-bulb zero), NaN where it does not exist."""
    return with_units(height, height.attrs["units"])


def stability_index(index):
    """A parcel stability index, :math:`T_{500} - T_{parcel,500}` [K] (lifted or Showalter index)."""
    return with_units(index, index.attrs["units"])


def convective_temperature(temperature):
    """Convective temperature (``metpy.calc.ccl``), the surface temperature needed for free convection."""
    return with_units(temperature, temperature.attrs["units"])


# ------------------------------------------------------- MetPy indices on the levels


def _on_levels(function, profiles, *, units, surface=(), dim=PRESSURE, **keywords):
    """Run a vectorized MetPy index on pressure-level profiles, lazily.

    The four level indices (K, total totals, SWEAT, Gálvez–Davison) are MetPy's
    formulas on the levels every column shares (:func:`_interpolated_to_pressures`),
    equal to MetPy's functions bit for bit (tested), at a quarter of their time.

    Profiles reach ``function`` with the vertical axis first (MetPy's ``vertical_dim=0``)
    as pint quantities, preceded by the pressure levels [hPa]; ``surface`` arrays follow.
    """
    levels = _parcel.pressure_levels_hpa(profiles[0][dim])
    profile_units = [parse_units(a.attrs["units"]) for a in profiles]
    surface_units = [parse_units(a.attrs["units"]) for a in surface]
    target = parse_units(units)
    profiles = [a.chunk({dim: -1}) if a.chunks is not None else a for a in profiles]

    def block(*blocks):
        count = len(profile_units)
        values = [
            unit_registry.Quantity(np.moveaxis(np.asarray(b, dtype=np.float64), -1, 0), u)
            for b, u in zip(blocks[:count], profile_units, strict=True)
        ]
        extra = [
            unit_registry.Quantity(np.asarray(b, dtype=np.float64), u)
            for b, u in zip(blocks[count:], surface_units, strict=True)
        ]
        pressure = unit_registry.Quantity(
            levels.reshape((-1,) + (1,) * (values[0].ndim - 1)), "hPa"
        )
        result = function(pressure, *values, *extra, **keywords)
        if hasattr(result, "units"):
            result = result.m_as(target)
        result = np.asarray(result, dtype=np.float32)
        if result.ndim == values[0].ndim:  # a length-1 interpolated level axis (sweat_index)
            result = result[0]
        return np.broadcast_to(result, values[0].shape[1:])

    out = xr.apply_ufunc(
        block,
        *profiles,
        *surface,
        input_core_dims=[[dim]] * len(profiles) + [[]] * len(surface),
        dask="parallelized",
        output_dtypes=[np.float32],
        keep_attrs=False,
    )
    return with_units(out, units)


def _interpolated_to_pressures(targets_hpa, pressure, *profiles):
    """``metpy.interpolate.interpolate_1d(targets, pressure, *profiles, axis=0)`` for profiles
    that share their pressure levels (``pressure`` of shape ``(levels, 1, …)``): a list, per
    profile, of its values at each target (axis 0, in the order of ``targets_hpa``).

    MetPy's function allows every column its own levels, so it sorts each column and
    searches each one in a Python loop (``numpy.apply_along_axis``): ~0.5 s a call on the
    0.2° demo's 152,520 columns, a K index 0.65 s and a SWEAT index 1.6 s. Shared levels
    are sorted and searched once; each value is then MetPy's arithmetic, in its order
    (:math:`v_b + (v_a - v_b)\\,(x - p_b)/(p_a - p_b)` between the levels below and above,
    the first or last pair at the ends, NaN outside the levels), so the values are
    MetPy's (a test compares them bit for bit).
    """
    levels = np.asarray(pressure.m_as("hPa"), dtype=np.float64).reshape(-1)
    targets = np.asarray(targets_hpa, dtype=np.float64).reshape(-1)
    order = np.argsort(levels)
    ascending = levels[order]
    target_order = np.argsort(targets)
    wanted = targets[target_order]
    above = np.searchsorted(ascending, wanted)
    clipped = np.clip(above, 1, levels.size - 1)
    shape = (-1,) + (1,) * (profiles[0].ndim - 1)
    below_p = ascending[clipped - 1].reshape(shape)
    above_p = ascending[clipped].reshape(shape)
    fraction = (wanted.reshape(shape) - below_p) / (above_p - below_p)
    outside = ((above == levels.size).reshape(shape)) | (wanted.reshape(shape) < below_p)
    results = []
    for profile in profiles:
        below_v = profile[order[clipped - 1]]
        above_v = profile[order[clipped]]
        values = below_v + (above_v - below_v) * fraction
        values = unit_registry.Quantity(
            np.where(np.broadcast_to(outside, values.shape), np.nan, values.m), values.units
        )
        if targets[0] > targets[-1]:
            values = values[::-1]
        results.append(values)
    return results


def _k_index(pressure, temperature, dewpoint):
    """``metpy.calc.k_index`` on levels shared by every column (:func:`_interpolated_to_pressures`)."""
    (t850, t700, t500), (td850, td700, _) = _interpolated_to_pressures(
        (850, 700, 500), pressure, temperature, dewpoint
    )
    return ((t850 - t500) + td850 - (t700 - td700)).to("degC")


def _total_totals(pressure, temperature, dewpoint):
    """``metpy.calc.total_totals_index`` on shared levels (:func:`_interpolated_to_pressures`)."""
    (t850, t500), (td850, _) = _interpolated_to_pressures(
        (850, 500), pressure, temperature, dewpoint
    )
    return (t850 - t500) + (td850 - t500)


def k_index(temperature, dewpoint):
    """K index (George 1960), ``metpy.calc.k_index``'s values on the pressure levels [°C].

    .. math:: K = (T_{850} - T_{500}) + T_{d,850} - (T_{700} - T_{d,700})

    Uses the 850/700/500 hPa analyses as given (models extrapolate below the ground).

    References
    ----------
    George, J. J., 1960: Weather Forecasting for Aeronautics. Academic Press, 673 pp.
    """
    return _on_levels(_k_index, [temperature, dewpoint], units="degC")


def total_totals_index(temperature, dewpoint):
    """Total totals index (Miller 1972), ``metpy.calc.total_totals_index``'s values [K].

    .. math:: TT = (T_{850} - T_{500}) + (T_{d,850} - T_{500})

    References
    ----------
    Miller, R. C., 1972: Notes on analysis and severe-storm forecasting procedures of the
    Air Force Global Weather Central. AWS Tech. Rep. 200 (Rev.), 190 pp.
    """
    return _on_levels(_total_totals, [temperature, dewpoint], units="K")


def _sweat(pressure, temperature, dewpoint, eastward_wind, northward_wind):
    """``metpy.calc.sweat_index`` (speeds in knots) on shared levels
    (:func:`_interpolated_to_pressures`), term by term as MetPy computes it."""
    speed = mpcalc.wind_speed(eastward_wind, northward_wind).to("knot")
    direction = mpcalc.wind_direction(eastward_wind, northward_wind)
    (td850,) = _interpolated_to_pressures((850,), pressure, dewpoint)
    totals = _total_totals(pressure, temperature, dewpoint)
    (f850, f500), (dd850, dd500) = _interpolated_to_pressures(
        (850, 500), pressure, speed, direction
    )
    degree, knot = unit_registry.Quantity(1, "degree"), unit_registry.Quantity(1, "knot")
    dewpoint_term = 12 * np.clip(td850.m_as("degC"), 0, None)
    totals_term = 20 * np.clip(totals.m_as("delta_degC") - 49, 0, None)
    veering = (
        (130 * degree <= dd850)
        & (dd850 <= 250 * degree)
        & (210 * degree <= dd500)
        & (dd500 <= 310 * degree)
        & (dd500 - dd850 > 0)
        & (f850 >= 15 * knot)
        & (f500 >= 15 * knot)
    )
    shear_term = np.atleast_1d(125 * (np.sin(dd500 - dd850) + 0.2))
    shear_term[~veering] = 0
    return dewpoint_term + totals_term + (2 * f850.m) + f500.m + shear_term


def severe_weather_threat_index(temperature, dewpoint, eastward_wind, northward_wind):
    """SWEAT index (Miller 1972), ``metpy.calc.sweat_index``'s values with winds in knots.

    .. math:: SWEAT = 12\\,T_{d,850} + 20\\,(TT - 49) + 2 f_{850} + f_{500} + 125\\,(S + 0.2)

    with :math:`T_{d,850}` in °C (term 0 if negative), the TT term 0 below 49, speeds
    :math:`f` in knots and the shear term :math:`S = \\sin(dd_{500} - dd_{850})` kept only if
    dd₈₅₀ ∈ [130°, 250°], dd₅₀₀ ∈ [210°, 310°], dd₅₀₀ > dd₈₅₀ and both speeds ≥ 15 kt.
    """
    return _on_levels(_sweat, [temperature, dewpoint, eastward_wind, northward_wind], units="1")


def _galvez_davison(pressure, temperature, relative_humidity, surface_pressure):
    """``metpy.calc.galvez_davison_index`` on shared levels (:func:`_interpolated_to_pressures`),
    term by term as MetPy computes it, the mixing ratio from relative humidity (MetPy)."""
    if pressure.m_as("hPa").max() < 950:
        raise InputError("galvez_davison_index needs pressure levels at or below 950 hPa")
    mixing_ratio = mpcalc.mixing_ratio_from_relative_humidity(
        pressure, temperature, relative_humidity
    )
    theta = mpcalc.potential_temperature(pressure, temperature)
    (t950, t850, t700, t500), (r950, r850, r700, r500), (th950, th850, th700, th500) = (
        _interpolated_to_pressures(
            (950, 850, 700, 500), pressure, temperature.to("K"), mixing_ratio, theta.to("K")
        )
    )
    kelvin = unit_registry.Quantity(1, "K")
    latent_heat = unit_registry.Quantity(2.69e6, "J/kg")  # the paper's L, not MetPy's Lv
    heat_capacity = metpy.constants.Cp_d
    # adjusted equivalent potential temperatures of the boundary layer, the trade-wind
    # inversion layer (with its -10 K offset) and the mid troposphere
    theta_e_low = th950 * np.exp(latent_heat * r950 / (heat_capacity * t850))
    theta_e_inversion = (th850 + th700) / 2 * np.exp(
        latent_heat * (r850 + r700) / 2 / (heat_capacity * t850)
    ) + (-10 * kelvin)
    theta_e_mid = th500 * np.exp(latent_heat * r500 / (heat_capacity * t850)) + (-10 * kelvin)
    low_excess = theta_e_low - 303 * kelvin
    mid_excess = theta_e_mid - 303 * kelvin
    column_buoyancy = np.atleast_1d(
        unit_registry.Quantity(6.5e-2, "1/K^2") * low_excess * mid_excess
    )
    column_buoyancy[low_excess <= 0] = 0
    warm_excess = t500 - 263.15 * kelvin
    mid_warming = np.atleast_1d(unit_registry.Quantity(-7, "1/K") * warm_excess)
    mid_warming[warm_excess <= 0] = 0
    stability = (t950 - t700) + (theta_e_inversion - theta_e_low)
    inversion = np.atleast_1d(unit_registry.Quantity(1.5, "1/K") * stability)
    inversion[stability >= 0] = 0
    terrain = 18 - 9000 / (surface_pressure.m_as("hPa") - 500)
    return column_buoyancy + mid_warming + inversion + terrain


def galvez_davison_index(temperature, relative_humidity, surface_pressure):
    """Gálvez–Davison index for tropical convection, ``metpy.calc.galvez_davison_index``'s values.

    :math:`GDI = CBI + MWI + II + TC` from the 950, 850, 700 and 500 hPa temperatures and
    mixing ratios (from relative humidity, ``metpy.calc.mixing_ratio_from_relative_humidity``)
    with the terrain correction :math:`TC = 18 - 9000/(p_{sfc} - 500\\,\\mathrm{hPa})`.

    References
    ----------
    Gálvez, J. M. and M. Davison, 2016: The Gálvez–Davison index for tropical convection.
    NOAA/NWS/NCEP Weather Prediction Center, 23 pp.
    """
    return _on_levels(
        _galvez_davison, [temperature, relative_humidity], surface=[surface_pressure], units="1"
    )


def equivalent_potential_temperature_deficit(
    temperature,
    dewpoint,
    surface_pressure,
    surface_temperature,
    surface_dewpoint,
    layer_bottom,
    layer_top,
):
    """θe deficit: surface θe minus the lowest θe between ``layer_bottom`` and ``layer_top`` [K].

    .. math:: \\Delta\\theta_e = \\theta_e(p_{sfc}, T_{2m}, T_{d,2m}) - \\min_{p_{top} \\le p \\le p_{bottom}} \\theta_e(p)

    θe of Bolton (1980) (``metpy.calc.equivalent_potential_temperature``) on the pressure
    levels of the layer that are above the ground; a large deficit (dry mid-levels over a
    moist boundary layer) favours strong convective downdrafts (wet microbursts).

    References
    ----------
    Atkins, N. T. and R. M. Wakimoto, 1991: Wet microburst activity over the southeastern
    United States: implications for forecasting. Wea. Forecasting 6, 470–482.
    """
    bottom = magnitude(layer_bottom, "hPa")
    top = magnitude(layer_top, "hPa")
    levels = temperature[PRESSURE]
    pressure = xr.DataArray(
        _parcel.pressure_levels_hpa(levels),
        dims=[PRESSURE],
        coords={PRESSURE: levels},
        attrs={"units": "hPa"},
    )
    theta_levels = pointwise(
        mpcalc.equivalent_potential_temperature, pressure, temperature, dewpoint, units="K"
    )
    psfc = _in(surface_pressure, "hPa")
    in_layer = (pressure <= bottom) & (pressure >= top) & (pressure < psfc)
    lowest = minimum_over(theta_levels.where(in_layer), PRESSURE)
    theta_surface = pointwise(
        mpcalc.equivalent_potential_temperature,
        surface_pressure,
        surface_temperature,
        surface_dewpoint,
        units="K",
    )
    return with_units(theta_surface - lowest, "K")


# ----------------------------------------------------------------------- composites


def _speed(eastward, northward):
    return with_units(np.hypot(eastward, northward), eastward.attrs["units"])


def significant_tornado_parameter(cape, lcl_height, helicity, shear_eastward, shear_northward):
    """Significant tornado parameter, fixed layer (``metpy.calc.significant_tornado``).

    .. math:: STP = \\frac{\\mathrm{SBCAPE}}{1500} \\cdot \\frac{2000 - \\mathrm{LCL}}{1000}
              \\cdot \\frac{\\mathrm{SRH}_{0-1}}{150} \\cdot \\frac{\\mathrm{BWD}_{0-6}}{20}

    LCL term 1 below 1000 m and 0 above 2000 m; shear term 0 below 12.5 m s⁻¹, capped at
    1.5 above 30 m s⁻¹ (Thompson et al. 2004, SPC mesoanalysis; no CIN term).

    References
    ----------
    Thompson, R. L., R. Edwards and C. M. Mead, 2004: An update to the supercell composite
    and significant tornado parameters. 22nd Conf. Severe Local Storms, P8.1.
    """
    shear = _speed(shear_eastward, shear_northward)
    return pointwise(mpcalc.significant_tornado, cape, lcl_height, helicity, shear, units="1")


def supercell_composite_parameter(cape, helicity, shear_eastward, shear_northward):
    """Supercell composite parameter (``metpy.calc.supercell_composite``), fixed layers.

    .. math:: SCP = \\frac{\\mathrm{MUCAPE}}{1000} \\cdot \\frac{\\mathrm{SRH}}{50} \\cdot \\frac{\\mathrm{BWD}}{20}

    shear term 0 below 10 m s⁻¹ and capped at 20 m s⁻¹ (Thompson et al. 2004). The
    effective-layer SRH and bulk shear of the original are replaced by 0–3 km SRH (Bunkers
    right mover) and 0–6 km bulk shear, since the effective inflow layer is not computed.
    """
    shear = _speed(shear_eastward, shear_northward)
    return pointwise(mpcalc.supercell_composite, cape, helicity, shear, units="1")


def _ship(cape, mixing_ratio, lapse_rate, temperature_500, freezing_level, shear):
    """SHARPlib's ``significant_hail_parameter`` on plain arrays (SI; lapse rate K/km)."""
    mixing_ratio = np.clip(mixing_ratio * 1000.0, 11.0, 13.6)
    shear = np.clip(shear, 7.0, 27.0)
    t500 = np.minimum(temperature_500 - 273.15, -5.5)
    ship = cape * mixing_ratio * lapse_rate * -t500 * shear / 42.0e6
    ship = np.where(cape < 1300.0, ship * cape / 1300.0, ship)
    ship = np.where(lapse_rate < 5.8, ship * lapse_rate / 5.8, ship)
    return np.where(freezing_level < 2400.0, ship * freezing_level / 2400.0, ship)


def significant_hail_parameter(
    cape,
    mixing_ratio,
    lapse_rate,
    temperature_500,
    freezing_level_height,
    shear_eastward,
    shear_northward,
):
    """Significant hail parameter SHIP (SPC; SHARPlib ``significant_hail_parameter``).

    .. math:: SHIP = \\frac{\\mathrm{MUCAPE}\\; r_{MU}\\; \\Gamma_{700-500}\\; (-T_{500})\\; \\mathrm{BWD}_{0-6}}{4.2\\times 10^{7}}

    with MUCAPE in J kg⁻¹, the most-unstable parcel's mixing ratio :math:`r_{MU}` in g kg⁻¹
    clamped to 11–13.6, the 700–500 hPa lapse rate in K km⁻¹, :math:`T_{500}` in °C capped
    at −5.5, the 0–6 km shear in m s⁻¹ clamped to 7–27; then ×MUCAPE/1300 if MUCAPE < 1300,
    ×Γ/5.8 if Γ < 5.8 K km⁻¹ and ×FZL/2400 if the freezing level is below 2400 m AGL.

    References
    ----------
    Halbert, K. T., SHARPlib (NWS Storm Prediction Center), ``params/convective.cpp``.
    """
    shear = _speed(shear_eastward, shear_northward)
    arrays = [
        _in(cape, "J kg-1"),
        _in(mixing_ratio, "kg kg-1"),
        _in(lapse_rate, "K km-1"),
        _in(temperature_500, "K"),
        _in(freezing_level_height, "m"),
        _in(shear, "m s-1"),
    ]
    out = elementwise(_ship, *arrays, keep_attrs=False)
    return with_units(out, "1")


def derecho_composite_parameter(
    downdraft_cape, cape, shear_eastward, shear_northward, mean_wind_eastward, mean_wind_northward
):
    """Derecho composite parameter (Evans and Doswell 2001; SPC, SHARPpy ``dcp``).

    .. math:: DCP = \\frac{\\mathrm{DCAPE}}{980} \\cdot \\frac{\\mathrm{MUCAPE}}{2000}
              \\cdot \\frac{\\mathrm{BWD}_{0-6}}{20\\,\\mathrm{kt}} \\cdot \\frac{\\bar V_{0-6}}{16\\,\\mathrm{kt}}

    with the 0–6 km mean wind of the Bunkers method (``weighted_continuous_average``).

    References
    ----------
    Evans, J. S. and C. A. Doswell III, 2001: Examination of derecho environments using
    proximity soundings. Wea. Forecasting 16, 329–342.
    """
    shear = _in(_speed(shear_eastward, shear_northward), "m s-1")
    wind = _in(_speed(mean_wind_eastward, mean_wind_northward), "m s-1")
    knots_20 = quantity(20, "knot").m_as("m s-1")
    knots_16 = quantity(16, "knot").m_as("m s-1")
    value = (
        (_in(downdraft_cape, "J kg-1") / 980.0)
        * (_in(cape, "J kg-1") / 2000.0)
        * (shear / knots_20)
        * (wind / knots_16)
    )
    return with_units(value, "1")


def energy_helicity_index(cape, helicity):
    """Energy–helicity index, :math:`EHI = \\mathrm{CAPE}\\cdot\\mathrm{SRH}/160000` (SHARPlib).

    References
    ----------
    Hart, J. A. and W. Korotky, 1991: The SHARP workstation v1.50 users guide. NOAA/NWS.
    """
    value = _in(cape, "J kg-1") * _in(helicity, "m2 s-2") / 160000.0
    return with_units(value, "1")
