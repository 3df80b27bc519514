//! Unit tests of the write helpers that need no backend.

use super::id_in_location;

#[test]
fn the_id_of_a_location_is_its_last_segment_decoded() {
    for (location, id) in [
        ("/api/users/1006", Some("1006")),
        ("http://dir.example:8080/api/users/1006", Some("1006")),
        ("/api/users/1006/", Some("1006")),
        ("/api/users/1006?fields=id#top", Some("1006")),
        ("https://dir.example/users/a%20b%2Fc", Some("a b/c")),
        ("", None),
        ("/", None),
        ("/users/%FF", None),
    ] {
        assert_eq!(id_in_location(location).as_deref(), id, "{location}");
    }
}
