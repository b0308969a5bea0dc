"""Public life indices (生活气象指数): heat stroke, dressing, colds, morning exercise, UV,
car wash, umbrella, outing, laundry, 回南天 and urban fire danger.

Apart from the UV classes (GB/T 36744-2018 public scheme), none of these has a national
formula: Guangdong/Foshan publish them (uv, ddre, ndre, carwash, umb, moe, outing, cfd)
without their rules. Each is implemented here as an explicit, documented rule table
whose every threshold is a catalog parameter marked unverified (``local_rule: true``);
the catalog entry lists the classes and their definitions. Daily indices take an
explicit day definition and, where they concern part of the day, explicit Beijing hours.

The rule tables are built from factors (1 = unfavourable, 0 = not, NaN = unknown), so a
missing input makes the index missing instead of silently "favourable".
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from weatherdata.compute import daily, quantity, require_days, rolling_window, with_units
from weatherdata.units import convert_dataarray

from .public_helpers import (
    class_from_lower_bounds,
    daily_in_hours,
    flag,
    hours_of,
    magnitudes,
    sunshine_duration,
)


def _hours(start, end) -> tuple[int, int]:
    return round(hours_of(start)) % 24, round(hours_of(end)) % 24


def _in(data: xr.DataArray, units: str) -> xr.DataArray:
    """``data`` converted to ``units`` (plain values for comparisons)."""
    return convert_dataarray(data, units)


def _value(parameter, units: str) -> float:
    return float(quantity(parameter).m_as(units))


def _level(values: xr.DataArray) -> xr.DataArray:
    return with_units(values.astype(np.float32), "1")


# -- heat stroke -----------------------------------------------------------------------------


def heatstroke_risk_level(
    heat_index, temperature, day_definition, heat_index_bounds, hot_day_threshold, hot_spell_length
):
    """Daily heat-stroke risk level (中暑气象等级) 1–5: a local rule table.

    1. The day's maximum NWS heat index gives the base level on the NWS risk bands:
       below 27 °C 1 (不会中暑), 27–32 2 (一般不会), 32–39 3 (可能), 39–51 4 (容易),
       51 °C and above 5 (极易中暑).
    2. Persistence: when the day and the days before it form a run of ``hot_spell_length``
       days with maximum temperature ≥ ``hot_day_threshold`` (the Chinese high-temperature
       day, 35 °C), the level is raised by one, at most to 5.

    A hot day early in the record whose predecessors are not observed has an unknown
    persistence, hence a missing level (unless a cool day in the window rules the run out).

    References
    ----------
    NWS heat index risk classes (www.weather.gov/safety/heat-index); CMA Decree No. 16
    (2007) high-temperature signals; class names of the public 中暑 index. The rule
    combining them is local (no national formula; Hebei DB13/T 1537-2012 not read).
    """
    daily_maximum_heat_index = daily(heat_index, "max", day=day_definition)
    base = class_from_lower_bounds(
        _in(daily_maximum_heat_index, "degC"), magnitudes(heat_index_bounds, "degC")
    )
    maximum_temperature = _in(daily(temperature, "max", day=day_definition), "degC")
    hot = flag(maximum_temperature >= _value(hot_day_threshold, "degC"), maximum_temperature)
    length = round(float(quantity(hot_spell_length).m_as("day")))
    run = hot.rolling(day=length).sum()
    # A known cool day among the last `length` days rules a spell out even where the
    # window reaches back before the record; otherwise the spell needs every day known.
    broken = (hot == 0).rolling(day=length, min_periods=1).max()
    spell = xr.where(broken == 1, 0.0, (run >= length).where(run.notnull()))
    return _level(np.minimum(base + spell, 5))


# -- dressing ---------------------------------------------------------------------------------


def dressing_index(
    apparent_temperature, day_definition, hours_start, hours_end, class_lower_bounds
):
    """Dressing index (穿衣指数) 1–8 from the mean apparent temperature over given hours.

    The Steadman/BoM apparent temperature (shade; air temperature, humidity and wind) is
    averaged over the Beijing hours ``[hours_start, hours_end)`` of the day — 08–20 for the
    daytime index, 20–08 (wrapping) for the morning/evening index — and classed on
    ``class_lower_bounds`` (increasing): the warmest interval is class 1 (summer clothing),
    the coldest class 8 (heavy winter clothing). Classes 1–2 are summer, 3–5 spring/autumn
    and 6–8 winter dress, as in the public CMA 8-class scheme.

    References
    ----------
    Foshan open-data products ddre/ndre (rules unpublished); 8-class scheme of the public
    dressing index (h.01ny.cn); Steadman (1984) apparent temperature. Bounds: local rule.
    """
    mean = daily_in_hours(
        apparent_temperature, "mean", day=day_definition, hours=_hours(hours_start, hours_end)
    )
    return class_from_lower_bounds(
        _in(mean, "degC"), magnitudes(class_lower_bounds, "degC"), descending=True
    )


# -- common cold ------------------------------------------------------------------------------


def common_cold_risk_level(
    temperature,
    relative_humidity,
    day_definition,
    day_to_day_change,
    diurnal_range,
    cold_day,
    dry_air,
):
    """Common-cold weather risk level (感冒指数) 1–4: count of unfavourable factors.

    Factors of the day (each 1 when met):

    * temperature swing: :math:`|\\bar T_d - \\bar T_{d-1}| \\ge` ``day_to_day_change``;
    * large diurnal range: :math:`T_{max} - T_{min} \\ge` ``diurnal_range``;
    * cold day: :math:`\\bar T \\le` ``cold_day``;
    * dry air: mean relative humidity < ``dry_air``.

    Level = 1 + number of factors, at most 4 (少发, 较易发, 易发, 极易发). The first day
    of a record has no previous day, so its level is missing.

    References
    ----------
    Candidate list row 184 (rule score on temperature swing, diurnal range and humidity);
    thresholds are a local rule.
    """
    mean = _in(daily(temperature, "mean", day=day_definition), "degC")
    maximum = _in(daily(temperature, "max", day=day_definition), "degC")
    minimum = _in(daily(temperature, "min", day=day_definition), "degC")
    humidity = _in(daily(relative_humidity, "mean", day=day_definition), "percent")
    require_days(mean, 2, "the day-to-day change")
    previous = mean.shift(day=1)
    swing = flag(abs(mean - previous) >= _value(day_to_day_change, "K"), mean, previous)
    diurnal = flag(maximum - minimum >= _value(diurnal_range, "K"), maximum, minimum)
    cold = flag(mean <= _value(cold_day, "degC"), mean)
    dry = flag(humidity < _value(dry_air, "percent"), humidity)
    return _level(np.minimum(1 + swing + diurnal + cold + dry, 4))


# -- morning exercise -------------------------------------------------------------------------


def morning_exercise_index(
    temperature,
    wind_speed,
    precipitation,
    visibility,
    fine_particulate_matter,
    day_definition,
    hours_start,
    hours_end,
    rain_threshold,
    heavy_rain_threshold,
    wind_threshold,
    temperature_range,
    visibility_threshold,
    low_visibility_threshold,
    fine_particulate_matter_threshold,
):
    """Morning-exercise index (晨练指数) 1–5 from the weather of the morning hours.

    Over the Beijing hours ``[hours_start, hours_end)`` (06–09 by default), unfavourable
    factors count one each: precipitation ≥ ``rain_threshold``; maximum 10 m wind ≥
    ``wind_threshold`` (force 4); mean temperature outside ``temperature_range``;
    minimum visibility < ``visibility_threshold``; mean PM2.5 > the threshold (air-quality
    "lightly polluted"). Level = 1 + factors, at most 5 (非常适宜, 适宜, 较适宜, 较不宜,
    不宜); precipitation ≥ ``heavy_rain_threshold`` or visibility < ``low_visibility_threshold``
    make it 5 whatever the count.

    References
    ----------
    Foshan open-data product moe; public 5-class morning-exercise scheme counting
    unfavourable factors (h.01ny.cn); GB/T 28591-2012 wind force; HJ 633-2012 AQI
    breakpoints. Thresholds are a local rule.
    """
    hours = _hours(hours_start, hours_end)

    def window(data, how, units):
        return _in(daily_in_hours(data, how, day=day_definition, hours=hours), units)

    rain = window(precipitation, "sum", "mm")
    wind = window(wind_speed, "max", "m s-1")
    warmth = window(temperature, "mean", "degC")
    sight = window(visibility, "min", "m")
    particles = window(fine_particulate_matter, "mean", "ug m-3")
    low, high = (_value(v, "degC") for v in temperature_range)
    count = (
        flag(rain >= _value(rain_threshold, "mm"), rain)
        + flag(wind >= _value(wind_threshold, "m s-1"), wind)
        + flag((warmth < low) | (warmth > high), warmth)
        + flag(sight < _value(visibility_threshold, "m"), sight)
        + flag(particles > _value(fine_particulate_matter_threshold, "ug m-3"), particles)
    )
    level = np.minimum(1 + count, 5)
    severe = (rain >= _value(heavy_rain_threshold, "mm")) | (
        sight < _value(low_visibility_threshold, "m")
    )
    return _level(xr.where(severe, 5.0, level).where(level.notnull()))


# -- ultraviolet ------------------------------------------------------------------------------


def ultraviolet_index_level(ultraviolet_index, day_definition, class_lower_bounds):
    """Daily UV level (紫外线指数等级) 1–5 of the day's maximum UV index.

    The UV index is reported as a whole number (rounded half up) and classed on the
    public GB/T 36744-2018 scheme: 0–2 最弱, 3–4 弱, 5–6 中等, 7–9 强, ≥10 很强.

    References
    ----------
    GB/T 36744-2018 紫外线指数预报方法 (classes as quoted by public pages); WHO, 2002:
    Global Solar UV Index — a practical guide (whole-number reporting).
    """
    maximum = daily(ultraviolet_index, "max", day=day_definition)
    reported = np.floor(_in(maximum, "dimensionless") + 0.5)
    return class_from_lower_bounds(reported, np.asarray(class_lower_bounds, dtype=np.float64))


# -- forecasts over the coming hours (car wash, umbrella) -------------------------------------------


def _forecast_total(
    forecast_precipitation: xr.DataArray, first_hour: float, last_hour: float
) -> xr.DataArray:
    """Forecast precipitation summed over lead times ``first_hour < lead ≤ last_hour``;
    missing if any lead in the range is missing (no run covers it)."""
    lead_hours = forecast_precipitation["lead_time"].values / np.timedelta64(1, "h")
    chosen = np.flatnonzero((lead_hours > first_hour) & (lead_hours <= last_hour))
    if chosen.size == 0:
        raise ValueError(f"the forecast has no lead time in ({first_hour}, {last_hour}] h")
    return _in(forecast_precipitation, "mm").isel(lead_time=chosen).sum("lead_time", skipna=False)


def car_wash_index(
    forecast_precipitation,
    precipitation,
    coarse_particulate_matter,
    wind_speed,
    near_window,
    far_window,
    rain_threshold,
    recent_rain_window,
    dusty_air_threshold,
    very_dusty_air_threshold,
    wind_threshold,
):
    """Car-wash index (洗车指数) 1–4, issued at each time for the next two days.

    From the latest forecast available at the time (hourly precipitation by lead) and the
    current observations:

    4 不宜: rain ≥ ``rain_threshold`` forecast within ``near_window`` (24 h), or PM10 ≥
    ``very_dusty_air_threshold``;
    3 较不宜: rain forecast later within ``far_window`` (24–48 h), or rain observed over the
    past ``recent_rain_window`` (wet, muddy roads), or PM10 ≥ ``dusty_air_threshold``;
    2 较适宜: 10 m wind ≥ ``wind_threshold`` (dust raised);
    1 适宜: none of these.

    48 h is the longest outlook a 72 h run issued every 12 h covers at every hour.

    References
    ----------
    Foshan open-data product carwash (rules unpublished); GB/T 28592-2012 (0.1 mm rain);
    HJ 633-2012 PM10 breakpoints; GB/T 28591-2012 force 5. The rule is local.
    """
    limit = _value(rain_threshold, "mm")
    near, far = hours_of(near_window), hours_of(far_window)
    first = _forecast_total(forecast_precipitation, 0, near)
    second = _forecast_total(forecast_precipitation, near, far)
    recent = _in(rolling_window(precipitation, recent_rain_window, "sum"), "mm")
    dust = _in(coarse_particulate_matter, "ug m-3")
    wind = _in(wind_speed, "m s-1")
    known = first.notnull() & second.notnull() & recent.notnull() & dust.notnull() & wind.notnull()
    level = xr.where(
        (first >= limit) | (dust >= _value(very_dusty_air_threshold, "ug m-3")),
        4.0,
        xr.where(
            (second >= limit) | (recent >= limit) | (dust >= _value(dusty_air_threshold, "ug m-3")),
            3.0,
            xr.where(wind >= _value(wind_threshold, "m s-1"), 2.0, 1.0),
        ),
    )
    return _level(level.where(known))


def umbrella_index(
    forecast_precipitation,
    ultraviolet_index,
    window,
    rain_threshold,
    heavy_rain_threshold,
    strong_sun_threshold,
):
    """Umbrella index (雨伞指数) 1–4, issued at each time for the coming ``window``.

    From the latest forecast's precipitation over the next ``window`` (12 h) and the
    current UV index:

    4 必须带雨伞: forecast rain ≥ ``heavy_rain_threshold`` (12 h 中雨 of GB/T 28592);
    3 带雨伞: forecast rain ≥ ``rain_threshold``;
    2 带遮阳伞: no rain and UV index ≥ ``strong_sun_threshold`` (the 强 UV class);
    1 不需要带伞: otherwise.

    References
    ----------
    Foshan open-data product umb (rules unpublished); GB/T 28592-2012 12 h grades;
    GB/T 36744-2018 UV classes. The rule is local.
    """
    hours = hours_of(window)
    rain = _forecast_total(forecast_precipitation, 0, hours)
    sun = _in(ultraviolet_index, "dimensionless")
    level = xr.where(
        rain >= _value(heavy_rain_threshold, "mm"),
        4.0,
        xr.where(
            rain >= _value(rain_threshold, "mm"),
            3.0,
            xr.where(sun >= _value(strong_sun_threshold, "dimensionless"), 2.0, 1.0),
        ),
    )
    return _level(level.where(rain.notnull() & sun.notnull()))


# -- outing and laundry -------------------------------------------------------------------------


def outing_index(
    apparent_temperature,
    precipitation,
    wind_speed,
    visibility,
    ultraviolet_index,
    day_definition,
    hours_start,
    hours_end,
    rain_threshold,
    heavy_rain_threshold,
    wind_threshold,
    strong_wind_threshold,
    comfortable_range,
    tolerable_range,
    visibility_threshold,
    strong_sun_threshold,
):
    """Outing / excursion index (郊游指数) 1–4 from the daytime weather.

    Over the daytime Beijing hours ``[hours_start, hours_end)`` (08–20):

    4 不宜: rain ≥ ``heavy_rain_threshold``, or maximum wind ≥ ``strong_wind_threshold``
    (force 6), or mean apparent temperature outside ``tolerable_range``;
    otherwise 1 + the number of minor factors, at most 3 (适宜, 较适宜, 较不宜): rain ≥
    ``rain_threshold``; maximum wind ≥ ``wind_threshold`` (force 5); mean apparent
    temperature outside ``comfortable_range``; minimum visibility < ``visibility_threshold``;
    maximum UV index ≥ ``strong_sun_threshold``.

    References
    ----------
    Foshan open-data product outing (rules unpublished); GB/T 28591-2012 wind force;
    GB/T 28592-2012 rain grades. The rule is local.
    """
    hours = _hours(hours_start, hours_end)

    def window(data, how, units):
        return _in(daily_in_hours(data, how, day=day_definition, hours=hours), units)

    rain = window(precipitation, "sum", "mm")
    wind = window(wind_speed, "max", "m s-1")
    feel = window(apparent_temperature, "mean", "degC")
    sight = window(visibility, "min", "m")
    sun = window(ultraviolet_index, "max", "dimensionless")
    low, high = (_value(v, "degC") for v in comfortable_range)
    lowest, highest = (_value(v, "degC") for v in tolerable_range)
    minor = (
        flag(rain >= _value(rain_threshold, "mm"), rain)
        + flag(wind >= _value(wind_threshold, "m s-1"), wind)
        + flag((feel < low) | (feel > high), feel)
        + flag(sight < _value(visibility_threshold, "m"), sight)
        + flag(sun >= _value(strong_sun_threshold, "dimensionless"), sun)
    )
    unsuitable = (
        (rain >= _value(heavy_rain_threshold, "mm"))
        | (wind >= _value(strong_wind_threshold, "m s-1"))
        | (feel < lowest)
        | (feel > highest)
    )
    level = np.minimum(1 + minor, 3)
    return _level(xr.where(unsuitable, 4.0, level).where(level.notnull()))


def laundry_drying_index(
    temperature,
    relative_humidity,
    wind_speed,
    precipitation,
    direct_shortwave_down,
    day_definition,
    hours_start,
    hours_end,
    rain_threshold,
    sunshine_threshold,
    sunshine_bounds,
    humidity_bounds,
    wind_range,
    warm_threshold,
    level_bounds,
):
    """Laundry-drying index (晾晒指数) 1–5 from the daytime drying conditions.

    Over the daytime Beijing hours (08–20): any rain ≥ ``rain_threshold`` makes it 5 不宜.
    Otherwise a drying score adds

    * sunshine (WMO 120 W m-2 direct-normal criterion): 2 points from the upper
      ``sunshine_bounds`` value (6 h), 1 from the lower (3 h);
    * mean relative humidity: 2 points below the lower ``humidity_bounds`` value (60 %),
      1 below the upper (80 %);
    * mean wind within ``wind_range`` (force 2 up to force 6, a breeze that does not blow
      the washing away): 1 point;
    * mean temperature ≥ ``warm_threshold``: 1 point,

    and the score (0–6) gives the level on ``level_bounds`` (score ≥ 5: 1 极适宜, 4: 2
    适宜, 3: 3 基本适宜, ≤ 2: 4 不太适宜).

    References
    ----------
    WMO-No. 8 (sunshine: direct normal irradiance ≥ 120 W m-2); GB/T 28591-2012 wind
    force. The scores are a local rule (no published drying-index formula).
    """
    hours = _hours(hours_start, hours_end)

    def window(data, how, units):
        return _in(daily_in_hours(data, how, day=day_definition, hours=hours), units)

    rain = window(precipitation, "sum", "mm")
    sunshine = window(sunshine_duration(direct_shortwave_down, sunshine_threshold), "sum", "hour")
    humidity = window(relative_humidity, "mean", "percent")
    wind = window(wind_speed, "mean", "m s-1")
    warmth = window(temperature, "mean", "degC")
    some_sun, much_sun = magnitudes(sunshine_bounds, "hour")
    dry, fairly_dry = magnitudes(humidity_bounds, "percent")
    calm, gale = magnitudes(wind_range, "m s-1")
    score = (
        flag(sunshine >= some_sun, sunshine)
        + flag(sunshine >= much_sun, sunshine)
        + flag(humidity < fairly_dry, humidity)
        + flag(humidity < dry, humidity)
        + flag((wind >= calm) & (wind < gale), wind)
        + flag(warmth >= _value(warm_threshold, "degC"), warmth)
    )
    level = class_from_lower_bounds(
        score, np.asarray(level_bounds, dtype=np.float64), descending=True
    )
    return _level(xr.where(rain >= _value(rain_threshold, "mm"), 5.0, level).where(rain.notnull()))


# -- 回南天 ------------------------------------------------------------------------------------------


def huinantian_condensation_level(
    temperature, dewpoint, relative_humidity, wall_window, humidity_threshold, margin_bounds
):
    """回南天 (return-south) condensation level 0–3.

    In Guangdong spring, warm moist air arriving after a cold spell condenses on walls and
    floors that are still cold. The surface temperature is approximated by the trailing
    ``wall_window`` (48 h) mean air temperature, and the condensation margin is
    :math:`\\Delta = T_d - \\bar T_{wall}`. With relative humidity ≥ ``humidity_threshold``:
    0 < Δ < first bound (1 K) 1 轻度, up to the second bound (2 K) 2 中度, beyond 3 重度;
    otherwise 0 无. The first ``wall_window`` of a record is missing.

    References
    ----------
    Candidate list row 191 (condensation when the dewpoint exceeds a lagged-temperature
    wall proxy with high humidity); no standard was found, the rule is local.
    """
    wall = _in(rolling_window(temperature, wall_window, "mean"), "degC")
    margin = _in(dewpoint, "degC") - wall
    humidity = _in(relative_humidity, "percent")
    moderate, severe = magnitudes(margin_bounds, "K")
    level = xr.where(
        (humidity >= _value(humidity_threshold, "percent")) & (margin > 0),
        1.0 + (margin >= moderate) + (margin >= severe),
        0.0,
    )
    return _level(level.where(margin.notnull() & humidity.notnull()))


# -- urban fire danger ------------------------------------------------------------------------------


def city_fire_danger_level(
    temperature,
    relative_humidity,
    wind_speed,
    precipitation,
    day_definition,
    temperature_bounds,
    humidity_bounds,
    wind_bounds,
    dryness_bounds,
    dryness_window,
    wet_day_threshold,
    level_bounds,
):
    """Urban fire-danger level (城市火险等级) 1–5, a points table after the forest-fire
    weather index (maximum temperature, minimum humidity, wind, antecedent dryness).

    Points of the day: maximum temperature, one per ``temperature_bounds`` value reached
    (15, 25 °C: 0–2); minimum relative humidity, one per ``humidity_bounds`` value it is
    below (60, 40, 25 %: 0–3); maximum 10 m wind, one per ``wind_bounds`` value reached
    (force 4 and 6: 0–2); dryness, precipitation over the last ``dryness_window`` (3 days)
    below each ``dryness_bounds`` value (5 mm, 0.1 mm: 0–2). The total (0–9) gives the
    level on ``level_bounds`` (3, 5, 7, 8 → 低, 较低, 较高, 高, 极高). A day with
    precipitation ≥ ``wet_day_threshold`` is level 1.

    References
    ----------
    Foshan open-data product cfd (rules unpublished); components after the national
    forest fire-weather index (maximum temperature, 14 h humidity, no-rain days, wind) and
    the QX/T 77-2007 level names and colours. The points table is local.
    """
    maximum = _in(daily(temperature, "max", day=day_definition), "degC")
    driest = _in(daily(relative_humidity, "min", day=day_definition), "percent")
    windiest = _in(daily(wind_speed, "max", day=day_definition), "m s-1")
    rain = daily(precipitation, "sum", day=day_definition)
    recent = _in(rolling_window(rain, dryness_window, "sum", dim="day"), "mm")
    rain = _in(rain, "mm")
    points = (
        class_from_lower_bounds(maximum, magnitudes(temperature_bounds, "degC"), first=0)
        + class_from_lower_bounds(
            driest, np.sort(magnitudes(humidity_bounds, "percent")), first=0, descending=True
        )
        + class_from_lower_bounds(windiest, magnitudes(wind_bounds, "m s-1"), first=0)
        + class_from_lower_bounds(
            recent, np.sort(magnitudes(dryness_bounds, "mm")), first=0, descending=True
        )
    )
    level = class_from_lower_bounds(points, np.asarray(level_bounds, dtype=np.float64))
    return _level(
        xr.where(rain >= _value(wet_day_threshold, "mm"), 1.0, level).where(rain.notnull())
    )
