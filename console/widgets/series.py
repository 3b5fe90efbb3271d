"""A plot's time series kept in numpy arrays, so that a redraw reads views, not lists.

Converting thirty deques of (time, value) tuples to arrays was half of what a queue-plot
redraw cost in a 32-voice room (cProfile, docs/BENCHMARKS.md); appending to a preallocated
array and trimming by moving a start index costs next to nothing, and a redraw reads slices.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

Array = np.ndarray[Any, np.dtype[np.float64]]


class Series:
    """(time, value) samples in time order; the oldest are trimmed with :meth:`trim`."""

    def __init__(self, capacity: int = 256) -> None:
        self._data: Array = np.empty((max(4, capacity), 2), dtype=np.float64)
        self._start = 0
        self._end = 0

    def append(self, t: float, value: float) -> None:
        if self._end == len(self._data):
            kept = self._end - self._start
            if kept * 2 > len(self._data):  # mostly full of live samples: grow
                grown = np.empty((len(self._data) * 2, 2), dtype=np.float64)
                grown[:kept] = self._data[self._start:self._end]
                self._data = grown
            else:  # move the live samples to the front
                self._data[:kept] = self._data[self._start:self._end]
            self._start, self._end = 0, kept
        self._data[self._end] = (t, value)
        self._end += 1

    def trim(self, cutoff: float) -> None:
        """Drop the samples taken before ``cutoff``."""
        times = self._data[self._start:self._end, 0]
        self._start += int(np.searchsorted(times, cutoff, side="left"))

    @property
    def points(self) -> Array:
        """The samples as an (n, 2) view: column 0 the times, column 1 the values."""
        return self._data[self._start:self._end]

    def __len__(self) -> int:
        return self._end - self._start

    def __iter__(self) -> Iterator[tuple[float, float]]:
        return ((float(t), float(v)) for t, v in self.points)
