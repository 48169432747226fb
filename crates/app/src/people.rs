//! Customers and prospects: one kind of record in two stages. The rules here:
//! what can be seen by whom, how contact changes reset consent, optimistic
//! concurrency, conversion.

use std::collections::HashMap;

use fieldcrm_db::accounts::Account;
use fieldcrm_db::consent::{self, ConsentEvent};
use fieldcrm_db::people::{self, After, Filter, Person};
use fieldcrm_db::{DbConnection, Id, Stored, Ts};
use fieldcrm_domain::{
    Action, Address, Channel, ConsentChange, ConsentSource, ConsentStatus, Email, PersonName,
    Phone, Stage, Tag,
};

use crate::audit::{self, Audited};
use crate::caller::Caller;
use crate::error::AppError;
use crate::events::{self, Actor, Change, Event};
use crate::feed;
use crate::preconditions::{self, IfMatch};
use crate::state::AppState;
use crate::tx::Tx;

/// The event type of `what` (`created`, `updated`, `deleted`) happening to a
/// person of `stage`.
fn event_type(stage: Stage, what: &str) -> &'static str {
    match (stage, what) {
        (Stage::Customer, "created") => "customer.created",
        (Stage::Customer, "updated") => "customer.updated",
        (Stage::Customer, _) => "customer.deleted",
        (Stage::Prospect, "created") => "prospect.created",
        (Stage::Prospect, "updated") => "prospect.updated",
        (Stage::Prospect, _) => "prospect.deleted",
    }
}

/// A person with their tags.
#[derive(Debug, Clone)]
pub struct Record {
    pub person: Person,
    pub tags: Vec<String>,
}

/// Everything about a new person, checked.
pub struct NewPerson {
    pub name: PersonName,
    pub company: Option<String>,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
    pub address: Option<Address>,
    pub notes: Option<String>,
    pub tags: Vec<Tag>,
}

/// Changes: `None` leaves a field; `Some(None)` clears it.
#[derive(Default)]
pub struct PersonPatch {
    pub name: Option<PersonName>,
    pub company: Option<Option<String>>,
    pub email: Option<Option<Email>>,
    pub phone: Option<Option<Phone>>,
    pub address: Option<Option<Address>>,
    pub notes: Option<Option<String>>,
    pub tags: Option<Vec<Tag>>,
}

/// 403 unless the caller may create and change people. Checked before the body
/// is looked at, so a caller without the right learns nothing from 422s.
pub fn authorize_changes(caller: &Caller) -> Result<(), AppError> {
    caller.require(Action::ManageCustomers)
}

/// Which people of the account a caller may read.
enum Visible {
    All,
    /// Technicians: the people of appointments assigned to them.
    OfAppointmentsOf(Id<fieldcrm_db::users::User>),
}

impl Visible {
    fn assigned_to(&self) -> Option<Id<fieldcrm_db::users::User>> {
        match self {
            Visible::All => None,
            Visible::OfAppointmentsOf(user) => Some(*user),
        }
    }
}

/// 404 unless the caller may see this person.
fn check_visible(
    conn: &mut DbConnection,
    visible: &Visible,
    person: &Person,
) -> Result<(), AppError> {
    if let Some(user) = visible.assigned_to() {
        if !people::is_assigned_to(conn, person.id, user)? {
            return Err(AppError::not_found());
        }
    }
    Ok(())
}

fn visible(caller: &Caller) -> Result<Visible, AppError> {
    caller.require(Action::ViewCustomers)?;
    Ok(match caller.user() {
        Some((id, fieldcrm_domain::Role::Technician)) => Visible::OfAppointmentsOf(id),
        _ => Visible::All,
    })
}

/// Keeps the derived columns (sort key, search text) in step with the fields.
fn derive(person: &mut Person) {
    person.sort_name = person.name.to_lowercase();
    let mut parts = vec![person.name.to_lowercase()];
    parts.extend(person.company.as_deref().map(str::to_lowercase));
    parts.extend(person.email.clone());
    if let Some(phone) = &person.phone {
        parts.push(phone.clone());
        parts.push(phone.chars().filter(char::is_ascii_digit).collect());
    }
    person.search_text = parts.join("\n");
}

fn load(
    conn: &mut DbConnection,
    account: Id<Account>,
    stage: Stage,
    id: Id<Person>,
) -> Result<Person, AppError> {
    people::find(conn, account, id)?
        .filter(|p| p.stage == stage)
        .ok_or_else(AppError::not_found)
}

fn with_tags(conn: &mut DbConnection, person: Person) -> Result<Record, AppError> {
    let tags = people::tags_of(conn, person.account_id, &[person.id])?
        .into_iter()
        .map(|(_, tag)| tag)
        .collect();
    Ok(Record { person, tags })
}

/// Creates a person, with its tags in the same transaction.
pub fn create_in(
    tx: &mut Tx<'_>,
    caller: &Caller,
    stage: Stage,
    input: NewPerson,
) -> Result<Record, AppError> {
    caller.require(Action::ManageCustomers)?;
    let now = Ts::now();
    let mut person = Person {
        id: Id::new(),
        account_id: caller.account_id,
        stage: Stored(stage),
        name: input.name.into_inner(),
        sort_name: String::new(),
        company: input.company,
        email: input.email.map(Email::into_inner),
        phone: input.phone.map(Phone::into_inner),
        address: input.address.as_ref().into(),
        notes: input.notes,
        search_text: String::new(),
        // New people have consented to nothing.
        sms_consent: None,
        email_consent: None,
        version: 1,
        converted_at: None,
        created_at: now,
        updated_at: now,
    };
    derive(&mut person);
    let tags: Vec<String> = input.tags.iter().map(|t| t.as_str().to_owned()).collect();
    let created = Change::of(event_type(stage, "created"), person.id).about(Some(person.id));
    // A create without tags is one statement on PostgreSQL, with its event
    // and the deliveries the account's webhook endpoints want: one round trip
    // instead of six or more.
    if tags.is_empty() && matches!(&**tx, DbConnection::Pg(_)) {
        let event = feed::event_of(caller.account_id, Actor::of(caller), created);
        let delivery = feed::delivery_of(tx, &event);
        if let DbConnection::Pg(pg) = &mut **tx {
            people::insert_with_event_and_deliveries(pg, &person, &event, &delivery)?;
        }
        return Ok(Record { person, tags });
    }
    tx.write_transaction(|tx| {
        people::insert(tx, &person)?;
        if !tags.is_empty() {
            people::add_tags(tx, caller.account_id, person.id, &tags)?;
        }
        feed::record(tx, caller.account_id, Actor::of(caller), created)?;
        Ok::<_, AppError>(())
    })?;
    Ok(Record { person, tags })
}

/// Creates a person on its own: a creation with no `Idempotency-Key` to keep
/// beside it (the web's forms).
pub async fn create(
    state: &AppState,
    caller: &Caller,
    stage: Stage,
    input: NewPerson,
) -> Result<Record, AppError> {
    let caller = caller.clone();
    state
        .db(move |conn| create_in(conn, &caller, stage, input))
        .await
}

/// The person with their tags, whichever their stage.
pub fn record_of(
    conn: &mut DbConnection,
    account: Id<Account>,
    id: Id<Person>,
) -> Result<Option<Record>, AppError> {
    Ok(people::find_with_tags(conn, account, id)?.map(|(person, tags)| Record { person, tags }))
}

pub async fn get(
    state: &AppState,
    caller: &Caller,
    stage: Stage,
    id: Id<Person>,
) -> Result<Record, AppError> {
    let visible = visible(caller)?;
    let account = caller.account_id;
    state
        .db(move |conn| {
            let (person, tags) = people::find_with_tags(conn, account, id)?
                .filter(|(p, _)| p.stage == stage)
                .ok_or_else(AppError::not_found)?;
            check_visible(conn, &visible, &person)?;
            Ok(Record { person, tags })
        })
        .await
}

pub struct ListRequest {
    pub search: Option<String>,
    pub tag: Option<Tag>,
    pub updated_since: Option<Ts>,
    pub after: After,
    pub limit: i64,
}

/// Up to `limit` rows (the caller asks one more to learn if a next page exists).
pub async fn list(
    state: &AppState,
    caller: &Caller,
    stage: Stage,
    request: ListRequest,
) -> Result<Vec<Record>, AppError> {
    let visible = visible(caller)?;
    let search = request
        .search
        .map(|q| q.trim().to_lowercase())
        .filter(|q| !q.is_empty());
    // "(512) 555-0123" should find +15125550123: also look for its digits.
    let search_digits = search.as_ref().and_then(|q| {
        let digits: String = q.chars().filter(char::is_ascii_digit).collect();
        let phone_like = q
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c));
        (phone_like && digits.len() >= 3 && digits != *q).then_some(digits)
    });
    let filter = Filter {
        account: caller.account_id,
        stage,
        search,
        search_digits,
        tag: request.tag.map(|t| t.as_str().to_owned()),
        updated_since: request.updated_since,
        assigned_to: visible.assigned_to(),
        after: request.after,
        limit: request.limit,
    };
    state
        .db(move |conn| {
            let rows = people::list(conn, &filter)?;
            let ids: Vec<_> = rows.iter().map(|p| p.id).collect();
            let mut tags_by_person: HashMap<Id<Person>, Vec<String>> = HashMap::new();
            for (id, tag) in people::tags_of(conn, filter.account, &ids)? {
                tags_by_person.entry(id).or_default().push(tag);
            }
            let records = rows
                .into_iter()
                .map(|person| {
                    let tags = tags_by_person.remove(&person.id).unwrap_or_default();
                    Record { person, tags }
                })
                .collect();
            Ok(records)
        })
        .await
}

/// Applies `patch`. A new phone number or email address resets consent on that
/// channel: consent was given for the old one.
pub async fn update(
    state: &AppState,
    caller: &Caller,
    stage: Stage,
    id: Id<Person>,
    if_match: IfMatch,
    patch: PersonPatch,
) -> Result<Record, AppError> {
    caller.require(Action::ManageCustomers)?;
    let caller = caller.clone();
    state
        .db(move |conn| {
            conn.write_transaction(|conn| {
                let mut person = load(conn, caller.account_id, stage, id)?;
                if_match.check(person.version)?;
                let before = person.clone();
                if let Some(name) = patch.name {
                    person.name = name.into_inner();
                }
                if let Some(company) = patch.company {
                    person.company = company;
                }
                if let Some(email) = patch.email {
                    person.email = email.map(Email::into_inner);
                }
                if let Some(phone) = patch.phone {
                    person.phone = phone.map(Phone::into_inner);
                }
                if let Some(address) = patch.address {
                    person.address = address.as_ref().into();
                }
                if let Some(notes) = patch.notes {
                    person.notes = notes;
                }
                let now = Ts::now();
                let by = caller.actor();
                let actor = Actor::of(&caller);
                if person.phone != before.phone {
                    reset_consent(conn, &mut person, Channel::Sms, &by, actor, now)?;
                }
                if person.email != before.email {
                    reset_consent(conn, &mut person, Channel::Email, &by, actor, now)?;
                }
                save(conn, &mut person, before.version, now)?;
                let mut tags_changed = false;
                if let Some(tags) = patch.tags {
                    let tags: Vec<String> = tags.iter().map(|t| t.as_str().to_owned()).collect();
                    let old = people::tags_of(conn, caller.account_id, &[id])?;
                    let mut old: Vec<String> = old.into_iter().map(|(_, t)| t).collect();
                    let mut new = tags.clone();
                    old.sort();
                    new.sort();
                    tags_changed = old != new;
                    people::set_tags(conn, caller.account_id, id, &tags)?;
                }
                let changed = events::changed_fields(&[
                    ("name", person.name != before.name),
                    ("company", person.company != before.company),
                    ("email", person.email != before.email),
                    ("phone", person.phone != before.phone),
                    ("address", person.address != before.address),
                    ("notes", person.notes != before.notes),
                    ("tags", tags_changed),
                ]);
                feed::record(
                    conn,
                    caller.account_id,
                    actor,
                    Change::updated(event_type(stage, "updated"), id, &changed).about(Some(id)),
                )?;
                with_tags(conn, person)
            })
        })
        .await
}

fn reset_consent(
    tx: &mut Tx<'_>,
    person: &mut Person,
    channel: Channel,
    by: &str,
    actor: Actor,
    now: Ts,
) -> Result<(), AppError> {
    let current = match channel {
        Channel::Sms => &mut person.sms_consent,
        Channel::Email => &mut person.email_consent,
    };
    if current.take().is_some() {
        consent::record(
            tx,
            &ConsentEvent {
                id: Id::new(),
                account_id: person.account_id,
                person_id: person.id,
                channel: Stored(channel),
                status: Stored(ConsentChange::Reset),
                source: Stored(ConsentSource::ContactChanged),
                recorded_by: by.to_owned(),
                recorded_at: now,
            },
        )?;
        publish_consent(
            tx,
            person,
            channel,
            ConsentChange::Reset,
            ConsentSource::ContactChanged,
            actor,
        )?;
    }
    Ok(())
}

fn publish_consent(
    tx: &mut Tx<'_>,
    person: &Person,
    channel: Channel,
    status: ConsentChange,
    source: ConsentSource,
    actor: Actor,
) -> Result<(), AppError> {
    feed::record(
        tx,
        person.account_id,
        actor,
        Change::new(
            "consent.changed",
            serde_json::json!({
                "customer_id": person.id.uuid(),
                "stage": person.stage,
                "channel": channel.as_str(),
                "status": status.as_str(),
                "source": source.as_str(),
            }),
        )
        .about(Some(person.id)),
    )?;
    Ok(())
}

/// Writes a changed person with the next version; 412 if someone else wrote
/// it since it was read.
fn save(
    conn: &mut DbConnection,
    person: &mut Person,
    read_version: i32,
    now: Ts,
) -> Result<(), AppError> {
    derive(person);
    person.version = read_version + 1;
    person.updated_at = now;
    if !people::save(conn, person, read_version)? {
        return Err(preconditions::stale(None));
    }
    Ok(())
}

/// Erases the person and everything about them (tags, consent history, and by
/// cascade whatever later refers to them).
pub async fn delete(
    state: &AppState,
    caller: &Caller,
    stage: Stage,
    id: Id<Person>,
    if_match: IfMatch,
) -> Result<(), AppError> {
    erase(state, caller, stage, id, if_match, None).await
}

/// The same erasure, once the person erasing typed the name of whom they erase
/// (a 422 on `confirm` otherwise, nothing erased). The name is compared in the
/// transaction that erases, so it is the name of the record that goes.
pub async fn delete_confirmed(
    state: &AppState,
    caller: &Caller,
    stage: Stage,
    id: Id<Person>,
    confirm: String,
) -> Result<(), AppError> {
    erase(state, caller, stage, id, IfMatch::Absent, Some(confirm)).await
}

async fn erase(
    state: &AppState,
    caller: &Caller,
    stage: Stage,
    id: Id<Person>,
    if_match: IfMatch,
    confirm: Option<String>,
) -> Result<(), AppError> {
    caller.require(Action::ManageCustomers)?;
    let account = caller.account_id;
    let caller = caller.clone();
    state
        .db(move |conn| {
            conn.write_transaction(|conn| {
                let person = load(conn, account, stage, id)?;
                if_match.check(person.version)?;
                if confirm.is_some_and(|typed| typed.trim() != person.name.as_str()) {
                    return Err(AppError::invalid_field(
                        "confirm",
                        "must be the name exactly as it is shown; nothing was erased",
                    ));
                }
                conn.publish(Event::PersonErasing {
                    account,
                    person: id,
                })?;
                people::delete(conn, account, id)?;
                // Not from the event: only this context knows the stage.
                feed::record(
                    conn,
                    account,
                    Actor::of(&caller),
                    Change::of(event_type(stage, "deleted"), id),
                )?;
                audit::record(
                    conn,
                    &caller,
                    Audited::PersonErased,
                    Some(id.uuid()),
                    Some(stage.as_str().to_owned()),
                )?;
                Ok(())
            })
        })
        .await
}

/// A prospect becomes a customer: same id and history.
pub async fn convert(
    state: &AppState,
    caller: &Caller,
    id: Id<Person>,
    if_match: IfMatch,
) -> Result<Record, AppError> {
    caller.require(Action::ManageCustomers)?;
    let account = caller.account_id;
    let actor = Actor::of(caller);
    state
        .db(move |conn| {
            conn.write_transaction(|conn| {
                let mut person =
                    people::find(conn, account, id)?.ok_or_else(AppError::not_found)?;
                if person.stage == Stage::Customer {
                    return Err(AppError::conflict("this person is a customer already"));
                }
                if_match.check(person.version)?;
                let now = Ts::now();
                let read_version = person.version;
                person.stage = Stored(Stage::Customer);
                person.converted_at = Some(now);
                save(conn, &mut person, read_version, now)?;
                feed::record(
                    conn,
                    account,
                    actor,
                    Change::of("prospect.converted", id).about(Some(id)),
                )?;
                with_tags(conn, person)
            })
        })
        .await
}

pub async fn consent_history(
    state: &AppState,
    caller: &Caller,
    stage: Stage,
    id: Id<Person>,
) -> Result<(Person, Vec<ConsentEvent>), AppError> {
    let visible = visible(caller)?;
    let account = caller.account_id;
    state
        .db(move |conn| {
            let person = load(conn, account, stage, id)?;
            check_visible(conn, &visible, &person)?;
            let history = consent::history(conn, account, id)?;
            Ok((person, history))
        })
        .await
}

/// Makes `status` the person's current consent on `channel` and appends it to
/// the history. Also used by the service itself (STOP replies, unsubscribe
/// links, carrier opt-outs).
pub fn apply_consent(
    tx: &mut Tx<'_>,
    person: &mut Person,
    channel: Channel,
    status: ConsentStatus,
    source: ConsentSource,
    by: String,
    actor: Actor,
) -> Result<ConsentEvent, AppError> {
    let current = match channel {
        Channel::Sms => &mut person.sms_consent,
        Channel::Email => &mut person.email_consent,
    };
    *current = Some(Stored(status));
    let now = Ts::now();
    let event = ConsentEvent {
        id: Id::new(),
        account_id: person.account_id,
        person_id: person.id,
        channel: Stored(channel),
        status: Stored(status.into()),
        source: Stored(source),
        recorded_by: by,
        recorded_at: now,
    };
    consent::record(tx, &event)?;
    let read_version = person.version;
    save(tx, person, read_version, now)?;
    publish_consent(tx, person, channel, status.into(), source, actor)?;
    Ok(event)
}

/// Records a consent decision and makes it the current one for the channel.
pub async fn record_consent(
    state: &AppState,
    caller: &Caller,
    stage: Stage,
    id: Id<Person>,
    channel: Channel,
    status: ConsentStatus,
    source: ConsentSource,
) -> Result<(Person, ConsentEvent), AppError> {
    caller.require(Action::ManageCustomers)?;
    let caller = caller.clone();
    state
        .db(move |conn| {
            conn.write_transaction(|conn| {
                let mut person = load(conn, caller.account_id, stage, id)?;
                let contact = match channel {
                    Channel::Sms => person.phone.is_some(),
                    Channel::Email => person.email.is_some(),
                };
                if !contact && status == ConsentStatus::OptedIn {
                    let field = match channel {
                        Channel::Sms => "a phone number",
                        Channel::Email => "an email address",
                    };
                    return Err(AppError::invalid_field(
                        "channel",
                        format!("the person has no {field} to consent for"),
                    ));
                }
                let event = apply_consent(
                    conn,
                    &mut person,
                    channel,
                    status,
                    source,
                    caller.actor(),
                    Actor::of(&caller),
                )?;
                Ok((person, event))
            })
        })
        .await
}

#[cfg(test)]
mod tests {
    use fieldcrm_domain::{Channel, ConsentSource, ConsentStatus, CountryCode, Email, Phone};

    use super::{delete_confirmed, get, record_consent, update, PersonPatch, Stage};
    use crate::error::Failure;
    use crate::preconditions::IfMatch;
    use crate::testing::World;

    #[tokio::test]
    async fn a_new_phone_or_email_asks_for_consent_again_and_only_for_its_channel() {
        let world = World::new(|_| {}).await;
        let anna = world.customer("Anna", "+4915112345678", "anna@example.com");
        for channel in [Channel::Sms, Channel::Email] {
            record_consent(
                &world.state,
                &world.owner,
                Stage::Customer,
                anna.id,
                channel,
                ConsentStatus::OptedIn,
                ConsentSource::Form,
            )
            .await
            .unwrap();
        }
        let patch_of = |phone: Option<&str>, email: Option<&str>| PersonPatch {
            phone: phone.map(|p| Some(Phone::parse(p, CountryCode::parse("DE").unwrap()).unwrap())),
            email: email.map(|e| Some(Email::parse(e).unwrap())),
            ..PersonPatch::default()
        };
        let update_with = |patch| {
            update(
                &world.state,
                &world.owner,
                Stage::Customer,
                anna.id,
                IfMatch::Absent,
                patch,
            )
        };

        // The same number written another way is the same number.
        let same = update_with(patch_of(Some("0151 12345678"), None))
            .await
            .unwrap();
        assert_eq!(
            same.person.sms_consent.map(|c| c.0),
            Some(ConsentStatus::OptedIn)
        );

        let new_phone = update_with(patch_of(Some("+4915199999999"), None))
            .await
            .unwrap();
        assert_eq!(
            new_phone.person.sms_consent, None,
            "a new number has not agreed"
        );
        assert_eq!(
            new_phone.person.email_consent.map(|c| c.0),
            Some(ConsentStatus::OptedIn)
        );

        let new_email = update_with(patch_of(None, Some("anna@new.example")))
            .await
            .unwrap();
        assert_eq!(new_email.person.email_consent, None);
    }

    #[tokio::test]
    async fn erasing_with_a_typed_name_needs_the_name_of_whom_is_erased() {
        let world = World::new(|_| {}).await;
        let anna = world.customer("Anna Berg", "+4915112345678", "anna@example.com");
        let erase = |typed: &str| {
            delete_confirmed(
                &world.state,
                &world.owner,
                Stage::Customer,
                anna.id,
                typed.to_owned(),
            )
        };
        let refused = erase("Anna").await.unwrap_err();
        assert!(
            matches!(&refused.failure, Failure::Invalid { field, .. } if field == "confirm"),
            "{refused:?}"
        );
        assert!(get(&world.state, &world.owner, Stage::Customer, anna.id)
            .await
            .is_ok());
        erase("Anna Berg").await.unwrap();
        assert!(get(&world.state, &world.owner, Stage::Customer, anna.id)
            .await
            .is_err());
    }
}
