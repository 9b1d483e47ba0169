"""Execution traces: line-by-line program state (the locals after every executed line) collected
from validated images, in the sandbox episodes run in.

The data path: ``plan`` (which functions, which tests; from the call map the task generator
builds) → ``collector_source`` (the in-container tracer) → ``collect`` (one sandboxed run per
image, then ``readout``: the tracer's output checked and joined with the sources) → ``normalise``
(what legitimately varies made stable; the fingerprint) → the registry (``forager.store.traces``)
→ ``dedup`` and ``export`` (JSONL or Parquet with the contamination flag). ``frames`` holds the
frame helpers the CLI, the API and the viewer share.
"""
