"""The ``check_origin`` policy of a socket (Phoenix's ``Transport.check_origin/5``).

A request without an ``Origin`` header always passes, as does every
request when the policy is False. Otherwise the policy is:

* ``True``: the Origin's host must equal the server's host (Phoenix
  compares it with the endpoint's ``url: [host: ...]``);
* ``"conn"``: the Origin's scheme, host and port must equal the request's
  (Phoenix's ``:conn``);
* a list of allowed origins, ``"https://example.com"``,
  ``"//other.com:8080"``, ``"//*.example.com"``: the scheme and the port
  are compared only when the allowed origin gives them (a scheme without a
  port means its default port, as Elixir's ``URI.parse``), ``*.`` matches
  the host itself and any subdomain;
* a callable ``f(origin) -> bool`` (Phoenix's MFA), given the raw header.

An Origin that does not parse to a host never passes a non-False policy.
A refused origin gets HTTP 403 on the websocket (``{"status": 403}`` over
long-poll).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import SplitResult, urlsplit

from phoenix_actors.errors import InvalidArgumentError

__all__ = ["CheckOrigin", "OriginPolicy"]

CheckOrigin = bool | Literal["conn"] | Sequence[str] | Callable[[str], bool]
"""What ``check_origin=`` accepts."""

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


@dataclass(frozen=True)
class _Allowed:
    scheme: str | None
    host: str | None
    port: int | None


def _port(parts: SplitResult) -> int | None:
    try:
        port = parts.port
    except ValueError:
        return None
    if port is None and parts.scheme:
        return _DEFAULT_PORTS.get(parts.scheme.lower())
    return port


def _parse_allowed(origin: str) -> _Allowed:
    if not isinstance(origin, str):
        raise InvalidArgumentError(f"check_origin entries must be strings, got {origin!r}")
    parts = urlsplit(origin)
    if not parts.hostname:
        msg = (
            f"invalid check_origin entry {origin!r}: expected an origin with a host, "
            'for example "https://example.com", "//another.com:888" or "//other.com"'
        )
        raise InvalidArgumentError(msg)
    scheme = parts.scheme.lower() or None
    return _Allowed(scheme, parts.hostname, _port(parts))


def _host_matches(host: str, allowed: str | None) -> bool:
    if allowed is None:
        return True
    if allowed.startswith("*."):
        base = allowed[2:]
        return host == base or host.endswith("." + base)
    return host == allowed


class OriginPolicy:
    """A parsed ``check_origin`` setting; :meth:`allows` judges one request.

    Raises:
        InvalidArgumentError: the setting is none of the accepted forms, or
            a listed origin has no host.
    """

    def __init__(self, check_origin: CheckOrigin, server_host: str) -> None:
        """Parse ``check_origin``; ``server_host`` is what ``True`` compares with."""
        self.server_host = server_host.lower()
        self._mode: Literal["off", "host", "conn", "list", "call"]
        self._allowed: tuple[_Allowed, ...] = ()
        self._call: Callable[[str], bool] | None = None
        if check_origin is False:
            self._mode = "off"
        elif check_origin is True:
            self._mode = "host"
        elif check_origin == "conn":
            self._mode = "conn"
        elif callable(check_origin):
            self._mode, self._call = "call", check_origin
        elif isinstance(check_origin, Sequence) and not isinstance(check_origin, str | bytes):
            self._mode = "list"
            self._allowed = tuple(_parse_allowed(o) for o in check_origin)
        else:
            msg = (
                'check_origin expects a bool, "conn", a list of origins or a callable, '
                f"got {check_origin!r}"
            )
            raise InvalidArgumentError(msg)

    def allows(
        self, origin: str | None, *, scheme: str, host: str | None, port: int | None
    ) -> bool:
        """Whether a request with this ``Origin`` header may connect.

        Args:
            origin: the header (None: absent, which always passes).
            scheme: the request's scheme (``http``/``https``), for ``"conn"``.
            host: the request's host (from its ``Host`` header), for ``"conn"``.
            port: the request's port, for ``"conn"``.
        """
        if origin is None or self._mode == "off":
            return True
        if self._mode == "call":
            assert self._call is not None
            return bool(self._call(origin))
        parts = urlsplit(origin)
        origin_host = parts.hostname
        if not origin_host:
            return False
        if self._mode == "host":
            return origin_host == self.server_host
        origin_scheme, origin_port = parts.scheme.lower() or None, _port(parts)
        if self._mode == "conn":
            return (
                host is not None
                and origin_host == host.lower()
                and origin_scheme == scheme.lower()
                and origin_port == port
            )
        return any(
            (a.scheme is None or a.scheme == origin_scheme)
            and (a.port is None or a.port == origin_port)
            and _host_matches(origin_host, a.host)
            for a in self._allowed
        )
