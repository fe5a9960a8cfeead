"""Operations: run Crucible as a team service (the local stack behind ``make up``).

Nothing here imports Prefect: the stack drives ``prefect``, ``mlflow``, ``pg_ctl`` and
``crucible`` as child processes and talks to the servers over HTTP.
"""
