"""The fleet: hosts.yaml (inventory), SSH to its hosts (remote), what is on them (snapshot, fleet_status),
their power (lifecycle, idle), addresses and docker contexts."""
