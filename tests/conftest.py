import pytest


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "product(id): a reference-value test of catalog product `id`"
    )


@pytest.fixture(scope="session")
def demo_directory(tmp_path_factory):
    """The built-in demo at a coarse resolution (written once per test session)."""
    from weatherdata.demo import write_demo

    out = tmp_path_factory.mktemp("demo")
    write_demo(out, resolution=0.5, days=5)
    return out
