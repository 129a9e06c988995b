"""ringlib_legacy: everything ringlib knows about ``dilated_attention_pytorch`` 0.2, as data.

* ``registry``: the old public names, as plain keyword rows (``rows``, schema in ``schema``);
* ``recipe``: the one interpreter of a rewrite recipe (shim, codemod, parity, docs);
* ``migration_doc``: MIGRATION.md and the full text of one entry (``ringlib list NAME``).

The core library (``ringlib``) does not import this package; the shim, the codemods, the
parity harness and the command line do.
"""
