"""The codemod's rules, in the order they plan and transform.

Each rule is one libcst transformer for one kind of reference position; all share one name
resolution (``resolve.Analysis``). ``ImportRule`` plans last (it needs every other
decision) and ``CommentRule`` transforms before it (an anchor import line may be split).
"""

from ringlib_codemods.rules.annotations import AnnotationRule
from ringlib_codemods.rules.base import Rule
from ringlib_codemods.rules.bases import BaseClassRule
from ringlib_codemods.rules.calls import CallRule
from ringlib_codemods.rules.checks import IsinstanceRule
from ringlib_codemods.rules.comments import CommentRule
from ringlib_codemods.rules.factories import FactoryRule
from ringlib_codemods.rules.imports import ImportRule
from ringlib_codemods.rules.partial import PartialRule
from ringlib_codemods.rules.references import ReferenceRule
from ringlib_codemods.rules.sparse_configs import SparseConfigRule

RULES: tuple[type[Rule], ...] = (
    SparseConfigRule,
    CallRule,
    BaseClassRule,
    IsinstanceRule,
    AnnotationRule,
    PartialRule,
    FactoryRule,
    ReferenceRule,
    CommentRule,
    ImportRule,
)

__all__ = [
    "RULES",
    "AnnotationRule",
    "BaseClassRule",
    "CallRule",
    "CommentRule",
    "FactoryRule",
    "ImportRule",
    "IsinstanceRule",
    "PartialRule",
    "ReferenceRule",
    "Rule",
    "SparseConfigRule",
]
