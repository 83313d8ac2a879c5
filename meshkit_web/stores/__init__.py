"""Stores: where blocks, identities and contacts live (files on CPython, IndexedDB in the browser)."""
