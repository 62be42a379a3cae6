"""`make audit`: the locked dependencies against known vulnerabilities (pip-audit for uv.lock,
npm audit for package-lock.json). A vulnerability found fails; a data source that does not
answer is said plainly and does not fail, so an unreachable service never breaks CI."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(args: list[str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """The tool's answer; one that is missing or hangs is a source that did not answer."""
    try:
        return subprocess.run(  # noqa: S603 - our own tools, arguments fixed here
            args, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return subprocess.CompletedProcess(args, 127, "", f"{args[0]}: {type(exc).__name__}")


def python_packages(requirements: Path) -> bool | None:
    """True when clean, False when a vulnerability is known, None when not audited."""
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "audit.json"
        # Hashed pins (uv export): read as they are, nothing resolved or installed.
        options = ["--disable-pip", "--progress-spinner", "off", "-f", "json", "-o", str(report)]
        ran = _run([str(BIN / "pip-audit"), "-r", str(requirements), *options])
        text = report.read_text("utf-8") if report.exists() else ""
    if not text:
        print(f"audit: PyPI's vulnerability data did not answer: {ran.stderr.strip()[-300:]}")
        return None
    packages: list[dict[str, Any]] = json.loads(text)["dependencies"]
    # A package PyPI's JSON API does not answer for (some mirrors serve only the latest
    # version's page) is skipped, not failed: pip-audit lists it with a skip reason.
    found = [(p["name"], p["version"], v["id"]) for p in packages for v in p.get("vulns", [])]
    skipped = [p["name"] for p in packages if "skip_reason" in p]
    for name, version, vuln in found:
        print(f"audit: {name} {version}: {vuln}")
    audited = len(packages) - len(skipped)
    print(
        f"audit: Python: {audited} of {len(packages)} locked packages checked, "
        f"{len(found)} known vulnerabilities"
    )
    if skipped:
        print(
            f"audit: not checked (PyPI's JSON API did not answer for their versions): "
            f"{', '.join(skipped[:12])}{' ...' if len(skipped) > 12 else ''}"
        )
    if found:
        return False
    return True if audited else None


def npm_packages() -> bool | None:
    """The same for package-lock.json (the operations page's parts and their test)."""
    ran = _run(["npm", "audit", "--package-lock-only", "--json"], timeout=120)
    try:
        answer: dict[str, Any] = json.loads(ran.stdout or "{}")
    except json.JSONDecodeError:
        answer = {}
    if "error" in answer or "metadata" not in answer:
        why = str(answer.get("message") or ran.stderr.strip()[-200:] or "no answer")
        print(f"audit: npm's advisory service did not answer: {why}")
        return None
    counts = answer["metadata"].get("vulnerabilities", {})
    total = int(counts.get("total", 0))
    for name, vuln in answer.get("vulnerabilities", {}).items():
        print(f"audit: npm {name}: {vuln.get('severity')} ({vuln.get('range', '')})")
    print(f"audit: npm: {total} known vulnerabilities")
    return total == 0


def main() -> int:
    """`python deploy/audit.py <requirements exported from uv.lock with hashes>`."""
    results = [python_packages(Path(sys.argv[1])), npm_packages()]
    if False in results:
        print("audit: FAILED: known vulnerabilities in the locked dependencies (above)")
        return 1
    if None in results:
        print("audit: incomplete: a vulnerability source did not answer; nothing found")
    return 0


if __name__ == "__main__":
    sys.exit(main())
