"""Clustering: persistent ids, merges keep the oldest id, stewards' never-link and link decisions."""

from __future__ import annotations

from matching.cluster import Edge, cluster


def test_new_records_join_an_existing_person_and_keep_its_id() -> None:
    result = cluster({"a": "P000000007"}, ["b", "c"], [Edge("a", "b", "rule")], set())
    assert result.assignment == {"a": "P000000007", "b": "P000000007", "c": "new:1"}
    assert result.merges == []


def test_a_bridge_between_two_persons_merges_into_the_oldest_id() -> None:
    existing = {"a": "P000000002", "b": "P000000009"}
    result = cluster(existing, ["n"], [Edge("n", "a", "auto", 20.0), Edge("n", "b", "auto", 18.0)], set())
    assert set(result.assignment.values()) == {"P000000002"}
    assert result.merges == [("P000000009", "P000000002")]


def test_never_link_is_honoured_even_through_another_record() -> None:
    never = {("n", "P000000001")}
    edges = [Edge("m", "a", "auto", 15.0), Edge("n", "m", "auto", 14.0)]
    result = cluster({"a": "P000000001"}, ["n", "m"], edges, never)
    assert result.assignment["m"] == "P000000001"
    assert result.assignment["n"] == "new:1"
    assert [e.left for e in result.refused] == ["n"]


def test_steward_link_overrides_never() -> None:
    result = cluster({"a": "P000000001"}, ["n"], [Edge("n", "a", "steward_link")], {("n", "P000000001")})
    assert result.assignment["n"] == "P000000001"


def test_rules_are_applied_before_weaker_edges() -> None:
    never = {("n", "P000000002")}
    edges = [Edge("n", "b", "auto", 30.0), Edge("n", "a", "rule")]
    result = cluster({"a": "P000000001", "b": "P000000002"}, ["n"], edges, never)
    assert result.assignment["n"] == "P000000001"
