"""GOTURN as a tracker: the tracker, the benchmark sequences, their scoring and rendering."""
