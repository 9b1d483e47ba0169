"""Validated image to tasks: mutations, removed bodies and reverted commits, each proven by its tests.

``generate`` runs a batch: ``workspace`` (the one container per image), ``baseline`` (what the
passing tests call, with the ``trace_plugin``), ``candidates`` (what to try, in order), ``evaluate``
(the keep/discard and validation rules), ``statements`` (problem statements), ``fingerprint``
(duplicates), ``mutations`` (the AST mutation engine), ``errors`` (``TaskError``). Registry reads and
writes are in ``forager.store.tasks_db``.
"""
