//! Shared by the engine's integration suites.

pub mod endpoint;
pub mod live;
pub mod meta;

/// Generates `sqlite::name` and `postgres::name` tests from one async fn
/// taking a `TestBackend`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() { super::$name(switchboard::test_support::TestBackend::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test] async fn $name() { super::$name(switchboard::test_support::TestBackend::Postgres).await })*
        }
    };
}
