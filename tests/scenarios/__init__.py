"""Differential scenarios: phoenix.js and phoenix_actors play one script against one server.

A scenario (:mod:`tests.scenarios.model`) is data: steps and expectations.
Two adapters (:mod:`tests.scenarios.adapters`) play it, one driving the
official phoenix.js client through ``tests/js/driver.mjs``, one driving our
:class:`~phoenix_actors.Client`, each against its own fresh
:class:`~phoenix_actors.server.LoopbackServer`. Both turn what they observe
into the same normalised events, and the test compares the two sequences.
"""
