"""Compose jobs on fleet hosts: service table, shipping, launch, monitoring; the record stage (record.py)."""
