"""The ``weatherdata`` command line: demo, publish, catalog (and more as they land).

User errors (:class:`~weatherdata.errors.WeatherdataError`) print one line and exit
non-zero; only bugs show a traceback.
"""

from __future__ import annotations

import contextlib
import errno
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ._version import __version__
from .errors import WeatherdataError

app = typer.Typer(
    name="weatherdata",
    help="Turn observation and forecast grids into 243 weather products, published as Zarr v3.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
catalog_app = typer.Typer(help="Browse the product catalog.", no_args_is_help=True)
app.add_typer(catalog_app, name="catalog")
console = Console()


def _add_id_column(table: Table, header: str, ids) -> None:
    """A column of product ids, each whole on one line (ids are what one copies into the
    next command; rich would otherwise fold or cut them to fit the terminal)."""
    table.add_column(header, no_wrap=True, min_width=max(map(len, ids), default=len(header)))


errors = Console(stderr=True)


def _counted(count: int, noun: str) -> str:
    """``1 product``, ``2 products``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _version(value: bool):
    if value:
        console.print(f"weatherdata {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
):
    """weatherdata command line."""


# -- catalog ---------------------------------------------------------------------


@catalog_app.command("list")
def catalog_list(
    family: Annotated[
        str | None, typer.Option(help="observation, forecast_warning or service")
    ] = None,
    uses: Annotated[
        str | None,
        typer.Option(
            "--uses", "--input", help="Only products that need this canonical input variable"
        ),
    ] = None,
    ids_only: Annotated[bool, typer.Option("--ids", help="Print ids only, one per line")] = False,
):
    """List the products in the catalog."""
    from .catalog import FAMILIES, shipped_catalog

    catalog = shipped_catalog()
    if family and family not in FAMILIES:
        raise WeatherdataError(f"unknown family {family!r} (choose from {', '.join(FAMILIES)})")
    entries = catalog.select(family=family, uses=uses)
    if ids_only:
        for entry in entries:
            print(entry.id)
        return
    table = Table(title=_counted(len(entries), "product"), show_lines=False)
    _add_id_column(table, "id", [entry.id for entry in entries])  # the names wrap
    for column in ("family", "name", "名称", "units"):
        table.add_column(column, overflow="fold")
    for entry in entries:
        table.add_row(entry.id, entry.family, entry.name.en, entry.name.zh, entry.units or "")
    console.print(table)


@catalog_app.command("show")
def catalog_show(product_id: str):
    """Show one catalog entry: inputs, parameters with sources, CF attributes."""
    import yaml

    from .catalog import shipped_catalog

    catalog = shipped_catalog()
    entry = catalog[product_id]
    data = entry.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    data = {"id": entry.id, "family": entry.family, **data}
    console.print(yaml.safe_dump(data, allow_unicode=True, sort_keys=False).rstrip())
    needed = sorted(catalog.canonical_inputs(entry.id))
    console.print(f"[bold]canonical inputs[/bold]: {', '.join(needed)}")
    for key in sorted({p.source for p in entry.parameters.values()} | set(entry.references)):
        if key in catalog.references:
            console.print(f"[bold]{key}[/bold]: {catalog.references[key]}")


# -- demo ------------------------------------------------------------------------


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Directory to write the demo input files into")] = Path(
        "weatherdata-demo/input"
    ),
    resolution: Annotated[
        float,
        typer.Option(
            help="Grid spacing in degrees (default 0.2 runs all 243 products in a few minutes; 0.01 for 1 km-class grids)"
        ),
    ] = 0.2,
    days: Annotated[int, typer.Option(help="Number of days (at least 4 for 72 h windows)")] = 5,
    scenario: Annotated[
        str, typer.Option(help="summer (heat, fog, convection, typhoon) or winter (cold surge)")
    ] = "summer",
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same bytes)")] = 20260725,
):
    """Write the built-in Guangdong demo dataset as input files (NetCDF, CSV)."""
    from .demo import write_demo

    started = time.monotonic()
    manifest = write_demo(out, resolution=resolution, days=days, scenario=scenario, seed=seed)
    files = getattr(manifest, "files", None) or getattr(manifest, "paths", [])
    console.print(f"wrote {len(files)} demo files to {out} in {time.monotonic() - started:.1f} s")


# -- publish ---------------------------------------------------------------------


def _parse_settings(settings: list[str] | None) -> dict:
    out: dict[str, dict[str, str]] = {}
    for setting in settings or []:
        key, sep, value = setting.partition("=")
        product, dot, name = key.partition(".")
        if not sep or not dot or not value:
            raise WeatherdataError(
                f"--set {setting!r}: expected PRODUCT.PARAMETER=VALUE, e.g. heat_warning_signal.yellow_threshold='36 degC'"
            )
        out.setdefault(product, {})[name] = value
    return out


def _parse_time(text: str | None, option: str):
    """An option's time as UTC ``datetime64[s]``, read as ``export`` reads its times: UTC
    unless it carries its offset (``2026-07-27T14:00+08:00`` is 06:00 UTC)."""
    if text is None:
        return None
    from .export import _utc_time

    try:
        return _utc_time(text, text)
    except WeatherdataError:
        raise WeatherdataError(
            f"{option} {text!r}: not an ISO time such as 2026-07-27T06:00 (UTC) or "
            "2026-07-27T14:00+08:00"
        ) from None


def _parse_window(text: str | None):
    if text is None:
        return None
    import pandas as pd

    try:
        length = pd.Timedelta(text)
    except ValueError:
        length = None
    if length is None or length <= pd.Timedelta(0):
        raise WeatherdataError(f"--window {text!r}: not a positive duration such as 7d or 12h")
    return length


def _check_needed_inputs(catalog, selected, observations, forecast) -> None:
    """Refuse an input the products need that has no valid value in some file (all NaN, or
    all outside the plausible range, e.g. kelvin labelled degC): it would publish empty
    stores. One Dask pass over the needed variables (:func:`weatherdata.ingest.check_inputs`)."""
    from . import ingest
    from .engine import missing_inputs

    ids = selected or list(catalog.products)
    lacking = missing_inputs(catalog, ids, observations, forecast)
    needed = {name for pid in ids if pid not in lacking for name in catalog.canonical_inputs(pid)}
    for dataset, names in (
        (observations, {n for n in needed if not n.startswith("forecast:")}),
        (forecast, {n.removeprefix("forecast:") for n in needed if n.startswith("forecast:")}),
    ):
        present = sorted(n for n in names if dataset is not None and n in dataset.data_vars)
        if present:
            ingest.check_inputs(dataset, present)


@contextlib.contextmanager
def _dask_cluster(workers: int | None, scheduler: str | None):
    if not workers and not scheduler:
        yield None
        return
    import dask
    from distributed import Client, LocalCluster

    # Peer-to-peer rechunking lost its barrier's dependencies inside the single graph that
    # writes every store ("lost dependencies"); task-based rechunking is robust there.
    with dask.config.set({"array.rechunk.method": "tasks"}):
        from ._pickling import worker_setup_plugin

        if scheduler:
            with Client(scheduler) as client:
                client.register_plugin(worker_setup_plugin())
                yield client
            return
        with (
            LocalCluster(
                n_workers=workers, threads_per_worker=1, dashboard_address=None
            ) as cluster,
            Client(cluster) as client,
        ):
            client.register_plugin(worker_setup_plugin())
            yield client


def _print_skipped(console, skipped: dict[str, str]) -> None:
    """The products a publish did not write, under two headings: stores kept as they were
    published (more complete than what these inputs derive) and products the inputs do not
    allow; one line per reason."""
    from .publication import KEPT_AS_PUBLISHED

    kept = {p: r for p, r in skipped.items() if r.startswith(KEPT_AS_PUBLISHED)}
    for heading, reasons in (
        (f"kept {_counted(len(kept), 'store')} as they were published:", kept),
        (
            f"skipped {_counted(len(skipped) - len(kept), 'product')} the inputs do not allow:",
            {p: r for p, r in skipped.items() if p not in kept},
        ),
    ):
        if not reasons:
            continue
        by_reason: dict[str, list[str]] = {}
        for product_id, reason in sorted(reasons.items()):
            by_reason.setdefault(reason.removeprefix(f"{KEPT_AS_PUBLISHED}: "), []).append(
                product_id
            )
        console.print(heading)
        for reason, ids in sorted(by_reason.items(), key=lambda item: -len(item[1])):
            shown = ", ".join(ids[:6]) + (f" and {len(ids) - 6} more" if len(ids) > 6 else "")
            console.print(f"  {reason}: {shown}", highlight=False, soft_wrap=True)


@app.command()
def publish(
    inputs: Annotated[
        list[str],
        typer.Argument(help="Input files, globs, URLs or directories (e.g. the demo directory)"),
    ],
    root: Annotated[
        str, typer.Option(help="Output root directory for the product stores and the STAC index")
    ] = "weatherdata-demo/products",
    products: Annotated[
        str | None, typer.Option(help="Comma-separated product ids (default: all the inputs allow)")
    ] = None,
    family: Annotated[str | None, typer.Option(help="Only this family")] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a parameter: PRODUCT.PARAMETER=VALUE"),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Run on a local Dask distributed cluster with N workers")
    ] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="Address of a running Dask scheduler (tcp://host:8786)")
    ] = None,
    wait: Annotated[
        float, typer.Option(help="Seconds to wait if another publisher holds the root")
    ] = 0.0,
    since: Annotated[
        str | None,
        typer.Option(
            help="Publish only times from this one (ISO; UTC unless it has an offset such as +08:00); earlier inputs still feed windows"
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(help="Publish only times up to this one (ISO; UTC unless it has an offset)"),
    ] = None,
    endpoint_url: Annotated[
        str | None,
        typer.Option(
            envvar="AWS_ENDPOINT_URL",
            help="S3-compatible endpoint for s3:// roots (credentials from the usual AWS variables)",
        ),
    ] = None,
    window: Annotated[
        str | None,
        typer.Option(
            help="Publish the time range in windows of this length (e.g. 7d, 12h), each from the "
            "inputs it needs: memory follows the window, not the record"
        ),
    ] = None,
):
    """Ingest INPUTS, derive products and publish them atomically as Zarr v3 stores."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from . import ingest
    from .catalog import shipped_catalog
    from .publication import publish as publish_products
    from .publication import publish_in_windows

    catalog = shipped_catalog()
    selected = [p.strip() for p in products.split(",") if p.strip()] if products else None
    if family:
        selected = [e.id for e in catalog.select(selected, family=family)]
    for pid in selected or []:
        catalog[pid]
    settings = _parse_settings(set_)
    first, last = _parse_time(since, "--since"), _parse_time(until, "--until")
    window_length = _parse_window(window)
    if first is not None and last is not None and first > last:
        raise WeatherdataError(f"--since {since!r} is after --until {until!r}: nothing to publish")
    if "://" not in root and Path(root).exists() and not Path(root).is_dir():
        raise WeatherdataError(f"--root {root}: not a directory")
    files = ingest.input_files(inputs)
    if window_length is None:
        observations, forecast = ingest.open_inputs(inputs)
        _check_needed_inputs(catalog, selected, observations, forecast)
        windowed = {}
    else:  # each window opens (and checks) the files it needs
        observations = forecast = None
        windowed = {
            "window": window_length,
            "sources": files,
            "check_inputs": lambda o, f: _check_needed_inputs(catalog, selected, o, f),
        }
    started = time.monotonic()
    with (
        _dask_cluster(workers, scheduler),
        Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        ) as bar,
    ):
        tasks = {}

        def progress(stage, done, total):
            label = {
                "window": "time windows",
                "prepare": "planning stores",
                "compute": "computing and writing",
            }[stage]
            if stage not in tasks:
                tasks[stage] = bar.add_task(label, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        publisher = publish_products if window_length is None else publish_in_windows
        summary = publisher(
            observations,
            root,
            selected,
            forecast=forecast,
            parameters=settings,
            input_files=files,
            wait=wait,
            progress=progress,
            since=_parse_time(since, "--since"),
            until=_parse_time(until, "--until"),
            storage_options={"client_kwargs": {"endpoint_url": endpoint_url}}
            if endpoint_url
            else None,
            **windowed,
        )
    _print_published(summary, root)
    _print_skipped(console, summary.skipped)
    console.print(
        f"{_counted(len(summary.stores), 'store')}, {summary.total_bytes / 1e6:.1f} MB in {time.monotonic() - started:.1f} s. "
        f"STAC catalog: {_under_root(root, 'catalog.json')}"
    )
    # An example to copy: a store this publish wrote (2 m temperature where there is one).
    example = next((s for s in summary.stores if s.product == "temperature_2m"), None)
    example = example or (summary.stores[0] if summary.stores else None)
    if example is not None:
        # One line each, however narrow the terminal (it wraps them, a copy keeps them whole).
        console.print("Open one with plain xarray:")
        console.print("  import xarray as xr", soft_wrap=True)
        console.print(
            f"  xr.open_zarr('{example.path}', consolidated=True, zarr_format=3)", soft_wrap=True
        )


#: What a store's publish did, as the closing summary says it.
_ACTIONS = {"create": "created", "replace": "replaced", "append": "appended"}


def _print_published(summary, root) -> None:
    """The stores a publish wrote, one table per family (ids whole: they fit 80 columns
    beside their time steps and size). What was done to them is said once when it was the
    same for all (a first publish creates every store, an hourly run appends to each), and
    otherwise splits each family's table by it (a column would not fit 80 columns)."""
    from .catalog import FAMILIES

    stores = summary.stores
    actions = {store.action for store in stores}
    heading = f"published {_counted(len(stores), 'product')} to {root}"
    if len(actions) == 1:
        (action,) = actions
        heading += f": every store {_ACTIONS.get(action, action)}"
    console.print(heading)
    groups: dict[tuple, list] = {}
    for store in stores:
        groups.setdefault((store.family, store.action if len(actions) > 1 else ""), []).append(
            store
        )
    family_order = {family: index for index, family in enumerate(FAMILIES)}
    action_order = {action: index for index, action in enumerate(_ACTIONS)}
    for (family, action), members in sorted(
        groups.items(),
        key=lambda group: (
            family_order.get(group[0][0], len(family_order)),
            action_order.get(group[0][1], len(action_order)),
        ),
    ):
        title = f"{family}, {_ACTIONS.get(action, action)}" if action else family
        table = Table(title=f"{title} ({len(members)})", title_justify="left")
        _add_id_column(table, "product", [store.product for store in members])
        table.add_column("time steps", justify="right")
        table.add_column("MB", justify="right")
        for store in members:
            table.add_row(store.product, str(store.time_steps), f"{store.bytes / 1e6:.2f}")
        console.print(table)


def _under_root(root: str, relative: str) -> str:
    """``relative`` under a publication root, a directory or a URL (``s3://bucket/prefix``:
    ``Path`` would make it ``s3:/bucket``), joined as the readers join it."""
    from .access import _join

    return _join(str(root), relative)


@app.command()
def verify(
    inputs: Annotated[
        list[str],
        typer.Argument(help="Observation and forecast inputs (files, globs, directories)"),
    ],
    products: Annotated[
        str | None, typer.Option(help="Comma-separated warning-signal ids (default: all signals)")
    ] = None,
    csv: Annotated[Path | None, typer.Option(help="Also write the table as CSV")] = None,
):
    """POD, FAR and CSI of each warning signal and level against the observed events."""
    from . import ingest
    from .verification import signal_verification

    observations, forecast = ingest.open_inputs(inputs)
    if observations is None:
        raise WeatherdataError("verification needs observations among the inputs")
    selected = [p.strip() for p in products.split(",") if p.strip()] if products else None
    with console.status("verifying warning signals against observed events"):
        table = signal_verification(observations, forecast, products=selected)
    if csv is not None:
        table.to_csv(csv, index=False)
    view = Table(title="Warning-signal verification (hits, misses, false alarms; POD, FAR, CSI)")
    for column in table.columns:
        if column == "signal":
            _add_id_column(view, column, [str(signal) for signal in table[column]])
        else:
            view.add_column(str(column))
    for row in table.itertuples(index=False):
        view.add_row(*[f"{v:.2f}" if isinstance(v, float) else str(v) for v in row])
    console.print(view)


@app.command(
    # One paragraph a string: Typer keeps a docstring's line breaks, which the terminal's
    # own wrapping then breaks again mid-line.
    help="Latest valid time and latest complete valid time per published product.\n\n"
    "A daily product shows the END of its last (complete) day, and is judged against the "
    "last day boundary at or before the newest observation; a forecast store is judged "
    'against the newest run among the root\'s forecast stores. "n/a": not checked (the '
    "catalog declares the product missing by definition in places, so it is judged on its "
    "last step; or the store has no time axis, e.g. `period`)."
)
def status(
    root: Annotated[Path, typer.Argument(help="Publication root")],
    stale_after: Annotated[
        str | None,
        typer.Option(
            help="Flag products whose data end more than this before the newest observation "
            "(daily products: the last day boundary; forecasts: the newest run) (e.g. '2 h'); "
            "exit 1 if any"
        ),
    ] = None,
):
    """Latest valid time and latest complete valid time per published product (the
    command's help says more)."""
    import numpy as np

    from .publication import status as product_status

    if not root.is_dir():
        raise WeatherdataError(f"{root}: not a directory")
    rows = product_status(root, stale_after=stale_after)
    if not rows:
        raise WeatherdataError(f"{root}: no published products")

    def shown(row, time: str | None) -> str | None:
        if time is None or row.time_dimension != "day":
            return time
        end = np.datetime64(time.rstrip("Z"), "s") + np.timedelta64(1, "D")
        return np.datetime_as_string(end, unit="s") + "Z"

    counted = {"day": "days", "init_time": "runs"}
    caption = (
        "steps in days: last and last complete are the END of the day (its label + 24 h); "
        "n/a: not checked (missing by definition in places, or no time axis)"
    )
    cells = []
    for row in rows:
        if row.stale is None:
            state = "n/a" if stale_after and row.time_dimension is None else "ok"
        else:
            state = "[red]stale[/red]" if row.stale else "ok"
        if not row.completeness_checked:
            complete = "n/a"
        else:
            complete = shown(row, row.last_complete_time) or "none"
        steps = f"{row.time_steps} {counted.get(row.time_dimension, '')}".strip()
        times = (row.first_time or "", shown(row, row.last_time) or "", complete)
        cells.append((row.product, row.family, *times, steps, state))
    table = Table(title=f"{_counted(len(rows), 'product')} in {root}", caption=caption)
    for column in ("product", "family", "first", "last", "last complete"):
        table.add_column(column, no_wrap=True)
    table.add_column("steps", no_wrap=True)
    table.add_column("state", no_wrap=True, min_width=5)  # "stale" whole, the point of it
    for row in cells:
        table.add_row(*row)
    from rich.measure import Measurement

    unbounded = console.options.update_width(10_000)
    if Measurement.get(console, unbounded, table).maximum > console.width:
        # Too narrow for a row per product (ids up to 51 characters and three times):
        # the id whole on its line, family and times (as messages show them: to the
        # minute) below it, wrapped between words.
        from .export import _time_text

        def minutes(text: str) -> str:  # "n/a", "none" and "" as they are
            return _time_text(np.datetime64(text.rstrip("Z"))) if text[:1].isdigit() else text

        table = Table(title=f"{_counted(len(rows), 'product')} in {root}", caption=caption)
        table.add_column(
            "product\nfamily: first to last, last complete",
            min_width=max(len(row.product) for row in rows),
        )
        table.add_column("steps", no_wrap=True)
        table.add_column("state", no_wrap=True, min_width=5)
        for product, family, first, last, complete, steps, state in cells:
            span = f"{minutes(first)} to {minutes(last)}" if first or last else "no time axis"
            times = f"{family}: {span}, last complete {minutes(complete)}"
            table.add_row(f"{product}\n[dim]{times}[/dim]", steps, state)
    console.print(table)
    stale = [row for row in rows if row.stale]
    if stale:
        references = {
            f"the newest {what} {row.reference_time}"
            for row in stale
            for axis, what in (("time", "observation"), ("init_time", "forecast run"))
            if row.time_dimension == axis
        }
        if any(row.time_dimension == "day" for row in stale):
            references.add("the last day boundary")
        errors.print(
            f"{len(stale)} stale product(s) (data ending more than {stale_after} before "
            f"{' / '.join(sorted(references))})"
        )
        raise typer.Exit(1)


@app.command()
def serve(
    root: Annotated[Path, typer.Argument(help="Publication root to serve read-only")],
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    token: Annotated[
        str | None,
        typer.Option(envvar="WEATHERDATA_TOKEN", help="Require 'Authorization: Bearer TOKEN'"),
    ] = None,
    cors_origin: Annotated[
        list[str] | None, typer.Option(help="Allowed CORS origin (repeat; '*' for any)")
    ] = None,
    access_log: Annotated[bool, typer.Option(help="Log every request")] = True,
):
    """Serve a publication root over HTTP (GET/HEAD, ranges, ETags, CORS, gzip JSON)."""
    from .serve import run

    if not root.is_dir():
        raise WeatherdataError(
            f"{root}: not a directory (publish first: weatherdata publish ... --root {root})"
        )
    console.print(
        f"serving {root} on http://{host}:{port}/ (catalog: /catalog.json, index: /products.json)"
    )
    run(root, host=host, port=port, token=token, cors_origins=cors_origin, access_log=access_log)


# -- export ----------------------------------------------------------------------


def _parse_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    if text is None:
        return None
    try:
        west, south, east, north = (float(part) for part in text.split(","))
    except ValueError:
        raise WeatherdataError(
            f"--bbox {text!r}: expected WEST,SOUTH,EAST,NORTH in degrees, e.g. 112.9,22.5,114.1,23.9"
        ) from None
    if not (west < east and south < north and -90 <= south and north <= 90):
        raise WeatherdataError(f"--bbox {text!r}: need WEST < EAST and -90 <= SOUTH < NORTH <= 90")
    return west, south, east, north


@app.command()
def export(
    products: Annotated[
        list[str] | None, typer.Argument(help="Product ids to export (or --all / --family)")
    ] = None,
    format: Annotated[
        str,
        typer.Option(
            "--format", "-f", help="netcdf, geotiff, csv, png, geojson or cap (see --list-formats)"
        ),
    ] = "netcdf",
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Output directory (or file, for one product)")
    ] = Path("weatherdata-export"),
    root: Annotated[
        str | None,
        typer.Option(help="Publication root to read (directory, http(s):// or s3:// URL)"),
    ] = None,
    input_: Annotated[
        list[str] | None,
        typer.Option("--input", help="Derive on the fly from these inputs instead of --root"),
    ] = None,
    time_: Annotated[
        str | None, typer.Option("--time", help="T0 or T0/T1 (ISO, UTC); default: everything")
    ] = None,
    bbox: Annotated[str | None, typer.Option(help="WEST,SOUTH,EAST,NORTH in degrees")] = None,
    district: Annotated[
        str | None,
        typer.Option(help="Cut to a Guangzhou district or Guangdong city (English or Chinese)"),
    ] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Every product published under --root")
    ] = False,
    family: Annotated[str | None, typer.Option(help="Only products of this family")] = None,
    stations: Annotated[
        Path | None,
        typer.Option(help="CSV: station list (name,latitude,longitude); default: districts"),
    ] = None,
    interpolation: Annotated[
        str, typer.Option(help="CSV at stations: nearest or bilinear")
    ] = "nearest",
    region: Annotated[
        str, typer.Option(help="CSV/CAP districts: guangzhou_districts or guangdong_cities")
    ] = "guangzhou_districts",
    beijing_time: Annotated[
        bool, typer.Option(help="CSV: add a Beijing time (UTC+8) column")
    ] = False,
    animate: Annotated[
        str | None, typer.Option(help="PNG: also write an animation, gif or mp4")
    ] = None,
    language: Annotated[str, typer.Option(help="PNG labels: auto, en or zh")] = "auto",
    sender: Annotated[str, typer.Option(help="CAP: the alerts' sender")] = "weatherdata@localhost",
    list_formats: Annotated[
        bool, typer.Option("--list-formats", help="List the export formats and exit")
    ] = False,
    endpoint_url: Annotated[
        str | None,
        typer.Option(envvar="AWS_ENDPOINT_URL", help="S3-compatible endpoint for s3:// roots"),
    ] = None,
):
    """Export products as files: CF-NetCDF, GeoTIFF, CSV, PNG maps, GeoJSON, CAP."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from .catalog import shipped_catalog
    from .export import ExportOptions, available_formats, get_exporter
    from .export import export as export_products

    if list_formats:
        table = Table(title="export formats")
        for column in ("format", "suffix", "what"):
            table.add_column(column)
        for name, exporter in available_formats().items():
            table.add_row(name, exporter.suffix, exporter.description)
        console.print(table)
        return
    get_exporter(format)
    catalog = shipped_catalog()
    storage_options = {"client_kwargs": {"endpoint_url": endpoint_url}} if endpoint_url else None
    selected = list(products or [])
    if all_ or family:
        if all_ and root is None:
            raise WeatherdataError("--all exports what is published: give --root")
        if root is not None:
            from .access import list_products

            published = [p["id"] for p in list_products(root, storage_options=storage_options)]
        else:
            published = list(catalog.products)
        wanted = {e.id for e in catalog.select(None, family=family)} if family else None
        selected += [pid for pid in published if wanted is None or pid in wanted]
        if get_exporter(format).categorical_only:
            selected = [pid for pid in selected if catalog[pid].categories]
        if get_exporter(format).gridded_only and root is not None:
            from .access import list_products

            grids = ({"latitude", "longitude"}, {"y", "x"})
            gridded = {
                p["id"]
                for p in list_products(root, storage_options=storage_options)
                if any(grid <= set(p.get("dimensions", [])) for grid in grids)
            }
            skipped = [pid for pid in selected if pid not in gridded]
            selected = [pid for pid in selected if pid in gridded]
            if skipped:
                errors.print(
                    f"--format {format}: skipping {_counted(len(skipped), 'product')} without a grid: "
                    + ", ".join(skipped)
                )
    selected = list(dict.fromkeys(selected))
    for pid in selected:
        catalog[pid]
    options = ExportOptions(
        stations=stations,
        interpolation=interpolation,
        region=region,
        beijing_time=beijing_time,
        animate=animate,
        language=language,
        sender=sender,
    )
    started = time.monotonic()
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(f"exporting {format}", total=len(selected))

        def progress(product_id, done, total):
            bar.update(task, completed=done, total=total, description=f"exported {product_id}")

        files = export_products(
            selected,
            out,
            format=format,
            root=root,
            inputs=input_,
            time=time_,
            bbox=_parse_bbox(bbox),
            district=district,
            options=options,
            catalog=catalog,
            storage_options=storage_options,
            progress=progress,
        )
    size = sum(f.stat().st_size for f in files if f.exists())
    console.print(
        f"wrote {_counted(len(files), f'{format} file')} ({size / 1e6:.2f} MB) for "
        f"{_counted(len(selected), 'product')} "
        f"to {out} in {time.monotonic() - started:.1f} s"
    )


@app.command()
def docs(
    out: Annotated[Path, typer.Option(help="Directory for mkdocs.yml and the Markdown pages")],
    root: Annotated[
        str | None,
        typer.Option(help="Publication root: draw an example map per product from it"),
    ] = None,
    products: Annotated[
        str | None, typer.Option(help="Comma-separated ids: only draw their example maps")
    ] = None,
    html: Annotated[
        bool, typer.Option("--html", help="Also build the HTML site (mkdocs build --strict)")
    ] = False,
):
    """Generate the product documentation from catalog.yaml (Markdown, optionally HTML)."""
    from .docs import build_docs, build_html

    started = time.monotonic()
    ids = [p.strip() for p in products.split(",") if p.strip()] if products else None
    config = build_docs(out, root, products=ids)
    console.print(
        f"wrote {config.parent / 'docs'} and {config} in {time.monotonic() - started:.1f} s"
    )
    if html:
        site = build_html(out)
        console.print(f"built {site / 'index.html'} in {time.monotonic() - started:.1f} s")


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, turning user errors into one-line messages."""
    try:
        # Without standalone mode, click returns (not raises) the code of a typer.Exit
        # raised in a command, e.g. `status --stale-after` finding stale products.
        code = app(args=argv, standalone_mode=False, prog_name="weatherdata")
    except WeatherdataError as exc:
        errors.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        return exc.exit_code
    except OSError as exc:
        # The system refused (a root that is a file, a full disk, a permission): one line.
        where = f"{exc.filename}: " if exc.filename else ""
        name = errno.errorcode.get(exc.errno or 0)
        reason = f"{exc.strerror} ({name})" if exc.strerror and name else str(exc)
        errors.print(f"[red]error:[/red] {where}{reason}", highlight=False, soft_wrap=True)
        return 1
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        errors.print("aborted")
        return 130
    except Exception as exc:
        # Usage errors from the (vendored) click parser: print its message, no traceback.
        if type(exc).__module__.endswith("click.exceptions") and hasattr(exc, "show"):
            if type(exc).__name__ == "NoArgsIsHelpError" or not hasattr(exc, "format_message"):
                exc.show()
                return exc.exit_code
            context = getattr(exc, "ctx", None)
            hint = f" (see '{context.command_path} --help')" if context is not None else ""
            errors.print(
                f"[red]error:[/red] {exc.format_message()}{hint}", highlight=False, soft_wrap=True
            )
            return exc.exit_code
        raise
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
