"""Readers and writers of the standard benchmarks' file formats (SIDD, DND)."""
