"""The actor system: threads live here and only here.

A :class:`~phoenix_actors.actors.supervisor.Supervisor` starts and watches the
:class:`~phoenix_actors.actors.socket.SocketActor`, one
:class:`~phoenix_actors.actors.channel.ChannelActor` per topic, the
:class:`~phoenix_actors.actors.presence.PresenceActor` and the
:class:`~phoenix_actors.actors.scheduler.RetrySchedulerActor`.
"""
