"""Precipitation intensity and grades over true trailing windows."""

from weatherdata.compute import rolling_window, time_step, to_timedelta

from .grading import class_by_lower_bounds


def maximum_hourly_precipitation(precipitation, window, interval):
    """Largest ``interval`` (1 h) accumulation inside the trailing ``window`` (24 h):

    .. math:: \\max_{\\tau} \\sum_{\\tau - 1\\,h < s \\le \\tau} P_s, \\qquad
              t - w + 1\\,h \\le \\tau \\le t

    Every hourly sum lies wholly inside :math:`(t - w, t]`. On hourly data these are the
    24 clock-hour totals; on 10-min data the sliding 60-min totals (最大小时雨强 as
    read from a rain-gauge trace).
    """
    hourly = rolling_window(precipitation, interval, how="sum")
    step = time_step(hourly)
    span = to_timedelta(window) - to_timedelta(interval) + step
    return rolling_window(hourly, span, how="max")


def precipitation_grade(accumulation, lower_bounds, resolution):
    """Grade of an accumulation on a table of lower bounds (GB/T 28592-2012 for 12 h and
    24 h; the operational 1 h and 3 h tables).

    Class 0 is "no precipitation" (< 0.1 mm as reported), then 小雨, 中雨, 大雨, 暴雨,
    大暴雨, 特大暴雨. The accumulation is rounded to the 0.1 mm reporting resolution
    (halves up) and classed on the lower bounds: with 24 h bounds 0.1/10/25/50/100/250
    mm, 9.94 mm is 小雨 (reported 9.9) and 9.95 mm is 中雨 (reported 10.0).
    """
    return class_by_lower_bounds(accumulation, lower_bounds, units="mm", resolution=resolution)
