"""The registry's rows, one module per family of the old package; each holds a tuple ``ROWS``.

``ringlib_legacy.registry.ROW_MODULES`` lists the modules in order. Rows import only
``ringlib_legacy.schema`` and ``ringlib_legacy.rows.common``.
"""
