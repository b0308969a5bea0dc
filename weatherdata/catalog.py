"""The product catalog: ``catalog.yaml`` validated against one schema on load.

The catalog *declares* (names, inputs, parameters and their sources, CF attributes,
time semantics, chunking, map style); a recipe in ``weatherdata.products`` computes;
the engine does the plumbing. Unknown keys, unknown inputs, unparsable units and
dependency cycles are errors raised at load time, never at publish time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import importlib
import json
import re
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import CatalogError, WeatherdataError
from .units import parse_quantity, parse_units
from .variables import canonical_variables

__all__ = [
    "Catalog",
    "Lookback",
    "Parameter",
    "ProductEntry",
    "default_catalog_path",
    "load_catalog",
]

FAMILIES = ("observation", "forecast_warning", "service")
# libyaml's parser when available: the pure-Python one takes seconds on the full catalog.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_ID = r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$"
_HEX = r"^#[0-9a-fA-F]{6}$"


@contextlib.contextmanager
def _as_value_error(value):
    """Inside a validator: a unit that does not parse is a validation error of this field
    (so that the message names the entry and the key), not an exception of its own."""
    try:
        yield
    except WeatherdataError as exc:
        raise ValueError(str(exc)) from None
    except Exception as exc:  # the unit parser's own failure on odd text (e.g. "")
        raise ValueError(f"{value!r} does not parse ({type(exc).__name__}: {exc})") from None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Names(_Strict):
    en: str
    zh: str


class Parameter(_Strict):
    """A parameter or threshold with its unit, its source and whether it is verified."""

    value: Any
    source: str
    verified: bool
    reason: str | None = None
    description: str | None = None

    @model_validator(mode="after")
    def _unverified_needs_reason(self):
        if not self.verified and not self.reason:
            raise ValueError("an unverified parameter needs a `reason`")
        return self


class Category(_Strict):
    value: int
    meaning: Annotated[str, Field(pattern=_ID)]
    en: str
    zh: str
    colour: Annotated[str, Field(pattern=_HEX)]
    definition: str | None = None


class CFAttributes(_Strict):
    standard_name: str | None = None
    long_name: str | None = None
    cell_methods: str | None = None
    comment: str | None = None


def _duration(value: str, what: str) -> pd.Timedelta:
    with _as_value_error(value):
        quantity = parse_quantity(value)
        is_time = quantity.dimensionality == parse_units("h").dimensionality
    if not is_time:
        raise ValueError(f"{what} {value!r} is not a duration")
    return pd.Timedelta(seconds=float(quantity.m_as("s")))


#: How far before its first time a recursion that continues its published record
#: (``time.carry``) needs inputs: the day before a daily recursion's first day (the
#: Canadian codes, KBDI) or a rain process's dry gap (12 h), with a day to spare. A
#: parameter override of such a duration makes it a whole-record recursion again.
CARRY_LOOKBACK = pd.Timedelta(days=2)


@dataclasses.dataclass(frozen=True)
class Lookback:
    """How far before the first time to publish a product's inputs must start.

    ``duration`` before that time, and further back to the start of each ``periods``
    (pandas offset aliases: ``YS``, ``YS-OCT``, ``MS``) in progress then; ``record``:
    from the record's first time, whatever the time.
    """

    duration: pd.Timedelta = dataclasses.field(default_factory=lambda: pd.Timedelta(0))
    periods: frozenset[str] = frozenset()
    record: bool = False

    def __add__(self, other: Lookback) -> Lookback:
        """This look-back applied after ``other``'s (a product of a product)."""
        return Lookback(
            self.duration + other.duration,
            self.periods | other.periods,
            self.record or other.record,
        )

    def __or__(self, other: Lookback) -> Lookback:
        """The longer of two look-backs (two inputs)."""
        return Lookback(
            max(self.duration, other.duration),
            self.periods | other.periods,
            self.record or other.record,
        )

    def inputs_start(self, since) -> pd.Timestamp | None:
        """First input time needed to publish from ``since`` (None: the record's start)."""
        if self.record:
            return None
        start = pd.Timestamp(since) - self.duration
        for alias in self.periods:
            start = min(start, pd.tseries.frequencies.to_offset(alias).rollback(start.normalize()))
        return start


class TimeSemantics(_Strict):
    kind: Literal[
        "instant", "rolling_window", "lead_window", "daily", "period", "nowcast", "static"
    ] = "instant"
    window: str | None = None
    #: How far before a time the inputs reach that the product's value at that time
    #: depends on, beyond what its inputs products need: a duration (``"33 d"``),
    #: ``period`` (from the start of the period in progress, parameter ``period``) or
    #: ``record`` (a recursion that starts on the record's first day). Default from
    #: ``kind``: the ``window`` of a rolling window, one day for a daily value, else 0.
    lookback: str | None = None
    #: A recursion's state (``lookback: record`` only): ``{recipe keyword: product id}``,
    #: the published products whose stored values hold it. Publishing from inputs that
    #: start after such a store's record did, the engine passes their stored series and
    #: the recipe continues the record from them rather than restarting it.
    carry: dict[str, str] = Field(default_factory=dict)
    description: str | None = None

    @model_validator(mode="after")
    def _carry_is_for_recursions(self):
        if self.carry and self.lookback != "record":
            raise ValueError("carry is for recursions over the record (lookback: record)")
        return self

    @field_validator("window")
    @classmethod
    def _window_is_time(cls, value):
        if value is not None:
            _duration(value, "window")
        return value

    @field_validator("lookback")
    @classmethod
    def _lookback_is_time(cls, value):
        if value is not None and value not in ("period", "record"):
            _duration(value, "lookback")
        return value


class Style(_Strict):
    colormap: str | None = None
    levels: list[float] | None = None
    vmin: float | None = None
    vmax: float | None = None
    extend: Literal["neither", "both", "min", "max"] | None = None


class ProductEntry(_Strict):
    """One catalog entry (a published product, or an unpublished shared intermediate)."""

    id: Annotated[str, Field(pattern=_ID)]
    family: Literal["observation", "forecast_warning", "service", "intermediate"]
    name: Names
    description: str
    recipe: Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_.]*:[a-z_][a-z0-9_]*$")]
    inputs: dict[str, str]
    parameters: dict[str, Parameter] = Field(default_factory=dict)
    units: str | None = None
    cf: CFAttributes = Field(default_factory=CFAttributes)
    categories: list[Category] | None = None
    time: TimeSemantics = Field(default_factory=TimeSemantics)
    chunks: Literal["balanced", "map", "series"] = "balanced"
    style: Style = Field(default_factory=Style)
    valid_range: tuple[float, float] | None = None
    references: list[str] = Field(default_factory=list)
    local_rule: bool = False
    #: Where the product is missing by definition, as a short phrase that follows "missing
    #: where" (e.g. "850 hPa is below the ground"). Such products have missing cells in
    #: healthy data, so ``weatherdata status`` does not judge their completeness cell by cell.
    undefined_where: str | None = None

    @field_validator("units")
    @classmethod
    def _units_parse(cls, value):
        if value is not None:
            with _as_value_error(value):
                parse_units(value)
        return value

    @model_validator(mode="after")
    def _consistent(self):
        if self.family != "intermediate" and self.units is None:
            raise ValueError("a product needs `units`")
        if self.categories is not None:
            values = [c.value for c in self.categories]
            if len(set(values)) != len(values):
                raise ValueError("category values must be unique")
        if self.time.kind in ("rolling_window", "lead_window") and self.time.window is None:
            raise ValueError(f"time kind {self.time.kind!r} needs a `window`")
        return self

    @property
    def is_categorical(self) -> bool:
        return self.categories is not None

    def recipe_function(self):
        module_name, function_name = self.recipe.split(":")
        try:
            module = importlib.import_module(f"weatherdata.products.{module_name}")
        except ImportError as exc:
            raise CatalogError(
                f"product {self.id}: recipe module {module_name!r} not found ({exc})"
            ) from exc
        try:
            return getattr(module, function_name)
        except AttributeError as exc:
            raise CatalogError(f"product {self.id}: recipe {self.recipe!r} not found") from exc

    def entry_hash(self) -> str:
        # An optional key left unset is not part of the hash: adding one to the schema
        # leaves the hash of every entry that does not use it unchanged.
        unset = {"undefined_where"} if self.undefined_where is None else set()
        text = json.dumps(
            self.model_dump(mode="json", exclude=unset), sort_keys=True, ensure_ascii=False
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]


class _CatalogFile(_Strict):
    version: Literal[1]
    references: dict[str, str] = Field(default_factory=dict)
    intermediates: list[ProductEntry] = Field(default_factory=list)
    products: list[ProductEntry]


class Catalog:
    """All products and intermediates, by id, with their dependency graph checked."""

    def __init__(self, data: _CatalogFile, path: str):
        self.path = path
        self.references = dict(data.references)
        self.entries: dict[str, ProductEntry] = {}
        for entry in [*data.intermediates, *data.products]:
            if entry.id in self.entries:
                raise CatalogError(f"{path}: product id {entry.id!r} is declared twice")
            if entry.id in canonical_variables():
                raise CatalogError(f"{path}: product id {entry.id!r} shadows a canonical variable")
            self.entries[entry.id] = entry
        for entry in data.intermediates:
            if entry.family != "intermediate":
                raise CatalogError(
                    f"{path}: {entry.id}: entries under `intermediates` need family: intermediate"
                )
        for entry in data.products:
            if entry.family == "intermediate":
                raise CatalogError(
                    f"{path}: {entry.id}: family intermediate is only for `intermediates`"
                )
        self._check_inputs()
        self._check_references()
        self.topological_order(self.entries)  # raises on cycles

    # -- queries ---------------------------------------------------------------
    @property
    def products(self) -> dict[str, ProductEntry]:
        return {k: v for k, v in self.entries.items() if v.family != "intermediate"}

    def __getitem__(self, product_id: str) -> ProductEntry:
        try:
            return self.entries[product_id]
        except KeyError:
            raise CatalogError(_unknown_message(product_id, self.products)) from None

    def __contains__(self, product_id: str) -> bool:
        return product_id in self.entries

    def family(self, family: str) -> list[ProductEntry]:
        return [e for e in self.products.values() if e.family == family]

    def select(
        self,
        ids: Iterable[str] | None = None,
        *,
        family: str | None = None,
        uses: str | None = None,
    ):
        """Products by id list, family, or canonical input used (directly or indirectly)."""
        if ids:
            chosen = [self[i] for i in ids]
        else:
            chosen = list(self.products.values())
        if family:
            chosen = [e for e in chosen if e.family == family]
        if uses:
            chosen = [e for e in chosen if uses in self.canonical_inputs(e.id)]
        return chosen

    # -- graph -----------------------------------------------------------------
    @staticmethod
    def split_reference(reference: str) -> tuple[str, str, str | None]:
        """``(source, name, field)`` for an input reference.

        ``air_temperature_2m`` → observations variable; ``forecast:precipitation_amount`` →
        forecast dataset variable; ``surface_based_parcel.cape`` → field of an intermediate.
        """
        source = "dataset"
        if reference.startswith("forecast:"):
            source, reference = "forecast", reference.split(":", 1)[1]
        name, _, field = reference.partition(".")
        return source, name, field or None

    def dependencies(self, product_id: str) -> list[str]:
        entry = self[product_id]
        out = []
        for reference in entry.inputs.values():
            source, name, _ = self.split_reference(reference)
            if source == "dataset" and name in self.entries:
                out.append(name)
        return out

    def lookback(
        self,
        product_id: str,
        parameters: dict | None = None,
        published: Iterable[str] = (),
        carried: bool = False,
    ) -> Lookback:
        """The inputs a product's value at a time depends on, back from that time.

        Its own look-back (``time.lookback``, else from ``time.kind``: a rolling
        window's or a difference's ``window``, one day for a daily value, the period in
        progress for a per-period value, 0 otherwise) after the longest
        of its input products'. ``parameters``: overrides, ``{product: {name: value}}``
        (a period product's ``period``). ``published``: input products whose values are
        read back from their stores rather than derived: only the product's own
        look-back over them counts. ``carried``: recursions over the record that declare
        ``time.carry`` continue their published record (:data:`CARRY_LOOKBACK` back).
        """
        entry = self[product_id]
        time = entry.time
        declared = time.lookback
        if declared is None:
            if time.kind == "rolling_window":
                declared = time.window
            elif time.kind == "daily":
                declared = "1 d" if time.window is None else time.window
            elif time.kind == "period":
                declared = "period" if time.window is None else time.window
        own = Lookback()
        if declared == "record" and carried and time.carry:
            own = Lookback(duration=CARRY_LOOKBACK)
        elif declared == "record":
            own = Lookback(record=True)
        elif declared == "period":
            alias = (parameters or {}).get(product_id, {}).get("period")
            if alias is None and "period" in entry.parameters:
                alias = entry.parameters["period"].value
            if alias is None:
                raise CatalogError(
                    f"product {product_id}: look-back `period` needs a `period` parameter"
                )
            own = Lookback(periods=frozenset([str(alias)]))
        elif declared is not None:
            own = Lookback(duration=_duration(declared, "lookback"))
        inputs = Lookback()
        published = frozenset(published)
        for dependency in self.dependencies(product_id):
            if dependency not in published:
                inputs = inputs | self.lookback(dependency, parameters, published, carried)
        return own + inputs

    def canonical_inputs(self, product_id: str) -> set[str]:
        """Canonical variables needed, directly or through other products."""
        needed: set[str] = set()
        for ref in self.entries[product_id].inputs.values():
            source, name, _ = self.split_reference(ref)
            if name in self.entries and source == "dataset":
                needed |= self.canonical_inputs(name)
            elif name in canonical_variables():
                needed.add(f"forecast:{name}" if source == "forecast" else name)
        return needed

    def closure(self, ids: Iterable[str]) -> list[str]:
        """The ids with all their dependencies, dependencies first."""
        wanted: dict[str, None] = {}

        def visit(pid):
            for dep in self.dependencies(pid):
                visit(dep)
            wanted.setdefault(pid)

        for pid in ids:
            self[pid]
            visit(pid)
        return self.topological_order({k: self.entries[k] for k in wanted})

    def topological_order(self, entries: dict[str, ProductEntry]) -> list[str]:
        order: list[str] = []
        state: dict[str, int] = {}

        def visit(pid, path):
            if state.get(pid) == 2:
                return
            if state.get(pid) == 1:
                cycle = " -> ".join([*path[path.index(pid) :], pid])
                raise CatalogError(f"{self.path}: dependency cycle: {cycle}")
            state[pid] = 1
            for dep in self.dependencies(pid):
                visit(dep, [*path, pid])
            state[pid] = 2
            order.append(pid)

        for pid in entries:
            visit(pid, [])
        return [pid for pid in order if pid in entries]

    def _check_inputs(self):
        variables = canonical_variables()
        for entry in self.entries.values():
            for argument, reference in entry.inputs.items():
                source, name, field = self.split_reference(reference)
                if source == "forecast":
                    ok = name in variables
                elif name == "time":
                    ok = True
                else:
                    ok = name in variables or name in self.entries
                if field and (
                    name not in self.entries or self.entries[name].family != "intermediate"
                ):
                    ok = False
                if not ok:
                    raise CatalogError(
                        f"{self.path}: product {entry.id}: input {argument}={reference!r} is neither a "
                        "canonical variable (weatherdata/variables.yaml) nor a product id"
                    )

    def _check_references(self):
        for entry in self.entries.values():
            for keyword, carried in entry.time.carry.items():
                if carried not in self.entries or self.entries[carried].family == "intermediate":
                    raise CatalogError(
                        f"{self.path}: product {entry.id}: time.carry {keyword}={carried!r} "
                        "is not a published product id"
                    )
            for key in entry.references:
                if key not in self.references:
                    raise CatalogError(
                        f"{self.path}: product {entry.id}: reference {key!r} is not in `references`"
                    )


def _unknown_message(product_id: str, known: dict) -> str:
    import difflib

    close = difflib.get_close_matches(product_id, list(known), n=3)
    hint = (
        f" (did you mean {', '.join(close)}?)"
        if close
        else " (`weatherdata catalog list` shows them)"
    )
    return f"unknown product id {product_id!r}{hint}"


def default_catalog_path() -> Path:
    """catalog.yaml inside the installed package, else the repository root."""
    packaged = resources.files("weatherdata").joinpath("catalog.yaml")
    if packaged.is_file():
        return Path(str(packaged))
    return Path(__file__).resolve().parent.parent / "catalog.yaml"


def _format_validation_error(path, exc: ValidationError, raw) -> str:
    first = exc.errors()[0]
    location = list(first["loc"])
    where = []
    if location[:1] in (["products"], ["intermediates"]) and len(location) > 1:
        try:
            entry_id = raw[location[0]][location[1]].get("id")
        except Exception:
            entry_id = None
        if isinstance(entry_id, str) and entry_id.strip():
            where.append(f"product {' '.join(entry_id.split())}")
        else:  # no usable id: the position in the list names the entry
            where.append(f"{location[0]} entry {location[1]}")
        location = location[2:]
    # keys as written, quoted when they are not plain names (one line, whatever the YAML)
    field = ".".join(p if isinstance(p, str) and p.isidentifier() else repr(p) for p in location)
    message = " ".join(str(first["msg"]).split()).removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    return (
        f"{path}: {', '.join([*where, field]) if field else ', '.join(where)}: {message}".replace(
            ": :", ":"
        )
    )


def load_catalog(path: str | Path | None = None) -> Catalog:
    """Load and validate a catalog file (the shipped one by default)."""
    path = Path(path) if path is not None else default_catalog_path()
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
    except FileNotFoundError:
        raise CatalogError(f"{path}: catalog file not found") from None
    except UnicodeDecodeError as exc:
        raise CatalogError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        raise CatalogError(f"{path}:{where}: not valid YAML ({problem})") from None
    if not isinstance(raw, dict):
        raise CatalogError(f"{path}: expected a mapping with `version` and `products`")
    try:
        data = _CatalogFile.model_validate(raw)
    except ValidationError as exc:
        raise CatalogError(_format_validation_error(path, exc, raw)) from None
    except Exception as exc:  # a unit that does not parse inside a validator
        raise CatalogError(f"{path}: {exc}") from None
    return Catalog(data, str(path))


@functools.cache
def shipped_catalog() -> Catalog:
    return load_catalog()


def parameter_value(parameter: Parameter | Any):
    """Turn a catalog parameter value into what a recipe receives.

    Strings that start with a number become pint quantities (``"35 degC"``); lists
    are converted element-wise; other strings (method names) pass through.
    """
    value = parameter.value if isinstance(parameter, Parameter) else parameter
    return _convert_value(value)


_NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?(\s|$)")


def _convert_value(value):
    if isinstance(value, list):
        return [_convert_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _convert_value(v) for k, v in value.items()}
    if isinstance(value, str) and _NUMBER.match(value):
        return parse_quantity(value)
    return value
