"""The launch pipeline: plan, place, check, start, record (pipeline.py); the record stage (record.py)."""
