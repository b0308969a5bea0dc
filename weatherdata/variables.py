"""The canonical variable dictionary (``variables.yaml``), loaded once."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from importlib import resources

import yaml

__all__ = ["CanonicalVariable", "canonical_variables", "find_by_alias"]


@dataclass(frozen=True)
class CanonicalVariable:
    name: str
    units: str
    long_name: str
    dims: tuple[str, ...]
    range: tuple[float, float]
    standard_name: str | None = None
    cell_methods: str | None = None
    aliases: tuple[str, ...] = field(default_factory=tuple)
    static: bool = False
    climatology: bool = False

    @property
    def vertical(self) -> str | None:
        for dim in ("pressure", "height"):
            if dim in self.dims:
                return dim
        return None


@functools.cache
def canonical_variables() -> dict[str, CanonicalVariable]:
    text = resources.files("weatherdata").joinpath("variables.yaml").read_text(encoding="utf-8")
    raw = yaml.safe_load(text)["variables"]
    out = {}
    for name, spec in raw.items():
        out[name] = CanonicalVariable(
            name=name,
            units=str(spec["units"]),
            long_name=spec["long_name"],
            dims=tuple(spec["dims"]),
            range=tuple(spec["range"]),
            standard_name=spec.get("standard_name"),
            cell_methods=spec.get("cell_methods"),
            aliases=tuple(spec.get("aliases", ())),
            static=bool(spec.get("static", False)),
            climatology=bool(spec.get("climatology", False)),
        )
    return out


@functools.cache
def _alias_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for name, var in canonical_variables().items():
        index[name.lower()] = name
        for alias in var.aliases:
            index.setdefault(alias.lower(), name)
    return index


def find_by_alias(name: str) -> str | None:
    """Canonical name for a variable name met in a file, or None."""
    return _alias_index().get(name.lower())
