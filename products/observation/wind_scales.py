"""Wind force on the Chinese national scale (GB/T 28591-2012, Beaufort 0–12 extended to 17)."""

from .grading import class_by_lower_bounds


def wind_force_scale(wind_speed, lower_bounds, resolution):
    """Wind force 0–17 from the 10 m mean wind speed (GB/T 28591-2012).

    The speed is rounded to the 0.1 m s-1 reporting resolution (halves up) and classed
    on the lower bounds of forces 1–17 (0.3, 1.6, 3.4, …, 56.1 m s-1): force 1 is
    0.3–1.5 m s-1, so 1.54 m s-1 is force 1 and 1.55 m s-1 (reported 1.6) is force 2.
    Speeds above the table (≥ 61.3 m s-1) are classed 17.
    """
    return class_by_lower_bounds(wind_speed, lower_bounds, units="m s-1", resolution=resolution)
