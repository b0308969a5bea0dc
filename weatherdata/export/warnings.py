"""Warning formats: GeoJSON warning areas and CAP 1.2 alerts per district.

Both formats take a categorical product (``categories`` in the catalog). They are made
for the warning signals, whose levels are ``none`` plus some of the colours ``white``,
``blue``, ``yellow``, ``orange`` and ``red`` with codes that grow with the level.

GeoJSON (:class:`GeoJSONExporter`, one ``<id>.geojson`` per product)
    One RFC 7946 FeatureCollection per product with **one feature per (time step,
    level)** present at that step, ordered by time then level, so a web map filters on
    ``valid_from`` to animate it. For a warning signal the feature of a level covers the
    cells **at or above** it (``level_rule: "at_or_above"``: the yellow area contains
    the orange one, drawn lowest level first); for other categorical products it covers
    the cells of exactly that class (``"equal"``). The level ``none`` — and any class
    whose meaning is ``none`` or starts with ``no_``/``not_`` — makes no feature.
    Polygons are the exact outlines of the cells (``rasterio.features.shapes``, holes
    kept), simplified (Douglas–Peucker, topology preserving) with a tolerance of half
    the smaller grid spacing (:data:`SIMPLIFICATION_FRACTION`; stated in the collection
    as ``simplification_tolerance_degrees``): the staircase corners of shallow edges
    are cut, the outline moves by at most half a cell, so the area changes by at most
    tolerance × perimeter and no cell centre (half a cell from the cell outline) ends
    up on the wrong side. Coordinates are snapped to 10⁻⁶° (about 0.1 m); polygons are
    valid, exterior rings counter-clockwise and holes clockwise.
    ``valid_from``/``valid_until`` are the time step's interval ``[t, t + step)`` in
    UTC and ``issued`` its time stamp. A per-district table (``guangzhou_district_
    warning_signals``, ``guangdong_city_warning_signals``) gives one feature per
    (time step, signal, district) in force, its geometry the district boundary.

CAP (:class:`CAPExporter`, one ``<identifier>.xml`` per message plus ``index.json``)
    For every district of ``options.region`` (or the table's own region) the level is
    the maximum over the district's cells (:func:`~weatherdata.products.
    forecast_warning.districts.district_maximum`). Following the time steps, each
    district's signal is a stream of messages: ``Alert`` when it starts, ``Update`` when
    its level changes (up or down), nothing while it is unchanged, ``Cancel`` when it
    ends; each ``Update``/``Cancel`` ``<references>`` the previous message of its stream
    (``sender,identifier,sent``). A missing level (no data in the district at a step)
    carries no information: the stream keeps its state and sends nothing. The sequence
    starts at the first exported step, so a signal already in force there gets an Alert.

    ``sent``, ``effective`` and ``onset`` are the step's time, so the messages are
    deterministic. An Alert or Update ``expires`` when the stream's next message is
    sent or, for a signal still in force at the last step with a value, at the end of
    that step; a Cancel one step after it is sent (omitted when a single step gives no
    step length). Identifiers are
    ``weatherdata.<product>[.<signal>].<district|city>.<name>.<YYYYMMDDTHHMMSSZ>.<type>``.

    Mapping of the levels (:data:`SEVERITY`, :func:`cap_grading`): severity white and
    blue Minor, yellow Moderate, orange Severe, red Extreme. The signals mix "expected
    within X h" and "already observed" clauses and the grid does not record which one
    fired, so a forecast-family product gets urgency Expected and certainty Likely; an
    observation-family product Immediate and Observed; the typhoon white level (a
    cyclone *may* affect the area within 48 h) Future and Possible; a Cancel has
    urgency Past. Each message has two ``<info>`` blocks (zh-CN, en-US), category Met,
    the level and colour as ``<parameter>``s, and one ``<area>`` with the district's
    names and its cnmaps boundary as ``<polygon>``s (simplified to at most
    :data:`CAP_POLYGON_POINTS` points; parts smaller than 1 % of the district dropped).

References: RFC 7946, The GeoJSON Format (2016); OASIS Common Alerting Protocol
Version 1.2 (2010).
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ..catalog import Category, ProductEntry, shipped_catalog
from ..errors import WeatherdataError
from . import TIME_DIMENSIONS, Exporter, ExportOptions, atomic_output

__all__ = [
    "CAP_NAMESPACE",
    "SEVERITY",
    "SIMPLIFICATION_FRACTION",
    "CAPExporter",
    "CAPMessage",
    "GeoJSONExporter",
    "Transition",
    "cap_grading",
    "cap_messages",
    "level_geometry",
    "signal_transitions",
    "warning_areas",
]

#: Colour levels of the warning signals, lowest first.
WARNING_MEANINGS = ("none", "white", "blue", "yellow", "orange", "red")

#: CAP severity of each signal level.
SEVERITY = {
    "white": "Minor",
    "blue": "Minor",
    "yellow": "Moderate",
    "orange": "Severe",
    "red": "Extreme",
}

#: GeoJSON simplification tolerance as a fraction of the smaller grid spacing.
SIMPLIFICATION_FRACTION = 0.5

#: Coordinates are snapped to this grid (degrees) in GeoJSON output.
GEOJSON_PRECISION = 1e-6

#: GeoJSON district outlines (per-district tables) are simplified by this (degrees, ~1 km).
DISTRICT_TOLERANCE = 0.01

#: Largest number of points of one CAP ``<polygon>``.
CAP_POLYGON_POINTS = 100

CAP_NAMESPACE = "urn:oasis:names:tc:emergency:cap:1.2"
CAP_STATUSES = ("Actual", "Exercise", "System", "Test", "Draft")
_REGIONS = {"guangzhou_districts": "district", "guangdong_cities": "city"}
_TABLE_REGIONS = {dim: region for region, dim in _REGIONS.items()}


# -- levels and time ----------------------------------------------------------------


def _is_warning_scale(entry: ProductEntry) -> bool:
    meanings = {c.meaning for c in entry.categories or []}
    return "none" in meanings and meanings <= set(WARNING_MEANINGS)


def _is_inactive(category: Category) -> bool:
    meaning = category.meaning
    return meaning == "none" or meaning.startswith(("no_", "not_"))


def _categories(entry: ProductEntry) -> list[Category]:
    if not entry.categories:
        raise WeatherdataError(f"{entry.id}: not a categorical product (no categories)")
    return sorted(entry.categories, key=lambda c: c.value)


def _time_dimension(array: xr.DataArray) -> str | None:
    return next((d for d in TIME_DIMENSIONS if d in array.dims), None)


def _step(array: xr.DataArray, dim: str | None) -> np.timedelta64 | None:
    """Length of one time step: the smallest spacing, a day for ``day``, else unknown."""
    if dim is None:
        return None
    times = array[dim].values.astype("datetime64[s]")
    steps = np.diff(times)
    steps = steps[steps > np.timedelta64(0, "s")]
    if steps.size:
        return steps.min()
    if dim == "day":
        return np.timedelta64(1, "D").astype("timedelta64[s]")
    text = array.attrs.get("weatherdata_input_time_step")
    if text:
        return np.timedelta64(int(pd.Timedelta(text).total_seconds()), "s")
    return None


def _iso(time: np.datetime64 | None, *, cap: bool = False) -> str | None:
    if time is None:
        return None
    text = str(np.datetime64(time, "s"))
    return text + ("+00:00" if cap else "Z")


# -- GeoJSON --------------------------------------------------------------------------


def _edges(centres: np.ndarray, what: str, product_id: str) -> np.ndarray:
    centres = np.asarray(centres, dtype=np.float64)
    if centres.ndim != 1:
        raise WeatherdataError(
            f"{product_id}: GeoJSON needs a regular latitude/longitude grid ({what} is not 1-D)"
        )
    if centres.size < 2:
        raise WeatherdataError(
            f"{product_id}: one {what} cell only; the cell size for polygons is unknown "
            "(widen --bbox)"
        )
    middle = (centres[:-1] + centres[1:]) / 2
    first = centres[0] - (middle[0] - centres[0])
    last = centres[-1] + (centres[-1] - middle[-1])
    return np.concatenate([[first], middle, [last]])


def _grid(array: xr.DataArray, product_id: str) -> tuple[np.ndarray, np.ndarray]:
    """Cell edges ``(latitude, longitude)`` of the last two dimensions of ``array``."""
    if array.dims[-2:] != ("latitude", "longitude"):
        raise WeatherdataError(
            f"{product_id}: GeoJSON needs a latitude/longitude grid "
            f"(dimensions {', '.join(map(str, array.dims))})"
        )
    latitude = _edges(array["latitude"].values, "latitude", product_id)
    longitude = _edges(array["longitude"].values, "longitude", product_id)
    if longitude.max() > 180:
        if longitude.min() < 180:
            raise WeatherdataError(
                f"{product_id}: the grid crosses the antimeridian; GeoJSON needs "
                "longitudes within -180..180 (cut it with --bbox)"
            )
        longitude = longitude - 360
    return latitude, longitude


def level_geometry(mask: np.ndarray, latitude_edges, longitude_edges):
    """Exact outline (shapely, lon/lat) of the ``True`` cells of a 2-D ``mask``.

    The cells are polygonized in index space (``rasterio.features.shapes``, cells
    touching by an edge merge, holes kept) and the corners mapped to the cell edges, so
    the area is exactly the sum of the cell areas (in square degrees).

    Parameters
    ----------
    mask
        ``(latitude, longitude)`` booleans.
    latitude_edges, longitude_edges
        The ``n + 1`` cell edges of each axis, in the order of the mask's axes.

    Returns
    -------
    shapely.Polygon or shapely.MultiPolygon or None
        ``None`` for an empty mask.
    """
    import shapely
    from rasterio import features
    from rasterio.transform import Affine

    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return None
    pieces = [
        shapely.geometry.shape(shape)
        for shape, _ in features.shapes(
            mask.astype(np.uint8), mask=mask, connectivity=4, transform=Affine.identity()
        )
    ]
    outline = shapely.unary_union(pieces)  # in cell-index space: exact integers
    rows = np.arange(len(latitude_edges), dtype=np.float64)
    columns = np.arange(len(longitude_edges), dtype=np.float64)

    def to_degrees(points: np.ndarray) -> np.ndarray:
        return np.column_stack(
            [
                np.interp(points[:, 0], columns, longitude_edges),
                np.interp(points[:, 1], rows, latitude_edges),
            ]
        )

    return shapely.transform(outline, to_degrees)


def _polygons(geometry) -> list:
    import shapely

    if geometry is None or geometry.is_empty:
        return []
    if isinstance(geometry, shapely.Polygon):
        return [geometry]
    if isinstance(geometry, shapely.MultiPolygon):
        return list(geometry.geoms)
    return [p for part in getattr(geometry, "geoms", []) for p in _polygons(part)]


def _publishable(geometry, tolerance: float):
    """Simplify, snap to :data:`GEOJSON_PRECISION` and orient a (multi)polygon.

    Falls back to the unsimplified outline should simplification ever make it invalid.
    """
    import shapely
    from shapely.geometry.polygon import orient

    def finish(candidate):
        snapped = shapely.set_precision(candidate, GEOJSON_PRECISION)
        parts = [orient(p, sign=1.0) for p in _polygons(snapped)]
        if not parts:
            return None
        result = parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts)
        return result if result.is_valid else None

    simplified = geometry.simplify(tolerance, preserve_topology=True) if tolerance else geometry
    return finish(simplified) or finish(geometry)


def _geojson_geometry(geometry) -> dict:
    def ring(coordinates) -> list[list[float]]:
        return [[round(x, 6), round(y, 6)] for x, y in coordinates]

    polygons = [
        [ring(p.exterior.coords), *(ring(hole.coords) for hole in p.interiors)]
        for p in _polygons(geometry)
    ]
    if len(polygons) == 1:
        return {"type": "Polygon", "coordinates": polygons[0]}
    return {"type": "MultiPolygon", "coordinates": polygons}


def _level_properties(category: Category, rule: str) -> dict:
    return {
        "level": category.value,
        "level_meaning": category.meaning,
        "level_en": category.en,
        "level_zh": category.zh,
        "colour": category.colour,
        "level_rule": rule,
    }


def _time_steps(array: xr.DataArray):
    """``[(index or None, time or None, valid_until or None)]`` over the time dimension."""
    dim = _time_dimension(array)
    if dim is None:
        return None, [(None, None, None)]
    step = _step(array, dim)
    times = array[dim].values.astype("datetime64[s]")
    return dim, [(i, t, t + step if step is not None else None) for i, t in enumerate(times)]


def warning_areas(data: xr.Dataset, entry: ProductEntry) -> dict:
    """The GeoJSON FeatureCollection of one categorical product (layout: module docs).

    Parameters
    ----------
    data
        Holds the variable ``entry.id`` on ``(time, latitude, longitude)`` (time
        optional) or, for a per-district table, ``(time, signal, district|city)``.
    entry
        The product's catalog entry (names, categories).

    Returns
    -------
    dict
        An RFC 7946 FeatureCollection, ready for ``json.dumps``.
    """
    array = data[entry.id]
    categories = _categories(entry)
    table_dims = [d for d in array.dims if d in _TABLE_REGIONS]
    if table_dims:
        features, tolerance = _district_features(array, entry, categories, table_dims[0])
    else:
        features, tolerance = _grid_features(array, entry, categories)
    collection = {
        "type": "FeatureCollection",
        "product": entry.id,
        "name_en": entry.name.en,
        "name_zh": entry.name.zh,
        "simplification_tolerance_degrees": tolerance,
        "features": features,
    }
    if "date_created" in data.attrs:
        collection["created"] = str(data.attrs["date_created"])
    return collection


def _grid_features(array: xr.DataArray, entry: ProductEntry, categories: list[Category]):
    latitude_edges, longitude_edges = _grid(array, entry.id)
    spacing = min(np.abs(np.diff(latitude_edges)).min(), np.abs(np.diff(longitude_edges)).min())
    tolerance = round(float(SIMPLIFICATION_FRACTION * spacing), 9)
    dim, steps = _time_steps(array)
    extra = [d for d in array.dims[:-2] if d != dim]
    if extra:
        raise WeatherdataError(
            f"{entry.id}: GeoJSON handles (time, latitude, longitude); "
            f"also found {', '.join(map(str, extra))}"
        )
    values = np.asarray(array.values, dtype=np.float64)
    if dim is None:
        values = values[np.newaxis]
    cumulative = _is_warning_scale(entry)
    rule = "at_or_above" if cumulative else "equal"
    active = [c for c in categories if not _is_inactive(c)]
    features = []
    for index, time, until in steps:
        grid = values[index or 0]
        with np.errstate(invalid="ignore"):
            for category in active:
                mask = grid >= category.value if cumulative else grid == category.value
                outline = level_geometry(mask, latitude_edges, longitude_edges)
                if outline is None:
                    continue
                geometry = _publishable(outline, tolerance)
                features.append(
                    _feature(
                        f"{entry.id}.{_stamp(time)}.{category.meaning}",
                        geometry,
                        {
                            "product": entry.id,
                            "name_en": entry.name.en,
                            "name_zh": entry.name.zh,
                            **_level_properties(category, rule),
                            "cells": int(mask.sum()),
                            "valid_from": _iso(time),
                            "valid_until": _iso(until),
                            "issued": _iso(time),
                        },
                    )
                )
    return features, tolerance


def _feature(identifier: str, geometry, properties: dict) -> dict:
    if not isinstance(geometry, dict):
        geometry = _geojson_geometry(geometry)
    return {"type": "Feature", "id": identifier, "geometry": geometry, "properties": properties}


def _stamp(time) -> str:
    if time is None:
        return "static"
    return pd.Timestamp(time).strftime("%Y%m%dT%H%M%SZ")


@functools.cache
def _district_outline(region: str, english: str) -> dict:
    """GeoJSON geometry of a district's boundary (cached: tables repeat it per step)."""
    for _, en, geometry in _district_boundaries(region):
        if en == english:
            return _geojson_geometry(_publishable(geometry, DISTRICT_TOLERANCE))
    raise WeatherdataError(f"no {region} boundary named {english!r}")


def _district_boundaries(region: str):
    from weatherdata.products.forecast_warning.districts import _boundaries

    return _boundaries(region)


def _district_features(array, entry, categories, table_dim):
    region = _TABLE_REGIONS[table_dim]
    by_value = {c.value: c for c in categories}
    catalog = shipped_catalog()
    dim, steps = _time_steps(array)
    order = [d for d in (dim, "signal", table_dim) if d is not None]
    if set(array.dims) != set(order):
        raise WeatherdataError(
            f"{entry.id}: expected dimensions {', '.join(order)}, found "
            f"{', '.join(map(str, array.dims))}"
        )
    array = array.transpose(*order)
    values = np.asarray(array.values, dtype=np.float64)
    if dim is None:
        values = values[np.newaxis]
    signals = [str(s) for s in array["signal"].values]
    districts = [str(d) for d in array[table_dim].values]
    zh_names = _table_names_zh(array, table_dim, region, districts)
    features = []
    for index, time, until in steps:
        for s, signal in enumerate(signals):
            names = catalog[signal].name if signal in catalog.entries else None
            for d, district in enumerate(districts):
                value = values[index or 0, s, d]
                category = by_value.get(int(value)) if np.isfinite(value) else None
                if category is None or _is_inactive(category):
                    continue
                features.append(
                    _feature(
                        f"{entry.id}.{signal}.{district}.{_stamp(time)}",
                        _district_outline(region, district),
                        {
                            "product": signal,
                            "name_en": names.en if names else signal,
                            "name_zh": names.zh if names else signal,
                            "source_product": entry.id,
                            "region": region,
                            "district": district,
                            "district_zh": zh_names[d],
                            **_level_properties(category, "district_maximum"),
                            "valid_from": _iso(time),
                            "valid_until": _iso(until),
                            "issued": _iso(time),
                        },
                    )
                )
    return features, DISTRICT_TOLERANCE


def _table_names_zh(array, table_dim: str, region: str, districts: list[str]) -> list[str]:
    coordinate = f"{table_dim}_name_zh"
    if coordinate in array.coords:
        return [str(v) for v in array[coordinate].values]
    known = {en: zh for zh, en, _ in _district_boundaries(region)}
    return [known.get(d, d) for d in districts]


class GeoJSONExporter(Exporter):
    """Warning areas as RFC 7946 GeoJSON: a feature per (time step, level)."""

    name = "geojson"
    suffix = ".geojson"
    description = "Warning areas: a polygon feature per time step and level (RFC 7946)"
    categorical_only = True

    def write(
        self, data: xr.Dataset, entry: ProductEntry, destination: Path, options: ExportOptions
    ) -> list[Path]:
        text = json.dumps(warning_areas(data, entry), ensure_ascii=False, separators=(",", ":"))
        with atomic_output(destination) as temporary:
            _write_text(temporary, text)
        return [destination]


def _write_text(path: Path, text: str, chunk: int = 1 << 20) -> None:
    with open(path, "w", encoding="utf-8") as out:
        for start in range(0, len(text), chunk):
            out.write(text[start : start + chunk])


# -- CAP: message sequencing --------------------------------------------------------


@dataclass(frozen=True)
class Transition:
    """One message of a district's stream: at step ``index``, ``kind`` for ``level``.

    ``level`` is the new level (Alert, Update) or the level that ends (Cancel);
    ``previous`` the level before an Update; ``until`` the index of the stream's next
    message (``None`` when there is none: the signal is in force to the end).
    """

    index: int
    kind: str
    level: int
    previous: int | None = None
    until: int | None = None


def signal_transitions(levels: Sequence[float], none: int = 0) -> list[Transition]:
    """Alert/Update/Cancel transitions of one district's level series.

    Parameters
    ----------
    levels
        The district's level code at each time step; NaN where unknown (the stream
        keeps its state: no message).
    none
        The code of "no signal".

    Returns
    -------
    list of Transition
        In time order; ``until`` links each message to the stream's next one.

    Examples
    --------
    >>> [(t.index, t.kind, t.level) for t in signal_transitions([0, 3, 4, 4, 0])]
    [(1, 'Alert', 3), (2, 'Update', 4), (4, 'Cancel', 4)]
    """
    state = none
    found: list[Transition] = []
    for index, value in enumerate(levels):
        if value is None or not np.isfinite(value):
            continue
        value = int(value)
        if value == state:
            continue
        if state == none:
            found.append(Transition(index, "Alert", value))
        elif value == none:
            found.append(Transition(index, "Cancel", state))
        else:
            found.append(Transition(index, "Update", value, previous=state))
        state = value
    return [
        Transition(t.index, t.kind, t.level, t.previous, found[i + 1].index)
        if i + 1 < len(found)
        else t
        for i, t in enumerate(found)
    ]


def cap_grading(category: Category, entry: ProductEntry, kind: str = "Alert") -> dict:
    """CAP ``urgency``, ``severity`` and ``certainty`` of a signal level.

    Severity by colour (:data:`SEVERITY`); urgency Expected and certainty Likely for
    forecast-family products (their signals mix forecast and observed clauses),
    Immediate and Observed for observation-family ones; the white level (a cyclone may
    affect the area within 48 h) Future and Possible; any Cancel has urgency Past.

    Parameters
    ----------
    category
        The level (its ``meaning`` is a colour).
    entry
        The signal's catalog entry (its ``family``).
    kind
        ``"Alert"``, ``"Update"`` or ``"Cancel"``.
    """
    observed = entry.family == "observation"
    if kind == "Cancel":
        urgency = "Past"
    elif category.meaning == "white":
        urgency = "Future"
    else:
        urgency = "Immediate" if observed else "Expected"
    if category.meaning == "white" and not observed:
        certainty = "Possible"
    else:
        certainty = "Observed" if observed else "Likely"
    return {
        "urgency": urgency,
        "severity": SEVERITY.get(category.meaning, "Unknown"),
        "certainty": certainty,
    }


# -- CAP: documents -----------------------------------------------------------------


@dataclass(frozen=True)
class CAPMessage:
    """One CAP alert message, ready to write."""

    identifier: str
    sender: str
    sent: str
    kind: str
    xml: bytes
    summary: dict

    @property
    def reference(self) -> str:
        """``sender,identifier,sent`` as used in ``<references>``."""
        return f"{self.sender},{self.identifier},{self.sent}"


_RESTRICTED = re.compile(r"[\s,<&]")


def _check_options(options: ExportOptions) -> None:
    if not options.sender or _RESTRICTED.search(options.sender):
        raise WeatherdataError(
            f"--sender {options.sender!r}: CAP senders have no spaces, commas, '<' or '&'"
        )
    if options.status not in CAP_STATUSES:
        raise WeatherdataError(
            f"status {options.status!r}: CAP status is one of {', '.join(CAP_STATUSES)}"
        )


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-").lower() or "x"


def _area_names(region: str, english: str, chinese: str) -> tuple[str, str]:
    if region == "guangzhou_districts":
        return f"广州市{chinese}", f"{english} District, Guangzhou"
    return f"广东省{chinese}", f"{english}, Guangdong"


def _level_name_zh(name_zh: str, level_zh: str) -> str:
    if name_zh.endswith("预警信号"):
        return f"{name_zh[:-4]}{level_zh}预警信号"
    return f"{name_zh}（{level_zh}）"


def _level_name_en(name_en: str, level_en: str) -> str:
    return f"{level_en} {name_en[:1].lower()}{name_en[1:]}"


@functools.cache
def cap_polygons(region: str, english: str) -> tuple[str, ...]:
    """The district boundary as CAP ``<polygon>`` texts (``"lat,lon lat,lon …"``, closed).

    Each part of at least 1 % of the district's area gives one polygon: its outer ring
    (CAP polygons have no holes), simplified without self-intersections with the
    smallest tolerance (from 0.001° doubling) that leaves at most
    :data:`CAP_POLYGON_POINTS` points, written to 10⁻⁵° (about 1 m); at least four
    points (a closed triangle).
    """
    import shapely

    geometry = next(g for _, en, g in _district_boundaries(region) if en == english)
    parts = _polygons(geometry)
    total = sum(p.area for p in parts)
    texts = []
    for part in sorted(parts, key=lambda p: p.area, reverse=True):
        if part.area < 0.01 * total:
            continue
        shell = shapely.Polygon(part.exterior)
        tolerance = 0.001
        while tolerance < 1:
            points = _cap_points(shell.simplify(tolerance, preserve_topology=True))
            if len(points) <= CAP_POLYGON_POINTS and _valid_cap_ring(points):
                break
            tolerance *= 2
        if 4 <= len(points) <= CAP_POLYGON_POINTS and _valid_cap_ring(points):
            texts.append(" ".join(points))
    if not texts:
        raise WeatherdataError(f"{english}: its boundary gives no CAP polygon")
    return tuple(texts)


def _cap_points(polygon) -> list[str]:
    points: list[str] = []
    for x, y in polygon.exterior.coords:
        point = f"{y:.5f},{x:.5f}"
        if not points or points[-1] != point:
            points.append(point)
    if points and points[0] != points[-1]:
        points.append(points[0])
    return points


def _valid_cap_ring(points: list[str]) -> bool:
    import shapely

    if len(points) < 4:
        return False
    coordinates = [tuple(map(float, point.split(",")))[::-1] for point in points]
    return shapely.Polygon(coordinates).is_valid


def _district_levels(data: xr.Dataset, entry: ProductEntry, options: ExportOptions):
    """``(region, time dim, array (time, signal, district))`` of per-district levels."""
    from weatherdata.products.forecast_warning.districts import district_maximum

    array = data[entry.id]
    time_dim = _time_dimension(array)
    if time_dim is None:
        raise WeatherdataError(f"{entry.id}: CAP alerts follow time steps; it has no time axis")
    table_dims = [d for d in array.dims if d in _TABLE_REGIONS]
    if table_dims:
        region = _TABLE_REGIONS[table_dims[0]]
        order = [time_dim, "signal", table_dims[0]]
        if set(array.dims) != set(order):
            raise WeatherdataError(
                f"{entry.id}: expected dimensions {', '.join(order)}, found "
                f"{', '.join(map(str, array.dims))}"
            )
        return region, time_dim, array.transpose(*order)
    region = options.region
    if region not in _REGIONS:
        raise WeatherdataError(
            f"--region {region!r}: choose from {', '.join(_REGIONS)} for CAP alerts"
        )
    extra = [d for d in array.dims if d not in (time_dim, "latitude", "longitude")]
    if extra:
        raise WeatherdataError(
            f"{entry.id}: CAP handles (time, latitude, longitude); also found "
            f"{', '.join(map(str, extra))}"
        )
    levels = district_maximum(array.transpose(time_dim, ...), region)
    levels = levels.expand_dims(signal=[entry.id]).transpose(time_dim, "signal", _REGIONS[region])
    return region, time_dim, levels


def cap_messages(data: xr.Dataset, entry: ProductEntry, options: ExportOptions) -> list[CAPMessage]:
    """Every CAP message of one warning product, in time order (see the module docs).

    Nothing is written: a bad option or product raises before any file exists.

    Parameters
    ----------
    data
        The product (``entry.id``) on a grid, or a per-district table.
    entry
        Its catalog entry; its levels must be warning-signal colours.
    options
        ``region`` (grids only), ``sender`` and ``status``.

    Returns
    -------
    list of CAPMessage
        Sorted by ``sent`` then ``identifier``.
    """
    _check_options(options)
    if not _is_warning_scale(entry):
        meanings = ", ".join(c.meaning for c in _categories(entry))
        raise WeatherdataError(
            f"--format cap: {entry.id} is not a warning signal (levels {meanings}); "
            "CAP alerts need levels none/white/blue/yellow/orange/red"
        )
    categories = {c.value: c for c in _categories(entry)}
    none = next(c.value for c in categories.values() if c.meaning == "none")
    region, time_dim, levels = _district_levels(data, entry, options)
    table_dim = _REGIONS[region]
    step = _step(data[entry.id], time_dim)
    times = levels[time_dim].values.astype("datetime64[s]")
    values = np.asarray(levels.values, dtype=np.float64)
    signals = [str(s) for s in levels["signal"].values]
    districts = [str(d) for d in levels[table_dim].values]
    zh_names = _table_names_zh(levels, table_dim, region, districts)
    catalog = shipped_catalog()
    is_table = any(d in _TABLE_REGIONS for d in data[entry.id].dims)

    messages: list[tuple[np.datetime64, CAPMessage]] = []
    for s, signal in enumerate(signals):
        signal_entry = catalog[signal] if is_table and signal in catalog.entries else entry
        for d, district in enumerate(districts):
            series = values[:, s, d]
            unknown = [
                v for v in np.unique(series[np.isfinite(series)]) if int(v) not in categories
            ]
            if unknown:
                raise WeatherdataError(
                    f"{entry.id}: level code {unknown[0]:g} in {district} is not among the "
                    "product's categories"
                )
            known = np.flatnonzero(np.isfinite(series))
            previous: CAPMessage | None = None
            for transition in signal_transitions(series, none):
                if transition.kind == "Cancel":
                    expires = times[transition.index] + step if step is not None else None
                elif transition.until is not None:
                    expires = times[transition.until]
                else:
                    expires = times[known[-1]] + step if step is not None else None
                parts = ["weatherdata", entry.id]
                if is_table:
                    parts.append(signal)
                message = _message(
                    identifier=".".join(
                        [
                            *(_slug(p) for p in parts),
                            table_dim,
                            _slug(district),
                            _stamp(times[transition.index]),
                            transition.kind.lower(),
                        ]
                    ),
                    transition=transition,
                    time=times[transition.index],
                    expires=expires,
                    entry=entry,
                    signal_entry=signal_entry,
                    categories=categories,
                    region=region,
                    district=(district, zh_names[d]),
                    previous=previous,
                    options=options,
                )
                messages.append((times[transition.index], message))
                previous = None if transition.kind == "Cancel" else message
    messages.sort(key=lambda pair: (pair[0], pair[1].identifier))
    return [m for _, m in messages]


def _message(
    *,
    identifier: str,
    transition: Transition,
    time,
    expires,
    entry: ProductEntry,
    signal_entry: ProductEntry,
    categories: dict[int, Category],
    region: str,
    district: tuple[str, str],
    previous: CAPMessage | None,
    options: ExportOptions,
) -> CAPMessage:
    from lxml import etree
    from lxml.builder import ElementMaker

    english, chinese = district
    level = categories[transition.level]
    before = categories.get(transition.previous) if transition.previous is not None else None
    area_zh, area_en = _area_names(region, english, chinese)
    sent = _iso(time, cap=True)
    grading = cap_grading(level, signal_entry, transition.kind)
    name = signal_entry.name
    level_zh = _level_name_zh(name.zh, level.zh)
    level_en = _level_name_en(name.en, level.en)
    if transition.kind == "Alert":
        headline_zh, headline_en = f"{area_zh}{level_zh}", f"{level_en} in {area_en}"
    elif transition.kind == "Update":
        change_zh = "升级" if transition.level > transition.previous else "降级"
        change_en = "upgraded" if transition.level > transition.previous else "downgraded"
        headline_zh = f"{area_zh}{name.zh}由{before.zh}{change_zh}为{level.zh}"
        headline_en = (
            f"{name.en} in {area_en} {change_en} from {before.en.lower()} to {level.en.lower()}"
        )
    else:
        headline_zh, headline_en = f"{area_zh}{level_zh}解除", f"{level_en} in {area_en} cancelled"
    how = (
        "the district's level from the per-district table"
        if signal_entry is not entry
        else "the highest level over the district's grid cells"
    )
    if transition.kind == "Cancel":
        description_zh = f"{sent[:16].replace('T', ' ')}（UTC）起{area_zh}的{level_zh}解除。"
        description_en = f"The {level_en.lower()} in {area_en} ended at {sent} (UTC)."
    else:
        description_zh = (
            f"{sent[:16].replace('T', ' ')}（UTC）起{area_zh}{level_zh}生效"
            f"（weatherdata 产品 {entry.id}，取区内最高等级）。"
        )
        description_en = (
            f"{level_en} in force in {area_en} from {sent} (UTC): {how} "
            f"(weatherdata product {entry.id})."
        )
        if level.definition:
            description_en += f" Criterion: {level.definition}."

    E = ElementMaker(namespace=CAP_NAMESPACE, nsmap={None: CAP_NAMESPACE})

    def info(language: str, event: str, headline: str, description: str, area: str):
        parameters = [("level", level.meaning), ("level_code", str(level.value))]
        parameters.append(("colour", level.colour))
        if before is not None:
            parameters.append(("previous_level", before.meaning))
        times = [E.effective(sent)]
        if transition.kind != "Cancel":
            times.append(E.onset(sent))
        if expires is not None:
            times.append(E.expires(_iso(expires, cap=True)))
        return E.info(
            E.language(language),
            E.category("Met"),
            E.event(event),
            E.responseType("AllClear" if transition.kind == "Cancel" else "Prepare"),
            E.urgency(grading["urgency"]),
            E.severity(grading["severity"]),
            E.certainty(grading["certainty"]),
            E.eventCode(E.valueName("weatherdata_product"), E.value(signal_entry.id)),
            *times,
            E.senderName("weatherdata"),
            E.headline(headline),
            E.description(description),
            *(E.parameter(E.valueName(k), E.value(v)) for k, v in parameters),
            E.area(
                E.areaDesc(area),
                *(E.polygon(p) for p in cap_polygons(region, english)),
                E.geocode(E.valueName("weatherdata_region"), E.value(f"{region}:{english}")),
            ),
        )

    alert = E.alert(
        E.identifier(identifier),
        E.sender(options.sender),
        E.sent(sent),
        E.status(options.status),
        E.msgType(transition.kind),
        E.source(f"weatherdata {entry.id}"),
        E.scope("Public"),
        *([E.references(previous.reference)] if previous is not None else []),
        info("zh-CN", name.zh, headline_zh, description_zh, f"{area_zh}（{english}）"),
        info("en-US", name.en, headline_en, description_en, f"{area_en} ({chinese})"),
    )
    xml = etree.tostring(alert, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    summary = {
        "identifier": identifier,
        "sent": sent,
        "msgType": transition.kind,
        "product": entry.id,
        "signal": signal_entry.id,
        "region": region,
        "district": english,
        "district_zh": chinese,
        "level": level.meaning,
        "previous_level": before.meaning if before is not None else None,
        "expires": _iso(expires, cap=True),
        "references": previous.reference if previous is not None else None,
        "file": f"{identifier}.xml",
    }
    return CAPMessage(identifier, options.sender, sent, transition.kind, xml, summary)


class CAPExporter(Exporter):
    """CAP 1.2 alerts per district: Alert/Update/Cancel as the signal changes."""

    name = "cap"
    suffix = ".xml"
    description = "CAP 1.2 alerts per district (Alert, Update, Cancel) and an index.json"
    categorical_only = True
    many_files = True

    def write(
        self, data: xr.Dataset, entry: ProductEntry, destination: Path, options: ExportOptions
    ) -> list[Path]:
        messages = cap_messages(data, entry, options)
        index = [m.summary for m in messages]
        files = [destination / f"{m.identifier}.xml" for m in messages]
        files.append(destination / "index.json")
        # All files are written under temporary names first and renamed together at
        # the end: a failure part-way leaves none of them.
        with contextlib.ExitStack() as stack:
            for message, path in zip(messages, files, strict=False):
                stack.enter_context(atomic_output(path)).write_bytes(message.xml)
            stack.enter_context(atomic_output(files[-1])).write_text(
                json.dumps(index, ensure_ascii=False, indent=1), encoding="utf-8"
            )
        return files
