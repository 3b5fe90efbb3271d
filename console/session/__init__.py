"""Joining a LiveKit room: the join settings, the room session, and the headless monitor."""
