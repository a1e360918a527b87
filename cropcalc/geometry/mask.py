r"""Exact inclusion counts of an arbitrary pixel mask, for every placement at once.

The problem. A crop at offset ``(i, j)`` shows exactly the original rectangle
``[f_i, l_i] x [g_j, m_j]`` (:meth:`CropAxis.window_extents`, padding copies
included). A mask ``M`` of size ``h x w`` placed with top-left ``(a, b)`` is included
when ``M`` has a pixel in the shifted rectangle, so the count of including offsets is

.. math:: N(a, b) = \sum_i G_{[f_i - a,\, l_i - a]}(b), \qquad
          G_I(b) = \#\{ j : C_I \cap [g_j - b, m_j - b] \neq \emptyset \},

where ``I`` is clipped to the mask rows ``[0, h - 1]`` and ``C_I`` is the set of
mask columns with a sensitive pixel in a row of ``I`` (the column projection of the
band ``I``). Everything below evaluates this sum without touching
placements x pixels x offsets.

Runs. Along an axis the extents ``(f_s, l_s)`` change by at most one between
neighbouring offsets, and they do so in long straight runs: a window sliding
through the image or through one mirrored copy moves both ends by the same step
``(±1, ±1)``; a window straddling a fold or clipped by constant fill keeps one end
at the image border (``f = 0`` or ``l = H - 1``) while the other moves; windows in
``edge`` padding or covering the whole axis repeat one extent. A handful of runs
describe an axis (:func:`extent_runs`); any extent that fits no run is a run of one.
(Axes built by hand with several reflect stages can fold at an inner row; such a
run is evaluated offset by offset, exact but slower. ``CropGeometry`` never builds
one: its second stage, ``pad_if_needed``, makes every window show the whole axis.)

Columns, for one column set ``C`` and every ``b`` at once, one vector operation per
column run: a sliding run ``(±1, ±1)`` of length ``L`` counts the offsets where the
1-D dilation of ``C`` by ``L`` is set, a range sum of its cumulative sum; a run
with a fixed start ``g`` is included from the first ``m >= next_C(g - b) + b``, a
count read off the "next set column" array; a run with a fixed end likewise with
"previous set column"; a repeated extent is one window test. Cost ``O(w + L + B)``.

Rows. For placement ``a`` a sliding row run contributes
``sum_k G_{[k, k + L - 1]}`` over a range of ``k = f - a``: a range sum in the
cumulative table of that family of column vectors; the rows for consecutive ``a``
are a reversed slice of the table, so one copy per end, no gather. A run with
fixed start ``f <= a`` sees mask prefixes ``[0, l - a]`` (the "prefix" family), a run
with fixed end ``l >= a + h - 1`` sees suffixes (the "suffix" family). The families
are built from the prefix and suffix column vectors ``G_{[0, x]}``, ``G_{[x, h-1]}``
(``2h`` column sets) plus, only when the crop is shorter than the mask, inner bands.

Cost: ``O(h (w + L + B))`` for the column vectors, ``O((h + L) B)`` per row family,
and two row gathers of the ``A x B`` map per row run, where ``A x B`` are the
placements and ``L`` the crop. With ``R`` row runs (1 for an unpadded crop, about 5
for reflect padding) that is about ``2R`` passes over the map.

Exactness: only integer additions, subtractions and products; the dtype is int32
when a bound on every intermediate value fits, int64 otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from cropcalc.geometry.axis import CropAxis

    IntArray = NDArray[np.int64]
    Table = NDArray[np.signedinteger[Any]]

__all__ = ["Run", "extent_runs", "mask_count_blocks"]

_BIG = 1 << 40  # "no set column": far beyond any axis, yet harmless in int64 sums
_BLOCK = 1 << 22  # elements of one map block / one batch of column work


def _shifted(table: Table, top: int, out: Table) -> Table:
    """``out[t] = table[clip(top - t, 0, n)]`` along axis 0, ``n = len(table) - 1``.

    Every lookup here is at ``constant - offset`` for consecutive offsets, so the
    rows form a reversed slice between two clamped ends: three copies instead of a
    gather. Pass transposed views to work along axis 1.
    """
    last = table.shape[0] - 1
    size = out.shape[0]
    high = min(max(top - last + 1, 0), size)  # t < high: clamped to the last row
    low = min(max(top, 0), size)  # t >= low: clamped to row 0
    out[:high] = table[last]
    if low > high:
        out[high:low] = table[top - low + 1 : top - high + 1][::-1]
    out[low:] = table[0]
    return out


@dataclass(frozen=True)
class Run:
    """Consecutive crop offsets whose extents move by one fixed step.

    Offset ``t`` of the run (``0 <= t < count``) shows the original interval
    ``[first + t * step_first, last + t * step_last]``.
    """

    first: int
    last: int
    step_first: int
    step_last: int
    count: int

    @property
    def firsts(self) -> tuple[int, int]:
        """Smallest and largest ``first`` in the run."""
        end = self.first + (self.count - 1) * self.step_first
        return min(self.first, end), max(self.first, end)

    @property
    def lasts(self) -> tuple[int, int]:
        """Smallest and largest ``last`` in the run."""
        end = self.last + (self.count - 1) * self.step_last
        return min(self.last, end), max(self.last, end)

    def singles(self) -> list[Run]:
        """The run as one run per offset."""
        return [
            Run(self.first + t * self.step_first, self.last + t * self.step_last, 0, 0, 1)
            for t in range(self.count)
        ]


def extent_runs(first: IntArray, last: IntArray) -> list[Run]:
    """Cut an axis' window extents into runs of one step each.

    Windows that show nothing (``last < first``, all constant fill) are dropped:
    they never include a patch. A step is one of ``(0, 0)``, ``(±1, ±1)``,
    ``(0, ±1)``, ``(±1, 0)``; anything else (which the padding maps never produce
    for crops of two pixels or more) ends the run.

    Args:
        first: First original position each window shows.
        last: Last original position each window shows.

    Returns:
        The runs, in offset order; their counts add up to the showing windows.
    """
    import numpy as np

    shows = last >= first
    windows = first.size
    if windows == 0:
        return []
    step_first, step_last = np.diff(first), np.diff(last)
    valid = (
        shows[:-1]
        & shows[1:]
        & (np.abs(step_first) <= 1)
        & (np.abs(step_last) <= 1)
        & (step_first * step_last >= 0)
    )
    code = np.where(valid, (step_first + 1) * 3 + (step_last + 1), -1)
    # Link k joins windows k and k + 1; `changes` are the links where the code changes.
    changes = np.flatnonzero(np.diff(code) != 0) + 1
    showing = np.flatnonzero(shows)
    runs: list[Run] = []
    k = int(showing[0]) if showing.size else windows
    while k < windows:
        if k < windows - 1 and code[k] >= 0:
            position = int(np.searchsorted(changes, k, side="right"))
            end = int(changes[position]) if position < changes.size else windows - 1
            runs.append(
                Run(int(first[k]), int(last[k]), int(step_first[k]), int(step_last[k]), end - k + 1)
            )
            k = end + 1
        else:
            runs.append(Run(int(first[k]), int(last[k]), 0, 0, 1))
            k += 1
        if k < windows and not shows[k]:
            after = int(np.searchsorted(showing, k))
            k = int(showing[after]) if after < showing.size else windows
    return runs


class _Columns:
    """``G`` for any band of mask rows: included column offsets for every ``b``."""

    def __init__(self, mask: NDArray[np.bool_], axis: CropAxis, offsets: IntArray) -> None:
        import numpy as np

        self.height, self.width = mask.shape
        self.band_counts = np.zeros((self.height + 1, self.width), dtype=np.int64)
        np.cumsum(mask, axis=0, out=self.band_counts[1:])
        self.runs = extent_runs(*axis.window_extents())
        self.offsets = offsets
        self._prefix: IntArray | None = None
        self._suffix: IntArray | None = None

    @property
    def prefix(self) -> IntArray:
        """Row ``x``: ``G`` of the mask rows ``[0, x]``."""
        import numpy as np

        if self._prefix is None:
            rows = np.arange(self.height)
            self._prefix = self.bands(np.zeros_like(rows), rows)
        return self._prefix

    @property
    def suffix(self) -> IntArray:
        """Row ``x``: ``G`` of the mask rows ``[x, h - 1]``."""
        import numpy as np

        if self._suffix is None:
            rows = np.arange(self.height)
            self._suffix = self.bands(rows, np.full_like(rows, self.height - 1))
        return self._suffix

    def bank(self, lows: IntArray, highs: IntArray) -> tuple[IntArray, IntArray]:
        """``G`` of the bands ``[lows, highs]`` clipped to the mask, as a bank and index.

        Returns:
            ``(bank, index)``: band ``n`` has ``G = bank[index[n]]``. The bank holds a
            zero row (empty bands), the prefix and suffix rows and any inner band,
            each once, so building a family gathers instead of recomputing.
        """
        import numpy as np

        height = self.height
        lows = np.maximum(lows, 0)
        highs = np.minimum(highs, height - 1)
        empty = lows > highs
        whole_top = ~empty & (lows == 0)
        whole_bottom = ~empty & ~whole_top & (highs == height - 1)
        inner = ~empty & ~whole_top & ~whole_bottom
        index = np.zeros(lows.size, dtype=np.int64)
        index[whole_top] = 1 + highs[whole_top]
        index[whole_bottom] = 1 + height + lows[whole_bottom]
        parts = [np.zeros((1, self.offsets.size), dtype=np.int64), self.prefix, self.suffix]
        if inner.any():
            codes, inverse = np.unique(lows[inner] * height + highs[inner], return_inverse=True)
            parts.append(self.bands(codes // height, codes % height))
            index[inner] = 1 + 2 * height + inverse
        return np.concatenate(parts), index

    def bands(self, lows: IntArray, highs: IntArray) -> IntArray:
        """``G`` of non-empty bands ``[lows, highs]`` inside the mask."""
        import numpy as np

        out = np.empty((lows.size, self.offsets.size), dtype=np.int64)
        widest = max((r.last - r.first + 1 for r in self.runs), default=1) + self.width
        batch = max(1, _BLOCK // (widest + self.offsets.size))
        for start in range(0, lows.size, batch):
            part = slice(start, start + batch)
            columns = (self.band_counts[highs[part] + 1] - self.band_counts[lows[part]]) > 0
            out[part] = self._count(columns)
        return out

    def _count(self, columns: NDArray[np.bool_]) -> IntArray:
        """Included column offsets for each set of mask columns, for every ``b``."""
        import numpy as np

        sets, width = columns.shape
        b0, size = int(self.offsets[0]), self.offsets.size
        b = self.offsets
        out = np.zeros((sets, size), dtype=np.int64)
        counts = np.zeros((sets, width + 1), dtype=np.int64)
        np.cumsum(columns, axis=1, out=counts[:, 1:])
        scratch = np.empty((sets, size), dtype=np.int64)
        following: IntArray | None = None
        preceding: IntArray | None = None

        def at(table: IntArray, constant: int) -> IntArray:
            """``table[:, clip(constant - b, 0, last)]`` for every ``b``."""
            return _shifted(table.T, constant - b0, scratch.T).T

        for run in self.runs:
            if run.count == 1 or run.step_first == run.step_last == 0:
                # Repeated window [g, m]: is a set column in [g - b, m - b]?
                hit = at(counts, run.last + 1).copy()
                hit -= at(counts, run.first)
                out += run.count * (hit > 0)
            elif run.step_first == run.step_last:
                # Sliding window of length L: dilate the set by L, sum over the run.
                length = run.last - run.first + 1
                lowest, highest = run.firsts
                x = np.arange(-length + 1, width)
                dilated = counts[:, np.clip(x + length, 0, width)] > counts[:, np.clip(x, 0, width)]
                total = np.zeros((sets, width + length), dtype=np.int64)
                np.cumsum(dilated, axis=1, out=total[:, 1:])
                out += at(total, highest + length)
                out -= at(total, lowest - 1 + length)
            elif run.step_first == 0:
                # Fixed start g: window [g, m] is included from m = next(g - b) + b on.
                if following is None:
                    following = _next_set(columns)
                low, high = run.lasts
                nearest = at(following, run.first) + b
                out += np.maximum(high - np.maximum(low, nearest) + 1, 0)
            else:
                # Fixed end m: window [g, m] is included up to g = previous(m - b) + b.
                if preceding is None:
                    preceding = _previous_set(columns)
                low, high = run.firsts
                nearest = at(preceding, run.last + 1) + b
                out += np.maximum(np.minimum(high, nearest) - low + 1, 0)
        return out


def _next_set(columns: NDArray[np.bool_]) -> IntArray:
    """``[:, x]``: the first set column at or after ``x``; ``_BIG`` for none (``x = w``)."""
    import numpy as np

    sets, width = columns.shape
    out = np.full((sets, width + 1), _BIG, dtype=np.int64)
    positions = np.where(columns, np.arange(width), _BIG)
    out[:, :width] = np.minimum.accumulate(positions[:, ::-1], axis=1)[:, ::-1]
    return out


def _previous_set(columns: NDArray[np.bool_]) -> IntArray:
    """``[:, x + 1]``: the last set column at or before ``x``; ``-_BIG`` for none."""
    import numpy as np

    sets, width = columns.shape
    out = np.full((sets, width + 1), -_BIG, dtype=np.int64)
    positions = np.where(columns, np.arange(width), -_BIG)
    out[:, 1:] = np.maximum.accumulate(positions, axis=1)
    return out


class _Family:
    """Cumulative sums over an index ``k`` of column vectors ``row(k)``.

    The table covers ``kmin <= k <= kmax``; below it every row equals ``below`` and
    above it ``above`` (None for zero rows). ``cum(k)`` is the sum of rows from
    ``kmin`` to ``k``, continued linearly outside, so ``cum(e) - cum(s - 1)`` is the
    sum over ``s <= k <= e`` for any ``s <= e + 1``.
    """

    def __init__(
        self,
        kmin: int,
        bank: Table,
        index: IntArray,
        below: Table | None = None,
        above: Table | None = None,
    ) -> None:
        import numpy as np

        self.kmin = kmin
        self.kmax = kmin + index.size - 1
        self.table: Table = np.zeros((index.size + 1, bank.shape[1]), dtype=bank.dtype)
        # Row by row: numpy's cumsum along axis 0 is several times slower than one
        # vectorised add per row, and this needs no gathered copy of the rows.
        table = self.table
        for k, source in enumerate(index.tolist()):
            np.add(table[k], bank[source], out=table[k + 1])
        self.below = below
        self.above = above

    def cum(self, constant: int, start: int, out: Table) -> Table:
        """``cum(constant - a)`` for ``a = start, start + 1, ...``, into ``out``'s rows."""
        import numpy as np

        top = constant - start - self.kmin + 1  # table row of the first a
        _shifted(self.table, top, out)
        size = out.shape[0]
        if self.above is not None:
            # k - kmax = (constant - start - kmax) - t > 0 for the first rows.
            first = constant - start - self.kmax
            rows = min(max(first, 0), size)
            if rows:
                steps = np.arange(first, first - rows, -1, dtype=out.dtype)
                out[:rows] += steps[:, None] * self.above
        if self.below is not None:
            # kmin - 1 - k = t - (top) > 0 for the last rows.
            begin = min(max(top + 1, 0), size)
            if begin < size:
                steps = np.arange(begin - top, size - top, dtype=out.dtype)
                out[begin:] -= steps[:, None] * self.below
        return out


@dataclass(frozen=True)
class _Term:
    """``multiplier * sum_{k = start - a}^{end - a} family.row(k)`` for placement ``a``."""

    family: tuple[str, int]
    start: int
    end: int
    multiplier: int


def _row_terms(runs: list[Run], height: int, a_first: int, a_last: int) -> list[_Term]:
    """Express every row run through the slide, prefix and suffix families."""
    terms: list[_Term] = []
    pending = list(runs)
    while pending:
        run = pending.pop()
        if run.count == 1 or run.step_first == run.step_last == 0:
            terms.append(
                _Term(("slide", run.last - run.first + 1), run.first, run.first, run.count)
            )
        elif run.step_first == run.step_last:
            lowest, highest = run.firsts
            terms.append(_Term(("slide", run.last - run.first + 1), lowest, highest, 1))
        elif run.step_first == 0 and run.first <= a_first:
            # Fixed start at or above every placement: the windows see mask prefixes.
            low, high = run.lasts
            terms.append(_Term(("prefix", 0), low, high, 1))
        elif run.step_last == 0 and run.last - a_last >= height - 1:
            # Fixed end at or below every placement's last row: mask suffixes.
            low, high = run.firsts
            terms.append(_Term(("suffix", 0), low, high, 1))
        else:
            # A fold inside the image (only axes built by hand have one): offset by
            # offset, exact and slower.
            pending.extend(run.singles())
    return terms


def _families(
    terms: list[_Term],
    columns: _Columns,
    a_first: int,
    a_last: int,
    dtype: type[np.signedinteger[Any]],
) -> dict[tuple[str, int], _Family]:
    import numpy as np

    height = columns.height
    rows = np.arange(height)
    families: dict[tuple[str, int], _Family] = {}
    for key in {term.family for term in terms}:
        kind, length = key
        if kind == "prefix":
            prefix = columns.prefix.astype(dtype)
            families[key] = _Family(0, prefix, rows, above=prefix[height - 1])
        elif kind == "suffix":
            suffix = columns.suffix.astype(dtype)
            families[key] = _Family(0, suffix, rows, below=suffix[0])
        else:
            # Rows k in [-L + 1, h - 1] can be non-zero; build only those queried.
            used = [term for term in terms if term.family == key]
            low = max(-length + 1, min(term.start - 1 - a_last for term in used))
            high = min(height - 1, max(term.end - a_first for term in used))
            k = np.arange(low, max(high, low) + 1)
            bank, index = columns.bank(k, k + length - 1)
            families[key] = _Family(low, bank.astype(dtype), index)
    return families


def mask_count_blocks(
    mask: NDArray[np.bool_],
    rows: CropAxis,
    cols: CropAxis,
    a_range: tuple[int, int],
    b_range: tuple[int, int],
) -> Iterator[tuple[int, Table]]:
    """Including crop offsets for every placement in a rectangle, in row blocks.

    Args:
        mask: The sensitive pixels over the patch's bounding box, ``h x w``.
        rows: The row axis of the crop (:meth:`CropGeometry.axes`).
        cols: The column axis.
        a_range: First and last top row ``a`` of the placements, both included,
            with ``0 <= a`` and ``a + h <= rows.length``.
        b_range: First and last left column ``b``, likewise.

    Yields:
        ``(a, block)``: ``block[t, u]`` is the number of crop offsets including the
        mask placed at ``(a + t, b_range[0] + u)``. Blocks cover the placements'
        rows in order and hold about four million counts each. A block is a reused
        buffer, valid until the next one is drawn: copy what you keep.
    """
    import numpy as np

    height = mask.shape[0]
    a_first, a_last = a_range
    offsets = np.arange(b_range[0], b_range[1] + 1, dtype=np.int64)
    columns = _Columns(mask, cols, offsets)
    terms = _row_terms(extent_runs(*rows.window_extents()), height, a_first, a_last)
    # A cumulative value sums at most (table rows + linear extension) column counts,
    # each at most cols.positions; a term is at most rows.positions of them.
    reach = height + rows.padded_length + (a_last - a_first) + 2
    bound = (reach + rows.positions) * cols.positions
    dtype: type[np.signedinteger[Any]] = np.int32 if bound < 2**31 else np.int64
    families = _families(terms, columns, a_first, a_last, dtype)
    block_rows = min(a_last - a_first + 1, max(1, _BLOCK // offsets.size))
    # Reused buffers: fresh pages for every block would cost more than the sums.
    block: Table = np.empty((block_rows, offsets.size), dtype=dtype)
    part: Table = np.empty_like(block)
    for start in range(a_first, a_last + 1, block_rows):
        rows_here = min(block_rows, a_last + 1 - start)
        out, scratch = block[:rows_here], part[:rows_here]
        if not terms or terms[0].multiplier != 1:
            out.fill(0)
        for number, term in enumerate(terms):
            family = families[term.family]
            if term.multiplier == 1:
                if number == 0:
                    family.cum(term.end, start, out)  # the first term writes, no zeroing
                else:
                    np.add(out, family.cum(term.end, start, scratch), out=out)
                np.subtract(out, family.cum(term.start - 1, start, scratch), out=out)
            else:
                family.cum(term.end, start, scratch)
                out += term.multiplier * scratch
                family.cum(term.start - 1, start, scratch)
                out -= term.multiplier * scratch
        yield start, out
