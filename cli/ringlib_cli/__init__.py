"""The ``ringlib`` command line (typer): ``migrate``, ``list`` and, when installed, ``parity``."""
