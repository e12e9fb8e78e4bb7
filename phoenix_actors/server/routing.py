"""Topic routing: which channel handler serves a topic (Phoenix's ``channel "room:*", M``).

A pattern is either an exact topic (``"lobby"``) or a prefix ending in one
``*`` (``"room:*"`` matches ``"room:"`` and ``"room:42"``). Patterns are
tried in the order given and the first match wins, as Phoenix's generated
``__channel__/1`` clauses do.
"""

from __future__ import annotations

from collections.abc import Mapping

from phoenix_actors.errors import InvalidArgumentError
from phoenix_actors.server.api import ChannelFactory

__all__ = ["Router"]


class Router:
    """Map topics to channel handlers.

    Args:
        routes: ``{pattern: handler}`` in priority order.

    Raises:
        InvalidArgumentError: a pattern has a ``*`` anywhere but at its end.
    """

    def __init__(self, routes: Mapping[str, ChannelFactory]) -> None:
        """Compile the patterns."""
        self._exact: dict[str, tuple[int, ChannelFactory]] = {}
        self._prefixes: list[tuple[int, str, ChannelFactory]] = []
        for index, (pattern, handler) in enumerate(routes.items()):
            if not isinstance(pattern, str):
                raise InvalidArgumentError(f"topic pattern must be a string, got {pattern!r}")
            star = pattern.find("*")
            if star == -1:
                self._exact.setdefault(pattern, (index, handler))
            elif star == len(pattern) - 1:
                self._prefixes.append((index, pattern[:-1], handler))
            else:
                raise InvalidArgumentError(f"a splat pattern must end with '*': {pattern!r}")
        self.patterns: tuple[str, ...] = tuple(routes)
        """The patterns, in priority order."""

    def match(self, topic: str) -> ChannelFactory | None:
        """Return the handler for ``topic``, or None when no pattern matches."""
        best = self._exact.get(topic)
        for index, prefix, handler in self._prefixes:
            if best is not None and best[0] < index:
                break
            if topic.startswith(prefix):
                return handler
        return best[1] if best is not None else None
