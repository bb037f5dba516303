"""Replaying real mailings on a fake clock, with faults injected on purpose."""
