"""The websocket handshake checks: serializer version and the auth-token subprotocol.

* ``vsn`` (query parameter): missing means ``"1.0.0"`` (V1 frames), as
  Phoenix; ``~> 1.0.0`` and ``~> 2.0.0`` are accepted, anything else gets
  HTTP 403.
* ``Sec-WebSocket-Protocol``: phoenix.js 1.8 offers ``phoenix`` and
  ``base64url.bearer.phx.<B>``, ``<B>`` being the token in *standard*
  base64 without ``=`` padding. The token entry is removed; what remains
  must include ``phoenix``, which the server echoes. A header with no
  acceptable entry (or an undecodable token) gets HTTP 403; no header is
  fine (no token, nothing echoed).
"""

from __future__ import annotations

from phoenix_actors.errors import FrameError, RemoteProtocolError
from phoenix_actors.protocol.frames import Role, V1JSONSerializer, V2JSONSerializer, serializer_for
from phoenix_actors.protocol.url import (
    AUTH_TOKEN_PREFIX,
    PHOENIX_SUBPROTOCOL,
    decode_auth_token_protocol,
)

__all__ = [
    "AUTH_TOKEN_PREFIX",
    "PHOENIX_SUBPROTOCOL",
    "HandshakeError",
    "negotiate_serializer",
    "parse_subprotocols",
]


class HandshakeError(Exception):
    """The upgrade request must be refused with HTTP 403 (the message says why)."""


def negotiate_serializer(vsn: str | None) -> V1JSONSerializer | V2JSONSerializer:
    """Return the server-side serializer for ``vsn`` (None means ``"1.0.0"``).

    Raises:
        HandshakeError: the version matches neither ``~> 1.0.0`` nor ``~> 2.0.0``.
    """
    version = "1.0.0" if vsn is None else vsn
    try:
        return serializer_for(version, Role.SERVER)
    except FrameError as exc:
        raise HandshakeError(str(exc)) from exc


def parse_subprotocols(header: str | None) -> tuple[str | None, str | None]:
    """Read the ``Sec-WebSocket-Protocol`` header.

    Returns:
        ``(auth_token, subprotocol_to_echo)``: both None without a header.

    Raises:
        HandshakeError: the header offers no acceptable subprotocol, or the
            token is not valid base64.
    """
    if header is None:
        return None, None
    # never put the header in a message: it may carry the auth token
    try:
        token, offered = decode_auth_token_protocol(header)
    except RemoteProtocolError as exc:
        raise HandshakeError("the auth token entry is not base64") from exc
    if PHOENIX_SUBPROTOCOL not in offered:
        raise HandshakeError("no acceptable subprotocol offered")
    return token, PHOENIX_SUBPROTOCOL
