"""The restricted gateway proxy (CPython server): the only thing browsers and the CLI talk to."""
