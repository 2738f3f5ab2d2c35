//! The WhatsApp business profile's text fields and their limits.

/// Meta's business categories (`vertical`).
pub const VERTICALS: [&str; 23] = [
    "UNDEFINED",
    "OTHER",
    "AUTO",
    "BEAUTY",
    "APPAREL",
    "EDU",
    "ENTERTAIN",
    "EVENT_PLAN",
    "FINANCE",
    "GROCERY",
    "GOVT",
    "HOTEL",
    "HEALTH",
    "NONPROFIT",
    "PROF_SERVICES",
    "RETAIL",
    "TRAVEL",
    "RESTAURANT",
    "ALCOHOL",
    "ONLINE_GAMBLING",
    "PHYSICAL_GAMBLING",
    "OTC_DRUGS",
    "NOT_A_BIZ",
];

pub const ABOUT_MAX: usize = 139;
pub const ADDRESS_MAX: usize = 256;
pub const DESCRIPTION_MAX: usize = 512;
pub const EMAIL_MAX: usize = 128;
pub const WEBSITES_MAX: usize = 2;
pub const WEBSITE_MAX: usize = 256;

/// The fields a business edits; empty text means "not set".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileFields {
    pub about: String,
    pub address: String,
    pub description: String,
    pub email: String,
    pub websites: Vec<String>,
    pub vertical: String,
}

/// The field names, as Meta spells them.
pub const FIELDS: [&str; 6] = [
    "about",
    "address",
    "description",
    "email",
    "websites",
    "vertical",
];

fn too_long(text: &str, max: usize) -> bool {
    text.chars().count() > max
}

/// A rough but strict check: one `@`, something before it, a dotted
/// domain after it, no spaces.
pub fn is_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(char::is_whitespace)
}

/// `http(s)://host...` with a host and no spaces.
pub fn is_web_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(rest) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            !host.is_empty() && !url.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

/// Every problem, as (field, message), in field order. Empty: valid.
pub fn check(fields: &ProfileFields) -> Vec<(&'static str, String)> {
    let mut problems = Vec::new();
    if fields.about.trim().is_empty() {
        problems.push((
            "about",
            "Write a short “about” text (Meta requires one).".to_string(),
        ));
    } else if too_long(&fields.about, ABOUT_MAX) {
        problems.push(("about", format!("At most {ABOUT_MAX} characters.")));
    }
    if too_long(&fields.address, ADDRESS_MAX) {
        problems.push(("address", format!("At most {ADDRESS_MAX} characters.")));
    }
    if too_long(&fields.description, DESCRIPTION_MAX) {
        problems.push((
            "description",
            format!("At most {DESCRIPTION_MAX} characters."),
        ));
    }
    if too_long(&fields.email, EMAIL_MAX) {
        problems.push(("email", format!("At most {EMAIL_MAX} characters.")));
    } else if !fields.email.is_empty() && !is_email(&fields.email) {
        problems.push(("email", "This is not a valid email address.".to_string()));
    }
    if fields.websites.len() > WEBSITES_MAX {
        problems.push(("websites", format!("At most {WEBSITES_MAX} websites.")));
    } else if let Some(bad) = fields
        .websites
        .iter()
        .find(|w| too_long(w, WEBSITE_MAX) || !is_web_url(w))
    {
        problems.push((
            "websites",
            format!("“{bad}” is not an http(s) address of at most {WEBSITE_MAX} characters."),
        ));
    }
    if !fields.vertical.is_empty() && !VERTICALS.contains(&fields.vertical.as_str()) {
        problems.push(("vertical", "Choose a category from the list.".to_string()));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> ProfileFields {
        ProfileFields {
            about: "Fresh bread every morning.".into(),
            address: "1 Baker Street".into(),
            description: "A family bakery.".into(),
            email: "hello@bakery.example".into(),
            websites: vec!["https://bakery.example".into()],
            vertical: "RESTAURANT".into(),
        }
    }

    #[test]
    fn a_valid_profile_has_no_problems() {
        assert!(check(&valid()).is_empty());
        // Limits count characters, not bytes.
        let about = ProfileFields {
            about: "é".repeat(ABOUT_MAX),
            ..valid()
        };
        assert!(check(&about).is_empty());
    }

    #[test]
    fn each_limit_names_its_field() {
        let cases: Vec<(ProfileFields, &str)> = vec![
            (
                ProfileFields {
                    about: "a".repeat(ABOUT_MAX + 1),
                    ..valid()
                },
                "about",
            ),
            (
                ProfileFields {
                    about: " ".into(),
                    ..valid()
                },
                "about",
            ),
            (
                ProfileFields {
                    address: "a".repeat(ADDRESS_MAX + 1),
                    ..valid()
                },
                "address",
            ),
            (
                ProfileFields {
                    description: "a".repeat(DESCRIPTION_MAX + 1),
                    ..valid()
                },
                "description",
            ),
            (
                ProfileFields {
                    email: "not-an-email".into(),
                    ..valid()
                },
                "email",
            ),
            (
                ProfileFields {
                    email: format!("{}@x.example", "a".repeat(EMAIL_MAX)),
                    ..valid()
                },
                "email",
            ),
            (
                ProfileFields {
                    websites: vec!["https://a.example".into(); 3],
                    ..valid()
                },
                "websites",
            ),
            (
                ProfileFields {
                    websites: vec!["ftp://a.example".into()],
                    ..valid()
                },
                "websites",
            ),
            (
                ProfileFields {
                    websites: vec![format!("https://a.example/{}", "a".repeat(WEBSITE_MAX))],
                    ..valid()
                },
                "websites",
            ),
            (
                ProfileFields {
                    vertical: "BAKERY".into(),
                    ..valid()
                },
                "vertical",
            ),
        ];
        for (fields, field) in cases {
            let problems = check(&fields);
            assert_eq!(problems.len(), 1, "{field}: {problems:?}");
            assert_eq!(problems[0].0, field);
        }
    }

    #[test]
    fn emails_and_urls() {
        assert!(is_email("a@b.co"));
        for bad in ["a@b", "@b.co", "a b@c.co", "a@@b.co", "a@.co"] {
            assert!(!is_email(bad), "{bad}");
        }
        assert!(is_web_url("http://x.example/path?q=1"));
        for bad in [
            "x.example",
            "https://",
            "javascript:alert(1)",
            "https://a b.example",
        ] {
            assert!(!is_web_url(bad), "{bad}");
        }
    }
}
