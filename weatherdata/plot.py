"""Maps and time series of weatherdata products, drawn with each product's declared style.

The catalog declares how a product looks (``style``: colormap, levels, vmin/vmax, extend;
``categories``: the official colour and name of every level); this module only draws it:

- :func:`plot_map` — one 2-D field (1-D latitude/longitude axes, or the 2-D
  latitude/longitude coordinates of a projected grid), or one per-district table drawn
  as filled district polygons;
- :func:`plot_panels` — several products side by side at one time;
- :func:`plot_series` — several products at the grid cell nearest a point, over time.

Python::

    import weatherdata
    from weatherdata.plot import plot_map, plot_panels

    temperature = weatherdata.open_product("temperature_2m", root="weatherdata-demo/products")
    plot_map(temperature["temperature_2m"].isel(time=-1))

Boundaries (China's outline and its neighbours' land, provinces, Guangdong's cities,
Guangzhou's districts) come from cnmaps' offline data and are loaded once per process
(about 6 s of CPU for coastline, provinces and cities; a map outside East Asia loads the
world's coastlines instead, about 10 s more). Nothing here downloads anything (no
cartopy features). Labels are Chinese when a CJK
font is installed (``language="auto"``), English otherwise, so that no text is ever
drawn with missing glyphs.

Colour rules
------------
Continuous products with ``levels`` use a :class:`~matplotlib.colors.BoundaryNorm`
over the declared levels. ``extend`` says which out-of-range side is coloured (with the
end colours); an un-extended side is left blank, as in :func:`matplotlib.pyplot.contourf`.
When the catalog leaves ``extend`` unset, both sides are coloured, except that amounts
and echoes (units mm, mm h-1, dBZ) below the first level are left blank, as on CMA
precipitation and radar charts (0 mm of rain is not drawn). Products with
``vmin``/``vmax`` are drawn on a continuous scale clipped to the range; the colorbar
shows an extension on each side where the product's ``valid_range`` reaches beyond it.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from .catalog import ProductEntry, shipped_catalog
from .errors import WeatherdataError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "BOUNDARY_KINDS",
    "boundary_geometries",
    "cjk_font",
    "colormap",
    "font_family",
    "font_properties",
    "plot_map",
    "plot_panels",
    "plot_series",
    "resolve_language",
    "select_time",
    "time_label",
    "units_label",
    "update_map",
]

#: Beijing time (BJT) is UTC+8 all year (no daylight saving since 1991).
BEIJING_OFFSET = np.timedelta64(8, "h")

#: The boundary layers :func:`plot_map` can draw, with their cnmaps queries.
BOUNDARY_KINDS: dict[str, tuple[dict[str, Any], ...]] = {
    # China's land outline (with Hong Kong, Macao and Taiwan) and its southern neighbours':
    # the coastlines and land borders of South China maps. Outside East Asia the whole
    # world's outlines are loaded instead (see `_coastline_kind`).
    "coastline": (
        {"country": "中华人民共和国", "level": "国"},
        {"country": ["越南", "老挝", "缅甸", "泰国", "柬埔寨", "菲律宾"], "level": "国"},
    ),
    "province": ({"level": "省"},),
    "city": ({"province": "广东省", "level": "市"},),
    "district": ({"city": "广州市", "level": "区县"},),
}
_WORLD_COASTLINE = ({"level": "国"},)
# (west, south, east, north) within which the regional coastline layer is complete.
_REGIONAL_EXTENT = (90.0, 0.0, 140.0, 55.0)

# (line width in points, colour, line style, z-order): coastline above the rest.
_BOUNDARY_STYLE = {
    "coastline": (0.9, "0.05", "solid", 4.0),
    "province": (0.7, "0.2", "solid", 3.9),
    "city": (0.45, "0.35", "solid", 3.8),
    "district": (0.3, "0.45", (0, (3, 2)), 3.7),
}

# Boundaries are simplified to this tolerance (degrees, ~500 m): finer than a pixel at
# the scale of a provincial map, and ten times fewer vertices to draw.
_SIMPLIFY_DEGREES = 0.005

# Units whose values below the first style level mean "nothing there" (no rain, no echo).
_TRACE_UNITS = ("mm", "mm h-1", "mm/h", "dBZ")

# Colormaps named in the catalog that matplotlib does not ship, anchored to values:
# ``(first, step, colours)``, colour i for [first + i step, first + (i + 1) step). The NWS
# reflectivity colours (5 dBZ steps from 5 dBZ: Py-ART's NWSRef, MetPy's NWSReflectivity
# table) are written out here so that drawing needs neither package, and each level
# interval gets the colour of its dBZ, whatever the levels.
_VALUE_COLORMAPS = {
    "pyart_NWSRef": (5.0, 5.0, [
        "#00ECEC", "#01A0F6", "#0000F6", "#00FF00", "#00C800", "#009000", "#FFFF00",
        "#E7C000", "#FF9000", "#FF0000", "#D60000", "#C00000", "#FF00FF", "#9955C9",
    ]),
}  # fmt: skip

_TRANSPARENT = (0.0, 0.0, 0.0, 0.0)
_TABLE_REGIONS = {"district": "guangzhou_districts", "city": "guangdong_cities"}

# Characters every Chinese label here needs; a font lacking any of them is not used.
_CJK_PROBE = "预警信号气温降水北京时无红橙黄蓝白色广州"
# U+0378 is unassigned: only a last-resort font (e.g. "Last Resort High-Efficiency", which
# draws a box for everything) has a glyph for it.
_UNASSIGNED_CODE_POINT = 0x0378
_CJK_PREFERRED = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "Heiti SC",
    "Sarasa Gothic SC",
    "AR PL UMing CN",
    "Arial Unicode MS",
)

_TEXT = {
    "en": {
        "bjt": "BJT",
        "init": "run",
        "valid": "valid",
        "issued": "issued",
        "ending": "ending",
        "from": "from",
        "to": "to",
        "period": "period from",
        "lat": "°N",
        "lon": "°E",
        "south": "°S",
        "west": "°W",
        "no_data": "no data",
        "signal": "signal",
        "units": "",
    },
    "zh": {
        "bjt": "北京时",
        "init": "起报",
        "valid": "有效",
        "issued": "发布",
        "ending": "截至",
        "from": "自",
        "to": "至",
        "period": "时段起",
        "lat": "°N",
        "lon": "°E",
        "south": "°S",
        "west": "°W",
        "no_data": "无数据",
        "signal": "信号",
        "units": "",
    },
}


# -- language and fonts --------------------------------------------------------------


@functools.cache
def cjk_font() -> str | None:
    """The family name of an installed font that has the Chinese glyphs, or ``None``.

    Looks through matplotlib's font list (preferred families first) and checks the
    glyphs themselves, so a font that only claims the language is not taken.
    """
    from matplotlib import font_manager, ft2font

    fonts = sorted(
        font_manager.fontManager.ttflist,
        key=lambda font: (
            _CJK_PREFERRED.index(font.name) if font.name in _CJK_PREFERRED else len(_CJK_PREFERRED)
        ),
    )
    checked: set[str] = set()
    for font in fonts:
        if font.fname in checked:
            continue
        checked.add(font.fname)
        try:
            face = ft2font.FT2Font(font.fname)
        except (OSError, RuntimeError, ValueError):
            continue
        if face.get_char_index(_UNASSIGNED_CODE_POINT):
            continue  # a last-resort font: a placeholder glyph for every code point
        if all(face.get_char_index(ord(character)) for character in _CJK_PROBE):
            return font.name
    return None


def resolve_language(language: str = "auto") -> str:
    """``"zh"`` or ``"en"``: ``"auto"`` is Chinese when :func:`cjk_font` finds a font.

    Raises
    ------
    WeatherdataError
        For an unknown language, or ``"zh"`` on a machine with no CJK font.
    """
    if language not in ("auto", "en", "zh"):
        raise WeatherdataError(f"language {language!r}: choose auto, en or zh")
    if language == "auto":
        return "zh" if cjk_font() else "en"
    if language == "zh" and cjk_font() is None:
        raise WeatherdataError(
            "language 'zh': no font with Chinese glyphs is installed (e.g. fonts-noto-cjk); "
            "use language 'en' or 'auto'"
        )
    return language


def font_family(language: str) -> list[str] | None:
    """The font family list for text in ``language``: the CJK font first for ``"zh"``.

    DejaVu Sans comes behind it for the glyphs a CJK font may lack (°, ², …). ``None``
    (matplotlib's default) for English. Every Chinese text is created with this list
    itself, not with a generic ``sans-serif`` that would be resolved at drawing time.
    """
    if language != "zh":
        return None
    return [cjk_font(), "DejaVu Sans"]


def _font_context(language: str):
    """Text created inside (titles, tick labels of new axes) gets :func:`font_family`."""
    import matplotlib as mpl

    family = font_family(language)
    return mpl.rc_context({"font.family": family} if family else {})


def font_properties(language: str, **properties) -> dict:
    """Font properties (``size=…``, …) with the family of :func:`font_family` for ``language``."""
    family = font_family(language)
    return {**properties, "family": family} if family else properties


# -- catalog entry, units, colours ---------------------------------------------------


def _field_of(data: xr.DataArray | xr.Dataset, entry: ProductEntry | str | None) -> xr.DataArray:
    """The product's variable of a dataset (as ``open_product`` returns it): the one named
    by ``entry``, else by its ``weatherdata_product`` attribute, else its only variable.
    A DataArray is returned as it is."""
    if not isinstance(data, xr.Dataset):
        return data
    wanted = entry.id if isinstance(entry, ProductEntry) else entry
    wanted = wanted or data.attrs.get("weatherdata_product")
    if wanted is None and len(data.data_vars) == 1:
        wanted = next(iter(data.data_vars))
    if wanted is None:
        raise WeatherdataError(
            f"cannot tell which variable of the dataset to draw ({', '.join(map(str, data.data_vars))}); "
            "pass one, e.g. data['<id>'], or entry='<id>'"
        )
    array = _product_array(data, wanted)  # names a missing one
    if "weatherdata_product" not in array.attrs and "weatherdata_product" in data.attrs:
        array = array.assign_attrs(weatherdata_product=data.attrs["weatherdata_product"])
    return array


def _entry_of(data: xr.DataArray, entry: ProductEntry | str | None) -> ProductEntry:
    catalog = shipped_catalog()
    if isinstance(entry, ProductEntry):
        return entry
    if isinstance(entry, str):
        return catalog[entry]
    for candidate in (data.attrs.get("weatherdata_product"), data.name):
        if isinstance(candidate, str) and candidate in catalog:
            return catalog[candidate]
    raise WeatherdataError(
        f"{data.name or 'data'}: cannot tell which product this is (no "
        "`weatherdata_product` attribute and the name is not a product id); pass entry='<id>'"
    )


def _name(entry: ProductEntry, language: str) -> str:
    return entry.name.zh if language == "zh" else entry.name.en


def units_label(units: str | None) -> str:
    """A unit string for people: ``"m s-1"`` → ``"m/s"``, ``"degC"`` → ``"°C"``, ``"1"`` → ``""``."""
    if not units or units in ("1", "-"):
        return ""
    from .units import parse_units

    try:
        text = format(parse_units(units), "~P")
    except Exception:  # a unit pint cannot read: show it as declared
        return units
    return {"a": "years", "d": "days", "deg": "°"}.get(text, text)


def colormap(name: str | None):
    """The matplotlib colormap the catalog names (including the extra ones defined here).

    Raises
    ------
    WeatherdataError
        When neither matplotlib nor this module knows the name.
    """
    import matplotlib as mpl
    from matplotlib.colors import ListedColormap

    if name is None:
        return mpl.colormaps["viridis"]
    if name in _VALUE_COLORMAPS:
        return ListedColormap(_VALUE_COLORMAPS[name][2], name=name)
    try:
        return mpl.colormaps[name]
    except KeyError:
        raise WeatherdataError(
            f"colormap {name!r} is neither matplotlib's nor weatherdata's"
        ) from None


def _categorical_scale(entry: ProductEntry):
    from matplotlib.colors import BoundaryNorm, ListedColormap

    categories = sorted(entry.categories, key=lambda category: category.value)
    values = np.array([category.value for category in categories], dtype=float)
    middles = (values[1:] + values[:-1]) / 2
    edges = np.concatenate([[values[0] - 0.5], middles, [values[-1] + 0.5]])
    cmap = ListedColormap([category.colour for category in categories], name=entry.id)
    cmap = cmap.with_extremes(bad=_TRANSPARENT)
    return cmap, BoundaryNorm(edges, cmap.N), categories


def _continuous_scale(
    entry: ProductEntry, data: np.ndarray | None = None, *, magnitude: bool = False
):
    """``(cmap, norm, extend)`` for a continuous product, following the module rules.

    ``magnitude``: the field is the speed of a vector product whose style is declared for
    its (signed) components, ``vmin < 0 < vmax``: speeds run from 0 to the larger bound,
    on the upper half of the diverging colormap.
    """
    from matplotlib.colors import BoundaryNorm, LinearSegmentedColormap, Normalize

    style = entry.style
    cmap = colormap(style.colormap).with_extremes(bad=_TRANSPARENT)
    if (
        magnitude
        and not style.levels
        and style.vmin is not None
        and style.vmax is not None
        and style.vmin < 0 < style.vmax
    ):
        upper = cmap(np.linspace(0.5, 1.0, 128))
        cmap = LinearSegmentedColormap.from_list(f"{cmap.name}_upper", upper).with_extremes(
            bad=_TRANSPARENT
        )
        return cmap, Normalize(0.0, max(-style.vmin, style.vmax)), "max"
    if style.levels:
        levels = np.asarray(style.levels, dtype=float)
        if len(levels) < 2:
            raise WeatherdataError(f"{entry.id}: style.levels needs at least two levels")
        extend = style.extend
        if extend is None:
            extend = "max" if (entry.units in _TRACE_UNITS and levels[0] > 0) else "both"
        if style.colormap in _VALUE_COLORMAPS:
            cmap, norm = _anchored_scale(style.colormap, levels)
        else:
            norm = BoundaryNorm(levels, cmap.N, extend=extend)
        if extend in ("neither", "max"):
            cmap = cmap.with_extremes(under=_TRANSPARENT)
        if extend in ("neither", "min"):
            cmap = cmap.with_extremes(over=_TRANSPARENT)
        return cmap, norm, extend
    vmin, vmax = style.vmin, style.vmax
    if (vmin is None or vmax is None) and data is not None and np.isfinite(data).any():
        vmin = float(np.nanmin(data)) if vmin is None else vmin
        vmax = float(np.nanmax(data)) if vmax is None else vmax
    if vmin is not None and vmax is not None and vmin == vmax:
        vmin, vmax = vmin - 0.5, vmax + 0.5
    extend = style.extend
    if extend is None:
        low, high = entry.valid_range or (-math.inf, math.inf)
        below = vmin is not None and style.vmin is not None and low < vmin
        above = vmax is not None and style.vmax is not None and high > vmax
        extend = {(True, True): "both", (True, False): "min", (False, True): "max"}.get(
            (below, above), "neither"
        )
    return cmap, Normalize(vmin, vmax), extend


def _anchored_scale(name: str, levels: np.ndarray):
    """A value-anchored colormap on ``levels``: each interval the colour of its lower bound."""
    from matplotlib.colors import BoundaryNorm, ListedColormap

    first, step, colours = _VALUE_COLORMAPS[name]

    def colour(value: float) -> str:
        return colours[int(np.clip((value - first) // step, 0, len(colours) - 1))]

    cmap = ListedColormap([colour(low) for low in levels[:-1]], name=name).with_extremes(
        bad=_TRANSPARENT, under=colour(levels[0] - step), over=colour(levels[-1])
    )
    return cmap, BoundaryNorm(levels, len(levels) - 1)


# -- boundaries ----------------------------------------------------------------------


@functools.cache
def boundary_geometries(kind: str) -> tuple[np.ndarray, np.ndarray]:
    """One boundary layer as ``(lines, bounds)``: shapely line geometries (WGS84 degrees)
    and their ``(west, south, east, north)`` boxes. Cached per process, and on disk
    (:func:`weatherdata.cache.cached_geometries`: ~7 s for a Guangdong map's layers
    in each new process before, milliseconds after the first).

    ``kind`` is one of :data:`BOUNDARY_KINDS` (or ``"world_coastline"``). Loaded from
    cnmaps' offline data on first use, simplified to about 500 m.
    """
    import shapely

    from .cache import cached_geometries

    queries = _WORLD_COASTLINE if kind == "world_coastline" else BOUNDARY_KINDS.get(kind)
    if queries is None:
        raise WeatherdataError(
            f"boundary {kind!r}: choose from {', '.join(BOUNDARY_KINDS)} (or none)"
        )
    lines = cached_geometries(
        f"boundary-{kind}",
        ["boundary lines", queries, _SIMPLIFY_DEGREES],
        lambda: _load_boundary_lines(queries),
    )
    return lines, shapely.bounds(lines)


def _load_boundary_lines(queries) -> np.ndarray:
    """The lines of cnmaps' records for ``queries``, simplified, in WGS84."""
    import shapely
    from cnmaps import get_adm_maps

    lines = []
    for query in queries:
        # Read as stored and simplify before converting Amap's GCJ-02 coordinates to
        # WGS84: cnmaps converts point by point in Python, and after simplification
        # there are ten times fewer points (the GCJ-02 offset varies over tens of
        # kilometres, far more slowly than the 500 m tolerance, so the order does not
        # matter).
        for record in get_adm_maps(**query, wgs84=False):
            if record.get("kind") == "海域":
                continue  # maritime claim lines, not a coastline or a land border
            geometry = getattr(record["geometry"], "geom", record["geometry"])
            if geometry.geom_type in ("Polygon", "MultiPolygon"):
                geometry = geometry.boundary
            parts = shapely.simplify(shapely.get_parts(geometry), _SIMPLIFY_DEGREES)
            if record.get("source") == "高德":
                parts = shapely.transform(parts, _gcj02_to_wgs84)
            lines.extend(parts)
    lines = np.asarray(lines, dtype=object)
    return lines[~shapely.is_empty(lines)]


def _gcj02_to_wgs84(coordinates: np.ndarray) -> np.ndarray:
    from cnmaps.geo import gcj02_to_wgs84

    return np.array([gcj02_to_wgs84(x, y) for x, y in coordinates], dtype=float).reshape(-1, 2)


def _coastline_kind(kind: str, extent: tuple[float, float, float, float]) -> str:
    west, south, east, north = extent
    region_west, region_south, region_east, region_north = _REGIONAL_EXTENT
    inside = west >= region_west and south >= region_south and east <= region_east
    if kind == "coastline" and not (inside and north <= region_north):
        return "world_coastline"
    return kind


@functools.lru_cache(maxsize=64)
def _boundary_segments(kind: str, extent: tuple[float, float, float, float]) -> list[np.ndarray]:
    import shapely

    west, south, east, north = extent
    lines, bounds = boundary_geometries(_coastline_kind(kind, extent))
    near = (
        (bounds[:, 0] <= east)
        & (bounds[:, 2] >= west)
        & (bounds[:, 1] <= north)
        & (bounds[:, 3] >= south)
    )
    clipped = shapely.clip_by_rect(lines[near], west, south, east, north)
    parts = shapely.get_parts(clipped)
    return [
        np.asarray(part.coords)
        for part in parts
        if part.geom_type == "LineString" and not part.is_empty
    ]


def _draw_boundaries(ax, kinds: Iterable[str], extent) -> None:
    from matplotlib.collections import LineCollection

    west, south, east, north = extent
    margin = 0.5
    key = tuple(
        round(value, 2) for value in (west - margin, south - margin, east + margin, north + margin)
    )
    for kind in kinds:
        width, colour, style, order = _BOUNDARY_STYLE[kind]
        collection = LineCollection(
            _boundary_segments(kind, key),
            linewidths=width,
            colors=colour,
            linestyles=style,
            zorder=order,
        )
        collection.set_gid(f"boundary:{kind}")
        ax.add_collection(collection, autolim=False)


def _boundary_kinds(boundaries) -> tuple[str, ...]:
    if boundaries is None or boundaries is False:
        return ()
    if isinstance(boundaries, str):
        boundaries = (boundaries,)
    kinds = tuple(boundaries)
    unknown = [kind for kind in kinds if kind not in BOUNDARY_KINDS]
    if unknown:
        raise WeatherdataError(
            f"boundaries {', '.join(map(repr, unknown))}: choose from {', '.join(BOUNDARY_KINDS)}"
        )
    return kinds


# -- time labels ---------------------------------------------------------------------


def _scalar_time(data: xr.DataArray, name: str):
    if name in data.coords and data[name].ndim == 0:
        value = data[name].values
        if np.issubdtype(value.dtype, np.datetime64) or np.issubdtype(value.dtype, np.timedelta64):
            if np.isnat(value):
                return None
        return value
    return None


def _utc(value: np.datetime64, *, beijing: bool = True, language: str = "en") -> str:
    stamp = np.datetime64(value, "m")
    text = str(stamp).replace("T", " ") + " UTC"
    if beijing:
        local = stamp + BEIJING_OFFSET
        same_day = str(local)[:10] == str(stamp)[:10]
        local_text = str(local)[11:16] if same_day else str(local).replace("T", " ")
        text += f" ({local_text} {_TEXT[language]['bjt']})"
    return text


def _parse_duration(text: str | None) -> np.timedelta64 | None:
    if not text:
        return None
    from .units import parse_quantity

    try:
        minutes = parse_quantity(text).to("minute").magnitude
    except Exception:
        return None
    return np.timedelta64(round(float(minutes)), "m")


def time_label(data: xr.DataArray, entry: ProductEntry, language: str = "en") -> str:
    """The time a 2-D field is valid for, in UTC and Beijing time, following its time kind.

    ``data`` holds scalar time coordinates (after ``isel``/``sel``): ``time``, ``day``,
    ``period``, or a forecast's ``init_time``/``lead_time``/``valid_time``.
    """
    words = _TEXT[language]
    init = _scalar_time(data, "init_time")
    lead = _scalar_time(data, "lead_time")
    valid = _scalar_time(data, "valid_time")
    if init is not None:
        if valid is None and lead is not None:
            valid = init + lead
        hours = "" if lead is None else f" +{int(lead / np.timedelta64(1, 'h')):d} h"
        head = f"{words['init']} {_utc(init, beijing=False)}{hours}"
        return f"{words['valid']} {_utc(valid, language=language)}, {head}" if valid else head
    day = _scalar_time(data, "day")
    if day is not None:
        end = day + np.timedelta64(1, "D")
        return (
            f"{words['from']} {_utc(day, language=language)} {words['to']} "
            f"{_utc(end, language=language)}"
        )
    period = _scalar_time(data, "period")
    if period is not None:
        return f"{words['period']} {np.datetime64(period, 'D')!s}"
    time = _scalar_time(data, "time")
    if time is None:
        return ""
    label = _time_kind_label(time, entry, language)
    run = _scalar_time(data, "forecast_reference_time")
    if run is not None:
        label += f", {words['init']} {_utc(run, beijing=False)}"
    return label


def _time_kind_label(time, entry: ProductEntry, language: str) -> str:
    words = _TEXT[language]
    kind = entry.time.kind
    window = entry.time.window
    if kind == "rolling_window" and window:
        return f"{window} {words['ending']} {_utc(time, language=language)}"
    if kind == "lead_window" and window:
        return f"{window} {words['from']} {_utc(time, language=language)}"
    if kind == "nowcast":
        lead_parameter = entry.parameters.get("lead")
        lead = _parse_duration(lead_parameter.value if lead_parameter else None)
        if lead is not None:
            return (
                f"{words['valid']} {_utc(time + lead, language=language)}, "
                f"{words['issued']} {_utc(time, beijing=False)}"
            )
    return _utc(time, language=language)


# -- fields --------------------------------------------------------------------------


def _horizontal_dims(data: xr.DataArray) -> tuple[str, ...]:
    if "latitude" in data.coords and "longitude" in data.coords:
        latitude, longitude = data["latitude"], data["longitude"]
        if latitude.ndim == 1 and longitude.ndim == 1:
            return (latitude.dims[0], longitude.dims[0])
        if latitude.ndim == 2 and latitude.dims == longitude.dims:
            return tuple(latitude.dims)
    for dim in _TABLE_REGIONS:
        if dim in data.dims:
            return (dim,)
    raise WeatherdataError(
        f"{data.name or 'data'}: no latitude/longitude coordinates (1-D axes or 2-D fields) "
        "and no district/city dimension to draw"
    )


def _squeeze(data: xr.DataArray, keep: Sequence[str], entry: ProductEntry) -> xr.DataArray:
    extra = [dim for dim in data.dims if dim not in keep]
    single = [dim for dim in extra if data.sizes[dim] == 1]
    data = data.isel({dim: 0 for dim in single})
    left = [dim for dim in extra if dim not in single]
    if left:
        sizes = ", ".join(f"{dim} ({data.sizes[dim]})" for dim in left)
        raise WeatherdataError(
            f"{entry.id}: a map shows one field; select one value of {sizes} first, "
            f"e.g. data.isel({left[0]}=-1)"
        )
    return data


def _is_vector(data: xr.DataArray) -> bool:
    return (
        "component" in data.dims
        and data.sizes["component"] == 2
        and "component" in data.coords
        and {str(value) for value in data["component"].values} == {"eastward", "northward"}
    )


def _extent(longitude: np.ndarray, latitude: np.ndarray) -> tuple[float, float, float, float]:
    def edges(values: np.ndarray) -> tuple[float, float]:
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            raise WeatherdataError("latitude/longitude hold no finite value")
        low, high = float(finite.min()), float(finite.max())
        if values.ndim == 1 and values.size > 1:
            step = float(np.nanmax(np.abs(np.diff(np.sort(finite)))))
        elif values.ndim == 2 and values.size > 1:
            step = max(
                float(np.nanmax(np.abs(np.diff(values, axis=axis))))
                if values.shape[axis] > 1
                else 0
                for axis in (0, 1)
            )
        else:
            step = 0.5
        return low - step / 2, high + step / 2

    west, east = edges(longitude)
    south, north = edges(latitude)
    return west, south, east, north


def _format_axes(ax, extent, language: str) -> None:
    from matplotlib.ticker import FuncFormatter

    west, south, east, north = extent
    ax.set_xlim(west, east)
    ax.set_ylim(south, north)
    middle = math.radians(max(min((south + north) / 2, 89.0), -89.0))
    ax.set_aspect(1 / math.cos(middle))
    words = _TEXT[language]

    def longitude(value, _):
        return f"{abs(value):g}{words['lon'] if value >= 0 else words['west']}"

    def latitude(value, _):
        return f"{abs(value):g}{words['lat'] if value >= 0 else words['south']}"

    ax.xaxis.set_major_formatter(FuncFormatter(longitude))
    ax.yaxis.set_major_formatter(FuncFormatter(latitude))
    ax.tick_params(labelsize=8)


def _new_axes(ax):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=(8, 6.5), layout="constrained")
    return ax


def plot_map(
    data: xr.DataArray | xr.Dataset,
    entry: ProductEntry | str | None = None,
    *,
    ax: Axes | None = None,
    boundaries: Sequence[str] | str | None = ("coastline", "province", "city"),
    language: str = "auto",
    title: str | None = None,
) -> Axes:
    """Draw one field of a product as a map, with the product's declared style.

    Parameters
    ----------
    data
        One 2-D field on 1-D ``latitude``/``longitude`` axes or on a projected grid with
        2-D ``latitude``/``longitude`` coordinates (dimensions of size 1 are dropped; select
        one time first), or a dataset holding it (``weatherdata.open_product(id, root,
        time=...)``). A field with an ``eastward``/``northward`` ``component`` dimension
        is drawn as speed with arrows. A per-district table (a ``district`` or ``city``
        dimension, e.g. one signal of ``guangzhou_district_warning_signals``) is drawn as
        filled district polygons.
    entry
        The catalog entry or product id; by default the ``weatherdata_product`` attribute,
        else the variable's name.
    ax
        Axes to draw in; a new figure (pyplot) by default.
    boundaries
        Boundary layers from :data:`BOUNDARY_KINDS` (``"coastline"``, ``"province"``,
        ``"city"`` for Guangdong's cities, ``"district"`` for Guangzhou's); ``None`` for none.
    language
        ``"auto"`` (Chinese when a CJK font is installed), ``"en"`` or ``"zh"``.
    title
        Replaces the default title (product name, then the valid time in UTC and Beijing
        time).

    Returns
    -------
    matplotlib.axes.Axes
        The axes. The field is the artist with gid ``"weatherdata:field"``, each boundary
        layer a :class:`~matplotlib.collections.LineCollection` with gid
        ``"boundary:<kind>"``.

    Raises
    ------
    WeatherdataError
        When the product is unknown, the field is not 2-D, or a language or boundary
        layer is unknown.
    """
    data = _field_of(data, entry)
    entry = _entry_of(data, entry)
    language = resolve_language(language)
    kinds = _boundary_kinds(boundaries)
    with _font_context(language):
        ax = _new_axes(ax)
        if _is_vector(data):
            _draw_vector(ax, data, entry, kinds, language)
        else:
            keep = _horizontal_dims(data)
            field = _squeeze(data, keep, entry)
            if len(keep) == 1:
                _draw_table(ax, field, entry, kinds, language, keep[0])
            else:
                _draw_grid(ax, field, entry, kinds, language, keep)
            data = field
        _set_title(ax, data, entry, language, title)
    return ax


def update_map(
    ax: Axes,
    data: xr.DataArray | xr.Dataset,
    entry: ProductEntry | str | None = None,
    *,
    language: str = "auto",
    title: str | None = None,
) -> Axes:
    """Show another field (e.g. the next time step) in a map drawn by :func:`plot_map`.

    Only the values, the arrows and the title change: colours, colorbar or legend,
    boundaries and layout stay, so drawing a sequence is several times faster than
    calling :func:`plot_map` for each step. ``data`` must be on the same grid (or the same
    districts, in the same order) as the field first drawn.

    Raises
    ------
    WeatherdataError
        When ``ax`` holds no map of :func:`plot_map` or ``data`` is on another grid.
    """
    data = _field_of(data, entry)
    entry = _entry_of(data, entry)
    language = resolve_language(language)
    artist = next((a for a in ax.get_children() if a.get_gid() == "weatherdata:field"), None)
    if artist is None:
        raise WeatherdataError("update_map: these axes hold no map drawn by plot_map")
    if _is_vector(data):
        speed, eastward, northward, dims = _vector_fields(data, entry)
        values = np.asarray(_coordinates(speed, dims)[0].values, dtype=float)
        arrows = next(a for a in ax.get_children() if a.get_gid() == "weatherdata:arrows")
        arrows.set_UVC(*_arrow_components(eastward, northward, dims, arrows.weatherdata_stride))
    else:
        keep = _horizontal_dims(data)
        field = _squeeze(data, keep, entry)
        if len(keep) == 1:
            names = [str(name) for name in field[keep[0]].values]
            if names != artist.weatherdata_names:
                raise WeatherdataError("update_map: not the districts first drawn")
            values = np.asarray(field.values, dtype=float)
        else:
            values = np.asarray(_coordinates(field, keep)[0].values, dtype=float)
        data = field
    shape = artist.get_array().shape
    if values.shape != shape:
        raise WeatherdataError(
            f"update_map: a field of shape {values.shape}, the map shows {shape}"
        )
    artist.set_array(np.ma.masked_invalid(values))
    with _font_context(language):
        _set_title(ax, data, entry, language, title)
    return ax


def _set_title(ax, data, entry, language, title) -> None:
    if title is None:
        name = _name(entry, language)
        signal = _scalar_signal(data, language)
        if signal:
            name = f"{name}: {signal}"
        when = time_label(data, entry, language)
        title = f"{name}\n{when}" if when else name
    ax.set_title(title, fontproperties=font_properties(language, size=10))


def _scalar_signal(data: xr.DataArray, language: str) -> str:
    if "signal" in data.coords and data["signal"].ndim == 0:
        signal = str(data["signal"].values)
        catalog = shipped_catalog()
        return _name(catalog[signal], language) if signal in catalog else signal
    return ""


def _coordinates(field: xr.DataArray, dims: tuple[str, ...]):
    latitude, longitude = field["latitude"], field["longitude"]
    if latitude.ndim == 1:
        field = field.transpose(*dims)
        return field, np.asarray(longitude.values, float), np.asarray(latitude.values, float)
    field = field.transpose(*latitude.dims)
    return field, np.asarray(longitude.values, float), np.asarray(latitude.values, float)


def _draw_grid(ax, field, entry, kinds, language, dims, *, magnitude: bool = False) -> None:
    field, longitude, latitude = _coordinates(field, dims)
    values = np.asarray(field.values, dtype=float)
    if entry.categories:
        cmap, norm, categories = _categorical_scale(entry)
        extend = None
    else:
        cmap, norm, extend = _continuous_scale(entry, values, magnitude=magnitude)
    with warnings.catch_warnings():
        # pcolormesh warns about non-monotonic 2-D coordinates of some projected grids;
        # the cells are still drawn where they are.
        warnings.simplefilter("ignore", UserWarning)
        mesh = ax.pcolormesh(
            longitude,
            latitude,
            np.ma.masked_invalid(values),
            cmap=cmap,
            norm=norm,
            shading="nearest",
            rasterized=True,
        )
    mesh.set_gid("weatherdata:field")
    extent = _extent(longitude, latitude)
    _format_axes(ax, extent, language)
    _draw_boundaries(ax, kinds, extent)
    if entry.categories:
        _category_legend(ax, categories, language)
    else:
        colorbar = ax.figure.colorbar(mesh, ax=ax, extend=extend, shrink=0.85, pad=0.02)
        colorbar.set_label(units_label(field.attrs.get("units", entry.units)))
        colorbar.ax.tick_params(labelsize=8)


def _category_legend(ax, categories, language) -> None:
    from matplotlib.patches import Patch

    handles = [
        Patch(
            facecolor=category.colour,
            edgecolor="0.4",
            linewidth=0.5,
            label=category.zh if language == "zh" else category.en,
        )
        for category in categories
    ]
    legend = ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        borderaxespad=0.0,
        prop=font_properties(language, size=8),
        frameon=False,
    )
    legend.set_gid("weatherdata:legend")


def _vector_fields(data, entry):
    """``(speed, eastward, northward, dims)`` of a vector product's one time step."""
    eastward = data.sel(component="eastward", drop=True)
    northward = data.sel(component="northward", drop=True)
    dims = _horizontal_dims(eastward)
    eastward = _squeeze(eastward, dims, entry)
    northward = _squeeze(northward, dims, entry)
    speed = np.hypot(eastward, northward)
    speed.attrs = dict(data.attrs)
    return speed, eastward, northward, dims


def _arrow_components(eastward, northward, dims, stride: int):
    eastward, _, _ = _coordinates(eastward, dims)
    northward, _, _ = _coordinates(northward, dims)
    return (
        np.asarray(eastward.values, dtype=float)[::stride, ::stride],
        np.asarray(northward.values, dtype=float)[::stride, ::stride],
    )


def _draw_vector(ax, data, entry, kinds, language) -> None:
    """Speed in colour, direction and speed as arrows (at most about 25 per side)."""
    speed, eastward, northward, dims = _vector_fields(data, entry)
    _draw_grid(ax, speed, entry, kinds, language, dims, magnitude=True)
    _, longitude, latitude = _coordinates(eastward, dims)
    if latitude.ndim == 1:
        longitude, latitude = np.meshgrid(longitude, latitude)
    stride = max(1, math.ceil(max(latitude.shape) / 25))
    u, v = _arrow_components(eastward, northward, dims, stride)
    # A fixed scale (not per frame): the longest arrow of the style's range spans about
    # two arrow spacings, so arrows compare across time steps and products.
    west, east = ax.get_xlim()
    spacing = (east - west) / max(1, longitude.shape[1] / stride)
    reference = entry.style.vmax or float(np.nanmax(np.hypot(u, v)) or 1.0)
    quiver = ax.quiver(
        longitude[::stride, ::stride],
        latitude[::stride, ::stride],
        u,
        v,
        color="0.15",
        zorder=5,
        angles="uv",
        pivot="middle",
        scale_units="x",
        scale=reference / (1.5 * spacing),
        width=0.003,
    )
    quiver.set_gid("weatherdata:arrows")
    quiver.weatherdata_stride = stride
    units = units_label(data.attrs.get("units", entry.units))
    key = reference / 2
    ax.quiverkey(
        quiver,
        0.9,
        1.015,
        key,
        f"{key:g} {units}",
        labelpos="W",
        coordinates="axes",
        fontproperties={"size": 8},
    )


def _draw_table(ax, field, entry, kinds, language, dim) -> None:
    """Fill each district's polygon with its value's colour (a choropleth)."""
    import shapely
    from matplotlib.collections import PathCollection
    from matplotlib.path import Path as MplPath

    from weatherdata.products.forecast_warning.districts import _boundaries

    region = _TABLE_REGIONS[dim]
    geometries = {english: geometry for _, english, geometry in _boundaries(region)}
    chinese = {english: zh for zh, english, _ in _boundaries(region)}
    names = [str(name) for name in field[dim].values]
    unknown = [name for name in names if name not in geometries]
    if unknown:
        raise WeatherdataError(f"{entry.id}: no boundary for {', '.join(unknown)}")
    values = np.asarray(field.values, dtype=float)
    if entry.categories:
        cmap, norm, categories = _categorical_scale(entry)
        extend = None
    else:
        cmap, norm, extend = _continuous_scale(entry, values)
    paths = []
    for name in names:
        geometry = shapely.simplify(geometries[name], 0.001)
        vertices, codes = [], []
        for polygon in shapely.get_parts(geometry):
            for ring in [polygon.exterior, *polygon.interiors]:
                coords = np.asarray(ring.coords)
                vertices.append(coords)
                codes.append(
                    [MplPath.MOVETO] + [MplPath.LINETO] * (len(coords) - 2) + [MplPath.CLOSEPOLY]
                )
        paths.append(MplPath(np.concatenate(vertices), np.concatenate(codes)))
    collection = PathCollection(
        paths, cmap=cmap, norm=norm, edgecolors="0.3", linewidths=0.6, zorder=2
    )
    collection.set_array(np.ma.masked_invalid(values))
    collection.set_gid("weatherdata:field")
    collection.weatherdata_names = names
    ax.add_collection(collection)
    west, south, east, north = shapely.total_bounds([geometries[name] for name in names])
    pad = 0.05 * max(east - west, north - south)
    extent = (west - pad, south - pad, east + pad, north + pad)
    _format_axes(ax, extent, language)
    _draw_boundaries(ax, kinds, extent)
    for name in names:
        point = geometries[name].representative_point()
        ax.annotate(
            chinese[name] if language == "zh" else name,
            (point.x, point.y),
            ha="center",
            va="center",
            fontproperties=font_properties(language, size=7),
            zorder=6,
        )
    if entry.categories:
        _category_legend(ax, categories, language)
    else:
        colorbar = ax.figure.colorbar(collection, ax=ax, extend=extend, shrink=0.85, pad=0.02)
        colorbar.set_label(units_label(field.attrs.get("units", entry.units)))


# -- panels and series ---------------------------------------------------------------


def _product_array(source: Any, product_id: str) -> xr.DataArray:
    if isinstance(source, xr.Dataset):
        if product_id not in source.data_vars:
            raise WeatherdataError(f"{product_id}: not a variable of the dataset")
        return source[product_id]
    if isinstance(source, Mapping):
        if product_id not in source:
            raise WeatherdataError(f"{product_id}: not in the given products")
        value = source[product_id]
        if isinstance(value, xr.Dataset):
            return _product_array(value, product_id)
        return value
    raise WeatherdataError("give an xarray Dataset or a dict of product id → DataArray/Dataset")


def select_time(data: xr.DataArray, time=None) -> xr.DataArray:
    """The field at ``time`` (nearest), or the latest one when ``time`` is ``None``.

    Forecast grids (``init_time`` × ``lead_time``): the latest run whose lead times reach
    ``time`` (or the latest run's analysis when ``time`` is ``None``).
    """
    if "init_time" in data.dims and "lead_time" in data.dims:
        if time is None:
            return data.isel(init_time=-1, lead_time=0)
        wanted = np.datetime64(time, "ns")
        for index in range(data.sizes["init_time"] - 1, -1, -1):
            run = data.isel(init_time=index)
            lead = wanted - run["init_time"].values
            leads = run["lead_time"].values
            if leads.min() <= lead <= leads.max():
                return run.sel(lead_time=lead, method="nearest")
        raise WeatherdataError(f"{data.name}: no forecast run is valid at {time}")
    for dim in ("time", "day", "period"):
        if dim in data.dims:
            if time is None:
                return data.isel({dim: -1})
            return data.sel({dim: np.datetime64(time, "ns")}, method="nearest")
    return data


def plot_panels(
    dataset_or_dict: xr.Dataset | Mapping[str, xr.DataArray | xr.Dataset],
    products: list[str],
    time=None,
    ncols: int = 2,
    *,
    boundaries: Sequence[str] | str | None = ("coastline", "province", "city"),
    language: str = "auto",
    panel_size: tuple[float, float] = (6.0, 5.0),
) -> Figure:
    """Several products as maps side by side, each at ``time`` (latest by default).

    Parameters
    ----------
    dataset_or_dict
        A dataset with the products as variables (e.g. the result of
        :func:`weatherdata.derive` merged), or a dict of product id → DataArray/Dataset
        (e.g. ``{pid: weatherdata.open_product(pid, root=...) for pid in products}``).
    products
        Product ids, one panel each, in reading order.
    time
        A time (anything :class:`numpy.datetime64` reads); the nearest time of each
        product is drawn and named in its panel's title. ``None``: each product's latest.
    ncols
        Panels per row.
    boundaries, language
        As for :func:`plot_map`.
    panel_size
        Width and height of one panel, inches.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    if not products:
        raise WeatherdataError("plot_panels: name at least one product")
    if ncols < 1:
        raise WeatherdataError("plot_panels: ncols must be at least 1")
    ncols = min(ncols, len(products))
    nrows = math.ceil(len(products) / ncols)
    language = resolve_language(language)
    with _font_context(language):
        figure, axes = plt.subplots(
            nrows,
            ncols,
            figsize=(panel_size[0] * ncols, panel_size[1] * nrows),
            layout="constrained",
            squeeze=False,
        )
    for ax, product_id in zip(axes.flat, products, strict=False):
        data = select_time(_product_array(dataset_or_dict, product_id), time)
        plot_map(data, product_id, ax=ax, boundaries=boundaries, language=language)
    for ax in list(axes.flat)[len(products) :]:
        ax.set_visible(False)
    return figure


def plot_series(
    dataset_or_dict: xr.Dataset | Mapping[str, xr.DataArray | xr.Dataset],
    products: list[str],
    latitude: float,
    longitude: float,
    *,
    time: slice | tuple | None = None,
    ax: Axes | None = None,
    language: str = "auto",
) -> Axes:
    """Several products over time at the grid cell nearest ``(latitude, longitude)``.

    Products in the same units share a y axis; each further unit gets its own axis on
    the right. Times are UTC.

    Parameters
    ----------
    dataset_or_dict
        As for :func:`plot_panels`.
    products
        Product ids (on a ``time`` or ``day`` dimension).
    latitude, longitude
        The point, degrees north and east.
    time
        ``slice(start, stop)`` or ``(start, stop)`` to restrict the time range.
    ax, language
        As for :func:`plot_map`.

    Returns
    -------
    matplotlib.axes.Axes
        The first (left) axes.
    """
    import matplotlib.dates as mdates

    if not products:
        raise WeatherdataError("plot_series: name at least one product")
    language = resolve_language(language)
    with _font_context(language):
        ax = _new_axes(ax)
        axes_by_units: dict[str, Any] = {}
        lines = []
        for product_id in products:
            entry = shipped_catalog()[product_id]
            data = _product_array(dataset_or_dict, product_id)
            series = _at_point(data, latitude, longitude, entry)
            dim = next(d for d in ("time", "day", "period") if d in series.dims)
            if time is not None:
                start, stop = (time.start, time.stop) if isinstance(time, slice) else time
                series = series.sel({dim: slice(start, stop)})
            units = units_label(series.attrs.get("units", entry.units))
            if units not in axes_by_units:
                if not axes_by_units:
                    axes_by_units[units] = ax
                else:
                    twin = ax.twinx()
                    twin.spines["right"].set_position(("axes", 1 + 0.12 * (len(axes_by_units) - 1)))
                    axes_by_units[units] = twin
                axes_by_units[units].set_ylabel(units)
            target = axes_by_units[units]
            label = f"{_name(entry, language)} ({units})" if units else _name(entry, language)
            (line,) = target.plot(
                series[dim].values,
                np.asarray(series.values, dtype=float),
                label=label,
                color=f"C{len(lines)}",
                drawstyle="steps-post" if entry.categories else "default",
            )
            lines.append(line)
        ax.legend(handles=lines, prop=font_properties(language, size=8), loc="best")
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax.xaxis.get_major_locator()))
        ax.set_xlabel("UTC")
        ax.set_title(
            f"{abs(latitude):g}{'°N' if latitude >= 0 else '°S'}, "
            f"{abs(longitude):g}{'°E' if longitude >= 0 else '°W'}",
            fontsize=10,
        )
        ax.grid(alpha=0.3)
    return ax


def _at_point(data: xr.DataArray, latitude: float, longitude: float, entry) -> xr.DataArray:
    lat, lon = data["latitude"], data["longitude"]
    if lat.ndim == 1:
        if not (min(lat.values) - 1 <= latitude <= max(lat.values) + 1) or not (
            min(lon.values) - 1 <= longitude <= max(lon.values) + 1
        ):
            raise WeatherdataError(
                f"{entry.id}: ({latitude}, {longitude}) is outside the grid "
                f"({float(lat.min())}–{float(lat.max())}°N, {float(lon.min())}–{float(lon.max())}°E)"
            )
        return data.sel(latitude=latitude, longitude=longitude, method="nearest")
    scale = math.cos(math.radians(latitude))
    distance = (lat.values - latitude) ** 2 + ((lon.values - longitude) * scale) ** 2
    row, column = np.unravel_index(np.nanargmin(distance), distance.shape)
    return data.isel({lat.dims[0]: row, lat.dims[1]: column})
