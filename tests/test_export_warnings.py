"""GeoJSON warning areas and CAP 1.2 alerts (``weatherdata.export.warnings``).

Every GeoJSON output is checked against a compact RFC 7946 JSON schema
(``tests/data/geojson``) and with shapely (validity, ring orientation, area); every CAP
message against the OASIS CAP 1.2 schema (``tests/data/cap``).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd
import pytest
import shapely
import xarray as xr
import xmlschema
from lxml import etree
from weatherdata.products.forecast_warning.districts import (
    GUANGZHOU_DISTRICTS,
    _boundaries,
    district_masks,
)

from weatherdata.catalog import Category, shipped_catalog
from weatherdata.cli import main
from weatherdata.errors import WeatherdataError
from weatherdata.export import ExportOptions, export
from weatherdata.export.warnings import (
    CAPExporter,
    GeoJSONExporter,
    cap_grading,
    cap_polygons,
    level_geometry,
    signal_transitions,
)

DATA = Path(__file__).parent / "data"
CAP = {"cap": "urn:oasis:names:tc:emergency:cap:1.2"}
HOUR = np.timedelta64(1, "h")


# -- validators ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def cap_schema():
    return xmlschema.XMLSchema(DATA / "cap" / "CAP-v1.2.xsd")


@pytest.fixture(scope="module")
def geojson_schema():
    schema = json.loads((DATA / "geojson" / "feature-collection.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def check_geojson(collection: dict, validator) -> list:
    """Schema, validity and RFC 7946 winding of every feature; returns the geometries."""
    validator.validate(collection)
    geometries = []
    for feature in collection["features"]:
        geometry = shapely.geometry.shape(feature["geometry"])
        assert geometry.is_valid, (feature["id"], shapely.is_valid_reason(geometry))
        assert not geometry.is_empty
        polygons = getattr(geometry, "geoms", [geometry])
        for polygon in polygons:
            assert polygon.exterior.is_ccw, feature["id"]
            assert all(not hole.is_ccw for hole in polygon.interiors), feature["id"]
        for ring in _rings(feature["geometry"]):
            assert ring[0] == ring[-1]
            for x, y in ring:
                assert round(x, 6) == x and round(y, 6) == y
        geometries.append(geometry)
    return geometries


def _rings(geometry: dict):
    polygons = (
        [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
    )
    for polygon in polygons:
        yield from polygon


def read_cap(path: Path, schema) -> dict:
    """Validate one CAP file against the OASIS schema and pick out its fields."""
    schema.validate(str(path))
    tree = etree.parse(str(path))

    def text(xpath, node=tree):
        found = node.xpath(xpath, namespaces=CAP)
        return found[0].text if found else None

    infos = tree.xpath("/cap:alert/cap:info", namespaces=CAP)
    return {
        "identifier": text("/cap:alert/cap:identifier"),
        "sender": text("/cap:alert/cap:sender"),
        "sent": text("/cap:alert/cap:sent"),
        "status": text("/cap:alert/cap:status"),
        "msgType": text("/cap:alert/cap:msgType"),
        "scope": text("/cap:alert/cap:scope"),
        "references": text("/cap:alert/cap:references"),
        "info": [
            {
                "language": text("cap:language", info),
                "category": text("cap:category", info),
                "event": text("cap:event", info),
                "urgency": text("cap:urgency", info),
                "severity": text("cap:severity", info),
                "certainty": text("cap:certainty", info),
                "onset": text("cap:onset", info),
                "expires": text("cap:expires", info),
                "headline": text("cap:headline", info),
                "areaDesc": text("cap:area/cap:areaDesc", info),
                "polygons": [p.text for p in info.xpath("cap:area/cap:polygon", namespaces=CAP)],
                "parameters": {
                    text("cap:valueName", p): text("cap:value", p)
                    for p in info.xpath("cap:parameter", namespaces=CAP)
                },
            }
            for info in infos
        ],
    }


def read_all_cap(directory: Path, schema) -> list[dict]:
    files = sorted(directory.glob("*.xml"))
    index = json.loads((directory / "index.json").read_text())
    assert sorted(entry["file"] for entry in index) == [f.name for f in files]
    messages = [read_cap(f, schema) for f in files]
    assert len({m["identifier"] for m in messages}) == len(messages)
    for message in messages:
        assert (directory / f"{message['identifier']}.xml").exists()
    return sorted(messages, key=lambda m: (m["sent"], m["identifier"]))


def test_cap_schema_is_the_shipped_file():
    """Nobody edits the schema by accident (its provenance is in tests/data/cap/README.md)."""
    content = (DATA / "cap" / "CAP-v1.2.xsd").read_bytes()
    assert hashlib.sha256(content).hexdigest() == (
        "f6c6ed7537a463968b7b36110f7e8bba1f86ad2257a8b84619d7dce530e57401"
    )


def test_cap_schema_rejects_what_cap_forbids(cap_schema):
    """The schema is strict where the exporter relies on it: time zone form, enumerations."""
    good = (
        '<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>a</identifier>'
        "<sender>s</sender><sent>2026-07-25T00:00:00+00:00</sent><status>Actual</status>"
        "<msgType>Alert</msgType><scope>Public</scope></alert>"
    )
    assert cap_schema.is_valid(good)
    assert not cap_schema.is_valid(good.replace("+00:00", "Z"))
    assert not cap_schema.is_valid(good.replace("Public", "Everyone"))


# -- synthetic grids ----------------------------------------------------------------


def signal_dataset(values: np.ndarray, latitude, longitude, product="rainstorm_warning_signal"):
    times = pd.date_range("2026-07-25T00:00", periods=values.shape[0], freq="1h")
    return xr.Dataset(
        {product: (("time", "latitude", "longitude"), values.astype(np.float32))},
        coords={"time": times, "latitude": latitude, "longitude": longitude},
    )


def cell_centres(latitude, longitude):
    return np.meshgrid(latitude, longitude, indexing="ij")


def assert_centres_on_their_side(geometry, expected, latitude, longitude):
    """Cells at the level have their centre in or on the outline, the others out or on it.

    The simplification moves the outline by at most half a cell, the distance from a
    cell centre to the cell's edges, so a centre can land on the outline, never across.
    """
    lat2d, lon2d = cell_centres(latitude, longitude)
    points = shapely.points(lon2d, lat2d)
    on_outline = shapely.distance(geometry.boundary, points) <= 1e-6
    inside = shapely.contains_xy(geometry, lon2d, lat2d)
    wrong = (inside != expected) & ~on_outline
    assert not wrong.any(), np.argwhere(wrong)[:5]


def test_level_geometry_is_the_exact_outline_with_holes():
    """A hand-built mask: a ring of 8 cells around a hole, an L of 3 cells, a lone cell."""
    mask = np.zeros((7, 8), dtype=bool)
    mask[1:4, 1:4] = True
    mask[2, 2] = False  # the hole
    mask[5, 5:7] = True
    mask[6, 5] = True  # the L
    mask[4, 0] = True  # touches the ring only at a corner: a separate polygon
    latitude_edges = 20.0 + 0.25 * np.arange(8)
    longitude_edges = 110.0 + 0.5 * np.arange(9)  # non-square cells: 0.25° × 0.5°
    outline = level_geometry(mask, latitude_edges, longitude_edges)
    assert outline.is_valid
    assert outline.area == pytest.approx(12 * 0.25 * 0.5, abs=1e-12)
    polygons = sorted(outline.geoms, key=lambda p: p.area, reverse=True)
    assert [round(p.area / 0.125) for p in polygons] == [8, 3, 1]
    assert len(polygons[0].interiors) == 1
    assert shapely.Polygon(polygons[0].interiors[0]).area == pytest.approx(0.125)
    assert polygons[0].bounds == pytest.approx((110.5, 20.25, 112.0, 21.0))
    assert level_geometry(np.zeros((2, 2), bool), latitude_edges[:3], longitude_edges[:3]) is None


@pytest.mark.parametrize("descending", [False, True], ids=["south-north", "north-south"])
def test_geojson_levels_on_a_synthetic_grid(tmp_path, geojson_schema, descending):
    """none → yellow with an orange core and a hole → NaN-speckled step; at-or-above areas."""
    catalog = shipped_catalog()
    entry = catalog["rainstorm_warning_signal"]
    latitude = 22.0 + 0.25 * np.arange(10)
    longitude = 112.0 + 0.25 * np.arange(12)
    values = np.zeros((3, 10, 12))
    values[1, 2:8, 2:9] = 3
    values[1, 4, 5] = 0  # a hole in the yellow area
    values[1, 5:7, 6:8] = 4
    values[1, 0, 11] = 5  # a lone red cell in a corner
    values[2] = values[1]
    values[2, 2, 2:5] = np.nan  # missing cells are in no area
    if descending:
        latitude, values = latitude[::-1], values[:, ::-1]
    data = signal_dataset(values, latitude, longitude)
    destination = tmp_path / "rainstorm.geojson"
    assert GeoJSONExporter().write(data, entry, destination, ExportOptions()) == [destination]
    collection = json.loads(destination.read_text(encoding="utf-8"))
    geometries = check_geojson(collection, geojson_schema)

    features = collection["features"]
    keys = [(f["properties"]["valid_from"], f["properties"]["level_meaning"]) for f in features]
    assert keys == [
        (f"2026-07-25T0{t}:00:00Z", meaning)
        for t in (1, 2)
        for meaning in ("yellow", "orange", "red")
    ]
    tolerance = collection["simplification_tolerance_degrees"]
    assert tolerance == pytest.approx(0.5 * 0.25)
    for feature, geometry in zip(features, geometries, strict=True):
        properties = feature["properties"]
        step = 1 if properties["valid_from"].startswith("2026-07-25T01") else 2
        with np.errstate(invalid="ignore"):
            expected = values[step] >= properties["level"]
        assert properties["cells"] == expected.sum()
        assert_centres_on_their_side(geometry, expected, latitude, longitude)
        exact = level_geometry(expected, *_edges(latitude, longitude))
        assert shapely.hausdorff_distance(geometry, exact) <= tolerance + 1e-6
        assert exact.area == pytest.approx(expected.sum() * 0.0625)
        assert abs(geometry.area - exact.area) <= tolerance * exact.length
        assert properties["valid_until"] == properties["valid_from"].replace(
            f"T0{step}", f"T0{step + 1}"
        )
        assert properties["issued"] == properties["valid_from"]
        assert properties["level_rule"] == "at_or_above"
        assert properties["product"] == "rainstorm_warning_signal"
        assert (properties["name_en"], properties["name_zh"]) == (
            "Rainstorm warning signal",
            "暴雨预警信号",
        )
        category = next(c for c in entry.categories if c.value == properties["level"])
        assert properties["colour"] == category.colour
        assert (properties["level_en"], properties["level_zh"]) == (category.en, category.zh)
    yellow = geometries[0]
    assert yellow.geom_type == "MultiPolygon"  # the block and the lone red cell
    assert max(len(p.interiors) for p in yellow.geoms) == 1
    assert geometries[2].area == pytest.approx(0.0625)  # red: one cell


def _edges(latitude, longitude):
    def edges(centres):
        middle = (centres[:-1] + centres[1:]) / 2
        return np.concatenate(
            [[2 * centres[0] - middle[0]], middle, [2 * centres[-1] - middle[-1]]]
        )

    return edges(np.asarray(latitude, float)), edges(np.asarray(longitude, float))


def test_geojson_simplifies_staircases_within_the_tolerance(tmp_path, geojson_schema):
    """A shallow staircase (one row per four columns) loses corners, keeps every centre."""
    entry = shipped_catalog()["heat_warning_signal"]
    latitude = 21.0 + 0.1 * np.arange(12)
    longitude = 110.0 + 0.1 * np.arange(40)
    values = np.zeros((1, 12, 40))
    for column in range(40):
        values[0, : 1 + column // 4, column] = 3
    data = signal_dataset(values, latitude, longitude, "heat_warning_signal")
    destination = tmp_path / "heat.geojson"
    GeoJSONExporter().write(data, entry, destination, ExportOptions())
    collection = json.loads(destination.read_text())
    (geometry,) = check_geojson(collection, geojson_schema)
    exact = level_geometry(values[0] >= 3, *_edges(latitude, longitude))
    tolerance = collection["simplification_tolerance_degrees"]
    assert tolerance == pytest.approx(0.05)
    assert shapely.get_num_coordinates(geometry) < shapely.get_num_coordinates(exact) - 3
    assert shapely.hausdorff_distance(geometry, exact) <= tolerance + 1e-6
    assert geometry.area == pytest.approx(exact.area, abs=tolerance * exact.length)
    assert exact.area == pytest.approx((values[0] >= 3).sum() * 0.01)
    assert_centres_on_their_side(geometry, values[0] >= 3, latitude, longitude)


def test_geojson_other_categorical_products_use_exact_classes(tmp_path, geojson_schema):
    """Not a warning signal: one feature per class present (its cells only), none for no_*."""
    entry = shipped_catalog()["cold_wave_grade"]
    assert entry.categories[0].meaning == "no_cold_wave"
    latitude = 30.0 + 0.5 * np.arange(4)
    longitude = 100.0 + 0.5 * np.arange(5)
    values = np.zeros((1, 4, 5))
    values[0, 0, :] = 1
    values[0, 1:3, 1:3] = 3
    data = signal_dataset(values, latitude, longitude, "cold_wave_grade")
    destination = tmp_path / "cold.geojson"
    GeoJSONExporter().write(data, entry, destination, ExportOptions())
    collection = json.loads(destination.read_text())
    geometries = check_geojson(collection, geojson_schema)
    found = [
        (f["properties"]["level"], f["properties"]["level_rule"]) for f in collection["features"]
    ]
    assert found == [(1, "equal"), (3, "equal")]
    assert [g.area for g in geometries] == pytest.approx([5 * 0.25, 4 * 0.25])


def test_geojson_write_failure_leaves_no_partial_file(tmp_path, monkeypatch):
    """A failure while writing leaves the earlier export untouched and no temporary file."""
    entry = shipped_catalog()["rainstorm_warning_signal"]
    values = np.full((2, 3, 3), 3.0)
    data = signal_dataset(values, [22.0, 22.5, 23.0], [113.0, 113.5, 114.0])
    destination = tmp_path / "rainstorm.geojson"
    destination.write_text("earlier export")

    def half_then_fail(path, text):
        path.write_text(text[:100])
        raise OSError("disk full")

    monkeypatch.setattr("weatherdata.export.warnings._write_text", half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        GeoJSONExporter().write(data, entry, destination, ExportOptions())
    assert [p.name for p in tmp_path.iterdir()] == ["rainstorm.geojson"]
    assert destination.read_text() == "earlier export"


# -- CAP: sequencing ----------------------------------------------------------------


def test_signal_transitions_alert_update_cancel():
    found = signal_transitions([0, 3, 4, 4, 0])
    assert [(t.index, t.kind, t.level, t.previous, t.until) for t in found] == [
        (1, "Alert", 3, None, 2),
        (2, "Update", 4, 3, 4),
        (4, "Cancel", 4, None, None),
    ]


@pytest.mark.parametrize(
    ("levels", "expected"),
    [
        ([np.nan, 3, np.nan, 3, 0], [(1, "Alert", 3), (4, "Cancel", 3)]),  # gaps keep the state
        ([5, 5, 5], [(0, "Alert", 5)]),  # in force from the first step and to the end
        ([0, 0, np.nan], []),
        ([3, 0, 3], [(0, "Alert", 3), (1, "Cancel", 3), (2, "Alert", 3)]),
        ([4, 3, 5, 0], [(0, "Alert", 4), (1, "Update", 3), (2, "Update", 5), (3, "Cancel", 5)]),
    ],
)
def test_signal_transitions_cases(levels, expected):
    assert [(t.index, t.kind, t.level) for t in signal_transitions(levels)] == expected


@pytest.mark.parametrize(
    ("meaning", "severity", "urgency", "certainty"),
    [
        ("white", "Minor", "Future", "Possible"),
        ("blue", "Minor", "Expected", "Likely"),
        ("yellow", "Moderate", "Expected", "Likely"),
        ("orange", "Severe", "Expected", "Likely"),
        ("red", "Extreme", "Expected", "Likely"),
    ],
)
def test_cap_grading_of_signal_levels(meaning, severity, urgency, certainty):
    entry = shipped_catalog()["typhoon_warning_signal"]
    category = next(c for c in entry.categories if c.meaning == meaning)
    assert cap_grading(category, entry) == {
        "urgency": urgency,
        "severity": severity,
        "certainty": certainty,
    }
    assert cap_grading(category, entry, "Cancel")["urgency"] == "Past"


def test_cap_grading_of_an_observation_product():
    entry = shipped_catalog()["temperature_2m"].model_copy(update={"family": "observation"})
    category = Category(value=4, meaning="orange", en="Orange", zh="橙色", colour="#FFA500")
    assert cap_grading(category, entry) == {
        "urgency": "Immediate",
        "severity": "Severe",
        "certainty": "Observed",
    }


@pytest.fixture(scope="module")
def guangzhou_grid():
    latitude = np.round(22.45 + 0.05 * np.arange(32), 6)
    longitude = np.round(112.9 + 0.05 * np.arange(25), 6)
    masks = district_masks(latitude, longitude, "guangzhou_districts")
    names = list(GUANGZHOU_DISTRICTS.values())
    return latitude, longitude, {name: masks[i] for i, name in enumerate(names)}


def guangzhou_signal(guangzhou_grid, series: dict[str, list[float]], steps: int):
    latitude, longitude, masks = guangzhou_grid
    values = np.zeros((steps, len(latitude), len(longitude)))
    for district, levels in series.items():
        for step, level in enumerate(levels):
            values[step][masks[district]] = level
    return signal_dataset(values, latitude, longitude)


def test_cap_alert_update_cancel_per_district(tmp_path, cap_schema, guangzhou_grid):
    """Tianhe none→yellow→orange→orange→none; Conghua on its own from step 2 to the end;
    Huadu starts again after a Cancel (a new Alert that references nothing)."""
    entry = shipped_catalog()["rainstorm_warning_signal"]
    series = {"Tianhe": [0, 3, 4, 4, 0], "Conghua": [0, 0, 5, 5, 5], "Huadu": [4, 0, 3, 0, 0]}
    data = guangzhou_signal(guangzhou_grid, series, steps=5)
    options = ExportOptions(sender="gz-warnings@example.org", status="Exercise")
    files = CAPExporter().write(data, entry, tmp_path, options)
    assert sorted(files) == sorted(tmp_path.iterdir())
    messages = read_all_cap(tmp_path, cap_schema)
    tianhe = [m for m in messages if ".tianhe." in m["identifier"]]
    conghua = [m for m in messages if ".conghua." in m["identifier"]]
    huadu = [m for m in messages if ".huadu." in m["identifier"]]
    assert len(messages) == len(tianhe) + len(conghua) + len(huadu) == 8

    alert, update, cancel = tianhe
    assert [m["msgType"] for m in tianhe] == ["Alert", "Update", "Cancel"]
    assert [m["sent"] for m in tianhe] == [
        "2026-07-25T01:00:00+00:00",
        "2026-07-25T02:00:00+00:00",  # nothing at 03:00, unchanged
        "2026-07-25T04:00:00+00:00",
    ]
    assert alert["references"] is None
    assert update["references"] == f"gz-warnings@example.org,{alert['identifier']},{alert['sent']}"
    assert (
        cancel["references"] == f"gz-warnings@example.org,{update['identifier']},{update['sent']}"
    )
    for message in messages:
        assert (message["sender"], message["status"], message["scope"]) == (
            "gz-warnings@example.org",
            "Exercise",
            "Public",
        )
        assert [i["language"] for i in message["info"]] == ["zh-CN", "en-US"]
        assert {i["category"] for i in message["info"]} == {"Met"}
        assert [i["event"] for i in message["info"]] == ["暴雨预警信号", "Rainstorm warning signal"]
    zh, en = alert["info"]
    assert (en["severity"], en["urgency"], en["certainty"]) == ("Moderate", "Expected", "Likely")
    assert en["parameters"] == {"level": "yellow", "level_code": "3", "colour": "#FFFF00"}
    assert zh["headline"] == "广州市天河区暴雨黄色预警信号"
    assert en["headline"] == "Yellow rainstorm warning signal in Tianhe District, Guangzhou"
    assert (en["onset"], en["expires"]) == (alert["sent"], update["sent"])
    zh, en = update["info"]
    assert en["severity"] == "Severe"
    assert en["parameters"] == {
        "level": "orange",
        "level_code": "4",
        "colour": "#FFA500",
        "previous_level": "yellow",
    }
    assert zh["headline"] == "广州市天河区暴雨预警信号由黄色升级为橙色"
    assert en["expires"] == cancel["sent"]
    zh, en = cancel["info"]
    assert (en["urgency"], en["parameters"]["level"]) == ("Past", "orange")
    assert zh["headline"] == "广州市天河区暴雨橙色预警信号解除"
    assert en["onset"] is None and en["expires"] == "2026-07-25T05:00:00+00:00"

    (red,) = conghua
    assert (red["msgType"], red["sent"]) == ("Alert", "2026-07-25T02:00:00+00:00")
    assert red["info"][1]["severity"] == "Extreme"
    assert red["info"][1]["expires"] == "2026-07-25T05:00:00+00:00"  # in force to the end
    assert red["info"][0]["areaDesc"] == "广州市从化区（Conghua）"
    assert red["info"][1]["areaDesc"] == "Conghua District, Guangzhou (从化区)"

    assert [(m["msgType"], m["sent"][11:13]) for m in huadu] == [
        ("Alert", "00"),
        ("Cancel", "01"),
        ("Alert", "02"),
        ("Cancel", "03"),
    ]
    assert huadu[0]["references"] is None and huadu[2]["references"] is None
    assert huadu[1]["references"].split(",")[1] == huadu[0]["identifier"]
    assert huadu[3]["references"].split(",")[1] == huadu[2]["identifier"]
    assert [m["info"][1]["parameters"]["level"] for m in huadu] == [
        "orange",
        "orange",
        "yellow",
        "yellow",
    ]


def test_cap_messages_are_deterministic(tmp_path, guangzhou_grid):
    entry = shipped_catalog()["rainstorm_warning_signal"]
    data = guangzhou_signal(guangzhou_grid, {"Panyu": [3, 4, 0]}, steps=3)
    first = CAPExporter().write(data, entry, tmp_path / "a", ExportOptions())
    second = CAPExporter().write(data, entry, tmp_path / "b", ExportOptions())
    assert [p.name for p in first] == [p.name for p in second]
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]


def test_cap_polygons_are_closed_rings_inside_the_district():
    for region in ("guangzhou_districts", "guangdong_cities"):
        for _, english, boundary in _boundaries(region):
            west, south, east, north = boundary.bounds
            polygons = cap_polygons(region, english)
            outline = shapely.MultiPolygon(
                [
                    shapely.Polygon(
                        [(float(p.split(",")[1]), float(p.split(",")[0])) for p in text.split()]
                    )
                    for text in polygons
                ]
            )
            for text, polygon in zip(polygons, outline.geoms, strict=True):
                assert polygon.is_valid, (english, shapely.is_valid_reason(polygon))
                points = text.split(" ")
                assert 4 <= len(points) <= 100
                assert points[0] == points[-1]
                for point in points:
                    latitude, longitude = map(float, point.split(","))
                    assert south - 1e-5 <= latitude <= north + 1e-5
                    assert west - 1e-5 <= longitude <= east + 1e-5
            overlap = outline.intersection(boundary).area
            union = outline.union(boundary).area
            assert overlap / union > 0.85, english


def test_cap_rejects_products_that_are_not_signals(tmp_path):
    entry = shipped_catalog()["precipitation_type"]
    values = np.ones((2, 3, 3))
    data = signal_dataset(values, [22.0, 22.5, 23.0], [113.0, 113.5, 114.0], "precipitation_type")
    with pytest.raises(WeatherdataError, match="not a warning signal"):
        CAPExporter().write(data, entry, tmp_path, ExportOptions())
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("format", ["geojson", "cap"])
def test_warning_formats_name_the_products_without_categories(tmp_path, format):
    """Refused before anything is read (no root is needed), naming each plain product."""
    with pytest.raises(WeatherdataError, match=r"; heat_index has no categories$"):
        export(["heat_index", "rainstorm_warning_signal"], format=format, out=tmp_path)
    with pytest.raises(WeatherdataError, match=r"; heat_index, dewpoint_2m have no categories$"):
        export(["heat_index", "dewpoint_2m"], format=format, out=tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (ExportOptions(sender="weather desk"), "sender"),
        (ExportOptions(sender="a,b"), "sender"),
        (ExportOptions(status="Live"), "status"),
        (ExportOptions(region="shenzhen_districts"), "region"),
    ],
)
def test_cap_rejects_bad_options(tmp_path, guangzhou_grid, options, message):
    entry = shipped_catalog()["rainstorm_warning_signal"]
    data = guangzhou_signal(guangzhou_grid, {"Tianhe": [3]}, steps=1)
    with pytest.raises(WeatherdataError, match=message):
        CAPExporter().write(data, entry, tmp_path, options)
    assert list(tmp_path.iterdir()) == []


def test_cap_write_failure_leaves_no_files(tmp_path, guangzhou_grid, monkeypatch):
    """All messages are renamed into place together: a failure part-way leaves none."""
    entry = shipped_catalog()["rainstorm_warning_signal"]
    data = guangzhou_signal(guangzhou_grid, {"Tianhe": [3, 4, 0], "Huadu": [4, 0, 0]}, steps=3)
    writes = []
    original = Path.write_bytes

    def fail_on_third(self, content):
        writes.append(self)
        if len(writes) == 3:
            original(self, content[:50])
            raise OSError("disk full")
        return original(self, content)

    monkeypatch.setattr(Path, "write_bytes", fail_on_third)
    with pytest.raises(OSError, match="disk full"):
        CAPExporter().write(data, entry, tmp_path, ExportOptions())
    assert len(writes) == 3
    assert list(tmp_path.iterdir()) == []


def test_cap_single_time_step_has_no_expiry(tmp_path, cap_schema, guangzhou_grid):
    """One step gives no step length: the Alert carries no <expires> rather than a guess."""
    entry = shipped_catalog()["rainstorm_warning_signal"]
    data = guangzhou_signal(guangzhou_grid, {"Yuexiu": [5]}, steps=1)
    CAPExporter().write(data, entry, tmp_path, ExportOptions())
    (message,) = read_all_cap(tmp_path, cap_schema)
    assert message["msgType"] == "Alert"
    assert message["info"][1]["expires"] is None


def test_cap_for_guangdong_cities(tmp_path, cap_schema):
    entry = shipped_catalog()["heat_warning_signal"]
    latitude = np.round(20.0 + 0.1 * np.arange(56), 6)
    longitude = np.round(109.5 + 0.1 * np.arange(80), 6)
    masks = district_masks(latitude, longitude, "guangdong_cities")
    zhuhai = [en for _, en, _ in _boundaries("guangdong_cities")].index("Zhuhai")
    values = np.zeros((3, 56, 80))
    values[1][masks[zhuhai]] = 4
    data = signal_dataset(values, latitude, longitude, "heat_warning_signal")
    CAPExporter().write(data, entry, tmp_path, ExportOptions(region="guangdong_cities"))
    messages = read_all_cap(tmp_path, cap_schema)
    assert [(m["msgType"], m["sent"][:13]) for m in messages] == [
        ("Alert", "2026-07-25T01"),
        ("Cancel", "2026-07-25T02"),
    ]
    alert = messages[0]
    assert ".city.zhuhai." in alert["identifier"]
    assert alert["info"][0]["headline"] == "广东省珠海市高温橙色预警信号"
    assert alert["info"][1]["areaDesc"] == "Zhuhai, Guangdong (珠海市)"
    assert len(alert["info"][1]["polygons"]) >= 1


# -- published demo -----------------------------------------------------------------


def _published(root: Path, product_id: str) -> xr.DataArray:
    entry = shipped_catalog()[product_id]
    return xr.open_zarr(root / entry.family / f"{product_id}.zarr", zarr_format=3)[product_id]


@pytest.mark.parametrize("product_id", ["rainstorm_warning_signal", "typhoon_warning_signal"])
def test_geojson_of_a_demo_product(published_demo, tmp_path, geojson_schema, product_id):
    root, _ = published_demo
    (path,) = export([product_id], tmp_path, format="geojson", root=str(root))
    assert path == tmp_path / f"{product_id}.geojson"
    collection = json.loads(path.read_text(encoding="utf-8"))
    geometries = check_geojson(collection, geojson_schema)
    published = _published(root, product_id).load()
    values = published.values
    times = [f"{t}Z" for t in published.time.values.astype("datetime64[s]")]
    edges = _edges(published.latitude.values, published.longitude.values)
    cell_area = np.abs(np.diff(edges[0])).mean() * np.abs(np.diff(edges[1])).mean()
    tolerance = collection["simplification_tolerance_degrees"]
    entry = shipped_catalog()[product_id]
    expected_keys = []
    for step, time in enumerate(times):
        for category in entry.categories:
            with np.errstate(invalid="ignore"):
                if category.meaning != "none" and (values[step] >= category.value).any():
                    expected_keys.append((time, category.value))
    found_keys = [
        (f["properties"]["valid_from"], f["properties"]["level"]) for f in collection["features"]
    ]
    assert found_keys == expected_keys
    assert len(found_keys) > 10  # the demo has events
    for feature, geometry in zip(collection["features"], geometries, strict=True):
        properties = feature["properties"]
        with np.errstate(invalid="ignore"):
            expected = values[times.index(properties["valid_from"])] >= properties["level"]
        assert_centres_on_their_side(
            geometry, expected, published.latitude.values, published.longitude.values
        )
        exact = level_geometry(expected, *edges)
        assert exact.area == pytest.approx(expected.sum() * cell_area, rel=1e-9)
        assert abs(geometry.area - exact.area) <= tolerance * exact.length
        assert shapely.hausdorff_distance(geometry, exact) <= tolerance + 1e-6


def test_geojson_of_a_district_table(published_demo, tmp_path, geojson_schema):
    root, _ = published_demo
    product_id = "guangzhou_district_warning_signals"
    (path,) = export([product_id], tmp_path, format="geojson", root=str(root))
    collection = json.loads(path.read_text(encoding="utf-8"))
    geometries = check_geojson(collection, geojson_schema)
    table = _published(root, product_id).load().transpose("time", "signal", "district")
    values = table.values
    active = int((np.nan_to_num(values) > 0).sum())
    assert len(collection["features"]) == active > 0
    times = {f"{t}Z": i for i, t in enumerate(table.time.values.astype("datetime64[s]"))}
    signals = {s: i for i, s in enumerate(table.signal.values.tolist())}
    districts = {d: i for i, d in enumerate(table.district.values.tolist())}
    bounds = {en: g.bounds for _, en, g in _boundaries("guangzhou_districts")}
    for feature, geometry in zip(collection["features"], geometries, strict=True):
        properties = feature["properties"]
        level = values[
            times[properties["valid_from"]],
            signals[properties["product"]],
            districts[properties["district"]],
        ]
        assert level == properties["level"]
        assert properties["level_rule"] == "district_maximum"
        west, south, east, north = bounds[properties["district"]]
        assert geometry.bounds == pytest.approx((west, south, east, north), abs=0.01)


def test_cli_cap_export_of_the_demo(published_demo, tmp_path, cap_schema, capsys):
    root, _ = published_demo
    out = tmp_path / "cap"
    arguments = ["export", "rainstorm_warning_signal", "--format", "cap"]
    assert main([*arguments, "--root", str(root), "--out", str(out)]) == 0
    messages = read_all_cap(out, cap_schema)
    assert messages, "the demo has rainstorms"
    # independently of the exporter: one message per change of each district's level
    from weatherdata.products.forecast_warning.districts import district_maximum

    levels = district_maximum(_published(root, "rainstorm_warning_signal"), "guangzhou_districts")
    levels = levels.load()
    expected = 0
    for district in levels.district.values:
        series = levels.sel(district=district).values
        known = np.concatenate([[0.0], series[np.isfinite(series)]])
        expected += int((np.diff(known) != 0).sum())
    assert len(messages) == expected
    by_identifier = {m["identifier"]: m for m in messages}
    for message in messages:
        if message["msgType"] == "Alert":
            assert message["references"] is None
        else:
            sender, identifier, sent = message["references"].split(",")
            previous = by_identifier[identifier]
            assert (sender, sent) == (previous["sender"], previous["sent"])
            assert previous["msgType"] != "Cancel"
            assert identifier.split(".")[3] == message["identifier"].split(".")[3]


def test_cap_table_and_grid_give_the_same_messages(published_demo, tmp_path, cap_schema):
    """The per-district table is the grid's district maximum: the rainstorm streams agree."""
    root, _ = published_demo
    grid_files = export(
        ["rainstorm_warning_signal"], tmp_path / "grid", format="cap", root=str(root)
    )
    table_files = export(
        ["guangzhou_district_warning_signals"], tmp_path / "table", format="cap", root=str(root)
    )

    def summary(files, signal):
        index = json.loads(next(f for f in files if f.name == "index.json").read_text())
        return sorted(
            (e["district"], e["sent"], e["msgType"], e["level"])
            for e in index
            if e["signal"] == signal
        )

    assert summary(grid_files, "rainstorm_warning_signal") == summary(
        table_files, "rainstorm_warning_signal"
    )
    table_messages = read_all_cap(tmp_path / "table", cap_schema)
    assert {m["info"][1]["event"] for m in table_messages} >= {"Rainstorm warning signal"}


def test_cli_geojson_of_a_plain_product_fails_in_one_line(published_demo, tmp_path, capsys):
    root, _ = published_demo
    out = tmp_path / "out"
    code = main(
        ["export", "temperature_2m", "--format", "geojson", "--root", str(root), "--out", str(out)]
    )
    captured = capsys.readouterr()
    text = (captured.out + captured.err).strip()
    assert code != 0
    assert "categorical" in text and "temperature_2m" in text
    assert "\n" not in text and "Traceback" not in text
    assert not out.exists() or list(out.iterdir()) == []
