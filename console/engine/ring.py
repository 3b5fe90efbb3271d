"""Sample buffers: the SPSC ring behind the PortAudio callbacks, and a one-thread FIFO.

The producer (PortAudio's thread) only copies samples and stamps the block: no lock, no
allocation. The consumer (the media thread) reads whole frames and learns when their last
sample arrived. Indexes are absolute sample counts that only grow; CPython publishes each
integer assignment atomically, and the producer writes its data before its index.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt


class SampleRing:
    """Mono int16 samples plus, per written block, its end index and arrival time."""

    def __init__(self, capacity: int, block_slots: int = 4096) -> None:
        self.capacity = capacity
        self._buf = np.zeros(capacity, dtype=np.int16)
        self._ends = np.zeros(block_slots, dtype=np.int64)
        self._times = np.zeros(block_slots, dtype=np.float64)
        self._slots = block_slots
        self.written = 0   # producer: samples written (absolute)
        self.blocks = 0    # producer: blocks written
        self.read = 0      # consumer: samples consumed (absolute)
        self._block_read = 0

    # -- producer ------------------------------------------------------------------------
    def write(self, samples: npt.NDArray[np.int16], now: float) -> bool:
        """Append a block; False (and nothing written) when the reader is too far behind."""
        n = samples.shape[0]
        w = self.written
        if w + n - self.read > self.capacity:
            return False
        start = w % self.capacity
        first = min(n, self.capacity - start)
        self._buf[start:start + first] = samples[:first]
        if first < n:
            self._buf[:n - first] = samples[first:]
        slot = self.blocks % self._slots
        self._ends[slot] = w + n
        self._times[slot] = now
        self.written = w + n
        self.blocks += 1
        return True

    # -- consumer ------------------------------------------------------------------------
    def available(self) -> int:
        return self.written - self.read

    def take(self, out: npt.NDArray[np.int16], sample_rate: int) -> float:
        """Fill ``out`` with the oldest samples; return when its last sample was captured.

        That time is the arrival time of the block holding the last sample, less the
        duration of the samples that came after it in that block.
        """
        n = out.shape[0]
        r = self.read
        start = r % self.capacity
        first = min(n, self.capacity - start)
        out[:first] = self._buf[start:start + first]
        if first < n:
            out[first:] = self._buf[:n - first]
        end = r + n
        self.read = end
        return self._ready_time(end, sample_rate)

    def read_into(self, out: npt.NDArray[np.int16]) -> int:
        """Copy up to ``len(out)`` of the oldest samples into ``out``; return how many."""
        n = int(min(out.shape[0], self.written - self.read))
        r = self.read
        start = r % self.capacity
        first = min(n, self.capacity - start)
        out[:first] = self._buf[start:start + first]
        if first < n:
            out[first:n] = self._buf[:n - first]
        self.read = r + n
        return n

    def next_ready(self, n: int, sample_rate: int) -> float:
        """When the next ``n`` samples were complete (as :meth:`take` would say)."""
        return self._ready_time(self.read + n, sample_rate)

    def _ready_time(self, end: int, sample_rate: int) -> float:
        blocks = self.blocks
        k = self._block_read
        while k < blocks and self._ends[k % self._slots] < end:
            k += 1
        k = max(k, blocks - self._slots + 1, 0)
        self._block_read = k
        if k >= blocks:
            return float("nan")
        slot = k % self._slots
        return float(self._times[slot] - (int(self._ends[slot]) - end) / sample_rate)


class SampleFifo:
    """A fixed-size mono int16 FIFO for one thread (the media loop); a push that does not
    fit drops the oldest samples."""

    def __init__(self, capacity: int) -> None:
        self._buf = np.zeros(capacity, dtype=np.int16)
        self._start = 0
        self._len = 0

    def __len__(self) -> int:
        return self._len

    @property
    def capacity(self) -> int:
        return int(self._buf.shape[0])

    def push(self, samples: npt.NDArray[np.int16]) -> None:
        n = samples.shape[0]
        cap = self._buf.shape[0]
        if n >= cap:
            samples, n = samples[-cap:], cap
        overflow = self._len + n - cap
        if overflow > 0:
            self.drop(overflow)
        end = (self._start + self._len) % cap
        first = min(n, cap - end)
        self._buf[end:end + first] = samples[:first]
        self._buf[:n - first] = samples[first:]
        self._len += n

    def pop(self, n: int, dtype: type[np.generic] = np.int16) -> npt.NDArray[Any]:
        """The oldest ``n`` samples (fewer if fewer are held), as a new ``dtype`` array."""
        n = min(n, self._len)
        start = self._start
        first = min(n, self._buf.shape[0] - start)
        out = np.empty(n, dtype=dtype)
        out[:first] = self._buf[start:start + first]
        out[first:] = self._buf[:n - first]
        self.drop(n)
        return out

    def drop(self, n: int) -> None:
        n = min(n, self._len)
        self._start = (self._start + n) % self._buf.shape[0]
        self._len -= n
