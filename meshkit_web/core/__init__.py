"""MeshKit Core: pure logic (no I/O, no browser or server imports).

Everything cryptographic goes through an async :class:`CryptoBackend`, so the same code
runs on CPython (PyNaCl) and in Pyodide (WebCrypto).
"""
