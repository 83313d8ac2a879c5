"""MeshKit Web: end-to-end-encrypted, content-addressed storage for the browser and CPython.

``from meshkit_web import MeshKit`` is the Python API (docs/PYTHON.md); the error classes
are ``meshkit_web.errors``. Everything else under ``meshkit_web`` may change between versions.
"""

__version__ = "0.1.0"
__all__ = ["MeshKit", "MeshKitError", "__version__"]


def __getattr__(name: str):
    # loaded on first use: `import meshkit_web` stays cheap (the browser and the gateway
    # import their own parts and never need the Python API's)
    if name in ("MeshKit", "MeshKitError"):
        from . import kit
        return getattr(kit, name)
    raise AttributeError(f"module 'meshkit_web' has no attribute {name!r}")
