"""Bundled .arch templates (package data; this file makes the folder a regular package so
importlib.resources gives it a real path)."""
