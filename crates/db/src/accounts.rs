use diesel::prelude::*;

use crate::connection::{DbConnection, MultiBackend};
use crate::schema::accounts;
use crate::{DbResult, Id, Ts};

/// A tenant: one business and everything it holds.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = accounts, check_for_backend(MultiBackend))]
pub struct Account {
    pub id: Id<Account>,
    pub name: String,
    /// IANA time zone name, e.g. `America/Chicago`.
    pub time_zone: String,
    /// ISO 3166-1 alpha-2 country used for phone numbers given without a country code.
    pub default_country: String,
    pub created_at: Ts,
    pub updated_at: Ts,
}

pub fn insert(conn: &mut DbConnection, account: &Account) -> DbResult<()> {
    diesel::insert_into(accounts::table)
        .values(account)
        .execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut DbConnection, id: Id<Account>) -> DbResult<Option<Account>> {
    Ok(accounts::table
        .find(id)
        .select(Account::as_select())
        .first(conn)
        .optional()?)
}
