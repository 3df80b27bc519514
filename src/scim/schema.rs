//! SCIM schema model (RFC 7643 §7): attribute definitions, the built-in core, enterprise and
//! group schemas, and the per-resource-type view that the filter, PATCH and mapping code consult.

use std::sync::Arc;

use serde_json::{json, Map, Value};

/// Core User schema URN (RFC 7643 §4.1).
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// Core Group schema URN (RFC 7643 §4.2).
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// Enterprise User extension URN (RFC 7643 §4.3).
pub const ENTERPRISE_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// ListResponse message URN (RFC 7644 §3.4.2).
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// PatchOp message URN (RFC 7644 §3.5.2).
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// Error message URN (RFC 7644 §3.12).
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// Attribute data type (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

impl AttrType {
    /// The camelCase name used in `/Schemas`.
    pub fn as_str(self) -> &'static str {
        match self {
            AttrType::String => "string",
            AttrType::Boolean => "boolean",
            AttrType::Decimal => "decimal",
            AttrType::Integer => "integer",
            AttrType::DateTime => "dateTime",
            AttrType::Binary => "binary",
            AttrType::Reference => "reference",
            AttrType::Complex => "complex",
        }
    }

    /// Parses a `/Schemas` type name (case-insensitive).
    pub fn parse(name: &str) -> Option<AttrType> {
        Some(match name.to_ascii_lowercase().as_str() {
            "string" => AttrType::String,
            "boolean" => AttrType::Boolean,
            "decimal" => AttrType::Decimal,
            "integer" => AttrType::Integer,
            "datetime" => AttrType::DateTime,
            "binary" => AttrType::Binary,
            "reference" => AttrType::Reference,
            "complex" => AttrType::Complex,
            _ => return None,
        })
    }
}

/// Attribute mutability (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

impl Mutability {
    /// The camelCase name used in `/Schemas`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
            Mutability::WriteOnly => "writeOnly",
        }
    }

    /// Parses a `/Schemas` mutability name (case-insensitive).
    pub fn parse(name: &str) -> Option<Mutability> {
        Some(match name.to_ascii_lowercase().as_str() {
            "readonly" => Mutability::ReadOnly,
            "readwrite" => Mutability::ReadWrite,
            "immutable" => Mutability::Immutable,
            "writeonly" => Mutability::WriteOnly,
            _ => return None,
        })
    }
}

/// When an attribute is returned (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

impl Returned {
    /// The name used in `/Schemas`.
    pub fn as_str(self) -> &'static str {
        match self {
            Returned::Always => "always",
            Returned::Never => "never",
            Returned::Default => "default",
            Returned::Request => "request",
        }
    }
}

/// Uniqueness (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uniqueness {
    None,
    Server,
    Global,
}

impl Uniqueness {
    /// The name used in `/Schemas`.
    pub fn as_str(self) -> &'static str {
        match self {
            Uniqueness::None => "none",
            Uniqueness::Server => "server",
            Uniqueness::Global => "global",
        }
    }
}

/// One attribute definition (RFC 7643 §7), possibly with sub-attributes.
#[derive(Debug, Clone)]
pub struct AttributeDef {
    pub name: String,
    pub attr_type: AttrType,
    pub multi_valued: bool,
    pub description: String,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub uniqueness: Uniqueness,
    pub canonical_values: Vec<String>,
    pub reference_types: Vec<String>,
    pub sub_attributes: Vec<AttributeDef>,
}

impl AttributeDef {
    /// A single-valued, optional, readWrite, caseExact=false string with default returned.
    pub fn string(name: &str, description: &str) -> AttributeDef {
        AttributeDef {
            name: name.to_owned(),
            attr_type: AttrType::String,
            multi_valued: false,
            description: description.to_owned(),
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            canonical_values: Vec::new(),
            reference_types: Vec::new(),
            sub_attributes: Vec::new(),
        }
    }

    /// Same as [`AttributeDef::string`] with another type.
    pub fn typed(name: &str, attr_type: AttrType, description: &str) -> AttributeDef {
        AttributeDef {
            attr_type,
            ..AttributeDef::string(name, description)
        }
    }

    /// A complex attribute with the given sub-attributes.
    pub fn complex(name: &str, description: &str, subs: Vec<AttributeDef>) -> AttributeDef {
        AttributeDef {
            attr_type: AttrType::Complex,
            sub_attributes: subs,
            ..AttributeDef::string(name, description)
        }
    }

    pub fn multi(mut self) -> Self {
        self.multi_valued = true;
        self
    }
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }
    pub fn case_exact(mut self) -> Self {
        self.case_exact = true;
        self
    }
    pub fn mutability(mut self, m: Mutability) -> Self {
        self.mutability = m;
        self
    }
    pub fn returned(mut self, r: Returned) -> Self {
        self.returned = r;
        self
    }
    pub fn uniqueness(mut self, u: Uniqueness) -> Self {
        self.uniqueness = u;
        self
    }
    pub fn canonical(mut self, values: &[&str]) -> Self {
        self.canonical_values = values.iter().map(|v| (*v).to_owned()).collect();
        self
    }
    pub fn references(mut self, types: &[&str]) -> Self {
        self.reference_types = types.iter().map(|v| (*v).to_owned()).collect();
        self
    }

    /// Finds a sub-attribute by name, case-insensitively (RFC 7643 §2.1).
    pub fn sub(&self, name: &str) -> Option<&AttributeDef> {
        self.sub_attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// This definition as a `/Schemas` attribute object, without nulls.
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("name".into(), json!(self.name));
        out.insert("type".into(), json!(self.attr_type.as_str()));
        out.insert("multiValued".into(), json!(self.multi_valued));
        out.insert("description".into(), json!(self.description));
        out.insert("required".into(), json!(self.required));
        if self.attr_type != AttrType::Complex {
            out.insert("caseExact".into(), json!(self.case_exact));
        }
        out.insert("mutability".into(), json!(self.mutability.as_str()));
        out.insert("returned".into(), json!(self.returned.as_str()));
        out.insert("uniqueness".into(), json!(self.uniqueness.as_str()));
        if !self.canonical_values.is_empty() {
            out.insert("canonicalValues".into(), json!(self.canonical_values));
        }
        if !self.reference_types.is_empty() {
            out.insert("referenceTypes".into(), json!(self.reference_types));
        }
        if !self.sub_attributes.is_empty() {
            let subs: Vec<Value> = self.sub_attributes.iter().map(|s| s.to_json()).collect();
            out.insert("subAttributes".into(), Value::Array(subs));
        }
        Value::Object(out)
    }
}

/// One schema (core or extension) with its attributes.
#[derive(Debug, Clone)]
pub struct SchemaDef {
    pub id: String,
    pub name: String,
    pub description: String,
    pub attributes: Vec<AttributeDef>,
}

impl SchemaDef {
    /// Finds a top-level attribute by name, case-insensitively.
    pub fn attribute(&self, name: &str) -> Option<&AttributeDef> {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

/// The schemas of one resource type: its core schema plus extensions.
///
/// Extension attributes live in the resource JSON under the extension URN key
/// (RFC 7643 §3.3); core attributes at the top level.
#[derive(Debug, Clone)]
pub struct ResourceSchema {
    /// Resource type name, e.g. `User`.
    pub name: String,
    /// Endpoint, e.g. `/Users`.
    pub endpoint: String,
    pub core: SchemaDef,
    pub extensions: Vec<SchemaDef>,
    /// The whole schema this one was cut down from (every attribute of the core and of the
    /// declared extensions), when it was: it tells an attribute that exists but is not
    /// mapped, which requests may name and the gateway ignores, from one that does not exist.
    pub whole: Option<Arc<ResourceSchema>>,
}

impl ResourceSchema {
    /// Finds an extension schema by URN, case-insensitively.
    pub fn extension(&self, urn: &str) -> Option<&SchemaDef> {
        self.extensions
            .iter()
            .find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// Finds the schema (core or extension) with this URN.
    pub fn schema(&self, urn: &str) -> Option<&SchemaDef> {
        if self.core.id.eq_ignore_ascii_case(urn) {
            Some(&self.core)
        } else {
            self.extension(urn)
        }
    }

    /// Whether `path` (`urn:…:Extension:attr`, or a bare extension URN) belongs to an
    /// extension schema that the whole schema this one was cut from does not declare
    /// either: its attributes cannot be mapped here, so a request naming them names nothing
    /// this gateway stores. `false` for a schema that was not cut down.
    pub fn names_undeclared_extension(&self, path: &crate::scim::attr::AttrPath) -> bool {
        let Some(whole) = self.whole.as_deref() else {
            return false;
        };
        path.urn.as_deref().is_some_and(|urn| {
            let bare = format!("{urn}:{}", path.name);
            urn.starts_with("urn:") && whole.schema(urn).is_none() && whole.schema(&bare).is_none()
        })
    }

    /// All schema URNs of this resource type, core first.
    pub fn urns(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.core.id.as_str()).chain(self.extensions.iter().map(|s| s.id.as_str()))
    }
}

/// The attributes common to every resource (RFC 7643 §3.1), always present in the core view.
pub fn common_attributes() -> Vec<AttributeDef> {
    vec![
        AttributeDef::string(
            "id",
            "Unique identifier for the resource, assigned by the service provider.",
        )
        .case_exact()
        .mutability(Mutability::ReadOnly)
        .returned(Returned::Always)
        .uniqueness(Uniqueness::Server),
        AttributeDef::string(
            "externalId",
            "Identifier of the resource as defined by the provisioning client.",
        )
        .case_exact(),
        AttributeDef::complex(
            "meta",
            "Resource metadata.",
            vec![
                AttributeDef::string("resourceType", "The name of the resource type.")
                    .case_exact()
                    .mutability(Mutability::ReadOnly),
                AttributeDef::typed(
                    "created",
                    AttrType::DateTime,
                    "When the resource was added.",
                )
                .mutability(Mutability::ReadOnly),
                AttributeDef::typed(
                    "lastModified",
                    AttrType::DateTime,
                    "When the resource was last updated.",
                )
                .mutability(Mutability::ReadOnly),
                AttributeDef::typed("location", AttrType::Reference, "The URI of the resource.")
                    .case_exact()
                    .mutability(Mutability::ReadOnly),
                AttributeDef::string("version", "The version (ETag) of the resource.")
                    .case_exact()
                    .mutability(Mutability::ReadOnly),
            ],
        )
        .mutability(Mutability::ReadOnly),
    ]
}

fn multi_valued_typed(
    name: &str,
    description: &str,
    value_type: AttrType,
    types: &[&str],
) -> AttributeDef {
    AttributeDef::complex(
        name,
        description,
        vec![
            AttributeDef::typed("value", value_type, "The value."),
            AttributeDef::string(
                "display",
                "A human-readable name, primarily used for display purposes.",
            ),
            AttributeDef::string("type", "A label indicating the attribute's function.")
                .canonical(types),
            AttributeDef::typed(
                "primary",
                AttrType::Boolean,
                "Indicates the preferred value.",
            ),
        ],
    )
    .multi()
}

/// The full core User schema (RFC 7643 §4.1 and §8.7.1).
pub fn core_user_schema() -> SchemaDef {
    SchemaDef {
        id: USER_SCHEMA.into(),
        name: "User".into(),
        description: "User Account".into(),
        attributes: vec![
            AttributeDef::string(
                "userName",
                "Unique identifier for the User, used to authenticate.",
            )
            .required()
            .uniqueness(Uniqueness::Server),
            AttributeDef::complex(
                "name",
                "The components of the user's real name.",
                vec![
                    AttributeDef::string("formatted", "The full name, formatted for display."),
                    AttributeDef::string("familyName", "The family name of the User."),
                    AttributeDef::string("givenName", "The given name of the User."),
                    AttributeDef::string("middleName", "The middle name(s) of the User."),
                    AttributeDef::string(
                        "honorificPrefix",
                        "The honorific prefix(es) of the User.",
                    ),
                    AttributeDef::string(
                        "honorificSuffix",
                        "The honorific suffix(es) of the User.",
                    ),
                ],
            ),
            AttributeDef::string("displayName", "The name of the User, suitable for display."),
            AttributeDef::string("nickName", "The casual way to address the user."),
            AttributeDef::typed(
                "profileUrl",
                AttrType::Reference,
                "A URI to the User's online profile.",
            )
            .references(&["external"]),
            AttributeDef::string("title", "The user's title, such as \"Vice President\"."),
            AttributeDef::string("userType", "The organization-to-user relationship."),
            AttributeDef::string(
                "preferredLanguage",
                "The User's preferred written or spoken language.",
            ),
            AttributeDef::string("locale", "The User's default location, e.g. en-US."),
            AttributeDef::string(
                "timezone",
                "The User's time zone in IANA format, e.g. Europe/Oslo.",
            ),
            AttributeDef::typed(
                "active",
                AttrType::Boolean,
                "The User's administrative status.",
            ),
            AttributeDef::string(
                "password",
                "The User's cleartext password, used to set it; never returned.",
            )
            .mutability(Mutability::WriteOnly)
            .returned(Returned::Never),
            multi_valued_typed(
                "emails",
                "Email addresses for the user.",
                AttrType::String,
                &["work", "home", "other"],
            ),
            multi_valued_typed(
                "phoneNumbers",
                "Phone numbers for the User.",
                AttrType::String,
                &["work", "home", "mobile", "fax", "pager", "other"],
            ),
            multi_valued_typed(
                "ims",
                "Instant messaging addresses for the User.",
                AttrType::String,
                &[],
            ),
            multi_valued_typed(
                "photos",
                "URLs of photos of the User.",
                AttrType::Reference,
                &["photo", "thumbnail"],
            ),
            AttributeDef::complex(
                "addresses",
                "A physical mailing address for this User.",
                vec![
                    AttributeDef::string("formatted", "The full mailing address."),
                    AttributeDef::string("streetAddress", "The full street address component."),
                    AttributeDef::string("locality", "The city or locality component."),
                    AttributeDef::string("region", "The state or region component."),
                    AttributeDef::string("postalCode", "The zip code or postal code component."),
                    AttributeDef::string("country", "The country name component."),
                    AttributeDef::string("type", "A label indicating the attribute's function.")
                        .canonical(&["work", "home", "other"]),
                    AttributeDef::typed(
                        "primary",
                        AttrType::Boolean,
                        "Indicates the preferred address.",
                    ),
                ],
            )
            .multi(),
            AttributeDef::complex(
                "groups",
                "A list of groups to which the user belongs.",
                vec![
                    AttributeDef::string("value", "The identifier of the User's group.")
                        .mutability(Mutability::ReadOnly),
                    AttributeDef::typed(
                        "$ref",
                        AttrType::Reference,
                        "The URI of the Group resource.",
                    )
                    .references(&["Group"])
                    .mutability(Mutability::ReadOnly),
                    AttributeDef::string("display", "A human-readable name of the group.")
                        .mutability(Mutability::ReadOnly),
                    AttributeDef::string("type", "direct or indirect membership.")
                        .canonical(&["direct", "indirect"])
                        .mutability(Mutability::ReadOnly),
                ],
            )
            .multi()
            .mutability(Mutability::ReadOnly),
            multi_valued_typed(
                "entitlements",
                "A list of entitlements for the User.",
                AttrType::String,
                &[],
            ),
            multi_valued_typed(
                "roles",
                "A list of roles for the User.",
                AttrType::String,
                &[],
            ),
        ],
    }
}

/// The Enterprise User extension (RFC 7643 §4.3).
pub fn enterprise_user_schema() -> SchemaDef {
    SchemaDef {
        id: ENTERPRISE_SCHEMA.into(),
        name: "EnterpriseUser".into(),
        description: "Enterprise User".into(),
        attributes: vec![
            AttributeDef::string(
                "employeeNumber",
                "Numeric or alphanumeric identifier assigned to a person.",
            ),
            AttributeDef::string("costCenter", "Identifies the name of a cost center."),
            AttributeDef::string("organization", "Identifies the name of an organization."),
            AttributeDef::string("division", "Identifies the name of a division."),
            AttributeDef::string("department", "Identifies the name of a department."),
            AttributeDef::complex(
                "manager",
                "The User's manager.",
                vec![
                    AttributeDef::string(
                        "value",
                        "The id of the SCIM resource representing the User's manager.",
                    ),
                    AttributeDef::typed(
                        "$ref",
                        AttrType::Reference,
                        "The URI of the manager's User resource.",
                    )
                    .references(&["User"]),
                    AttributeDef::string("displayName", "The displayName of the User's manager.")
                        .mutability(Mutability::ReadOnly),
                ],
            ),
        ],
    }
}

/// The core Group schema (RFC 7643 §4.2).
pub fn core_group_schema() -> SchemaDef {
    SchemaDef {
        id: GROUP_SCHEMA.into(),
        name: "Group".into(),
        description: "Group".into(),
        attributes: vec![
            AttributeDef::string("displayName", "A human-readable name for the Group.")
                .required()
                .uniqueness(Uniqueness::Server),
            AttributeDef::complex(
                "members",
                "A list of members of the Group.",
                vec![
                    AttributeDef::string("value", "Identifier of the member of this Group.")
                        .case_exact()
                        .mutability(Mutability::Immutable),
                    AttributeDef::typed(
                        "$ref",
                        AttrType::Reference,
                        "The URI of the member resource.",
                    )
                    .references(&["User", "Group"])
                    .mutability(Mutability::Immutable),
                    AttributeDef::string("display", "A human-readable name of the member.")
                        .mutability(Mutability::ReadOnly),
                    AttributeDef::string("type", "The type of the member.")
                        .canonical(&["User", "Group"])
                        .mutability(Mutability::Immutable),
                ],
            )
            .multi(),
        ],
    }
}

/// Parses a `/Schemas`-style JSON schema document (as shipped for custom extensions).
pub fn schema_from_json(doc: &Value) -> Result<SchemaDef, String> {
    let id = doc
        .get("id")
        .and_then(Value::as_str)
        .ok_or("schema has no string `id`")?;
    let name = doc.get("name").and_then(Value::as_str).unwrap_or(id);
    let description = doc.get("description").and_then(Value::as_str).unwrap_or("");
    let attrs = doc
        .get("attributes")
        .and_then(Value::as_array)
        .ok_or("schema has no `attributes` array")?;
    let attributes = attrs
        .iter()
        .map(attribute_from_json)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(SchemaDef {
        id: id.into(),
        name: name.into(),
        description: description.into(),
        attributes,
    })
}

fn attribute_from_json(doc: &Value) -> Result<AttributeDef, String> {
    let name = doc
        .get("name")
        .and_then(Value::as_str)
        .ok_or("attribute has no string `name`")?;
    let str_field = |key: &str| doc.get(key).and_then(Value::as_str);
    let bool_field = |key: &str| doc.get(key).and_then(Value::as_bool).unwrap_or(false);
    let attr_type = match str_field("type") {
        Some(t) => {
            AttrType::parse(t).ok_or_else(|| format!("attribute `{name}`: unknown type `{t}`"))?
        }
        None => AttrType::String,
    };
    let mutability = match str_field("mutability") {
        Some(m) => Mutability::parse(m)
            .ok_or_else(|| format!("attribute `{name}`: unknown mutability `{m}`"))?,
        None => Mutability::ReadWrite,
    };
    let returned = match str_field("returned")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("always") => Returned::Always,
        Some("never") => Returned::Never,
        Some("request") => Returned::Request,
        Some("default") | None => Returned::Default,
        Some(other) => return Err(format!("attribute `{name}`: unknown returned `{other}`")),
    };
    let uniqueness = match str_field("uniqueness")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("server") => Uniqueness::Server,
        Some("global") => Uniqueness::Global,
        Some("none") | None => Uniqueness::None,
        Some(other) => return Err(format!("attribute `{name}`: unknown uniqueness `{other}`")),
    };
    let sub_attributes = match doc.get("subAttributes").and_then(Value::as_array) {
        Some(subs) => subs
            .iter()
            .map(attribute_from_json)
            .collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    let strings = |key: &str| -> Vec<String> {
        doc.get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    Ok(AttributeDef {
        name: name.into(),
        attr_type,
        multi_valued: bool_field("multiValued"),
        description: str_field("description").unwrap_or("").into(),
        required: bool_field("required"),
        case_exact: bool_field("caseExact"),
        mutability,
        returned,
        uniqueness,
        canonical_values: strings("canonicalValues"),
        reference_types: strings("referenceTypes"),
        sub_attributes,
    })
}
