"""Jinja2 templates of the console (a package so that setuptools ships them)."""
