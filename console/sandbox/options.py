"""The ``sandbox`` command's options (light: no server imports, so the CLI starts fast)."""

from __future__ import annotations

import argparse

DEV_KEY = "devkey"      # what ``livekit-server --dev`` uses
DEV_SECRET = "secret"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7880)
    parser.add_argument("--voices", type=int, default=4, metavar="N",
                        help="demo voices that join the room (default 4)")
    parser.add_argument("--room", default="demo")
    parser.add_argument("--api-key", default=DEV_KEY)
    parser.add_argument("--api-secret", default=DEV_SECRET)
    parser.add_argument("--sdk-voices", action="store_true",
                        help="voices join as livekit SDK clients (about 4 %% of a core each) "
                             "instead of being played by the server; always so with --real")
    parser.add_argument("--agent", action="append", default=[], metavar="NAME",
                        help="run the scripted voice agent as NAME, joining a room only when "
                             "dispatched there (the joining token's room configuration, or "
                             "the AgentDispatchService API); repeatable. Without it the "
                             "demo room's voice agent (7th voice) is the scripted agent")
    parser.add_argument("--agent-think-ms", type=float, default=600.0, metavar="MS",
                        help="the agent's think time between the end of the user's speech "
                             "(its 500 ms endpointing) and its reply (default 600)")
    parser.add_argument("--real", action="store_true",
                        help="start livekit-server --dev from PATH instead")
    parser.add_argument("--duration", type=float, default=None, help=argparse.SUPPRESS)
