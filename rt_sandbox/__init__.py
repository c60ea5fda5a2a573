"""The sandbox fleet: real engines, registry, S3 and SSH hosts on this machine, for tests and the demo.

Nothing here is imported by the task library's normal paths; `fleet` is the entry point.
"""
