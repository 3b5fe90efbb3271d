"""A small LiveKit-compatible server (signalling + WebRTC through aiortc) and demo voices.

The console's default room when no server is configured, and the server the test suite
drives the real livekit SDK against. What it implements and what it leaves out:
``docs/ARCHITECTURE.md``.
"""
