"""The command line as users run it: one-line errors, exit codes, and the main job."""

import os
import re
import subprocess
import sys

import pytest
import xarray as xr


def weatherdata(*args, cwd=None, columns=None):
    env = None if columns is None else {**os.environ, "COLUMNS": str(columns)}
    return subprocess.run(
        [sys.executable, "-m", "weatherdata", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
    )


def test_version_and_catalog():
    assert weatherdata("--version").stdout.startswith("weatherdata ")
    listing = weatherdata("catalog", "list", "--ids", "--family", "service")
    assert listing.returncode == 0 and len(listing.stdout.split()) == 81
    uses = weatherdata("catalog", "list", "--ids", "--uses", "radar_reflectivity")
    assert (
        "composite_reflectivity" in uses.stdout.split() and "heat_index" not in uses.stdout.split()
    )
    shown = weatherdata("catalog", "show", "heat_warning_signal")
    assert shown.returncode == 0 and "canonical inputs" in shown.stdout


def test_catalog_table_keeps_every_id_whole_on_a_narrow_terminal():
    """Ids are what one copies into a command: never folded, even at 80 columns (names
    wrap instead). ``--input`` is ``--uses`` by the issue's name for it."""
    from weatherdata.catalog import shipped_catalog

    done = weatherdata("catalog", "list", columns=80)
    assert done.returncode == 0, done.stderr
    _assert_whole_ids(done.stdout, shipped_catalog().products)
    by_input = weatherdata("catalog", "list", "--ids", "--input", "radar_reflectivity")
    by_uses = weatherdata("catalog", "list", "--ids", "--uses", "radar_reflectivity")
    assert by_input.returncode == 0 and by_input.stdout == by_uses.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["catalog", "show", "heat_signal"], "unknown product id 'heat_signal'"),
        (["catalog", "list", "--family", "weather"], "unknown family 'weather'"),
        (["publish", "/nonexistent/input"], "/nonexistent/input"),
        (["publish", "x", "--set", "novalue"], "expected PRODUCT.PARAMETER=VALUE"),
        (["status", "/nonexistent"], "not a directory"),
        (["publish", "x", "--since", "yesterday"], None),
    ],
)
def test_user_errors_are_one_line_without_traceback(args, message):
    result = weatherdata(*args)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    if message:
        assert message in result.stderr


def test_publish_demo_subset(demo_directory, tmp_path):
    root = tmp_path / "products"
    result = weatherdata(
        "publish",
        str(demo_directory),
        "--root",
        str(root),
        "--products",
        "heat_index,forecast_temperature_2m_change_from_previous_run",
        columns=80,
    )
    assert result.returncode == 0, result.stderr
    assert "published 2 products" in result.stdout
    table = result.stdout[: result.stdout.index("2 stores")]
    _assert_whole_ids(table, ["heat_index", "forecast_temperature_2m_change_from_previous_run"])
    heat = xr.open_zarr(root / "service" / "heat_index.zarr", consolidated=True, zarr_format=3)
    assert heat.sizes["time"] == 120
    # The closing hint opens a store this publish wrote (it named temperature_2m even
    # when none was published, and mangled s3:// roots).
    (hinted,) = re.findall(r"xr\.open_zarr\('([^']+)'", result.stdout.replace("\n", ""))
    assert hinted == str(root / "service" / "heat_index.zarr")  # no temperature_2m here
    assert xr.open_zarr(hinted, consolidated=True, zarr_format=3)["heat_index"].size
    from weatherdata.cli import _under_root

    assert _under_root("s3://bucket/prefix/", "catalog.json") == "s3://bucket/prefix/catalog.json"
    assert _under_root(str(root), "catalog.json") == str(root / "catalog.json")
    # Where the table fits the terminal, a row a product, every id whole (tests/test_status.py
    # checks the narrow layout).
    status = weatherdata("status", str(root), columns=160)
    assert status.returncode == 0, status.stderr
    _assert_whole_ids(
        status.stdout, ["heat_index", "forecast_temperature_2m_change_from_previous_run"], 160
    )


def test_publish_on_a_local_dask_cluster_equals_the_threaded_run(demo_directory, tmp_path):
    # A closure over the pint registry (compute.pointwise), a column kernel (CAPE) and
    # xclim's numba gufunc behind KBDI (its copy once segfaulted the workers): what must
    # pickle for Dask distributed workers.
    products = "heat_index,surface_based_cape,keetch_byram_drought_index"
    for name, extra in (("threads", ()), ("cluster", ("--workers", "2"))):
        result = weatherdata(
            "publish",
            str(demo_directory),
            "--root",
            str(tmp_path / name),
            "--products",
            products,
            *extra,
        )
        assert result.returncode == 0, result.stderr
    for family, product in (
        ("service", "heat_index"),
        ("forecast_warning", "surface_based_cape"),
        ("service", "keetch_byram_drought_index"),
    ):
        threaded, clustered = (
            xr.open_zarr(tmp_path / name / family / f"{product}.zarr", zarr_format=3)
            for name in ("threads", "cluster")
        )
        xr.testing.assert_identical(threaded[product].load(), clustered[product].load())


def test_the_summary_tells_stores_kept_as_published_from_products_the_inputs_do_not_allow():
    from rich.console import Console

    from weatherdata.cli import _print_skipped
    from weatherdata.publication import KEPT_AS_PUBLISHED

    kept = f"{KEPT_AS_PUBLISHED}: these inputs do not reach the look-back of the times they would rewrite"
    skipped = {
        "daily_precipitation": kept,
        "excess_heat_factor": kept,
        "visibility": "input 'visibility' is missing",
    }
    console = Console(record=True, width=300)
    _print_skipped(console, skipped)
    lines = console.export_text().splitlines()
    assert lines == [
        "kept 2 stores as they were published:",
        "  these inputs do not reach the look-back of the times they would rewrite: "
        "daily_precipitation, excess_heat_factor",
        "skipped 1 product the inputs do not allow:",
        "  input 'visibility' is missing: visibility",
    ]


def _assert_whole_ids(table: str, ids, width: int = 80) -> None:
    """Every id is the whole first cell of a row of the rich table, within ``width``."""
    first_cells = {line.split("│")[1].strip() for line in table.splitlines() if "│" in line}
    assert set(ids) <= first_cells, sorted(set(ids) - first_cells)[:5]
    assert max(map(len, table.splitlines())) <= width


@pytest.mark.parametrize("actions", [["create"], ["append"], ["create", "replace", "append"]])
def test_publish_summary_fits_80_columns_with_every_id_whole(monkeypatch, actions):
    """The closing tables of `make demo` at 80 columns: the longest id of each family whole,
    nothing cut ("…"); what was done said once when the same for all, else a table per
    family and action."""
    import io

    from rich.console import Console

    from weatherdata import cli
    from weatherdata.catalog import FAMILIES, shipped_catalog
    from weatherdata.publication import PublishSummary, StoreSummary

    longest = {}
    for pid, entry in shipped_catalog().products.items():
        if len(pid) > len(longest.get(entry.family, "")):
            longest[entry.family] = pid
    summary = PublishSummary(root="weatherdata-demo/products")
    for extra, action in enumerate(reversed(actions)):  # interleaved, in no order
        for family, pid in sorted(longest.items()):
            summary.stores.append(
                StoreSummary(pid, family, f"{family}/{pid}.zarr", 120, 123_456_789 + extra, action)
            )
    out = io.StringIO()
    monkeypatch.setattr(cli, "console", Console(file=out, width=80))
    cli._print_published(summary, summary.root)
    text = out.getvalue()
    _assert_whole_ids(text, longest.values())
    assert "…" not in text
    heading = text.splitlines()[0]
    assert heading.startswith(f"published {len(summary.stores)} products to ")
    words = {"create": "created", "replace": "replaced", "append": "appended"}
    if len(actions) == 1:
        assert heading.endswith(f"every store {words[actions[0]]}")
        assert [line.strip() for line in text.splitlines() if " (1)" in line] == [
            f"{family} (1)" for family in FAMILIES
        ]
    else:  # a table per family and action, families and actions in their order
        titles = [f"{family}, {words[a]} (1)" for family in FAMILIES for a in actions]
        assert [line.strip() for line in text.splitlines() if " (1)" in line] == titles


def test_verify_table_keeps_signal_ids_whole(demo_directory):
    verify = weatherdata(
        "verify", str(demo_directory), "--products", "rainstorm_warning_signal", columns=80
    )
    assert verify.returncode == 0, verify.stderr
    _assert_whole_ids(verify.stdout, ["rainstorm_warning_signal"])


def test_option_times_are_utc_unless_they_carry_their_offset():
    """``--since``/``--until`` read times as the exporters do: Beijing time with its offset
    is the same instant in UTC, without the UserWarning numpy's parser printed for an
    offset; ``Z`` and no zone are UTC."""
    import warnings

    import numpy as np

    from weatherdata.cli import _parse_time
    from weatherdata.errors import WeatherdataError

    expected = np.datetime64("2026-07-27T06:00", "s")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for text in ("2026-07-27T06:00", "2026-07-27T06:00Z", "2026-07-27T14:00+08:00"):
            assert _parse_time(text, "--since") == expected, text
    assert _parse_time(None, "--since") is None
    with pytest.raises(WeatherdataError, match="--until 'tomorrow': not an ISO time"):
        _parse_time("tomorrow", "--until")
