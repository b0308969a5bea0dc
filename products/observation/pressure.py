"""Mean sea-level pressure reduction and pressure tendency."""

import metpy.calc as mpcalc
import metpy.constants as mpconst
import numpy as np

from weatherdata.compute import difference_over, pointwise


def mean_sea_level_pressure(pressure, temperature, dewpoint, altitude, lapse_rate):
    """Surface pressure reduced to mean sea level through a fictitious air column.

    The hypsometric equation (Wallace & Hobbs 2006, Sect. 3.2) for a column from the
    station (altitude :math:`z`, pressure :math:`p_s`) down to sea level, whose mean
    virtual temperature is the station's plus half the standard-atmosphere lapse rate
    over the column:

    .. math:: p_{msl} = p_s \\exp\\left(\\frac{g_0 z}{R_d \\bar T_v}\\right), \\qquad
              \\bar T_v = T_{v,s} + \\frac{\\Gamma z}{2}, \\quad \\Gamma = 6.5\\ \\mathrm{K\\,km^{-1}}

    with :math:`T_{v,s}` from the 2 m temperature and dewpoint
    (``metpy.calc.virtual_temperature``). This is the basic form of the reduction of
    WMO-No. 8 (Part I, Ch. 3); national station-specific corrections (plateau
    stations, the :math:`e\\,C_h` humidity term tables) are not applied, so values over
    high terrain (z > ~1500 m) are indicative only. Where :math:`z \\le 0` the surface
    pressure is returned unchanged.

    References
    ----------
    Wallace, J. M. and P. V. Hobbs, 2006: Atmospheric Science: An Introductory Survey,
    2nd ed. Academic Press. ICAO Doc 7488/3 (standard atmosphere lapse rate).
    """
    gamma = lapse_rate.m_as("K m-1")

    def reduce(p, t, td, z):
        mixing_ratio = mpcalc.saturation_mixing_ratio(p, td)
        virtual = mpcalc.virtual_temperature(t, mixing_ratio).m_as("K")
        height = np.maximum(z.m_as("m"), 0.0)
        mean_virtual = virtual + gamma * height / 2.0
        g0 = mpconst.g.m_as("m s-2")
        rd = mpconst.Rd.m_as("J kg-1 K-1")
        return p * np.exp(g0 * height / (rd * mean_virtual))

    return pointwise(reduce, pressure, temperature, dewpoint, altitude, units="hPa")


def pressure_tendency(pressure, lag):
    """Pressure change over ``lag``, :math:`p(t) - p(t - \\Delta t)` (3 h: the SYNOP
    pressure tendency, 3小时变压, from station-level pressure)."""
    return difference_over(pressure, lag)
