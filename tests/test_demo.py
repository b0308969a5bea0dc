"""Tests for the built-in demo data generator (``weatherdata.demo``).

The files are read back with xarray directly (not through the ingest layer) and checked
for layout, CF metadata, determinism, physical consistency and the scenario's events.
"""

from __future__ import annotations

import csv

import metpy.calc as mpcalc
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from metpy.units import units

from weatherdata.demo import (
    FORECAST_PRESSURE_LEVELS,
    NO_ECHO_DBZ,
    PRESSURE_LEVELS,
    RADAR_HEIGHTS,
    DemoError,
    demo_grid,
    write_demo,
)
from weatherdata.units import parse_units

RES = 0.5
RD, G0 = 287.04749097718457, 9.80665


def _load(paths):
    with xr.open_mfdataset(list(paths), combine="by_coords") as ds:
        return ds.load()


def _open(path):
    with xr.open_dataset(path) as ds:
        return ds.load()


@pytest.fixture(scope="module")
def summer(tmp_path_factory):
    return write_demo(tmp_path_factory.mktemp("demo_summer"), resolution=RES)


@pytest.fixture(scope="module")
def winter(tmp_path_factory):
    return write_demo(
        tmp_path_factory.mktemp("demo_winter"),
        resolution=RES,
        scenario="winter",
        start="2027-01-20T00:00",
        forecast_runs=0,
    )


@pytest.fixture(scope="module")
def sfc(summer):
    return _load(summer.surface)


@pytest.fixture(scope="module")
def upper(summer):
    return _load(summer.upper_air)


@pytest.fixture(scope="module")
def radar(summer):
    return _load(summer.radar)


@pytest.fixture(scope="module")
def static(summer):
    return _open(summer.static)


# --- layout and metadata ---------------------------------------------------------------


def test_grid():
    lat, lon = demo_grid(0.1)
    assert (lat.size, lon.size) == (61, 81)
    assert (lat[0], lat[-1], lon[0], lon[-1]) == (20.0, 26.0, 109.5, 117.5)
    assert np.allclose(np.diff(lat), 0.1) and np.allclose(np.diff(lon), 0.1)
    assert tuple(a.size for a in demo_grid(0.5)) == (13, 17)
    with pytest.raises(DemoError):
        demo_grid(0.3)  # does not divide 8 degrees


def test_bad_arguments_write_nothing(tmp_path):
    with pytest.raises(DemoError):
        write_demo(tmp_path / "x", scenario="spring")
    with pytest.raises(DemoError):
        write_demo(tmp_path / "x", time_step="7h")
    assert not (tmp_path / "x").exists()


def test_files_exist(summer):
    out = summer.out_dir
    days = [f"2026072{d}" for d in range(5, 10)]
    assert [p.name for p in summer.surface] == [f"surface_{d}.nc" for d in days]
    assert [p.name for p in summer.upper_air] == [f"upper_air_{d}.nc" for d in days]
    assert [p.name for p in summer.radar] == [f"radar_{d}.nc" for d in days]
    assert all(p.parent == out / "observations" for p in summer.surface)
    inits = pd.date_range("2026-07-25T00", periods=10, freq="12h")
    assert [p.name for p in summer.forecast] == [f"forecast_{t:%Y%m%dT%H}.nc" for t in inits]
    assert list(summer.forecast_init_times) == list(inits)
    assert summer.static == out / "static.nc"
    assert summer.climatology == out / "climatology.nc"
    assert summer.tropical_cyclone_track == out / "tropical_cyclone_track.csv"
    assert len(summer.paths) == 28
    assert all(p.is_file() and p.stat().st_size > 0 for p in summer.paths)
    assert not list(out.rglob("*.part"))
    assert summer.grid_shape == (13, 17)
    assert len(summer.times) == 120 and summer.times[0] == pd.Timestamp("2026-07-25T00")


def test_cf_metadata(summer):
    for path in (*summer.surface[:1], *summer.upper_air[:1], *summer.radar[:1], summer.static):
        with xr.open_dataset(path) as ds:
            assert ds.attrs["Conventions"] == "CF-1.8"
            assert ds.latitude.attrs["units"] == "degrees_north"
            assert ds.longitude.attrs["units"] == "degrees_east"
            assert np.all(np.diff(ds.latitude) > 0)
            if "time" in ds.coords:
                assert ds.time.encoding["units"].startswith("hours since 2026-07-25")
            for name, var in ds.data_vars.items():
                for key in ("units", "standard_name", "long_name"):
                    assert var.attrs.get(key), f"{path.name}:{name} lacks {key}"
                parse_units(var.attrs["units"], where=name)
                assert var.dtype == np.float32
                assert var.encoding["zlib"]
    with xr.open_dataset(summer.surface[0]) as ds:
        assert (
            ds.sp.attrs["units"] == "Pa" and ds.sp.attrs["standard_name"] == "surface_air_pressure"
        )
        assert ds.tp.attrs["units"] == "kg m-2"
        assert ds.tp.attrs["standard_name"] == "precipitation_amount"
        assert set(ds.data_vars) >= {"t2m", "d2m", "r2", "msl", "u10", "v10", "i10fg", "vis"}
        assert set(ds.data_vars) >= {"tcc", "cbh", "ssrd", "fdir", "strd", "uvi", "pm2p5", "pm10"}
    with xr.open_dataset(summer.upper_air[0]) as ds:
        assert tuple(ds.isobaricInhPa.values) == PRESSURE_LEVELS
        assert ds.isobaricInhPa.attrs["units"] == "hPa"
        assert set(ds.data_vars) == {"t", "r", "q", "gh", "u", "v", "w"}
        assert ds.w.attrs["standard_name"] == "lagrangian_tendency_of_air_pressure"
    with xr.open_dataset(summer.radar[0]) as ds:
        assert tuple(ds.height.values) == RADAR_HEIGHTS
        assert ds.reflectivity.attrs["standard_name"] == "equivalent_reflectivity_factor"
    with xr.open_dataset(summer.climatology) as ds:
        for var in ds.data_vars.values():
            assert var.attrs["units"] and var.attrs["long_name"]
        assert ds.historical_daily_precipitation.encoding["dtype"] == np.int16


def test_deterministic(summer, tmp_path):
    again = write_demo(tmp_path / "again", resolution=RES)
    assert [p.name for p in again.paths] == [p.name for p in summer.paths]
    for a, b in zip(summer.paths, again.paths, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_seed_changes_output(summer, tmp_path):
    other = write_demo(tmp_path / "other", resolution=RES, seed=summer.seed + 1, forecast_runs=1)
    assert len(other.forecast) == 1
    for a, b in zip(summer.surface, other.surface, strict=True):
        assert a.read_bytes() != b.read_bytes()
    assert summer.climatology.read_bytes() != other.climatology.read_bytes()
    assert summer.forecast[0].read_bytes() != other.forecast[0].read_bytes()


# --- physical consistency ------------------------------------------------------------------


def test_humidity_consistent(sfc):
    t, td, rh = sfc.t2m.values, sfc.d2m.values, sfc.r2.values
    assert np.all(td <= t)
    assert rh.min() >= 0 and rh.max() <= 100
    expected = mpcalc.relative_humidity_from_dewpoint(t * units.K, td * units.K).m_as("percent")
    assert np.abs(expected - rh).max() < 0.5


def test_precipitation_and_gusts(sfc):
    assert np.all(sfc.tp.values >= 0)
    speed = np.hypot(sfc.u10.values, sfc.v10.values)
    assert np.all(sfc.i10fg.values >= speed)


def test_surface_pressure_matches_msl_and_terrain(sfc, static):
    z = static.orog.values
    t = sfc.t2m.values
    expected = sfc.msl.values * np.exp(-G0 * z / (RD * (t + 0.0065 * z / 2)))
    assert np.abs(expected - sfc.sp.values).max() < 50.0  # Pa
    assert np.all(sfc.sp.values[:, z > 300] < sfc.msl.values[:, z > 300] - 2000)


def test_radiation(sfc):
    hours = sfc.time.dt.hour.values
    night = (hours >= 14) & (hours <= 19)  # 21–03 local time everywhere in the domain
    for name in ("ssrd", "fdir", "uvi"):
        assert np.all(sfc[name].values[night] == 0), name
    noon = (hours >= 4) & (hours <= 5)
    assert np.all(sfc.ssrd.values[noon] > 20)
    assert np.all(sfc.fdir.values <= sfc.ssrd.values + 0.01)
    assert sfc.ssrd.values.max() < 1200 and sfc.uvi.values.max() > 8
    assert np.all((sfc.strd.values > 250) & (sfc.strd.values < 550))


def test_clouds(sfc):
    cbh, tcc = sfc.cbh.values, sfc.tcc.values
    assert np.all(tcc[np.isnan(cbh)] < 2.1)  # no cloud base where there is no cloud
    assert not np.isnan(cbh[tcc > 2.1]).any()
    assert np.nanmin(cbh) >= 0 and tcc.min() >= 0 and tcc.max() <= 100


def test_visibility_consistent(sfc):
    vis, rh, tp = sfc.vis.values, sfc.r2.values, sfc.tp.values
    speed = np.hypot(sfc.u10.values, sfc.v10.values)
    pm25 = sfc.pm2p5.values
    assert np.all(rh[vis < 200] >= 97)  # dense fog needs saturation ...
    assert np.all(speed[vis < 200] < 4)  # ... and light wind
    fog = (rh >= 99.5) & (speed < 1) & (tp == 0)
    assert fog.any() and np.all(vis[fog] < 1000)
    assert np.median(vis[tp >= 20]) < 3000  # heavy rain
    haze = (pm25 >= 80) & (rh < 80) & (tp == 0)
    assert haze.any() and np.all(vis[haze] < 10000)
    clean = (pm25 < 20) & (rh < 70) & (tp == 0)
    assert np.all(vis[clean] > 10000)


def test_upper_air_humidity(upper):
    p = upper.isobaricInhPa.values[None, :, None, None] * units.hPa
    w = mpcalc.mixing_ratio_from_relative_humidity(
        p, upper.t.values * units.K, upper.r.values * units.percent
    )
    q = mpcalc.specific_humidity_from_mixing_ratio(w).m_as("")
    assert np.all(upper.r.values >= 0) and np.all(upper.r.values <= 100)
    assert np.allclose(q, upper.q.values, rtol=2e-3, atol=1e-8)


def test_heights_hydrostatic(upper):
    p = upper.isobaricInhPa.values
    t = upper.t.values
    w = mpcalc.mixing_ratio_from_specific_humidity(upper.q.values * units("kg/kg")).m_as("")
    tv = t * (w + 0.6219569100577033) / (0.6219569100577033 * (1 + w))
    dz = RD / G0 * 0.5 * (tv[:, :-1] + tv[:, 1:]) * np.log(p[:-1] / p[1:])[None, :, None, None]
    assert np.abs(np.diff(upper.gh.values, axis=1) - dz).max() < 2.0
    rng = np.random.default_rng(0)
    for _ in range(20):  # spot checks with MetPy itself
        n, k, i, j = (rng.integers(s) for s in (t.shape[0], t.shape[1] - 1, *t.shape[2:]))
        thick = mpcalc.thickness_hydrostatic(
            p[k : k + 2] * units.hPa,
            t[n, k : k + 2, i, j] * units.K,
            mixing_ratio=w[n, k : k + 2, i, j],
        ).m_as("m")
        assert abs(thick - (upper.gh.values[n, k + 1, i, j] - upper.gh.values[n, k, i, j])) < 2.0


def test_reflectivity_matches_rain(sfc, radar, static):
    dbz = radar.reflectivity.values
    assert not np.isnan(dbz).any() and dbz.min() == NO_ECHO_DBZ and dbz.max() <= 75
    below_ground = radar.height.values[None, :, None, None] < static.orog.values[None, None]
    assert np.all(dbz[np.broadcast_to(below_ground, dbz.shape)] == NO_ECHO_DBZ)
    low = static.orog.values < 500
    z1 = radar.reflectivity.sel(height=1000).values
    tp = sfc.tp.values
    assert np.all(z1[(tp == 0) & low] == NO_ECHO_DBZ)
    assert np.all(tp[(z1 >= 20) & low] > 0)
    rain = (tp >= 1) & low
    zr = 10 * np.log10(300 * tp[rain] ** 1.4)  # Z = 300 R^1.4 with the hourly mean rate
    assert np.median(np.abs(z1[rain] - zr)) < 1.5
    assert np.corrcoef(z1[rain], zr)[0, 1] > 0.85


def test_static(static):
    lsm, orog, al = static.lsm.values, static.orog.values, static.al.values
    assert set(np.unique(lsm)) == {0.0, 1.0}
    assert np.all(orog[lsm == 0] == 0) and np.all(orog[lsm == 1] > 0)
    assert 1000 < orog.max() < 2000
    assert 0.5 < lsm.mean() < 0.75
    assert np.all((al > 0) & (al < 0.3))
    point = static.sel(latitude=25.0, longitude=113.0)  # Nanling
    assert point.orog > 800
    assert static.sel(latitude=23.0, longitude=113.5).lsm == 1  # Pearl River Delta
    assert static.sel(latitude=21.0, longitude=115.0).lsm == 0  # South China Sea


def test_climatology(summer):
    ds = _open(summer.climatology)
    assert ds.sizes["dayofyear"] == 366 and ds.sizes["history_time"] == 10958
    mean = ds.climatological_mean_air_temperature
    assert np.all(ds.climatological_5th_percentile_daily_mean_temperature < mean)
    assert np.all(mean < ds.climatological_95th_percentile_daily_mean_temperature)
    assert ds.historical_daily_precipitation.min() >= 0
    assert np.all(ds.climatological_95th_percentile_daily_precipitation > 0)
    july = ds.historical_daily_mean_air_temperature.sel(
        history_time=ds.history_time.dt.month == 7
    ).mean("history_time")
    normal = mean.sel(dayofyear=slice(182, 212)).mean("dayofyear")
    assert np.abs(july - normal).max() < 0.5
    annual = ds.historical_daily_precipitation.sum("history_time") / 30
    assert 1000 < float(annual.mean()) < 2600  # mm per year


def test_forecasts(summer, sfc):
    assert len(summer.forecast) == 10
    errors = []
    for path in summer.forecast[:3]:
        fc = _open(path)
        assert fc.sizes["step"] == 73 and tuple(fc.isobaricInhPa.values) == FORECAST_PRESSURE_LEVELS
        assert fc.time.attrs["standard_name"] == "forecast_reference_time"
        assert np.all(fc.valid_time.values == fc.time.values + fc.step.values)
        assert np.all(fc.tp.isel(step=0).values == 0) and np.all(fc.tp.values >= 0)
        assert np.all(fc.d2m.values <= fc.t2m.values)
        assert np.all(fc.i10fg.values >= np.hypot(fc.u10.values, fc.v10.values))
        obs = sfc.t2m.sel(time=fc.valid_time.values[:49]).values
        rmse = np.sqrt(((fc.t2m.values[:49] - obs) ** 2).mean(axis=(1, 2)))
        errors.append((rmse[0], rmse[48]))
    for at0, at48 in errors:
        assert at0 < 0.6 and at48 > at0  # skilful but imperfect, worse with lead time


# --- scenario events ---------------------------------------------------------------------


def test_summer_events(sfc, upper, radar):
    tp3 = sfc.tp.rolling(time=3).sum().values
    assert np.nanmax(tp3) >= 100  # typhoon rain near the track
    assert sfc.vis.values.min() < 200  # morning fog
    assert sfc.t2m.values.max() - 273.15 >= 37  # heat
    speed = np.hypot(sfc.u10.values, sfc.v10.values)
    assert speed.max() >= 32.7  # typhoon-force 10 m wind
    assert sfc.msl.values.min() < 97000
    # A hail core: >= 60 dBZ above the height of the -20 degC level.
    t, gh = upper.t.values, upper.gh.values
    k = np.argmax(t < 253.15, axis=1)[:, None]
    t0, t1 = np.take_along_axis(t, k - 1, 1), np.take_along_axis(t, k, 1)
    z0, z1 = np.take_along_axis(gh, k - 1, 1), np.take_along_axis(gh, k, 1)
    z_m20 = (z0 + (t0 - 253.15) / (t0 - t1) * (z1 - z0))[:, 0]
    above = radar.height.values[None, :, None, None] > z_m20[:, None]
    assert np.where(above, radar.reflectivity.values, NO_ECHO_DBZ).max() >= 60


def test_typhoon_track(summer):
    with summer.tropical_cyclone_track.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == [
        "time", "latitude", "longitude", "maximum_wind_speed_m_s", "minimum_pressure_hpa"
    ]  # fmt: skip
    times = pd.to_datetime([r["time"] for r in rows]).tz_convert(None)
    assert times[0] == pd.Timestamp("2026-07-25T00:00")
    assert np.all(np.diff(times.to_numpy()) == np.timedelta64(6, "h"))
    landfall = rows[list(times).index(pd.Timestamp("2026-07-27T18:00"))]
    assert abs(float(landfall["latitude"]) - 22.0) < 0.4
    assert abs(float(landfall["longitude"]) - 113.0) < 0.4
    assert max(float(r["maximum_wind_speed_m_s"]) for r in rows) >= 35
    assert min(float(r["minimum_pressure_hpa"]) for r in rows) < 965


def test_winter_events(winter):
    sfc = _load(winter.surface)
    assert len(winter.forecast) == 0
    t = sfc.t2m.values - 273.15
    tmin = np.stack([t[d * 24 : (d + 1) * 24].min(axis=0) for d in range(5)])
    drop = max((tmin[d] - tmin[d + k]).max() for d in range(4) for k in (1, 2) if d + k < 5)
    assert drop >= 10  # cold surge: Tmin falls by >= 10 K within 48 h
    assert tmin.min() < 0  # frost on the hills
    assert np.any((sfc.tp.values > 0) & (t < 0))  # precipitation at sub-zero temperature
    assert np.all(sfc.d2m.values <= sfc.t2m.values)
    assert np.hypot(sfc.u10.values, sfc.v10.values).max() < 25  # no typhoon
    assert sfc.v10.values.min() < -8  # strong northerlies
    text = winter.tropical_cyclone_track.read_text().splitlines()
    assert text == ["time,latitude,longitude,maximum_wind_speed_m_s,minimum_pressure_hpa"]
