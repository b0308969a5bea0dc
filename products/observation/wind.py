"""10 m wind speed and direction."""

import metpy.calc as mpcalc

from weatherdata.compute import pointwise


def wind_speed(eastward_wind, northward_wind):
    """Wind speed :math:`\\sqrt{u^2 + v^2}` (``metpy.calc.wind_speed``)."""
    return pointwise(mpcalc.wind_speed, eastward_wind, northward_wind, units="m s-1")


def wind_direction(eastward_wind, northward_wind):
    """Meteorological wind direction (where the wind blows *from*, 0–360°, 0 = calm)
    (``metpy.calc.wind_direction``, convention ``"from"``)."""
    return pointwise(mpcalc.wind_direction, eastward_wind, northward_wind, units="degree")
