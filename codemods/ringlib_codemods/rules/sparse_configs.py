"""Rule: old config objects and the constructors/factories that take them become canonical
pattern values: ``SparsePatternConfig(...)`` -> ``ringlib.BlockSparse(...)`` and
``BlockSparseRingDilatedAttention(..., sparse_config=cfg)`` -> ``ringlib.DilatedAttention(cfg)``.

A config bound to a name (``cfg = SparsePatternConfig(...)``) is followed through libcst's
scope metadata: it is rewritten only when it is the one binding of that name in its scope
and every reference passes it to a constructor this rule rewrites the same way. What the
rows say comes from ``ringlib_legacy.sparse_configs``; only exact rewrites are made.
"""

from __future__ import annotations

import dataclasses

import libcst as cst

from ringlib_legacy.schema import Rewrite
from ringlib_legacy.sparse_configs import (
    CONFIG_CONSUMERS,
    CONFIG_LAYOUTS,
    PRESET_PARAMS,
    PRESETS,
    SPARSE_CONFIG_PARAMS,
)
from ringlib_codemods.recipes import Unsafe, bind, literal
from ringlib_codemods.resolve import Position, Site
from ringlib_codemods.rules.base import Rule

_BLOCK_SPARSE = "ringlib.BlockSparse"
_EQ = cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace(""))


def _kw(name: str, value: cst.BaseExpression) -> cst.Arg:
    return cst.Arg(value=value, keyword=cst.Name(name), equal=_EQ)


def _comma_list(args: list[cst.Arg]) -> list[cst.Arg]:
    """``a, b, c`` separators; an argument whose separator carries a comment keeps it."""
    out = []
    for i, arg in enumerate(args):
        if not isinstance(arg.comma, cst.MaybeSentinel) and "#" in cst.Module([]).code_for_node(arg.comma):
            out.append(arg)
            continue
        comma = cst.MaybeSentinel.DEFAULT if i == len(args) - 1 else \
            cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
        out.append(arg.with_changes(comma=comma, whitespace_after_arg=cst.SimpleWhitespace("")))
    return out


@dataclasses.dataclass
class _Consumer:
    site: Site
    row: object
    bound: object
    config: cst.BaseExpression | None  # the config argument's expression, if passed
    preset: tuple[tuple[str, str], ...] = ()


class SparseConfigRule(Rule):
    """Plans first: the sites it rewrites are skipped by the generic call rule."""

    positions = (Position.CALL,)

    def plan(self) -> None:
        ctx = self.ctx
        self.calls: dict[int, cst.BaseExpression] = {}  # id(original Call) -> new expression
        self._planned: dict[int, tuple] = {}  # id(original Call) -> (kind, data)
        consumers = {row.key: row for row in CONFIG_CONSUMERS}
        self.layouts = {row.value: row for row in CONFIG_LAYOUTS}
        self.presets = {row.name: row for row in PRESETS if row.variant == "base"}
        config_sites = {id(s.parent): s for s in ctx.sites(Position.CALL)
                        if s.entry is not None and s.entry.key == "SparsePatternConfig"}
        users: dict[int, list[_Consumer]] = {}  # id(config Call) -> consumers passing it
        found: list[_Consumer] = []
        for site in ctx.sites(Position.CALL):
            key = site.entry.key if site.entry else ""
            try:
                if key in consumers:
                    found.append(self._consumer(site, consumers[key]))
                elif key == "get_block_sparse_preset":
                    found.append(self._preset(site))
                else:
                    continue
            except Unsafe as why:
                ctx.unsafe(site, f"{site.entry.name}: {why}")
                self._planned[id(site.parent)] = ("done", None)
                continue
        accepted: list[_Consumer] = []
        for use in found:
            if use.config is None:
                accepted.append(use)
                continue
            call = self._config_call(use.config, use.site.ancestors, config_sites)
            if call is None:
                ctx.unsafe(use.site, f"{use.site.entry.name}: its {use.row.config_param}= is not a "
                                     "SparsePatternConfig(...) built in this scope: migrate by hand "
                                     f"({use.site.entry.replacement})")
                self._planned[id(use.site.parent)] = ("done", None)
                continue
            users.setdefault(id(call), []).append(use)
            accepted.append(use)
        good_configs: set[int] = set()
        for key, site in config_sites.items():
            uses = users.get(key, [])
            try:
                self._check_config(site, uses)
            except Unsafe as why:
                ctx.unsafe(site, f"SparsePatternConfig: {why}")
                for use in uses:
                    ctx.unsafe(use.site, f"{use.site.entry.name}: its config needs manual migration "
                                         f"({use.site.entry.replacement})")
                    self._planned[id(use.site.parent)] = ("done", None)
                continue
            good_configs.add(key)
        for use in accepted:
            if id(use.site.parent) in self._planned:
                continue
            self._rewrite_consumer(use)
        self._claimed = {id(s) for s in ctx.sites(Position.CALL) if id(s.parent) in self._planned}
        ctx.claimed.update(self._claimed)

    # -- consumers ----------------------------------------------------------------------------
    def _consumer(self, site: Site, row) -> _Consumer:
        call = site.parent
        assert isinstance(call, cst.Call) and site.entry is not None
        entry = dataclasses.replace(site.entry, params=row.params)
        bound = bind(entry, call.args)
        for name, allowed in row.requires:
            index = bound.args.get(name)
            if index is None:
                continue
            ok, value = literal(call.args[index].value)
            if not ok or repr(value) not in allowed:
                raise Unsafe(f"{name}= must be one of {', '.join(allowed)} to be migrated automatically")
        index = bound.args.get(row.config_param)
        config = call.args[index].value if index is not None else None
        if config is not None and literal(config) == (True, None):
            config = None
        return _Consumer(site, row, bound, config)

    def _preset(self, site: Site) -> _Consumer:
        call = site.parent
        assert isinstance(call, cst.Call) and site.entry is not None
        entry = dataclasses.replace(site.entry, params=PRESET_PARAMS)
        bound = bind(entry, call.args)
        ok, name = literal(call.args[bound.args["preset_name"]].value)
        if not ok or name not in self.presets:
            raise Unsafe("the preset name must be one of "
                         f"{', '.join(repr(p) for p in self.presets)} (as a literal) to be migrated")
        row = CONFIG_CONSUMERS[0]  # presets build the base class
        return _Consumer(site, row, bound, None, self.presets[name].config)

    def _config_call(self, expr: cst.BaseExpression, ancestors, config_sites: dict[int, Site]
                     ) -> cst.Call | None:
        """The ``SparsePatternConfig(...)`` call that ``expr`` denotes: the call itself, or a
        name whose only binding in its scope is ``name = SparsePatternConfig(...)``. The light
        pass answers where it can (a match found); libcst's scopes decide everything else."""
        if isinstance(expr, cst.Call):
            return expr if id(expr) in config_sites else None
        if not isinstance(expr, cst.Name):
            return None
        light = self.ctx.analysis.light
        binding = light.local_binding(expr.value, ancestors) if light is not None else None
        if binding is not None:
            for site in config_sites.values():
                target = self._single_target(site)
                if target is not None and target.value == expr.value \
                        and light.local_binding(target.value, site.ancestors) == binding:
                    return site.parent
        scope = self.ctx.analysis.scopes.get(expr)
        if scope is None:
            return None
        access = next((a for a in scope.accesses[expr.value] if a.node is expr), None)
        if access is None or len(access.referents) != 1:
            return None
        assignment = next(iter(access.referents))
        if len(assignment.scope.assignments[expr.value]) != 1:
            return None  # re-bound somewhere in its scope: not followed
        for site in config_sites.values():
            if self._single_target(site) is assignment.node:
                return site.parent
        return None

    @staticmethod
    def _single_target(site: Site) -> cst.Name | None:
        """``name`` where the config call is the whole value of ``name = SparsePatternConfig(...)``."""
        holder = site.ancestors[-2] if len(site.ancestors) > 1 else None
        if isinstance(holder, cst.Assign) and holder.value is site.parent and len(holder.targets) == 1 \
                and isinstance(holder.targets[0].target, cst.Name):
            return holder.targets[0].target
        return None

    def _check_config(self, site: Site, uses: list[_Consumer]) -> None:
        call = site.parent
        assert isinstance(call, cst.Call)
        if not uses:
            raise Unsafe("a config object that is not passed to a block-sparse constructor here; use "
                         "ringlib.BlockSparse(layout, block_size=..., normalization='per_block_sum') "
                         "where it is consumed")
        holder = site.ancestors[-2] if len(site.ancestors) > 1 else None
        if isinstance(holder, cst.Assign):
            if self._references(holder, site) != len(uses):
                raise Unsafe("the config object is also used for something else (its fields?); pass "
                             "ringlib.BlockSparse(...) to the canonical module by hand")
        rows = {u.row.pattern_args for u in uses}
        if len(rows) != 1:
            raise Unsafe("the config is passed to classes that build different patterns from it")
        notes: list[str] = []
        self._build_config(site, call, uses[0].row.pattern_args, notes)  # raises Unsafe now
        self._planned[id(call)] = ("config", (site, uses[0].row.pattern_args))
        self.ctx.rewritten_site(site, Rewrite(_BLOCK_SPARSE), notes)

    def _references(self, assign: cst.Assign, site: Site) -> int | None:
        """How many uses the name ``assign`` binds has (None: not one binding of a name)."""
        target = assign.targets[0].target
        if not isinstance(target, cst.Name):
            return None
        light = self.ctx.analysis.light
        binding = light.local_binding(target.value, site.ancestors) if light is not None else None
        if binding is not None:
            return binding[1]
        scope = self.ctx.analysis.scopes.get(target)
        if scope is None:
            return None
        found = [a for a in scope.assignments[target.value] if a.node is target]
        return len(found[0].references) if len(found) == 1 else None

    def _rewrite_consumer(self, use: _Consumer) -> None:
        site, row = use.site, use.row
        self._planned[id(site.parent)] = ("consumer", use)
        rewrite = Rewrite(row.target, reason=row.reason)
        notes = list(use.bound.dropped)
        self.ctx.rewritten_site(site, rewrite, notes, {_BLOCK_SPARSE} if use.config is None else ())

    # -- building -------------------------------------------------------------------------------
    def _build_config(self, site: Site, call: cst.Call, pattern_args, notes: list[str] | None = None
                      ) -> cst.Call:
        assert site.entry is not None
        entry = dataclasses.replace(site.entry, params=SPARSE_CONFIG_PARAMS)
        bound = bind(entry, call.args)
        index = bound.args.get("pattern_type")
        value = "local_window"
        if index is not None:
            ok, value = literal(call.args[index].value)
            if not ok:
                raise Unsafe("pattern_type must be a literal to be migrated")
        layout = self.layouts.get(value)
        if layout is None:
            raise Unsafe(f"pattern_type={value!r} has no canonical layout (the old class raised for it)")
        ratio = [a for a in call.args if a.keyword is not None and a.keyword.value == "sparsity_ratio"]
        if ratio:
            ok, r = literal(ratio[0].value)
            if ok and not (isinstance(r, (int, float)) and 0 < r <= 1):
                raise Unsafe(f"sparsity_ratio={r!r} raised ValueError in the old code")
        fields = {name: call.args[i].value for name, i in bound.args.items()}
        used = {"pattern_type", "block_size", *(spec.source for spec in layout.args)}
        if notes is not None:
            notes.extend(bound.dropped)
            notes.extend(f"{name}= dropped (not used by the {value!r} pattern)" for name in fields
                         if name not in used)
        return self._block_sparse(layout, fields, pattern_args, call.args)

    def _block_sparse(self, layout, fields: dict[str, cst.BaseExpression], pattern_args,
                      original=()) -> cst.Call:
        ctx = self.ctx
        args = [cst.Arg(value=cst.SimpleString(repr(layout.layout)))]
        args.append(self._reuse("block_size", fields.get("block_size") or cst.Integer("64"), original))
        for spec in pattern_args:
            args.append(_kw(spec.keyword, ctx.expr(spec.value)))
        for spec in layout.args:
            if spec.source in fields:
                args.append(self._reuse(spec.keyword, fields[spec.source], original))
        return cst.Call(func=ctx.expr(_BLOCK_SPARSE), args=_comma_list(args))

    @staticmethod
    def _reuse(keyword: str, value: cst.BaseExpression, original) -> cst.Arg:
        for arg in original:
            if arg.value is value:
                return arg.with_changes(keyword=cst.Name(keyword), equal=_EQ if arg.keyword is None else arg.equal)
        return _kw(keyword, value)

    def _preset_fields(self, use: _Consumer) -> tuple[object, dict[str, cst.BaseExpression]]:
        fields = {name: cst.parse_expression(src) for name, src in use.preset}
        ok, kind = literal(fields.pop("pattern_type"))
        return self.layouts[kind], fields

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        kind, data = self._planned.get(id(original_node), (None, None))
        if kind == "config":
            site, pattern_args = data
            new = self._build_config(site, updated_node, pattern_args)
        elif kind == "consumer":
            new = self._consumer_call(data, original_node, updated_node)
        else:
            return updated_node
        return new

    def _consumer_call(self, use: _Consumer, original: cst.Call, updated: cst.Call) -> cst.Call:
        ctx, row = self.ctx, use.row
        if use.preset:
            layout, fields = self._preset_fields(use)
            pattern = self._block_sparse(layout, fields, row.pattern_args)
        elif use.config is not None:
            index = use.bound.args[row.config_param]
            pattern = updated.args[index].value
        else:
            fields: dict[str, cst.BaseExpression] = {}
            for field, param, default in row.build_config:
                index = use.bound.args.get(param)
                if index is not None:
                    value = updated.args[index].value
                    ok, v = literal(value)
                    if not ok:
                        value = cst.BooleanOperation(left=value, operator=cst.Or(), right=cst.Integer(default))
                    elif not v:
                        value = cst.Integer(default)
                    fields[field] = value
            pattern = self._block_sparse(self.layouts["local_window"], fields, row.pattern_args)
        func = ctx.expr(row.target)
        return updated.with_changes(func=func, args=[cst.Arg(value=pattern)])
