"""Logging: StartLogging / StopLogging / Log through the standard ``logging`` module.

Frames are logged at DEBUG on ``phoenix_actors.frames``; :class:`Log` writes
on ``phoenix_actors`` and, like Elm's ``log``, only while logging is on.
(The file is not called ``logging.py``: run as a script, that name would
shadow the standard library module.)
"""

import logging
import sys

from phoenix_actors import Client, Join, Log, Push, StartLogging, StopLogging
from phoenix_actors.server import LoopbackServer


class PingOnly(logging.Filter):
    """Keep the output stable: the ping frames and the Log lines (not joins, presence)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Pass frames carrying ``{"n": ...}`` (the pings and their replies) and Log records."""
        if record.name == "phoenix_actors.frames":
            return "'n': " in record.getMessage()
        return record.msg == "%s: %r"  # the format Log uses


handler = logging.StreamHandler(sys.stdout)
handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
handler.addFilter(PingOnly())
logging.getLogger("phoenix_actors").addHandler(handler)

with LoopbackServer() as server, Client(server.url, params={"user_id": "logger"}) as client:
    client.ask(Join("room:logging"))
    client.ask(Log("info", "not shown", {"logging": "off"}))

    client.ask(StartLogging())  # sets DEBUG on the loggers unless you set a level
    client.ask(Log("info", "about to ping", {"n": 1}))
    client.ask(Push("room:logging", "ping", {"n": 1}))
    client.ask(StopLogging())

    client.ask(Push("room:logging", "ping", {"n": 2}))  # not logged
    client.ask(Log("warning", "not shown either", None))
    print("done")
