"""Build what the codemod's rewrite of an old call builds, by rendering it to source and running it.

Check 1 of the harness compares the shim's instance with "the instance the codemod's
rewrite builds". The honest way to get the latter is the codemod's own interpreter
(``ringlib_legacy.recipe``, the one ``ringlib migrate`` uses): the old call's runtime
values become source text (literals as their ``repr``, other values such as config objects
as variables of the evaluation namespace, the way a user's code would reference them), the
interpreter writes the canonical call, and that text is evaluated.
"""

from __future__ import annotations

import ast
import importlib
from typing import Any, Mapping

from ringlib_legacy.recipe import SOURCE, Passed, Recipe, Unsafe, bind, from_values
from ringlib_legacy.schema import LegacyName

#: Shown in the report's metadata.
RENDERER = "ringlib_legacy.recipe (the interpreter of ringlib migrate)"


class RecipeError(Exception):
    """The recipe cannot be rendered for these arguments (the codemod would not rewrite)."""


def render(entry: LegacyName, semantics: str, kwargs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """``(source, namespace)``: the canonical call for ``entry(**kwargs)`` as ``ringlib migrate`` writes it."""
    sources, namespace = from_values(kwargs)
    args = [Passed(source, keyword=name) for name, source in sources.items()]
    try:
        bound = bind(entry, args, SOURCE)
        return Recipe(entry, entry.rewrites[semantics], bound, SOURCE).call(args), namespace
    except Unsafe as why:
        raise RecipeError(f"the codemod would not rewrite this call: {why}") from None


def evaluate(source: str, namespace: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> Any:
    """Run the rendered call. ``extra`` adds keyword arguments (e.g. ``backend="reference"``)."""
    ns = {"__builtins__": __builtins__, **namespace}
    for root in _roots(source):
        try:
            ns.setdefault(root, importlib.import_module(root))
        except ImportError:
            pass
    if extra:
        for key, value in extra.items():
            ns[f"_extra_{key}"] = value
        sep = "" if source.endswith("()") else ", "
        source = source[:-1] + sep + ", ".join(f"{k}=_extra_{k}" for k in extra) + ")"
    return eval(compile(source, "<ringlib parity recipe>", "eval"), ns)


def _roots(source: str) -> set[str]:
    """Top-level module names a rendered call refers to (``ringlib``, ``torch``, ...)."""
    roots = set()
    for node in ast.walk(ast.parse(source, mode="eval")):
        if isinstance(node, ast.Attribute):
            base = node
            while isinstance(base, ast.Attribute):
                base = base.value
            if isinstance(base, ast.Name):
                roots.add(base.id)
    return roots


def build(entry: LegacyName, kwargs: Mapping[str, Any], semantics: str = "preserve",
          extra: Mapping[str, Any] | None = None) -> tuple[Any, str]:
    """``(object, source)``: what the rewrite of ``entry(**kwargs)`` builds in ``semantics`` mode."""
    if semantics not in entry.rewrites:
        raise RecipeError(f"{entry.name} has no {semantics!r} rewrite")
    source, namespace = render(entry, semantics, kwargs)
    return evaluate(source, namespace, extra), source
