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
    /// Meta's id of one message (`wamid.…`).
    Wamid
);

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
}
