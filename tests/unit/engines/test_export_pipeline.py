"""The export pipeline: format table, artefact + parity report, invalid marking, CLI."""

from __future__ import annotations

import dataclasses
import importlib.util
import json

import pytest
import torch

import engines.export.pipeline as pipeline
from engines.errors import ExportError, ParityError
from engines.export import EXPORT_FORMATS, export_model
from engines.export.formats import BuildRequest
from engines.export.pipeline import resolve_output_path
from engines.parity_tiles import generated_parity_tiles
from station.cli import main
from training.testing import shared_model_dir

TENSORRT_INSTALLED = importlib.util.find_spec("tensorrt") is not None


@pytest.fixture(scope="module")
def model_dir():
    return shared_model_dir(tile_px=64)


@pytest.fixture(scope="module")
def tiles():
    return generated_parity_tiles(tile_px=64, in_channels=1, count=24, seed=2)


def test_onnx_export_writes_artefact_and_valid_report(model_dir, tiles, tmp_path) -> None:
    outcome = export_model(
        model_dir, format_name="onnx", precision="fp32", out=tmp_path, parity_tiles=tiles
    )

    assert outcome.artefact == tmp_path / "model_fp32.onnx" and outcome.artefact.is_file()
    assert outcome.report_path == tmp_path / "model_fp32.onnx.parity.json"
    saved = json.loads(outcome.report_path.read_text())
    assert saved["valid"] is True and saved["failures"] == []
    assert saved["tiles"] == {
        "count": 24,
        "defective": int(tiles.labels.sum()),
        "source": tiles.source,
    }
    assert saved["tile_score"]["max_abs_diff"] < 1e-4
    assert saved["decisions"]["agreement"] == 1.0
    assert saved["i_auroc"]["reference"] == pytest.approx(saved["i_auroc"]["artefact"], abs=1e-6)
    assert saved["backend"]["name"] == "onnxruntime" and saved["reference"]["name"] == "torch"
    assert saved["tolerance"]["max_abs_tile_score"] == 1e-3


def perturbing(fmt):
    """The same format, but its builder exports a model whose discriminator was altered.

    A real numerical mismatch (what a broken exporter or a wrong model would cause).
    """

    def build(request: BuildRequest) -> None:
        with torch.no_grad():
            last = request.model.discriminator.body[-1]
            last.weight.add_(0.5 * torch.randn_like(last.weight))
        fmt.build(request)

    return dataclasses.replace(fmt, build=build)


def test_parity_failure_marks_the_artefact_invalid(model_dir, tiles, tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline, "export_format", lambda name: perturbing(EXPORT_FORMATS[name]))
    out = tmp_path / "broken.onnx"

    with pytest.raises(ParityError, match="does not match PyTorch") as info:
        export_model(model_dir, format_name="onnx", precision="fp32", out=out, parity_tiles=tiles)

    invalid = tmp_path / "broken.onnx.invalid"
    assert not out.exists() and invalid.is_file()
    assert str(invalid) in info.value.hint
    report = json.loads((tmp_path / "broken.onnx.parity.json").read_text())
    assert report["valid"] is False and report["artefact"] == str(invalid)
    assert any("tile score" in failure for failure in report["failures"])
    assert info.value.report_path == str(tmp_path / "broken.onnx.parity.json")


def test_a_new_export_clears_an_old_invalid_marker(model_dir, tiles, tmp_path) -> None:
    out = tmp_path / "m.onnx"
    (tmp_path / "m.onnx.invalid").write_bytes(b"old")

    export_model(model_dir, format_name="onnx", precision="fp32", out=out, parity_tiles=tiles)

    assert out.is_file() and not (tmp_path / "m.onnx.invalid").exists()


def test_output_path_rules(tmp_path) -> None:
    onnx_format = EXPORT_FORMATS["onnx"]
    assert resolve_output_path(tmp_path, onnx_format, precision="fp16") == (
        tmp_path / "model_fp16.onnx"
    )
    with pytest.raises(ExportError, match=r"does not end in \.onnx") as info:
        resolve_output_path(tmp_path / "model.engine", onnx_format, precision="fp32")
    assert "model.onnx" in info.value.hint


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"format_name": "tflite", "precision": "fp32"}, "unknown export format 'tflite'"),
        ({"format_name": "onnx", "precision": "int8"}, "not 'int8'"),
        ({"format_name": "onnx", "precision": "fp32", "max_batch": 0}, "--max-batch must be"),
    ],
)
def test_bad_options_are_export_errors(model_dir, tmp_path, options, message) -> None:
    with pytest.raises(ExportError, match=message):
        export_model(model_dir, out=tmp_path, **options)


@pytest.mark.skipif(TENSORRT_INSTALLED, reason="TensorRT is installed here")
def test_tensorrt_export_without_tensorrt_says_why(model_dir, tmp_path) -> None:
    with pytest.raises(ExportError, match="tensorrt package is not installed") as info:
        export_model(model_dir, format_name="tensorrt", precision="fp16", out=tmp_path)
    assert "GPU" in info.value.hint
    assert list(tmp_path.iterdir()) == []


def test_cli_export_onnx(model_dir, tmp_path, capsys) -> None:
    out = tmp_path / "cli.onnx"

    status = main(
        ["export", "--model", str(model_dir), "--format", "onnx", "--precision", "fp16",
         "--max-batch", "8", "--out", str(out), "--parity-tiles", "16"]
    )  # fmt: skip

    printed = capsys.readouterr().out
    assert status == 0, printed
    assert out.is_file() and (tmp_path / "cli.onnx.parity.json").is_file()
    assert "PASS" in printed and "tile I-AUROC" in printed
    report = json.loads((tmp_path / "cli.onnx.parity.json").read_text())
    assert report["precision"] == "fp16" and report["tiles"]["count"] == 16


def test_cli_user_error_exits_2_with_a_hint(model_dir, tmp_path, capsys) -> None:
    status = main(
        ["export", "--model", str(tmp_path / "missing"), "--format", "onnx",
         "--out", str(tmp_path / "x.onnx")]
    )  # fmt: skip

    err = capsys.readouterr().err
    assert status == 2
    assert "is not a model folder" in err and "what to do" in err


def test_cli_parity_failure_exits_1(model_dir, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(pipeline, "export_format", lambda name: perturbing(EXPORT_FORMATS[name]))

    status = main(
        ["export", "--model", str(model_dir), "--format", "onnx", "--out",
         str(tmp_path / "bad.onnx"), "--parity-tiles", "16"]
    )  # fmt: skip

    err = capsys.readouterr().err
    assert status == 1
    assert "parity report:" in err and (tmp_path / "bad.onnx.invalid").is_file()
