"""Children of the console die with it, armed without a pre-exec hook (see parent_death)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from console import parent_death
from tests.process_helpers import alive, gone_within

# An owner that starts a child, prints its pid and is then killed without any cleanup.
OWNER = """
import os, signal, subprocess, sys
from console import parent_death
{start}
print(pid, flush=True)
sys.stdin.readline()
os.kill(os.getpid(), signal.SIGKILL)
"""
PLAIN_CHILD = """
child = subprocess.Popen(
    [sys.executable, "-c", "from console import parent_death; import time; "
     "parent_death.arm_from_env(); time.sleep(60)"],
    env=parent_death.child_env())
import time; time.sleep(0.5)  # it has armed the signal by now
pid = child.pid
"""
SANDBOX_CHILD = """
from console.session.local_sandbox import LocalSandbox
pid = LocalSandbox(voices=0).start()._proc.pid
"""


@pytest.mark.parametrize("start", [PLAIN_CHILD, SANDBOX_CHILD], ids=["child", "sandbox"])
def test_a_child_dies_with_its_killed_owner(start: str) -> None:
    owner = subprocess.Popen([sys.executable, "-c", OWNER.format(start=start)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert owner.stdout is not None and owner.stdin is not None
    pid = int(owner.stdout.readline())
    try:
        assert alive(pid)
        owner.stdin.write("\n")
        owner.stdin.flush()
        assert owner.wait(10) == -signal.SIGKILL
        assert gone_within(pid, 5), "the child outlived the process that started it"
    finally:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_a_child_whose_parent_is_already_gone_leaves_at_once() -> None:
    env = dict(os.environ, **{parent_death.ENV: "1"})  # not our parent: it died before
    done = subprocess.run(
        [sys.executable, "-c", "from console import parent_death; parent_death.arm_from_env();"
         " print('still here')"], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and "still here" not in done.stdout


def test_other_programs_run_under_setpriv_and_the_variable_names_our_pid() -> None:
    argv = parent_death.command(["true"])
    assert argv[-1] == "true"
    if argv[0] != "true":
        assert argv[1:4] == ["--pdeathsig", "TERM", "--"]
        assert subprocess.run(argv, timeout=10).returncode == 0
    assert parent_death.child_env({})[parent_death.ENV] == str(os.getpid())
