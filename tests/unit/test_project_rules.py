"""Rules of the design card, enforced in CI.

- Import layers (import-linter contracts in pyproject.toml): ui above station above
  engines above training; nothing but ui imports PyQt6; nothing imports ui.
- The code passes ruff (style and lint rules in pyproject.toml).
- Nothing outside ``tests/`` imports ``tests`` (the product, benchmarks and experiments
  stand on their own).
- No code outside ``tests/`` (product, benchmarks, experiments) takes a private name
  (``_x``) from another project module; each failure names file:line.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    assert found, f"{name} is not installed next to {sys.executable} (install the dev extra)"
    return found


def test_import_contracts_hold() -> None:
    result = subprocess.run(
        [_tool("lint-imports")], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" not in result.stdout.split("Contracts:")[-1].replace("0 broken", "")


def test_ruff_is_clean() -> None:
    result = subprocess.run(
        [
            _tool("ruff"),
            "check",
            "station",
            "training",
            "engines",
            "ui",
            "tests",
            "benchmarks",
            "experiments",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- Import rules checked on the source (AST): tests stay tests, modules keep their privates.

PRODUCT_PACKAGES = ("station", "training", "engines", "ui")
# Everything that is not a test: the product, and the tools around it.
NON_TEST_PACKAGES = (*PRODUCT_PACKAGES, "benchmarks", "experiments")


@dataclass(frozen=True)
class ImportedName:
    """One name a module takes from another: ``module`` (dotted) and ``name`` (or None)."""

    line: int
    module: str
    name: str | None
    text: str


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(dotted: str) -> bool:
    base = REPO_ROOT.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _absolute(node: ast.ImportFrom, importer: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    package = importer.split(".") if is_package else importer.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imported_names(source: str, importer: str, *, is_package: bool = False) -> list[ImportedName]:
    """Every import in ``source`` (including those inside functions), resolved to absolute names.

    ``x.attr`` counts as importing ``attr`` from module ``x`` when ``x`` was bound by an
    import of a project module in the same source.
    """
    found: list[ImportedName] = []
    bound: dict[str, str] = {}  # local name -> project module it stands for
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append(ImportedName(node.lineno, alias.name, None, f"import {alias.name}"))
                if alias.asname:
                    bound[alias.asname] = alias.name
                else:
                    bound[alias.name.split(".")[0]] = alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(node, importer, is_package)
            for alias in node.names:
                text = f"from {'.' * node.level}{node.module or ''} import {alias.name}"
                found.append(ImportedName(node.lineno, module, alias.name, text))
                if _is_module(f"{module}.{alias.name}"):
                    bound[alias.asname or alias.name] = f"{module}.{alias.name}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            chain, value = [node.attr], node.value
            while isinstance(value, ast.Attribute):
                chain.insert(0, value.attr)
                value = value.value
            if isinstance(value, ast.Name) and value.id in bound:
                module = bound[value.id]
                # Walk down submodules (``training.trainer``) to the first non-module name.
                while chain and _is_module(f"{module}.{chain[0]}"):
                    module = f"{module}.{chain.pop(0)}"
                if chain:
                    text = f"{value.id}.{'.'.join(chain)}"
                    found.append(ImportedName(node.lineno, module, chain[0], text))
    return found


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def imports_of_tests(source: str, importer: str, *, is_package: bool = False) -> list[str]:
    """``line: text`` of each import of the ``tests`` package (or ``import_module("tests…")``)."""
    hits = [
        f"{item.line}: {item.text}"
        for item in imported_names(source, importer, is_package=is_package)
        if item.module == "tests" or item.module.startswith("tests.")
    ]
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and str(node.args[0].value).split(".")[0] == "tests"
        ):
            hits.append(f"{node.lineno}: import_module({node.args[0].value!r})")
    return hits


def private_imports(source: str, importer: str, *, is_package: bool = False) -> list[str]:
    """``line: text`` of each private name (``_x``) this module takes from another project module.

    A private module on the path counts too (``from training._impl import x``).
    """
    hits = []
    for item in imported_names(source, importer, is_package=is_package):
        if item.module.split(".")[0] not in PRODUCT_PACKAGES or item.module == importer:
            continue
        path = item.module.split(".")
        if any(_is_private(part) for part in path) or (item.name and _is_private(item.name)):
            hits.append(f"{item.line}: {item.text}")
    return hits


def _violations(packages: tuple[str, ...], rule) -> list[str]:
    found = []
    for package in packages:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            source = path.read_text(encoding="utf-8")
            importer = _module_name(path)
            for hit in rule(source, importer, is_package=path.name == "__init__.py"):
                line, text = hit.split(": ", 1)
                found.append(f"{path.relative_to(REPO_ROOT)}:{line}: {text}")
    return found


def test_nothing_outside_tests_imports_tests() -> None:
    found = _violations(NON_TEST_PACKAGES, imports_of_tests)
    assert not found, (
        "tests/ holds tests and their helpers only; move what these need into a public "
        "module (e.g. training/testing.py):\n" + "\n".join(found)
    )


def test_no_code_takes_a_private_name_from_another_module() -> None:
    """Product code, benchmarks and experiments use the project's public names only."""
    found = _violations(NON_TEST_PACKAGES, private_imports)
    assert not found, (
        "a name starting with _ is private to its module; make it public (with a docstring) "
        "or keep the code that needs it in that module:\n" + "\n".join(found)
    )


def test_only_tests_and_benchmarks_use_the_testing_models() -> None:
    found = [
        hit
        for hit in _violations(PRODUCT_PACKAGES, _testing_imports)
        if not hit.startswith("training/testing.py:")
    ]
    assert not found, "training.testing is for tests and benchmarks:\n" + "\n".join(found)


def _testing_imports(source: str, importer: str, *, is_package: bool = False) -> list[str]:
    return [
        f"{item.line}: {item.text}"
        for item in imported_names(source, importer, is_package=is_package)
        if item.module == "training.testing"
        or (item.module == "training" and item.name == "testing")
    ]


@pytest.mark.parametrize(
    ("source", "importer", "expected"),
    [
        ("from training.trainer import _image_heights\n", "station.cli.x", ["1: from training"]),
        ("import training.trainer as t\nt._Run\n", "benchmarks.train", ["2: t._Run"]),
        ("import training.trainer\ntraining.trainer._Run\n", "station.x", ["2: training."]),
        ("from training import trainer\ntrainer._train_epoch\n", "station.x", ["2: trainer."]),
        ("def f():\n    from .model import _spec\n", "training.cras.other", ["2: from .model"]),
        ("from training._hidden import thing\n", "station.x", ["1: from training._hidden"]),
        # Not violations: a module's own privates, dunders, privates of other libraries,
        # and attributes of objects (not modules).
        ("from training.trainer import _image_heights\n", "training.trainer", []),
        ("from training import __version__\n", "station.x", []),
        ("import argparse\nargparse._SubParsersAction\n", "station.x", []),
        ("from training.trainer import train\nrow._asdict()\n", "station.x", []),
    ],
)
def test_the_private_name_rule_sees_each_form(source, importer, expected) -> None:
    hits = private_imports(source, importer)
    assert len(hits) == len(expected), hits
    for hit, start in zip(hits, expected, strict=True):
        assert hit.startswith(start), hit


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from tests.helpers.models import make_model_dir\n", 1),
        ("def f():\n    import tests.conftest\n", 1),
        ("from tests import conftest\n", 1),
        ("import importlib\nimportlib.import_module('tests.helpers')\n", 1),
        ("from training.testing import make_model_dir\nimport testsuite\n", 0),
    ],
)
def test_the_tests_import_rule_sees_each_form(source: str, expected: int) -> None:
    assert len(imports_of_tests(source, "benchmarks.x")) == expected
