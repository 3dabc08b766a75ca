"""Plug-in machinery: hook specifications and the entry-point registry."""
