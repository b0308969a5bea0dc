"""Product documentation generated from the catalog: a page per id, thresholds with their
sources and status, a strict MkDocs build, example maps from a published root."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from weatherdata.catalog import shipped_catalog
from weatherdata.cli import main
from weatherdata.docs import build_docs, docstring_markdown
from weatherdata.errors import WeatherdataError

MAP_PRODUCTS = [
    "temperature_2m",
    "heat_warning_signal",
    "guangzhou_district_warning_signals",
    "subtropical_high_indices",
]


@pytest.fixture(scope="module")
def docs(tmp_path_factory):
    out = tmp_path_factory.mktemp("docs")
    config = build_docs(out)
    assert config == out / "mkdocs.yml"
    return out


def _page(docs: Path, product_id: str) -> str:
    return (docs / "docs" / "products" / f"{product_id}.md").read_text(encoding="utf-8")


def _plain(text: str) -> str:
    """Page text with the Markdown escapes undone and whitespace collapsed."""
    text = text.replace("&lt;", "<").replace("\\|", "|").replace("\\*", "*")
    return " ".join(text.split())


def test_every_catalog_id_has_a_page_listed_in_the_index(docs):
    catalog = shipped_catalog()
    index = (docs / "docs" / "index.md").read_text(encoding="utf-8")
    config = (docs / "mkdocs.yml").read_text(encoding="utf-8")
    assert len(catalog.products) == 243
    for product_id, entry in catalog.entries.items():
        page = _page(docs, product_id)
        assert f"`{product_id}`" in page
        assert entry.name.zh in page and entry.name.en.split()[0] in page
        assert f"(products/{product_id}.md)" in index
        assert f"products/{product_id}.md" in config


def test_pages_hold_parameters_with_value_source_and_verified_status(docs):
    catalog = shipped_catalog()
    checked = 0
    for entry in catalog.entries.values():
        page = _plain(_page(docs, entry.id))
        for name, parameter in entry.parameters.items():
            values = parameter.value if isinstance(parameter.value, list) else [parameter.value]
            assert f"`{name}`" in page
            for value in values:
                assert str(value) in page, f"{entry.id}.{name}: {value!r} not on the page"
            assert f"[{parameter.source}](../references.md#{parameter.source.lower()})" in page
            assert _plain(catalog.references[parameter.source])[:60] in page
            if parameter.verified:
                assert f"{parameter.source.lower()}) | yes |" in page.replace("`", "")
            else:
                assert "unverified parameter" in page
                assert _plain(parameter.reason).replace("``", "`")[:50] in page
            checked += 1
    assert checked > 400


def test_a_signal_page_has_formula_inputs_units_categories_time_and_references(docs):
    page = _page(docs, "heat_warning_signal")
    assert "## Formula and method" in page
    assert "forecast_warning.signals:heat_signal" in page
    assert "[`maximum_temperature_24h`](maximum_temperature_24h.md)" in page
    assert "| units | `1` |" in page
    for colour in ("#FFFF00", "#FFA500", "#FF0000"):
        assert colour in page
    assert "黄色" in page and "kind: `lead_window`" in page and "window: 24 h" in page
    assert "**WS_GD_RULES**" in page
    assert '!!! warning "4 unverified parameters"' in page


def test_a_formula_docstring_becomes_markdown(docs):
    page = _page(docs, "surface_based_parcel")
    assert "```tex\n\\mathrm{CAPE} = R_d" in page
    assert "**References**" in page
    formula = page.split("## Formula and method")[1].split("## Inputs")[0]
    assert not re.search(r"(?<!`)``(?!`)", formula)  # reST literals became code spans
    assert "[`air_temperature`](../variables.md#air_temperature)" in page
    variables = (docs / "docs" / "variables.md").read_text(encoding="utf-8")
    assert "## air_temperature\n" in variables


def test_docstring_markdown_converts_numpydoc():
    text = docstring_markdown(
        """Speed of the wind.

        Uses :math:`\\sqrt{u^2 + v^2}` (see :func:`~metpy.calc.wind_speed`), ``u`` east.

        .. math:: s = \\sqrt{u^2 + v^2}

        Returns
        -------
        xarray.DataArray
            Speed in m s-1.

        References
        ----------
        Holton, J. R., 2004: An Introduction to Dynamic Meteorology.
        """
    )
    assert "`\\sqrt{u^2 + v^2}`" in text and "`wind_speed`" in text and "`u` east" in text
    assert "```tex\ns = \\sqrt{u^2 + v^2}\n```" in text
    assert "- `xarray.DataArray`: Speed in m s-1." in text
    assert "**References**" in text and "-------" not in text


def test_mkdocs_builds_the_site_strictly_without_warnings(docs, tmp_path):
    mkdocs = Path(sys.executable).with_name("mkdocs")
    site = tmp_path / "site"
    result = subprocess.run(
        [str(mkdocs), "build", "--strict", "-f", str(docs / "mkdocs.yml"), "-d", str(site)],
        capture_output=True,
        text=True,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "WARNING" not in output, output
    for product_id in shipped_catalog().entries:
        assert (site / "products" / f"{product_id}.html").is_file()
    assert (site / "index.html").is_file() and (site / "references.html").is_file()


def test_example_maps_are_drawn_from_a_published_root(published_demo, tmp_path):
    root, _ = published_demo
    build_docs(tmp_path, root, products=MAP_PRODUCTS)
    pages = tmp_path / "docs" / "products"
    for product_id in MAP_PRODUCTS[:3]:
        image = pages / f"{product_id}.png"
        assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({product_id}.png)" in _page(tmp_path, product_id)
    assert "No example map" in _page(tmp_path, "subtropical_high_indices")
    assert "## Example" not in _page(tmp_path, "dewpoint_2m")  # not asked for
    assert sorted(p.name for p in pages.glob("*.png")) == sorted(
        f"{p}.png" for p in MAP_PRODUCTS[:3]
    )

    build_docs(tmp_path)  # without a root the maps (and their PNGs) go
    assert not list(pages.glob("*.png"))
    assert "## Example" not in _page(tmp_path, "temperature_2m")


def test_unknown_map_product_is_an_error(tmp_path):
    with pytest.raises(WeatherdataError, match="temperature_2"):
        build_docs(tmp_path, products=["temperature_2"])


def test_cli_docs_writes_the_markdown(tmp_path, capsys):
    assert main(["docs", "--out", str(tmp_path / "site-src")]) == 0
    assert (tmp_path / "site-src" / "mkdocs.yml").is_file()
    assert (tmp_path / "site-src" / "docs" / "products" / "heat_index.md").is_file()
    assert "wrote" in capsys.readouterr().out
    assert main(["docs", "--out", str(tmp_path / "x"), "--products", "no_such_product"]) != 0
