"""Build what the codemod's rewrite of an old call builds, by rendering it to source and running it.

Check 1 of the harness compares the shim's instance with "the instance the codemod's
rewrite builds". The honest way to get the latter is the codemod's own path: turn the
registry's ``Rewrite`` recipe into the canonical call's *source text*, exactly as
``ringlib migrate`` writes it into a user's file, then evaluate that text. Argument values
that have no literal spelling (config objects, tensors) are bound to variables of the
evaluation namespace, the way a user's code would reference them.

The codemod's own binding and recipe code (``ringlib_codemods.recipes``) renders the call
when it is importable; otherwise ``ringlib.registry.render_call`` (the same recipe, rendered
from plain values; the codemod's tests prove the two agree) stands in.
"""

from __future__ import annotations

import importlib
from typing import Any, Mapping

from ringlib.registry import REQUIRED, LegacyName, Rewrite, render_call

class RecipeError(Exception):
    """The recipe cannot be rendered for these arguments (the codemod would not rewrite)."""


def is_literal(value: Any) -> bool:
    """Values whose ``repr`` is valid Python source that evaluates back to them."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple)):
        return all(is_literal(v) for v in value)
    if isinstance(value, dict):
        return all(is_literal(k) and is_literal(v) for k, v in value.items())
    return False


def bind(entry: LegacyName, kwargs: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, Any], set[str]]:
    """Source text of every old parameter: ``(sources, namespace, defaulted)``.

    Passed literals render as their ``repr``; other values as a variable bound in the
    namespace. Parameters left out take their old default (``defaulted`` lists them).
    """
    sources: dict[str, str] = {}
    namespace: dict[str, Any] = {}
    defaulted: set[str] = set()
    known = {p.name for p in entry.params}
    unknown = set(kwargs) - known
    if unknown and not any(p.kind == "var_keyword" for p in entry.params):
        raise RecipeError(f"{entry.name} has no parameter(s) {sorted(unknown)}")
    for param in entry.params:
        if param.kind in ("var_positional", "var_keyword"):
            continue
        if param.name in kwargs:
            value = kwargs[param.name]
        elif param.default is REQUIRED:
            raise RecipeError(f"{entry.name}: required parameter {param.name!r} not given")
        else:
            value = param.default
            defaulted.add(param.name)
        if is_literal(value):
            sources[param.name] = repr(value)
        else:
            var = f"_arg_{param.name}"
            namespace[var] = value
            sources[param.name] = var
    return sources, namespace, defaulted


def render(entry: LegacyName, semantics: str, sources: Mapping[str, str], defaulted: set[str]) -> str:
    """The canonical call as Python source through ``ringlib.registry.render_call`` (the
    fallback when the codemod package is not importable)."""
    given = {name: src for name, src in sources.items() if name not in defaulted}
    try:
        return render_call(entry, semantics, given)  # type: ignore[arg-type]
    except (KeyError, ValueError) as exc:
        raise RecipeError(f"{entry.name}: the registry recipe cannot render this call ({exc})") from None


def render_with_codemod(entry: LegacyName, rewrite: Rewrite, call_source: str) -> str | None:
    """What ``ringlib migrate`` writes for the old call ``call_source``, using the codemod's
    own binding and recipe code; None when the codemod package is not available."""
    try:
        import libcst as cst
        from ringlib_codemods.recipes import Recipe, Unsafe, bind as codemod_bind
    except ImportError:
        return None
    call = cst.parse_expression(call_source)
    try:
        bound = codemod_bind(entry, call.args)
        rec = Recipe(entry, rewrite, bound, cst.parse_expression)
        new = call.with_changes(func=rec.target(), args=rec.build(call.args))
    except Unsafe as why:
        raise RecipeError(f"the codemod would not rewrite this call: {why}") from None
    return cst.Module([]).code_for_node(new)


RENDERER = {"name": "ringlib_codemods.recipes (the codemod's own rewrite)"}


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
        assert source.endswith(")")
        sep = "" if source.endswith("()") else ", "
        source = source[:-1] + sep + ", ".join(f"{k}=_extra_{k}" for k in extra) + ")"
    return eval(compile(source, "<ringlib parity recipe>", "eval"), ns)


def _roots(source: str) -> set[str]:
    """Top-level module names a rendered call refers to (``ringlib``, ``torch``, ...)."""
    import ast

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
    rewrite = entry.rewrites[semantics]
    sources, namespace, defaulted = bind(entry, kwargs)
    call_source = f"{entry.name}({', '.join(f'{k}={sources[k]}' for k in kwargs)})"
    source = render_with_codemod(entry, rewrite, call_source)
    if source is None:
        RENDERER["name"] = "ringlib.parity.recipe (fallback: codemod package not importable)"
        source = render(entry, semantics, sources, defaulted)
    return evaluate(source, namespace, extra), source
