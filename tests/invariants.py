"""Invariants a user relies on after any fault: checked by the reliability suite."""

from __future__ import annotations

from rem.store import Store


def check_consistent(st: Store) -> list[str]:
    """Every invariant a user relies on after a crash; the list of violations."""
    bad = []
    with st.read() as con:
        def n(sql: str) -> int:
            return con.execute(sql).fetchall()[0][0]

        if n("select count(*) from moments m where not exists (select 1 from dream_runs r where r.id = m.dream_run_id and r.status = 'ok')"):
            bad.append("a moment belongs to a run that is not ok")
        if n("""select count(*) from dream_runs r where status = 'ok' and coalesce(moments_created, 0) + coalesce(moments_merged, 0)
                <> (select count(*) from moments m where m.dream_run_id = r.id)
                and not exists (select 1 from dream_runs later where later.status = 'ok' and later.started_at > r.started_at)"""):
            bad.append("the latest ok run's moments are not all there")
        if n("""select count(*) from edges e where not exists (select 1 from (
                  select id from moments union all select id from entities union all select id from resources
                  union all select id from sessions union all select id from messages) x where x.id = e.source_id)
                or not exists (select 1 from (
                  select id from moments union all select id from entities union all select id from resources
                  union all select id from sessions union all select id from messages) x where x.id = e.target_id)"""):
            bad.append("an edge points at a missing node")
        if n("select count(*) - count(distinct (source_id, target_id, edge_type)) from edges"):
            bad.append("duplicate edges")
        if n("select count(*) from dream_edge_log l where not exists (select 1 from dream_runs r where r.id = l.dream_run_id and r.status = 'ok')"):
            bad.append("an edge log row of a run that is not ok")
    return bad
