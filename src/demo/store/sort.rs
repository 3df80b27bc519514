//! List order of the example directory: `sort=<field>&order=asc|desc` on `/api/users` and
//! `/api/groups`, case-insensitive, records without the field last, ties by id.

use super::{fold, invalid, Group, StoreError, User};

/// The fields a user list can be sorted by.
pub const USER_FIELDS: &[&str] = &[
    "login",
    "external_ref",
    "first_name",
    "last_name",
    "display_name",
    "title",
];

/// The fields a group list can be sorted by.
pub const GROUP_FIELDS: &[&str] = &["name", "external_ref", "description"];

/// The requested order of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sort {
    /// One of [`USER_FIELDS`] or [`GROUP_FIELDS`].
    pub field: &'static str,
    pub descending: bool,
}

impl Sort {
    /// Parses `sort` and `order` (`order` alone is an error: it would silently do nothing).
    pub fn parse(
        sort: Option<&str>,
        order: Option<&str>,
        fields: &[&'static str],
    ) -> Result<Option<Sort>, StoreError> {
        let descending = match order {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(_) => {
                return Err(invalid(
                    "query parameter 'order' must be \"asc\" or \"desc\"",
                ))
            }
        };
        let Some(name) = sort else {
            return match order {
                Some(_) => Err(invalid("query parameter 'order' needs 'sort'")),
                None => Ok(None),
            };
        };
        let field = fields.iter().find(|f| **f == name).ok_or_else(|| {
            invalid(format!(
                "query parameter 'sort' must be one of {}",
                fields.join(", ")
            ))
        })?;
        Ok(Some(Sort { field, descending }))
    }

    /// Sorts `items` in place; `key` reads the sort field of one item.
    fn apply<T>(&self, items: &mut [&T], key: impl Fn(&T) -> (Option<String>, u64)) {
        items.sort_by_cached_key(|item| {
            let (value, id) = key(item);
            (value.is_none(), value.map(|v| fold(&v)), id)
        });
        if self.descending {
            // Reversed as a whole: values descending, records without the field first.
            items.reverse();
        }
    }

    pub(super) fn users(&self, users: &mut [&User]) {
        self.apply(users, |u| {
            let value = match self.field {
                "login" => Some(&u.login),
                "external_ref" => u.external_ref.as_ref(),
                "first_name" => u.first_name.as_ref(),
                "last_name" => u.last_name.as_ref(),
                "display_name" => u.display_name.as_ref(),
                _ => u.title.as_ref(),
            };
            (value.cloned(), u.id)
        });
    }

    pub(super) fn groups(&self, groups: &mut [&Group]) {
        self.apply(groups, |g| {
            let value = match self.field {
                "name" => Some(&g.name),
                "external_ref" => g.external_ref.as_ref(),
                _ => g.description.as_ref(),
            };
            (value.cloned(), g.id)
        });
    }
}
