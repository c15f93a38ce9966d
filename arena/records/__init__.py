"""Episode records: the file format (record.py) and `arena replay` (replay.py)."""
