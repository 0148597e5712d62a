"""Short messages with a separate help line, as ruff gives them.

The message says what is wrong, with its evidence ("runs in training mode" where the file
shows it, "may be" where it does not); the help line says what to do. Every output keeps both.
"""

from __future__ import annotations

import json
import statistics

from conftest import EVAL_BARE, cli, fixture_files, write

from gradlint.engine import lint_file, lint_text

# The longest message today is about 110 characters; ruff's rarely pass 100.
LONGEST_MESSAGE = 120


def _fixture_findings():
    return [f for path in fixture_files() if path.name.startswith("bad_") for f in lint_file(str(path))]


def test_every_rule_gives_a_short_message_and_a_separate_help_line():
    findings = _fixture_findings()
    codes = {f.code for f in findings}
    assert len(codes) >= 11
    for finding in findings:
        assert len(finding.message) <= LONGEST_MESSAGE, finding.message
        assert finding.help, f"{finding.code} has no help line: {finding.message}"
        assert finding.help not in finding.message
    assert statistics.median(len(f.message) for f in findings) < 90


def test_messages_keep_their_evidence_words():
    shown = "import torch\nimport torch.nn as nn\n" \
        "model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))\n" \
        "opt = torch.optim.SGD(model.parameters(), lr=0.1)\n" \
        "for x in [torch.randn(2, 4)]:\n    model(x).sum().backward()\n    opt.step()\n" \
        "def evaluate(loader):\n    with torch.no_grad():\n        for x in loader:\n            model(x)\n" \
        "evaluate([torch.randn(2, 4)])\n"
    (known,) = [f for f in lint_text(shown, "a.py") if f.code == "GL101"]
    assert "runs in training mode" in known.message and "eval()" in known.help
    loaded = "import torch\nmodel = torch.load('model.pt')\ntest_loader = [torch.randn(2, 4)]\n" \
        "with torch.no_grad():\n    for x in test_loader:\n        out = model(x)\n"
    # a whole model `torch.load` gave back: neither its mode nor its layers are known, so no word
    assert [f.code for f in lint_text(loaded, "b.py")] == []


def test_help_reaches_json_github_and_survives_the_cache(tmp_path):
    write(tmp_path, "evaluate.py", EVAL_BARE)
    for _ in range(2):  # the second run may read a cache
        document = json.loads(cli("--isolated", "--output-format", "json", ".", cwd=tmp_path).stdout)
        helps = {f["code"]: f["help"] for f in document["findings"]}
        assert "with torch.no_grad():" in helps["GL201"] and "eval()" in helps["GL101"]
    github = cli("--isolated", "--output-format", "github", ".", cwd=tmp_path).stdout
    assert "%0Ahelp: wrap it in `with torch.no_grad():`" in github
