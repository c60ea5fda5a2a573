"""The launch pipeline: plan, place, check, start, record (pipeline.py); the record stage it ends with is
in jobs/record.py, below both targets, which call it."""
