import os
import shutil
import tempfile

import pytest

from weatherdata.cache import CACHE_DIRECTORY_VARIABLE


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "product(id): a reference-value test of catalog product `id`"
    )
    # weatherdata's on-disk cache (boundary geometries): one of the test session's own,
    # shared by the processes it starts, never the user's (unless one was chosen).
    if CACHE_DIRECTORY_VARIABLE not in os.environ:
        config._weatherdata_cache = tempfile.mkdtemp(prefix="weatherdata-test-cache-")
        os.environ[CACHE_DIRECTORY_VARIABLE] = config._weatherdata_cache


def pytest_unconfigure(config):
    chosen = getattr(config, "_weatherdata_cache", None)
    if chosen:
        os.environ.pop(CACHE_DIRECTORY_VARIABLE, None)
        shutil.rmtree(chosen, ignore_errors=True)


@pytest.fixture(scope="session")
def demo_directory(tmp_path_factory):
    """The built-in demo at a coarse resolution (written once per test session)."""
    from weatherdata.demo import write_demo

    out = tmp_path_factory.mktemp("demo")
    write_demo(out, resolution=0.5, days=5)
    return out


@pytest.fixture(scope="session")
def demo_inputs(demo_directory):
    """``(observations, forecast)`` opened from the coarse demo."""
    import weatherdata

    return weatherdata.open_inputs(demo_directory)


@pytest.fixture(scope="session")
def published_demo(demo_inputs, tmp_path_factory):
    """Every catalog product published from the coarse demo: ``(root, summary)``.

    Shared by the end-to-end, export, notebook and remote-access tests (published once per
    session). Treat it as read-only: tests that change a root publish their own.
    """
    from weatherdata.publication import publish

    observations, forecast = demo_inputs
    root = tmp_path_factory.mktemp("published")
    summary = publish(observations, root, forecast=forecast)
    return root, summary
