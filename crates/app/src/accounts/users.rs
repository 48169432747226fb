//! People of an account. Owners are protected: only an owner makes, changes or
//! removes an owner, and an account always keeps at least one.

use fieldcrm_db::accounts::Account;
use fieldcrm_db::users::{self, User, UserChanges};
use fieldcrm_db::{api_keys, refresh_tokens};
use fieldcrm_db::{DbConnection, Id, Stored, Ts};
use fieldcrm_domain::{Action, Email, Password, PersonName, Role};

use super::auth::{count_now, counted_now, email_conflict, email_taken, rate_limited};
use crate::audit::{self, Audited};
use crate::caller::Caller;
use crate::error::AppError;
use crate::events::{self, Actor, Change, Event};
use crate::feed;
use crate::paging::PageRequest;
use crate::state::AppState;
use crate::tx::Tx;

pub struct NewUser {
    pub name: PersonName,
    pub email: Email,
    pub role: Role,
    pub password: Option<Password>,
}

#[derive(Default)]
pub struct UserPatch {
    pub name: Option<PersonName>,
    pub email: Option<Email>,
    pub role: Option<Role>,
    pub password: Option<Password>,
}

fn only_owners_touch_owners(caller: &Caller, involves_owner: bool) -> Result<(), AppError> {
    let caller_is_owner = caller.user().is_some_and(|(_, role)| role == Role::Owner);
    if involves_owner && !caller_is_owner {
        return Err(AppError::forbidden(
            "only an owner may make, change or remove an owner",
        ));
    }
    Ok(())
}

/// 403 unless the caller may manage users: checked before the body is read.
pub fn authorize(caller: &Caller) -> Result<(), AppError> {
    caller.require(Action::ManageUsers)
}

/// A new user whose password (if any) is already hashed.
pub struct PreparedUser {
    name: PersonName,
    email: Email,
    role: Role,
    password_hash: Option<String>,
}

/// Answers that an email address belongs to a user of another account are
/// counted per account in windows of this length.
const TAKEN_EMAIL_WINDOW_SECS: i64 = 3600;

/// Refuses `email` for a new or changed user (other than `except`) when it
/// belongs to a user of another account: 409, counted against the caller's
/// account. An account that was told that `taken_emails_per_account` times in
/// the hour gets 429 for every new user and email change until the hour ends,
/// whether the address is taken or not, so it cannot go on learning which
/// addresses other accounts use. Addresses of its own users it may see anyway;
/// the insert refuses those (and keeps a retry with an `Idempotency-Key` working).
async fn check_email_elsewhere(
    state: &AppState,
    caller: &Caller,
    email: &Email,
    except: Option<Id<User>>,
) -> Result<(), AppError> {
    let account = caller.account_id;
    let key = state
        .tokens
        .throttle_key("taken-email", &account.to_string());
    let limit = state.settings.taken_emails_per_account as i32;
    let email = email.as_str().to_owned();
    state
        .db(move |conn| {
            let (told, retry_after) = counted_now(conn, &key, TAKEN_EMAIL_WINDOW_SECS)?;
            if told >= limit {
                return Err(rate_limited("Too many taken email addresses", retry_after));
            }
            match users::find_by_email(conn, &email)? {
                Some(other) if other.account_id != account && Some(other.id) != except => {
                    count_now(conn, &key, TAKEN_EMAIL_WINDOW_SECS)?;
                    Err(email_conflict())
                }
                _ => Ok(()),
            }
        })
        .await
}

/// Checks the caller may add this user and hashes the password (slow, so
/// outside any transaction).
pub async fn prepare(
    state: &AppState,
    caller: &Caller,
    input: NewUser,
) -> Result<PreparedUser, AppError> {
    caller.require(Action::ManageUsers)?;
    only_owners_touch_owners(caller, input.role == Role::Owner)?;
    check_email_elsewhere(state, caller, &input.email, None).await?;
    let password_hash = match input.password {
        Some(password) => Some(super::hash_password(state, password).await?),
        None => None,
    };
    Ok(PreparedUser {
        name: input.name,
        email: input.email,
        role: input.role,
        password_hash,
    })
}

/// Adds a user in one call, for callers without an idempotency key (the web
/// pages): [`prepare`], then [`create_by`].
pub async fn create(state: &AppState, caller: &Caller, input: NewUser) -> Result<User, AppError> {
    let prepared = prepare(state, caller, input).await?;
    let caller = caller.clone();
    state.db(move |tx| create_by(tx, &caller, prepared)).await
}

/// Creates a user for the caller and records it in the audit trail, in one
/// transaction.
pub fn create_by(tx: &mut Tx<'_>, caller: &Caller, input: PreparedUser) -> Result<User, AppError> {
    tx.write_transaction(|tx| {
        let user = create_in(tx, caller.account_id, input)?;
        audit::record(
            tx,
            caller,
            Audited::UserCreated,
            Some(user.id.uuid()),
            Some(user.role.as_str().to_owned()),
        )?;
        feed::record(
            tx,
            caller.account_id,
            Actor::of(caller),
            Change::of("user.created", user.id),
        )?;
        Ok(user)
    })
}

pub fn create_in(
    conn: &mut DbConnection,
    account: Id<fieldcrm_db::accounts::Account>,
    input: PreparedUser,
) -> Result<User, AppError> {
    let now = Ts::now();
    let user = User {
        id: Id::new(),
        account_id: account,
        name: input.name.into_inner(),
        email: input.email.into_inner(),
        password_hash: input.password_hash,
        role: Stored(input.role),
        token_version: 0,
        created_at: now,
        updated_at: now,
    };
    users::insert(conn, &user).map_err(email_taken)?;
    Ok(user)
}

pub async fn list(
    state: &AppState,
    caller: &Caller,
    page: PageRequest,
) -> Result<Vec<User>, AppError> {
    caller.require(Action::ManageUsers)?;
    let account = caller.account_id;
    state
        .db(move |conn| Ok(users::list(conn, account, page.after(), page.fetch())?))
        .await
}

pub async fn get(state: &AppState, caller: &Caller, id: Id<User>) -> Result<User, AppError> {
    caller.require(Action::ManageUsers)?;
    let account = caller.account_id;
    state
        .db(move |conn| find_in(conn, account, id)?.ok_or_else(AppError::not_found))
        .await
}

pub fn find_in(
    conn: &mut DbConnection,
    account: Id<Account>,
    id: Id<User>,
) -> Result<Option<User>, AppError> {
    Ok(users::find(conn, account, id)?)
}

pub async fn update(
    state: &AppState,
    caller: &Caller,
    id: Id<User>,
    patch: UserPatch,
) -> Result<User, AppError> {
    caller.require(Action::ManageUsers)?;
    if let Some(email) = &patch.email {
        check_email_elsewhere(state, caller, email, Some(id)).await?;
    }
    let password_hash = match patch.password {
        Some(password) => Some(super::hash_password(state, password).await?),
        None => None,
    };
    let caller = caller.clone();
    let updated = state
        .db(move |conn| {
            conn.write_transaction(|conn| {
                let owners = users::lock_owners(conn, caller.account_id)?;
                let target =
                    users::find(conn, caller.account_id, id)?.ok_or_else(AppError::not_found)?;
                let role_after = match patch.role {
                    Some(role) => role,
                    None => *target.role,
                };
                guard_owners(&owners, &caller, &target, Some(role_after))?;
                if role_after != *target.role && !Action::ManageApiKeys.allows_role(role_after) {
                    revoke_keys_made_by(conn, &caller, id, "creator's role changed")?;
                }
                let password_changed = password_hash.is_some();
                let changes = UserChanges {
                    name: patch.name.map(PersonName::into_inner),
                    email: patch.email.map(Email::into_inner),
                    password_hash: password_hash.map(Some),
                    role: patch.role.map(Stored),
                    updated_at: Some(Ts::now()),
                };
                let updated = users::update(conn, caller.account_id, id, &changes)
                    .map_err(email_taken)?
                    .ok_or_else(AppError::not_found)?;
                if updated.role != target.role {
                    audit::record(
                        conn,
                        &caller,
                        Audited::UserRoleChanged,
                        Some(id.uuid()),
                        Some(format!("{} -> {}", *target.role, *updated.role)),
                    )?;
                }
                let changed = events::changed_fields(&[
                    ("name", updated.name != target.name),
                    ("email", updated.email != target.email),
                    ("role", updated.role != target.role),
                    ("password", password_changed),
                ]);
                feed::record(
                    conn,
                    caller.account_id,
                    Actor::of(&caller),
                    Change::updated("user.updated", id, &changed),
                )?;
                if password_changed {
                    // A new password ends every session and access token of the user.
                    users::bump_token_version(conn, id)?;
                    refresh_tokens::revoke_all_for_user(conn, id, Ts::now())?;
                }
                Ok(updated)
            })
        })
        .await;
    // A new role or password must hold from this process's next request on.
    state.sessions.forget_user(id);
    updated
}

pub async fn delete(state: &AppState, caller: &Caller, id: Id<User>) -> Result<(), AppError> {
    caller.require(Action::ManageUsers)?;
    let caller = caller.clone();
    let deleted = state
        .db(move |conn| {
            conn.write_transaction(|conn| {
                let owners = users::lock_owners(conn, caller.account_id)?;
                let target =
                    users::find(conn, caller.account_id, id)?.ok_or_else(AppError::not_found)?;
                guard_owners(&owners, &caller, &target, None)?;
                revoke_keys_made_by(conn, &caller, id, "creator removed")?;
                conn.publish(Event::UserRemoving {
                    caller: &caller,
                    user: id,
                })?;
                // Their refresh tokens go with them (cascade); their access
                // tokens fail at the next request, which finds no such user
                // (every process's session cache drops them: `auth::sessions`).
                users::delete(conn, caller.account_id, id)?;
                audit::record(
                    conn,
                    &caller,
                    Audited::UserDeleted,
                    Some(id.uuid()),
                    Some(target.role.as_str().to_owned()),
                )?;
                Ok(())
            })
        })
        .await;
    state.sessions.forget_user(id);
    deleted
}

/// Changing `target` so its role becomes `role_after` (`None`: removed), with
/// the account's `owners` locked (`users::lock_owners`): 403 unless the caller
/// is an owner (now, not only when its token was read) when an owner is
/// involved, 409 if it would take the account's last owner away. Two owners
/// taking each other away at once: the second waits for the first's lock and
/// then sees one owner left.
fn guard_owners(
    owners: &[Id<User>],
    caller: &Caller,
    target: &User,
    role_after: Option<Role>,
) -> Result<(), AppError> {
    let is_owner = owners.contains(&target.id);
    let caller_is_owner = caller.user().is_some_and(|(id, _)| owners.contains(&id));
    if (is_owner || role_after == Some(Role::Owner)) && !caller_is_owner {
        return Err(AppError::forbidden(
            "only an owner may make, change or remove an owner",
        ));
    }
    let loses_owner = is_owner && role_after != Some(Role::Owner);
    if loses_owner && owners.len() <= 1 {
        return Err(AppError::conflict(
            "an account must keep at least one owner",
        ));
    }
    Ok(())
}

/// Revokes the API keys `user` made, in the caller's transaction, each kept in
/// the audit trail: a key must not outlive its maker's right to make it.
fn revoke_keys_made_by(
    conn: &mut DbConnection,
    caller: &Caller,
    user: Id<User>,
    why: &str,
) -> Result<(), AppError> {
    for key in api_keys::delete_created_by(conn, caller.account_id, user)? {
        audit::record(
            conn,
            caller,
            Audited::ApiKeyRevoked,
            Some(key.uuid()),
            Some(why.to_owned()),
        )?;
    }
    Ok(())
}
