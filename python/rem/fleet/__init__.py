"""`rem fleet`: many owners' dreams fanned out on Dask (the `rem[fleet]` extra).

- :mod:`.manifest` — the owners manifest (TOML or CSV), checked;
- :mod:`.ratelimit` — the shared requests/tokens-per-minute limit (a Dask actor);
- :mod:`.worker` — one owner's scheduled dream, as a Dask task;
- :mod:`.run` — which owners are due, the fan-out, the journal, status, doctor, query.
"""
