"""Extremes and changes over true trailing windows, for any regular time step.

A window ``w`` ending at ``t`` covers ``(t − w, t]``: on hourly data a 24 h window holds
24 values, on 10-min data 144, on 3-hourly data 8. A window with a missing step is
missing (never a silently shorter window); see :func:`weatherdata.compute.rolling_window`.
"""

from weatherdata.compute import difference_over, rolling_window, with_units


def trailing_maximum(data, window):
    """Maximum over the trailing ``window``: :math:`\\max_{t-w < s \\le t} x_s`.

    For gusts (each value already the maximum over its own step) this is the extreme gust
    of the window (e.g. 日极大风速); for 2 m temperature sampled at the time step it is the
    maximum of the samples, which can miss a short peak between two observations.
    """
    return rolling_window(data, window, how="max")


def trailing_minimum(data, window):
    """Minimum over the trailing ``window``: :math:`\\min_{t-w < s \\le t} x_s`."""
    return rolling_window(data, window, how="min")


def change(data, lag):
    """Change over ``lag``: :math:`x(t) - x(t - \\Delta t)` (e.g. 24 h 变温, 3 h 变压).

    Temperature differences are returned in kelvin.
    """
    return difference_over(data, lag)


def decrease(data, lag):
    """Decrease over ``lag``, positive when the value fell: :math:`x(t - \\Delta t) - x(t)`.

    Applied to the trailing 24 h minimum temperature this is the drop of the minimum
    temperature used by the cold-wave criteria (CMA Decree No. 16, 2007; GB/T 21987):
    e.g. 48 h drop = :math:`T_{min,24h}(t - 48\\,h) - T_{min,24h}(t)`.
    """
    rise = difference_over(data, lag)
    return with_units(-rise, rise.attrs["units"])
