"""Daily statistics with an explicit day definition (dimension ``day``).

The Chinese climatological day runs 20:00–20:00 Beijing time (BJT = UTC+8), so the day
labelled ``2026-07-24T12:00`` (UTC) is the BJT date 2026-07-25. Other definitions:
``beijing_08_08``, ``beijing_00_00``, ``utc`` (see
:data:`weatherdata.compute.DAY_DEFINITIONS`). Only complete days are kept and a day with
a missing step is missing.
"""

from weatherdata.compute import daily


def daily_mean(data, day_definition):
    """Mean of all time steps of the day, :math:`\\frac{1}{n}\\sum_{i=1}^{n} x_i`.

    On hourly data this is the 24-observation mean of Chinese surface-observation
    practice (the 02/08/14/20 BJT four-observation mean is the older manual convention).
    """
    return daily(data, "mean", day=day_definition)


def daily_maximum(data, day_definition):
    """Maximum of the day's values, :math:`\\max_i x_i` (日最高气温 from sampled values)."""
    return daily(data, "max", day=day_definition)


def daily_minimum(data, day_definition):
    """Minimum of the day's values, :math:`\\min_i x_i` (日最低气温 from sampled values)."""
    return daily(data, "min", day=day_definition)


def daily_total(data, day_definition):
    """Sum of the day's per-step amounts, :math:`\\sum_i P_i` (日降水量)."""
    return daily(data, "sum", day=day_definition)
