"""Rule docs: one source for `gradlint explain` and docs/rules/*.md, kept in sync and honest."""

from __future__ import annotations

import re

import pytest
from conftest import ROOT, cli

from gradlint.catalog import CATALOG
from gradlint.docs import DOCS, doc_url, render_all, render_markdown
from gradlint.docs.__main__ import DEFAULT_OUT, main as generate, stale_files, write_all
from gradlint.engine import lint_source
from gradlint.rules import implemented

SECTIONS = ["## What it does", "## Why is this bad?", "## Example", "## Use instead", "## Fix",
            "## What the verifier measures"]


def test_every_implemented_rule_has_a_doc_and_no_other():
    assert sorted(DOCS) == implemented()


def test_generated_files_are_up_to_date():
    assert DEFAULT_OUT == ROOT / "docs" / "rules"
    assert stale_files(DEFAULT_OUT) == [], "run `python -m gradlint.docs` and commit docs/rules/"


def test_check_mode_notices_an_edited_or_stray_file(tmp_path, capsys):
    write_all(tmp_path)
    assert generate(["--check", "--out", str(tmp_path)]) == 0
    page = tmp_path / "GL101.md"
    page.write_text(page.read_text(encoding="utf-8") + "edited by hand\n", encoding="utf-8")
    (tmp_path / "GL999.md").write_text("old rule\n", encoding="utf-8")
    assert generate(["--check", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "GL101.md" in err and "GL999.md" in err
    assert generate(["--out", str(tmp_path)]) == 0
    assert stale_files(tmp_path) == []
    assert not (tmp_path / "GL999.md").exists()


@pytest.mark.parametrize("code", sorted(DOCS))
def test_page_has_ruff_sections_in_order(code):
    text = render_all()[f"{code}.md"]
    positions = [text.index(section) for section in SECTIONS]
    assert positions == sorted(positions)
    assert text.splitlines()[2] == f"# {code}: {CATALOG[code].name}"
    for section in SECTIONS:  # no empty section
        body = text.split(section, 1)[1].split("\n## ", 1)[0]
        assert len(body.strip()) > 20, (code, section)


@pytest.mark.parametrize("code", sorted(DOCS))
def test_fix_section_matches_what_the_fixer_does(code):
    """A page that promises `--fix` keeps it: its example comes out clean (with --unsafe-fixes
    where the page says unsafe); a page with no fix has an example the fixer leaves alone."""
    from gradlint.autofix import fix_text

    text = DOCS[code].fix
    new, remaining, fixed = fix_text(DOCS[code].example, "example.py", unsafe="--unsafe-fixes" in text)
    if "--fix" in text:
        assert remaining == [] and fixed >= 1
    else:
        assert new == DOCS[code].example and [f.code for f in remaining] == [code]


@pytest.mark.parametrize("code", sorted(DOCS))
def test_example_is_flagged_and_fix_is_clean(code):
    doc = DOCS[code]
    flagged = {f.code for f in lint_source(doc.example, "example.py")}
    assert flagged == {code}, f"{code}'s example reports {sorted(flagged)}"
    fixed = {f.code for f in lint_source(doc.use_instead, "example.py")}
    assert fixed == set(), f"{code}'s 'use instead' reports {sorted(fixed)}"


@pytest.mark.parametrize("code", ["GL101", "GL301", "GL501"])
def test_explain_prints_the_doc(code):
    result = cli("explain", code.lower())
    assert result.returncode == 0
    page = render_markdown(DOCS[code])
    assert result.stdout.strip() == page.split("\n", 2)[2].strip()
    for section in SECTIONS:
        assert section in result.stdout


def test_explain_unknown_code_and_every_catalog_rule_has_its_page():
    result = cli("explain", "GL999")
    assert result.returncode == 2 and "unknown rule code" in result.stderr
    assert sorted(code for code in CATALOG if code not in DOCS) == []


def test_gl301_states_when_frozen_parameters_move():
    text = render_markdown(DOCS["GL301"])
    for number in ("0.394", "0.170", "0.161"):
        assert number in text
    assert "momentum or weight decay" in text
    assert "harmless" in text
    assert "set_to_none=False" in text


def test_index_links_every_page():
    index = render_all()["README.md"]
    links = re.findall(r"\]\((GL\d{3})\.md\)", index)
    assert links == sorted(DOCS)


def test_rule_links_come_only_from_a_setting():
    """gradlint has no published home: no made-up URL, a link only where `docs-url` names one."""
    assert doc_url("GL101") is None
    assert doc_url("GL101", "https://docs.example.org/rules/{code}.html") == \
        "https://docs.example.org/rules/GL101.html"
