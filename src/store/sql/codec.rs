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

impl SqlRow for SqliteRow {
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
    fn text(&self, col: &str) -> Result<String, sqlx::Error> {
        self.try_get(col)
    }
    fn opt_text(&self, col: &str) -> Result<Option<String>, sqlx::Error> {
        self.try_get(col)
    }
    fn int(&self, col: &str) -> Result<i64, sqlx::Error> {
        self.try_get(col)
    }
    fn opt_int(&self, col: &str) -> Result<Option<i64>, sqlx::Error> {
        self.try_get(col)
    }
    fn flag(&self, col: &str) -> Result<bool, sqlx::Error> {
        Ok(self.try_get::<i64, _>(col)? != 0)
    }
}

impl SqlRow for PgRow {
    fn uuid(&self, col: &str) -> Result<Uuid, sqlx::Error> {
        self.try_get(col)
    }
    fn time(&self, col: &str) -> Result<Timestamp, sqlx::Error> {
        self.try_get(col)
    }
    fn opt_time(&self, col: &str) -> Result<Option<Timestamp>, sqlx::Error> {
        self.try_get(col)
    }
    fn text(&self, col: &str) -> Result<String, sqlx::Error> {
        self.try_get(col)
    }
    fn opt_text(&self, col: &str) -> Result<Option<String>, sqlx::Error> {
        self.try_get(col)
    }
    fn int(&self, col: &str) -> Result<i64, sqlx::Error> {
        self.try_get(col)
    }
    fn opt_int(&self, col: &str) -> Result<Option<i64>, sqlx::Error> {
        self.try_get(col)
    }
    fn flag(&self, col: &str) -> Result<bool, sqlx::Error> {
        self.try_get(col)
    }
}

/// An id as a statement parameter: UUID text on SQLite, UUID on PostgreSQL.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DbId(pub Uuid);

/// A time as a statement parameter: microseconds on SQLite, TIMESTAMPTZ on PostgreSQL.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DbTime(pub Timestamp);

mod encode {
    use sqlx::encode::{Encode, IsNull};
    use sqlx::error::BoxDynError;
    use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, Postgres};
    use sqlx::sqlite::{Sqlite, SqliteArgumentValue, SqliteTypeInfo};
    use sqlx::Type;

    use super::{micros, DbId, DbTime};

    impl Type<Sqlite> for DbId {
        fn type_info() -> SqliteTypeInfo {
            <String as Type<Sqlite>>::type_info()
        }
    }
    impl<'q> Encode<'q, Sqlite> for DbId {
        fn encode_by_ref(
            &self,
            buf: &mut Vec<SqliteArgumentValue<'q>>,
        ) -> Result<IsNull, BoxDynError> {
            <String as Encode<'q, Sqlite>>::encode(self.0.to_string(), buf)
        }
    }
    impl Type<Postgres> for DbId {
        fn type_info() -> PgTypeInfo {
            <uuid::Uuid as Type<Postgres>>::type_info()
        }
    }
    impl Encode<'_, Postgres> for DbId {
        fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
            <uuid::Uuid as Encode<'_, Postgres>>::encode_by_ref(&self.0, buf)
        }
    }

    impl Type<Sqlite> for DbTime {
        fn type_info() -> SqliteTypeInfo {
            <i64 as Type<Sqlite>>::type_info()
        }
    }
    impl<'q> Encode<'q, Sqlite> for DbTime {
        fn encode_by_ref(
            &self,
            buf: &mut Vec<SqliteArgumentValue<'q>>,
        ) -> Result<IsNull, BoxDynError> {
            <i64 as Encode<'q, Sqlite>>::encode(micros(self.0), buf)
        }
    }
    impl Type<Postgres> for DbTime {
        fn type_info() -> PgTypeInfo {
            <chrono::DateTime<chrono::Utc> as Type<Postgres>>::type_info()
        }
    }
    impl Encode<'_, Postgres> for DbTime {
        fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
            <chrono::DateTime<chrono::Utc> as Encode<'_, Postgres>>::encode_by_ref(&self.0, buf)
        }
    }
}
