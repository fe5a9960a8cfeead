"""Webhook gateway: Standard Webhooks in, Prefect events out (``crucible gateway serve``).

* :mod:`crucible.gateway.app`: the FastAPI app and its checks (no Prefect import);
* :mod:`crucible.gateway.payloads`: accepted event names and their payload schemas;
* :mod:`crucible.gateway.deliveries`: the replay log (webhook ids, in the campaign store);
* :mod:`crucible.gateway.signing`: secrets and signatures for senders;
* :mod:`crucible.gateway.prefect_events`: sources as Secret blocks, events to the Prefect API.
"""
