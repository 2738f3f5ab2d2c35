//! The ids Switchboard passes around, each its own type, so that a
//! workspace id cannot be handed where a phone number id is expected.
//! Transparent to serde and sqlx: stored and sent as the same text.

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize, sqlx::Type,
        )]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        /// Reads as text where text is wanted (SQL binds, JSON, logs).
        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(id.to_string())
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl From<&String> for $name {
            fn from(id: &String) -> Self {
                Self(id.clone())
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                self == &other.0
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

id_type!(
    /// A workspace (tenant) of this installation.
    WorkspaceId
);
id_type!(
    /// Meta's id of a WhatsApp business phone number.
    PhoneNumberId
);
id_type!(
    /// Meta's id of a WhatsApp Business Account.
    WabaId
);
id_type!(
    /// A customer of a workspace as Switchboard knows them (`ct_…`): one
    /// person, whatever ids Meta has shown for them.
    ContactId
);

impl ContactId {
    pub const PREFIX: &'static str = "ct_";

    /// A new, random id.
    pub fn generate() -> Self {
        Self(format!("{}{}", Self::PREFIX, uuid::Uuid::new_v4().simple()))
    }

    /// `ct_` and 32 lowercase hex digits, as [`ContactId::generate`] and the
    /// migration make them.
    pub fn parse(text: &str) -> Option<Self> {
        let hex = text.strip_prefix(Self::PREFIX)?;
        let valid = hex.len() == 32
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        valid.then(|| Self::new(text))
    }
}

id_type!(
    /// Where a BSUID means one person: `portfolio:<business id>`, or
    /// `waba:<id>` for a number whose portfolio onboarding did not learn.
    ContactScope
);

impl ContactScope {
    pub fn of(portfolio_id: Option<&str>, waba_id: &str) -> Self {
        match portfolio_id {
            Some(portfolio) => Self(format!("portfolio:{portfolio}")),
            None => Self(format!("waba:{waba_id}")),
        }
    }
}

id_type!(
    /// Meta's id of one message (`wamid.…`).
    Wamid
);

id_type!(
    /// A WhatsApp user's business-scoped user id (`user_id`, like
    /// `US.13491208655302741918`; a parent BSUID has `ENT.` after the
    /// country). Read from Meta with [`Bsuid::parse`].
    Bsuid
);

impl Bsuid {
    /// Meta's shape (reference meta-2026 §1.1): two capital letters, a dot,
    /// an optional `ENT.`, then 1 to 128 letters or digits. Stored verbatim.
    pub fn parse(text: &str) -> Option<Self> {
        let (country, rest) = text.split_once('.')?;
        let rest = rest.strip_prefix("ENT.").unwrap_or(rest);
        let valid = country.len() == 2
            && country.bytes().all(|b| b.is_ascii_uppercase())
            && (1..=128).contains(&rest.len())
            && rest.bytes().all(|b| b.is_ascii_alphanumeric());
        valid.then(|| Self::new(text))
    }

    /// A parent BSUID, shared by the portfolios of one parent account.
    pub fn is_parent(&self) -> bool {
        self.as_str().get(2..7) == Some(".ENT.")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_travel_as_plain_text() {
        let phone = PhoneNumberId::new("106540352242922");
        assert_eq!(
            serde_json::to_string(&phone).unwrap(),
            "\"106540352242922\""
        );
        let back: PhoneNumberId = serde_json::from_str("\"106540352242922\"").unwrap();
        assert_eq!(back, phone);
        assert_eq!(phone, "106540352242922");
        assert_eq!(phone.to_string(), "106540352242922");
    }

    #[tokio::test]
    async fn ids_bind_and_decode_as_text() {
        let pool = sqlx::SqlitePool::connect("sqlite::memory:").await.unwrap();
        let (text, back): (String, WabaId) = sqlx::query_as("SELECT $1, $1")
            .bind(WabaId::new("102290129340398"))
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(
            (text.as_str(), back.as_str()),
            ("102290129340398", "102290129340398")
        );
    }

    #[test]
    fn bsuids_are_read_in_metas_shape_only() {
        let user = Bsuid::parse("US.13491208655302741918").unwrap();
        assert!(!user.is_parent());
        assert!(Bsuid::parse("US.ENT.11815799212886844830")
            .unwrap()
            .is_parent());
        assert!(Bsuid::parse("BR.abcXYZ09").is_some(), "not only digits");
        let too_long = format!("US.{}", "1".repeat(129));
        for bad in [
            "16505551234",
            "us.123",
            "USA.123",
            "US.",
            "US.12-34",
            "",
            "US",
            too_long.as_str(),
        ] {
            assert_eq!(Bsuid::parse(bad), None, "{bad}");
        }
    }
}
