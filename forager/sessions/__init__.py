"""Sessions: an outside agent or trainer acts in a Forager task step by step, through the API.

``limits`` — what a session may do and the errors when it may not · ``attach`` — the session's
container (started, reached again from any process, its shell) · ``recorder`` — the trajectory the
farm records as the session goes · ``manager`` — open, show, end, submit · ``actions`` — one action ·
``reaper`` — idle sessions, dead containers and orphans, swept by every API process.

The registry row (``store.sessions``) is the whole state of a session: an API process holds only a
cache of shells, so any process sharing the registry and the Docker engine serves any session.
"""
