"""Reference values for the first observation products (MetPy on the same input, hand-computed cases)."""

import metpy.calc as mpcalc
import numpy as np
import pytest
from metpy.units import units

from tests.helpers import derive_one, grid_dataset


@pytest.mark.product("temperature_2m")
def test_temperature_converted_to_celsius():
    ds = grid_dataset({"air_temperature_2m": 300.0}, times=2)
    out = derive_one("temperature_2m", ds)
    np.testing.assert_allclose(out, 26.85, atol=1e-4)
    assert out.attrs["units"] == "degC" and out.attrs["standard_name"] == "air_temperature"


@pytest.mark.product("dewpoint_2m")
def test_dewpoint_matches_metpy():
    t = np.array([[[30.0, 25.0, 10.0, -5.0]] * 3]) + 273.15
    rh = np.array([[[80.0, 50.0, 100.0, 20.0]] * 3])
    ds = grid_dataset({"air_temperature_2m": t, "relative_humidity_2m": rh}, times=1)
    out = derive_one("dewpoint_2m", ds)
    expected = mpcalc.dewpoint_from_relative_humidity(t * units.K, rh * units.percent).m_as("degC")
    np.testing.assert_allclose(out, expected, atol=1e-3)
    # Hand check (Bolton): 30 °C at 80 % → 26.2 °C.
    assert out.values[0, 0, 0] == pytest.approx(26.17, abs=0.05)


@pytest.mark.product("relative_humidity_2m_analysis")
def test_relative_humidity_matches_metpy_and_saturation():
    t = np.array([[[30.0, 25.0, 10.0, 0.0]] * 3]) + 273.15
    td = np.array([[[26.17, 13.9, 10.0, -10.0]] * 3]) + 273.15
    ds = grid_dataset({"air_temperature_2m": t, "dewpoint_temperature_2m": td}, times=1)
    out = derive_one("relative_humidity_2m_analysis", ds)
    expected = mpcalc.relative_humidity_from_dewpoint(t * units.K, td * units.K).m_as("percent")
    np.testing.assert_allclose(out, expected, atol=1e-3)
    assert out.values[0, 0, 2] == pytest.approx(100.0, abs=1e-3)


@pytest.mark.product("wind_speed_10m")
@pytest.mark.product("wind_direction_10m")
def test_wind_speed_and_direction():
    ds = grid_dataset({"eastward_wind_10m": -3.0, "northward_wind_10m": -4.0}, times=1)
    assert derive_one("wind_speed_10m", ds).values.ravel() == pytest.approx(5.0)
    # u<0, v<0: wind blowing towards south-west, i.e. from the north-east: 36.87°.
    assert derive_one("wind_direction_10m", ds).values.ravel() == pytest.approx(36.87, abs=0.01)


@pytest.mark.product("precipitation_accumulation_1h")
@pytest.mark.product("precipitation_accumulation_24h")
def test_accumulations_are_true_windows():
    rain = np.ones((30, 3, 4), dtype=np.float32)
    rain[10, 0, 0] = np.nan  # one missing hour
    ds = grid_dataset({"precipitation_amount": rain}, times=30)
    one = derive_one("precipitation_accumulation_1h", ds)
    day = derive_one("precipitation_accumulation_24h", ds)
    np.testing.assert_allclose(one.values[:, 1, 1], 1.0)
    assert np.isnan(day.values[:23]).all()  # no full window yet
    assert day.values[23, 1, 1] == pytest.approx(24.0)
    # Every 24 h window containing hour 10 is missing at (0, 0), never a shorter sum.
    assert np.isnan(day.values[23:34, 0, 0]).all()
    assert day.attrs["cell_methods"] == "time: sum (interval: 24 hour)"


def test_window_on_ten_minute_and_three_hour_steps():
    from weatherdata.compute import rolling_window

    for step, count in (("10min", 18), ("3h", 1)):
        ds = grid_dataset({"precipitation_amount": 1.0}, times=40, step=step)
        out = rolling_window(ds["precipitation_amount"], "3 h", "sum").compute()
        assert out.values[-1, 0, 0] == pytest.approx(count)
