"""Socket URLs, auth-token subprotocols and topic parts, as phoenix.js builds them.

Pure functions, no I/O. :func:`endpoint_url` mirrors phoenix.js
``Socket.endPointURL`` (``socket.js``) and ``Ajax.appendParams`` /
``Ajax.serialize`` (``ajax.js``), and for long-poll ``LongPoll.normalizeEndpoint``
(``longpoll.js``):

- ``/websocket`` (or ``/longpoll``) is appended to the endpoint path;
- the query holds the params first, in JavaScript ``for...in`` key order
  (integer-like keys ascending, then the rest in insertion order), then
  ``vsn`` last;
- keys and values are percent-encoded as ``encodeURIComponent`` does, nested
  mappings and sequences become bracket keys (``user[id]=1``, ``ids[0]=7``),
  and a ``None`` or an empty container contributes an empty segment (phoenix.js
  serializes ``null`` as nothing, so ``{"a": None}`` gives ``?&vsn=2.0.0``).

Unlike a browser there is no page to resolve ``/path`` or ``//host`` against,
so the endpoint must be an absolute ``ws``, ``wss``, ``http`` or ``https`` URL;
``http(s)`` maps to ``ws(s)`` for the websocket and ``ws(s)`` to ``http(s)``
for long-poll.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Final, Literal
from urllib.parse import quote, urlsplit

from phoenix_actors.errors import InvalidArgumentError, InvalidTypeError, RemoteProtocolError

__all__ = [
    "AUTH_TOKEN_PREFIX",
    "DEFAULT_VSN",
    "auth_token_protocols",
    "decode_auth_token_protocol",
    "endpoint_url",
    "topic_parts",
]

DEFAULT_VSN: Final = "2.0.0"
"""The ``vsn`` phoenix.js sends unless told otherwise (``constants.js``)."""

AUTH_TOKEN_PREFIX: Final = "base64url.bearer.phx."  # noqa: S105 (a prefix, not a secret)
"""Prefix of the subprotocol that carries the auth token (``constants.js``)."""

PHOENIX_SUBPROTOCOL: Final = "phoenix"
"""The subprotocol offered beside the token one, and echoed by the server."""

Transport = Literal["websocket", "longpoll"]
"""The transport an endpoint URL is built for."""

Params = Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None
"""Connect params: a mapping, a callable returning one (called per URL), or None."""

_WS_SCHEMES: Final = {"ws": "ws", "wss": "wss", "http": "ws", "https": "wss"}
_LONGPOLL_SCHEMES: Final = {"ws": "http", "wss": "https", "http": "http", "https": "https"}
# encodeURIComponent leaves A-Z a-z 0-9 - _ . ! ~ * ' ( ) as they are; quote()
# always keeps letters, digits and "_.-~", so only the rest are listed.
_URI_COMPONENT_SAFE: Final = "!*'()"
# ECMAScript "array index" keys: for...in visits them first, in numeric order.
_ARRAY_INDEX: Final = re.compile(r"0|[1-9][0-9]*")
_ARRAY_INDEX_MAX: Final = 2**32 - 2
_FORBIDDEN_IN_ENDPOINT: Final = re.compile(r"[\x00-\x20\x7f?#]")


def endpoint_url(
    endpoint: str,
    params: Params = None,
    *,
    vsn: str = DEFAULT_VSN,
    transport: Transport = "websocket",
) -> str:
    """Build the URL a socket connects to, as phoenix.js ``Socket.endPointURL`` does.

    Args:
        endpoint: absolute ``ws``, ``wss``, ``http`` or ``https`` URL of the
            socket mount, without query string, fragment or trailing slash,
            for example ``"wss://example.com/socket"``.
        params: connect params; a callable is called on every call, so a
            token can be refreshed per connect.
        vsn: the serializer version the server should speak.
        transport: ``"websocket"`` or ``"longpoll"``.

    Returns:
        For example ``"wss://example.com/socket/websocket?token=abc&vsn=2.0.0"``.

    Raises:
        InvalidArgumentError: a bad ``endpoint``, ``vsn`` or ``transport``, or a
            param string that is not valid Unicode (a lone surrogate).
        InvalidTypeError: ``params`` (or what its callable returns) is not a
            mapping, or holds a key that is not a str or a value that is not
            None, bool, int, float, str, a mapping or a list/tuple.
    """
    if transport == "websocket":
        schemes = _WS_SCHEMES
    elif transport == "longpoll":
        schemes = _LONGPOLL_SCHEMES
    else:
        raise InvalidArgumentError(
            f"transport must be 'websocket' or 'longpoll', not {transport!r}"
        )
    if not isinstance(vsn, str) or not vsn:
        raise InvalidArgumentError(f"vsn must be a non-empty str, not {vsn!r}")
    scheme, rest = _split_endpoint(endpoint)
    resolved: object = params() if callable(params) else params
    if resolved is None:
        resolved = {}
    if not isinstance(resolved, Mapping):
        got = type(resolved).__name__
        raise InvalidTypeError(f"params must be a mapping (or a callable returning one), not {got}")
    url = f"{schemes[scheme]}:{rest}/{transport}"
    url = _append_params(url, resolved)
    return _append_params(url, {"vsn": vsn})


def _split_endpoint(endpoint: str) -> tuple[str, str]:
    """Check ``endpoint``; return its lower-cased scheme and the text after ``scheme:``."""
    if not isinstance(endpoint, str):
        raise InvalidTypeError(f"endpoint must be a str, not {type(endpoint).__name__}")
    bad = _FORBIDDEN_IN_ENDPOINT.search(endpoint)
    if bad is not None:
        what = {"?": "a query string", "#": "a fragment"}.get(bad.group(), "whitespace")
        msg = (
            f"endpoint must not contain {what} (phoenix.js appends /websocket to it): {endpoint!r}"
        )
        raise InvalidArgumentError(msg)
    try:
        parts = urlsplit(endpoint)
        _ = parts.port  # raises ValueError for a bad port
    except ValueError as exc:
        raise InvalidArgumentError(f"endpoint is not a valid URL: {endpoint!r}: {exc}") from exc
    scheme = parts.scheme.lower()
    if (
        scheme not in _WS_SCHEMES
        or not parts.hostname
        or not endpoint[len(scheme) :].startswith("://")
    ):
        msg = (
            f"endpoint must be an absolute ws://, wss://, http:// or https:// URL, not {endpoint!r}"
        )
        raise InvalidArgumentError(msg)
    if parts.path.endswith("/"):
        msg = f"endpoint must not end with '/' (phoenix.js appends /websocket to it): {endpoint!r}"
        raise InvalidArgumentError(msg)
    return scheme, endpoint[len(scheme) + 1 :]


def _append_params(url: str, params: Mapping[Any, Any]) -> str:
    """``Ajax.appendParams``: nothing for no keys, else ``?`` or ``&`` and the query."""
    if not params:
        return url
    prefix = "&" if "?" in url else "?"
    return f"{url}{prefix}{_serialize(params, None)}"


def _serialize(obj: Mapping[Any, Any] | Sequence[Any] | None, parent: str | None) -> str:
    """``Ajax.serialize``: ``key=value`` pairs joined by ``&``, nested keys in brackets."""
    if obj is None:
        return ""  # for...in over null visits nothing
    if isinstance(obj, Mapping):
        items = _js_ordered_items(obj, parent)
    else:
        items = [(str(i), v) for i, v in enumerate(obj)]
    parts = []
    for key, value in items:
        # phoenix.js tests the parent key for truthiness: under "" a key stays bare
        name = f"{parent}[{key}]" if parent else key
        if value is None or isinstance(value, Mapping | list | tuple):
            parts.append(_serialize(value, name))
        else:
            parts.append(
                f"{_encode_uri_component(name)}={_encode_uri_component(_js_string(value, name))}"
            )
    return "&".join(parts)


def _js_ordered_items(obj: Mapping[Any, Any], parent: str | None) -> list[tuple[str, Any]]:
    """The items in JavaScript ``for...in`` order: array-index keys ascending, then the rest."""
    indexed: list[tuple[int, str, Any]] = []
    named: list[tuple[str, Any]] = []
    for key, value in obj.items():
        if not isinstance(key, str):
            where = "params" if parent is None else f"params key {parent!r}"
            raise InvalidTypeError(
                f"{where} has a {type(key).__name__} key {key!r}; keys must be str"
            )
        if _ARRAY_INDEX.fullmatch(key) and int(key) <= _ARRAY_INDEX_MAX:
            indexed.append((int(key), key, value))
        else:
            named.append((key, value))
    indexed.sort(key=lambda item: item[0])
    return [(key, value) for _, key, value in indexed] + named


def _js_string(value: object, name: str) -> str:
    """``String(value)`` for the scalar types a param may hold."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _js_number(value)
    msg = (
        f"params value {name!r} is a {type(value).__name__}; values must be None, bool, "
        "int, float, str, a mapping or a list"
    )
    raise InvalidTypeError(msg)


def _js_number(value: float) -> str:
    """ECMAScript ``Number::toString`` (radix 10) for a float."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"  # also for -0.0
    sign = "-" if value < 0 else ""
    # repr() gives the shortest round-tripping digits, the same ones JS picks.
    _, digit_tuple, exponent = Decimal(repr(abs(value))).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0")
    assert isinstance(exponent, int)
    exponent += len(digit_tuple) - len(digits)
    k = len(digits)
    n = exponent + k  # value = 0.digits * 10**n
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = f"{digits[:n]}.{digits[n:]}"
    elif -6 < n <= 0:
        text = f"0.{'0' * -n}{digits}"
    else:
        mantissa = digits if k == 1 else f"{digits[0]}.{digits[1:]}"
        text = f"{mantissa}e{'+' if n - 1 >= 0 else '-'}{abs(n - 1)}"
    return sign + text


def _encode_uri_component(text: str) -> str:
    """JavaScript ``encodeURIComponent``: UTF-8, everything but ``A-Za-z0-9-_.!~*'()`` escaped."""
    try:
        return quote(text, safe=_URI_COMPONENT_SAFE)
    except UnicodeEncodeError as exc:  # a lone surrogate: encodeURIComponent throws URIError
        raise InvalidArgumentError(f"params string {text!r} is not valid Unicode: {exc}") from exc


def auth_token_protocols(token: str) -> list[str]:
    """The websocket subprotocols that carry ``token``, as phoenix.js offers them.

    ``["phoenix", "base64url.bearer.phx.<B>"]`` where ``<B>`` is **standard**
    base64 (``+`` and ``/``, not the URL-safe alphabet despite the prefix) of
    the token's UTF-8 bytes with the ``=`` padding removed. For ASCII tokens
    this is byte-for-byte what phoenix.js sends; phoenix.js ``btoa`` sends
    Latin-1 for U+0080..U+00FF and throws above, where we send UTF-8.

    Raises:
        InvalidTypeError: ``token`` is not a str.
        InvalidArgumentError: ``token`` is empty or not valid Unicode.
    """
    if not isinstance(token, str):
        raise InvalidTypeError(f"token must be a str, not {type(token).__name__}")
    if not token:
        raise InvalidArgumentError("token must not be empty")
    try:
        raw = token.encode()
    except UnicodeEncodeError as exc:
        raise InvalidArgumentError(f"token is not valid Unicode: {exc}") from exc
    encoded = base64.b64encode(raw).rstrip(b"=").decode("ascii")
    return [PHOENIX_SUBPROTOCOL, AUTH_TOKEN_PREFIX + encoded]


def decode_auth_token_protocol(header_value: str) -> tuple[str | None, list[str]]:
    """Split a ``Sec-WebSocket-Protocol`` header into the auth token and the other protocols.

    Mirrors Phoenix's websocket transport: the header is a comma-separated
    list (entries trimmed, empty ones dropped); when exactly one entry starts
    with :data:`AUTH_TOKEN_PREFIX`, its base64 (padding optional) is the token
    and the remaining entries are the protocols to choose from. With no such
    entry, or more than one, there is no token and every entry is returned.
    The token bytes are read as UTF-8, falling back to Latin-1, which is what
    phoenix.js ``btoa`` sends for non-ASCII tokens.

    Returns:
        ``(token or None, remaining protocols in order)``.

    Raises:
        RemoteProtocolError: the token entry is not valid base64 (Phoenix
            answers that with an error rather than ignoring it).
    """
    entries = [entry.strip() for entry in header_value.split(",")]
    entries = [entry for entry in entries if entry]
    tokens = [entry for entry in entries if entry.startswith(AUTH_TOKEN_PREFIX)]
    if len(tokens) != 1:
        return None, entries
    encoded = tokens[0][len(AUTH_TOKEN_PREFIX) :]
    try:
        raw = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise RemoteProtocolError(f"auth token subprotocol is not base64: {exc}") from exc
    try:
        token = raw.decode()
    except UnicodeDecodeError:
        token = raw.decode("latin-1")
    rest = [entry for entry in entries if not entry.startswith(AUTH_TOKEN_PREFIX)]
    return token, rest


def topic_parts(topic: str) -> list[str]:
    """Split a topic on ``":"`` (Elm ``topicParts``): ``"room:lobby"`` -> ``["room", "lobby"]``.

    Raises:
        InvalidTypeError: ``topic`` is not a str.
    """
    if not isinstance(topic, str):
        raise InvalidTypeError(f"topic must be a str, not {type(topic).__name__}")
    return topic.split(":")
