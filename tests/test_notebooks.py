"""The forecaster notebooks: committed stripped, and each runs top to bottom on the demo.

Execution uses nbclient with the ``python3`` kernel of the interpreter running the tests,
the working directory ``notebooks/`` (as in Jupyter), and ``WEATHERDATA_ROOT`` /
``WEATHERDATA_INPUT`` pointed at the session's published demo and demo inputs. Run
times are recorded (``record_property``) and a notebook over the one-minute budget is
reported as a warning: slowness is a bug to look into, not a test failure.
"""

import time
import warnings
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
EXPECTED = {
    "01_latest_observations",
    "02_warnings_overview",
    "03_sounding",
    "04_station_time_series",
    "05_nowcast",
    "06_remote_access",
}
BUDGET_SECONDS = 60


def _ids(path: Path) -> str:
    return path.stem


def test_the_forecaster_notebooks_are_there():
    assert EXPECTED <= {path.stem for path in NOTEBOOKS}


def test_the_notebooks_readme_describes_each_notebook():
    readme = (NOTEBOOKS_DIR / "README.md").read_text(encoding="utf-8")
    for path in NOTEBOOKS:
        assert path.name in readme, f"notebooks/README.md does not mention {path.name}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_committed_notebook_is_stripped(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name} cell {index} has outputs"
            assert cell.execution_count is None, f"{path.name} cell {index} has an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_notebook_finds_its_data_from_the_environment(path):
    source = "\n".join(cell.source for cell in nbformat.read(path, as_version=4).cells)
    assert 'os.environ.get("WEATHERDATA_ROOT", "../weatherdata-demo/products")' in source
    if "WEATHERDATA_INPUT" in source:
        assert 'os.environ.get("WEATHERDATA_INPUT", "../weatherdata-demo/input")' in source


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids)
def test_notebook_runs_on_the_demo(
    path, published_demo, demo_directory, monkeypatch, record_property, capsys
):
    from nbclient import NotebookClient

    root, _ = published_demo
    monkeypatch.setenv("WEATHERDATA_ROOT", str(root))
    monkeypatch.setenv("WEATHERDATA_INPUT", str(demo_directory))
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=600,
        resources={"metadata": {"path": str(NOTEBOOKS_DIR)}},
    )
    started = time.monotonic()
    client.execute()  # raises CellExecutionError, with the cell and traceback, on an error
    elapsed = time.monotonic() - started

    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "error"
    ]
    assert not errors
    record_property("seconds", round(elapsed, 1))
    with capsys.disabled():
        print(f"\n{path.name}: {elapsed:.1f} s")
    if elapsed > BUDGET_SECONDS:
        warnings.warn(
            f"{path.name} took {elapsed:.0f} s, over the {BUDGET_SECONDS} s budget",
            stacklevel=1,
        )
