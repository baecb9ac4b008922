"""Contributor scripts (the Python ones are importable for the tests)."""
