"""Widgets of the console: they render what they are given and never read the store."""
