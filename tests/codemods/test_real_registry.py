"""The codemod against the real registry: every safe recipe of every legacy name rewrites a
full old constructor call into exactly what ``registry.render_call`` (used by the shim's
parity checks) renders, in both semantics."""

import pytest

from ringlib_legacy import registry
from ringlib_codemods import LegacyIndex, migrate_code

CASES = [
    (entry, semantics)
    for entry in registry.LEGACY_NAMES
    for semantics in ("preserve", "intended")
    if semantics in entry.rewrites and entry.rewrites[semantics].safe and entry.params
]


def _values(entry) -> dict[str, str]:
    """Every parameter passed as a plain name (flags as literals, which recipes choose on)."""
    values = {}
    for param in entry.params:
        required = registry.is_required(param)
        if param.kind.startswith("var_") or (param.role != "map" and not required):
            continue
        values[param.name] = repr(param.default) if isinstance(param.default, bool) else f"v_{param.name}"
    return values


@pytest.mark.skipif(not CASES, reason="the registry has no safe recipes yet")
@pytest.mark.parametrize("entry,semantics", CASES, ids=lambda x: getattr(x, "key", x))
def test_rewrite_matches_render_call(entry, semantics) -> None:
    values = _values(entry)
    module, _, name = entry.paths[0].rpartition(".")
    args = ", ".join(f"{k}={v}" for k, v in values.items())
    source = f"from {module} import {name}\n\nx = {name}({args})\n"
    result = migrate_code(source, LegacyIndex.load(), semantics=semantics, path="/p/m.py")
    assert result.error is None and result.changed, [i.message for i in result.items]
    expected = registry.render_call(entry, semantics, values)  # the source-text side of the one interpreter
    got = result.code.split("x = ", 1)[1].strip()
    assert got.replace(" ", "") == expected.replace(" ", "")
    compile(result.code, "m.py", "exec")
