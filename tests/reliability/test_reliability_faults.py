"""The fault matrix, whole pipeline: each scenario injects its fault into a run of every built DAG and ends with the
invariants of tests/reliability/invariants.py. docs/reliability.md lists where each fault is proven."""

from __future__ import annotations

from psycopg.types.json import Jsonb

from tests.reliability import invariants


def test_baseline_the_whole_pipeline_without_faults_keeps_every_promise(
    world, serve, pipeline, assert_invariants, warehouse
) -> None:
    server = serve(world)
    ran = pipeline()
    assert ran[:2] == ["hubspot_deals", "pinterest_spend"]
    texts = assert_invariants(world, server, ran)

    # The checker sees what the tasks said and returned, and it can fail: a lost deal, a leaked secret or e-mail.
    assert "extract_hubspot_deals" in texts["captured task output"]
    assert any(where.startswith("xcom hubspot_deals.extract_hubspot_deals") for where in texts)
    expected = invariants.expected_from(world.dataset)
    warehouse.execute("DELETE FROM raw.hubspot_deals WHERE deal_id = %s", (min(expected.deal_ids),))
    token, email = world.dataset.config["hubspot_token"], sorted(expected.emails)[0]
    warehouse.execute(
        "INSERT INTO ops.watermarks (source, scope, position, completed) VALUES ('leak', 'x', %s, false)",
        (Jsonb({"oops": f"Bearer {token} for <{email.upper()}>"}),),
    )
    problems, _ = invariants.check(warehouse, expected, sandbox_url=server.url, captured="", conversions=False)
    assert [p.split(":")[0] for p in problems] == ["raw.hubspot_deals", "warehouse ops.watermarks"] * 1 + [
        "warehouse ops.watermarks"
    ], problems
