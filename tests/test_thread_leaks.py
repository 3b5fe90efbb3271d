"""The test session's own guard (conftest.py): a leaked non-daemon thread fails the run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

LEAKY = '''
import threading

stop = threading.Event()


def test_starts_a_thread() -> None:
    threading.Thread(target=stop.wait, args=({wait},), name="leaky-worker").start()
'''


@pytest.mark.parametrize(("wait", "grace", "status"), [
    (60.0, 0.5, 3),   # still running after the grace: reported, the run fails
    (0.3, 10.0, 0),   # ends within the grace: nothing to report
])
def test_a_thread_outliving_the_tests_fails_the_run(tmp_path: Path, wait: float, grace: float,
                                                    status: int) -> None:
    """Run the project's conftest as a plugin over a test that starts a non-daemon thread."""
    (tmp_path / "test_leaky.py").write_text(LEAKY.format(wait=wait))
    env = {**os.environ, "LKC_TEST_THREAD_GRACE_S": str(grace)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.conftest",
         "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(tmp_path), str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert "1 passed" in done.stdout, done.stdout + done.stderr
    assert done.returncode == status, done.stdout + done.stderr
    leaked = "--- leaky-worker" in done.stderr
    assert leaked == (status != 0), done.stderr
