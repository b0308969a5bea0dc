"""Visibility and the fog and haze grades.

Fog and haze both lower visibility; relative humidity separates them. Haze is taken
where RH is below ``maximum_relative_humidity`` (80 %, QX/T 113-2010), fog and mist
where RH is at or above ``minimum_relative_humidity`` (90 %); between the two the
cause cannot be told without aerosol data, and both grades are 0 there.
"""

from weatherdata.compute import with_units
from weatherdata.units import convert_dataarray

from .grading import class_by_upper_bounds


def visibility(visibility):
    """Horizontal visibility, passed through for unit conversion and QC."""
    return with_units(visibility, visibility.attrs["units"])


def fog_grade(visibility, relative_humidity, upper_bounds, minimum_relative_humidity):
    """Fog grade (GB/T 27964-2011 classes) where RH ≥ ``minimum_relative_humidity``.

    Grade k = number of ``upper_bounds`` (10 km, 1 km, 500 m, 200 m, 50 m) strictly above
    the visibility: 1 轻雾 mist [1, 10) km, 2 大雾 fog [500, 1000) m, 3 浓雾 dense fog
    [200, 500) m, 4 强浓雾 [50, 200) m, 5 特强浓雾 < 50 m; 0 otherwise (including RH below
    the threshold). Lower bounds are included, so exactly 500 m is 大雾 and 499 m is
    浓雾, matching the "< 500 m" of the fog warning signal.
    """
    grade = class_by_upper_bounds(visibility, upper_bounds, units="m")
    humid = convert_dataarray(relative_humidity, "percent") >= minimum_relative_humidity.m_as(
        "percent"
    )
    out = grade.where(humid, 0.0).where(grade.notnull() & relative_humidity.notnull())
    return with_units(out, "1")


def haze_grade(visibility, relative_humidity, upper_bounds, maximum_relative_humidity):
    """Haze grade (QX/T 113-2010 classes) where RH < ``maximum_relative_humidity``.

    Grade k = number of ``upper_bounds`` (10, 5, 3, 2 km) strictly above the visibility:
    1 轻微 [5, 10) km, 2 轻度 [3, 5) km, 3 中度 [2, 3) km, 4 重度 < 2 km; 0 otherwise
    (including RH at or above the threshold).
    """
    grade = class_by_upper_bounds(visibility, upper_bounds, units="m")
    dry = convert_dataarray(relative_humidity, "percent") < maximum_relative_humidity.m_as(
        "percent"
    )
    out = grade.where(dry, 0.0).where(grade.notnull() & relative_humidity.notnull())
    return with_units(out, "1")
