use diesel::prelude::*;

use crate::accounts::Account;
use crate::connection::{DbConnection, MultiBackend};
use crate::schema::refresh_tokens;
use crate::users::User;
use crate::{DbResult, Id, Ts};

/// Marks the id of a login session: the family of refresh tokens one login starts.
pub enum Session {}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = refresh_tokens, check_for_backend(MultiBackend), treat_none_as_default_value = false)]
pub struct RefreshToken {
    pub id: Id<RefreshToken>,
    pub account_id: Id<Account>,
    pub user_id: Id<User>,
    pub family_id: Id<Session>,
    /// SHA-256 of the token; the token itself is never stored.
    pub token_hash: Vec<u8>,
    pub created_at: Ts,
    pub expires_at: Ts,
    pub spent_at: Option<Ts>,
    pub revoked_at: Option<Ts>,
}

pub fn insert(conn: &mut DbConnection, token: &RefreshToken) -> DbResult<()> {
    diesel::insert_into(refresh_tokens::table)
        .values(token)
        .execute(conn)?;
    Ok(())
}

pub fn find_by_hash(conn: &mut DbConnection, hash: &[u8]) -> DbResult<Option<RefreshToken>> {
    Ok(refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(hash))
        .select(RefreshToken::as_select())
        .first(conn)
        .optional()?)
}

/// Marks the token spent if nobody has spent or revoked it yet. `false` means
/// another request got there first: a second use of the same token.
pub fn spend(conn: &mut DbConnection, id: Id<RefreshToken>, now: Ts) -> DbResult<bool> {
    let updated = diesel::update(
        refresh_tokens::table
            .find(id)
            .filter(refresh_tokens::spent_at.is_null())
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::spent_at.eq(now))
    .execute(conn)?;
    Ok(updated == 1)
}

/// Revokes every token of a session; returns how many were still live.
pub fn revoke_session(
    conn: &mut DbConnection,
    user: Id<User>,
    session: Id<Session>,
    now: Ts,
) -> DbResult<usize> {
    Ok(diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::user_id.eq(user))
            .filter(refresh_tokens::family_id.eq(session))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(now))
    .execute(conn)?)
}

/// Revokes every session of a user (password change, removal of access).
pub fn revoke_all_for_user(conn: &mut DbConnection, user: Id<User>, now: Ts) -> DbResult<usize> {
    Ok(diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::user_id.eq(user))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(now))
    .execute(conn)?)
}
