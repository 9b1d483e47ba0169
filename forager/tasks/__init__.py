"""Validated image to tasks: mutations, removed bodies and reverted commits, each proven by its tests."""
