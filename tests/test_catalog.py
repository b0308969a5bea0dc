"""The catalog schema, the loader's errors, and registry-wide checks over every product."""

import ast
import functools
import re
from pathlib import Path

import pytest
import yaml

from weatherdata.catalog import load_catalog, shipped_catalog
from weatherdata.errors import CatalogError
from weatherdata.units import parse_quantity, parse_units

ROOT = Path(__file__).resolve().parent.parent
CATALOG = shipped_catalog()
PRODUCT_IDS = sorted(CATALOG.products)

ENTRY = {
    "id": "wind_speed_test",
    "family": "observation",
    "name": {"en": "Wind speed", "zh": "风速"},
    "description": "test",
    "recipe": "observation.wind:wind_speed",
    "inputs": {"eastward_wind": "eastward_wind_10m", "northward_wind": "northward_wind_10m"},
    "units": "m s-1",
}


def write(tmp_path, products, **extra):
    path = tmp_path / "catalog.yaml"
    path.write_text(
        yaml.safe_dump({"version": 1, "products": products, **extra}, allow_unicode=True)
    )
    return path


def test_a_minimal_entry_loads(tmp_path):
    catalog = load_catalog(write(tmp_path, [ENTRY]))
    assert list(catalog.products) == ["wind_speed_test"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"colour_of_sky": "blue"}, "colour_of_sky: unknown key"),
        ({"family": "forecast"}, "family"),
        ({"id": "WindSpeed"}, "id"),
        ({"units": "furlongs per fortnight squared banana"}, "not understood"),
        ({"inputs": {"eastward_wind": "eastward_wind_at_11m"}}, "neither a canonical variable"),
        ({"recipe": "not a recipe"}, "recipe"),
        (
            {"parameters": {"threshold": {"value": "35 degC", "source": "X", "verified": False}}},
            "needs a `reason`",
        ),
        ({"time": {"kind": "rolling_window"}}, "needs a `window`"),
        ({"time": {"kind": "rolling_window", "window": "3 m"}}, "not a duration"),
        ({"references": ["NOWHERE"]}, "not in `references`"),
        ({"time": {"carry": {"start": "wind_speed_test"}}}, "carry is for recursions"),
        (
            {"time": {"lookback": "record", "carry": {"start": "wind_gust"}}},
            "time.carry start='wind_gust' is not a published product id",
        ),
        ({"name": {"en": "Wind speed"}}, "name.zh"),
        ({"units": None}, "needs `units`"),
        (
            {
                "categories": [
                    {"value": 0, "meaning": "calm", "en": "c", "zh": "静", "colour": "#ffffff"}
                ]
                * 2
            },
            "unique",
        ),
        (
            {
                "categories": [
                    {"value": 0, "meaning": "calm", "en": "c", "zh": "静", "colour": "white"}
                ]
            },
            "colour",
        ),
    ],
)
def test_each_schema_rule_gives_a_clear_error(tmp_path, change, message):
    entry = {**ENTRY, **change}
    entry = {k: v for k, v in entry.items() if v is not None}
    with pytest.raises(CatalogError, match=re.escape(message)) as error:
        load_catalog(write(tmp_path, [entry]))
    assert str(tmp_path) in str(error.value)
    assert "\n" not in str(error.value)


def test_duplicate_ids_and_shadowing_are_errors(tmp_path):
    with pytest.raises(CatalogError, match="declared twice"):
        load_catalog(write(tmp_path, [ENTRY, ENTRY]))
    with pytest.raises(CatalogError, match="shadows a canonical variable"):
        load_catalog(write(tmp_path, [{**ENTRY, "id": "air_temperature_2m"}]))


def test_dependency_cycles_are_reported_with_their_path(tmp_path):
    a = {
        **ENTRY,
        "id": "product_a",
        "inputs": {"eastward_wind": "product_b", "northward_wind": "northward_wind_10m"},
    }
    b = {
        **ENTRY,
        "id": "product_b",
        "inputs": {"eastward_wind": "product_a", "northward_wind": "northward_wind_10m"},
    }
    with pytest.raises(CatalogError, match="dependency cycle: product_a -> product_b -> product_a"):
        load_catalog(write(tmp_path, [a, b]))


def test_malformed_yaml_names_the_line(tmp_path):
    path = tmp_path / "catalog.yaml"
    path.write_text("version: 1\nproducts:\n  - id: [unclosed\n")
    with pytest.raises(CatalogError, match=r"line \d+: not valid YAML"):
        load_catalog(path)


def test_missing_catalog_file(tmp_path):
    with pytest.raises(CatalogError, match="catalog file not found"):
        load_catalog(tmp_path / "nope.yaml")


def test_unknown_product_id_suggests_close_matches():
    with pytest.raises(CatalogError, match="did you mean dewpoint_2m"):
        CATALOG["dewpoint"]


# -- registry-wide checks ---------------------------------------------------------


def test_the_catalog_has_243_products_81_per_family():
    families = {f: len(CATALOG.family(f)) for f in ("observation", "forecast_warning", "service")}
    assert families == {"observation": 81, "forecast_warning": 81, "service": 81}
    assert len(CATALOG.products) == 243


@pytest.mark.parametrize("product_id", PRODUCT_IDS)
def test_entry_is_complete(product_id):
    entry = CATALOG[product_id]
    entry.recipe_function()
    parse_units(entry.units)
    assert entry.name.zh and entry.name.en and entry.description
    for name, parameter in entry.parameters.items():
        assert parameter.source in CATALOG.references or parameter.source, f"{name} has no source"
        if isinstance(parameter.value, str) and parameter.value[:1].isdigit():
            parse_quantity(parameter.value)
    if entry.categories:
        assert len(entry.categories) >= 2
    if entry.time.kind == "rolling_window":
        assert entry.cf.cell_methods, "windows need cell_methods"


@functools.cache
def _cf_standard_names() -> set[str]:
    """The CF standard-name table (the copy compliance-checker ships; no network)."""
    from compliance_checker.cf.util import StandardNameTable

    table = StandardNameTable()
    return set(table._names) | set(table._aliases)


@pytest.mark.parametrize("product_id", PRODUCT_IDS)
def test_standard_name_is_a_cf_standard_name(product_id):
    entry = CATALOG[product_id]
    if entry.cf.standard_name:
        assert entry.cf.standard_name in _cf_standard_names()


def _marked_products() -> set[str]:
    found = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "product"
                and isinstance(node.func.value, ast.Attribute)
                and node.func.value.attr == "mark"
            ):
                for arg in node.args:
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        found.add(arg.value)
    return found


def test_every_product_has_a_reference_value_test():
    missing = sorted(set(PRODUCT_IDS) - _marked_products())
    assert not missing, f"products without a @pytest.mark.product reference test: {missing}"


def test_marked_tests_name_real_products():
    unknown = sorted(_marked_products() - set(PRODUCT_IDS))
    assert not unknown, f"tests marked with unknown product ids: {unknown}"


def test_unverified_parameters_say_why():
    for entry in CATALOG.products.values():
        for name, parameter in entry.parameters.items():
            if not parameter.verified:
                assert parameter.reason and len(parameter.reason) > 10, f"{entry.id}.{name}"
