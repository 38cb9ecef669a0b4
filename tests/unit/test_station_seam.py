"""The seam between station and training (docs/ARCHITECTURE.md, "The seam").

The station's packages import without torch or timm, and ``training.public`` is
the torch-free surface they use. Each import check runs in a fresh interpreter,
with a meta-path hook that records which chain of project modules asked for
torch, so a failure names the import to move behind a function.
The static half (who may import what) is the import-linter contract in
pyproject.toml, run by ``tests/unit/test_project_rules.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "timm")

# Runs in a child interpreter: import MODULE and report, as JSON, which heavy
# packages were imported and by which chain of project files.
_PROBE = """
import importlib, json, sys, traceback
ROOT, MODULE, HEAVY = sys.argv[1], sys.argv[2], tuple(sys.argv[3].split(","))
chains = {}

class WhoImports:
    def find_spec(self, name, path=None, target=None):
        if name in HEAVY and name not in chains:
            files = [frame.filename for frame in traceback.extract_stack()]
            chains[name] = [f[len(ROOT) + 1:] for f in files if f.startswith(ROOT + "/")]
        return None

sys.meta_path.insert(0, WhoImports())
importlib.import_module(MODULE)
loaded = [name for name in HEAVY if name in sys.modules]
print(json.dumps({"loaded": loaded, "chains": chains, "modules": sorted(sys.modules)}))
"""


def _import_in_fresh_interpreter(module: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, str(REPO_ROOT), module, ",".join(HEAVY)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, f"import {module} failed:\n{result.stderr}"
    return json.loads(result.stdout.strip().splitlines()[-1])


def _explain(module: str, report: dict) -> str:
    lines = [f"import {module} imported {', '.join(report['loaded'])}; who asked for it:"]
    for name, chain in report["chains"].items():
        lines.append(f"  {name} <- " + " <- ".join(reversed(chain)))
    lines.append("Import it inside the function that needs it, or use training.public.")
    return "\n".join(lines)


@pytest.mark.parametrize(
    "module", ["station.pipeline", "station.store", "station.acquisition", "training.public"]
)
def test_the_station_imports_without_torch_or_timm(module: str) -> None:
    report = _import_in_fresh_interpreter(module)

    assert not report["loaded"], _explain(module, report)


def test_the_probe_names_who_imported_torch() -> None:
    """The check above can fail: the trainer imports torch, and the probe says through what."""
    report = _import_in_fresh_interpreter("training.model_file")

    assert report["loaded"] == ["torch", "timm"]
    message = _explain("training.model_file", report)
    assert "torch <- training/model_file.py" in message


def test_one_public_name_imports_only_its_home_module() -> None:
    report = _import_in_fresh_interpreter("training.public")
    assert "training.errors" not in report["modules"]  # nothing is imported up front

    probe = (
        "import json, sys\n"
        "from training.public import ConfigError\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    modules = set(json.loads(result.stdout))
    assert "training.errors" in modules
    assert not {"scipy", "cv2", "training.data.fabric", "training.calibration"} & modules


def test_every_public_name_is_the_object_its_home_module_defines() -> None:
    import training.public as public
    from training import errors, model_metadata
    from training.cras import spec
    from training.data import fabric, tiling

    resolved = {name: getattr(public, name) for name in public.__all__}

    assert resolved["ConfigError"] is errors.ConfigError
    assert resolved["read_metadata"] is model_metadata.read_metadata
    assert resolved["ModelSpec"] is spec.ModelSpec
    assert resolved["background_mask"] is tiling.background_mask
    assert resolved["fabric_style_preset"] is fabric.preset
    assert all(value is not None for value in resolved.values())
    assert set(public.__all__) <= set(dir(public))


def test_an_unknown_public_name_is_an_attribute_error() -> None:
    import training.public as public

    with pytest.raises(AttributeError, match="load_model"):
        _ = public.load_model


def test_the_old_model_file_names_still_work_for_engines_and_training() -> None:
    from training import backbone_specs, backbones, model_file, model_metadata
    from training.cras import model, spec

    assert model_file.read_metadata is model_metadata.read_metadata
    assert model_file.Calibration is model_metadata.Calibration
    assert model_file.ModelMetadata is model_metadata.ModelMetadata
    assert model_file.TENSORS_FILE == "model.safetensors"
    assert model.ModelSpec is spec.ModelSpec
    assert backbones.BACKBONES is backbone_specs.BACKBONES
    assert backbones.backbone_spec is backbone_specs.backbone_spec
