//! Fixed demo data: the hand-written users and groups of `Store::seeded` and the name
//! pools of `Store::seed_bulk`.

use super::{Contact, Org, Status, Timestamp, User};

/// A hand-written group of `Store::seeded`.
pub(super) struct Group {
    /// Group name.
    pub name: &'static str,
    /// Group description.
    pub description: &'static str,
    /// `created_at`, `updated_at` and every member's `added_at`.
    pub created: Timestamp,
    /// Member user ids.
    pub members: &'static [u64],
}

/// The groups of `Store::seeded`, ids 501 and 502 in this order.
pub(super) const GROUPS: [Group; 2] = [
    Group {
        name: "Engineering",
        description: "Product engineering",
        created: Timestamp::from_civil(2024, 5, 1, 9, 30, 0),
        members: &[1001, 1002],
    },
    Group {
        name: "Sales",
        description: "Field and inside sales",
        created: Timestamp::from_civil(2024, 5, 1, 9, 35, 0),
        members: &[1003],
    },
];

/// Given names the bulk seeder cycles through.
pub(super) const FIRST_NAMES: [&str; 16] = [
    "Liam", "Olivia", "Noah", "Emma", "Mateo", "Sofia", "Arjun", "Mei", "Lucas", "Amara", "Kenji",
    "Ingrid", "Omar", "Chloe", "Tomas", "Priya",
];
/// Family names the bulk seeder cycles through.
pub(super) const LAST_NAMES: [&str; 16] = [
    "Smith",
    "Garcia",
    "Nguyen",
    "Müller",
    "Kowalski",
    "Okafor",
    "Tanaka",
    "Rossi",
    "Dubois",
    "Silva",
    "Johansson",
    "Haddad",
    "Patel",
    "Kim",
    "O'Brien",
    "Novak",
];
/// Departments the bulk seeder cycles through.
pub(super) const DEPARTMENTS: [&str; 6] =
    ["R&D", "Sales", "Support", "Finance", "People", "Operations"];

/// The five hand-written users of [`Store::seeded`](super::Store::seeded).
pub(super) fn users() -> Vec<User> {
    struct Person {
        id: u64,
        login: &'static str,
        first: &'static str,
        middle: Option<&'static str>,
        last: &'static str,
        title: &'static str,
        status: Status,
        locale: &'static str,
        timezone: &'static str,
        site: &'static str,
        mobile: Option<&'static str>,
        phone: Option<&'static str>,
        department: &'static str,
        cost_center: Option<&'static str>,
        division: Option<&'static str>,
        external_ref: Option<&'static str>,
        manager_id: Option<u64>,
        created: Timestamp,
        updated: Timestamp,
    }

    let people = [
        Person {
            id: 1001,
            login: "alice@example.com",
            first: "Alice",
            middle: None,
            last: "Archer",
            title: "Engineer",
            status: Status::Enabled,
            locale: "en-US",
            timezone: "Europe/Paris",
            site: "Paris",
            mobile: Some("+15550100001"),
            phone: None,
            department: "R&D",
            cost_center: None,
            division: None,
            external_ref: None,
            manager_id: None,
            created: Timestamp::from_civil(2024, 5, 1, 9, 0, 0),
            updated: Timestamp::from_civil(2024, 5, 1, 9, 0, 0),
        },
        Person {
            id: 1002,
            login: "bob@example.com",
            first: "Bob",
            middle: None,
            last: "Brennan",
            title: "Senior Engineer",
            status: Status::Enabled,
            locale: "en-GB",
            timezone: "Europe/London",
            site: "London",
            mobile: Some("+447700900123"),
            phone: Some("+442079460018"),
            department: "R&D",
            cost_center: Some("CC-4100"),
            division: Some("Product"),
            external_ref: Some("HRIS-000412"),
            manager_id: Some(1001),
            created: Timestamp::from_civil(2024, 5, 2, 10, 15, 0),
            updated: Timestamp::from_civil(2024, 9, 12, 14, 2, 37),
        },
        Person {
            id: 1003,
            login: "carol@example.com",
            first: "Carol",
            middle: Some("Maria"),
            last: "Diaz",
            title: "Account Executive",
            status: Status::Enabled,
            locale: "en-US",
            timezone: "America/New_York",
            site: "New York",
            mobile: Some("+15550100003"),
            phone: None,
            department: "Sales",
            cost_center: Some("CC-2200"),
            division: Some("Commercial"),
            external_ref: None,
            manager_id: None,
            created: Timestamp::from_civil(2024, 5, 3, 13, 45, 10),
            updated: Timestamp::from_civil(2024, 5, 3, 13, 45, 10),
        },
        Person {
            id: 1004,
            login: "dmitri@example.com",
            first: "Dmitri",
            middle: None,
            last: "Volkov",
            title: "Support Specialist",
            status: Status::Disabled,
            locale: "de-DE",
            timezone: "Europe/Berlin",
            site: "Berlin",
            mobile: None,
            phone: Some("+493012345678"),
            department: "Customer Success",
            cost_center: Some("CC-3300"),
            division: None,
            external_ref: None,
            manager_id: None,
            created: Timestamp::from_civil(2024, 6, 10, 8, 30, 0),
            updated: Timestamp::from_civil(2025, 1, 31, 17, 0, 0),
        },
        Person {
            id: 1005,
            login: "eunji@example.com",
            first: "Eun-ji",
            middle: None,
            last: "Park",
            title: "People Partner",
            status: Status::Enabled,
            locale: "ko-KR",
            timezone: "Asia/Seoul",
            site: "Seoul",
            mobile: Some("+821012345678"),
            phone: None,
            department: "People",
            cost_center: None,
            division: None,
            external_ref: None,
            manager_id: None,
            created: Timestamp::from_civil(2024, 7, 22, 1, 5, 0),
            updated: Timestamp::from_civil(2024, 7, 22, 1, 5, 0),
        },
    ];

    people
        .into_iter()
        .map(|p| {
            let mut user = User::blank(p.id, p.login.to_owned(), p.created);
            user.updated_at = p.updated;
            user.external_ref = p.external_ref.map(str::to_owned);
            user.first_name = Some(p.first.to_owned());
            user.middle_name = p.middle.map(str::to_owned);
            user.last_name = Some(p.last.to_owned());
            user.display_name = Some(format!("{} {}", p.first, p.last));
            user.title = Some(p.title.to_owned());
            user.status = Some(p.status);
            user.locale = Some(p.locale.to_owned());
            user.timezone = Some(p.timezone.to_owned());
            user.site = Some(p.site.to_owned());
            user.contact = Contact {
                email: Some(p.login.to_owned()),
                email_primary: true,
                mobile: p.mobile.map(str::to_owned),
                phone: p.phone.map(str::to_owned),
            };
            user.org = Org {
                department: Some(p.department.to_owned()),
                cost_center: p.cost_center.map(str::to_owned),
                organization: None,
                division: p.division.map(str::to_owned),
                employee_no: Some(format!("E-{}", p.id)),
                manager_id: p.manager_id,
            };
            user
        })
        .collect()
}
