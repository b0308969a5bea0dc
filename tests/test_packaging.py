"""Packaging: dependency lists agree, and a built wheel works in a clean environment."""

import os
import re
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
# PyPI name -> conda-forge name where they differ.
CONDA_NAMES = {
    "dask[array]": "dask",
    "netCDF4": "netcdf4",
    "eccodes": "python-eccodes",
    "moto[server]": "moto",
}


def _split(requirement: str) -> tuple[str, str]:
    match = re.match(r"^([A-Za-z0-9_.\-\[\]]+)\s*(.*)$", requirement.strip())
    return match.group(1), match.group(2).replace(" ", "")


def test_environment_yml_lists_the_pyproject_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["test"]
    pypi = {CONDA_NAMES.get(n, n).lower(): spec for n, spec in map(_split, wanted)}
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = {}
    for dependency in environment["dependencies"]:
        if isinstance(dependency, str):
            name, spec = _split(dependency)
            if name not in ("python", "pip"):
                conda[name.lower()] = spec
    assert conda == pypi


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
        cwd=out,
    )
    (path,) = out.glob("weatherdata-*.whl")
    return path


def test_wheel_contents(wheel):
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    assert "weatherdata/catalog.yaml" in names
    assert "weatherdata/variables.yaml" in names
    assert "weatherdata/products/observation/wind.py" in names
    assert not any(n.startswith("products/") for n in names), (
        "recipes must not install as a top-level package"
    )
    (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "License-Expression: BSD-3-Clause" in text.splitlines()
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)


def test_wheel_runs_in_a_clean_environment(wheel, tmp_path):
    """Install the wheel alone into a new venv; dependencies come from this environment's
    site-packages through a .pth (read-only), so nothing is downloaded and no editable
    checkout is visible."""
    environment = tmp_path / "venv"
    venv.create(environment, with_pip=False)
    python = environment / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    import sysconfig

    (Path(site) / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    import zipfile

    zipfile.ZipFile(wheel).extractall(site)
    bin_dir = environment / "bin"
    script = bin_dir / "weatherdata"
    script.write_text(
        f"#!{python}\nimport sys\nfrom weatherdata.cli import main\nsys.exit(main())\n"
    )
    script.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}

    def run(*args):
        return subprocess.run(
            [str(script), *args], capture_output=True, text=True, cwd=tmp_path, env=env
        )

    version = run("--version")
    assert version.returncode == 0, version.stderr
    assert "weatherdata" in version.stdout
    listing = run("catalog", "list", "--ids")
    assert listing.returncode == 0, listing.stderr
    location = subprocess.run(
        [
            str(python),
            "-c",
            "import weatherdata, weatherdata.products.observation.wind as w; print(weatherdata.__file__, w.__file__)",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        check=True,
    ).stdout
    assert str(ROOT) not in location and site in location
    from weatherdata.catalog import load_catalog

    assert len(listing.stdout.split()) == len(load_catalog().products)


def test_public_names_are_listed_before_their_modules_load():
    """``dir(weatherdata)`` (Jupyter's tab completion) and ``__all__`` list every public
    name, the lazily imported ones included, without importing ingest (cfgrib, eccodes) or the publisher;
    each name is its module's function."""
    code = (
        "import sys, weatherdata\n"
        "listed = set(dir(weatherdata))\n"
        "heavy = [m for m in ('weatherdata.ingest', 'weatherdata.publication') if m in sys.modules]\n"
        "from weatherdata import access, demo, ingest, publication\n"
        "origin = {name: getattr(weatherdata, name) is getattr(module, name)\n"
        "          for module in (access, demo, ingest, publication)\n"
        "          for name in weatherdata._LAZY[module.__name__.rsplit('.', 1)[1]]}\n"
        "print(sorted(set(weatherdata.__all__) - listed), heavy, all(origin.values()), len(origin),\n"
        "      sorted(set(origin) - set(weatherdata.__all__)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    # ... and `from weatherdata import *` imports them all
    assert done.stdout.split() == ["[]", "[]", "True", "9", "[]"]
