"""Surface temperature and humidity analyses (2 m).

Recipes are plain functions of lazy DataArrays; MetPy does the physics through
:func:`weatherdata.compute.pointwise`, which feeds it pint quantities block by block.
"""

import metpy.calc as mpcalc

from weatherdata import compute
from weatherdata.compute import pointwise, with_units


def temperature(temperature):
    """Air temperature, passed through for unit conversion and QC (the engine converts K → °C)."""
    return with_units(temperature, temperature.attrs["units"])


def dewpoint_from_relative_humidity(temperature, relative_humidity):
    """Dewpoint from temperature and relative humidity.

    Inverts Bolton's (1980) saturation vapour pressure,
    :math:`e_s(T) = 6.112\\,\\exp\\left(\\frac{17.67\\,T}{T + 243.5}\\right)` hPa, at
    :math:`e = \\mathrm{RH}\\, e_s(T)` (``metpy.calc.dewpoint_from_relative_humidity``).

    References
    ----------
    Bolton, D., 1980: The computation of equivalent potential temperature.
    Mon. Wea. Rev., 108, 1046–1053.
    """
    return pointwise(
        compute.dewpoint_from_relative_humidity, temperature, relative_humidity, units="degC"
    )


def relative_humidity_from_dewpoint(temperature, dewpoint):
    """Relative humidity :math:`e_s(T_d)/e_s(T)` with Bolton's (1980) formula (MetPy)."""
    return pointwise(mpcalc.relative_humidity_from_dewpoint, temperature, dewpoint, units="percent")
