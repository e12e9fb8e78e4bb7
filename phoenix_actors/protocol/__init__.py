"""Sans-IO Phoenix protocol: frames, URLs, schedules, state machines, presence.

Nothing in this package opens a socket, starts a thread, sleeps or reads the
clock: time is always an argument.
"""
