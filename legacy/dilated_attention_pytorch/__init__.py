"""``dilated_attention_pytorch`` 0.2, kept importable on top of ringlib (deprecated).

Every old import path resolves lazily: importing this package imports nothing heavy and
warns about nothing; using an old name emits one ``ringlib.RinglibDeprecationWarning`` at
the line that uses it. ``ringlib migrate`` rewrites such code to the ringlib API.
"""

from dilated_attention_pytorch import _loader

__version__ = "0.2.0"
__all__ = list(_loader.module_all(__name__))

_loader.install()


def __getattr__(name: str):
    return _loader.attribute(__name__, name)


def __dir__() -> list[str]:
    return _loader.module_dir(__name__, globals())
