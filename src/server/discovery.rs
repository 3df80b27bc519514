//! Discovery endpoints (RFC 7644 §4), generated from what the mappings really support.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use super::handlers::{base_url, scim_json};
use crate::mapping::{ResourceKind, ResourceMapping};
use crate::scim::error::ScimError;
use crate::scim::schema::{SchemaDef, LIST_RESPONSE};
use crate::tenant::{SharedTenant, Tenant};

const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const SPC_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";

fn list_response(resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": resources.len(),
        "startIndex": 1,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

fn mappings(tenant: &Tenant) -> [&ResourceMapping; 2] {
    [
        tenant.mappings.get(ResourceKind::User),
        tenant.mappings.get(ResourceKind::Group),
    ]
}

pub async fn service_provider_config(
    State(tenant): State<SharedTenant>,
    headers: HeaderMap,
) -> Response {
    let base = base_url(&tenant, &headers);
    let password = tenant
        .mappings
        .users
        .schema
        .core
        .attribute("password")
        .is_some();
    let body = json!({
        "schemas": [SPC_SCHEMA],
        "documentationUri": "https://github.com/scimgate/scimgate#readme",
        "patch": {"supported": true},
        "bulk": {
            "supported": true,
            "maxOperations": tenant.bulk.max_operations,
            "maxPayloadSize": tenant.bulk.max_payload_bytes,
        },
        "filter": {"supported": true, "maxResults": tenant.limits.max_count},
        "changePassword": {"supported": password},
        "sort": {"supported": true},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication with a bearer token (the IdP's Secret Token).",
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base}/ServiceProviderConfig"),
        },
    });
    scim_json(StatusCode::OK, &body)
}

fn resource_type_json(mapping: &ResourceMapping, base: &str) -> Value {
    let extensions: Vec<Value> = mapping
        .schema
        .extensions
        .iter()
        .map(|e| json!({"schema": e.id, "required": false}))
        .collect();
    json!({
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": mapping.kind.name(),
        "name": mapping.kind.name(),
        "endpoint": mapping.kind.endpoint(),
        "description": format!("{} accounts in the directory", mapping.kind.name()),
        "schema": mapping.schema.core.id,
        "schemaExtensions": extensions,
        "meta": {
            "resourceType": "ResourceType",
            "location": format!("{base}/ResourceTypes/{}", mapping.kind.name()),
        },
    })
}

pub async fn resource_types(State(tenant): State<SharedTenant>, headers: HeaderMap) -> Response {
    let base = base_url(&tenant, &headers);
    let list: Vec<Value> = mappings(&tenant)
        .iter()
        .map(|m| resource_type_json(m, &base))
        .collect();
    scim_json(StatusCode::OK, &list_response(list))
}

pub async fn resource_type(
    State(tenant): State<SharedTenant>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, ScimError> {
    let base = base_url(&tenant, &headers);
    mappings(&tenant)
        .iter()
        .find(|m| m.kind.name().eq_ignore_ascii_case(&name))
        .map(|m| scim_json(StatusCode::OK, &resource_type_json(m, &base)))
        .ok_or_else(|| ScimError::not_found(format!("no resource type {name}")))
}

fn schema_json(schema: &SchemaDef, base: &str) -> Value {
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": schema.id,
        "name": schema.name,
        "description": schema.description,
        // `id` and `meta` are common attributes (RFC 7643 §3.1), not part of any schema.
        "attributes": schema
            .attributes
            .iter()
            .filter(|a| a.name != "id" && a.name != "meta")
            .map(|a| a.to_json())
            .collect::<Vec<_>>(),
        "meta": {
            "resourceType": "Schema",
            "location": format!("{base}/Schemas/{}", schema.id),
        },
    })
}

/// Every published schema once (core schemas first, then extensions).
fn all_schemas(tenant: &Tenant) -> Vec<&SchemaDef> {
    let mut out: Vec<&SchemaDef> = Vec::new();
    for m in mappings(tenant) {
        out.push(&m.schema.core);
    }
    for m in mappings(tenant) {
        for ext in &m.schema.extensions {
            if !out.iter().any(|s| s.id == ext.id) {
                out.push(ext);
            }
        }
    }
    out
}

pub async fn schemas(State(tenant): State<SharedTenant>, headers: HeaderMap) -> Response {
    let base = base_url(&tenant, &headers);
    let list: Vec<Value> = all_schemas(&tenant)
        .iter()
        .map(|s| schema_json(s, &base))
        .collect();
    scim_json(StatusCode::OK, &list_response(list))
}

pub async fn schema(
    State(tenant): State<SharedTenant>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    let base = base_url(&tenant, &headers);
    all_schemas(&tenant)
        .iter()
        .find(|s| s.id.eq_ignore_ascii_case(&id))
        .map(|s| scim_json(StatusCode::OK, &schema_json(s, &base)))
        .ok_or_else(|| ScimError::not_found(format!("no schema {id}")))
}
