"""Compiled JMESPath gives exactly what jmespath.search gives, on every expression and document here."""

from __future__ import annotations

import json
from typing import Any

import jmespath
import pytest

from mapper.jmes_compiled import compile_jmespath

DOCUMENTS: list[Any] = [
    {"resourceType": "Patient", "identifier": [
        {"system": "urn:oid:1.2.643.100.3", "value": "123-456-789 01"},
        {"system": "urn:oid:1.2.643.100.3", "use": "old", "value": "000"},
        {"system": "oms", "value": 5}],
     "name": [{"family": "Иванова", "given": ["Мария", "Петровна"]}, {"family": None}],
     "address": [{"use": "home", "line": ["ул. Ленина, 1"]}, {"line": []}, {"use": "work"}],
     "telecom": [{"system": "phone", "value": "1"}, {"system": "email", "value": "x"}, {"system": "fax"}],
     "relationship": [{"coding": [{"system": "a", "code": "MTH"}, {"system": "b", "code": "X"}]},
                      {"coding": [{"system": "a", "code": "FTH"}]}],
     "n": 0, "t": True, "f": False, "e": "", "empty": [], "obj": {}, "counts": {"a": 1, "b": 2, "c": None},
     "nums": [3, 1, 2, None, "4", True, 0]},
    {"entry": [{"resource": {"id": "1", "active": False}}, {"resource": None}, {"x": 1}, 7]},
    [1, [2, 3], [[4]], None, {"a": 1}],
    "a string", 42, None, True, [],
    {"identifier": "not a list", "name": {"family": "not a list"}, "n": 1, "t": 1, "f": 0, "nums": {"a": 1}},
]

EXPRESSIONS = [
    "resourceType", "name[0].family", "name[0].given[1]", "name[5].family", "name[-1]", "name[0].given[-1]",
    "identifier[?system=='urn:oid:1.2.643.100.3' && use!='old'].value",
    "identifier[?system=='oms'].value | [0]", "address[?use=='home' || !use]", "address[?!use].line",
    "telecom[?system=='phone' || system=='email']", "telecom[*].value", "telecom[].system",
    "relationship[].coding[] | [?system=='a'].code", "relationship[*].coding[*].code", "entry[*].resource",
    "entry[].resource.id", "entry[?resource.active==`false`]", "[*]", "[]", "[][]", "[0]", "[1][0]", "@",
    "nums[?@ > `1`]", "nums[?@ >= `1`]", "nums[?@ < `2`]", "nums[?@ <= `0`]", "nums[?@ == `0`]",
    "nums[?@ != `1`]", "nums[?@ == `true`]", "nums[1:3]", "nums[::-1]", "nums[::2]", "nums[5:]",
    "counts.*", "counts.* | [?@ > `1`]", "obj.*", "n", "!n", "!t", "!f", "!e", "!empty", "!obj", "t && f",
    "f || t", "e || 'x'", "n || 'zero is true'", "empty && 'x'", "`{\"k\": [1]}`", "'raw'", "`null`",
    "[name[0].family, resourceType]", "{fam: name[0].family, rt: resourceType}", "length(identifier)",
    "identifier[?contains(system, 'oid')].value", "sort_by(identifier, &system)[0].value",
    "max(nums[?type(@) == 'number'])", "to_string(n)", "join(', ', telecom[].system)", "missing.deeper.path",
    "missing[0]", "missing[*].x", "name[0].given[0:1]", "t == `true`", "n == `false`", "f == `0`",
    "identifier[?value > `1`].system", "name | [0].family", "telecom[?system=='fax'] | [0].value",
]


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_compiled_matches_the_interpreter(expression: str) -> None:
    compiled = compile_jmespath(expression)
    parsed = jmespath.compile(expression)
    for document in DOCUMENTS:
        try:
            expected: Any = parsed.search(document)
        except TypeError:  # "4" > 1: jmespath.py raises, the specification (and the compiled one) says null
            compiled(document)
            continue
        except Exception as exc:  # a function on the wrong type: the compiled one raises it too
            with pytest.raises(type(exc)):
                compiled(document)
            continue
        got = compiled(document)
        assert json.dumps(got, sort_keys=True) == json.dumps(expected, sort_keys=True), (expression, document)
        assert type(got) is type(expected), (expression, document)


def test_a_number_against_text_orders_as_null() -> None:
    assert compile_jmespath("nums[?@ > `1`]")({"nums": [3, "4", 2, None, True]}) == [3, 2]
    assert compile_jmespath("names[?rank > `0`].family")({"names": [{"rank": "2", "family": "X"}]}) == []


def test_a_syntax_error_is_jmespaths() -> None:
    with pytest.raises(jmespath.exceptions.ParseError):
        compile_jmespath("identifier[?system==")
