"""The plot's numpy-backed series: appends, trims, and survives growing and compacting."""

from __future__ import annotations

import numpy as np

from console.widgets.series import Series


def test_a_series_keeps_its_samples_in_order_across_compaction_and_growth() -> None:
    s = Series(capacity=4)
    expected: list[tuple[float, float]] = []
    for i in range(100):
        s.append(float(i), float(i * 10))
        expected.append((float(i), float(i * 10)))
        if i % 3 == 0:  # a window of the last 5 s: moves the start, later compacts
            s.trim(i - 5.0)
            expected = [(t, v) for t, v in expected if t >= i - 5.0]
        assert list(s) == expected
    assert len(s) == len(expected) and s.points.shape == (len(expected), 2)


def test_a_long_window_grows_the_buffer_without_losing_samples() -> None:
    s = Series(capacity=4)
    for i in range(50):
        s.append(float(i), 1.0)
    s.trim(10.0)
    assert len(s) == 40
    np.testing.assert_array_equal(s.points[:, 0], np.arange(10.0, 50.0))
    s.trim(1000.0)
    assert len(s) == 0 and not s and list(s) == []
