//! PostgreSQL's side of [`super::conn`]: values converted to and from the column types the
//! migrations in `migrations/postgres/` use (BIGINT for every integer, including 0/1 flags;
//! TEXT; BYTEA; DOUBLE PRECISION), and a pool manager that reconnects.
//!
//! Values travel as rusqlite's [`Value`] (the type stores bind and read with), so a store's
//! code is the same on both engines; the conversion to PostgreSQL's wire format is decided by
//! the type the server reports for each parameter and column.

use std::error::Error;

use ::postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use ::postgres::{Client, NoTls};
use bytes::BytesMut;
use rusqlite::types::Value;

use super::sql_error::{SqlError, SqlResult};

/// One bound value, written as whatever type PostgreSQL expects at its place.
#[derive(Debug)]
pub struct PgParam<'v>(&'v Value);

impl<'v> PgParam<'v> {
    pub fn all(values: &'v [Value]) -> Vec<PgParam<'v>> {
        values.iter().map(PgParam).collect()
    }

    pub fn refs<'p>(params: &'p [PgParam<'v>]) -> Vec<&'p (dyn ToSql + Sync)> {
        params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
    }
}

type BoxError = Box<dyn Error + Sync + Send>;

impl ToSql for PgParam<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        match (self.0, ty) {
            (Value::Null, _) => Ok(IsNull::Yes),
            (Value::Integer(i), &Type::INT8) => i.to_sql(ty, out),
            (Value::Integer(i), &Type::INT4) => i32::try_from(*i)?.to_sql(ty, out),
            (Value::Integer(i), &Type::INT2) => i16::try_from(*i)?.to_sql(ty, out),
            (Value::Integer(i), &Type::BOOL) => (*i != 0).to_sql(ty, out),
            (Value::Integer(i), &Type::FLOAT8) => (*i as f64).to_sql(ty, out),
            (Value::Integer(i), &Type::TEXT | &Type::VARCHAR) => i.to_string().to_sql(ty, out),
            (Value::Real(f), &Type::FLOAT8) => f.to_sql(ty, out),
            (Value::Real(f), &Type::FLOAT4) => (*f as f32).to_sql(ty, out),
            (Value::Text(s), &Type::TEXT | &Type::VARCHAR | &Type::NAME | &Type::UNKNOWN) => {
                s.as_str().to_sql(ty, out)
            }
            (Value::Blob(b), &Type::BYTEA) => b.as_slice().to_sql(ty, out),
            (value, ty) => Err(format!(
                "cannot bind a {} where PostgreSQL expects {ty} (cast the parameter in the SQL)",
                kind(value)
            )
            .into()),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "NULL",
        Value::Integer(_) => "integer",
        Value::Real(_) => "real",
        Value::Text(_) => "text",
        Value::Blob(_) => "blob",
    }
}

/// Column `index` of `row` as the value SQLite would have given.
pub fn column_value(row: &::postgres::Row, index: usize) -> SqlResult<Value> {
    let conversion = |message: String| SqlError::Conversion { column: index, message };
    let column = row.columns().get(index).ok_or_else(|| conversion("no such column".into()))?;
    let ty = column.type_().clone();
    let read = |e: ::postgres::Error| conversion(e.to_string());
    let value = match ty {
        Type::INT8 => row.try_get::<_, Option<i64>>(index).map_err(read)?.map(Value::Integer),
        Type::INT4 => {
            row.try_get::<_, Option<i32>>(index).map_err(read)?.map(|i| Value::Integer(i.into()))
        }
        Type::INT2 => {
            row.try_get::<_, Option<i16>>(index).map_err(read)?.map(|i| Value::Integer(i.into()))
        }
        Type::BOOL => {
            row.try_get::<_, Option<bool>>(index).map_err(read)?.map(|b| Value::Integer(b.into()))
        }
        Type::FLOAT8 => row.try_get::<_, Option<f64>>(index).map_err(read)?.map(Value::Real),
        Type::FLOAT4 => {
            row.try_get::<_, Option<f32>>(index).map_err(read)?.map(|f| Value::Real(f.into()))
        }
        Type::TEXT | Type::VARCHAR | Type::NAME | Type::BPCHAR => {
            row.try_get::<_, Option<String>>(index).map_err(read)?.map(Value::Text)
        }
        Type::BYTEA => row.try_get::<_, Option<Vec<u8>>>(index).map_err(read)?.map(Value::Blob),
        other => {
            return Err(conversion(format!(
                "PostgreSQL type {other} has no SQLite equivalent (cast it in the SQL: a sum() \
                 is NUMERIC, cast it to BIGINT)"
            )));
        }
    };
    Ok(value.unwrap_or(Value::Null))
}

/// Opens PostgreSQL connections for the pool. A connection that broke (the server restarted,
/// or a failover moved the address to a replica) is found on check-out and replaced, so a
/// node recovers without a restart.
#[derive(Debug, Clone)]
pub struct PostgresManager {
    config: ::postgres::Config,
}

impl PostgresManager {
    pub fn new(url: &str) -> Result<Self, ::postgres::Error> {
        let mut config: ::postgres::Config = url.parse()?;
        config.application_name("gatehouse");
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(std::time::Duration::from_secs(5));
        }
        Ok(Self { config })
    }
}

impl r2d2::ManageConnection for PostgresManager {
    type Connection = PgClient;
    type Error = ::postgres::Error;

    fn connect(&self) -> Result<PgClient, Self::Error> {
        Ok(PgClient(Some(self.config.connect(NoTls)?)))
    }

    fn is_valid(&self, client: &mut PgClient) -> Result<(), Self::Error> {
        client.simple_query("").map(|_| ())
    }

    fn has_broken(&self, client: &mut PgClient) -> bool {
        client.is_closed()
    }
}

/// A client that may be dropped anywhere. The synchronous client closes its connection on a
/// runtime of its own, which panics on a thread that drives async tasks; the last handle on
/// a pool (a node stopping, a test server dropped) can be on one. So it is closed on a thread
/// of its own, which a pool's few long-lived connections can afford.
pub struct PgClient(Option<Client>);

impl std::ops::Deref for PgClient {
    type Target = Client;
    fn deref(&self) -> &Client {
        self.0.as_ref().expect("a client until dropped")
    }
}

impl std::ops::DerefMut for PgClient {
    fn deref_mut(&mut self) -> &mut Client {
        self.0.as_mut().expect("a client until dropped")
    }
}

impl Drop for PgClient {
    fn drop(&mut self) {
        if let Some(client) = self.0.take() {
            let _ = std::thread::Builder::new().name("db-close".into()).spawn(move || drop(client));
        }
    }
}
