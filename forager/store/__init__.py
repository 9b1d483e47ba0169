"""The registry: ``models`` (the tables), ``session`` (engines, sessions, migrations, farm id),
``db`` (the façade most code imports: ``from forager.store import db``), ``tokens`` (API tokens),
and one module of queries per subject beside them."""
