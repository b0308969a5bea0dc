"""Climate-monitoring service indices: drought (SPI, SPEI, MI, MCI), ETCCDI-style extremes
(Rx1day, Rx5day, R95p, SDII, hot days, tropical nights), Chinese rainstorm days, heat-wave
events, cold-spell days and the tourism climate index.

Drought indices need antecedent days that a short record does not have: they are computed
on the extended daily series of :mod:`._sector` (record, then the ``historical_daily_*``
calibration series, then day-of-year normals for dates neither covers) and calibrated on
the calibration years of the history; see the module docstring of :mod:`._sector`.
Period indices follow :func:`._sector.period_index` (dimension ``period``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from weatherdata.compute import elementwise, quantity, require_days, with_units
from weatherdata.errors import InputError
from weatherdata.units import convert_dataarray

from ._sector import (
    as_series,
    back_to_days,
    calendar_dates,
    converted,
    day_definition,
    extended_series,
    latitude,
    period_index,
    standardized_index_on_days,
    trailing_total,
    weighted_trailing_sum,
    whole_days,
    xclim,
)
from .public_helpers import daily_in_hours, sunshine_duration

__all__ = [
    "cold_spell_days",
    "extended_daily_potential_evapotranspiration",
    "extended_daily_precipitation",
    "heat_wave_events",
    "hot_days",
    "maximum_n_day_precipitation",
    "meteorological_drought_composite_index",
    "rainstorm_days",
    "relative_moisture_index",
    "simple_daily_intensity_index",
    "standardized_precipitation_evapotranspiration_index",
    "standardized_precipitation_index",
    "tourism_climate_index",
    "tropical_nights",
    "very_wet_day_precipitation",
]


# -- extended daily series (intermediates) --------------------------------------------------


def extended_daily_precipitation(precipitation, history, normals, gap_fill):
    """Daily precipitation (mm) on calendar dates from the start of the history to the last
    day of the record: the record, else the history, else the day-of-year normal for dates
    neither covers (``gap_fill="climatology"``) — see :func:`._sector.extended_series`."""
    return extended_series(precipitation, history, normals, units="mm", gap_fill=gap_fill)


def extended_daily_potential_evapotranspiration(temperature, history, normals, gap_fill):
    """Thornthwaite (1948) potential evapotranspiration (mm/d) on the extended daily
    mean-temperature series (xclim ``potential_evapotranspiration(method="TW48")``).

    .. math::

        PET = 16\\,\\frac{L}{12}\\,\\frac{N}{30}\\left(\\frac{10\\,T}{I}\\right)^{a},\\quad
        I = \\sum_{m=1}^{12}\\left(\\frac{T_m}{5}\\right)^{1.514},\\quad
        a = 6.75\\times10^{-7}I^3 - 7.71\\times10^{-5}I^2 + 0.01791I + 0.49239

    (mm/month from monthly mean temperatures :math:`T_m \\ge 0` °C and day length
    :math:`L`), spread evenly over the days of each month. Thornthwaite is the
    temperature-only method GB/T 20481 allows for the relative moisture index and the one
    of the original SPEI (Vicente-Serrano et al. 2010); it is used because the calibration
    history holds only daily mean temperature. The series runs to the end of the record's
    last year (filled with the history or normals) so that each year's heat index
    :math:`I` has twelve months.

    References
    ----------
    Thornthwaite, C. W., 1948: An approach toward a rational classification of climate.
    Geogr. Rev. 38, 55–94.
    """
    last = pd.DatetimeIndex(calendar_dates(temperature["day"]).values)[-1]
    series = extended_series(
        temperature,
        history,
        normals,
        units="degC",
        gap_fill=gap_fill,
        end=pd.Timestamp(year=last.year, month=12, day=31),
    )
    # Monthly means first (what TW48 does internally), then xclim on each block.
    monthly_mean = series.resample(time="MS").mean().chunk({"time": -1})
    monthly = _thornthwaite(monthly_mean, latitude(series))
    dates = pd.DatetimeIndex(series["time"].values)
    months = dates.to_period("M").to_timestamp()
    daily_rate = monthly.sel(time=months).assign_coords(time=dates)
    daily_rate = daily_rate.sel(time=slice(None, last))
    order = ["time", *[d for d in series.dims if d != "time"]]
    return with_units(daily_rate.transpose(*order), "mm")


def _thornthwaite(monthly_mean: xr.DataArray, lat: xr.DataArray) -> xr.DataArray:
    """xclim TW48 potential evapotranspiration (mm/d) of monthly mean temperatures (°C),
    run block by block (xclim's per-year loop builds a large graph on Dask arrays)."""
    months = monthly_mean["time"].values
    others = [d for d in monthly_mean.dims if d != "time"]
    lat = lat.broadcast_like(monthly_mean.isel(time=0, drop=True)).transpose(*others)
    lat = lat.drop_vars(list(lat.coords))

    def kernel(tas, latitudes):
        block_dims = [f"dim_{i}" for i in range(tas.ndim - 1)]
        temperature = xr.DataArray(
            tas, dims=[*block_dims, "time"], coords={"time": months}, attrs={"units": "degC"}
        )
        lat_block = xr.DataArray(latitudes, dims=block_dims, attrs={"units": "degrees_north"})
        rate = xclim().potential_evapotranspiration(tas=temperature, lat=lat_block, method="TW48")
        rate = xclim("xclim.core.units").convert_units_to(rate, "mm/d", context="hydro")
        return rate.transpose(*block_dims, "time").values

    out = xr.apply_ufunc(
        kernel,
        monthly_mean,
        lat,
        input_core_dims=[["time"], []],
        output_core_dims=[["time"]],
        dask="parallelized",
        output_dtypes=[np.float64],
    )
    return with_units(out.transpose("time", *others), "mm/d")


# -- drought --------------------------------------------------------------------------------


def _window_total(series: xr.DataArray, window) -> xr.DataArray:
    """Trailing ``window`` total on the extended series; missing if a day is missing."""
    return trailing_total(series, whole_days(window))


def standardized_precipitation_index(
    precipitation, extended_precipitation, window, calibration_years
):
    """Standardized precipitation index SPI over the trailing ``window`` (McKee et al. 1993).

    The precipitation total :math:`x` of the window ending on each day is transformed
    through the zero-inflated gamma distribution fitted to the totals of the same day of
    year in the calibration years,

    .. math:: H(x) = q + (1 - q)\\,G(x;\\alpha,\\beta), \\qquad SPI = \\Phi^{-1}(H(x))

    with :math:`q` the fraction of zero totals and :math:`\\alpha, \\beta` from Thom's
    (1958) estimator :math:`\\alpha = (1 + \\sqrt{1 + 4A/3})/(4A)`,
    :math:`A = \\ln\\bar x - \\overline{\\ln x}`: xclim's ``standardized_precipitation_index``
    with ``method="APP"``, ``floc=0``, vectorized over the grid
    (:func:`._sector.zero_inflated_gamma_parameters`; GB/T 20481-2017 also fits a gamma
    distribution — its estimator was not read).
    GB/T 20481 classes: > −0.5 none, (−1.0, −0.5] light, (−1.5, −1.0] moderate,
    (−2.0, −1.5] severe, ≤ −2.0 extreme drought.

    References
    ----------
    McKee, T. B., N. J. Doesken and J. Kleist, 1993: The relationship of drought frequency
    and duration to time scales. 8th Conf. on Applied Climatology, AMS, 179–184.
    GB/T 20481-2017 气象干旱等级.
    """
    totals = _window_total(extended_precipitation, window)
    return standardized_index_on_days(totals, precipitation["day"], calibration_years, "gamma")


def standardized_precipitation_evapotranspiration_index(
    precipitation,
    extended_precipitation,
    extended_evapotranspiration,
    window,
    calibration_years,
):
    """Standardized precipitation–evapotranspiration index SPEI (Vicente-Serrano et al.
    2010) over the trailing ``window``.

    The climatic water balance :math:`D = \\sum (P - PET)` over the window (PET:
    Thornthwaite) is transformed, :math:`SPEI = \\Phi^{-1}(F(D))`, through the generalized
    logistic distribution fitted by L-moments on the window balances of the same day of
    year in the calibration years (:func:`._sector.generalized_logistic_parameters`): the
    three-parameter log-logistic of Vicente-Serrano et al. (2010) for right-skewed samples,
    extended to left-skewed ones as in the SPEI R package (Beguería et al. 2014). Clipped
    to ±8.21 like xclim. Classes as SPI.

    References
    ----------
    Vicente-Serrano, S. M., S. Beguería and J. I. López-Moreno, 2010: A multiscalar drought
    index sensitive to global warming: the standardized precipitation evapotranspiration
    index. J. Climate 23, 1696–1718. Beguería, S. et al., 2014: Standardized precipitation
    evapotranspiration index (SPEI) revisited. Int. J. Climatol. 34, 3001–3023.
    """
    balance = extended_precipitation - extended_evapotranspiration
    totals = _window_total(balance, window)
    return standardized_index_on_days(
        totals, precipitation["day"], calibration_years, "generalized_logistic"
    )


def _moisture_index(extended_precipitation, extended_evapotranspiration, window):
    rain = _window_total(extended_precipitation, window)
    demand = _window_total(extended_evapotranspiration, window)
    return (rain - demand) / demand.where(demand > 0)


def relative_moisture_index(
    precipitation, extended_precipitation, extended_evapotranspiration, window
):
    """Relative moisture index MI (相对湿润度指数) over the trailing ``window``:

    .. math:: MI = \\frac{P - PET}{PET}

    with the window totals of precipitation and Thornthwaite potential evapotranspiration
    (GB/T 20481-2017 Annex B allows Thornthwaite or FAO Penman–Monteith). Missing where
    PET is zero. GB/T 20481-2006 MI classes: > −0.40 none, (−0.65, −0.40] light,
    (−0.80, −0.65] moderate, (−0.95, −0.80] severe, ≤ −0.95 extreme.

    References
    ----------
    GB/T 20481-2017 气象干旱等级, Annex B.
    """
    index = _moisture_index(extended_precipitation, extended_evapotranspiration, window)
    return back_to_days(index, precipitation["day"], "1")


def meteorological_drought_composite_index(
    precipitation,
    extended_precipitation,
    extended_evapotranspiration,
    weights,
    weighted_window,
    weighting_factor,
    moisture_window,
    short_window,
    long_window,
    seasonal_factors,
    calibration_years,
):
    """Meteorological drought composite index MCI (气象干旱综合指数, GB/T 20481-2017):

    .. math::

        MCI = K_a\\,(a\\,SPIW_{60} + b\\,MI_{30} + c\\,SPI_{90} + d\\,SPI_{150})

    * :math:`SPIW_{60}`: the SPI transform of the weighted precipitation
      :math:`WAP = \\sum_{n=0}^{59} r^{n} P_{t-n}` (``weighting_factor`` :math:`r`), fitted
      like SPI on the calibration years;
    * :math:`MI_{30}`: relative moisture index of the last 30 days (Thornthwaite PET);
    * :math:`SPI_{90}`, :math:`SPI_{150}`: SPI of the last 90 and 150 days;
    * :math:`a, b, c, d` = ``weights``; :math:`K_a` = ``seasonal_factors`` of the month.

    The weights, :math:`r` and :math:`K_a` are recalled, not read from the standard (they
    are regional and seasonal there): parameters marked unverified. Classes (verified):
    > −0.5 none, (−1.0, −0.5] light, (−1.5, −1.0] moderate, (−2.0, −1.5] severe,
    ≤ −2.0 extreme drought.

    References
    ----------
    GB/T 20481-2017 气象干旱等级 (Grades of meteorological drought).
    """
    days = precipitation["day"]
    a, b, c, d = (float(getattr(w, "m", w)) for w in weights)
    r = float(getattr(weighting_factor, "m", weighting_factor))
    weighted = weighted_trailing_sum(
        extended_precipitation, r ** np.arange(whole_days(weighted_window))
    )
    spiw = standardized_index_on_days(weighted, days, calibration_years, "gamma")
    moisture = back_to_days(
        _moisture_index(extended_precipitation, extended_evapotranspiration, moisture_window),
        days,
        "1",
    )
    spi_short = standardized_index_on_days(
        _window_total(extended_precipitation, short_window), days, calibration_years, "gamma"
    )
    spi_long = standardized_index_on_days(
        _window_total(extended_precipitation, long_window), days, calibration_years, "gamma"
    )
    factors = np.asarray([float(getattr(k, "m", k)) for k in seasonal_factors])
    if factors.size != 12:
        raise ValueError("seasonal_factors needs 12 monthly values")
    months = pd.DatetimeIndex(calendar_dates(days).values).month
    seasonal = xr.DataArray(factors[months - 1], dims="day", coords={"day": days.values})
    index = seasonal * (a * spiw + b * moisture + c * spi_short + d * spi_long)
    return with_units(index, "1")


# -- extremes over periods ------------------------------------------------------------------


def _period_failure(name):
    return InputError(f"{name}: xclim needs a regular daily series of at least 3 days")


def hot_days(maximum_temperature, threshold, period):
    """Number of high-temperature days (高温日数), :math:`T_{max} \\ge` ``threshold``
    (35 °C, the Chinese high-temperature day), per period
    (xclim ``tx_days_above(op=">=")``).

    References
    ----------
    CMA Decree No. 16 (2007), 高温预警信号 (35 °C); xclim (Bourgault et al. 2023).
    """
    index = xclim().tx_days_above
    out = period_index(
        index,
        period,
        {"tasmax": (maximum_temperature, "degC", "degC")},
        thresh=f"{threshold.m_as('degC')} degC",
        op=">=",
    )
    return converted(out, "day")


def tropical_nights(minimum_temperature, threshold, period):
    """Number of tropical nights (ETCCDI TR), :math:`T_{min} >` ``threshold`` (20 °C),
    per period (xclim ``tn_days_above``).

    References
    ----------
    Zhang, X. et al., 2011: Indices for monitoring changes in extremes based on daily
    temperature and precipitation data. WIREs Clim. Change 2, 851–870.
    """
    out = period_index(
        xclim().tn_days_above,
        period,
        {"tasmin": (minimum_temperature, "degC", "degC")},
        thresh=f"{threshold.m_as('degC')} degC",
        op=">",
    )
    return converted(out, "day")


def maximum_n_day_precipitation(precipitation, extended_precipitation, window, period):
    """Highest precipitation total over ``window`` consecutive days ending on a day of the
    record, in each period (ETCCDI Rx1day, Rx5day):

    .. math:: Rx_n = \\max_{t \\in \\text{period}} \\sum_{i=0}^{n-1} P_{t-i}

    (xclim ``max_n_day_precipitation_amount``). As in ETCCDI, a window ending early in a
    period reaches into the days before it; before the record those days come from the
    extended daily series (history, then normals). A window with a missing day is
    missing; a period with a missing day in the record is missing.

    References
    ----------
    Zhang, X. et al., 2011 (ETCCDI); xclim (Bourgault et al. 2023).
    """
    n = whole_days(window)
    require_days(precipitation)  # xclim infers the sampling frequency from three dates
    days = precipitation["day"]
    dates = pd.DatetimeIndex(calendar_dates(days).values)
    span = pd.date_range(dates[0] - pd.Timedelta(days=n - 1), dates[-1], freq="D")
    series = extended_precipitation.reindex(time=span)  # holds the record's own days
    series.attrs = {"units": "mm/d"}
    try:
        totals = xclim().max_n_day_precipitation_amount(series, window=n, freq=period)
    except ValueError as exc:
        raise _period_failure("maximum_n_day_precipitation") from exc
    record = as_series(precipitation, "mm")
    incomplete = record.isnull().resample(time=period).any()
    totals = totals.where(~incomplete.reindex_like(totals, fill_value=True))
    totals = totals.sel(time=slice(incomplete["time"].values[0], None))
    out = totals.transpose("time", ...).rename(time="period")
    return converted(out, "mm")


def very_wet_day_precipitation(precipitation, percentile, wet_day_threshold, period):
    """Precipitation of very wet days (ETCCDI R95p): total precipitation of the wet days
    (:math:`P >` ``wet_day_threshold``) whose amount exceeds the 95th percentile of
    wet-day precipitation of the same day of year (``climatological_95th_percentile_daily_
    precipitation``):

    .. math:: R95p = \\sum_{t \\in \\text{period}} P_t \\, [P_t > \\max(P_{95}(d_t), P_{wet})]

    The sum xclim's ``fraction_over_precip_thresh`` divides by the wet-day total (the same
    comparison and day-of-year percentile, xclim ``resample_doy``): summed directly, a
    period without a wet day is 0, not 0/0.

    References
    ----------
    Zhang, X. et al., 2011 (ETCCDI R95p); xclim (Bourgault et al. 2023).
    """
    per = convert_dataarray(percentile, "mm")
    if "dayofyear" not in per.dims:
        raise InputError("the percentile climatology needs a `dayofyear` dimension")
    if "dayofyear" not in per.coords:
        per = per.assign_coords(dayofyear=np.arange(1, per.sizes["dayofyear"] + 1))
    threshold = float(wet_day_threshold.m_as("mm"))

    def amount_over(pr, freq):
        limit = xclim("xclim.core.calendar").resample_doy(per.where(per > threshold, threshold), pr)
        return pr.where(pr > limit, 0.0).resample(time=freq).sum()

    amount = period_index(amount_over, period, {"pr": (precipitation, "mm", "mm/d")})
    return with_units(amount, "mm")


def simple_daily_intensity_index(precipitation, wet_day_threshold, period):
    """Simple daily intensity index SDII (ETCCDI): mean precipitation of the wet days,
    :math:`\\sum P_w / W` with wet days :math:`P \\ge` ``wet_day_threshold`` (1 mm), as
    xclim ``daily_pr_intensity``: xclim's wet-day total (``prcptot``) over its wet-day count
    (``wetdays``). A period without a wet day has no intensity (missing, not 0/0).

    References
    ----------
    Zhang, X. et al., 2011 (ETCCDI SDII).
    """

    def intensity(pr, freq):
        thresh = f"{wet_day_threshold.m_as('mm')} mm/d"
        total = xclim().prcptot(pr, thresh=thresh, freq=freq)
        days = xclim().wetdays(pr, thresh=thresh, freq=freq, op=">=")
        return (total / days.where(days > 0)).assign_attrs(units=f"{total.units}/d")

    try:
        out = period_index(intensity, period, {"pr": (precipitation, "mm", "mm/d")})
    except ValueError as exc:
        raise _period_failure("simple_daily_intensity_index") from exc
    return converted(out, "mm/d")


def rainstorm_days(precipitation, threshold, period):
    """Number of rainstorm days (暴雨日数): daily precipitation ≥ ``threshold`` (50 mm, the
    暴雨 grade of GB/T 28592-2012), per period (xclim ``wetdays(op=">=")``).

    References
    ----------
    GB/T 28592-2012 降水量等级.
    """
    out = period_index(
        xclim().wetdays,
        period,
        {"pr": (precipitation, "mm", "mm/d")},
        thresh=f"{threshold.m_as('mm')} mm/d",
        op=">=",
    )
    return converted(out, "day")


def heat_wave_events(maximum_temperature, threshold, minimum_length, period):
    """Number of high-temperature processes (高温过程): runs of at least ``minimum_length``
    consecutive days with :math:`T_{max} \\ge` ``threshold``, per period (xclim
    ``hot_spell_frequency``, runs counted in the period where they start).

    References
    ----------
    xclim ``hot_spell_frequency`` (Casati et al. 2013); Chinese high-temperature process
    convention (35 °C for 3 days) — recalled.
    """
    out = period_index(
        xclim().hot_spell_frequency,
        period,
        {"tasmax": (maximum_temperature, "degC", "degC")},
        thresh=f"{threshold.m_as('degC')} degC",
        window=whole_days(minimum_length),
        op=">=",
    )
    return with_units(out, "1")


def cold_spell_days(mean_temperature, threshold, minimum_length, period):
    """Number of days in cold spells: runs of at least ``minimum_length`` days with daily
    mean temperature :math:`\\le` ``threshold``, per period (xclim ``cold_spell_days``;
    the cold season ``YS-JUL`` keeps a winter in one period).

    References
    ----------
    xclim ``cold_spell_days``; Guangdong low-temperature spells — thresholds recalled.
    """
    out = period_index(
        xclim().cold_spell_days,
        period,
        {"tas": (mean_temperature, "degC", "degC")},
        thresh=f"{threshold.m_as('degC')} degC",
        window=whole_days(minimum_length),
        op="<=",
    )
    return converted(out, "day")


# -- tourism climate index ------------------------------------------------------------------


def _rating(values: xr.DataArray, lower_bounds, ratings) -> xr.DataArray:
    """Rating of the interval ``[b_k, b_{k+1})`` of ``lower_bounds`` (``ratings`` has one
    more entry than ``lower_bounds``: the rating below the first bound first)."""
    bounds = np.asarray(lower_bounds, dtype=np.float64)
    table = np.asarray(ratings, dtype=np.float64)

    def kernel(x):
        x = np.asarray(x, dtype=np.float64)
        return np.where(np.isnan(x), np.nan, table[np.searchsorted(bounds, x, side="right")])

    return elementwise(kernel, values, dtype=np.float64)


def _missenard(temperature_c, humidity_percent):
    """Missenard effective temperature :math:`TE = T - 0.4(T - 10)(1 - RH/100)` (°C)."""
    return temperature_c - 0.4 * (temperature_c - 10.0) * (1.0 - humidity_percent / 100.0)


def tourism_climate_index(
    maximum_temperature,
    mean_temperature,
    precipitation,
    relative_humidity,
    wind_speed,
    direct_radiation,
    period,
    comfort_bounds,
    comfort_ratings,
    precipitation_bounds,
    precipitation_ratings,
    sunshine_bounds,
    sunshine_ratings,
    wind_bounds,
    wind_ratings,
    sunshine_threshold,
):
    """Tourism climate index TCI (Mieczkowski 1985) per period (month):

    .. math:: TCI = 2\\,(4\\,CID + CIA + 2\\,R + 2\\,S + W)

    * CID, daytime comfort: rating of the effective temperature of the mean daily maximum
      temperature and the mean daily minimum relative humidity;
    * CIA, daily comfort: rating of the effective temperature of the mean temperature and
      the mean relative humidity (effective temperature: Missenard
      :math:`TE = T - 0.4(T - 10)(1 - RH/100)`);
    * R: rating of the monthly precipitation (mean daily amount × 30.44 d, the mean month);
    * S: rating of the mean daily sunshine duration (WMO: direct normal irradiance ≥
      ``sunshine_threshold``, from the direct radiation and the solar angle);
    * W: rating of the mean 10 m wind speed (km/h, Mieczkowski's normal system).

    The means are over the days of the period present in the record (a partial month is
    rated on its days so far); a missing day makes the period missing. The rating tables
    and the effective-temperature formula are recalled, not read from Mieczkowski (1985):
    every table is a parameter marked unverified. Range −30 … 100 (≥ 80 excellent,
    60–79 good/very good, 40–59 acceptable/marginal, < 40 unfavourable).

    References
    ----------
    Mieczkowski, Z., 1985: The tourism climatic index: a method of evaluating world
    climates for tourism. Can. Geogr. 29, 220–233.
    """
    day = day_definition(maximum_temperature)
    humidity = convert_dataarray(relative_humidity, "percent")
    minimum_humidity = daily_in_hours(humidity, "min", day=day)
    mean_humidity = daily_in_hours(humidity, "mean", day=day)
    wind = daily_in_hours(convert_dataarray(wind_speed, "km/h"), "mean", day=day)
    sunshine = daily_in_hours(
        sunshine_duration(direct_radiation, sunshine_threshold), "sum", day=day
    )
    inputs = {
        "tmax": (maximum_temperature, "degC"),
        "tmean": (mean_temperature, "degC"),
        "rain": (precipitation, "mm"),
        "rhmin": (minimum_humidity, "percent"),
        "rhmean": (mean_humidity, "percent"),
        "wind": (wind, "km/h"),
        "sun": (sunshine, "hour"),
    }
    series = {name: as_series(data, units) for name, (data, units) in inputs.items()}
    series = dict(zip(series, xr.align(*series.values(), join="inner"), strict=True))
    means = {name: s.resample(time=period).mean() for name, s in series.items()}
    missing = None
    for s in series.values():
        gaps = s.isnull().resample(time=period).any()
        missing = gaps if missing is None else missing | gaps

    def table(bounds, units):
        return [quantity(b).m_as(units) for b in bounds]

    daytime = _rating(
        _missenard(means["tmax"], means["rhmin"]), table(comfort_bounds, "degC"), comfort_ratings
    )
    daily_comfort = _rating(
        _missenard(means["tmean"], means["rhmean"]), table(comfort_bounds, "degC"), comfort_ratings
    )
    rain = _rating(
        means["rain"] * (365.25 / 12), table(precipitation_bounds, "mm"), precipitation_ratings
    )
    sun = _rating(means["sun"], table(sunshine_bounds, "hour"), sunshine_ratings)
    wind_rating = _rating(means["wind"], table(wind_bounds, "km/h"), wind_ratings)
    index = 2.0 * (4.0 * daytime + daily_comfort + 2.0 * rain + 2.0 * sun + wind_rating)
    index = index.where(~missing)
    return with_units(index.transpose("time", ...).rename(time="period"), "1")
