"""Tests of the duty officers' console: session and CSRF units, pages over HTTP, and a real browser."""
