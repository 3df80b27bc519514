//! A write named as data ([`Write`]) and what it answers ([`Written`]): the one path from a
//! parsed request to `create`/`replace`/`patch`/`delete`, shared by the single endpoints and
//! by each operation of a `/Bulk` request, so both answer with the same status.

use serde_json::Value;

use super::{create, delete, patch, replace, Ctx};
use crate::error::Error;
use crate::mapping::ResourceKind;

/// One SCIM write on the context's resource type.
#[derive(Debug, Clone, Copy)]
pub enum Write<'a> {
    /// `POST /{Resources}` with the new resource.
    Create(&'a Value),
    /// `PUT /{Resources}/{id}` with the whole resource.
    Replace(&'a str, &'a Value),
    /// `PATCH /{Resources}/{id}` with a PatchOp message.
    Patch(&'a str, &'a Value),
    /// `DELETE /{Resources}/{id}`.
    Delete(&'a str),
}

impl Write<'_> {
    /// The `operation` label of the SCIM request metrics.
    pub fn metric_label(self) -> &'static str {
        match self {
            Write::Create(_) => "create",
            Write::Replace(..) => "replace",
            Write::Patch(..) => "patch",
            Write::Delete(_) => "delete",
        }
    }
}

/// The outcome of a successful write.
#[derive(Debug, Clone)]
pub struct Written {
    /// 201 for a create, 204 for a delete and a group PATCH, else 200.
    pub status: u16,
    /// The resource as it now is (`None` after a delete). Sent as the body unless the
    /// status is 204; its `meta.location` and `meta.version` are reported either way.
    pub resource: Option<Value>,
}

/// Runs one write.
pub async fn run(ctx: &Ctx<'_>, write: Write<'_>) -> Result<Written, Error> {
    let (status, resource) = match write {
        Write::Create(body) => (201, Some(create(ctx, body).await?)),
        Write::Replace(id, body) => (200, Some(replace(ctx, id, body).await?)),
        Write::Patch(id, body) => {
            let patched = patch(ctx, id, body).await?;
            // Entra expects 204 for group PATCH and does not need the (possibly huge)
            // member list.
            let status = match ctx.kind {
                ResourceKind::Group => 204,
                ResourceKind::User => 200,
            };
            (status, Some(patched))
        }
        Write::Delete(id) => {
            delete(ctx, id).await?;
            (204, None)
        }
    };
    Ok(Written { status, resource })
}
