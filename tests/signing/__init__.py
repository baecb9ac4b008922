"""Signed commands: our client, the field's library, the simulated car."""
