"""Build glue that pyproject.toml alone cannot express.

* ``products/`` (the recipes, one sub-package per family) is installed as
  ``weatherdata.products`` so that no generic top-level ``products`` package lands
  in site-packages.
* The registry ``catalog.yaml`` lives at the repository root (the user's layout)
  and is copied into the wheel as ``weatherdata/catalog.yaml``.
"""

import shutil
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).parent


class BuildPyWithCatalog(build_py):
    def run(self):
        super().run()
        target = Path(self.build_lib) / "weatherdata" / "catalog.yaml"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / "catalog.yaml", target)


packages = find_packages(include=["weatherdata", "weatherdata.*"])
packages += ["weatherdata.products"]
packages += ["weatherdata.products." + name for name in find_packages("products")]

setup(
    packages=packages,
    package_dir={"weatherdata": "weatherdata", "weatherdata.products": "products"},
    cmdclass={"build_py": BuildPyWithCatalog},
)
