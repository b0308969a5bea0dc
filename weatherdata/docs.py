"""Product documentation generated from ``catalog.yaml`` (no hand-kept copy).

:func:`build_docs` writes a MkDocs project: ``mkdocs.yml`` and ``docs/`` with an index by
family, one page per catalog entry (what it is, the recipe's formula, inputs, parameters
and thresholds with their sources and verified status, units, CF attributes, categories
with their colours, time semantics, references), the canonical variables and the
references. Given a publication root it adds an example map per product drawn from the
published data with :func:`weatherdata.plot.plot_map`. :func:`build_html` runs
``mkdocs build --strict`` on the result.

Everything on the pages comes from the catalog, the recipe docstrings and
``variables.yaml``; a product added to the catalog gets its page on the next build.
"""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from .catalog import FAMILIES, Catalog, Parameter, ProductEntry, shipped_catalog
from .errors import WeatherdataError
from .variables import canonical_variables

__all__ = ["build_docs", "build_html", "docstring_markdown"]

FAMILY_TITLES = {
    "observation": "Observation",
    "forecast_warning": "Forecast and warning",
    "service": "Public service",
    "intermediate": "Shared intermediates",
}
FAMILY_BLURBS = {
    "observation": "Analyses of what is happening now: surface and upper-air fields, radar, "
    "precipitation windows and grades, daily statistics.",
    "forecast_warning": "Convective diagnostics, synoptic indices, nowcasts, forecast "
    "windows and the Guangdong and national warning signals.",
    "service": "Public-service indices: thermal comfort, fire danger, agriculture, energy, "
    "transport, drought and climate indices.",
    "intermediate": "Computed once per run and shared by several products; never published.",
}
PAGES = "products"  # sub-directory of docs/ holding one page (and map) per entry
_TIME_DIMS = ("time", "day", "period")
_RECENT_STEPS = 240  # the example map is chosen among the last this many time steps


# -- public API ------------------------------------------------------------------


def build_docs(
    out_dir: str | os.PathLike,
    root: str | os.PathLike | None = None,
    *,
    products: Iterable[str] | None = None,
    catalog: Catalog | None = None,
    site_name: str = "weatherdata products",
) -> Path:
    """Write the Markdown documentation of every catalog entry and its ``mkdocs.yml``.

    Parameters
    ----------
    out_dir
        Directory to write to: ``out_dir/mkdocs.yml`` and ``out_dir/docs/``.
    root
        A publication root (directory or URL). When given, each product page gets an
        example map drawn from the published data (PNG next to the page).
    products
        Only draw example maps for these ids (pages are always written for every entry).
        Pages and maps under ``docs/products/`` that this build does not write are removed,
        so the directory always matches the catalog and the last build.
    catalog
        The catalog to document (the shipped one by default).

    Returns
    -------
    pathlib.Path
        The ``mkdocs.yml`` written.
    """
    catalog = catalog or shipped_catalog()
    out = Path(out_dir)
    docs = out / "docs"
    pages = docs / PAGES
    pages.mkdir(parents=True, exist_ok=True)
    if products is not None:
        products = list(products)
        for product_id in products:
            catalog[product_id]  # unknown ids are errors, with a suggestion

    maps: dict[str, tuple[str | None, str]] = {}
    if root is not None:
        wanted = products if products is not None else list(catalog.products)
        maps = _draw_maps(catalog, str(root), wanted, pages)

    used_by = _reverse_dependencies(catalog)
    written = {f"{pid}.md" for pid in catalog.entries} | {
        image for image, _ in maps.values() if image
    }
    for entry in catalog.entries.values():
        text = _product_page(entry, catalog, used_by.get(entry.id, []), maps.get(entry.id))
        _write(pages / f"{entry.id}.md", text)
    for stale in pages.iterdir():
        if stale.suffix in (".md", ".png") and stale.name not in written:
            stale.unlink()  # a removed product's page, a map not drawn this time

    _write(docs / "index.md", _index_page(catalog, root is not None))
    _write(docs / "variables.md", _variables_page(catalog))
    _write(docs / "references.md", _references_page(catalog))
    config = out / "mkdocs.yml"
    _write(config, _mkdocs_config(catalog, site_name))
    return config


def build_html(out_dir: str | os.PathLike, site_dir: str | os.PathLike | None = None) -> Path:
    """Run ``mkdocs build --strict`` on a directory written by :func:`build_docs`.

    Returns the site directory (``out_dir/site`` by default); raises
    :class:`~weatherdata.errors.WeatherdataError` with MkDocs' output when the build
    fails or warns.
    """
    import importlib.util

    if importlib.util.find_spec("mkdocs") is None:
        raise WeatherdataError("mkdocs is not installed: pip install 'weatherdata[docs]'")
    out = Path(out_dir)
    site = Path(site_dir) if site_dir is not None else out / "site"
    command = [
        sys.executable,
        "-m",
        "mkdocs",
        "build",
        "--strict",
        "--clean",
        "--config-file",
        str(out / "mkdocs.yml"),
        "--site-dir",
        str(site.resolve()),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise WeatherdataError(
            f"mkdocs build --strict failed ({result.returncode}):\n{result.stdout}{result.stderr}"
        )
    return site


# -- docstrings -------------------------------------------------------------------

_ROLE = re.compile(r":(?:func|meth|class|mod|attr|data|obj|py:\w+):`(~?)\.?([^`]+)`")
_MATH = re.compile(r":math:`([^`]+)`")
_LITERAL = re.compile(r"``([^`]+)``")
_ITEM_SECTIONS = {"Parameters", "Returns", "Yields", "Raises", "Other Parameters", "Attributes"}


def _inline(text: str) -> str:
    """reST inline markup → Markdown (code spans for literals, math and references)."""
    text = _MATH.sub(lambda m: f"`{m.group(1)}`", text)
    text = _ROLE.sub(lambda m: f"`{m.group(2).split('.')[-1] if m.group(1) else m.group(2)}`", text)
    return _LITERAL.sub(lambda m: f"`{m.group(1)}`", text)


def docstring_markdown(doc: str | None) -> str:
    """A numpydoc/reST docstring as Markdown.

    Section headers become bold lines, ``.. math::`` blocks fenced TeX, ``Returns`` and
    ``Parameters`` items bullets, inline roles and literals code spans.
    """
    if not doc:
        return ""
    lines = inspect.cleandoc(doc).splitlines()
    out: list[str] = []
    section = None
    i = 0
    while i < len(lines):
        line = lines[i]
        following = lines[i + 1] if i + 1 < len(lines) else ""
        stripped = following.strip()
        if line.strip() and stripped and set(stripped) == {"-"} and len(stripped) >= 3:
            section = line.strip()
            out += ["", f"**{section}**", ""]
            i += 2
            continue
        if line.lstrip().startswith(".. math::"):
            indent = len(line) - len(line.lstrip())
            body = [line.lstrip()[len(".. math::") :].strip()]
            i += 1
            while i < len(lines) and (
                not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent
            ):
                if not lines[i].strip() and (
                    i + 1 >= len(lines) or len(lines[i + 1]) - len(lines[i + 1].lstrip()) <= indent
                ):
                    break
                body.append(lines[i].strip())
                i += 1
            out += ["", "```tex", *[b for b in body if b], "```", ""]
            continue
        if section in _ITEM_SECTIONS and line.strip() and not line.startswith(" "):
            name = line.strip()
            description = []
            i += 1
            while i < len(lines) and (lines[i].startswith(" ") or not lines[i].strip()):
                if not lines[i].strip() and i + 1 < len(lines) and not lines[i + 1].startswith(" "):
                    break
                description.append(lines[i].strip())
                i += 1
            text = " ".join(d for d in description if d)
            out.append(f"- `{name}`" + (f": {_inline(text)}" if text else ""))
            continue
        if (
            line.startswith("    ")
            and out
            and not out[-1].strip()
            and not re.match(r"\s*([-*]|\d+\.)\s", line)
        ):
            line = line.strip()  # an indented paragraph is not a code block here
        out.append(_inline(line))
        i += 1
    return "\n".join(out).strip() + "\n"


# -- pages ------------------------------------------------------------------------


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def _text(value) -> str:
    """Catalog prose for Markdown: reST literals to code spans, stray markup escaped."""
    text = _inline(str(value)).replace("<", "&lt;").replace("*", r"\*")
    return " ".join(text.split())


def _cell(value) -> str:
    return _text(value).replace("|", r"\|") if value not in (None, "") else ""


def _format_value(value) -> str:
    if isinstance(value, list):
        return ", ".join(_format_value(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_format_value(v)}" for k, v in value.items())
    return str(value)


def _link(product_id: str, catalog: Catalog) -> str:
    return f"[`{product_id}`]({product_id}.md)" if product_id in catalog else f"`{product_id}`"


def _reverse_dependencies(catalog: Catalog) -> dict[str, list[str]]:
    used: dict[str, list[str]] = {}
    for entry in catalog.entries.values():
        for dependency in catalog.dependencies(entry.id):
            used.setdefault(dependency, [])
            if entry.id not in used[dependency]:
                used[dependency].append(entry.id)
    return used


def _input_row(argument: str, reference: str, catalog: Catalog) -> str:
    variables = canonical_variables()
    source, name, field = catalog.split_reference(reference)
    if name in catalog.entries and source == "dataset":
        target = catalog.entries[name]
        what = f"{'field `' + field + '` of ' if field else ''}{target.family.replace('_', ' ')} "
        what += f"product: {_cell(target.name.en)}"
        if target.family == "intermediate":
            what = (f"field `{field}` of the " if field else "the ") + (
                f"shared intermediate {_cell(target.name.en)}"
            )
        units = target.units or ""
        return f"| `{argument}` | {_link(name, catalog)} | {what} | {_cell(units)} |"
    if name in variables:
        variable = variables[name]
        kind = "forecast variable" if source == "forecast" else "observed variable"
        anchor = f"../variables.md#{name}"
        return (
            f"| `{argument}` | [`{reference}`]({anchor}) | {kind}: {_cell(variable.long_name)} "
            f"| {_cell(variable.units)} |"
        )
    if name == "time":
        return f"| `{argument}` | `time` | the observation time coordinate | |"
    return f"| `{argument}` | `{reference}` | | |"


def _parameters_table(entry: ProductEntry) -> list[str]:
    rows = [
        "| Parameter | Value | Meaning | Source | Verified |",
        "|---|---|---|---|---|",
    ]
    for name, parameter in entry.parameters.items():
        verified = "yes" if parameter.verified else f"**no** — {_cell(parameter.reason)}"
        rows.append(
            f"| `{name}` | {_cell(_format_value(parameter.value))} | "
            f"{_cell(parameter.description)} | [{parameter.source}](../references.md#"
            f"{parameter.source.lower()}) | {verified} |"
        )
    return rows


def _unverified(entry: ProductEntry) -> dict[str, Parameter]:
    return {k: p for k, p in entry.parameters.items() if not p.verified}


def _recipe_section(entry: ProductEntry) -> list[str]:
    module, function = entry.recipe.split(":")
    try:
        doc = inspect.getdoc(entry.recipe_function())
    except WeatherdataError as exc:
        doc = f"(recipe not importable: {exc})"
    return [
        "## Formula and method",
        "",
        f"Recipe `{entry.recipe}` (`weatherdata.products.{module}.{function}`):",
        "",
        docstring_markdown(doc) or "(no docstring)",
    ]


def _product_page(
    entry: ProductEntry,
    catalog: Catalog,
    used_by: list[str],
    example: tuple[str | None, str] | None,
) -> str:
    family = FAMILY_TITLES[entry.family]
    lines = [
        f"# {_text(entry.name.en)} · {entry.name.zh}",
        "",
        f"`{entry.id}` · {family} · units `{entry.units or '—'}`",
        "",
        _text(entry.description),
        "",
    ]
    if entry.undefined_where:
        lines += [
            f"**Missing values**: by definition where {_text(entry.undefined_where)} (stored as "
            "attribute `weatherdata_undefined_where`; `weatherdata status` judges this product "
            "on its last time step, not cell by cell).",
            "",
        ]
    unverified = _unverified(entry)
    if unverified:
        lines += [
            f'!!! warning "{len(unverified)} unverified parameter'
            f'{"s" if len(unverified) > 1 else ""}"',
            "",
        ]
        for name, parameter in unverified.items():
            lines.append(
                f"    - `{name}` = {_text(_format_value(parameter.value))}: "
                f"{_text(parameter.reason)}"
            )
        first = next(iter(unverified))
        lines += [
            "",
            "    Override one with `weatherdata.derive(..., parameters={"
            f'"{entry.id}": {{"{first}": value}}}})` or '
            f"`weatherdata publish --set {entry.id}.{first}=value`.",
            "",
        ]
    if example is not None:
        image, caption = example
        picture = [f"![{_text(entry.name.en)}]({image})", ""] if image else []
        lines += ["## Example", "", *picture, caption, ""]
    lines += _recipe_section(entry)
    lines += ["", "## Inputs", "", "| Argument | Input | What | Units |", "|---|---|---|---|"]
    lines += [_input_row(a, r, catalog) for a, r in entry.inputs.items()]
    lines += [""]
    if entry.parameters:
        lines += ["## Parameters and thresholds", "", *_parameters_table(entry), ""]
    lines += ["## Units and CF attributes", "", "| Attribute | Value |", "|---|---|"]
    lines.append(f"| units | `{entry.units}` |" if entry.units else "| units | (fields) |")
    for key, value in entry.cf.model_dump().items():
        if value:
            lines.append(f"| {key} | {_cell(value)} |")
    if entry.valid_range:
        lines.append(f"| valid range | {entry.valid_range[0]} to {entry.valid_range[1]} |")
    lines.append(f"| chunk profile | {entry.chunks} |")
    lines += [""]
    if entry.categories:
        lines += [
            "## Categories",
            "",
            "| Value | Colour | Level | 级别 | Definition |",
            "|---|---|---|---|---|",
        ]
        for category in entry.categories:
            swatch = (
                f'<span style="display:inline-block;width:2.5em;height:1em;'
                f'border:1px solid #888;background:{category.colour}"></span> '
                f"`{category.colour}`"
            )
            lines.append(
                f"| {category.value} | {swatch} | {_cell(category.en)} (`{category.meaning}`) "
                f"| {_cell(category.zh)} | {_cell(category.definition)} |"
            )
        lines += [""]
    lines += ["## Time", "", f"- kind: `{entry.time.kind}`"]
    if entry.time.window:
        lines.append(f"- window: {entry.time.window}")
    if entry.time.description:
        lines.append(f"- {_text(entry.time.description)}")
    lines += [""]
    style = {k: v for k, v in entry.style.model_dump().items() if v is not None}
    if style:
        lines += ["## Map style", ""]
        lines += [f"- {key}: {_format_value(value)}" for key, value in style.items()]
        lines += [""]
    references = list(
        dict.fromkeys([*entry.references, *(p.source for p in entry.parameters.values())])
    )
    if references:
        lines += ["## References", ""]
        for key in references:
            lines.append(f"- **{key}**: {_text(catalog.references[key])}")
        lines += [""]
    if used_by:
        lines += ["## Used by", "", ", ".join(_link(pid, catalog) for pid in used_by), ""]
    if entry.family != "intermediate":
        lines += [
            "## Open it",
            "",
            "```python",
            "import weatherdata",
            "",
            f'ds = weatherdata.open_product("{entry.id}", root="weatherdata-demo/products")',
            "```",
            "",
            f"or, without weatherdata, `xarray.open_zarr(ROOT + "
            f'"/{entry.family}/{entry.id}.zarr", consolidated=True, zarr_format=3)`.',
            "",
        ]
    return "\n".join(lines)


def _index_table(entries: list[ProductEntry]) -> list[str]:
    rows = ["| Id | Name | 名称 | Units | Parameters |", "|---|---|---|---|---|"]
    for entry in entries:
        unverified = len(_unverified(entry))
        status = (
            f"{len(entry.parameters)} ({unverified} unverified)"
            if unverified
            else str(len(entry.parameters) or "")
        )
        rows.append(
            f"| [`{entry.id}`]({PAGES}/{entry.id}.md) | {_cell(entry.name.en)} | "
            f"{_cell(entry.name.zh)} | `{entry.units or '—'}` | {status} |"
        )
    return rows


def _index_page(catalog: Catalog, with_maps: bool) -> str:
    products = catalog.products
    unverified = sum(len(_unverified(e)) for e in products.values())
    parameters = sum(len(e.parameters) for e in products.values())
    lines = [
        "# weatherdata products",
        "",
        f"{len(products)} products in {len(FAMILIES)} families, generated from `catalog.yaml` "
        "by `weatherdata docs`. Each page says what the product is, the formula (the recipe's "
        "docstring), its inputs, the parameters and thresholds with their units, source and "
        "whether they are verified, units and CF attributes, categories and their colours, "
        "time semantics and references"
        + (", with an example map from the demo." if with_maps else "."),
        "",
        f"{unverified} of the products' {parameters} parameters are not verified against "
        "their source: their pages flag them with the reason, and every one can be "
        "overridden (`weatherdata publish --set product.parameter=value`).",
        "",
        "See also the [canonical input variables](variables.md) and the "
        "[references](references.md).",
        "",
    ]
    for family in (*FAMILIES, "intermediate"):
        entries = [e for e in catalog.entries.values() if e.family == family]
        lines += [
            f"## {FAMILY_TITLES[family]} ({len(entries)})",
            "",
            FAMILY_BLURBS[family],
            "",
            *_index_table(entries),
            "",
        ]
    return "\n".join(lines)


def _variables_page(catalog: Catalog) -> str:
    lines = [
        "# Canonical input variables",
        "",
        "Every reader maps its input into these names and units (`weatherdata/variables.yaml`); "
        "recipes read only these. `range` is the plausible range used by quality control.",
        "",
    ]
    for name, variable in canonical_variables().items():
        users = sorted(e.id for e in catalog.entries.values() if name in _names(e, catalog))
        lines += [
            f"## {name}",
            "",
            f"{_text(variable.long_name)} · units `{variable.units}` · dims "
            f"`{', '.join(variable.dims)}` · range {variable.range[0]} to {variable.range[1]}"
            + (f" · standard name `{variable.standard_name}`" if variable.standard_name else ""),
            "",
        ]
        if users:
            lines += [
                "Used by: " + ", ".join(f"[`{u}`]({PAGES}/{u}.md)" for u in users),
                "",
            ]
    return "\n".join(lines)


def _names(entry: ProductEntry, catalog: Catalog) -> set[str]:
    return {catalog.split_reference(r)[1] for r in entry.inputs.values()}


def _references_page(catalog: Catalog) -> str:
    cited: dict[str, list[str]] = {}
    for entry in catalog.entries.values():
        for key in [*entry.references, *(p.source for p in entry.parameters.values())]:
            cited.setdefault(key, [])
            if entry.id not in cited[key]:
                cited[key].append(entry.id)
    lines = ["# References", "", "Cited by catalog entries and parameter sources.", ""]
    for key, text in sorted(catalog.references.items()):
        users = cited.get(key, [])
        lines += [
            f"## {key}",
            "",
            _text(text),
            "",
        ]
        if users:
            lines += [
                "Cited by " + ", ".join(f"[`{u}`]({PAGES}/{u}.md)" for u in users) + ".",
                "",
            ]
    return "\n".join(lines)


def _yaml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _mkdocs_config(catalog: Catalog, site_name: str) -> str:
    lines = [
        "# Generated by `weatherdata docs` from catalog.yaml: do not edit by hand.",
        f"site_name: {_yaml_string(site_name)}",
        "docs_dir: docs",
        "site_dir: site",
        "use_directory_urls: false",
        "strict: true",
        "theme:",
        "  name: readthedocs",
        "  navigation_depth: 2",
        "  collapse_navigation: true",
        "markdown_extensions:",
        "  - tables",
        "  - admonition",
        "  - attr_list",
        "  - fenced_code",
        "  - toc:",
        "      permalink: true",
        "validation:",
        "  omitted_files: warn",
        "  absolute_links: warn",
        "  unrecognized_links: warn",
        "  anchors: warn",
        "nav:",
        "  - Home: index.md",
    ]
    for family in (*FAMILIES, "intermediate"):
        lines.append(f"  - {_yaml_string(FAMILY_TITLES[family])}:")
        for entry in (e for e in catalog.entries.values() if e.family == family):
            lines.append(f"    - {_yaml_string(entry.name.en)}: {PAGES}/{entry.id}.md")
    lines += ["  - Canonical variables: variables.md", "  - References: references.md", ""]
    return "\n".join(lines)


# -- example maps -----------------------------------------------------------------


def _example_field(data, entry: ProductEntry):
    """The field to show as the example map of a published product, and why that one.

    Returns ``(array, note)``, or ``(None, reason)`` when the product is not a map. The
    time shown is, among the most recent steps, the one with the most cells above the
    lowest level (categorical products) or the most contrast (continuous ones), so that
    the example shows the product doing something.
    """
    import numpy as np

    array = data[entry.id] if entry.id in data else next(iter(data.data_vars.values()))
    note = "the only field"
    if "init_time" in array.dims:
        array = array.isel(init_time=-1)
        note = "the latest run"
    if "lead_time" in array.dims:
        finite = array.notnull().any([d for d in array.dims if d != "lead_time"]).values
        leads = np.flatnonzero(finite)
        array = array.isel(lead_time=int(leads[len(leads) // 2]) if len(leads) else 0)
        note += ", its middle lead"
    if "motion" in array.dims:
        array = array.isel(motion=0)
    dim = next((d for d in _TIME_DIMS if d in array.dims), None)
    if dim is not None:
        array = array.isel({dim: slice(-_RECENT_STEPS, None)}).load()
        others = [d for d in array.dims if d != dim]
        if entry.is_categorical:
            lowest = min(c.value for c in entry.categories)
            score = (array > lowest).sum(others).values.astype(float)
            note = "the time with the most cells above the lowest level"
        else:
            score = array.std(others).fillna(-1).values + array.notnull().sum(others).values
            note = "the time with the most contrast"
        index = int(np.flatnonzero(score == score.max())[-1])
        array = array.isel({dim: index})
    table = next((d for d in ("district", "city") if d in array.dims), None)
    if table is not None and "signal" in array.dims:
        worst = array.max(table).fillna(-1).values * 100 + (array > 0).sum(table).values
        array = array.isel(signal=int(np.argmax(worst)))
        note += ", its highest signal"
    map_dims = {"latitude", "longitude", "component", "y", "x"} if table is None else {table}
    if not set(array.dims) <= map_dims or array.ndim == 0:
        return None, f"dimensions {', '.join(array.dims)} are not a map"
    if not bool(array.notnull().any()):
        return None, "no value on the demo"
    return array, note


def _draw_maps(catalog: Catalog, root: str, ids: list[str], pages: Path):
    # Figures are drawn off pyplot (no backend switch, nothing left open in a notebook).
    from matplotlib.figure import Figure

    from .access import open_product
    from .plot import plot_map

    maps: dict[str, tuple[str | None, str]] = {}
    for product_id in ids:
        entry = catalog[product_id]
        if entry.family == "intermediate":
            continue
        try:
            data = open_product(product_id, root)
        except WeatherdataError:
            continue  # not published at this root
        array, note = _example_field(data, entry)
        if array is None:
            maps[product_id] = (None, f"*No example map: {note}.*")
            continue
        figure = Figure(figsize=(8, 6.5), layout="constrained")
        plot_map(array.load(), entry, ax=figure.add_subplot())
        figure.savefig(pages / f"{product_id}.png", dpi=80)
        maps[product_id] = (
            f"{product_id}.png",
            f"*From the published demo ({note}), drawn by `weatherdata.plot.plot_map`.*",
        )
    return maps
