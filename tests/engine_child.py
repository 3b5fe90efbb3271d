"""An engine in a child process, driven line by line on stdin (tests/test_pulse_unplug.py).

Apart, so that a native thread that goes wrong (PortAudio's spin, docs/ARCHITECTURE.md)
burns the child, not the test run, and its stderr can be counted. Commands:
``input NAME`` (answers ``ok NAME`` or ``error TEXT``), ``state`` (a JSON line:
the input open, the chosen one missing, the banner), ``quit`` (answers ``stopped``).
The card's environment comes from the parent (``VirtualSoundCard.apply``).
"""

from __future__ import annotations

import json
import sys

from console.engine.apm import ProcessingConfig
from console.engine.audio_engine import AudioEngine
from console.engine.devices import DeviceError


def main() -> None:
    engine = AudioEngine(input_device=sys.argv[1], output_device=sys.argv[2],
                         processing=ProcessingConfig.off(), backend=sys.argv[3])
    engine.start()
    print("ready", flush=True)
    for line in sys.stdin:
        command, _, arg = line.strip().partition(" ")
        if command == "input":
            try:
                print("ok", engine.set_input_device(arg).name, flush=True)
            except DeviceError as exc:
                print("error", exc, flush=True)
        elif command == "state":
            mic = engine.mic_state()
            print(json.dumps({"device": mic.device, "missing": mic.missing,
                              "message": mic.message}), flush=True)
        elif command == "quit":
            break
    engine.stop()
    print("stopped", flush=True)


if __name__ == "__main__":
    main()
