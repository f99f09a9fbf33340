//! How each dialect stores the values the decoders read (see the module above).

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::Row;
use uuid::Uuid;

use crate::domain::model::Timestamp;

/// A row, read column by column in the domain's terms.
pub(crate) trait SqlRow {
    fn uuid(&self, col: &str) -> Result<Uuid, sqlx::Error>;
    fn time(&self, col: &str) -> Result<Timestamp, sqlx::Error>;
    fn opt_time(&self, col: &str) -> Result<Option<Timestamp>, sqlx::Error>;
    fn text(&self, col: &str) -> Result<String, sqlx::Error>;
    fn opt_text(&self, col: &str) -> Result<Option<String>, sqlx::Error>;
    fn int(&self, col: &str) -> Result<i64, sqlx::Error>;
    fn opt_int(&self, col: &str) -> Result<Option<i64>, sqlx::Error>;
    fn flag(&self, col: &str) -> Result<bool, sqlx::Error>;
}

/// A time as SQLite stores it: microseconds since the epoch.
pub(crate) fn micros(t: Timestamp) -> i64 {
    t.timestamp_micros()
}

pub(crate) fn from_micros(v: i64) -> Result<Timestamp, sqlx::Error> {
    DateTime::<Utc>::from_timestamp_micros(v)
        .ok_or_else(|| sqlx::Error::Decode(format!("timestamp out of range: {v}").into()))
}

/// The `SqlRow` methods for columns the dialect stores as the value itself.
macro_rules! stored_as_is {
    ($($method:ident: $ty:ty),* $(,)?) => {
        $(
            fn $method(&self, col: &str) -> Result<$ty, sqlx::Error> {
                self.try_get(col)
            }
        )*
    };
}

impl SqlRow for SqliteRow {
    stored_as_is!(text: String, opt_text: Option<String>, int: i64, opt_int: Option<i64>);

    fn uuid(&self, col: &str) -> Result<Uuid, sqlx::Error> {
        let s: String = self.try_get(col)?;
        Uuid::parse_str(&s).map_err(|e| sqlx::Error::Decode(Box::new(e)))
    }
    fn time(&self, col: &str) -> Result<Timestamp, sqlx::Error> {
        from_micros(self.try_get(col)?)
    }
    fn opt_time(&self, col: &str) -> Result<Option<Timestamp>, sqlx::Error> {
        self.try_get::<Option<i64>, _>(col)?
            .map(from_micros)
            .transpose()
    }
    fn flag(&self, col: &str) -> Result<bool, sqlx::Error> {
        Ok(self.try_get::<i64, _>(col)? != 0)
    }
}

impl SqlRow for PgRow {
    stored_as_is!(
        text: String,
        opt_text: Option<String>,
        int: i64,
        opt_int: Option<i64>,
        uuid: Uuid,
        time: Timestamp,
        opt_time: Option<Timestamp>,
        flag: bool,
    );
}

/// An id as a statement parameter: UUID text on SQLite, UUID on PostgreSQL.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DbId(pub Uuid);

/// A time as a statement parameter: microseconds on SQLite, TIMESTAMPTZ on PostgreSQL.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DbTime(pub Timestamp);

mod encode {
    use chrono::{DateTime, Utc};
    use sqlx::encode::{Encode, IsNull};
    use sqlx::error::BoxDynError;
    use sqlx::postgres::Postgres;
    use sqlx::sqlite::Sqlite;
    use sqlx::{Database, Type};
    use uuid::Uuid;

    use super::{micros, DbId, DbTime};

    /// `$ty` is bound on `$db` as the `$stored` that `$conv` makes of it.
    macro_rules! binds_as {
        ($ty:ty, $db:ty, $stored:ty, |$v:ident| $conv:expr) => {
            impl Type<$db> for $ty {
                fn type_info() -> <$db as Database>::TypeInfo {
                    <$stored as Type<$db>>::type_info()
                }
            }
            impl<'q> Encode<'q, $db> for $ty {
                fn encode_by_ref(
                    &self,
                    buf: &mut <$db as Database>::ArgumentBuffer<'q>,
                ) -> Result<IsNull, BoxDynError> {
                    let $v = self;
                    <$stored as Encode<'q, $db>>::encode($conv, buf)
                }
            }
        };
    }

    binds_as!(DbId, Sqlite, String, |v| v.0.to_string());
    binds_as!(DbId, Postgres, Uuid, |v| v.0);
    binds_as!(DbTime, Sqlite, i64, |v| micros(v.0));
    binds_as!(DbTime, Postgres, DateTime<Utc>, |v| v.0);
}
