"""Agro-meteorological service products: degree days and accumulated temperature, reference
evapotranspiration (FAO-56 Penman–Monteith, Hargreaves), the climatic water balance, chill
units, the South-China crop hazards (rice heat damage, 寒露风, chilling of tropical crops)
and the livestock temperature–humidity index.

Period products follow :func:`._sector.period_index` (dimension ``period``); daily ones keep
the ``day`` labels of the daily products they are built from. Hourly inputs reduced to days
here use the day definition read from those labels.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from weatherdata.compute import daily, pointwise, with_units
from weatherdata.units import convert_dataarray

from ._sector import (
    as_series,
    back_to_days,
    converted,
    day_definition,
    latitude,
    period_index,
    whole_days,
    xclim,
)

__all__ = [
    "active_accumulated_temperature",
    "chill_units",
    "climatic_water_balance",
    "cold_dew_wind_days",
    "growing_degree_days",
    "hargreaves_reference_evapotranspiration",
    "livestock_temperature_humidity_index",
    "reference_evapotranspiration",
    "rice_heat_damage_days",
    "tropical_crop_chilling_degree_days",
]


def growing_degree_days(mean_temperature, base, period):
    """Growing degree days (有效积温) above ``base`` (10 °C), per period:

    .. math:: GDD = \\sum_d \\max(T_d - T_b, 0)

    (xclim ``growing_degree_days``).

    References
    ----------
    xclim (Bourgault et al. 2023); McMaster, G. S. and W. W. Wilhelm, 1997: Growing degree-
    days: one equation, two interpretations. Agric. For. Meteor. 87, 291–300.
    """
    out = period_index(
        xclim().growing_degree_days,
        period,
        {"tas": (mean_temperature, "degC", "degC")},
        thresh=f"{base.m_as('degC')} degC",
    )
    return converted(out, "K d")


def active_accumulated_temperature(mean_temperature, threshold, period):
    """Active accumulated temperature (活动积温) ≥ ``threshold`` (10 °C), per period:

    .. math:: \\sum_d T_d\\,[T_d \\ge T_b]

    the sum of the daily mean temperatures (°C) of the days at or above the threshold
    (Chinese agroclimatic convention; no library has it). In K·d (degree-days above 0 °C).

    References
    ----------
    中国农业气象业务规范 / agroclimatic zoning practice (active accumulated temperature
    ≥ 10 °C) — recalled, not read.
    """

    def accumulate(tas, freq):
        active = tas.where(tas >= threshold.m_as("degC"), 0.0)
        return active.resample(time=freq).sum()

    out = period_index(accumulate, period, {"tas": (mean_temperature, "degC", "degC")})
    return with_units(out, "K d")


def _daily_mean(data: xr.DataArray, template: xr.DataArray, units: str) -> xr.DataArray:
    """Daily mean of an hourly input on the days of the daily product ``template``."""
    return daily(convert_dataarray(data, units), "mean", day=day_definition(template))


def reference_evapotranspiration(
    minimum_temperature,
    maximum_temperature,
    relative_humidity,
    shortwave_down,
    longwave_down,
    albedo,
    temperature,
    wind_speed,
    surface_emissivity,
):
    """FAO-56 Penman–Monteith reference evapotranspiration ET₀ (mm/day), xclim
    ``potential_evapotranspiration(method="FAO_PM98")``:

    .. math::

        ET_0 = \\frac{0.408\\,\\Delta (R_n - G) + \\gamma \\frac{900}{T + 273} u_2 (e_s - e_a)}
                    {\\Delta + \\gamma (1 + 0.34\\,u_2)}

    with daily :math:`T_{min}, T_{max}`, the daily mean relative humidity, the 10 m wind
    reduced to 2 m by the FAO log law, and the net radiation
    :math:`R_n = (1 - \\alpha) SW_\\downarrow + LW_\\downarrow - \\varepsilon\\sigma T^4`
    from daily mean fluxes (surface albedo α, ``surface_emissivity`` ε, 2 m air
    temperature for the surface), :math:`G = 0`. xclim uses a constant
    :math:`\\gamma = 0.665\\times10^{-3} \\times 101.325` kPa/K (sea-level pressure).

    References
    ----------
    Allen, R. G., L. S. Pereira, D. Raes and M. Smith, 1998: Crop evapotranspiration —
    Guidelines for computing crop water requirements. FAO Irrigation and Drainage Paper 56.
    """
    tmin, tmax = xr.align(minimum_temperature, maximum_temperature, join="exact")
    emissivity = float(getattr(surface_emissivity, "m", surface_emissivity))
    sigma = 5.670374419e-8
    kelvin = convert_dataarray(temperature, "K")
    upward_longwave = with_units(emissivity * sigma * kelvin**4, "W m-2")
    sw = _daily_mean(shortwave_down, tmin, "W m-2")
    fields = {
        "hurs": (_daily_mean(relative_humidity, tmin, "percent"), "percent", "%"),
        "rsds": (sw, "W m-2", "W m-2"),
        "rsus": (with_units(sw * convert_dataarray(albedo, "1"), "W m-2"), "W m-2", "W m-2"),
        "rlds": (_daily_mean(longwave_down, tmin, "W m-2"), "W m-2", "W m-2"),
        "rlus": (_daily_mean(upward_longwave, tmin, "W m-2"), "W m-2", "W m-2"),
        "sfcWind": (_daily_mean(wind_speed, tmin, "m s-1"), "m s-1", "m s-1"),
        "tasmin": (tmin, "degC", "degC"),
        "tasmax": (tmax, "degC", "degC"),
    }
    series = {name: as_series(*spec) for name, spec in fields.items()}
    series = dict(zip(series, xr.align(*series.values(), join="inner"), strict=True))
    rate = xclim().potential_evapotranspiration(**series, lat=latitude(tmin), method="FAO_PM98")
    rate = xclim("xclim.core.units").convert_units_to(rate, "mm/d", context="hydro")
    return back_to_days(rate, tmin["day"], "mm/d")


def hargreaves_reference_evapotranspiration(minimum_temperature, maximum_temperature):
    """Hargreaves (1985) reference evapotranspiration (mm/day), xclim
    ``potential_evapotranspiration(method="HG85")``:

    .. math:: ET_0 = 0.0023\\,(0.408\\,R_a)\\,(\\bar T + 17.8)\\,\\sqrt{T_{max} - T_{min}}

    with the extraterrestrial radiation :math:`R_a` (MJ m⁻² d⁻¹) from latitude and day of
    year and :math:`\\bar T = (T_{max} + T_{min})/2`.

    References
    ----------
    Hargreaves, G. H. and Z. A. Samani, 1985: Reference crop evapotranspiration from
    temperature. Appl. Eng. Agric. 1, 96–99.
    """
    tmin, tmax = xr.align(minimum_temperature, maximum_temperature, join="exact")
    rate = xclim().potential_evapotranspiration(
        tasmin=as_series(tmin, "degC"),
        tasmax=as_series(tmax, "degC"),
        lat=latitude(tmin),
        method="HG85",
    )
    rate = xclim("xclim.core.units").convert_units_to(rate, "mm/d", context="hydro")
    return back_to_days(rate, tmin["day"], "mm/d")


def climatic_water_balance(precipitation, evapotranspiration):
    """Daily climatic water balance (水分盈亏) :math:`P - ET_0` (mm/day), xclim
    ``water_budget`` with the FAO-56 reference evapotranspiration.

    References
    ----------
    Vicente-Serrano et al., 2010 (the water balance of SPEI); Allen et al., 1998 (ET₀).
    """
    rain, demand = xr.align(precipitation, evapotranspiration, join="exact")
    balance = xclim().water_budget(
        pr=as_series(rain, "mm", "mm/d"), evspsblpot=as_series(demand, "mm/d")
    )
    balance = xclim("xclim.core.units").convert_units_to(balance, "mm/d", context="hydro")
    return back_to_days(balance, rain["day"], "mm/d")


def chill_units(temperature, period):
    """Chill units of the Utah model (需冷量), summed over each period from hourly
    temperature (xclim ``chill_units``): per hour 0 at ≤ 1.4 °C, 0.5 to 2.4, 1 to 9.1,
    0.5 to 12.4, 0 to 15.9, −0.5 to 17.9, −1 above (°C). A period with a missing hour is
    missing.

    References
    ----------
    Richardson, E. A., S. D. Seeley and D. R. Walker, 1974: A model for estimating the
    completion of rest for 'Redhaven' and 'Elberta' peach trees. HortScience 9, 331–332.
    """
    tas = convert_dataarray(temperature, "degC")
    tas.attrs = {"units": "degC"}
    units = xclim().chill_units(tas, freq=period)
    incomplete = tas.isnull().resample(time=period).any()
    units = units.where(~incomplete)
    return with_units(units.transpose("time", ...).rename(time="period"), "1")


def rice_heat_damage_days(maximum_temperature, threshold, minimum_length, period):
    """Days of rice high-temperature damage (水稻高温热害): days in runs of at least
    ``minimum_length`` (3) days with :math:`T_{max} \\ge` ``threshold`` (35 °C), per
    period (xclim ``hot_spell_total_length``).

    References
    ----------
    Chinese agro-meteorological practice for 水稻高温热害 at heading and flowering
    (35 °C for 3 days) — recalled, not read.
    """
    out = period_index(
        xclim().hot_spell_total_length,
        period,
        {"tasmax": (maximum_temperature, "degC", "degC")},
        thresh=f"{threshold.m_as('degC')} degC",
        window=whole_days(minimum_length),
        op=">=",
    )
    return converted(out, "day")


def cold_dew_wind_days(mean_temperature, threshold, minimum_length, months, period):
    """Days of 'cold dew wind' (寒露风) for late rice: days in runs of at least
    ``minimum_length`` (3) days with daily mean temperature :math:`\\le` ``threshold``
    (22 °C for indica, 20 °C for japonica) within the heading months ``months``
    (September–October), per period (xclim ``cold_spell_days``; days outside the months
    never count).

    References
    ----------
    South-China agro-meteorological practice for 寒露风 (indica 22 °C, japonica 20 °C,
    3 days) — recalled, not read.
    """
    wanted = [int(getattr(m, "m", m)) for m in months]

    def in_season(tas, freq, thresh, window, op):
        inside = tas["time"].dt.month.isin(wanted)
        warm = tas.where(inside, np.float64(1.0e3))
        warm.attrs = tas.attrs
        return xclim().cold_spell_days(warm, thresh=thresh, window=window, freq=freq, op=op)

    out = period_index(
        in_season,
        period,
        {"tas": (mean_temperature, "degC", "degC")},
        thresh=f"{threshold.m_as('degC')} degC",
        window=whole_days(minimum_length),
        op="<=",
    )
    return converted(out, "day")


def tropical_crop_chilling_degree_days(minimum_temperature, critical_temperature, period):
    """Chilling degree days of tropical crops (热带作物寒害积寒): the accumulated deficit of
    the daily minimum temperature below the critical temperature :math:`T_c` (5 °C for
    banana, lychee, papaya), per period:

    .. math:: \\sum_d \\max(T_c - T_{min,d}, 0)

    (xclim ``heating_degree_days`` applied to the daily minimum).

    References
    ----------
    South-China tropical-crop cold-damage practice (critical 5 °C) — recalled, not read.
    """
    out = period_index(
        xclim().heating_degree_days,
        period,
        {"tas": (minimum_temperature, "degC", "degC")},
        thresh=f"{critical_temperature.m_as('degC')} degC",
    )
    return converted(out, "K d")


def livestock_temperature_humidity_index(temperature, relative_humidity):
    """Livestock temperature–humidity index (畜禽温湿指数):

    .. math:: THI = (1.8\\,T + 32) - (0.55 - 0.0055\\,RH)(1.8\\,T - 26.8)

    with T in °C and RH in % — the NRC (1971) index
    :math:`T_F - (0.55 - 0.0055\\,RH)(T_F - 58)` in the form of Dikmen & Hansen (2009) and
    Dunn et al. (2014). Common heat-stress classes for dairy cattle: < 72 none, 72–78 mild,
    79–88 moderate, 89–98 severe, > 98 danger.

    References
    ----------
    National Research Council, 1971: A guide to environmental research on animals.
    National Academy of Sciences, Washington DC. Dikmen, S. and P. J. Hansen, 2009: Is the
    temperature-humidity index the best indicator of heat stress in lactating dairy cows in
    a subtropical environment? J. Dairy Sci. 92, 109–116. Dunn, R. J. H., N. E. Mead,
    K. M. Willett and D. E. Parker, 2014: Analysis of heat stress in UK dairy cattle and
    impact on milk yields. Environ. Res. Lett. 9, 064006.
    """

    def kernel(t, rh):
        celsius = t.m_as("degC")
        return (1.8 * celsius + 32.0) - (0.55 - 0.0055 * rh.m_as("percent")) * (
            1.8 * celsius - 26.8
        )

    return pointwise(kernel, temperature, relative_humidity, units="1")
