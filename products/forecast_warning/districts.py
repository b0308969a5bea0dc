"""Warning-signal levels per administrative district (Guangzhou districts, Guangdong cities).

Boundaries come from cnmaps (``cnmaps.get_adm_maps``, offline data; WGS84). Each district
is rasterized once per grid: a cell belongs to the district whose polygon contains its
centre (``shapely.contains_xy``); a district that contains no cell centre (smaller than a
cell) gets the cell nearest to a point inside it, provided that cell is within one grid
spacing of the point (otherwise the district is off the grid and its values are missing).
The masks are a pure function of the grid's latitude/longitude coordinates and are cached
per grid.

Aggregation: the level of a district is the **maximum** level over its cells (a signal
in force anywhere in the district is in force for the district), over the cells that
have a value; missing only when none has.
"""

from __future__ import annotations

import functools
import hashlib

import numpy as np
import pandas as pd
import xarray as xr

from weatherdata.compute import with_units
from weatherdata.errors import InputError

__all__ = [
    "GUANGDONG_CITIES",
    "GUANGZHOU_DISTRICTS",
    "district_masks",
    "district_maximum",
    "guangdong_city_signals",
    "guangzhou_district_signals",
]

#: Guangzhou's 11 districts (市辖区), Chinese and English names.
GUANGZHOU_DISTRICTS = {
    "荔湾区": "Liwan",
    "越秀区": "Yuexiu",
    "海珠区": "Haizhu",
    "天河区": "Tianhe",
    "白云区": "Baiyun",
    "黄埔区": "Huangpu",
    "番禺区": "Panyu",
    "花都区": "Huadu",
    "南沙区": "Nansha",
    "从化区": "Conghua",
    "增城区": "Zengcheng",
}

#: Guangdong's 21 prefecture-level cities (地级市), Chinese and English names.
GUANGDONG_CITIES = {
    "广州市": "Guangzhou",
    "韶关市": "Shaoguan",
    "深圳市": "Shenzhen",
    "珠海市": "Zhuhai",
    "汕头市": "Shantou",
    "佛山市": "Foshan",
    "江门市": "Jiangmen",
    "湛江市": "Zhanjiang",
    "茂名市": "Maoming",
    "肇庆市": "Zhaoqing",
    "惠州市": "Huizhou",
    "梅州市": "Meizhou",
    "汕尾市": "Shanwei",
    "河源市": "Heyuan",
    "阳江市": "Yangjiang",
    "清远市": "Qingyuan",
    "东莞市": "Dongguan",
    "中山市": "Zhongshan",
    "潮州市": "Chaozhou",
    "揭阳市": "Jieyang",
    "云浮市": "Yunfu",
}

# region: (name table, cnmaps query, cnmaps name field, output dimension)
_REGIONS = {
    "guangzhou_districts": (
        GUANGZHOU_DISTRICTS,
        {"city": "广州市", "level": "区县"},
        "district",
        "district",
    ),
    "guangdong_cities": (GUANGDONG_CITIES, {"province": "广东省", "level": "市"}, "city", "city"),
}


@functools.cache
def _boundaries(region: str):
    """``[(zh, en, shapely geometry), …]`` in the order of the region's name table (WGS84).

    Cached per process, and on disk (:func:`weatherdata.cache.cached_geometries`): cnmaps
    reads and converts each region in ~0.8 s."""
    from weatherdata.cache import cached_geometries

    names, query, field, _ = _REGIONS[region]

    def load():
        from cnmaps import get_adm_maps

        records = {record[field]: record for record in get_adm_maps(**query)}
        missing = sorted(set(names) - set(records))
        if missing:
            raise InputError(f"cnmaps has no boundary for {', '.join(missing)}")
        return [records[zh].geometry.geom for zh in names]

    geometries = cached_geometries(
        f"region-{region}", ["region areas", query, field, list(names)], load
    )
    return [
        (zh, en, geometry) for (zh, en), geometry in zip(names.items(), geometries, strict=True)
    ]


def _cell_centres(latitude: np.ndarray, longitude: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if latitude.ndim == 1 and longitude.ndim == 1:
        return np.meshgrid(latitude, longitude, indexing="ij")
    if latitude.shape != longitude.shape or latitude.ndim != 2:
        raise InputError("latitude/longitude must be 1-D axes or 2-D fields of the same shape")
    return latitude, longitude


def _spacing(lat2d: np.ndarray, lon2d: np.ndarray) -> float:
    """Largest neighbour distance (degrees, longitude scaled by cos φ) of the grid."""
    scale = np.cos(np.deg2rad(lat2d))
    steps = []
    for axis in (0, 1):
        if lat2d.shape[axis] > 1:
            dy = np.diff(lat2d, axis=axis)
            dx = np.diff(lon2d, axis=axis) * np.take(
                scale, np.arange(lat2d.shape[axis] - 1), axis=axis
            )
            steps.append(np.hypot(dy, dx).max())
    return float(max(steps)) if steps else np.inf


_MASKS: dict[tuple[str, str], np.ndarray] = {}


def _rasterize(region: str, latitude: np.ndarray, longitude: np.ndarray) -> np.ndarray:
    import shapely

    lat2d, lon2d = _cell_centres(latitude, longitude)
    spacing = _spacing(lat2d, lon2d)
    boundaries = _boundaries(region)
    masks = np.zeros((len(boundaries), *lat2d.shape), dtype=bool)
    taken = np.zeros(lat2d.shape, dtype=bool)
    for index, (_, _, geometry) in enumerate(boundaries):
        inside = shapely.contains_xy(geometry, lon2d, lat2d) & ~taken
        if inside.any():
            taken |= inside
        else:  # smaller than a cell: the nearest cell, if the district is on the grid
            point = geometry.representative_point()
            distance = np.hypot(lat2d - point.y, (lon2d - point.x) * np.cos(np.deg2rad(point.y)))
            nearest = np.unravel_index(np.nanargmin(distance), distance.shape)
            if distance[nearest] <= spacing:
                inside[nearest] = True
        masks[index] = inside
    masks.setflags(write=False)
    return masks


def district_masks(latitude, longitude, region: str) -> np.ndarray:
    """Boolean masks ``(district, *grid)`` of ``region`` on the grid of these coordinates.

    ``region`` is ``"guangzhou_districts"`` or ``"guangdong_cities"``; ``latitude`` and
    ``longitude`` are 1-D axes or 2-D cell-centre fields. Cached per grid.
    """
    if region not in _REGIONS:
        raise ValueError(f"unknown region {region!r}; choose from {sorted(_REGIONS)}")
    lat = np.ascontiguousarray(np.asarray(latitude, dtype=np.float64))
    lon = np.ascontiguousarray(np.asarray(longitude, dtype=np.float64))
    digest = hashlib.sha1(
        repr((lat.shape, lon.shape)).encode() + lat.tobytes() + lon.tobytes()
    ).hexdigest()
    if (region, digest) not in _MASKS:
        _MASKS[(region, digest)] = _rasterize(region, lat, lon)
    return _MASKS[(region, digest)]


_LOCATION = ("latitude", "longitude", "lat", "lon")


def _horizontal(data: xr.DataArray) -> tuple[str, str, np.ndarray, np.ndarray]:
    """The two horizontal dims (the last two) and the cell-centre latitude/longitude."""
    y, x = data.dims[-2:]
    for lat_name, lon_name in (_LOCATION[:2], _LOCATION[2:]):
        if lat_name in data.coords and lon_name in data.coords:
            return y, x, np.asarray(data[lat_name].values), np.asarray(data[lon_name].values)
    raise InputError(
        f"{data.name or 'input'}: no latitude/longitude coordinates to locate districts"
    )


def _maximum_kernel(values: np.ndarray, masks: np.ndarray) -> np.ndarray:
    flat = values.reshape(*values.shape[:-2], -1)
    out = np.full((*values.shape[:-2], masks.shape[0]), np.nan, dtype=np.float32)
    for index, mask in enumerate(masks.reshape(masks.shape[0], -1)):
        if mask.any():
            out[..., index] = np.fmax.reduce(flat[..., mask], axis=-1)
    return out


def district_maximum(data: xr.DataArray, region: str) -> xr.DataArray:
    """Maximum of ``data`` over each district's cells, on a new district dimension.

    The dimension is ``district`` (Guangzhou districts) or ``city`` (Guangdong cities),
    labelled with English names, with coordinates ``<dim>_name_en`` and ``<dim>_name_zh``
    (distinct names, so both products fit in one dataset).
    """
    y, x, latitude, longitude = _horizontal(data)
    masks = district_masks(latitude, longitude, region)
    dim = _REGIONS[region][3]
    if hasattr(data.data, "dask"):
        data = data.chunk({y: -1, x: -1})
    out = xr.apply_ufunc(
        _maximum_kernel,
        data,
        kwargs={"masks": masks},
        input_core_dims=[[y, x]],
        output_core_dims=[[dim]],
        dask="parallelized",
        output_dtypes=[np.float32],
        dask_gufunc_kwargs={"output_sizes": {dim: masks.shape[0]}},
    )
    boundaries = _boundaries(region)
    english = np.array([en for _, en, _ in boundaries], dtype=str)
    return out.assign_coords(
        {
            dim: english,
            f"{dim}_name_en": (dim, english),
            f"{dim}_name_zh": (dim, np.array([zh for zh, _, _ in boundaries], dtype=str)),
        }
    )


def _on_hourly_axis(signal: xr.DataArray, time: xr.DataArray | None) -> xr.DataArray:
    """A daily signal (dim ``day``, labelled by the day's start) spread over ``time``."""
    if "day" not in signal.dims or time is None:
        return signal
    stamps = time.values - np.timedelta64(1, "s")  # the value stamped t closes (t - step, t]
    spread = signal.reindex(day=stamps, method="ffill", tolerance=pd.Timedelta("1D"))
    return spread.rename(day="time").assign_coords(time=time.values)


def _stack(signals: dict[str, xr.DataArray]) -> xr.DataArray:
    if not signals:
        raise InputError("no warning signals given")
    times = [s["time"] for s in signals.values() if "time" in s.dims]
    time = times[0] if times else None
    arrays = []
    for name, signal in signals.items():
        signal = _on_hourly_axis(signal, time)
        extra = [c for c in signal.coords if c not in signal.dims and c not in _LOCATION]
        arrays.append(signal.drop_vars(extra).expand_dims(signal=[name]))
    stacked = xr.concat(arrays, dim="signal", join="outer")
    stacked = stacked.assign_coords(signal=np.array(list(signals), dtype=str))
    leading = [d for d in ("time", "day") if d in stacked.dims]
    return stacked.transpose(*leading, "signal", ...)


def _region_levels(signals: dict[str, xr.DataArray], region: str) -> xr.DataArray:
    stacked = _stack(signals)
    return with_units(district_maximum(stacked, region), "1")


def guangzhou_district_signals(**signals):
    """Level of every warning signal in each of Guangzhou's 11 districts, per time step.

    Dims ``(time, signal, district)``: ``signal`` holds the product ids, ``district`` the
    English names, with ``district_name_en`` and ``district_name_zh``. A district's level is
    the maximum level over its cells (cnmaps boundaries, cell assigned by its centre).
    """
    return _region_levels(signals, "guangzhou_districts")


def guangdong_city_signals(**signals):
    """Level of every warning signal in each of Guangdong's 21 prefecture-level cities.

    Dims ``(time, signal, city)``: ``city`` holds the English names, with
    ``city_name_en`` and ``city_name_zh`` (``city`` rather than ``district`` so both
    per-district products fit in one dataset). The level is the maximum over the city's
    cells.
    """
    return _region_levels(signals, "guangdong_cities")
