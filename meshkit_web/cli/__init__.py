"""The ``meshkit`` command line (cli/main.py): a thin layer over ``meshkit_web.MeshKit``."""

from .main import build_parser, main

__all__ = ["build_parser", "main"]
