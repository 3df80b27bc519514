"""Creates Keystone's `scim` domain and gives the bootstrap admin the admin role on it.

Run by start.sh once the server answers. Env: KS_URL (the v3 root), KS_USER, KS_PASSWORD.
"""
import json
import os
import urllib.request

URL = os.environ["KS_URL"]
DOMAIN = "scim"
# A fixed id (Keystone takes `explicit_domain_id`), the `scope` value in mappings/keystone.
DOMAIN_ID = "5c1a0000000000000000000000000000"


def call(method, path, body=None, token=None):
    request = urllib.request.Request(URL + path, method=method)
    if token:
        request.add_header("X-Auth-Token", token)
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, data, timeout=60) as response:
        raw = response.read()
        return response.headers, json.loads(raw) if raw else None


login = {
    "auth": {
        "identity": {
            "methods": ["password"],
            "password": {
                "user": {
                    "name": os.environ["KS_USER"],
                    "domain": {"id": "default"},
                    "password": os.environ["KS_PASSWORD"],
                }
            },
        },
        "scope": {"system": {"all": True}},
    }
}
headers, answer = call("POST", "/auth/tokens", login)
token = headers["X-Subject-Token"]
admin_id = answer["token"]["user"]["id"]
_, roles = call("GET", "/roles?name=admin", token=token)
role_id = roles["roles"][0]["id"]
domain = {"name": DOMAIN, "enabled": True, "explicit_domain_id": DOMAIN_ID}
_, created = call("POST", "/domains", {"domain": domain}, token)
domain_id = created["domain"]["id"]
call("PUT", f"/domains/{domain_id}/users/{admin_id}/roles/{role_id}", token=token)
print(f"domain {DOMAIN} = {domain_id}; admin role granted to {admin_id}")
