use diesel::prelude::*;

use crate::accounts::Account;
use crate::connection::{DbConnection, MultiBackend};
use crate::refresh_tokens::Session;
use crate::schema::{accounts, refresh_tokens, users};
use fieldcrm_domain::{CountryCode, Role};

use crate::types::Stored;
use crate::{DbResult, Id, Ts};

#[derive(serde::Serialize, Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = users, check_for_backend(MultiBackend), treat_none_as_default_value = false)]
pub struct User {
    pub id: Id<User>,
    pub account_id: Id<Account>,
    pub name: String,
    /// Lower-cased; unique across the service.
    pub email: String,
    /// An argon2id PHC string; `None` until the person sets a password.
    /// Never exported.
    #[serde(skip)]
    pub password_hash: Option<String>,
    pub role: Stored<Role>,
    #[serde(skip)]
    pub token_version: i32,
    pub created_at: Ts,
    pub updated_at: Ts,
}

/// Fields to change; `None` leaves a field as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = users)]
pub struct UserChanges {
    pub name: Option<String>,
    pub email: Option<String>,
    pub password_hash: Option<Option<String>>,
    pub role: Option<Stored<Role>>,
    pub updated_at: Option<Ts>,
}

/// Whether a unique violation was on the email address.
pub fn is_email_taken(err: &crate::DbError) -> bool {
    matches!(err, crate::DbError::UniqueViolation { target } if target.contains("email"))
}

pub fn insert(conn: &mut DbConnection, user: &User) -> DbResult<()> {
    diesel::insert_into(users::table)
        .values(user)
        .execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut DbConnection, account: Id<Account>, id: Id<User>) -> DbResult<Option<User>> {
    Ok(users::table
        .filter(users::account_id.eq(account))
        .find(id)
        .select(User::as_select())
        .first(conn)
        .optional()?)
}

/// Names of these users of the account, by id.
pub fn names_of(
    conn: &mut DbConnection,
    account: Id<Account>,
    ids: &[Id<User>],
) -> DbResult<Vec<(Id<User>, String)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(users::table
        .filter(users::account_id.eq(account))
        .filter(users::id.eq_any(ids))
        .select((users::id, users::name))
        .load(conn)?)
}

pub fn find_by_email(conn: &mut DbConnection, email: &str) -> DbResult<Option<User>> {
    Ok(users::table
        .filter(users::email.eq(email))
        .select(User::as_select())
        .first(conn)
        .optional()?)
}

/// Role and token version of a user who still exists in the account, and
/// whether the token's session was ended (signed out, or revoked when a spent
/// refresh token came back): what every authenticated request checks, one
/// primary-key lookup and one index probe.
pub fn session(
    conn: &mut DbConnection,
    account: Id<Account>,
    id: Id<User>,
    session: Id<Session>,
) -> DbResult<Option<(SessionCheck, bool)>> {
    let ended = diesel::dsl::exists(
        refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(session))
            .filter(refresh_tokens::revoked_at.is_not_null()),
    );
    Ok(users::table
        .inner_join(accounts::table)
        .filter(users::account_id.eq(account))
        .filter(users::id.eq(id))
        .select((
            (users::role, users::token_version, accounts::default_country),
            ended,
        ))
        .first(conn)
        .optional()?)
}

/// What every authenticated request needs to know about its user, read in the
/// same query as the check that the user still exists.
#[derive(Debug, Clone, Queryable)]
pub struct SessionCheck {
    pub role: Stored<Role>,
    pub token_version: i32,
    /// The account's, for reading phone numbers given without a country code.
    pub default_country: Stored<CountryCode>,
}

/// Users of the account in id (creation) order, after the cursor.
pub fn list(
    conn: &mut DbConnection,
    account: Id<Account>,
    after: Option<Id<User>>,
    limit: i64,
) -> DbResult<Vec<User>> {
    let mut query = users::table
        .filter(users::account_id.eq(account))
        .select(User::as_select())
        .order(users::id)
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(users::id.gt(after));
    }
    Ok(query.load(conn)?)
}

/// The account's owners, locked until the transaction ends (PostgreSQL), so
/// that two requests that each take an owner away cannot both see another
/// one left: the second waits and then sees the first's change. On SQLite the
/// write transaction already holds the database's one write lock.
pub fn lock_owners(conn: &mut DbConnection, account: Id<Account>) -> DbResult<Vec<Id<User>>> {
    let owners = users::table
        .filter(users::account_id.eq(account))
        .filter(users::role.eq("owner"))
        .select(users::id)
        .order(users::id);
    Ok(match conn {
        DbConnection::Pg(pg) => owners.for_update().load(pg)?,
        DbConnection::Sqlite(sqlite) => owners.load(sqlite)?,
    })
}

pub fn update(
    conn: &mut DbConnection,
    account: Id<Account>,
    id: Id<User>,
    changes: &UserChanges,
) -> DbResult<Option<User>> {
    let updated = diesel::update(users::table.filter(users::account_id.eq(account)).find(id))
        .set(changes)
        .execute(conn)?;
    if updated == 0 {
        return Ok(None);
    }
    find(conn, account, id)
}

/// Replaces the user's password hash with another of the same password, unless
/// it is no longer `old` (the password changed meanwhile). Sessions stay: the
/// password did not change.
pub fn renew_password_hash(
    conn: &mut DbConnection,
    id: Id<User>,
    old: &str,
    new: &str,
) -> DbResult<()> {
    diesel::update(users::table.find(id).filter(users::password_hash.eq(old)))
        .set(users::password_hash.eq(new))
        .execute(conn)?;
    Ok(())
}

/// Ends every access token the user holds.
pub fn bump_token_version(conn: &mut DbConnection, id: Id<User>) -> DbResult<()> {
    diesel::update(users::table.find(id))
        .set(users::token_version.eq(users::token_version + 1))
        .execute(conn)?;
    Ok(())
}

pub fn delete(conn: &mut DbConnection, account: Id<Account>, id: Id<User>) -> DbResult<bool> {
    let deleted = diesel::delete(users::table.filter(users::account_id.eq(account)).find(id))
        .execute(conn)?;
    Ok(deleted > 0)
}
