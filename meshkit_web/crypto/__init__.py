"""Crypto backends implementing :class:`meshkit_web.core.backend.CryptoBackend`."""
