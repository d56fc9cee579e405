"""Packaged data: styles, the demo universe and reference instruments."""
