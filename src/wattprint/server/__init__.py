"""The team server: runs from every machine of an organisation in one database.

Never imported by the tracker (``import wattprint`` loads none of FastAPI, SQLAlchemy,
Alembic): the ``server`` extra installs its dependencies and ``wattprint server`` starts it.

- :mod:`.settings`: what the server is configured with (environment or arguments).
- :mod:`.models`: the SQLAlchemy 2 tables; :mod:`.alembic` migrates a database to them.
- :mod:`.db`: engine and session helpers; :mod:`.migrate`: runs the migrations.
- :mod:`.keys` / :mod:`.passwords`: API keys (keyed hash) and account passwords (argon2).
- :mod:`.auth`: the API key dependency; :mod:`.validate` (with :mod:`.fastcheck`): the wire
  schema check naming index and field; :mod:`.ingest`: idempotent storage in one transaction.
- :mod:`.app`: the app factory, ``create_app(settings)``; :mod:`.accounts`: the first
  organisation, owner and ingest key (``wattprint server admin``).
- :mod:`.schemas`: what every route answers and refuses (the OpenAPI document's models);
  :mod:`.storable`: text a database can hold (no NUL, no lone surrogate).
- :mod:`.routes_catalog` over :mod:`.catalog`: projects, experiments, hosts, the job view.
- :mod:`.routes_rescores` over :mod:`.rescores`: a run's rescores, pushed and listed.
"""
