"""The fleet: hosts.yaml (inventory), SSH to its hosts (remote), what is on them (snapshot, fleet_status),
their power (lifecycle, idle; the providers that start and stop a machine: providers/), addresses, docker
contexts, and the serverless target's hosts.yaml schema (serverless_target)."""
