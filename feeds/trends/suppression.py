"""Disclosure control: primary (k-threshold) and secondary (interval-protection) suppression.

Primary: every cell and every margin with fewer than ``k`` contributing records is
suppressed. Secondary: an attacker knows every published value, which cells exist
(at least one record) and which are suppressed, ``k``, and that every margin is the
sum of the cells under it. We assume an *informed* attacker who also knows which
suppressed cells are primary: their record counts lie in ``[1, k-1]``, those of the
other suppressed cells in ``[k, inf)``; summed metrics lie in ``[0, inf)``.

For each primary cell and each checked series, the feasible interval of its value is
computed by linear programming (HiGHS through SciPy) over the suppressed cells and
margins, subject to the margin equations and those bounds. Counts are solved as
integer programs (``scipy.optimize.milp``), so the interval is exact even where the
constraint matrix is not totally unimodular (3- and 4-dimensional breakdowns); other
series use the linear relaxation (``scipy.optimize.linprog``). A primary value is
*protected* when its interval spans at least one unit (``max - min >= min_width``): for
counts, when it holds at least two integers. A summed value that is 0 needs no
protection interval (the usual convention: the protection required is proportional to
the value). While a primary value is unprotected one more entry is suppressed: the
published entry with the fewest records that shares a margin equation with it,
preferring cells to margins, ties broken by key; if none, the same choice among the
entries linked to it through other suppressed entries. Suppressing more never shrinks
an interval, so each primary value is made safe once, and the loop ends (each step
suppresses one more entry). A primary value that stays exposed even with everything
suppressed (possible only when existence and "<k" alone pin it down) is reported in
:attr:`Protection.unprotectable` and triggers no further suppression.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.optimize import (  # type: ignore[import-untyped]
    Bounds,
    LinearConstraint,
    linprog,
    milp,
)
from scipy.sparse import coo_array  # type: ignore[import-untyped]

from feeds.trends.aggregate import Key, is_margin, margins_of

_TOLERANCE = 1e-6

__all__ = ["Check", "Protection", "primary_suppressions", "protect", "sort_key"]


@dataclass(frozen=True, slots=True)
class Check:
    """One series whose primary values must be protected under a suppression pattern.

    ``values`` are the values of every existing cell and margin (published or not), in
    integer sub-units; they must be additive (each margin the sum of its cells).
    ``bounds`` is what the attacker knows of an unknown value:
    ``informed`` (record counts: ``[1, k-1]`` for primary entries, ``[k, inf)`` for the
    others) or ``nonnegative`` (``[0, inf)``). ``integer`` solves exact integer intervals.
    """

    values: Mapping[Key, int]
    bounds: Literal["informed", "nonnegative"] = "nonnegative"
    min_width: int = 1
    integer: bool = True


@dataclass(frozen=True, slots=True)
class Protection:
    """A suppression pattern and why each entry is in it."""

    suppressed: frozenset[Key]
    primary: frozenset[Key]
    """Suppressed for having fewer than ``k`` contributing records (never published as such)."""
    secondary: frozenset[Key]
    """Suppressed so that no primary value can be recovered."""
    unprotectable: frozenset[Key]
    """Primary entries whose value structure alone reveals (see the module docstring)."""


def sort_key(key: Key) -> tuple[tuple[bool, str], ...]:
    """A total order on keys: values in order, None (all) last."""
    return tuple((value is None, value or "") for value in key)


def primary_suppressions(contributors: Mapping[Key, int], k: int) -> frozenset[Key]:
    """The cells and margins with fewer than ``k`` contributing records."""
    return frozenset(key for key, count in contributors.items() if count < k)


class _Structure:
    """The margin equations of a table: each margin equals the sum of the cells under it."""

    def __init__(self, keys: Iterable[Key]) -> None:
        self.keys = frozenset(keys)
        self.under: dict[Key, list[Key]] = {key: [] for key in self.keys if is_margin(key)}
        self.above: dict[Key, list[Key]] = {}
        for key in sorted(self.keys, key=sort_key):
            if not is_margin(key):
                margins = [m for m in margins_of(key) if m in self.under]
                self.above[key] = margins
                for margin in margins:
                    self.under[margin].append(key)

    def equations_of(self, key: Key) -> list[Key]:
        """The margins whose equation ``key`` appears in (a margin: its own)."""
        return [key] if is_margin(key) else self.above[key]

    def members(self, margin: Key) -> list[Key]:
        """The entries of ``margin``'s equation: itself and the cells under it."""
        return [margin, *self.under[margin]]

    def unknown_in(self, unknown: Iterable[Key]) -> dict[Key, list[Key]]:
        """For each equation (by its margin), its members among ``unknown``."""
        found: dict[Key, list[Key]] = {}
        for key in unknown:
            for margin in self.equations_of(key):
                found.setdefault(margin, []).append(key)
        return found

    def component(
        self, start: Key, unknown_in: Mapping[Key, list[Key]]
    ) -> tuple[list[Key], list[Key]]:
        """The unknown entries linked to ``start`` through shared equations (``unknown_in``
        as from :meth:`unknown_in`), and the equations they appear in."""
        seen, equations = {start}, set()
        todo = [start]
        while todo:
            key = todo.pop()
            for margin in self.equations_of(key):
                if margin in equations:
                    continue
                equations.add(margin)
                for member in unknown_in.get(margin, ()):
                    if member not in seen:
                        seen.add(member)
                        todo.append(member)
        return sorted(seen, key=sort_key), sorted(equations, key=sort_key)


def _protected(
    structure: _Structure,
    check: Check,
    target: Key,
    unknown_in: Mapping[Key, list[Key]],
    primary: frozenset[Key],
    k: int,
) -> bool:
    """Whether the attacker's feasible interval for ``target``, the unpublished entries
    being those in ``unknown_in``, spans at least ``check.min_width``."""
    variables, equations = structure.component(target, unknown_in)
    index = {key: position for position, key in enumerate(variables)}
    cap = 2 * max(check.values.values(), default=0) + 2 * k + 10
    lower = np.zeros(len(variables))
    upper = np.full(len(variables), float(cap))
    if check.bounds == "informed":
        for key, position in index.items():
            if key in primary:
                lower[position], upper[position] = 1, k - 1
            else:
                lower[position] = k
    # Each equation, unknowns on the left: sum(sign * x) = -(sum of the published members'
    # sign * value). The table is additive (every margin is the sum of its cells), so that
    # right-hand side equals sum(sign * value) over the unknown members: computed that way
    # it costs the unknowns only, not every member of a large margin.
    data, row_of, column_of, rhs = [], [], [], []
    for row, margin in enumerate(equations):
        total = 0
        for member in unknown_in[margin]:
            sign = -1 if member == margin else 1
            data.append(sign)
            row_of.append(row)
            column_of.append(index[member])
            total += sign * check.values[member]
        rhs.append(total)
    matrix = coo_array(
        (np.array(data, dtype=float), (np.array(row_of), np.array(column_of))),
        shape=(len(equations), len(variables)),
    ).tocsr()
    rows = len(equations) > 0
    objective = np.zeros(len(variables))
    objective[index[target]] = 1
    value = check.values[target]
    extremes = []
    for direction in (-1, 1):  # the maximum first: it often settles the question alone
        if check.integer:
            constraints = [LinearConstraint(matrix, rhs, rhs)] if rows else []
            result = milp(
                direction * objective,
                constraints=constraints,
                integrality=np.ones(len(variables)),
                bounds=Bounds(lower, upper),
            )
        else:
            result = linprog(
                direction * objective,
                A_eq=matrix if rows else None,
                b_eq=np.array(rhs, dtype=float) if rows else None,
                bounds=list(zip(lower, upper, strict=True)),
                method="highs",
            )
        if result.status != 0 or result.x is None:
            raise RuntimeError(f"interval of {target}: the solver failed ({result.message})")
        extremes.append(float(result.x[index[target]]))
        if direction == -1 and extremes[0] - value >= check.min_width - _TOLERANCE:
            return True
    return extremes[0] - extremes[1] >= check.min_width - _TOLERANCE


def protect(
    checks: Sequence[Check],
    primary: Iterable[Key],
    *,
    k: int,
    weights: Mapping[Key, int],
    already: Iterable[Key] = (),
) -> Protection:
    """Suppress ``primary`` and enough further entries that every primary value of every
    check is protected (see the module docstring).

    ``weights`` holds every existing cell and margin with its record count (the
    suppression cost); ``already`` are entries suppressed beforehand (say, by another
    series' pattern). Returns the :class:`Protection`.
    """
    structure = _Structure(weights)
    primaries = frozenset(primary) & structure.keys
    suppressed = set(primaries) | (set(already) & structure.keys)
    hopeless: set[Key] = set()
    unknown_in = structure.unknown_in(sorted(suppressed, key=sort_key))
    everything: dict[Key, list[Key]] | None = None
    for target in sorted(primaries, key=lambda key: (is_margin(key), sort_key(key))):
        for check in checks:
            if check.bounds != "informed" and check.values[target] == 0:
                continue
            checked_hope = False
            while not _protected(structure, check, target, unknown_in, primaries, k):
                if not checked_hope:
                    checked_hope = True
                    if everything is None:
                        everything = structure.unknown_in(sorted(structure.keys, key=sort_key))
                    if not _protected(structure, check, target, everything, primaries, k):
                        hopeless.add(target)
                        break
                helper = _helper(structure, target, frozenset(suppressed), unknown_in, weights)
                if helper is None:  # pragma: no cover - everything linked is suppressed
                    hopeless.add(target)
                    break
                suppressed.add(helper)
                for margin in structure.equations_of(helper):
                    unknown_in.setdefault(margin, []).append(helper)
    done = frozenset(suppressed)
    return Protection(
        suppressed=done,
        primary=primaries,
        secondary=done - primaries,
        unprotectable=frozenset(hopeless),
    )


def _helper(
    structure: _Structure,
    target: Key,
    suppressed: frozenset[Key],
    unknown_in: Mapping[Key, list[Key]],
    weights: Mapping[Key, int],
) -> Key | None:
    """The next entry to suppress to protect ``target`` (None if nothing linked is left).

    Among the published entries sharing an equation with it: cells before margins, then
    those whose suppression leaves the fewest equations with a single unknown (which
    would pin that unknown down: this closes rectangles rather than opening new rows),
    then those sharing the finest equation with it (fewest dimensions summed out), then
    the fewest records, then by key."""

    def alone(candidate: Key) -> int:
        return sum(not unknown_in.get(m) for m in structure.equations_of(candidate))

    def cheapest(equations: Iterable[Key]) -> Key | None:
        best: tuple[tuple[object, ...], Key] | None = None
        for margin in equations:
            level = margin.count(None)
            for key in structure.members(margin):
                if key not in suppressed:
                    rank = (is_margin(key), alone(key), level, weights[key], sort_key(key))
                    if best is None or rank < best[0]:
                        best = (rank, key)
        return None if best is None else best[1]

    direct = cheapest(structure.equations_of(target))
    if direct is not None:
        return direct
    return cheapest(structure.component(target, unknown_in)[1])
