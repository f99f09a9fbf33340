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
