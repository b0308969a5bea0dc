"""Energy and transport service products: heating and cooling degree days, wind and solar
power potential, moist-air enthalpy, road icing, aviation flight categories, runway
crosswind and highway low-visibility grades.
"""

from __future__ import annotations

import metpy.calc as mpcalc
import numpy as np
import xarray as xr

from weatherdata.compute import elementwise, pointwise, quantity, rolling_window, with_units
from weatherdata.units import convert_dataarray

from ._sector import converted, period_index, xclim

__all__ = [
    "cooling_degree_days",
    "flight_category",
    "heating_degree_days",
    "highway_low_visibility_grade",
    "moist_air_enthalpy",
    "photovoltaic_power_potential",
    "road_icing_risk_level",
    "runway_crosswind_component",
    "wind_power_potential",
]


def _number(value) -> float:
    return float(getattr(value, "m", value))


def heating_degree_days(mean_temperature, base, period):
    """Heating degree days (采暖度日) below ``base`` (18 °C), per period:

    .. math:: HDD = \\sum_d \\max(T_b - T_d, 0)

    (xclim ``heating_degree_days``).

    References
    ----------
    xclim (Bourgault et al. 2023); GB 50176-2016 民用建筑热工设计规范 (HDD18).
    """
    out = period_index(
        xclim().heating_degree_days,
        period,
        {"tas": (mean_temperature, "degC", "degC")},
        thresh=f"{base.m_as('degC')} degC",
    )
    return converted(out, "K d")


def cooling_degree_days(mean_temperature, base, period):
    """Cooling degree days (空调度日) above ``base`` (26 °C, the Chinese building-climate
    convention CDD26), per period:

    .. math:: CDD = \\sum_d \\max(T_d - T_b, 0)

    (xclim ``cooling_degree_days``).

    References
    ----------
    xclim (Bourgault et al. 2023); GB 50176-2016 民用建筑热工设计规范 (CDD26).
    """
    out = period_index(
        xclim().cooling_degree_days,
        period,
        {"tas": (mean_temperature, "degC", "degC")},
        thresh=f"{base.m_as('degC')} degC",
    )
    return converted(out, "K d")


def _air_density(pressure, temperature, dewpoint):
    mixing = mpcalc.mixing_ratio(mpcalc.saturation_vapor_pressure(dewpoint), pressure)
    return mpcalc.density(pressure, temperature, mixing)


def wind_power_potential(
    wind_speed,
    pressure,
    temperature,
    dewpoint,
    hub_height,
    reference_height,
    shear_exponent,
    cut_in,
    rated,
    cut_out,
):
    """Wind power production factor (0–1) of an idealized turbine at hub height.

    The 10 m wind is extrapolated with the power law :math:`v = v_r (h/h_r)^{\\alpha}`
    (xclim ``wind_profile``), scaled for air density
    :math:`v_n = v(\\rho/1.225\\,\\mathrm{kg\\,m^{-3}})^{1/3}` (ρ from MetPy ``density`` with
    the moist mixing ratio), and passed through the power curve of xclim
    ``wind_power_potential``: 0 below cut-in, :math:`(v^3 - u_i^3)/(u_r^3 - u_i^3)` up to
    rated, 1 up to cut-out, 0 above.

    References
    ----------
    Tobin, I. et al., 2018: Vulnerabilities and resilience of European power generation to
    1.5 °C, 2 °C and 3 °C warming. Environ. Res. Lett. 13, 044024; xclim
    ``wind_profile``/``wind_power_potential``.
    """
    indices = xclim()
    speed = convert_dataarray(wind_speed, "m s-1")
    speed.attrs = {"units": "m s-1"}
    at_hub = indices.wind_profile(
        speed,
        h=f"{hub_height.m_as('m')} m",
        h_r=f"{reference_height.m_as('m')} m",
        method="power_law",
        alpha=_number(shear_exponent),
    )
    density = pointwise(_air_density, pressure, temperature, dewpoint, units="kg m-3")
    curve = {
        "cut_in": f"{cut_in.m_as('m s-1')} m/s",
        "rated": f"{rated.m_as('m s-1')} m/s",
        "cut_out": f"{cut_out.m_as('m s-1')} m/s",
    }

    # xclim's density scaling, applied here: its unit check of `air_density` fails in
    # xclim 0.62 ("[air_density]" is not a defined dimension).
    normalized = at_hub * (density / 1.225) ** (1.0 / 3.0)

    def kernel(v):
        v = np.asarray(v, np.float64)
        missing = np.isnan(v)
        # Missing speeds stay missing; xclim's curve is given only numbers (its compiled
        # comparison warns "invalid value" on NaN).
        speeds = xr.DataArray(np.where(missing, 0.0, v), attrs={"units": "m s-1"})
        factor = indices.wind_power_potential(speeds, **curve)
        return np.where(missing, np.nan, factor.values)

    # xclim's power curve is an apply_ufunc without Dask support: run it block by block.
    out = elementwise(kernel, normalized, dtype=np.float64)
    return with_units(out, "1")


def photovoltaic_power_potential(
    shortwave_down,
    temperature,
    wind_speed,
    cell_coefficients,
    temperature_coefficient,
    reference_irradiance,
    reference_cell_temperature,
):
    """Photovoltaic power potential (光伏发电潜力, 0–~1.1): output of a panel relative to its
    nominal power (Jerez et al. 2015):

    .. math::

        PV_{pot} = P_R \\frac{G}{G_{STC}}, \\quad P_R = 1 + \\gamma (T_{cell} - 25\\,°C),
        \\quad T_{cell} = c_1 + c_2 T + c_3 G + c_4 V

    with the global horizontal irradiance G (W m⁻²), 2 m temperature T (°C), 10 m wind V
    (m/s), :math:`\\gamma = -0.005` K⁻¹, :math:`G_{STC} = 1000` W m⁻² and
    :math:`c_{1..4} = 4.3\\,°C, 0.943, 0.028\\,°C\\,m^2 W^{-1}, -1.528\\,°C\\,s\\,m^{-1}`
    (Chenni et al. 2007). Horizontal panels (no tilt or sun tracking). Hand-written: no
    installed library has it.

    References
    ----------
    Jerez, S. et al., 2015: The impact of climate change on photovoltaic power generation
    in Europe. Nat. Commun. 6, 10014. Chenni, R., M. Makhlouf, T. Kerbache and A. Bouzid,
    2007: A detailed modeling method for photovoltaic cells. Energy 32, 1724–1730.
    """
    c1, c2, c3, c4 = (_number(c) for c in cell_coefficients)
    gamma = quantity(temperature_coefficient).m_as("1/K")
    g_stc = quantity(reference_irradiance).m_as("W m-2")
    t_ref = quantity(reference_cell_temperature).m_as("degC")

    def kernel(g, t, v):
        irradiance = g.m_as("W m-2")
        cell = c1 + c2 * t.m_as("degC") + c3 * irradiance + c4 * v.m_as("m s-1")
        return (1.0 + gamma * (cell - t_ref)) * irradiance / g_stc

    return pointwise(kernel, shortwave_down, temperature, wind_speed, units="1")


def moist_air_enthalpy(temperature, dewpoint, pressure):
    """Specific enthalpy of moist air (空气焓值) per kg of dry air (ASHRAE psychrometrics):

    .. math:: h = 1.006\\,t + W\\,(2501 + 1.86\\,t) \\quad [\\mathrm{kJ\\,kg^{-1}}]

    with t in °C and the mixing ratio W (kg/kg) from the dewpoint and pressure (MetPy
    ``mixing_ratio`` of ``saturation_vapor_pressure``). Reference state: dry air and liquid
    water at 0 °C.

    References
    ----------
    ASHRAE, 2017: ASHRAE Handbook — Fundamentals, ch. 1 Psychrometrics, eq. (32).
    """

    def kernel(t, td, p):
        mixing = mpcalc.mixing_ratio(mpcalc.saturation_vapor_pressure(td), p).m_as("1")
        celsius = t.m_as("degC")
        return 1.006 * celsius + mixing * (2501.0 + 1.86 * celsius)

    return pointwise(kernel, temperature, dewpoint, pressure, units="kJ kg-1")


def road_icing_risk_level(
    temperature,
    relative_humidity,
    precipitation,
    freezing_temperature,
    near_freezing_temperature,
    humid_threshold,
    precipitation_window,
    wet_threshold,
):
    """Road-icing risk level (道路结冰风险), a local rule with the 2 m temperature as the
    proxy of the road-surface temperature (no road sensor input):

    * 3 high: T ≤ ``freezing_temperature`` (0 °C) and precipitation in the trailing
      ``precipitation_window`` (3 h) ≥ ``wet_threshold`` — freezing rain, or a wet road
      freezing (the CMA road-icing signal: road surface below 0 °C with precipitation);
    * 2 moderate: T ≤ 0 °C and RH ≥ ``humid_threshold`` (90 %) — hoar frost, black ice;
    * 1 low: T ≤ ``near_freezing_temperature`` (2 °C) and either of the above wetness
      conditions — the road may be colder than the air;
    * 0 none otherwise. Missing when an input is missing.

    References
    ----------
    CMA Decree No. 16 (2007), 道路结冰预警信号 (road surface below 0 °C with precipitation).
    """
    t = convert_dataarray(temperature, "degC")
    rh = convert_dataarray(relative_humidity, "percent")
    rain = rolling_window(convert_dataarray(precipitation, "mm"), precipitation_window, "sum")
    wet = rain >= wet_threshold.m_as("mm")
    humid = rh >= humid_threshold.m_as("percent")
    freezing = t <= freezing_temperature.m_as("degC")
    near = t <= near_freezing_temperature.m_as("degC")
    level = xr.where(
        freezing & wet,
        3.0,
        xr.where(freezing & humid, 2.0, xr.where(near & (wet | humid), 1.0, 0.0)),
    )
    level = level.where(t.notnull() & rh.notnull() & rain.notnull())
    return with_units(level.transpose(*temperature.dims), "1")


def flight_category(
    visibility,
    cloud_base,
    cloud_cover,
    ceiling_cover,
    marginal_ceiling,
    instrument_ceiling,
    low_instrument_ceiling,
    marginal_visibility,
    instrument_visibility,
    low_instrument_visibility,
):
    """Aviation flight category (飞行气象类别), the worse of ceiling and visibility
    (FAA Aeronautical Information Manual 7-1):

    ========  ======================  =====================
    category  ceiling                 visibility
    ========  ======================  =====================
    VFR       > 3000 ft               > 5 SM
    MVFR      1000–3000 ft            3–5 SM
    IFR       500 to < 1000 ft        1 to < 3 SM
    LIFR      < 500 ft                < 1 SM
    ========  ======================  =====================

    The ceiling is the cloud-base height where the total cloud cover is at least
    ``ceiling_cover`` (broken, 5/8), otherwise unlimited (total cover stands for the cover
    of the lowest layer). Missing when visibility or cover is missing, or a ceiling cover
    has no cloud base.

    References
    ----------
    FAA, Aeronautical Information Manual, ch. 7-1 (flight categories VFR/MVFR/IFR/LIFR);
    NWS Aviation Weather Center definitions.
    """
    vis = convert_dataarray(visibility, "m")
    base = convert_dataarray(cloud_base, "m")
    cover = convert_dataarray(cloud_cover, "percent")
    ceiling_layer = cover >= ceiling_cover.m_as("percent")
    ceiling = xr.where(ceiling_layer, base, np.inf).where(cover.notnull())
    ceiling = ceiling.where(~(ceiling_layer & base.isnull()))

    def category(values, marginal, instrument, low):
        m, i, lo = (quantity(v).m_as("m") for v in (marginal, instrument, low))
        return xr.where(
            values < lo, 3.0, xr.where(values < i, 2.0, xr.where(values <= m, 1.0, 0.0))
        ).where(values.notnull())

    by_ceiling = category(ceiling, marginal_ceiling, instrument_ceiling, low_instrument_ceiling)
    by_visibility = category(
        vis, marginal_visibility, instrument_visibility, low_instrument_visibility
    )
    worse = np.maximum(by_ceiling, by_visibility)
    return with_units(worse.transpose(*visibility.dims), "1")


def runway_crosswind_component(eastward_wind, northward_wind, runway_heading):
    """Crosswind component (侧风分量) of the 10 m wind on a runway of true heading
    :math:`\\theta_r`:

    .. math:: X = |u\\cos\\theta_r - v\\sin\\theta_r| = V\\,|\\sin(\\theta_w - \\theta_r)|

    (u, v the eastward and northward wind; the same for both ends of the runway). Compare
    with the aircraft's demonstrated crosswind (typically 15–20 m/s for airliners).

    References
    ----------
    ICAO Annex 14, Aerodromes, Vol. I, 3.1.3 (crosswind components and runway usability);
    vector decomposition of the wind.
    """
    heading = np.deg2rad(runway_heading.m_as("degree"))
    u = convert_dataarray(eastward_wind, "m s-1")
    v = convert_dataarray(northward_wind, "m s-1")
    return with_units(np.abs(u * np.cos(heading) - v * np.sin(heading)), "m s-1")


def highway_low_visibility_grade(visibility, grade_bounds):
    """Highway low-visibility control grade (高速公路低能见度等级): 0 visibility ≥ 500 m,
    1 [200, 500) m, 2 [100, 200) m, 3 [50, 100) m, 4 < 50 m (GB/T 31445-2015 classes,
    recalled).

    References
    ----------
    GB/T 31445-2015 雾天高速公路交通安全控制条件 (recalled, not read).
    """
    bounds = np.sort(np.array([quantity(b).m_as("m") for b in grade_bounds]))
    vis = convert_dataarray(visibility, "m")

    def kernel(x):
        x = np.asarray(x, dtype=np.float64)
        grade = bounds.size - np.searchsorted(bounds, x, side="right")
        return np.where(np.isnan(x), np.nan, grade)

    grade = elementwise(kernel, vis, dtype=np.float64)
    return with_units(grade, "1")
