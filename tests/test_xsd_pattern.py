"""`pattern` with XML Schema's meaning of `\\d \\D \\s \\S \\w \\W` and `.` on RE2 (issue 18,
item 13): per class, outside and inside brackets, negated forms too, with Unicode values;
every path of the rules (grouped screen, per-row screen, dictionary column, no screen) gives
the same verdicts."""

from __future__ import annotations

import pyarrow as pa
import pytest
from etl.errors import SchemaConfigError
from etl.rules import SCREEN_GROUP_ROWS, separator_safe, validate
from etl.schema import parse_schema
from test_transform import F, run

NBSP, FF = "\u00a0", "\f"
# (pattern, values it matches whole, values it does not)
CASES = [
    (r"\w+", ["Jörg", "٣٤", "e\u0301", "a_b", "Ωmega"], ["$+<", "a b", "a-b", "a.b"]),
    (r"[\w]+", ["Jörg", "٣٤", "a_b"], ["$", "a b"]),
    (
        r"[\w .'-]+",
        ["Jörg Kessler", "Instituto de Pesquisa Econômica Aplicada", "O'Brien"],
        ["a$b", "a;b"],
    ),
    (r"\W+", ["$", "- ,", NBSP], ["ö", "5", "_"]),
    (r"[\W]+", ["$-", NBSP], ["ö", "5", "_"]),
    (r"[a\W]+", ["a$-a", "a"], ["ab", "a5", "a_"]),
    (r"\d+", ["٣٤", "123", "１２"], ["²", "a", "Ⅻ"]),
    (r"[\d]+", ["٣٤", "0"], ["²"]),
    (r"[^\d]+", ["abc", "²"], ["a٣", "1"]),
    (r"\D+", ["abc", "²", "_"], ["٣", "a1"]),
    (r"[\D]+", ["abc", "²"], ["٣"]),
    (r"[^\D]+", ["٣4", "0"], ["a", "²"]),
    (r"\s", [" ", "\t", "\n", "\r"], [NBSP, FF, "\v", "x"]),
    (r"[\s]", [" ", "\t"], [NBSP, FF]),
    (r"[^\s]", [NBSP, FF, "x"], [" ", "\t", "\r"]),
    (r"\S", [NBSP, FF, "x", "ö"], [" ", "\t", "\r"]),
    (r"[\S]", [NBSP, FF, "x"], [" ", "\n"]),
    (r"[^\S]", [" ", "\t", "\r"], [FF, "x", NBSP]),
    (r"[^\d\s]+", ["ab", NBSP], ["a b", "a٣"]),
    (r"a.b", ["a b", "a\tb", "aöb"], ["a\rb", "a\nb"]),
    (r"[.]", ["."], ["x"]),
]


def _schema(pattern: str):
    return parse_schema(
        {
            "fields": [
                {"name": "v", "constraints": {"pattern": pattern}},
                {"name": "other", "constraints": {"pattern": "[a-z]+"}},
            ]
        }
    )


def _pattern_failures(table: pa.Table, schema, **kw) -> list[bool]:
    checks, _ = validate(table, schema, **kw)
    failing = [c.mask for c in checks if c.column == "v" and c.rule == "pattern"]
    return failing[0].to_pylist() if failing else [False] * table.num_rows


@pytest.mark.parametrize(("pattern", "good", "bad"), CASES)
def test_each_class_has_its_xml_schema_meaning_on_every_path(pattern, good, bad):
    schema = _schema(pattern)
    values = (good + bad) * (SCREEN_GROUP_ROWS + 1)  # whole groups of the grouped screen
    expected = [v in bad for v in values]
    plain = pa.table({"v": values, "other": ["x"] * len(values)})
    as_dictionary = plain.set_column(0, "v", pa.array(values).dictionary_encode())

    verdicts = {
        "grouped screen": _pattern_failures(plain, schema, may_hold_separator=False),
        "per-row screen": _pattern_failures(plain, schema, may_hold_separator=True),
        "dictionary": _pattern_failures(as_dictionary, schema, may_hold_separator=False),
        "no screen": _pattern_failures(plain.select(["v"]), _one_column(pattern)),
    }

    assert verdicts == dict.fromkeys(verdicts, expected)


def _one_column(pattern: str):
    return parse_schema({"fields": [{"name": "v", "constraints": {"pattern": pattern}}]})


def test_a_unicode_name_passes_a_word_pattern_through_the_processor(tmp_path):
    """The issue's reproduction: real names were rejected by `[\\w .'-]+`, `٣٤` by `\\d+`."""
    schema = parse_schema(
        {
            "fields": [
                {"name": "name", "constraints": {"pattern": r"[\w .'-]+"}},
                {"name": "n", "constraints": {"pattern": r"\d+"}},
            ]
        }
    )
    data = "Jörg Kessler,٣٤\nInstituto de Pesquisa Econômica Aplicada,12\nsnake_case,1\nA$AP,2\n"
    res, valid, rejected = run(schema, data.encode(), tmp_path, columns=["name", "n"], first_line=1)
    assert valid == [
        {"name": "Jörg Kessler", "n": "٣٤"},
        {"name": "Instituto de Pesquisa Econômica Aplicada", "n": "12"},
        {"name": "snake_case", "n": "1"},  # `_` stays a word character, as RE2's ASCII \w had it
    ]
    assert [r["failures"] for r in rejected] == [[F("name", "pattern", "A$AP")]]


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        (r"[^\W\d]+", r"\W inside [^...] is a set difference RE2 cannot express"),
        ("[a-z-[aeiou]]+", "class subtraction ([a-z-[aeiou]]) is not supported by RE2"),
        (r"\i\c*", r"\i (XML name characters) is not supported"),
        (r"a\C", r"\C (XML name characters) is not supported"),
    ],
)
def test_xml_schema_syntax_without_an_re2_form_is_a_schema_problem(pattern, why):
    with pytest.raises(SchemaConfigError) as raised:
        _one_column(pattern)
    assert why in str(raised.value) and "$.fields[0].constraints.pattern" in str(raised.value)


@pytest.mark.parametrize(
    ("pattern", "safe"),
    [
        (r"[\p{L}\p{M}\p{N}\p{S} .'-]+", True),
        (r"\p{Nd}+", True),
        (r"\pL", True),
        ("[\\t\\n\\r ]", True),
        (r"\P{Nd}", False),
        (r"\p{C}", False),
        (r"\p{Cc}", False),
        (r"\p{Greek}", False),
        (r"\p{Common}", False),
        (r"[^\p{L}\p{M}\p{N}\p{S}]", False),
        (r"[\S\f]", False),
    ],
)
def test_separator_safe_reads_the_unicode_classes_it_is_given(pattern, safe):
    assert separator_safe(pattern) is safe
