"""Maps (weatherdata.plot) and the PNG exporter, on the published demo.

Colours are checked in the rendered pixels against the catalog (its colormap and
levels, its official category colours), not against the artists' own settings.
"""

from __future__ import annotations

import re
import warnings

import matplotlib
import numpy as np
import pytest
import xarray as xr
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import BoundaryNorm, Normalize, to_rgb, to_rgba
from matplotlib.figure import Figure
from PIL import Image

import weatherdata
from weatherdata.catalog import shipped_catalog
from weatherdata.cli import main
from weatherdata.errors import WeatherdataError
from weatherdata.plot import (
    cjk_font,
    plot_map,
    plot_panels,
    plot_series,
    resolve_language,
    update_map,
)

CATALOG = shipped_catalog()
GUANGZHOU = (23.13, 113.26)


# -- helpers ---------------------------------------------------------------------------


def new_axes(width=800, height=600):
    figure = Figure(figsize=(width / 100, height / 100), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure.add_subplot()


def render(figure) -> np.ndarray:
    figure.canvas.draw()
    return np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()


def colour_count(image: np.ndarray) -> int:
    """How many distinct RGB colours ``image`` holds (each packed into one integer: NumPy's
    ``unique(axis=0)`` on rows takes ~1.5 s for one 1000 x 800 image)."""
    rgb = image.reshape(-1, 3).astype(np.uint32)
    return len(np.unique(rgb[:, 0] << 16 | rgb[:, 1] << 8 | rgb[:, 2]))


def pixel(ax, image, longitude, latitude, half=4) -> tuple[int, int, int]:
    """The most frequent colour of a small square around a point (boundary lines aside)."""
    x, y = ax.transData.transform((longitude, latitude))
    row, column = round(image.shape[0] - y), round(x)
    patch = image[row - half : row + half + 1, column - half : column + half + 1].reshape(-1, 3)
    colours, counts = np.unique(patch, axis=0, return_counts=True)
    return tuple(int(c) for c in colours[counts.argmax()])


def rgb255(colour) -> tuple[int, int, int]:
    return tuple(round(255 * c) for c in to_rgb(colour))


def close(a, b, tolerance=2):
    return all(abs(int(x) - int(y)) <= tolerance for x, y in zip(a, b, strict=True))


def interior_cells(field: np.ndarray):
    """(row, column) of cells whose 8 neighbours hold the same value (safe to sample)."""
    rows, columns = field.shape
    for row in range(1, rows - 1):
        for column in range(1, columns - 1):
            block = field[row - 1 : row + 2, column - 1 : column + 2]
            if np.isfinite(block).all() and (block == field[row, column]).all():
                yield row, column


def product(root, product_id) -> xr.DataArray:
    return weatherdata.open_product(product_id, root=str(root))[product_id]


@pytest.fixture(scope="module")
def root(published_demo):
    return published_demo[0]


@pytest.fixture(autouse=True)
def _no_missing_glyphs():
    """Every drawing here must find all its glyphs (no CJK text in an English map)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*missing from font.*")
        yield


# -- continuous products -----------------------------------------------------------


def test_temperature_map_follows_the_catalog_style(root):
    data = product(root, "temperature_2m").sel(time="2026-07-26T06:00").load()
    entry = CATALOG["temperature_2m"]
    ax = plot_map(data, ax=new_axes(800, 600))
    image = render(ax.figure)

    assert image.shape == (600, 800, 3)
    assert image.std() > 20
    assert colour_count(image) > 100

    title = ax.get_title()
    assert "2 m air temperature" in title
    assert "2026-07-26 06:00 UTC (14:00 BJT)" in title

    gids = {artist.get_gid() for artist in ax.collections}
    assert {"boundary:coastline", "boundary:province", "boundary:city"} <= gids
    for collection in ax.collections:
        if str(collection.get_gid()).startswith("boundary:"):
            assert len(collection.get_segments()) > 0, collection.get_gid()
    colorbar_axes = [a for a in ax.figure.axes if a is not ax]
    assert colorbar_axes and colorbar_axes[0].get_ylabel() == "°C"

    # Pixels of cells at their catalog colour: RdYlBu_r between vmin and vmax.
    cmap = matplotlib.colormaps[entry.style.colormap]
    norm = Normalize(entry.style.vmin, entry.style.vmax)
    values = data.values
    checked = 0
    for row, column in np.argwhere(np.isfinite(values))[::9]:
        expected = rgb255(cmap(norm(values[row, column])))
        got = pixel(ax, image, data.longitude.values[column], data.latitude.values[row], half=3)
        assert close(got, expected), (row, column, got, expected)
        checked += 1
    assert checked >= 5
    aspect = ax.get_aspect()
    assert aspect == pytest.approx(1 / np.cos(np.radians(23.0)), rel=1e-6)


def test_a_map_of_the_dataset_open_product_returns(root):
    """``plot_map(weatherdata.open_product(id, root, time=...))``: the dataset as the
    notebook user has it (it raised AttributeError: 'Dataset' has no 'name'). The same
    picture as from its variable; a dataset of several products must say which."""
    opened = weatherdata.open_product("temperature_2m", str(root), time="2026-07-26T06:00")
    images = [
        render(plot_map(data, ax=new_axes()).figure) for data in (opened, opened["temperature_2m"])
    ]
    np.testing.assert_array_equal(images[0], images[1])
    ax = new_axes()
    plot_map(opened, ax=ax)
    later = weatherdata.open_product("temperature_2m", str(root), time="2026-07-26T07:00")
    update_map(ax, later)
    assert "07:00 UTC" in ax.get_title()
    both = opened.assign(dewpoint_2m=opened["temperature_2m"] - 2).drop_attrs()
    with pytest.raises(WeatherdataError, match=r"which variable.*temperature_2m, dewpoint_2m"):
        plot_map(both, ax=new_axes())
    assert plot_map(both, "dewpoint_2m", ax=new_axes()).get_title().startswith("2 m dew")


def test_precipitation_levels_and_dry_cells_left_blank(root):
    accumulation = product(root, "precipitation_accumulation_1h").load()
    entry = CATALOG["precipitation_accumulation_1h"]
    wettest = int(np.nanargmax((accumulation >= 2).sum(("latitude", "longitude")).values))
    data = accumulation.isel(time=wettest)
    ax = plot_map(data, boundaries=None, ax=new_axes())
    image = render(ax.figure)

    levels = np.asarray(entry.style.levels)
    cmap = matplotlib.colormaps[entry.style.colormap]
    norm = BoundaryNorm(levels, cmap.N, extend="max")
    values = data.values
    seen = {"dry": 0, "wet": 0}
    for row, column in np.argwhere(np.isfinite(values)):
        value = values[row, column]
        got = pixel(ax, image, data.longitude.values[column], data.latitude.values[row], half=3)
        if value < levels[0]:
            assert got == (255, 255, 255), (value, got)  # not drawn: background
            seen["dry"] += 1
        else:
            assert close(got, rgb255(cmap(norm(value)))), (value, got)
            seen["wet"] += 1
    assert seen["dry"] and seen["wet"], seen
    assert "1 h ending" in ax.get_title()


def test_vector_product_is_speed_with_arrows(root):
    data = product(root, "bunkers_right_mover_storm_motion").isel(time=60).load()
    ax = plot_map(data, ax=new_axes(), boundaries=None)
    arrows = [c for c in ax.collections if c.get_gid() == "weatherdata:arrows"]
    assert len(arrows) == 1
    mesh = next(c for c in ax.collections if c.get_gid() == "weatherdata:field")
    speed = np.hypot(data.sel(component="eastward"), data.sel(component="northward")).values
    np.testing.assert_allclose(mesh.get_array().filled(np.nan), speed, rtol=1e-6)
    assert mesh.norm.vmin == 0 and mesh.norm.vmax == 30
    np.testing.assert_allclose(arrows[0].U, data.sel(component="eastward").values.ravel())


# -- categorical products ----------------------------------------------------------


def test_warning_signal_uses_the_official_colours(root):
    signal = product(root, "rainstorm_warning_signal").load()
    entry = CATALOG["rainstorm_warning_signal"]
    levels_present = [
        len(np.unique(signal.isel(time=t).values[np.isfinite(signal.isel(time=t).values)]))
        for t in range(signal.sizes["time"])
    ]
    data = signal.isel(time=int(np.argmax(levels_present)))
    ax = plot_map(data, ax=new_axes(900, 650))
    image = render(ax.figure)
    assert image.shape == (650, 900, 3)

    legend = ax.get_legend()
    assert legend is not None
    assert [text.get_text() for text in legend.get_texts()] == [c.en for c in entry.categories]
    for handle, category in zip(legend.legend_handles, entry.categories, strict=True):
        assert handle.get_facecolor() == pytest.approx(to_rgba(category.colour))
    assert not [a for a in ax.figure.axes if a is not ax], "no colorbar for levels"

    # every level on the map is drawn in its official colour
    values = data.values
    colour = {c.value: rgb255(c.colour) for c in entry.categories}
    sampled = set()
    for row, column in interior_cells(values):
        got = pixel(ax, image, data.longitude.values[column], data.latitude.values[row])
        assert got == colour[int(values[row, column])], (values[row, column], got)
        sampled.add(int(values[row, column]))
    assert sampled, "some cells are inside an area of one level"
    # and a cell of every level on the map, at its centre
    present = np.unique(values[np.isfinite(values)])
    assert len(present) >= 3, present
    for level in present:
        row, column = np.argwhere(values == level)[0]
        got = pixel(ax, image, data.longitude.values[column], data.latitude.values[row], half=2)
        assert got == colour[int(level)], (level, got)
    assert "Rainstorm warning signal" in ax.get_title()


def test_district_table_is_a_choropleth(root):
    import shapely
    from weatherdata.products.forecast_warning.districts import _boundaries

    table = product(root, "guangzhou_district_warning_signals").load()
    entry = CATALOG["guangzhou_district_warning_signals"]
    # the time and signal with the most different levels over the districts
    spread = table.max("district") - table.min("district")
    time_index, signal_index = np.unravel_index(int(np.nanargmax(spread.values)), spread.shape)
    data = table.isel(time=time_index, signal=signal_index)
    ax = plot_map(data, ax=new_axes(700, 700), boundaries=None)
    image = render(ax.figure)
    signal_name = CATALOG[str(data.signal.values)].name.en
    assert signal_name in ax.get_title()
    colour = {c.value: rgb255(c.colour) for c in entry.categories}
    geometries = {english: geometry for _, english, geometry in _boundaries("guangzhou_districts")}
    large = ["Conghua", "Zengcheng", "Huadu", "Baiyun", "Panyu", "Nansha"]
    for district in large:
        level = int(data.sel(district=district).values)
        inside = geometries[district].representative_point()
        # a point away from the district's label
        point = (inside.x + 0.03, inside.y - 0.05)
        if not geometries[district].contains(shapely.Point(point)):
            point = (inside.x, inside.y - 0.05)
        got = pixel(ax, image, *point, half=2)
        assert got == colour[level], (district, level, got)


# -- projected grid, panels, series, update ------------------------------------------


def test_projected_grid_with_two_dimensional_coordinates():
    """A rotated grid over Guangdong on 2-D latitude/longitude (like a Lambert grid)."""
    y, x = np.mgrid[0:30, 0:40]
    angle = np.radians(20)
    longitude = 110.0 + 0.2 * (x * np.cos(angle) - y * np.sin(angle)) + 2
    latitude = 20.5 + 0.2 * (x * np.sin(angle) + y * np.cos(angle))
    values = (latitude - 20) * 5  # warmer to the north: colour follows latitude
    data = xr.DataArray(
        values.astype("float32"),
        dims=("y", "x"),
        coords={
            "latitude": (("y", "x"), latitude),
            "longitude": (("y", "x"), longitude),
            "time": np.datetime64("2026-07-26T06:00"),
        },
        name="temperature_2m",
        attrs={"units": "degC"},
    )
    ax = plot_map(data, ax=new_axes(), boundaries=("coastline", "city"))
    image = render(ax.figure)
    west, east = ax.get_xlim()
    south, north = ax.get_ylim()
    assert west < longitude.min() < longitude.max() < east
    assert south < latitude.min() < latitude.max() < north
    assert {"boundary:coastline", "boundary:city"} <= {c.get_gid() for c in ax.collections}
    cmap, norm = matplotlib.colormaps["RdYlBu_r"], Normalize(-5, 40)
    for row, column in [(5, 5), (15, 20), (25, 30)]:
        got = pixel(ax, image, longitude[row, column], latitude[row, column], half=2)
        assert close(got, rgb255(cmap(norm(values[row, column])))), (row, column, got)
    corner = pixel(ax, image, west + 0.1, north - 0.1, half=1)
    assert corner == (255, 255, 255), "outside the rotated grid nothing is drawn"


def test_panels_of_the_latest_observations(root):
    ids = ["temperature_2m", "wind_speed_10m", "precipitation_accumulation_1h"]
    products = {pid: weatherdata.open_product(pid, root=str(root)) for pid in ids}
    figure = plot_panels(products, ids, time="2026-07-26T07:00", ncols=2)
    try:
        maps = [ax for ax in figure.axes if ax.get_visible() and ax.get_title()]
        assert len(maps) == 3
        for ax, pid in zip(maps, ids, strict=True):
            assert CATALOG[pid].name.en in ax.get_title()
            assert "2026-07-26 07:00 UTC" in ax.get_title()
        latest = plot_panels(products, ids[:1])
        last = products["temperature_2m"].time.values[-1]
        stamp = str(np.datetime64(last, "m")).replace("T", " ")
        assert stamp in latest.axes[0].get_title()
    finally:
        import matplotlib.pyplot as plt

        plt.close("all")


def test_series_at_a_point(root):
    ids = ["temperature_2m", "dewpoint_2m", "wind_speed_10m"]
    products = {pid: weatherdata.open_product(pid, root=str(root)) for pid in ids}
    ax = plot_series(products, ids, *GUANGZHOU, ax=new_axes())
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    lines = [line for axes in ax.figure.axes for line in axes.get_lines()]
    assert [line.get_label() for line in lines] == labels
    assert labels == [
        "2 m air temperature (°C)",
        "2 m dewpoint temperature (°C)",
        "10 m wind speed (m/s)",
    ]
    expected = products["temperature_2m"]["temperature_2m"].sel(
        latitude=GUANGZHOU[0], longitude=GUANGZHOU[1], method="nearest"
    )
    np.testing.assert_allclose(lines[0].get_ydata(), expected.values)
    assert ax.get_ylabel() == "°C"
    assert [twin.get_ylabel() for twin in ax.figure.axes[1:]] == ["m/s"]
    with pytest.raises(WeatherdataError, match="outside the grid"):
        plot_series(products, ids[:1], 40.0, 113.0, ax=new_axes())


def test_update_map_changes_values_and_title_only(root):
    temperature = product(root, "temperature_2m").isel(time=slice(10, 12)).load()
    ax = plot_map(temperature.isel(time=0), ax=new_axes(), boundaries=None)
    before = render(ax.figure)
    update_map(ax, temperature.isel(time=1))
    after = render(ax.figure)
    mesh = next(c for c in ax.collections if c.get_gid() == "weatherdata:field")
    np.testing.assert_allclose(mesh.get_array(), temperature.isel(time=1).values)
    stamp = str(temperature.time.values[1])[11:16]
    assert f"{stamp} UTC" in ax.get_title()
    assert (before != after).any()
    with pytest.raises(WeatherdataError, match="shape"):
        update_map(ax, temperature.isel(time=1, latitude=slice(0, 5)))


# -- language, errors --------------------------------------------------------------


def test_language_auto_needs_a_real_cjk_font():
    from matplotlib import font_manager, ft2font

    found = cjk_font()
    if found is None:
        assert resolve_language("auto") == "en"
        with pytest.raises(WeatherdataError, match="no font with Chinese glyphs"):
            resolve_language("zh")
    else:
        assert resolve_language("auto") == "zh"
    # a last-resort font (a box for every code point) is never taken for Chinese
    for font in font_manager.fontManager.ttflist:
        face = ft2font.FT2Font(font.fname)
        if face.get_char_index(0x0378):
            assert found != font.name
    with pytest.raises(WeatherdataError, match="choose auto, en or zh"):
        resolve_language("fr")


def test_chinese_labels_when_a_cjk_font_is_there(root, monkeypatch):
    """The labelling (names, legend, Beijing time) with a stand-in CJK font."""
    import weatherdata.plot as plot

    # DejaVu Serif stands in for a CJK font: it lacks the glyphs (warnings ignored), but the
    # family every Chinese text is created with shows.
    monkeypatch.setattr(plot, "cjk_font", lambda: "DejaVu Serif")
    data = product(root, "rainstorm_warning_signal").isel(time=40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ax = plot_map(data, ax=new_axes(), boundaries=None, language="auto")
        render(ax.figure)
    entry = CATALOG["rainstorm_warning_signal"]
    assert entry.name.zh in ax.get_title() and "北京时" in ax.get_title()
    texts = ax.get_legend().get_texts()
    assert [t.get_text() for t in texts] == [c.zh for c in entry.categories]
    for text in [ax.title, *texts]:
        assert text.get_fontfamily() == ["DejaVu Serif", "DejaVu Sans"]


def test_user_errors(root):
    temperature = product(root, "temperature_2m")
    with pytest.raises(WeatherdataError, match=r"select one value of time \(120\)"):
        plot_map(temperature, ax=new_axes())
    with pytest.raises(WeatherdataError, match="boundaries 'rivers'"):
        plot_map(temperature.isel(time=0), ax=new_axes(), boundaries=("rivers",))
    anonymous = xr.DataArray(np.zeros((2, 2)), dims=("latitude", "longitude"), name="x")
    with pytest.raises(WeatherdataError, match="cannot tell which product"):
        plot_map(anonymous, ax=new_axes())


def test_nowcast_reflectivity_in_nws_colours():
    """Each dBZ interval in the NWS reflectivity colour of its dBZ (NWS/MetPy table)."""
    from weatherdata.plot import _continuous_scale

    cmap, norm, extend = _continuous_scale(CATALOG["nowcast_reflectivity_30min"])
    expected = {12: "#01A0F6", 37: "#FFFF00", 42: "#E7C000", 52: "#FF0000", 64: "#C00000"}
    for dbz, colour in expected.items():
        assert rgb255(cmap(norm(dbz))) == rgb255(colour), dbz
    assert extend == "max"
    assert rgb255(cmap(norm(70))) == rgb255("#FF00FF")  # above 65 dBZ
    assert cmap(norm(5))[3] == 0  # below the first level: not drawn


@pytest.mark.parametrize(
    "product_id", [pid for pid, e in CATALOG.products.items() if e.style.colormap]
)
def test_every_catalog_style_can_be_drawn(product_id):
    from weatherdata.plot import _continuous_scale

    style = CATALOG[product_id].style
    cmap, norm, extend = _continuous_scale(CATALOG[product_id])  # raises on unknown colormaps
    assert extend in ("neither", "both", "min", "max")
    assert cmap.N >= 2
    if style.levels:
        np.testing.assert_array_equal(norm.boundaries, style.levels)
        if style.extend:
            assert extend == style.extend
    else:
        assert (norm.vmin, norm.vmax) == (style.vmin, style.vmax)


# -- the exporter ------------------------------------------------------------------


def export(*arguments):
    return main(["export", *arguments, "--format", "png"])


def test_png_export_with_gif(root, tmp_path):
    out = tmp_path / "maps"
    code = export(
        "temperature_2m",
        "--root",
        str(root),
        "--time",
        "2026-07-26T00:00/2026-07-26T05:00",
        "--out",
        str(out),
        "--animate",
        "gif",
    )
    assert code == 0
    stamps = [f"20260726T0{hour}00Z" for hour in range(6)]
    pngs = sorted(out.glob("*.png"))
    assert [p.name for p in pngs] == [f"temperature_2m_{s}.png" for s in stamps]
    images = [np.asarray(Image.open(p).convert("RGB")) for p in pngs]
    for image in images:
        assert image.shape == (800, 1000, 3)
        assert colour_count(image) > 50
    assert any((images[0] != image).any() for image in images[1:])
    gif = out / "temperature_2m_20260726T0000Z_20260726T0500Z.gif"
    with Image.open(gif) as animation:
        assert animation.n_frames == 6
        assert animation.size == (1000, 800)
        animation.seek(3)
        frame = np.asarray(animation.convert("RGB"))
    # the fourth frame is the fourth PNG (255 colours are enough for these maps)
    assert (np.abs(frame.astype(int) - images[3].astype(int)) <= 8).mean() > 0.99
    assert not list(out.glob(".*partial"))


def test_png_export_of_forecast_runs(root, tmp_path):
    from weatherdata.export import ExportOptions, load_product
    from weatherdata.export.maps import PNGExporter

    entry = CATALOG["forecast_temperature_2m"]
    data = load_product(entry.id, root=str(root), time="2026-07-26T00:00")
    data = data.isel(lead_time=[0, 6, 24])
    files = PNGExporter().write(data, entry, tmp_path, ExportOptions(extra={"size": (640, 480)}))
    assert [f.name for f in files] == [
        f"forecast_temperature_2m_20260726T0000Z_f{lead:03d}.png" for lead in (0, 6, 24)
    ]
    assert Image.open(files[0]).size == (640, 480)


def test_png_export_of_a_district_table(root, tmp_path):
    out = tmp_path / "districts"
    arguments = ["guangzhou_district_warning_signals", "--root", str(root)]
    code = export(*arguments, "--time", "2026-07-27T00:00/2026-07-27T01:00", "--out", str(out))
    assert code == 0
    assert len(list(out.glob("*.png"))) == 2


def test_no_map_for_an_index_table(root, tmp_path, capsys):
    code = export("subtropical_high_indices", "--root", str(root), "--out", str(tmp_path / "x"))
    assert code != 0
    error = capsys.readouterr().err.strip()
    assert "has no map" in error and len(error.splitlines()) == 1
    assert not list((tmp_path / "x").rglob("*.png"))


def test_mp4_without_ffmpeg_is_a_clear_error(root, tmp_path, capsys, monkeypatch):
    import weatherdata.export.maps as maps

    monkeypatch.setattr(maps.shutil, "which", lambda name: None)
    out = tmp_path / "movie"
    arguments = [
        "temperature_2m",
        "--root",
        str(root),
        "--time",
        "2026-07-26T00:00/2026-07-26T01:00",
    ]
    code = export(*arguments, "--out", str(out), "--animate", "mp4")
    assert code != 0
    error = capsys.readouterr().err.strip()
    assert "ffmpeg" in error and len(error.splitlines()) == 1 and "Traceback" not in error
    assert not list(out.rglob("*.*")), "nothing written before the error"
    code = export(*arguments, "--out", str(out), "--animate", "avi")
    assert code != 0 and "choose gif or mp4" in capsys.readouterr().err


def test_a_failed_export_leaves_no_partial_file(root, tmp_path, monkeypatch):
    import weatherdata.export.maps as maps

    real_save = Image.Image.save
    calls = {"n": 0}

    def failing_save(self, fp, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            with open(fp, "wb") as handle:
                handle.write(b"\x89PNG half an image")
            raise OSError("disk full")
        return real_save(self, fp, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", failing_save)
    out = tmp_path / "failed"
    out.mkdir()
    data = weatherdata.open_product(
        "temperature_2m", root=str(root), time=slice("2026-07-26T00:00", "2026-07-26T04:00")
    )
    with pytest.raises(OSError, match="disk full"):
        maps.PNGExporter().write(data, CATALOG["temperature_2m"], out, maps.ExportOptions())
    names = sorted(p.name for p in out.iterdir())
    assert names == ["temperature_2m_20260726T0000Z.png", "temperature_2m_20260726T0100Z.png"]
    for name in names:
        Image.open(out / name).verify()  # complete images only
    assert not [n for n in names if re.search(r"partial", n)]


# Every product: ~0.4 s a map after the first (the boundaries, then cached).
@pytest.mark.slow
@pytest.mark.parametrize("product_id", sorted(CATALOG.products))
def test_published_products_have_a_map_or_say_why(root, tmp_path, product_id):
    from weatherdata.export import ExportOptions, load_product
    from weatherdata.export.maps import PNGExporter

    entry = CATALOG[product_id]
    data = load_product(product_id, root=str(root))
    for dim in ("time", "day", "period", "init_time", "lead_time"):
        if dim in data.dims:
            data = data.isel({dim: [data.sizes[dim] // 2]})
    if "latitude" not in data.coords and not {"district", "city"} & set(data.dims):
        with pytest.raises(WeatherdataError, match="has no map"):
            PNGExporter().write(data, entry, tmp_path, ExportOptions())
        return
    (image,) = PNGExporter().write(data, entry, tmp_path, ExportOptions())
    pixels = np.asarray(Image.open(image).convert("RGB"))
    assert pixels.std() > 10 and colour_count(pixels) > 20
