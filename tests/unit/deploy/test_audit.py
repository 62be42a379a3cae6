"""`make audit` (deploy/audit.py): a known vulnerability fails, a source that does not answer
is said and does not fail, with the tools' answers stood in for."""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "deploy" / "audit.py"
CLEAN_NPM = {"metadata": {"vulnerabilities": {"total": 0}}, "vulnerabilities": {}}
NPM_DOWN = {"message": "405 Method Not Allowed - POST ...", "error": {"summary": ""}}


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fsi_audit", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tools(
    monkeypatch: pytest.MonkeyPatch, module: ModuleType, pip: Any, npm: dict[str, Any]
) -> None:
    """pip-audit writes `pip` as its JSON report (None: writes nothing); npm says `npm`."""

    def run(args: list[str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
        if args[0] == "npm":
            return subprocess.CompletedProcess(args, 1, json.dumps(npm), "")
        if pip is not None:
            Path(args[args.index("-o") + 1]).write_text(json.dumps(pip), "utf-8")
        return subprocess.CompletedProcess(args, 1, "", "ConnectionError: no answer")

    monkeypatch.setattr(module, "_run", run)
    monkeypatch.setattr("sys.argv", ["audit.py", "requirements.txt"])


def _pip(*packages: dict[str, Any]) -> dict[str, Any]:
    return {"dependencies": list(packages)}


CLEAN = {"name": "uvicorn", "version": "0.54.0", "vulns": []}
VULNERABLE = {"name": "jinja2", "version": "2.10", "vulns": [{"id": "PYSEC-2019-217"}]}
SKIPPED = {"name": "h11", "skip_reason": "Dependency not found on PyPI"}


@pytest.mark.parametrize(
    ("pip", "npm", "code", "said"),
    [
        (_pip(CLEAN), CLEAN_NPM, 0, "1 of 1 locked packages checked, 0 known"),
        (_pip(CLEAN, VULNERABLE), CLEAN_NPM, 1, "jinja2 2.10: PYSEC-2019-217"),
        (_pip(CLEAN, VULNERABLE), NPM_DOWN, 1, "FAILED"),
        (_pip(SKIPPED), NPM_DOWN, 0, "did not answer"),
        (None, CLEAN_NPM, 0, "PyPI's vulnerability data did not answer"),
        (
            _pip(CLEAN),
            {"metadata": {"vulnerabilities": {"total": 1}}, "vulnerabilities": {"x": {}}},
            1,
            "npm: 1 known vulnerabilities",
        ),
    ],
    ids=["clean", "vulnerable", "vulnerable, npm down", "none checked", "pip-audit down", "npm"],
)
def test_a_vulnerability_fails_and_silence_does_not(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    pip: Any,
    npm: dict[str, Any],
    code: int,
    said: str,
) -> None:
    module = _load()
    _tools(monkeypatch, module, pip, npm)
    assert module.main() == code
    out = capsys.readouterr().out
    assert said in out
    if code == 0 and (pip is None or npm is NPM_DOWN or "skip_reason" in json.dumps(pip)):
        assert "incomplete" in out  # said plainly, not passed off as clean
