#!/usr/bin/env bash
# Validates the deploy artefacts offline (only package registries are used, to install tools):
#
#   scripts/validate-deploy.sh
#
# 1. promtool (Debian package `prometheus`, installed when missing; it also provides the
#    `prometheus` binary the real-backends Prometheus test runs):
#    check config, check rules, test rules (deploy/prometheus/alerts_test.yml);
# 2. the Kubernetes manifests against the Kubernetes JSON schemas shipped inside the PyPI
#    package kubernetes-validate (strict: unknown fields fail), installed into .cache/venv;
# 3. the PodMonitor, a CRD the schemas do not cover, with a structural check;
# 4. deploy/k8s/configmap.yaml is up to date with mappings/ (deploy/k8s/configmap.sh), and the
#    config and mappings it holds, laid out as the Deployment mounts them, pass `scimgate check`;
# 5. the Grafana dashboard is valid JSON; every scimgate_* name used by the alerts and the
#    dashboard is a metric family of src/metrics.rs.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/lib.sh
KV_VERSION=1.37.0

if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
  log "installing prometheus (promtool) from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1 ||
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }
fi

log "promtool check config / rules / test rules"
promtool check config deploy/prometheus/prometheus.yml
promtool check rules deploy/prometheus/alerts.yml
promtool test rules deploy/prometheus/alerts_test.yml
# Debian's promtool is built without Kubernetes service discovery, so it rejects
# kubernetes_sd_configs; then the kubernetes_sd example only gets a YAML parse below.
k8s_sd_checked=0
if promtool check config deploy/prometheus/prometheus-kubernetes.yml >/tmp/scimgate-promtool-k8s.$$ 2>&1; then
  k8s_sd_checked=1
elif grep -q "kubernetes_sd_configs not found" /tmp/scimgate-promtool-k8s.$$; then
  log "this promtool has no kubernetes_sd: prometheus-kubernetes.yml gets a YAML parse only"
else
  cat /tmp/scimgate-promtool-k8s.$$ >&2; rm -f /tmp/scimgate-promtool-k8s.$$; exit 1
fi
rm -f /tmp/scimgate-promtool-k8s.$$

VENV=.cache/venv
if ! "$VENV/bin/kubernetes-validate" --version 2>/dev/null | grep -q "$KV_VERSION"; then
  log "installing kubernetes-validate $KV_VERSION into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "kubernetes-validate==$KV_VERSION"
fi

log "kubernetes-validate --strict deploy/k8s/*.yaml"
# The PodMonitor (monitoring.coreos.com/v1) has no schema in the package: the validator
# only warns about it, and the structural check below covers it.
"$VENV/bin/kubernetes-validate" --strict --quiet deploy/k8s/sidecar.yaml deploy/k8s/configmap.yaml \
  deploy/k8s/podmonitor.yaml

log "configmap.yaml up to date with mappings/"
if ! diff -u deploy/k8s/configmap.yaml <(deploy/k8s/configmap.sh); then
  echo "deploy/k8s/configmap.yaml is stale: run deploy/k8s/configmap.sh > deploy/k8s/configmap.yaml" >&2
  exit 1
fi

MOUNT="$(mktemp -d)"
trap 'rm -rf "$MOUNT"' EXIT
log "structural checks (PodMonitor, Deployment wiring, dashboard, metric names)"
"$VENV/bin/python" - "$MOUNT" "$k8s_sd_checked" <<'PY'
import json, os, re, sys, yaml

mount, k8s_sd_checked = sys.argv[1], sys.argv[2] == "1"
def fail(msg):
    sys.exit(f"validate-deploy: {msg}")
def docs(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]

side = {d["kind"]: d for d in docs("deploy/k8s/sidecar.yaml")}
cm = docs("deploy/k8s/configmap.yaml")[0]
pm = docs("deploy/k8s/podmonitor.yaml")
if len(pm) != 1: fail("podmonitor.yaml: expected one document")
pm = pm[0]
if pm.get("apiVersion") != "monitoring.coreos.com/v1" or pm.get("kind") != "PodMonitor":
    fail("podmonitor.yaml: not a monitoring.coreos.com/v1 PodMonitor")
if not pm.get("metadata", {}).get("name"): fail("PodMonitor: metadata.name missing")
spec = pm.get("spec", {})
known = {"selector", "podMetricsEndpoints", "namespaceSelector", "jobLabel", "podTargetLabels",
         "sampleLimit", "targetLimit", "labelLimit", "attachMetadata"}
if set(spec) - known: fail(f"PodMonitor: unknown spec fields {set(spec) - known}")
sel = spec.get("selector", {}).get("matchLabels", {})
eps = spec.get("podMetricsEndpoints") or fail("PodMonitor: podMetricsEndpoints missing")

dep = side["Deployment"]
tmpl = dep["spec"]["template"]
pod_labels = tmpl["metadata"]["labels"]
if not sel or any(pod_labels.get(k) != v for k, v in sel.items()):
    fail(f"PodMonitor selector {sel} does not match the pod labels {pod_labels}")
gw = next(c for c in tmpl["spec"]["containers"] if c["name"] == "scimgate")
ports = {p["name"]: p["containerPort"] for p in gw["ports"]}
for ep in eps:
    if ep.get("port") not in ports: fail(f"PodMonitor port {ep.get('port')} is not a scimgate container port")
    if ep.get("path", "/metrics") != "/metrics": fail("PodMonitor path must be /metrics")
for probe, path in (("livenessProbe", "/livez"), ("readinessProbe", "/readyz")):
    get = gw.get(probe, {}).get("httpGet") or fail(f"{probe}: not an HTTP probe")
    if get["path"] != path or get["port"] != "admin": fail(f"{probe}: expected {path} on port admin")
sc = gw["securityContext"]
if not (sc.get("readOnlyRootFilesystem") and sc.get("allowPrivilegeEscalation") is False):
    fail("scimgate container: read-only root fs and no privilege escalation required")
if not (sc.get("runAsNonRoot") or tmpl["spec"].get("securityContext", {}).get("runAsNonRoot")):
    fail("scimgate: runAsNonRoot required")
if not gw.get("resources", {}).get("limits"): fail("scimgate: resource limits required")

# Materialise the volumes as the kubelet would, for `scimgate check`.
config_file = None
vols = {v["name"]: v for v in tmpl["spec"]["volumes"]}
for m in gw["volumeMounts"]:
    v = vols[m["name"]]
    dest = mount + m["mountPath"]
    if "configMap" in v:
        if v["configMap"]["name"] != cm["metadata"]["name"]: fail("config volume names another ConfigMap")
        data = cm["data"]
    elif "secret" in v:
        secret = side["Secret"]
        if v["secret"]["secretName"] != secret["metadata"]["name"]: fail("token volume names another Secret")
        data = secret["stringData"]
    else:
        continue
    items = v.get("configMap", v.get("secret")).get("items") or [{"key": k, "path": k} for k in data]
    for it in items:
        if it["key"] not in data: fail(f"volume {m['name']}: key {it['key']} missing")
        path = os.path.join(dest, it["path"])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(data[it["key"]])
config_arg = gw["args"][gw["args"].index("--config") + 1]
settings = yaml.safe_load(cm["data"]["scimgate.yaml"])
if settings.get("admin_listen") != f"0.0.0.0:{ports['admin']}": fail("admin_listen must be 0.0.0.0:<admin port>")
# Rewrite absolute in-container paths into the materialised tree.
text = cm["data"]["scimgate.yaml"].replace(" /etc/scimgate", f" {mount}/etc/scimgate").replace(
    "[/var/run", f"[{mount}/var/run")
with open(mount + config_arg, "w") as f:
    f.write(text)
with open(os.path.join(mount, "config-path"), "w") as f:
    f.write(mount + config_arg)

if not k8s_sd_checked:
    prom = docs("deploy/prometheus/prometheus-kubernetes.yml")[0]
    job = prom["scrape_configs"][0]
    if "kubernetes_sd_configs" not in job or not job.get("relabel_configs"):
        fail("prometheus-kubernetes.yml: kubernetes_sd_configs with relabel_configs expected")

with open("deploy/grafana/scimgate.json") as f:
    dash = json.load(f)
exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
if not exprs: fail("dashboard has no queries")
with open("src/metrics.rs") as f:
    families = set(re.findall(r'"(scimgate_[a-z_]+)"', f.read()))
def base(name):
    for suffix in ("_bucket", "_count", "_sum"):
        if name.endswith(suffix) and name[: -len(suffix)] in families:
            return name[: -len(suffix)]
    return name
with open("deploy/prometheus/alerts.yml") as f:
    used = set(re.findall(r"scimgate_[a-z_]+", f.read() + "\n".join(exprs)))
unknown = {n for n in used if base(n) not in families and n not in ("scimgate_backend", "scimgate_cache")}
if unknown: fail(f"unknown metric names in alerts/dashboard: {sorted(unknown)}")
print(f"structural checks ok: {len(dash['panels'])} dashboard panels, {len(used)} metric names known")
PY

log "scimgate check on the ConfigMap as mounted"
cargo build --quiet
target/debug/scimgate check --config "$(cat "$MOUNT/config-path")"

log "python3 -m json.tool deploy/grafana/scimgate.json"
python3 -m json.tool deploy/grafana/scimgate.json >/dev/null
log "deploy artefacts valid"
