"""Vectorized column products against their per-column references, on the same columns.

For each radar/upper-air column computation, the vectorized version used by the
recipes (numba gufuncs in ``products/observation/_column_kernels.py`` and the block
functions around them) is timed against a per-column reference (MetPy, or a plain
``numpy.interp`` / ``numpy.trapezoid`` loop) on the same columns in one run, and
their agreement is checked. Run::

    .venv/bin/python benchmarks/bench_column_products.py            # 4000 columns
    .venv/bin/python benchmarks/bench_column_products.py --columns 20000

Machines are shared and noisy: compare the ratios of one run, not absolute times.
"""

from __future__ import annotations

import argparse
import time

import metpy.calc as mpcalc
import numpy as np
from metpy.units import units
from weatherdata.products.observation import _column_kernels as kernels
from weatherdata.products.observation.radar import _echo_top_block, _steiner_block
from weatherdata.products.observation.upper_air import (
    _isotherm_block,
    _near_surface_lapse_block,
    _vapour_transport_block,
    precipitable_water_from_dewpoint,
)

LEVELS = np.array([1000.0, 975, 950, 925, 900, 875, 850, 825, 800, 775, 750, 700, 650, 600, 550, 500,
                   450, 400, 350, 300, 250, 225, 200, 175, 150, 125, 100])  # fmt: skip
HEIGHTS = np.arange(500.0, 19001.0, 500.0)  # 37 CAPPIs


def _best(function, repeat=5):
    """Best wall time of ``repeat`` calls (seconds) and the last result."""
    best, result = np.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def _profiles(n, seed=0):
    rng = np.random.default_rng(seed)
    t_surface = rng.uniform(270.0, 305.0, n)
    lapse = rng.uniform(4.0e-3, 8.0e-3, n)
    z = (
        t_surface[:, None]
        / lapse[:, None]
        * (1 - (LEVELS / 1013.25) ** (287.05 * lapse[:, None] / 9.80665))
    )
    temperature = t_surface[:, None] - lapse[:, None] * z + rng.normal(0, 1.0, (n, LEVELS.size))
    dewpoint = temperature - rng.uniform(0.5, 20.0, (n, LEVELS.size))
    altitude = rng.uniform(0.0, 1500.0, n)
    t2m = t_surface - lapse * altitude
    psfc = 1013.25 * (1 - lapse * altitude / t_surface) ** (9.80665 / (287.05 * lapse))
    td2m = t2m - rng.uniform(0.5, 10.0, n)
    q = rng.uniform(0.0, 0.02, (n, LEVELS.size)) * (LEVELS / 1000.0) ** 2
    u, v = rng.normal(0, 10, (2, n, LEVELS.size))
    qs, us, vs = rng.uniform(0.005, 0.02, n), rng.normal(0, 5, n), rng.normal(0, 5, n)
    return dict(
        t=temperature,
        td=dewpoint,
        z=z,
        zs=altitude,
        t2=t2m,
        ps=psfc,
        td2=td2m,
        q=q,
        u=u,
        v=v,
        qs=qs,
        us=us,
        vs=vs,
    )


def _radar(n, seed=1):
    rng = np.random.default_rng(seed)
    top = rng.uniform(2000.0, 16000.0, n)
    peak = rng.uniform(20.0, 70.0, n)
    refl = peak[:, None] * (1 - HEIGHTS[None, :] / top[:, None]) + rng.normal(
        0, 3, (n, HEIGHTS.size)
    )
    refl = np.where(HEIGHTS[None, :] < top[:, None], refl, -32.0)
    refl[rng.random(refl.shape) < 0.02] = np.nan
    h0 = rng.uniform(3000.0, 5500.0, n)
    return refl, h0, h0 + rng.uniform(2000.0, 3500.0, n), np.broadcast_to(HEIGHTS, refl.shape)


# -- per-column references -------------------------------------------------------------------


def _crossing(c, v, target):
    ok = np.isfinite(c) & np.isfinite(v)
    c, v = c[ok], v[ok]
    if c.size == 0:
        return np.nan, kernels.NO_DATA
    k = np.flatnonzero(v >= target)
    if k.size == 0:
        return c[0], kernels.NONE_ABOVE
    k = k[-1]
    if k == c.size - 1:
        return c[k], kernels.TOP_ABOVE
    return np.interp(target, [v[k + 1], v[k]], [c[k + 1], c[k]]), kernels.CROSSING


def _interp(c, v, x):
    ok = np.isfinite(c) & np.isfinite(v)
    return np.interp(x, c[ok], v[ok], left=np.nan, right=np.nan) if ok.any() else np.nan


def _surface_column(zs, s, z, v):
    keep = z > zs
    return np.r_[zs, z[keep]], np.r_[s, v[keep]]


def reference_isotherm(p, isotherm):
    out = np.empty(p["zs"].size)
    for i in range(out.size):
        h, t = _surface_column(p["zs"][i], p["t2"][i], p["z"][i], p["t"][i])
        value, status = _crossing(h, t, isotherm)
        out[i] = np.nan if status == kernels.TOP_ABOVE else value
    return out


def reference_lapse(p, depth=3000.0):
    out = np.empty(p["zs"].size)
    for i in range(out.size):
        h, t = _surface_column(p["zs"][i], p["t2"][i], p["z"][i], p["t"][i])
        out[i] = (p["t2"][i] - _interp(h, t, p["zs"][i] + depth)) / depth
    return out


def reference_precipitable_water(p, top=300.0):
    out = np.empty(p["ps"].size)
    for i in range(out.size):
        keep = LEVELS < p["ps"][i]
        column_p = np.r_[p["ps"][i], LEVELS[keep]] * units.hPa
        column_td = np.r_[p["td2"][i], p["td"][i][keep]] * units.K
        out[i] = mpcalc.precipitable_water(column_p, column_td, top=top * units.hPa).m_as("mm")
    return out


def reference_ivt(p, top=300.0):
    out = np.empty(p["ps"].size)
    for i in range(out.size):
        keep = (LEVELS < p["ps"][i]) & (LEVELS >= top)
        pa = np.r_[p["ps"][i], LEVELS[keep]] * 100.0
        q = np.r_[p["qs"][i], p["q"][i][keep]]
        u = np.r_[p["us"][i], p["u"][i][keep]]
        v = np.r_[p["vs"][i], p["v"][i][keep]]
        out[i] = np.hypot(np.trapezoid(q * u, -pa), np.trapezoid(q * v, -pa)) / 9.80665
    return out


def reference_echo_top(refl, threshold):
    out = np.empty(refl.shape[0])
    for i in range(out.size):
        value, status = _crossing(HEIGHTS, refl[i], threshold)
        out[i] = 0.0 if status == kernels.NONE_ABOVE else value
    return out


def reference_vil(refl, cap=56.0):
    out = np.empty(refl.shape[0])
    for i in range(out.size):
        z = 10.0 ** (np.minimum(refl[i], cap) / 10.0)
        layers = 3.44e-6 * ((z[:-1] + z[1:]) / 2) ** (4 / 7) * np.diff(HEIGHTS)
        out[i] = np.nansum(layers) if np.isfinite(refl[i]).any() else np.nan
    return out


def reference_shi(refl, h0, h20):
    out = np.empty(refl.shape[0])
    for i in range(out.size):
        weight_t = np.clip((HEIGHTS - h0[i]) / (h20[i] - h0[i]), 0.0, 1.0)
        z = refl[i]
        energy = 5e-6 * 10 ** (0.084 * z) * np.clip((z - 40.0) / 10.0, 0.0, 1.0)
        f = 0.1 * weight_t * energy
        pair = np.isfinite(f[:-1]) & np.isfinite(f[1:])
        out[i] = np.sum(0.5 * (f[:-1] + f[1:])[pair] * np.diff(HEIGHTS)[pair])
    return out


def reference_at_height(refl, level):
    return np.array([_interp(HEIGHTS, refl[i], level[i]) for i in range(refl.shape[0])])


def reference_maximum_above(refl, level):
    out = np.empty(refl.shape[0])
    for i in range(out.size):
        above = refl[i][(HEIGHTS >= level[i]) & np.isfinite(refl[i])]
        candidates = np.r_[above, _interp(HEIGHTS, refl[i], level[i])]
        candidates = candidates[np.isfinite(candidates)]
        out[i] = candidates.max() if candidates.size else np.nan
    return out


def reference_height_of_maximum(refl):
    out = np.empty(refl.shape[0])
    for i in range(out.size):
        column = refl[i]
        out[i] = HEIGHTS[np.nanargmax(column)] if np.isfinite(column).any() else np.nan
    return out


def reference_steiner(
    field,
    dy,
    dx,
    minimum=10.0,
    intense=40.0,
    radius=11.0,
    steps=(25, 30, 35, 40),
    radii=(1, 2, 3, 4, 5),
):
    """Per-point Steiner–Houze–Yuter loop over local windows (as Py-ART's ``_steiner_conv_strat``)."""
    ny, nx = field.shape
    echo = np.isfinite(field) & (field >= minimum)
    classes = np.where(echo, 1.0, 0.0)
    ry, rx = int(radius // dy), int(radius // dx)
    for j, i in zip(*np.nonzero(echo), strict=True):
        y0, y1, x0, x1 = max(j - ry, 0), min(j + ry + 1, ny), max(i - rx, 0), min(i + rx + 1, nx)
        yy = (np.arange(y0, y1)[:, None] - j) * dy
        xx = (np.arange(x0, x1)[None, :] - i) * dx
        distance = yy**2 + xx**2
        window = field[y0:y1, x0:x1]
        near = (distance <= radius**2 + 1e-9) & echo[y0:y1, x0:x1]
        background = 10 * np.log10(np.mean(10 ** (window[near] / 10)))
        peak = (
            10.0
            if background < 0
            else (10.0 - background**2 / 180.0 if background < 42.43 else 0.0)
        )
        if field[j, i] >= intense or field[j, i] - background >= peak:
            r = radii[int(np.digitize(background, steps))]
            inside = (distance <= r**2 + 1e-9) & echo[y0:y1, x0:x1]
            classes[y0:y1, x0:x1][inside] = 2.0
    return np.where(np.isnan(field), np.nan, classes)


def _agreement(a, b):
    both = np.isfinite(a) & np.isfinite(b)
    same_nan = bool(np.array_equal(np.isnan(a), np.isnan(b)))
    return (float(np.max(np.abs(a[both] - b[both]))) if both.any() else 0.0), same_nan


def main(columns: int) -> None:
    kernels.warm_up()
    p = _profiles(columns)
    refl, h0, h20, heights = _radar(columns)
    rows = []

    def compare(name, reference, vectorized, *, reference_columns=None):
        t_ref, expected = _best(reference, repeat=1)
        t_vec, got = _best(vectorized)
        n_ref = reference_columns or columns
        got = np.asarray(got)[:n_ref]
        difference, same_nan = _agreement(np.asarray(expected, dtype=float), got.astype(float))
        ratio = (t_ref / n_ref) / (t_vec / columns)
        rows.append(
            (name, n_ref, t_ref / n_ref * 1e6, t_vec / columns * 1e6, ratio, difference, same_nan)
        )

    compare("freezing_level_height (0 °C)", lambda: reference_isotherm(p, 273.15),
            lambda: _isotherm_block(p["t"], p["z"], p["t2"], p["zs"], isotherm=273.15))  # fmt: skip
    compare("lapse_rate_0_3km", lambda: reference_lapse(p),
            lambda: _near_surface_lapse_block(p["t"], p["z"], p["t2"], p["zs"], depth=3000.0))  # fmt: skip
    subset = min(columns, 2000)  # MetPy is ~1 ms per column
    sub = {k: v[:subset] for k, v in p.items()}
    compare("precipitable_water vs MetPy", lambda: reference_precipitable_water(sub),
            lambda: precipitable_water_from_dewpoint(
                np.concatenate([p["ps"][:, None], np.where(LEVELS < p["ps"][:, None], LEVELS, np.nan)], axis=1),
                np.concatenate([p["td2"][:, None], np.where(LEVELS < p["ps"][:, None], p["td"], np.nan)], axis=1),
                300.0), reference_columns=subset)  # fmt: skip
    compare("integrated_vapour_transport", lambda: reference_ivt(p),
            lambda: _vapour_transport_block(LEVELS, p["q"], p["u"], p["v"], p["ps"], p["qs"], p["us"], p["vs"], top=300.0))  # fmt: skip
    for threshold in (18.0, 50.0):
        compare(f"echo_top_{threshold:.0f}dbz", lambda t=threshold: reference_echo_top(refl, t),
                lambda t=threshold: _echo_top_block(heights, refl, threshold=t))  # fmt: skip
    compare("vertically_integrated_liquid", lambda: reference_vil(refl),
            lambda: kernels.vertically_integrated_liquid(heights, refl, 56.0))  # fmt: skip
    compare("severe_hail_index", lambda: reference_shi(refl, h0, h20),
            lambda: kernels.severe_hail_index(heights, refl, h0, h20, 40.0, 50.0))  # fmt: skip
    compare("reflectivity_at_minus_10c", lambda: reference_at_height(refl, h0 + 1500.0),
            lambda: kernels.interpolate_to(heights, refl, h0 + 1500.0))  # fmt: skip
    compare("maximum_reflectivity_above_minus_10c", lambda: reference_maximum_above(refl, h0 + 1500.0),
            lambda: kernels.maximum_above(heights, refl, h0 + 1500.0))  # fmt: skip
    compare("height_of_composite_reflectivity", lambda: reference_height_of_maximum(refl),
            lambda: kernels.height_of_maximum(heights, refl))  # fmt: skip

    side = int(min(150, max(40, np.sqrt(columns))))
    rng = np.random.default_rng(3)
    field = np.where(rng.random((side, side)) < 0.7, rng.uniform(5.0, 45.0, (side, side)), -32.0)
    t_ref, expected = _best(lambda: reference_steiner(field, 1.0, 1.0), repeat=1)
    kwargs = dict(spacing=(1.0, 1.0), background_radius=11.0, intense=40.0, minimum=10.0,
                  radius_steps=[25.0, 30.0, 35.0, 40.0], radii=[1.0, 2.0, 3.0, 4.0, 5.0])  # fmt: skip
    t_vec, got = _best(lambda: _steiner_block(field, **kwargs))
    difference, same_nan = _agreement(expected, got)
    rows.append((f"convective_stratiform ({side}×{side} points)", side * side, t_ref / side**2 * 1e6,
                 t_vec / side**2 * 1e6, t_ref / t_vec, difference, same_nan))  # fmt: skip

    print(
        f"{columns} columns ({LEVELS.size} pressure levels, {HEIGHTS.size} CAPPI levels); per-column times in µs\n"
    )
    print(
        f"{'product':42s} {'ref cols':>8s} {'reference':>10s} {'vectorized':>10s} {'ratio':>9s} {'max |diff|':>11s} NaN-same"
    )
    for name, n_ref, t_ref, t_vec, ratio, difference, same_nan in rows:
        print(
            f"{name:42s} {n_ref:8d} {t_ref:10.2f} {t_vec:10.4f} {ratio:8.0f}× {difference:11.2e} {same_nan}"
        )
    ratios = np.array([row[4] for row in rows])
    print(f"\nminimum ratio {ratios.min():.0f}×, median {np.median(ratios):.0f}× (target ≥ 100×)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--columns", type=int, default=4000)
    main(parser.parse_args().columns)
