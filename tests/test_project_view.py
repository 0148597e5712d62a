"""The project view on its own: roots, module names, the import scan, import resolution,
the analysis set and its order, which files are PyTorch code, and the upward digest."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

from gradlint.engine import lint_paths
from gradlint.project.imports import scan_imports
from gradlint.project.layout import Layout, module_name, project_root
from gradlint.project.lint import analyse
from gradlint.project.view import ProjectView, upward_digest


def tree(root: Path, files: dict) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return root


def test_roots_and_module_names(tmp_path):
    tree(tmp_path, {"pyproject.toml": "", "pkg/__init__.py": "", "pkg/sub/__init__.py": "", "pkg/sub/mod.py": "",
                    "scripts/run.py": ""})
    assert project_root(str(tmp_path / "pkg" / "sub")) == str(tmp_path)
    assert module_name(str(tmp_path / "pkg" / "sub" / "mod.py")) == ("pkg.sub.mod", str(tmp_path))
    assert module_name(str(tmp_path / "pkg" / "__init__.py")) == ("pkg", str(tmp_path))
    assert module_name(str(tmp_path / "scripts" / "run.py")) == ("run", str(tmp_path / "scripts"))


def test_import_scan_reads_every_form():
    scan = scan_imports(textwrap.dedent("""
        import torch.nn as nn, os
        from . import utils
        from ..models import (Net,
            Head as H)
        from .data import *
        def f():
            from tensorflow import keras
    """))
    assert scan.modules == ("torch.nn", "os", ".utils", "..models", "..models.Net", "..models.Head", ".data",
                            "tensorflow", "tensorflow.keras")
    assert scan.torch and scan.other_framework


def test_import_scan_reads_every_line_ending():
    for end in ("\r\n", "\r"):
        scan = scan_imports(end.join(["import torch.nn as nn", "from .data import (a,", "    b)", "x = 1"]))
        assert scan.modules == ("torch.nn", ".data", ".data.a", ".data.b") and scan.torch, repr(end)


def test_imports_resolve_to_project_files(tmp_path):
    tree(tmp_path, {"setup.cfg": "", "pkg/__init__.py": "from .models import Net\n", "pkg/models.py": "",
                    "pkg/train.py": "", "src/lib/__init__.py": "", "src/lib/core.py": "", "tools/helper.py": "",
                    "tools/run.py": ""})
    layout = Layout(str(tmp_path))
    train = str(tmp_path / "pkg" / "train.py")
    assert layout.resolve(train, ".models.Net") == (str(tmp_path / "pkg" / "models.py"), "pkg.models", "Net")
    assert layout.resolve(train, "pkg.models") == (str(tmp_path / "pkg" / "models.py"), "pkg.models", "")
    assert layout.resolve(train, "lib.core.f")[0] == str(tmp_path / "src" / "lib" / "core.py")  # a src/ layout
    assert layout.resolve(str(tmp_path / "tools" / "run.py"), "helper.x")[0] == str(tmp_path / "tools" / "helper.py")
    assert layout.resolve(train, "torch.nn") is None  # installed packages are known by tables, never read


PROJECT = {
    "pyproject.toml": "",
    "models.py": """
        import torch.nn as nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
            def forward(self, x):
                return self.body(x)
    """,
    "utils.py": """
        def evaluate(model, loader):
            return [model(x) for x in loader]
    """,
    "train.py": """
        import torch
        from models import Net
        from utils import evaluate
        model = Net()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        opt.step()
        evaluate(model, [torch.randn(2, 4)])
    """,
    "tf_eval.py": """
        import tensorflow as tf
        def validate(net, batches):
            return [net(x) for x in batches]
    """,
    "cli.py": """
        import train
    """,
}


def view_of(root: Path):
    view = ProjectView(str(root))
    order = view.analysis_set([str(root / "utils.py")])
    for path in order:
        analyse(view, path, False, path)
    view.link_calls()
    return view, order


def test_analysis_set_takes_importers_and_their_imports_in_order(tmp_path):
    tree(tmp_path, PROJECT)
    view, order = view_of(tmp_path)
    names = [os.path.basename(p) for p in order]
    assert set(names) == {"utils.py", "train.py", "models.py", "cli.py"}  # not tf_eval.py: unrelated
    assert names.index("models.py") < names.index("train.py") < names.index("cli.py")
    assert names.index("utils.py") < names.index("train.py")


def test_importers_of_a_package_include_its_relative_importers(tmp_path):
    """`from . import evaluate` names the package, not a module: the files with a relative
    import beside the package's `__init__.py`, below it and in the folder above are its
    importers when they resolve to it; files that merely sit there are not."""
    tree(tmp_path, {"pyproject.toml": "",
                    "pkg/__init__.py": "def evaluate(model):\n    return model\n",
                    "pkg/train.py": "from . import evaluate\n",
                    "pkg/deep/__init__.py": "",
                    "pkg/deep/run.py": "from .. import evaluate\n",
                    "pkg/plain.py": "import os\n",
                    "other/__init__.py": "", "other/x.py": "from . import y\n"})
    view = ProjectView(str(tmp_path))
    names = {os.path.relpath(p, tmp_path) for p in view.importers(str(tmp_path / "pkg" / "__init__.py"))}
    assert names == {os.path.join("pkg", "train.py"), os.path.join("pkg", "deep", "run.py")}


def test_pytorch_code_is_what_imports_torch_or_is_handed_models_by_it(tmp_path):
    tree(tmp_path, PROJECT)
    view = ProjectView(str(tmp_path))
    for path in view.analysis_set([str(tmp_path / f) for f in ("utils.py", "tf_eval.py")]):
        analyse(view, path, False, path)
    view.link_calls()
    torch_files = {os.path.basename(p) for p in view.pytorch_files()}
    assert "utils.py" in torch_files and "train.py" in torch_files  # a torch-free helper given a model
    assert "tf_eval.py" not in torch_files


def test_the_upward_digest_follows_the_call_sites_only(tmp_path):
    tree(tmp_path, PROJECT)
    before = upward_digest(view_of(tmp_path)[0], str(tmp_path / "utils.py"))
    (tmp_path / "train.py").write_text((tmp_path / "train.py").read_text() + "print('done')\n")
    assert upward_digest(view_of(tmp_path)[0], str(tmp_path / "utils.py")) == before  # no call changed
    text = (tmp_path / "train.py").read_text().replace("opt.step()\n", "opt.step()\nmodel.eval()\n")
    (tmp_path / "train.py").write_text(text)
    assert upward_digest(view_of(tmp_path)[0], str(tmp_path / "utils.py")) != before  # the caller's state


def test_a_cycle_of_imports_is_analysed_once_each(tmp_path):
    tree(tmp_path, {".git/HEAD": "", "a.py": "import torch\nfrom b import g\ndef f(m): return g(m)\n",
                    "b.py": "from a import f\ndef g(m): return m\n"})
    findings = lint_paths([str(tmp_path / "a.py"), str(tmp_path / "b.py")], jobs=1)
    assert [f.code for f in findings if not f.code.startswith("GL")] == []


def test_a_loose_script_folder_is_not_walked_below(tmp_path):
    """No pyproject.toml, setup.cfg or .git: the project is the script's folder, not all below it."""
    tree(tmp_path, {"x.py": "import torch\n", "deep/inner.py": "import x\n"})
    view = ProjectView(str(tmp_path))
    assert [os.path.basename(p) for p in view.all_files()] == ["x.py"]


def test_a_base_class_reexported_from_an_import_cycle_resolves_in_process_and_in_workers(tmp_path):
    """`from .net import NeuralNet` in a package whose `net.py` imports the package back: the
    cycle is summarised one file at a time, and a miss cached before `net.py` was in made a
    subclass elsewhere lose its base in this process only (workers start from fresh views)."""
    from gradlint.project.lint import prepare
    from gradlint.workers import WorkerPool

    tree(tmp_path, {"pyproject.toml": "",
                    "pkg/__init__.py": "from .net import NeuralNet\nfrom .utils import helper\n",
                    "pkg/utils.py": "def helper():\n    return 1\n",
                    "pkg/net.py": "import torch\nimport pkg.callbacks\n\n\nclass NeuralNet:\n"
                                  "    def validation_step(self, x):\n        return x\n",
                    "examples/net.py": "import torch\nfrom pkg import NeuralNet\n\n\nclass Net(NeuralNet):\n"
                                       "    def validation_step(self, x):\n        return self.module_(x)\n",
                    "pkg/callbacks.py": "from pkg import NeuralNet\n\n\nclass Callback(NeuralNet):\n    pass\n"})
    files = sorted(str(p) for p in tmp_path.rglob("*.py"))
    example = str(tmp_path / "examples" / "net.py")
    here = ProjectView(str(tmp_path))
    prepare(here, files)
    there = ProjectView(str(tmp_path))
    with WorkerPool(2, in_process_below=1) as pool:
        prepare(there, files, pool=pool)
    for view in (here, there):
        assert view.runtimes[example].data["classes"]["Net"].get("base_refs") == ["pkg/net.py:NeuralNet"]


def test_a_layer_only_a_subclass_reads_counts_for_the_subclass_in_another_file(tmp_path):
    """`Base.forward` never reads its `self.dropout`, so a `Base` evaluated in training mode
    gives eval-mode numbers; `Child(Base)` in another file reads it in its own forward, so a
    `Child` evaluated in training mode does not. The summary carries both facts."""
    models = ("import torch.nn as nn\n\n\nclass Base(nn.Module):\n    def __init__(self):\n"
              "        super().__init__()\n        self.fc = nn.Linear(4, 2)\n        self.dropout = nn.Dropout(0.5)\n\n"
              "    def forward(self, x):\n        return self.fc(x)\n")
    child = ("from models import Base\n\n\nclass Child(Base):\n    def forward(self, x):\n"
             "        return self.fc(self.dropout(x))\n")
    train = textwrap.dedent("""\
        import torch
        from models import Base
        from child import Child


        def fit(model):
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            model(torch.randn(2, 4)).sum().backward()
            opt.step()


        def evaluate_base(model):
            with torch.no_grad():
                return model(torch.randn(2, 4))


        def evaluate_child(model):
            with torch.no_grad():
                return model(torch.randn(2, 4))


        base, kid = Base(), Child()
        fit(base)
        fit(kid)
        print(evaluate_base(base), evaluate_child(kid))
    """)
    tree(tmp_path, {"models.py": models, "child.py": child, "train.py": train})
    findings = lint_paths([str(tmp_path / n) for n in ("models.py", "child.py", "train.py")], jobs=1)
    assert [(Path(f.path).name, f.line, f.code) for f in findings] == [("train.py", 19, "GL101")]
