"""Lint and render the Robson chart with helm-sdkpy (run by `make helm-lint`, in its own venv).

helm-sdkpy has no `helm template`, so rendering is an install against a throwaway in-process
fake Kubernetes API (discovery, empty release history, echo on create); the install returns the
rendered manifest, and a template error or `fail` comes back with Helm's own message. Helm's
lint result loses its messages in the binding (only severity and path survive), which is why
both are run. Usage: lint_chart.py CHART [VALUES_FILE...]; exit 1 on any problem.
"""

from __future__ import annotations

import asyncio
import copy
import json
import shutil
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import helm_sdkpy as helm
import yaml

SEVERITY = {0: "UNKNOWN", 1: "INFO", 2: "WARNING", 3: "ERROR"}
STATEFUL = ("signal", "decision", "entry_gate", "position", "execution", "paper")


def _resources(group_version: str, kinds: dict[str, str]) -> dict[str, Any]:
    verbs = ["create", "delete", "get", "list", "patch", "update", "watch"]
    return {"kind": "APIResourceList", "groupVersion": group_version, "resources": [
        {"name": n, "singularName": "", "namespaced": True, "kind": k, "verbs": verbs}
        for n, k in kinds.items()]}


DISCOVERY = {
    "/version": {"major": "1", "minor": "30", "gitVersion": "v1.30.0", "platform": "linux/amd64"},
    "/api": {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []},
    "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": [{
        "name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
        "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}}]},
    "/api/v1": _resources("v1", {"secrets": "Secret", "services": "Service",
                                 "configmaps": "ConfigMap", "serviceaccounts": "ServiceAccount"}),
    "/apis/apps/v1": _resources("apps/v1", {"deployments": "Deployment"}),
}


class FakeApi(BaseHTTPRequestHandler):
    """Just enough of the Kubernetes API for `helm install` to run to the end."""

    def log_message(self, *args: object) -> None:
        pass

    def _reply(self, code: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path in DISCOVERY:
            return self._reply(200, json.dumps(DISCOVERY[path]).encode())
        if path.endswith("/secrets"):  # release history: none
            body = {"kind": "SecretList", "apiVersion": "v1", "metadata": {}, "items": []}
            return self._reply(200, json.dumps(body).encode())
        status = {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                  "reason": "NotFound", "code": 404}
        return self._reply(404, json.dumps(status).encode())

    def do_POST(self) -> None:  # create / update: echo the object back
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._reply(201, body, self.headers.get("Content-Type", "application/json"))

    do_PUT = do_POST


def _kubeconfig(port: int) -> str:
    return (f"apiVersion: v1\nkind: Config\ncurrent-context: fake\n"
            f"clusters: [{{name: fake, cluster: {{server: 'http://127.0.0.1:{port}'}}}}]\n"
            f"users: [{{name: fake, user: {{token: fake}}}}]\n"
            f"contexts: [{{name: fake, context: {{cluster: fake, user: fake}}}}]\n")


def render(chart: Path, values: dict[str, Any]) -> list[dict[str, Any]]:
    """The chart's manifest with these values; raises helm.HelmError with Helm's message."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        config = helm.Configuration(namespace="robson", kubeconfig=_kubeconfig(server.server_port))
        release = asyncio.run(helm.Install(config).run("robson", str(chart), values=values,
                                                       wait=False))
    finally:
        server.shutdown()
    return [doc for doc in yaml.safe_load_all(release["manifest"]) if doc]


def lint(chart: Path, values: dict[str, Any]) -> list[str]:
    """Helm lint of a copy of the chart whose values.yaml is values merged over the defaults."""
    with tempfile.TemporaryDirectory() as tmp:
        copy_ = Path(tmp) / chart.name
        shutil.copytree(chart, copy_)
        merged = merge(yaml.safe_load((chart / "values.yaml").read_text()), values)
        (copy_ / "values.yaml").write_text(yaml.safe_dump(merged, sort_keys=False))
        result = asyncio.run(helm.Lint(helm.Configuration()).run(str(copy_)))
    return [f"{SEVERITY.get(m['Severity'], m['Severity'])} {m['Path']}"
            for m in result.get("Messages") or []]


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def check(docs: list[dict[str, Any]]) -> list[str]:
    """What the chart promises the operator, checked on the rendered objects."""
    problems: list[str] = []
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    for name, dep in deployments.items():
        spec = dep["spec"]
        if spec.get("replicas") not in (0, 1) or spec["strategy"]["type"] != "Recreate":
            problems.append(f"{name}: replicas {spec.get('replicas')}, {spec['strategy']}")
        env = spec["template"]["spec"]["containers"][0]["env"]
        names = [e["name"] for e in env]
        if len(names) != len(set(names)):
            problems.append(f"{name}: duplicate env names {sorted(names)}")
        if any("value" in e and not isinstance(e["value"], str) for e in env):
            problems.append(f"{name}: an env value is not a string")
    position = deployments.get("robson-position")
    if position:
        env = {e["name"]: e.get("value") for e in
               position["spec"]["template"]["spec"]["containers"][0]["env"]}
        for var in ("ROBSON_POSITION_PAPER_URL", "ROBSON_POSITION_EXECUTION_URL"):
            if not (env.get(var) or "").startswith("http://robson-"):
                problems.append(f"robson-position: {var} = {env.get(var)!r}")
    return problems


def expect_failure(chart: Path, values: dict[str, Any], needle: str) -> list[str]:
    try:
        render(chart, values)
    except helm.HelmError as exc:
        message = str(exc)
        print(f"  refused as expected: {message.splitlines()[-1].strip()}")
        return [] if needle in message else [f"unexpected error: {message}"]
    return [f"rendered although it should fail ({needle})"]


def run(chart: Path, value_files: list[Path]) -> int:
    problems: list[str] = []
    for source in [None, *value_files]:
        values = yaml.safe_load(source.read_text()) if source else {}
        label = source.name if source else "default values"
        print(f"== {chart.name} with {label}")
        messages = lint(chart, values)
        print("  lint: " + (", ".join(messages) or "no messages"))
        problems += [f"lint ({label}): {m}" for m in messages if not m.startswith("INFO")]
        try:
            docs = render(chart, values)
        except helm.HelmError as exc:
            problems.append(f"render ({label}): {exc}")
            continue
        kinds = sorted({d["kind"] for d in docs})
        print(f"  rendered {len(docs)} objects ({', '.join(kinds)})")
        problems += [f"{label}: {p}" for p in check(docs)]
    print("== refusals")
    for svc in STATEFUL:
        problems += expect_failure(chart, {"services": {svc: {"replicas": 2}}},
                                   f"services.{svc}.replicas is 2")
    problems += expect_failure(
        chart, {"services": {"paper": {"env": {"ROBSON_PAPER_HTTP_PORT": "9000"}}}},
        "services.paper.env.ROBSON_PAPER_HTTP_PORT is set by the chart")
    problems += expect_failure(chart, {"services": {"risk": {"enabled": True, "port": 8107}}},
                               "services.risk: unknown service")
    problems += expect_failure(chart, {"database": {"existingSecret": ""}},
                               "database.existingSecret")
    for problem in problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    print("helm-lint: " + ("FAILED" if problems else "ok"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]]))
