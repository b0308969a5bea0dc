"""PNG maps: one image per time step, optionally an animation over the time range.

Each frame is drawn by :func:`weatherdata.plot.plot_map` with the product's declared
style (colormap and levels, or the official colours of its categories), boundaries from
cnmaps' offline data and the valid time in UTC and Beijing time in the title.

Files, in the destination directory:

* ``<id>_<YYYYmmddTHHMMZ>.png`` — one per time step (``time``; the start of the day for
  ``day``, of the period for ``period``), or ``<id>.png`` for a product without time;
* ``<id>_<run YYYYmmddTHHMMZ>_f<HHH>.png`` — forecast grids (``init_time`` ×
  ``lead_time``): one per run and lead time (``f006`` = 6 h), valid time in the title;
* ``<id>_<first>_<last>.gif`` (or ``.mp4``) with ``--animate``: every frame above, in
  order, half a second each. MP4 needs ``ffmpeg`` on the ``PATH``.

Per-district tables (``guangzhou_district_warning_signals``, ``guangdong_city_warning_signals``)
are drawn as filled district polygons, one panel per signal in force at some time of the
exported range (one panel of "no signal" when none is). A product whose other dimensions
are not a map (``component`` pairs are drawn as arrows) gets one panel per value of them.
Products with no latitude/longitude and no districts (``subtropical_high_indices``) have
no map: that is an error, with the formats that suit them.

Every file is written through :func:`~weatherdata.export.atomic_output`: an interrupted
export leaves complete files only, never a ``.partial`` one or a half-written image.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import xarray as xr

from ..catalog import ProductEntry
from ..errors import WeatherdataError
from ..plot import font_properties
from . import Exporter, ExportOptions, atomic_output

__all__ = ["PNGExporter", "frame_name"]

#: Default image size in pixels (width, height) of a one-panel map.
DEFAULT_SIZE = (1000, 800)
_PANEL_SIZE = (620, 520)
_DPI = 100
_FRAME_SECONDS = 0.5
_ANIMATIONS = ("gif", "mp4")
_TIME_DIMENSIONS = ("time", "day", "period")
_TABLE_DIMENSIONS = ("district", "city")
# Selections up to this size are read once; larger ones a frame at a time.
_LOAD_AT_ONCE_BYTES = 256 * 2**20


def frame_name(moment: np.datetime64) -> str:
    """``2026-07-27T06:00`` → ``20260727T0600Z`` (UTC, minutes)."""
    text = str(np.datetime64(moment, "m"))
    return text.replace("-", "").replace(":", "") + "Z"


def _lead_name(lead: np.timedelta64) -> str:
    minutes = int(lead / np.timedelta64(1, "m"))
    if minutes % 60 == 0:
        return f"f{minutes // 60:03d}"
    return f"f{minutes // 60:03d}h{minutes % 60:02d}m"


class PNGExporter(Exporter):
    """Maps as PNG images, one per time step; ``--animate gif`` or ``mp4`` for a loop.

    Options read: ``animate``, ``language``; ``extra["size"]`` = ``(width, height)`` in
    pixels of every image (default 1000 × 800 for one panel), ``extra["boundaries"]`` =
    the boundary layers of :func:`weatherdata.plot.plot_map`.
    """

    name = "png"
    suffix = ".png"
    description = "Maps, one PNG per time step, official warning colours (--animate gif|mp4)"
    many_files = True

    def write(
        self, data: xr.Dataset, entry: ProductEntry, destination: Path, options: ExportOptions
    ) -> list[Path]:
        from ..plot import resolve_language

        animate = _animation(options.animate)
        language = resolve_language(options.language)
        array = data[entry.id]
        frames = list(_frames(array, entry))
        panels = _panels(array, entry)
        size = _size(options, len(panels))
        boundaries = options.extra.get("boundaries", ("coastline", "province", "city"))
        if any(dim in array.dims for dim in _TABLE_DIMENSIONS):
            boundaries = options.extra.get("boundaries", ("coastline",))
        if array.nbytes <= _LOAD_AT_ONCE_BYTES:
            array = array.load()  # one read instead of one per frame (chunks span times)
        maps = _MapFigure(size, entry, panels, boundaries, language)
        written: list[Path] = []
        gif_frames = []
        for stem, selection in frames:
            path = destination / f"{stem}.png"
            maps.show(array.isel(selection).load())
            image = maps.render()
            with atomic_output(path) as temporary:
                image.save(temporary, format="PNG")
            written.append(path)
            if animate == "gif":
                gif_frames.append(_palette(image))
        if animate and len(written) > 1:
            first, last = written[0].stem, written[-1].stem
            span = f"{first}_{last.removeprefix(entry.id + '_')}"
            movie = destination / f"{span}.{animate}"
            if animate == "gif":
                _write_gif(gif_frames, movie)
            else:
                _write_mp4(written, movie)
            written.append(movie)
        return written


# -- what to draw --------------------------------------------------------------------


def _animation(animate: str | None) -> str | None:
    if animate is None or animate == "":
        return None
    if animate not in _ANIMATIONS:
        raise WeatherdataError(f"--animate {animate!r}: choose gif or mp4")
    if animate == "mp4" and shutil.which("ffmpeg") is None:
        raise WeatherdataError(
            "--animate mp4 needs ffmpeg, which is not installed (not on PATH); "
            "install it or use --animate gif"
        )
    return animate


def _horizontal(array: xr.DataArray, entry: ProductEntry) -> tuple[str, ...]:
    if "latitude" in array.coords and "longitude" in array.coords:
        latitude = array["latitude"]
        return tuple(dict.fromkeys((*latitude.dims, *array["longitude"].dims)))
    table = [dim for dim in _TABLE_DIMENSIONS if dim in array.dims]
    if table:
        return tuple(table)
    raise WeatherdataError(
        f"{entry.id}: has no map (no latitude/longitude and no districts; dimensions "
        f"{', '.join(map(str, array.dims))}); export it as csv or netcdf"
    )


def _frames(array: xr.DataArray, entry: ProductEntry) -> Iterator[tuple[str, dict]]:
    """``(file stem, isel selection)`` of every frame, in time order."""
    _horizontal(array, entry)
    if "init_time" in array.dims and "lead_time" in array.dims:
        for run_index, run in enumerate(array["init_time"].values):
            for lead_index, lead in enumerate(array["lead_time"].values):
                stem = f"{entry.id}_{frame_name(run)}_{_lead_name(lead)}"
                yield stem, {"init_time": run_index, "lead_time": lead_index}
        return
    dim = next((d for d in _TIME_DIMENSIONS if d in array.dims), None)
    if dim is None:
        yield entry.id, {}
        return
    for index, moment in enumerate(array[dim].values):
        yield f"{entry.id}_{frame_name(moment)}", {dim: index}


def _panels(array: xr.DataArray, entry: ProductEntry) -> list[dict]:
    """One ``sel`` selection per panel: the values of the dimensions that are not a map."""
    horizontal = set(_horizontal(array, entry))
    fixed = {"init_time", "lead_time", "component", *_TIME_DIMENSIONS, *horizontal}
    others = [dim for dim in array.dims if dim not in fixed]
    if not others:
        return [{}]
    panels = [{}]
    for dim in others:
        values = list(array[dim].values)
        if dim == "signal" and entry.categories:
            values = _signals_in_force(array, entry) or [None]
        panels = [{**panel, dim: value} for panel in panels for value in values]
    return panels


def _signals_in_force(array: xr.DataArray, entry: ProductEntry) -> list:
    """The signals above their lowest level somewhere at some time, in catalog order."""
    lowest = min(category.value for category in entry.categories)
    reduce = [dim for dim in array.dims if dim != "signal"]
    in_force = (array > lowest).any(dim=reduce).compute()
    return [value for value, on in zip(array["signal"].values, in_force.values, strict=True) if on]


def _size(options: ExportOptions, panels: int) -> tuple[int, int]:
    size = options.extra.get("size")
    if size is not None:
        try:
            width, height = (int(value) for value in size)
        except (TypeError, ValueError):
            raise WeatherdataError(f"png size {size!r}: give (width, height) in pixels") from None
        if width < 200 or height < 150:
            raise WeatherdataError(f"png size {size!r}: at least 200 × 150 pixels")
        return width, height
    if panels == 1:
        return DEFAULT_SIZE
    columns = min(3, panels)
    rows = math.ceil(panels / columns)
    return _PANEL_SIZE[0] * columns, _PANEL_SIZE[1] * rows


# -- drawing -------------------------------------------------------------------------


class _MapFigure:
    """The figure of an export: drawn in full for the first frame, then only updated.

    Later frames change the field values, arrows and titles in place
    (:func:`weatherdata.plot.update_map`) with the layout of the first frame kept, so
    every frame has the same size and placement (an animation does not jump) and costs
    a fraction of a full drawing.
    """

    def __init__(self, size, entry, panels: list[dict], boundaries, language: str):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        # A bare Figure on the Agg canvas: no pyplot, no GUI backend, nothing kept alive
        # after the export.
        self.figure = Figure(
            figsize=(size[0] / _DPI, size[1] / _DPI), dpi=_DPI, layout="constrained"
        )
        FigureCanvasAgg(self.figure)
        self.entry = entry
        self.boundaries = boundaries
        self.language = language
        self.collapse_signals = panels == [{"signal": None}]
        self.panels = [{}] if self.collapse_signals else panels
        self.axes: list = []
        self.heading = None

    def render(self):
        """The figure as a PIL image (RGBA). The first call fixes the layout for the rest."""
        from matplotlib.layout_engine import PlaceHolderLayoutEngine
        from PIL import Image

        self.figure.canvas.draw()
        if not isinstance(self.figure.get_layout_engine(), PlaceHolderLayoutEngine):
            self.figure.set_layout_engine("none")  # keep the first frame's layout
        width, height = self.figure.canvas.get_width_height()
        return Image.frombuffer(
            "RGBA", (width, height), self.figure.canvas.buffer_rgba(), "raw", "RGBA", 0, 1
        ).copy()

    def show(self, field: xr.DataArray) -> None:
        from ..plot import plot_map, time_label, update_map

        if self.collapse_signals:
            # No signal in force over the whole range: the highest level of all signals.
            field = field.max("signal", keep_attrs=True)
        several = len(self.panels) > 1
        first = not self.axes
        if first:
            if several:
                columns = min(3, len(self.panels))
                rows = math.ceil(len(self.panels) / columns)
                grid = self.figure.subplots(rows, columns, squeeze=False)
                # Room between rows for the panel titles (maps of fixed aspect).
                self.figure.get_layout_engine().set(hspace=0.06)
                for ax in list(grid.flat)[len(self.panels) :]:
                    ax.set_visible(False)
                self.axes = list(grid.flat)[: len(self.panels)]
            else:
                self.axes = [self.figure.add_subplot()]
        for ax, panel in zip(self.axes, self.panels, strict=True):
            title = _panel_title(panel, self.language) if several else None
            if first:
                plot_map(
                    field.sel(panel),
                    self.entry,
                    ax=ax,
                    boundaries=self.boundaries,
                    language=self.language,
                    title=title,
                )
            else:
                update_map(ax, field.sel(panel), self.entry, language=self.language, title=title)
        if not several:
            return
        name = self.entry.name.zh if self.language == "zh" else self.entry.name.en
        when = time_label(field, self.entry, self.language)
        heading = f"{name}\n{when}" if when else name
        if first:
            self.heading = self.figure.suptitle(
                heading, fontproperties=font_properties(self.language, size=11)
            )
            if self.entry.categories:
                self._one_legend()
        else:
            # set_text, not suptitle(): that would move it back over the frozen layout.
            self.heading.set_text(heading)

    def _one_legend(self) -> None:
        """One legend of the levels under the panels instead of one beside each."""
        legends = [ax.get_legend() for ax in self.axes if ax.get_legend() is not None]
        if not legends:
            return
        handles = legends[0].legend_handles
        labels = [text.get_text() for text in legends[0].get_texts()]
        for legend in legends:
            legend.remove()
        legend = self.figure.legend(
            handles,
            labels,
            loc="outside lower center",
            ncols=len(handles),
            frameon=False,
            prop=font_properties(self.language, size=9),
        )
        legend.set_gid("weatherdata:legend")


def _panel_title(panel: dict, language: str) -> str:
    from ..catalog import shipped_catalog

    catalog = shipped_catalog()
    parts = []
    for dim, value in panel.items():
        value = str(value)
        if dim == "signal" and value in catalog:
            names = catalog[value].name
            parts.append(names.zh if language == "zh" else names.en)
        else:
            parts.append(f"{dim} {value}")
    return ", ".join(parts)


# -- animations ----------------------------------------------------------------------


def _palette(image):
    """An RGB(A) frame as a 255-colour palette image (maps have few colours: exact)."""
    from PIL import Image

    return image.convert("RGB").quantize(colors=255, dither=Image.Dither.NONE)


def _write_gif(frames: list, movie: Path) -> None:
    with atomic_output(movie) as temporary:
        frames[0].save(
            temporary,
            format="GIF",
            save_all=True,
            append_images=frames[1:],
            duration=round(_FRAME_SECONDS * 1000),
            loop=0,
            disposal=1,
        )


def _write_mp4(frames: list[Path], movie: Path) -> None:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:  # checked before any frame was drawn; PATH may have changed since
        raise WeatherdataError("--animate mp4 needs ffmpeg, which is not installed")
    command = [
        ffmpeg,
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "image2pipe",
        "-framerate",
        f"{1 / _FRAME_SECONDS:g}",
        "-i",
        "-",
        "-vf",
        "pad=ceil(iw/2)*2:ceil(ih/2)*2",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-f",
        "mp4",
    ]
    with atomic_output(movie) as temporary:
        process = subprocess.Popen(
            [*command, str(temporary)], stdin=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            for frame in frames:
                process.stdin.write(frame.read_bytes())
        except BrokenPipeError:
            pass
        finally:
            process.stdin.close()
        error = process.stderr.read().decode(errors="replace").strip()
        if process.wait() != 0:
            last = error.splitlines()[-1] if error else f"exit code {process.returncode}"
            raise WeatherdataError(f"{movie.name}: ffmpeg failed: {last}")
