"""A real browser client for the sandbox's tests: headless Chromium, livekit-client from npm."""
