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

import base64
import binascii
from typing import Final

from phoenix_actors.errors import FrameError
from phoenix_actors.protocol.frames import Role, V1JSONSerializer, V2JSONSerializer, serializer_for

__all__ = [
    "AUTH_TOKEN_PREFIX",
    "PHOENIX_SUBPROTOCOL",
    "HandshakeError",
    "negotiate_serializer",
    "parse_subprotocols",
]

AUTH_TOKEN_PREFIX: Final = "base64url.bearer.phx."  # noqa: S105 - a prefix, not a secret
"""Start of the subprotocol entry that carries the auth token."""

PHOENIX_SUBPROTOCOL: Final = "phoenix"
"""The subprotocol the server answers with when a client offers subprotocols."""


class HandshakeError(Exception):
    """The upgrade request must be refused with HTTP 403 (the message says why)."""


def negotiate_serializer(vsn: str | None) -> V1JSONSerializer | V2JSONSerializer:
    """Return the server-side serializer for ``vsn`` (None means ``"1.0.0"``).

    Raises:
        HandshakeError: the version matches neither ``~> 1.0.0`` nor ``~> 2.0.0``.
    """
    version = "1.0.0" if vsn is None else vsn
    parts = version.split(".")
    # Elixir's "~> 2.0.0" means >= 2.0.0 and < 2.1.0: three numeric parts
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise HandshakeError(f"unsupported serializer version {version!r}")
    try:
        return serializer_for(version, Role.SERVER)
    except FrameError as exc:
        raise HandshakeError(str(exc)) from exc


def _decode_token(encoded: str) -> str:
    padded = encoded + "=" * (-len(encoded) % 4)
    try:
        return base64.b64decode(padded, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise HandshakeError(f"auth token is not base64: {exc}") from exc


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
    offered = [p.strip() for p in header.split(",") if p.strip()]
    token = None
    rest = []
    for entry in offered:
        if entry.startswith(AUTH_TOKEN_PREFIX) and token is None:
            token = _decode_token(entry[len(AUTH_TOKEN_PREFIX) :])
        else:
            rest.append(entry)
    if PHOENIX_SUBPROTOCOL not in rest:
        raise HandshakeError(f"no acceptable subprotocol in {header!r}")
    return token, PHOENIX_SUBPROTOCOL
