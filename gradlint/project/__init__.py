"""The project view: facts that cross files.

Real PyTorch code splits one bug over several files: ``train.py`` calls ``evaluate()`` from
``utils.py``, the model class lives in ``models.py``, a freezing helper in another module.
The project view gives each file's analysis what the rest of the project knows:

- ``layout``: the project's root, source roots and module names; imports resolved to files.
- ``imports``: a cheap text scan of a file's imports (the import graph, before any parse).
- ``summary``: what one file's analysis exports (functions' and classes' effects) and what
  it tells the functions it calls in other files (their call sites), tree-free and JSON-able.
- ``view``: the analysis set of a run, the order files are analysed in (a file after the
  files it imports), the summaries of the run, and the cache keys that keep it incremental.

It sits beside the per-file facts (``gradlint.facts``): a file's facts read the summaries of
the files it imports while they are computed (downward: a model class, a helper's effect),
and resolve their functions' entry states through call sites in other files afterwards
(upward: the caller that already set ``eval()`` and ``no_grad``).
"""
