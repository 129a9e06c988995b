"""Rule: an old class used as a value (a dict of classes, ``partial``, a factory argument)
becomes a small canonical factory written into the module.

``CLASSES = {"ring": Old}`` and ``functools.partial(Old, 256, 8)`` call the class later,
with arguments the codemod cannot see, so no single canonical call fits. The factory keeps
the old signature and returns the canonical module the registry recipe builds:

    def build_old(embed_dim, num_heads, segment_lengths, dilation_rates, dropout=0.0):
        return ringlib.MultiheadDilatedAttention(embed_dim, num_heads, pattern=..., dropout=dropout)

It is written through the one recipe interpreter with every parameter passed by name, so a
later call computes exactly what the rewritten call ``Old(...)`` would. Where the recipe
needs a literal (a flag table, a default computed at run time) the site keeps its comment.

A constructor that takes a config object (``ringlib_legacy.sparse_configs.CONFIG_CONSUMERS``)
gets a factory that reads the config when called, with the ``CONFIG_LAYOUTS`` rows written
into it as a small dict: the mapping the config rule applies to literal configs.
"""

from __future__ import annotations

import functools
import re

import libcst as cst

from ringlib_legacy.recipe import is_literal
from ringlib_legacy.schema import REQUIRED, LegacyName, Param, Rewrite
from ringlib_legacy.sparse_configs import CONFIG_CONSUMERS, CONFIG_LAYOUTS, SPARSE_CONFIG_PARAMS
from ringlib_codemods.recipes import Recipe, Unsafe, bind
from ringlib_codemods.resolve import Position, Site
from ringlib_codemods.rules.base import ReplaceReferences
from ringlib_codemods.walk import descendants

_EQUAL = cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""),
                        whitespace_after=cst.SimpleWhitespace(""))
_PLACEHOLDER = re.compile(r"{(\w+)}")
#: Calls whose argument must stay the class itself (introspection, not construction).
_INTROSPECTION = ("builtins.", "inspect.", "typing.", "abc.", "copy.", "pickle.")
#: Constructors whose layout comes from a config argument (no literal requirements, no
#: config built from other parameters: the factory only has to read the config).
_CONFIG_CONSUMERS = {row.key: row for row in CONFIG_CONSUMERS if not row.requires and not row.build_config}


def takes_config(entry: LegacyName) -> bool:
    """Whether the old class's layout comes from a config object (its factory reads it)."""
    return entry.key in _CONFIG_CONSUMERS


class FactoryRule(ReplaceReferences):
    """``Old`` as a value -> ``build_old``, a module-level canonical factory (one per old name)."""

    positions = (Position.VALUE, Position.PARTIAL)

    def plan(self) -> None:
        self.factories: dict[str, tuple[str, str]] = {}  # old name -> (function name, source)
        self._sources: dict[str, list[str]] = {}  # old name -> recipe expressions it writes
        super().plan()

    def decide(self, site: Site) -> None:
        if id(site) in self.ctx.rewritten or site.entry is None:
            return
        if site.position is Position.VALUE and (not _constructs(self.ctx, site) or _rebinds(site)):
            return  # left to ReferenceRule
        entry = site.entry
        reason = self.ctx.partial_unsafe.get(id(site))
        if entry.key in _CONFIG_CONSUMERS:
            self.ctx.claimed.add(id(site))
            name, sources = self._config_factory(entry, _CONFIG_CONSUMERS[entry.key])
            self.replace[id(site.node)] = name
            self.ctx.rewritten_site(site, Rewrite(target=name), sources=sources)
            return
        rewrite = self.ctx.rewrite_for(entry)
        if rewrite is None or not rewrite.safe or not entry.params:
            if reason:
                self.ctx.unsafe(site, reason)
            return  # otherwise ReferenceRule says why
        try:
            name, sources = self._factory(entry, rewrite)
        except Unsafe as why:
            if reason:
                self.ctx.unsafe(site, reason)
            self.ctx.unsafe(site, f"{entry.name} is used as a value and no canonical factory fits: {why}")
            self.ctx.claimed.add(id(site))
            return
        self.ctx.claimed.add(id(site))
        self.replace[id(site.node)] = name
        self.ctx.rewritten_site(site, Rewrite(target=name), sources=sources)

    def _factory(self, entry: LegacyName, rewrite: Rewrite) -> tuple[str, list[str]]:
        known = self.factories.get(entry.name)
        if known is not None:
            return known[0], self._sources[entry.name]
        name = self._free_name("build_" + _snake(entry.name))
        signature, passed, left_out = _signature(entry.params)
        for spec in (*rewrite.args, *rewrite.pattern_args):
            for placeholder in _PLACEHOLDER.findall(spec.template or ""):
                param = next((p for p in entry.params if p.name == placeholder), None)
                if param is not None and param.default is None:
                    raise Unsafe(f"{placeholder}= is computed at run time by the old class")
        recipe = Recipe(entry, rewrite, bind(entry, passed), self.ctx.expr)
        code = cst.Module([]).code_for_node
        target = code(recipe.target())
        args = [code(a.with_changes(comma=cst.MaybeSentinel.DEFAULT)) for a in recipe.build(passed)]
        body = f"{target}(\n        " + ",\n        ".join(args) + ",\n    )"
        doc = f"What {entry.name}(...) built, as a canonical module (written by ringlib migrate)."
        if left_out:
            doc += f" Not accepted (no canonical equivalent): {', '.join(left_out)}."
        source = f'def {name}({", ".join(signature)}):\n    """{doc}"""\n    return {body}\n'
        self.factories[entry.name] = (name, source)
        self._sources[entry.name] = [rewrite.target, *recipe.sources]
        return name, self._sources[entry.name]

    def _config_factory(self, entry: LegacyName, row) -> tuple[str, list[str]]:
        """The factory of a config-taking constructor: it builds its ``ringlib.BlockSparse``
        from the config's fields when called (defaults: the old config's defaults)."""
        known = self.factories.get(entry.name)
        if known is not None:
            return known[0], self._sources[entry.name]
        name = self._free_name("build_" + _snake(entry.name))
        signature, _, left_out = _signature(row.params)
        rest = next((p.name for p in row.params if p.kind == "var_keyword"), None)
        refuse = "".join(  # **kwargs would otherwise swallow them
            f"    if {n!r} in {rest}:\n        raise TypeError(\"{name}() does not take {n}= \"\n"
            f"                        \"(no canonical equivalent)\")\n" for n in left_out if rest)
        code = cst.Module([]).code_for_node
        config = row.config_param
        defaults = ", ".join(f"{p.name!r}: {p.default!r}" for p in SPARSE_CONFIG_PARAMS if p.role != "ignored")
        ignored = "{" + ", ".join(repr(p.name) for p in SPARSE_CONFIG_PARAMS if p.role == "ignored") + "}"
        layouts = "".join(
            f"        {row_.value!r}: ({row_.layout!r}, {{"
            + ", ".join(f"{a.keyword!r}: {a.source!r}" for a in row_.args) + "}),\n"
            for row_ in CONFIG_LAYOUTS if row_.config == "SparsePatternConfig")
        pattern_args = "".join(f", {a.keyword}={code(self.ctx.expr(a.value))}" for a in row.pattern_args)
        doc = (f"What {entry.name}(...) built, as a canonical module (written by ringlib migrate); "
               f"the block layout is read from {config} when called.")
        if left_out:
            doc += f" Not accepted (no canonical equivalent): {', '.join(left_out)}."
        source = (
            f'def {name}(\n        {_wrap(signature)},\n):\n'
            f'    """{doc}"""\n'
            f"{refuse}"
            f"    fields = {{{defaults}}}\n"
            f"    if isinstance({config}, dict):\n"
            f"        unknown = sorted(set({config}) - set(fields) - {ignored})\n"
            f"        if unknown:\n"
            f"            raise TypeError(f\"{config} has unknown fields {{unknown}}\")\n"
            f"        fields.update((k, v) for k, v in {config}.items() if k in fields)\n"
            f"    elif {config} is not None:\n"
            f"        fields.update((field, getattr({config}, field)) for field in fields)\n"
            f"    # pattern_type -> (layout name, {{layout keyword: config field}})\n"
            f"    layouts = {{\n{layouts}    }}\n"
            f"    if fields['pattern_type'] not in layouts:\n"
            f"        raise ValueError(f\"{config}.pattern_type must be one of {{sorted(layouts)}}, \"\n"
            f"                         f\"got {{fields['pattern_type']!r}}\")\n"
            f"    layout, keywords = layouts[fields['pattern_type']]\n"
            f"    pattern = {code(self.ctx.expr('ringlib.BlockSparse'))}(\n"
            f"        layout, block_size=fields['block_size']{pattern_args},\n"
            f"        **{{keyword: fields[field] for keyword, field in keywords.items()}},\n"
            f"    )\n"
            f"    return {code(self.ctx.expr(row.target))}(pattern)\n"
        )
        self.factories[entry.name] = (name, source)
        self._sources[entry.name] = [row.target, "ringlib.BlockSparse"]
        return name, self._sources[entry.name]

    def _free_name(self, name: str) -> str:
        taken = {n for n, _ in self.factories.values()}
        candidate, i = name, 1
        while candidate in taken or self.ctx.analysis.module_binds(candidate):
            candidate, i = f"{name}_{i}", i + 1
        return candidate

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        if not self.factories:
            return updated_node
        names = {n for n, _ in self.factories.values()}
        body = list(updated_node.body)
        generated = self.ctx.analysis.statement_tokens  # unchanged statements' code, if known

        def mentions(statement: cst.CSTNode) -> bool:
            tokens = generated.get(id(statement))
            if tokens is not None:
                code = "".join(tokens)
                if not any(name in code for name in names):
                    return False  # a name in it would be in its code
            return _mentions(statement, names)

        at = next((i for i, s in enumerate(body) if mentions(s)), len(body))
        defs = []
        for _, source in sorted(self.factories.values()):
            statement = _parsed(source)
            defs.append(statement.with_changes(leading_lines=[cst.EmptyLine(), cst.EmptyLine()]))
        if at < len(body):
            first = body[at]
            lines = list(first.leading_lines)
            while lines and lines[0].comment is None:
                lines.pop(0)
            body[at] = first.with_changes(leading_lines=[cst.EmptyLine(), cst.EmptyLine(), *lines])
        return updated_node.with_changes(body=[*body[:at], *defs, *body[at:]])


def _signature(params: tuple[Param, ...]) -> tuple[list[str], list[cst.Arg], list[str]]:
    """The old signature without its unsupported parameters, the arguments passing each
    kept parameter by name, and the names left out."""
    signature: list[str] = []
    passed: list[cst.Arg] = []
    left_out: list[str] = []
    keyword_only = False
    for param in params:
        if param.kind == "var_positional" or param.kind == "var_keyword":
            if param.role != "ignored":
                raise Unsafe(f"its {param.name} parameter cannot be mapped")
            signature.append(("*" if param.kind == "var_positional" else "**") + param.name)
            keyword_only = keyword_only or param.kind == "var_positional"
            continue
        if param.role == "unsupported":
            left_out.append(param.name)
            continue
        if param.kind == "keyword_only" and not keyword_only:
            signature.append("*")
            keyword_only = True
        if param.default is REQUIRED:
            signature.append(param.name)
        elif is_literal(param.default):
            signature.append(f"{param.name}={param.default!r}")
        else:
            raise Unsafe(f"the default of {param.name} is not a literal")
        passed.append(cst.Arg(keyword=cst.Name(param.name), value=cst.Name(param.name), equal=_EQUAL))
    return signature, passed, left_out


def _wrap(parts: list[str], width: int = 88) -> str:
    """``parts`` joined by commas, broken into lines of at most ``width`` characters."""
    lines, line = [], ""
    for part in parts:
        if line and len(line) + len(part) + 10 > width:
            lines.append(line + ",")
            line = part
        else:
            line = f"{line}, {part}" if line else part
    return "\n        ".join([*lines, line])


def _rebinds(site: Site) -> bool:
    """``Old = wrap(Old)``: the name is re-bound, its later uses are not the old class."""
    bound = site.binding.bound_name if site.binding else None
    for node in site.ancestors:
        if isinstance(node, cst.Assign):
            return any(isinstance(t.target, cst.Name) and t.target.value == bound for t in node.targets)
    return False


def _mentions(statement: cst.CSTNode, names: set[str]) -> bool:
    return any(type(n) is cst.Name and n.value in names for n in descendants(statement))  # type: ignore[attr-defined]


@functools.lru_cache(maxsize=64)
def _parsed(source: str) -> cst.BaseStatement:
    """A factory's statement (nodes are immutable: files writing the same factory share it)."""
    return cst.parse_statement(source)


def _constructs(ctx, site: Site) -> bool:
    """A value position from which the class is only ever called: container elements,
    assignments, returns, arguments of ordinary calls (not introspection or comparison)."""
    parent = site.parent
    if isinstance(parent, (cst.Element, cst.DictElement, cst.StarredDictElement)):
        return not isinstance(parent, cst.DictElement) or parent.value is site.node
    if isinstance(parent, (cst.Assign, cst.AnnAssign, cst.Return)):
        return True
    if isinstance(parent, cst.Arg) and not parent.star and len(site.ancestors) > 1:
        call = site.ancestors[-2]
        if isinstance(call, cst.Call):
            qnames = ctx.analysis.qualified_names(call.func)
            return not any(q.startswith(_INTROSPECTION) for q in qnames) and \
                not (isinstance(call.func, cst.Name) and call.func.value in _BUILTIN_NAMES)
    return False


_BUILTIN_NAMES = {"isinstance", "issubclass", "type", "getattr", "setattr", "hasattr", "id", "vars",
                  "dir", "repr", "str", "print", "callable", "super", "hash"}


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])|(?<=[A-Z])([A-Z])(?=[a-z])", r"_\1\2", name).lower()
