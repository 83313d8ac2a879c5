"""MeshKit Web: end-to-end-encrypted, content-addressed storage for the browser and CPython."""

__version__ = "0.1.0"
