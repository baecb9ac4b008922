"""End-to-end tests: the development stack in a real Home Assistant and Chromium."""
