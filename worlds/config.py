"""One place that checks a scenario's config: the type and range of every field.

`validate(scenario)` runs first in `Scenario.__post_init__`, so every way of building a scenario
(keyword arguments, `arena train maze_v0:size=7`, a record's or a checkpoint's config) is
checked the same way, before any array is sized from it. The rules come from the dataclass
annotations and from `limits`, a class-level dict `{field: (low, high)}` that each scenario
class declares and that is merged along the class hierarchy (a subclass's entry wins):

- `int` fields take ints only: not bools, not floats. `size=9.0` is refused rather than
  converted, since a float where a count belongs is usually a mistake upstream; numpy integers
  are accepted and stored as plain ints.
- `float` fields take ints or floats (stored as float) that are finite: no nan, no inf.
- `str` fields take strings; `X | None` fields also take None.
- A field with limits must lie in `low..high` (both included).

Unknown keys are refused by `check_keys`, listing the known names. Every failure is a
`ConfigError` (a ValueError) naming the scenario, the field and the value.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import types
import typing
from functools import cache

import numpy as np

from worlds.errors import ConfigError


@cache
def _hints(cls: type) -> dict[str, object]:
    return typing.get_type_hints(cls)


def limits_of(cls: type) -> dict[str, tuple]:
    """The `limits` of `cls` and its bases merged, the most derived class winning."""
    merged: dict[str, tuple] = {}
    for klass in reversed(cls.__mro__):
        merged.update(vars(klass).get("limits", {}))
    return merged


def field_names(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def check_keys(cls: type, config: dict) -> None:
    """Refuse config keys that are not fields of the scenario class, listing the known ones."""
    known = field_names(cls)
    unknown = [key for key in config if key not in known]
    if unknown:
        name = getattr(cls, "name", cls.__name__)
        raise ConfigError(
            f"{name}: unknown config {'keys' if len(unknown) > 1 else 'key'} "
            f"{', '.join(map(repr, unknown))}; known: {', '.join(known)}"
        )


def validate(scenario) -> None:
    """Check (and normalise: numpy ints to int, ints to float where a float is declared) every
    field of a scenario dataclass; raise `ConfigError` on the first bad one."""
    cls = type(scenario)
    hints, limits = _hints(cls), limits_of(cls)
    for f in dataclasses.fields(cls):
        value = getattr(scenario, f.name)
        checked = _check_type(scenario, f.name, value, hints.get(f.name))
        if checked is not value:
            object.__setattr__(scenario, f.name, checked)  # frozen dataclass
        if f.name in limits and checked is not None:
            low, high = limits[f.name]
            if not low <= checked <= high:
                raise ConfigError(f"{scenario.name}: {f.name} must be {low}..{high}, got {checked!r}")


def _check_type(scenario, name: str, value, hint):
    options = typing.get_args(hint) if _is_union(hint) else (hint,)
    if value is None and type(None) in options:
        return None
    kinds = [o for o in options if o is not type(None)]
    if len(kinds) != 1 or kinds[0] not in (int, float, str, bool):
        return value  # a type this checker does not know: the scenario checks it itself
    kind = kinds[0]
    where = f"{scenario.name}: {name}"
    if kind is bool:
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
    elif kind is int:
        if isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)):
            return int(value)
        if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
            raise ConfigError(f"{where} must be a whole number (an int), got {value!r}")
    elif kind is float:
        if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
            value = float(value)
            if not math.isfinite(value):
                raise ConfigError(f"{where} must be a finite number, got {value!r}")
            return value
    elif isinstance(value, str):
        return value
    allowed = " or ".join(k.__name__ for k in kinds) + (" or None" if type(None) in options else "")
    raise ConfigError(f"{where} must be {allowed}, got {value!r} ({type(value).__name__})")


def _is_union(hint) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)
