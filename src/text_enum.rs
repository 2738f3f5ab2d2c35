//! States and kinds stored and shown as fixed text: each is an enum, so a
//! typo is a compile error and a `match` over it is exhaustive, while the
//! database keeps the very same text (no migration) and JSON carries it
//! as a string.

/// Text that names none of an enum's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a {kind}")]
pub struct UnknownText {
    pub kind: &'static str,
    pub text: String,
}

/// Defines an enum whose values are written as the given text: `as_str`,
/// `FromStr`, `Display`, serde as a string, and sqlx as `TEXT` on every
/// backend.
///
/// ```text
/// text_enum! {
///     /// Where a number stands.
///     pub enum NumberStatus { Live = "live", Disconnected = "disconnected" }
/// }
/// ```
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$variant_meta:meta])* $variant:ident = $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$variant_meta])* $variant ),+
        }

        impl $name {
            /// Every value, in declaration order.
            #[allow(dead_code)]
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }

            /// The value as an SQL string literal, for conditions a partial
            /// index must see at planning time (a bound parameter hides
            /// it from SQLite's planner and from Postgres' generic plans).
            #[allow(dead_code)]
            pub const fn sql(self) -> &'static str {
                match self {
                    $(Self::$variant => concat!("'", $text, "'")),+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::text_enum::UnknownText;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                match text {
                    $($text => Ok(Self::$variant),)+
                    _ => Err($crate::text_enum::UnknownText {
                        kind: stringify!($name),
                        text: text.to_string(),
                    }),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }

        impl<DB: sqlx::Database> sqlx::Type<DB> for $name
        where
            String: sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <String as sqlx::Type<DB>>::type_info()
            }

            fn compatible(ty: &DB::TypeInfo) -> bool {
                <String as sqlx::Type<DB>>::compatible(ty)
            }
        }

        impl<'q, DB: sqlx::Database> sqlx::Encode<'q, DB> for $name
        where
            &'q str: sqlx::Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as sqlx::Database>::ArgumentBuffer<'q>,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                let text: &'q str = self.as_str();
                <&'q str as sqlx::Encode<'q, DB>>::encode_by_ref(&text, buf)
            }
        }

        impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for $name
        where
            &'r str: sqlx::Decode<'r, DB>,
        {
            fn decode(
                value: <DB as sqlx::Database>::ValueRef<'r>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                let text = <&'r str as sqlx::Decode<'r, DB>>::decode(value)?;
                Ok(text.parse::<Self>()?)
            }
        }
    };
}
pub(crate) use text_enum;

#[cfg(test)]
mod tests {
    text_enum! {
        enum Light { Red = "red", Amber = "amber", Green = "green" }
    }

    #[test]
    fn each_value_reads_back_from_its_text() {
        for light in Light::ALL {
            assert_eq!(light.as_str().parse::<Light>(), Ok(*light));
            let json = serde_json::to_string(light).unwrap();
            assert_eq!(serde_json::from_str::<Light>(&json).unwrap(), *light);
        }
        assert_eq!(Light::Amber.to_string(), "amber");
        assert_eq!(Light::Amber.sql(), "'amber'");
    }

    #[test]
    fn unknown_text_is_an_error_that_names_the_kind() {
        let error = "blue".parse::<Light>().unwrap_err();
        assert_eq!(error.to_string(), "`blue` is not a Light");
        assert!(
            serde_json::from_str::<Light>("\"Red\"").is_err(),
            "case matters"
        );
    }

    #[tokio::test]
    async fn sqlite_stores_the_text_and_reads_the_value() {
        let pool = sqlx::SqlitePool::connect("sqlite::memory:").await.unwrap();
        let (stored, read): (String, Light) = sqlx::query_as("SELECT $1, $1")
            .bind(Light::Green)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!((stored.as_str(), read), ("green", Light::Green));
        let unknown = sqlx::query_scalar::<_, Light>("SELECT 'blue'")
            .fetch_one(&pool)
            .await;
        assert!(
            unknown.is_err(),
            "an unknown value is an error, not a panic"
        );
    }
}
