"""Parity for users' own code: record the attention calls of a test suite or script on the old
code, run it again after ``ringlib migrate``, and name every call whose numbers moved.

``recorder`` hooks the calls, ``store`` keeps them on disk, ``compare`` pairs and measures
them, ``report`` prints and writes the verdict; ``pytest_plugin`` and ``command`` are the two
front ends (tests and scripts).
"""
