"""The integration."""
