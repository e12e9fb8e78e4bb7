"""Admin HTTP routes, served beside the websocket when ``admin=True``.

===============================================  ==========================================
``GET /health``                                  ``{"ok": true}``
``POST /admin/disconnect/<user_id>``             close every socket ``user_socket:<user_id>``
                                                 with 1001; ``{"disconnected": n}``
``POST /admin/broadcast/<topic>/<event>``        broadcast the JSON body; ``{"sent": n}``
``GET /admin/presence/<topic>``                  the presence list of ``topic``
===============================================  ==========================================

They do what the :class:`~phoenix_actors.server.loopback.LoopbackServer`
methods of the same names do. The server binds to loopback by default;
these routes have no authentication, so keep them off on shared hosts.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Final, NamedTuple

from aiohttp import web

from phoenix_actors.errors import LocalProtocolError

if TYPE_CHECKING:
    from phoenix_actors.server.app import PhoenixServer

__all__ = ["ADMIN_ROUTES", "AdminRoute", "add_admin_routes", "user_socket_id"]


class AdminRoute(NamedTuple):
    """One admin HTTP route: what :func:`add_admin_routes` adds and ``serve --admin`` prints."""

    method: str
    path: str
    """aiohttp path pattern; ``{name}`` is a path segment."""
    summary: str


ADMIN_ROUTES: Final = (
    AdminRoute("GET", "/health", '{"ok": true}'),
    AdminRoute(
        "POST",
        "/admin/disconnect/{user_id}",
        'close every socket user_socket:<user_id> with 1001; {"disconnected": n}',
    ),
    AdminRoute("POST", "/admin/broadcast/{topic}/{event}", 'broadcast the JSON body; {"sent": n}'),
    AdminRoute("GET", "/admin/presence/{topic}", "the presence list of topic"),
)
"""Every admin route, in the order of the module docstring's table."""


def user_socket_id(user_id: str) -> str:
    """Return the demo socket id of a user: ``user_socket:<user_id>``."""
    return f"user_socket:{user_id}"


def add_admin_routes(app: web.Application, server: PhoenixServer) -> None:
    """Add the admin routes for ``server`` to ``app``."""

    async def health(request: web.Request) -> web.Response:
        del request
        return web.json_response({"ok": True})

    async def disconnect(request: web.Request) -> web.Response:
        user_id = request.match_info["user_id"]
        return web.json_response({"disconnected": server.disconnect(user_socket_id(user_id))})

    async def broadcast(request: web.Request) -> web.Response:
        topic, event = request.match_info["topic"], request.match_info["event"]
        body = await request.read()
        try:
            payload = json.loads(body) if body else {}
            sent = server.broadcast(topic, event, payload)
        except (ValueError, LocalProtocolError) as exc:
            return web.json_response({"error": f"body is not JSON: {exc}"}, status=400)
        return web.json_response({"sent": sent})

    async def presence(request: web.Request) -> web.Response:
        return web.json_response(server.presence_list(request.match_info["topic"]))

    handlers = (health, disconnect, broadcast, presence)  # in ADMIN_ROUTES' order
    for route, handler in zip(ADMIN_ROUTES, handlers, strict=True):
        if route.method == "GET":
            app.router.add_get(route.path, handler)  # HEAD too, as before
        else:
            app.router.add_route(route.method, route.path, handler)
