"""Lint and render the Robson chart with helm-sdkpy (run by `make helm-lint`, in its own venv).

Renders every combination of options (external NATS/Postgres; bundled NATS + CloudNativePG;
Ingress, ServiceMonitor, auth and the config Job) and validates each built-in object against the
Kubernetes OpenAPI schemas of the kubernetes-validate package (offline: the schemas ship in it).
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
STATEFUL = ("signal", "decision", "entry_gate", "position", "execution", "paper", "notify", "dashboard")


def _resources(group_version: str, kinds: dict[str, str]) -> dict[str, Any]:
    verbs = ["create", "delete", "get", "list", "patch", "update", "watch"]
    return {"kind": "APIResourceList", "groupVersion": group_version, "resources": [
        {"name": n, "singularName": "", "namespaced": True, "kind": k, "verbs": verbs}
        for n, k in kinds.items()]}


GROUPS: dict[str, dict[str, str]] = {
    "apps/v1": {"deployments": "Deployment", "statefulsets": "StatefulSet"},
    "batch/v1": {"jobs": "Job"},
    "networking.k8s.io/v1": {"ingresses": "Ingress"},
    "policy/v1": {"poddisruptionbudgets": "PodDisruptionBudget"},
    "monitoring.coreos.com/v1": {"servicemonitors": "ServiceMonitor", "podmonitors": "PodMonitor"},
    "postgresql.cnpg.io/v1": {"clusters": "Cluster"},
}
DISCOVERY = {
    "/openapi/v3": {"paths": {}},
    "/version": {"major": "1", "minor": "30", "gitVersion": "v1.30.0", "platform": "linux/amd64"},
    "/api": {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []},
    "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": [{
        "name": gv.split("/")[0], "versions": [{"groupVersion": gv, "version": gv.split("/")[1]}],
        "preferredVersion": {"groupVersion": gv, "version": gv.split("/")[1]}} for gv in GROUPS]},
    "/api/v1": _resources("v1", {"secrets": "Secret", "services": "Service", "pods": "Pod",
                                 "configmaps": "ConfigMap", "serviceaccounts": "ServiceAccount"}),
    **{f"/apis/{gv}": _resources(gv, kinds) for gv, kinds in GROUPS.items()},
}
PLURALS = {p for doc in DISCOVERY.values() for p in (r["name"] for r in doc.get("resources", []))}
NOT_FOUND = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404}


class FakeApi(BaseHTTPRequestHandler):
    """Just enough of the Kubernetes API for `helm install` to run to the end: discovery, an
    empty release history, created objects echoed and kept (hook Jobs report Complete)."""

    objects: dict[str, dict[str, Any]] = {}

    def log_message(self, *args: object) -> None:
        pass

    def _reply(self, code: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, code: int, doc: Any) -> None:
        self._reply(code, json.dumps(doc).encode())

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        if path in DISCOVERY:
            return self._json(200, DISCOVERY[path])
        if path in self.objects:
            return self._json(200, self.objects[path])
        name = next((p.split("=", 1)[1].replace("metadata.name%3D", "") for p in query.split("&")
                     if p.startswith("fieldSelector=")), None)
        items = [o for k, o in self.objects.items() if k.rsplit("/", 1)[0] == path
                 and (name is None or o["metadata"]["name"] == name)]
        if "watch=true" in query or "watch=1" in query:
            lines = b"".join(json.dumps({"type": "ADDED", "object": o}).encode() + b"\n" for o in items)
            return self._reply(200, lines)
        if path.rsplit("/", 1)[-1] in PLURALS:  # a list (release history: none)
            return self._json(200, {"kind": "List", "apiVersion": "v1",
                                    "metadata": {"resourceVersion": "1"}, "items": items})
        return self._json(404, NOT_FOUND)

    def do_POST(self) -> None:  # create: keep and echo the object (a Job has finished)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if "json" not in (self.headers.get("Content-Type") or ""):  # protobuf: echo it back
            return self._reply(201, body, self.headers.get("Content-Type", ""))
        doc = json.loads(body or b"{}")
        doc.setdefault("metadata", {}).setdefault("resourceVersion", "1")
        if doc.get("kind") == "Job":
            doc["status"] = {"succeeded": 1, "conditions": [
                {"type": "Complete", "status": "True"}, {"type": "SuccessCriteriaMet", "status": "True"}]}
        self.objects[f"{self.path.split('?')[0]}/{doc['metadata'].get('name')}"] = doc
        self._json(201, doc)

    def do_PUT(self) -> None:
        self.do_POST()

    def do_DELETE(self) -> None:
        self.objects.pop(self.path.split("?")[0], None)
        self._json(200, {"kind": "Status", "apiVersion": "v1", "status": "Success"})


def _kubeconfig(port: int) -> str:
    return (f"apiVersion: v1\nkind: Config\ncurrent-context: fake\n"
            f"clusters: [{{name: fake, cluster: {{server: 'http://127.0.0.1:{port}'}}}}]\n"
            f"users: [{{name: fake, user: {{token: fake}}}}]\n"
            f"contexts: [{{name: fake, context: {{cluster: fake, user: fake}}}}]\n")


def render(chart: Path, values: dict[str, Any]) -> list[dict[str, Any]]:
    """The chart's manifest with these values; raises helm.HelmError with Helm's message."""
    FakeApi.objects = {}
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
        container = spec["template"]["spec"]["containers"][0]
        # A pod waiting for its service lock must stay out of the Service (/readyz 503) and
        # alive (/healthz 200); one that halted (its lock was taken over) must be restarted.
        probes = {p: container.get(p, {}).get("httpGet", {}).get("path")
                  for p in ("readinessProbe", "livenessProbe")}
        if probes != {"readinessProbe": "/readyz", "livenessProbe": "/healthz"}:
            problems.append(f"{name}: probes {probes}")
        env = container["env"]
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


COMBINATIONS: dict[str, dict[str, Any]] = {
    "external NATS + PostgreSQL (defaults)": {},
    "bundled NATS (official chart) + CloudNativePG": {
        "nats": {"enabled": True}, "postgresql": {"cnpg": {"enabled": True}}},
    "Ingress + ServiceMonitor + auth + config Job": {
        "ingress": {"enabled": True, "className": "nginx",
                    "tls": [{"secretName": "robson-tls", "hosts": ["robson.example.com"]}]},
        "serviceMonitor": {"enabled": True},
        "auth": {"publicKey": {"existingSecret": "robson-auth"},
                 "adminToken": {"existingSecret": "robson-admin-token"},
                 "serviceTokens": {"existingSecret": "robson-service-tokens"}},
        "config": {"accounts": [{"id": "main"}], "traders": []},
        # Rendered as a plain resource: the fake API server cannot validate a hook's OpenAPI.
        "configJob": {"asHook": False}},
    "everything on": {
        "nats": {"enabled": True}, "postgresql": {"cnpg": {"enabled": True}},
        "ingress": {"enabled": True}, "serviceMonitor": {"enabled": True},
        "auth": {"publicKey": {"existingSecret": "robson-auth"},
                 "adminToken": {"existingSecret": "robson-admin-token"}},
        "config": {"accounts": [{"id": "main"}]}, "configJob": {"asHook": False},
        "database": {"lockSecret": {"existingSecret": "robson-database-direct"}}},
}
CUSTOM_KINDS = {("monitoring.coreos.com/v1", "ServiceMonitor"), ("monitoring.coreos.com/v1", "PodMonitor"),
                ("postgresql.cnpg.io/v1", "Cluster")}


def schema_problems(docs: list[dict[str, Any]]) -> tuple[list[str], int]:
    """Every built-in object validated against the Kubernetes OpenAPI schemas shipped in the
    kubernetes-validate package (strict: unknown fields are errors). Custom resources are skipped
    (their schemas come with their operators), their required shape is checked in check()."""
    try:
        import kubernetes_validate as kv
    except ImportError:
        return ["kubernetes-validate is not installed in the helm venv"], 0
    version = "1.30.0"
    problems, checked = [], 0
    for doc in docs:
        if (doc.get("apiVersion"), doc.get("kind")) in CUSTOM_KINDS:
            continue
        checked += 1
        try:
            kv.validate(doc, version, strict=True)
        except kv.ValidationError as exc:
            where = ".".join(str(p) for p in exc.path)
            problems.append(f"{doc['kind']}/{doc['metadata']['name']}: {where}: {exc.message}")
    return problems, checked


def check_combination(docs: list[dict[str, Any]], values: dict[str, Any]) -> list[str]:
    """What each option promises, on the rendered objects."""
    problems: list[str] = []
    kinds = {d["kind"] for d in docs}
    by_name = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    env = {e["name"]: e for e in by_name[("Deployment", "robson-paper")]["spec"]["template"]["spec"]
           ["containers"][0]["env"]}
    if values.get("nats", {}).get("enabled"):
        if "StatefulSet" not in kinds or env["NATS_URL"].get("value") != "nats://robson-nats:4222":
            problems.append(f"bundled NATS: StatefulSet or NATS_URL missing ({env.get('NATS_URL')})")
        nats_conf = next((d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "robson-nats-config"), None)
        if nats_conf is None or "jetstream" not in json.dumps(nats_conf):
            problems.append("bundled NATS: JetStream not configured")
    if values.get("postgresql", {}).get("cnpg", {}).get("enabled"):
        cluster = by_name.get(("Cluster", "robson-pg"))
        ref = env["DATABASE_URL"].get("valueFrom", {}).get("secretKeyRef", {})
        if cluster is None or cluster["spec"]["bootstrap"]["initdb"]["database"] != "robson":
            problems.append("CloudNativePG: no Cluster robson-pg bootstrapping database robson")
        if ref != {"name": "robson-pg-app", "key": "uri"}:
            problems.append(f"CloudNativePG: DATABASE_URL from {ref}, not robson-pg-app/uri")
    ingress = {("Ingress", "robson-api"), ("Ingress", "robson-dashboard")}
    if values.get("ingress", {}).get("enabled") and not ingress <= set(by_name):
        problems.append("Ingress: robson-api or robson-dashboard missing")
    if values.get("serviceMonitor", {}).get("enabled") and "ServiceMonitor" not in kinds:
        problems.append("ServiceMonitor missing")
    if values.get("config"):
        job = next((d for d in docs if d["kind"] == "Job"), None)
        command = job["spec"]["template"]["spec"]["containers"][0]["command"] if job else []
        if command[:2] != ["robson", "apply"] or "position=http://robson-position:8104" not in command:
            problems.append(f"config Job: command {command}")
    key_file = env.get("ROBSON_AUTH_PUBLIC_KEY_FILE", {}).get("value")
    if values.get("auth", {}).get("publicKey", {}).get("existingSecret") and \
            key_file != "/etc/robson/auth/public_key.pem":
        problems.append("auth: ROBSON_AUTH_PUBLIC_KEY_FILE not set")
    tokens = values.get("auth", {}).get("serviceTokens", {}).get("existingSecret")
    for service in ("position", "signal", "paper"):
        deployment = by_name[("Deployment", f"robson-{service}")]
        found = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
        ref = found.get(f"ROBSON_{service.upper()}_SERVICE_TOKEN", {}).get("valueFrom", {}).get(
            "secretKeyRef")
        want = {"name": tokens, "key": service} if tokens and service != "paper" else None
        if ref != want:
            problems.append(f"serviceTokens: {service}'s token from {ref}, not {want}")
    gate_url = {e["name"]: e for e in by_name[("Deployment", "robson-signal")]["spec"]["template"]
                ["spec"]["containers"][0]["env"]}.get("ROBSON_SIGNAL_GATE_URL", {}).get("value")
    if gate_url != ("http://robson-entry-gate:8103" if tokens else None):
        problems.append(f"serviceTokens: signal's GATE_URL is {gate_url}")
    for name in ("robson-notify", "robson-dashboard"):
        if ("Deployment", name) not in by_name:
            problems.append(f"Deployment {name} missing")
    lock_secret = values.get("database", {}).get("lockSecret", {}).get("existingSecret")
    for deployment in (d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"]
                       .startswith("robson-") and d["metadata"]["name"] != "robson-nats"):
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        service = container["command"][-1].removeprefix("robson_")
        found = {e["name"]: e for e in container["env"]}
        ref = found.get(f"ROBSON_{service.upper()}_LOCK_DATABASE_URL", {}).get(
            "valueFrom", {}).get("secretKeyRef")
        want = {"name": lock_secret, "key": "url"} if lock_secret else None
        if ref != want:
            problems.append(f"database.lockSecret: {service}'s lock URL from {ref}, not {want}")
    return problems


def run(chart: Path, value_files: list[Path]) -> int:
    problems: list[str] = []
    cases = [(label, values) for label, values in COMBINATIONS.items()]
    cases += [(f.name, yaml.safe_load(f.read_text())) for f in value_files]
    for label, values in cases:
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
        invalid, checked = schema_problems(docs)
        print(f"  Kubernetes 1.30 schemas: {checked} objects, {len(invalid)} invalid")
        problems += [f"{label}: {p}" for p in check(docs) + check_combination(docs, values) + invalid]
    print("== refusals")
    for svc in STATEFUL:
        problems += expect_failure(chart, {"services": {svc: {"replicas": 2}}},
                                   f"services.{svc}.replicas is 2")
    problems += expect_failure(
        chart, {"services": {"paper": {"env": {"ROBSON_PAPER_HTTP_PORT": "9000"}}}},
        "services.paper.env.ROBSON_PAPER_HTTP_PORT is set by the chart")
    problems += expect_failure(
        chart, {"auth": {"serviceTokens": {"existingSecret": "robson-service-tokens"}},
                "services": {"signal": {"env": {"ROBSON_SIGNAL_SERVICE_TOKEN": "x"}}}},
        "services.signal.env.ROBSON_SIGNAL_SERVICE_TOKEN is set by the chart")
    problems += expect_failure(chart, {"services": {"risk": {"enabled": True, "port": 8109}}},
                               "services.risk: unknown service")
    problems += expect_failure(chart, {"database": {"existingSecret": ""}},
                               "database.existingSecret")
    problems += expect_failure(
        chart, {"database": {"lockSecret": {"existingSecret": "robson-database-direct"}},
                "services": {"paper": {"env": {"ROBSON_PAPER_LOCK_DATABASE_URL": "postgresql://x"}}}},
        "services.paper.env.ROBSON_PAPER_LOCK_DATABASE_URL is set by the chart")
    # Without an admin token (and the key verifying it) every call of the Job is a 401.
    problems += expect_failure(chart, {"config": {"accounts": [{"id": "main"}]}},
                               "config: the config Job applies robson.yaml")
    problems += expect_failure(chart, {"config": {"accounts": [{"id": "main"}]},
                                       "auth": {"adminToken": {"existingSecret": "robson-admin-token"}}},
                               "config: the config Job applies robson.yaml")
    for problem in problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    print("helm-lint: " + ("FAILED" if problems else "ok"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]]))
