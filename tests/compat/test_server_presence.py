"""phoenix.js ``Presence`` fed by our server's ``presence_state`` and ``presence_diff``.

The list phoenix.js builds must equal ``server.presence_list(topic)``, ``user``
field and ``phx_ref_prev`` included.
"""

from __future__ import annotations

from typing import Any

from phoenix_actors.server import LoopbackServer
from tests.jsclient import (  # noqa: F401 (fixtures)
    Event,
    JsClient,
    JsClientFactory,
    join,
    js_client_fixture,
    loopback_server_fixture,
    open_socket,
    push,
)

TOPIC = "room:lobby"


def normalise(presences: dict[str, Any]) -> dict[str, Any]:
    """Order each key's metas by phx_ref (the order is not part of the contract)."""
    return {
        key: {**entry, "metas": sorted(entry["metas"], key=lambda m: m["phx_ref"])}
        for key, entry in presences.items()
    }


def wait_sync(js: JsClient, channel: str, keys: set[str], *, after: int = 0) -> Event:
    """Wait for a presence_sync on ``channel`` whose list has exactly ``keys``."""
    return js.wait_for(
        lambda e: e["type"] == "presence_sync" and set(e["list"]) == keys,
        after=after,
        channel=channel,
    )


def join_with_presence(js: JsClient, url: str, user: str) -> None:
    open_socket(js, url, socket=user, params={"user_id": user})
    js.send("channel", socket=user, channel=user, topic=TOPIC, params={})
    js.send("presence", channel=user)
    js.send("join", channel=user)
    assert js.wait_for("join_reply", channel=user)["status"] == "ok"


def test_presence_state_then_diffs_match_the_server(
    js_client: JsClientFactory, loopback_server: LoopbackServer
) -> None:
    js = js_client()
    join_with_presence(js, loopback_server.url, "ann")
    first = wait_sync(js, "ann", {"ann"})
    assert normalise(first["list"]) == normalise(loopback_server.presence_list(TOPIC))
    entry = first["list"]["ann"]
    assert entry["user"] == {"name": "user-ann"}
    [meta] = entry["metas"]
    assert isinstance(meta["online_at"], int)
    assert isinstance(meta["phx_ref"], str)

    join_with_presence(js, loopback_server.url, "ben")
    both = wait_sync(js, "ann", {"ann", "ben"})
    joined = js.wait_for("presence_join", channel="ann", key="ben")
    assert joined["current"] is None
    assert joined["new"]["user"] == {"name": "user-ben"}
    ben_view = wait_sync(js, "ben", {"ann", "ben"})
    server_view = normalise(loopback_server.presence_list(TOPIC))
    assert normalise(both["list"]) == server_view
    assert normalise(ben_view["list"]) == server_view

    mark = js.mark()
    js.send("leave", channel="ben")
    left = js.wait_for("presence_leave", channel="ann", key="ben", after=mark)
    assert left["current"]["metas"] == []
    assert left["left"]["user"] == {"name": "user-ben"}
    after_leave = wait_sync(js, "ann", {"ann"}, after=mark)
    assert normalise(after_leave["list"]) == normalise(loopback_server.presence_list(TOPIC))


def test_update_meta_is_a_join_and_a_leave(
    js_client: JsClientFactory, loopback_server: LoopbackServer
) -> None:
    js = js_client()
    join_with_presence(js, loopback_server.url, "ann")
    join_with_presence(js, loopback_server.url, "ben")
    wait_sync(js, "ann", {"ann", "ben"})
    wait_sync(js, "ben", {"ann", "ben"})
    before = js.send("state")["channels"]["ann"]["presence"]["ben"]["metas"][0]
    mark = js.mark()
    reply = push(js, "ben", "update_meta", {"status": "away"})
    assert (reply["status"], reply["response"]) == ("ok", {"updated": True})
    synced = js.wait_for(
        lambda e: (
            e["type"] == "presence_sync"
            and e["list"].get("ben", {}).get("metas", [{}])[0].get("status") == "away"
        ),
        after=mark,
        channel="ann",
    )
    [meta] = synced["list"]["ben"]["metas"]
    assert meta["phx_ref_prev"] == before["phx_ref"]
    assert meta["phx_ref"] != before["phx_ref"]
    assert meta["online_at"] == before["online_at"]
    assert synced["list"]["ben"]["user"] == {"name": "user-ben"}
    joined = js.wait_for("presence_join", channel="ann", key="ben", after=mark)
    leave = js.wait_for("presence_leave", channel="ann", key="ben", after=mark)
    assert joined["current"]["metas"] == [before]
    assert leave["left"]["metas"] == [before]
    assert normalise(synced["list"]) == normalise(loopback_server.presence_list(TOPIC))


def test_presence_diff_on_the_wire(
    js_client: JsClientFactory, loopback_server: LoopbackServer
) -> None:
    js = js_client()
    join_with_presence(js, loopback_server.url, "ann")
    wait_sync(js, "ann", {"ann"})
    state_msg = js.wait_for("msg", socket="ann", event="presence_state")
    join_ref = js.send("state")["channels"]["ann"]["joinRef"]
    assert (state_msg["join_ref"], state_msg["ref"]) == (join_ref, None)  # a push
    mark = js.mark()
    join_with_presence(js, loopback_server.url, "ben")
    diff = js.wait_for("msg", socket="ann", event="presence_diff", after=mark)
    assert (diff["join_ref"], diff["ref"]) == (None, None)  # a broadcast
    assert set(diff["payload"]) == {"joins", "leaves"}
    assert set(diff["payload"]["joins"]) == {"ben"}
    assert diff["payload"]["leaves"] == {}
    assert diff["payload"]["joins"]["ben"]["user"] == {"name": "user-ben"}
