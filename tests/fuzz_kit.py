"""Hypothesis strategies for fuzzing the parsers of untrusted input (issue 8, item 7).

`json_values` draws any JSON value; `mutated` takes a valid document and changes
it where a hostile or broken sender would: a value anywhere replaced by any JSON
value, a key dropped or added, a list emptied; `mutated_text` does the same to
text, by characters and by lines. A parser passes when, for every draw, it
returns or raises one of its documented errors, and nothing else.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

__all__ = ["FUZZ", "json_values", "mutated", "mutated_text", "raises_only"]

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
"""Examples per parser and input shape: enough to reach every field, bounded for CI."""

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)

json_values = st.recursive(
    _SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=16,
)
"""Any JSON value (integers beyond 2**53 included)."""


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*prefix, index))


def _at(document: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        document = document[step]
    return document


@st.composite
def mutated(draw: st.DrawFn, document: Any, *, changes: int = 3) -> Any:
    """``document`` with 1 to ``changes`` edits, each at any depth."""
    result = copy.deepcopy(document)
    for _ in range(draw(st.integers(min_value=1, max_value=changes))):
        path = draw(st.sampled_from(list(_paths(result))))
        if not path:
            result = draw(json_values)
            continue
        parent, key = _at(result, path[:-1]), path[-1]
        action = draw(st.sampled_from(["replace", "replace", "drop", "add", "empty"]))
        if action == "replace":
            parent[key] = draw(json_values)
        elif action == "drop":
            del parent[key]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.text(max_size=12))] = draw(json_values)
        elif action == "add":
            parent.insert(key, draw(json_values))
        else:
            value = parent[key]
            parent[key] = type(value)() if isinstance(value, dict | list | str) else None
    return result


@st.composite
def mutated_text(draw: st.DrawFn, text: str) -> str:
    """``text`` with characters or whole lines inserted, dropped or replaced."""
    result = text
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        if draw(st.booleans()):
            lines = result.split("\n")
            index = draw(st.integers(min_value=0, max_value=len(lines) - 1))
            lines[index : index + draw(st.integers(0, 1))] = draw(
                st.lists(st.text(max_size=60), max_size=2)
            )
            result = "\n".join(lines)
        else:
            start = draw(st.integers(min_value=0, max_value=len(result)))
            end = draw(st.integers(min_value=start, max_value=min(len(result), start + 8)))
            result = result[:start] + draw(st.text(max_size=8)) + result[end:]
    return result


def raises_only(
    errors: tuple[type[BaseException], ...], call: Any, *args: Any, **kwargs: Any
) -> Any:
    """Call ``call(*args, **kwargs)``; return its result, or None if it raised one of
    ``errors``. Anything else it raises fails the test, with the input in hypothesis's
    report."""
    try:
        return call(*args, **kwargs)
    except errors:
        return None
