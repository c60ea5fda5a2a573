"""Nebius Serverless as a target beside the fixed fleet: AI Jobs for batch work, AI Endpoints for servers.

A serverless target is a `hosts.yaml` entry whose provider is `nebius-serverless`
(`fleet/serverless_target.py`, read by the inventory); it has no SSH and no Docker engine of ours:
the same typed plan (`jobs/run.plan_job`) becomes a JobSpec/EndpointSpec (`spec.py`) created through
the official SDK (`client.py`); logs come from Nebius Observability's Loki-compatible API (`logs.py`);
`launch.py` runs the stages.
"""
