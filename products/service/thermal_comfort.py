"""Human thermal comfort and heat/cold stress: international indices.

MetPy computes the NWS indices (heat index, wind chill, apparent temperature); thermofeel
(ECMWF) computes the radiation-aware and Australian/Canadian/Hong Kong indices (UTCI,
mean radiant temperature, WBGT, humidex, NET, Steadman apparent temperature, KNMI heat
force, excess heat and cold factors). Both run block by block through
:func:`weatherdata.compute.pointwise`, so grids stay lazy.

thermofeel takes and returns kelvin, wind at 10 m in m s-1, relative humidity in percent
and pressure in hPa (checked against thermofeel 2.3); the kernels below convert their
pint inputs to exactly those units.
"""

from __future__ import annotations

import dask
import metpy.calc as mpcalc
import numpy as np
import pandas as pd
import thermofeel
import xarray as xr

from weatherdata.compute import daily, pointwise, quantity, with_units
from weatherdata.errors import InputError
from weatherdata.units import convert_dataarray, unit_registry

from .public_helpers import averaging_step, cos_solar_zenith_angle

KELVIN = unit_registry.kelvin
STEFAN_BOLTZMANN = 5.670374419e-8  # W m-2 K-4 (CODATA 2018)


def _filled(value):
    """A MetPy result with masked ("undefined") elements as NaN, kept as a Quantity."""
    magnitude = np.ma.filled(
        np.ma.masked_invalid(np.ma.asarray(value.magnitude, dtype=np.float64)), np.nan
    )
    return unit_registry.Quantity(magnitude, value.units)


# -- NWS (MetPy) --------------------------------------------------------------------------


def heat_index(temperature, relative_humidity):
    """NWS heat index (Rothfusz regression with Steadman's simple form and adjustments).

    With :math:`T` in °F and :math:`R` in percent, the simple form
    :math:`HI_s = 0.5\\,(T + 61 + 1.2\\,(T - 68) + 0.094\\,R)` is used while
    :math:`(HI_s + T)/2 < 80` °F, otherwise the Rothfusz (1990) regression

    .. math::

        HI = -42.379 + 2.04901523T + 10.14333127R - 0.22475541TR - 6.83783\\times10^{-3}T^2
             - 5.481717\\times10^{-2}R^2 + 1.22874\\times10^{-3}T^2R + 8.5282\\times10^{-4}TR^2
             - 1.99\\times10^{-6}T^2R^2

    minus :math:`\\frac{13-R}{4}\\sqrt{\\frac{17-|T-95|}{17}}` when :math:`R < 13` % and
    80 ≤ T ≤ 112 °F, plus :math:`\\frac{R-85}{10}\\cdot\\frac{87-T}{5}` when :math:`R > 85` %
    and 80 ≤ T ≤ 87 °F; at or below 40 °F it is the air temperature
    (``metpy.calc.heat_index`` with ``mask_undefined=False``: defined everywhere).

    References
    ----------
    Rothfusz, L. P., 1990: The heat index "equation". NWS Southern Region Technical
    Attachment SR 90-23. NWS Weather Prediction Center, "The Heat Index Equation".
    """
    return pointwise(
        lambda t, rh: _filled(mpcalc.heat_index(t, rh, mask_undefined=False)),
        temperature,
        relative_humidity,
        units="degC",
    )


def wind_chill(temperature, wind_speed):
    """Wind-chill temperature (NWS/Environment Canada 2001), missing where undefined.

    .. math:: WCT = 13.12 + 0.6215\\,T - 11.37\\,V^{0.16} + 0.3965\\,T\\,V^{0.16}

    with :math:`T` in °C and the 10 m wind :math:`V` in km h-1 (``metpy.calc.windchill``,
    10 m winds). Undefined, hence missing, above 10 °C (50 °F) or at winds of 3 mph
    (4.8 km h-1) and below.

    References
    ----------
    Osczevski, R. and M. Bluestein, 2005: The new wind chill equivalent temperature chart.
    Bull. Amer. Meteor. Soc., 86, 1453–1458.
    """
    return pointwise(
        lambda t, v: _filled(mpcalc.windchill(t, v, face_level_winds=False, mask_undefined=True)),
        temperature,
        wind_speed,
        units="degC",
    )


def apparent_temperature(temperature, relative_humidity, wind_speed):
    """NWS apparent temperature: heat index when :math:`T > 80` °F, wind chill when
    :math:`T < 50` °F and the wind exceeds 3 mph, otherwise the air temperature
    (``metpy.calc.apparent_temperature``, ``mask_undefined=False``).
    """
    return pointwise(
        lambda t, rh, v: _filled(
            mpcalc.apparent_temperature(t, rh, v, face_level_winds=False, mask_undefined=False)
        ),
        temperature,
        relative_humidity,
        wind_speed,
        units="degC",
    )


# -- thermofeel ----------------------------------------------------------------------------


def steadman_apparent_temperature(temperature, relative_humidity, wind_speed):
    """Steadman (1984) apparent temperature in the shade, Australian Bureau of Meteorology form.

    .. math:: AT = T_a + 0.33\\,e - 0.70\\,v - 4.00

    with :math:`T_a` in °C, the vapour pressure
    :math:`e = \\frac{RH}{100}\\,6.105\\exp\\frac{17.27\\,T_a}{237.7 + T_a}` hPa and the 10 m
    wind :math:`v` in m s-1 (``thermofeel.calculate_apparent_temperature``).

    References
    ----------
    Steadman, R. G., 1984: A universal scale of apparent temperature. J. Climate Appl.
    Meteor., 23, 1674–1687. Bureau of Meteorology, "Thermal comfort observations".
    """

    def kernel(t, rh, v):
        return (
            thermofeel.calculate_apparent_temperature(
                t.m_as("K"), v.m_as("m/s"), rh.m_as("percent")
            )
            * KELVIN
        )

    return pointwise(kernel, temperature, relative_humidity, wind_speed, units="degC")


def humidex(temperature, dewpoint):
    """Humidex (Environment Canada): :math:`H = T + 0.5555\\,(e - 10)` with
    :math:`e = 6.11\\exp\\left[5417.7530\\left(\\frac{1}{273.15} - \\frac{1}{T_d}\\right)\\right]`
    hPa (``thermofeel.calculate_humidex``).

    References
    ----------
    Masterton, J. M. and F. A. Richardson, 1979: Humidex, a method of quantifying human
    discomfort due to excessive heat and humidity. Environment Canada, CLI 1-79.
    """
    return pointwise(
        lambda t, td: thermofeel.calculate_humidex(t.m_as("K"), td.m_as("K")) * KELVIN,
        temperature,
        dewpoint,
        units="degC",
    )


def normal_effective_temperature(temperature, relative_humidity, wind_speed):
    """Normal effective temperature (NET) of the Hong Kong Observatory.

    .. math::

        NET = 37 - \\frac{37 - T}{0.68 - 0.0014\\,RH + \\frac{1}{1.76 + 1.4\\,v^{0.75}}}
              - 0.29\\,T\\,(1 - 0.01\\,RH)

    with :math:`T` in °C, :math:`RH` in percent and :math:`v` the wind scaled from 10 m to
    1.2 m with a logarithmic profile (``thermofeel.calculate_normal_effective_temperature``).

    References
    ----------
    Li, P. W. and S. T. Chan, 2000: Application of a weather stress index for alerting the
    public to stressful weather in Hong Kong. Meteor. Appl., 7, 369–375.
    """

    def kernel(t, rh, v):
        return (
            thermofeel.calculate_normal_effective_temperature(
                t.m_as("K"), v.m_as("m/s"), rh.m_as("percent")
            )
            * KELVIN
        )

    return pointwise(kernel, temperature, relative_humidity, wind_speed, units="degC")


def simplified_wet_bulb_globe_temperature(temperature, relative_humidity):
    """Shade WBGT estimate of the American College of Sports Medicine / Australian BoM.

    .. math:: WBGT = 0.567\\,T_a + 0.393\\,e + 3.94

    (°C, vapour pressure :math:`e` in hPa as in the Steadman apparent temperature;
    ``thermofeel.calculate_wbgt_simple``). No radiation or wind term.

    References
    ----------
    American College of Sports Medicine, 1984: Prevention of thermal injuries during
    distance running. Bureau of Meteorology, "About the WBGT and apparent temperature".
    """
    return pointwise(
        lambda t, rh: thermofeel.calculate_wbgt_simple(t.m_as("K"), rh.m_as("percent")) * KELVIN,
        temperature,
        relative_humidity,
        units="degC",
    )


def _broadcast_float(*arrays):
    return np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in arrays))


def mean_radiant_temperature(
    shortwave_down, direct_shortwave_down, longwave_down, albedo, temperature, surface_emissivity
):
    """Mean radiant temperature of a standing person outdoors (Di Napoli et al. 2020).

    .. math::

        T_{mrt} = \\left[\\frac{1}{\\sigma}\\left(0.5\\,L_\\downarrow + 0.5\\,L_\\uparrow
              + \\frac{0.7}{0.97}\\left(0.5\\,S_{dif} + 0.5\\,S_\\uparrow
              + f_p\\,I^*\\right)\\right)\\right]^{1/4}

    (``thermofeel.calculate_mean_radiant_temperature``), with the diffuse
    :math:`S_{dif} = S_\\downarrow - S_{dir}`, the reflected :math:`S_\\uparrow = \\alpha
    S_\\downarrow`, the direct normal :math:`I^* = S_{dir}/\\cos\\theta_z`
    (``thermofeel.approximate_dsrp``) and the projected-area factor :math:`f_p` of the
    solar elevation. The cosine of the zenith angle is taken at the middle of each step,
    as the fluxes are means over the preceding step.

    No skin-temperature input exists, so the upward longwave is estimated from the 2 m air
    temperature: :math:`L_\\uparrow = \\varepsilon\\sigma T_a^4 + (1 - \\varepsilon)
    L_\\downarrow`, with the surface emissivity :math:`\\varepsilon` a parameter. On a sunny
    day the ground is warmer than the air, so this underestimates :math:`L_\\uparrow` and
    :math:`T_{mrt}` by a few kelvin.

    References
    ----------
    Di Napoli, C., R. J. Hogan and F. Pappenberger, 2020: Mean radiant temperature from
    global-scale numerical weather prediction models. Int. J. Biometeorol., 64, 1233–1245.
    """
    emissivity = float(quantity(surface_emissivity).m_as("dimensionless"))
    cosine = cos_solar_zenith_angle(shortwave_down, offset=averaging_step(shortwave_down) / 2)

    def kernel(ssrd, fdir, strd, alb, t, cossza):
        ssrd, fdir, strd, alb, t, cossza = _broadcast_float(
            ssrd.m_as("W m-2"),
            fdir.m_as("W m-2"),
            strd.m_as("W m-2"),
            alb.m_as(""),
            t.m_as("K"),
            cossza.m_as(""),
        )
        fdir = np.minimum(fdir, ssrd)
        dsrp = thermofeel.approximate_dsrp(fdir, cossza)
        upward_longwave = emissivity * STEFAN_BOLTZMANN * t**4 + (1 - emissivity) * strd
        ssr = ssrd * (1 - alb)
        strr = strd - upward_longwave
        with np.errstate(invalid="ignore"):
            mrt = thermofeel.calculate_mean_radiant_temperature(
                ssrd, ssr, dsrp, strd, fdir, strr, cossza
            )
        return mrt * KELVIN

    return pointwise(
        kernel,
        shortwave_down,
        direct_shortwave_down,
        longwave_down,
        albedo,
        temperature,
        cosine,
        units="degC",
    )


def universal_thermal_climate_index(temperature, dewpoint, wind_speed, mean_radiant_temperature):
    """Universal Thermal Climate Index (UTCI), Bröde et al. (2012) polynomial.

    ``thermofeel.calculate_utci`` from the 2 m temperature, the vapour pressure of the
    2 m dewpoint, the 10 m wind and the mean radiant temperature. The 10 m wind is raised
    to 0.5 m s-1 where calmer (the lowest wind of the regression, as in the UTCI reference
    code); outside the regression's validity (:math:`-50 \\le T_a \\le 50` °C, wind
    ≤ 17 m s-1, :math:`-30 \\le T_{mrt} - T_a \\le 70` K) the value is missing rather than
    extrapolated.

    References
    ----------
    Bröde, P. et al., 2012: Deriving the operational procedure for the Universal Thermal
    Climate Index (UTCI). Int. J. Biometeorol., 56, 481–494.
    """

    def kernel(t, td, v, mrt):
        t, td, v, mrt = _broadcast_float(t.m_as("K"), td.m_as("K"), v.m_as("m/s"), mrt.m_as("K"))
        v = np.maximum(v, 0.5)
        utci = thermofeel.calculate_utci(t, v, mrt, td_k=td)
        valid = (np.abs(t - 273.15) <= 50) & (v <= 17) & (mrt - t >= -30) & (mrt - t <= 70)
        return np.where(valid, utci, np.nan) * KELVIN

    return pointwise(
        kernel, temperature, dewpoint, wind_speed, mean_radiant_temperature, units="degC"
    )


def wet_bulb_globe_temperature(
    temperature,
    relative_humidity,
    surface_pressure,
    wind_speed,
    shortwave_down,
    direct_shortwave_down,
):
    """Outdoor (sun) WBGT after Liljegren et al. (2008), as used by KNMI.

    :math:`WBGT = 0.7\\,T_{nw} + 0.2\\,T_g + 0.1\\,T_a`, with the natural wet-bulb and globe
    temperatures solved from their energy balances (``thermofeel.calculate_wbgt_liljegren``:
    10 m wind floored at 0.62 m s-1 and scaled to 2 m with the stability-dependent profile;
    direct fraction clamped to 0–0.9). The direct fraction is :math:`S_{dir}/S_\\downarrow`
    and the cosine of the solar zenith angle is taken at the middle of each step (the
    fluxes are step means; Liljegren's model expects instantaneous values).

    References
    ----------
    Liljegren, J. C. et al., 2008: Modeling the wet bulb globe temperature using standard
    meteorological measurements. J. Occup. Environ. Hyg., 5, 645–655.
    Kong, Q. and M. Huber, 2022: Explicit calculations of wet-bulb globe temperature
    compared with approximations and why it matters for labor productivity. Earth's
    Future, 10, e2021EF002334.
    """
    cosine = cos_solar_zenith_angle(shortwave_down, offset=averaging_step(shortwave_down) / 2)

    def kernel(t, rh, p, v, ssrd, direct, cossza):
        t, rh, p, v, ssrd, direct, cossza = _broadcast_float(
            t.m_as("K"), rh.m_as("percent"), p.m_as("hPa"), v.m_as("m/s"), ssrd.m_as("W m-2"),
            direct.m_as("W m-2"), cossza.m_as(""),
        )  # fmt: skip
        valid = np.isfinite(t) & np.isfinite(rh) & np.isfinite(p) & np.isfinite(v)
        valid &= np.isfinite(ssrd) & np.isfinite(direct) & np.isfinite(cossza)
        # Missing points would never converge (500 iterations each): solve a benign
        # stand-in there and mask it afterwards.
        ssrd = np.where(valid, np.maximum(ssrd, 0.0), 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            fraction = np.where(ssrd > 0, np.clip(direct / ssrd, 0.0, 1.0), 0.0)
        fraction = np.where(valid, fraction, 0.0)
        wbgt = thermofeel.calculate_wbgt_liljegren(
            np.where(valid, t, 293.15),
            np.where(valid, np.clip(rh, 0.0, 100.0), 50.0),
            np.where(valid, p, 1000.0),
            np.where(valid, v, 1.0),
            ssrd,
            fraction,
            np.where(valid, cossza, 0.0),
        )
        return np.where(valid, wbgt, np.nan) * KELVIN

    return pointwise(
        kernel,
        temperature,
        relative_humidity,
        surface_pressure,
        wind_speed,
        shortwave_down,
        direct_shortwave_down,
        cosine,
        units="degC",
    )


def heat_force_scale(wet_bulb_globe_temperature):
    """KNMI heat force (hittekracht) 0–10: 2 °C bands of WBGT from 14 °C.

    :math:`\\min(10, \\max(0, \\lfloor (WBGT - 14)/2 \\rfloor + 1))` with WBGT in °C:
    0 below 14 °C, 1 for [14, 16), …, 10 from 32 °C (``thermofeel.calculate_heat_force``).

    References
    ----------
    KNMI Technical Report TR-26-04 (2026), Table 1, as implemented in thermofeel 2.3.
    """
    return pointwise(
        lambda w: thermofeel.calculate_heat_force(w.m_as("K")) * unit_registry.dimensionless,
        wet_bulb_globe_temperature,
        units="1",
    )


# -- excess heat and cold (Nairn & Fawcett) ---------------------------------------------------


def _calendar_dates(day_labels: xr.DataArray) -> pd.DatetimeIndex:
    """The date of each daily value: its label (the day's start, UTC) plus 12 h, floored.

    For every day definition in use (20–20, 08–08, 00–00 Beijing time, UTC) this is the
    date the day is named after in Chinese practice (the 20–20 day ending on 25 July at
    20:00 BJT is labelled 24 July 12:00 UTC and is the 25th).
    """
    return (pd.DatetimeIndex(day_labels.values) + pd.Timedelta(hours=12)).floor("D")


def _by_date(by_day_of_year: xr.DataArray, dates: pd.DatetimeIndex) -> xr.DataArray:
    """A day-of-year climatology on a ``date`` axis (29 February takes day 366 if present,
    else day 365)."""
    day_of_year = np.minimum(dates.day_of_year, int(by_day_of_year["dayofyear"].max()))
    # Dask splits the other axes of an out-of-order selection into small chunks unless
    # told not to: here latitude and longitude into single rows (90,000 tasks for the
    # excess heat factor of 8 days on the demo grid instead of 300). The selection is
    # at most the record's days of a day-of-year climatology: one chunk is fine.
    with dask.config.set({"array.slicing.split_large_chunks": False}):
        chosen = by_day_of_year.sel(
            dayofyear=xr.DataArray(day_of_year, dims="date", coords={"date": dates})
        )
    return chosen.drop_vars("dayofyear")


def _trailing_mean(data: xr.DataArray, dim: str, window: int, min_periods: int) -> xr.DataArray:
    """Mean of the last ``window`` values along ``dim`` (fewer at the start), missing where
    fewer than ``min_periods`` are present: ``data.rolling({dim: window},
    min_periods=min_periods).mean()``, by cumulative sums. xarray's rolling mean builds a
    view ``window`` times larger, which dask splits into many small chunks (the 30-day
    mean cut the demo plane into 8×8 pieces)."""
    counts = data.notnull().astype("int64").cumsum(dim)
    sums = data.fillna(0.0).astype("float64").cumsum(dim)
    window_counts = counts - counts.shift({dim: window}, fill_value=0)
    window_sums = sums - sums.shift({dim: window}, fill_value=0.0)
    return (window_sums / window_counts.where(window_counts > 0)).where(
        window_counts >= min_periods
    )


def _excess_indices(temperature, normal, threshold_by_day_of_year, day_definition):
    """Significance and acclimatisation indices on the observed days (K).

    Labelled by the *last* day of the three-day window: on day :math:`d`,
    :math:`T_3 = \\frac{1}{3}\\sum_{i=d-2}^{d} T_i` (observed days only) and
    :math:`T_{30} = \\frac{1}{30}\\sum_{i=d-32}^{d-3} T_i`, where days before the start of
    the record take the daily-mean normal of their date; at most 5 of the 30 days may be
    missing inside the record (after the WMO "3/5" completeness rule for monthly means).
    """
    observed = convert_dataarray(daily(temperature, "mean", day=day_definition), "K")
    normal = convert_dataarray(normal, "K")
    threshold_by_day_of_year = convert_dataarray(threshold_by_day_of_year, "K")
    labels = observed["day"].values
    dates = _calendar_dates(observed["day"])
    if len(dates) == 0:
        raise InputError("no complete day in the observation record")
    axis = pd.date_range(dates[0] - pd.Timedelta(days=32), dates[-1], freq="D")
    record = observed.assign_coords(day=dates).rename(day="date").reindex(date=axis)
    if record.chunks is not None:
        # the rolling means need the days in one chunk: dask's overlap otherwise splits
        # the plane into single rows to fit 29 days of halo (90,000 tasks for 8 days)
        record = record.chunk({d: -1 if d == "date" else "auto" for d in record.dims})
    normal = _by_date(normal, axis).transpose(*record.dims)
    before = xr.DataArray(axis < dates[0], dims="date", coords={"date": axis})
    filled = record.where(~before, normal.data)
    three_day = _trailing_mean(record, "date", 3, 3).sel(date=dates)
    thirty_day = _trailing_mean(filled, "date", 30, 25).shift(date=3).sel(date=dates)
    threshold = _by_date(threshold_by_day_of_year, dates).transpose(*three_day.dims)
    significance = (three_day - threshold.data).assign_coords(date=labels).rename(date="day")
    acclimatisation = (three_day - thirty_day).assign_coords(date=labels).rename(date="day")
    return with_units(significance, "K"), with_units(acclimatisation, "K")


def excess_heat_factor(temperature, normal, threshold, day_definition):
    """Excess heat factor (Nairn & Fawcett 2015), K².

    .. math::

        EHF = EHI_{sig}\\,\\max(1, EHI_{accl}), \\quad EHI_{sig} = T_3 - T_{95}, \\quad
        EHI_{accl} = T_3 - T_{30}

    with :math:`T_3` the mean of the last three daily mean temperatures (days
    :math:`d-2 … d`), :math:`T_{30}` the mean of the 30 days before them and
    :math:`T_{95}` the climatological 95th percentile of the daily mean temperature for
    the date (``thermofeel.calculate_excess_heat_factor``). Nairn & Fawcett label the
    value by the first of the three days; here it is labelled by the last, the day it
    becomes known. The 30 antecedent days come from the observation record; days before
    the record starts take the 1991–2020 daily-mean normal of their date (so a short
    record measures acclimatisation against the normal climate), and at most 5 of the
    30 may be missing inside the record. Positive values mark heatwave conditions.

    References
    ----------
    Nairn, J. R. and R. J. B. Fawcett, 2015: The excess heat factor: a metric for heatwave
    intensity and its use in classifying heatwave severity. Int. J. Environ. Res. Public
    Health, 12, 227–253.
    """
    significance, acclimatisation = _excess_indices(temperature, normal, threshold, day_definition)
    return pointwise(
        lambda sig, acc: (
            thermofeel.calculate_excess_heat_factor(sig.m_as("K"), acc.m_as("K"))
            * unit_registry.kelvin**2
        ),
        significance,
        acclimatisation,
        units="K**2",
    )


def excess_cold_factor(temperature, normal, threshold, day_definition):
    """Excess cold factor (Nairn 2013), K²: the cold counterpart of the excess heat factor.

    .. math::

        ECF = -EHI_{sig}\\,\\min(-1, EHI_{accl}), \\quad EHI_{sig} = T_3 - T_{05}

    with :math:`T_{05}` the climatological 5th percentile of the daily mean temperature
    and :math:`T_3`, :math:`EHI_{accl}` as for the excess heat factor
    (``thermofeel.calculate_excess_cold_factor``, whose sign convention makes excess cold
    negative).

    References
    ----------
    Nairn, J., 2013: Defining heatwaves, and cold waves. CAWCR Technical Report 060,
    eq. (7).
    """
    significance, acclimatisation = _excess_indices(temperature, normal, threshold, day_definition)
    return pointwise(
        lambda sig, acc: (
            thermofeel.calculate_excess_cold_factor(sig.m_as("K"), acc.m_as("K"))
            * unit_registry.kelvin**2
        ),
        significance,
        acclimatisation,
        units="K**2",
    )
