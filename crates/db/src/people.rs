//! Customers and prospects (one table; `stage` tells them apart), their tags.

use diesel::prelude::*;

use crate::accounts::Account;
use crate::connection::{DbConnection, MultiBackend};
use crate::events::Event;
use crate::jobs::Job;
use crate::schema::{people, person_tags};
use crate::types::sql::DbUuid;
use fieldcrm_domain::{ConsentStatus, Stage};

use crate::address::PersonAddress;
use crate::types::Stored;
use crate::{DbResult, Id, Ts};

#[derive(
    serde::Serialize, Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset,
)]
// `None` is NULL both in an update (`treat_none_as_null`) and in an insert
// (see the crate's note on `Insertable`).
#[diesel(
    table_name = people,
    check_for_backend(MultiBackend),
    treat_none_as_null = true,
    treat_none_as_default_value = false
)]
pub struct Person {
    pub id: Id<Person>,
    pub account_id: Id<Account>,
    /// `prospect` or `customer`.
    pub stage: Stored<Stage>,
    pub name: String,
    #[serde(skip)]
    pub sort_name: String,
    pub company: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// Flat in an export, as the columns are.
    #[diesel(embed)]
    #[serde(flatten)]
    pub address: PersonAddress,
    pub notes: Option<String>,
    #[serde(skip)]
    pub search_text: String,
    pub sms_consent: Option<Stored<ConsentStatus>>,
    pub email_consent: Option<Stored<ConsentStatus>>,
    pub version: i32,
    pub converted_at: Option<Ts>,
    pub created_at: Ts,
    pub updated_at: Ts,
}

/// The order of a list, and where the previous page ended.
#[derive(Debug, Clone, PartialEq)]
pub enum After {
    /// Creation order (ids are UUIDv7).
    Created(Option<Id<Person>>),
    /// By lower-cased name, then id.
    Name(Option<(String, Id<Person>)>),
    /// By last change, then id: for mobile sync.
    Updated(Option<(Ts, Id<Person>)>),
}

#[derive(Debug, Clone)]
pub struct Filter {
    pub account: Id<Account>,
    pub stage: Stage,
    /// Lower-cased text to find anywhere in name, company, email or phone.
    pub search: Option<String>,
    /// Digits to find in the phone number, when the search looks like one.
    pub search_digits: Option<String>,
    pub tag: Option<String>,
    pub updated_since: Option<Ts>,
    /// Only people with an appointment assigned to this user (technicians).
    pub assigned_to: Option<Id<crate::users::User>>,
    pub after: After,
    pub limit: i64,
}

pub fn insert(conn: &mut DbConnection, person: &Person) -> DbResult<()> {
    crate::natively!(conn, |c| diesel::insert_into(people::table)
        .values(person)
        .execute(c))?;
    Ok(())
}

pub fn find(
    conn: &mut DbConnection,
    account: Id<Account>,
    id: Id<Person>,
) -> DbResult<Option<Person>> {
    Ok(people::table
        .filter(people::account_id.eq(account))
        .find(id)
        .select(Person::as_select())
        .first(conn)
        .optional()?)
}

/// A person and their tags in sorted order, in one round trip: reading one
/// record is the API's most frequent request.
pub fn find_with_tags(
    conn: &mut DbConnection,
    account: Id<Account>,
    id: Id<Person>,
) -> DbResult<Option<(Person, Vec<String>)>> {
    let rows: Vec<(Person, Option<String>)> = crate::natively!(conn, |c| people::table
        .left_join(person_tags::table)
        .filter(people::account_id.eq(account))
        .filter(people::id.eq(id))
        .select((Person::as_select(), person_tags::tag.nullable()))
        .order(person_tags::tag)
        .load(c))?;
    let mut rows = rows.into_iter();
    Ok(rows.next().map(|(person, first)| {
        let tags = first
            .into_iter()
            .chain(rows.filter_map(|(_, tag)| tag))
            .collect();
        (person, tags)
    }))
}

/// A person's id, name and stage: enough to name them and link to their page.
pub type Named = (Id<Person>, String, Stored<Stage>);

/// Names and stages of these people of the account, by id.
pub fn names_of(
    conn: &mut DbConnection,
    account: Id<Account>,
    ids: &[Id<Person>],
) -> DbResult<Vec<Named>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(people::table
        .filter(people::account_id.eq(account))
        .filter(people::id.eq_any(ids))
        .select((people::id, people::name, people::stage))
        .load(conn)?)
}

/// For work done on no one's behalf (an unsubscribe link names only the person).
pub fn find_any(conn: &mut DbConnection, id: Id<Person>) -> DbResult<Option<Person>> {
    Ok(people::table
        .find(id)
        .select(Person::as_select())
        .first(conn)
        .optional()?)
}

/// Everyone, in any account, with this E.164 phone number: a STOP texted to the
/// service's number stops texts from every account that sends through it.
pub fn with_phone(conn: &mut DbConnection, phone: &str) -> DbResult<Vec<Person>> {
    Ok(people::table
        .filter(people::phone.eq(phone))
        .select(Person::as_select())
        .load(conn)?)
}

/// The first person of the account with one of these addresses (stored lower-cased).
pub fn with_email(
    conn: &mut DbConnection,
    account: Id<Account>,
    emails: &[String],
) -> DbResult<Option<Person>> {
    if emails.is_empty() {
        return Ok(None);
    }
    Ok(people::table
        .filter(people::account_id.eq(account))
        .filter(people::email.eq_any(emails))
        .order(people::id.asc())
        .select(Person::as_select())
        .first(conn)
        .optional()?)
}

/// Writes the person if its stored version is still `expected_version`;
/// `false` if someone changed it in between.
pub fn save(conn: &mut DbConnection, person: &Person, expected_version: i32) -> DbResult<bool> {
    let updated = diesel::update(
        people::table
            .filter(people::account_id.eq(person.account_id))
            .find(person.id)
            .filter(people::version.eq(expected_version)),
    )
    .set(person)
    .execute(conn)?;
    Ok(updated == 1)
}

/// Deletes the person and, by cascade, everything that refers to them.
/// Deletes the person (the cascade takes their tags, consent history,
/// appointments, reminders and messages) and the jobs about any of those: a
/// job names its subject by id only, so no cascade reaches it, and a finished
/// one would keep the id for days.
pub fn delete(conn: &mut DbConnection, account: Id<Account>, id: Id<Person>) -> DbResult<bool> {
    use crate::schema::{appointments, jobs, messages, reminders};
    fn subjects<T>(ids: Vec<Id<T>>) -> impl Iterator<Item = Id<()>> {
        ids.into_iter().map(|id| Id::from_uuid(id.uuid()))
    }
    let messages: Vec<Id<crate::messages::Message>> = messages::table
        .filter(messages::account_id.eq(account))
        .filter(messages::person_id.eq(id))
        .select(messages::id)
        .load(conn)?;
    let appointments: Vec<Id<crate::appointments::Appointment>> = appointments::table
        .filter(appointments::account_id.eq(account))
        .filter(appointments::person_id.eq(id))
        .select(appointments::id)
        .load(conn)?;
    let reminders: Vec<Id<crate::appointments::Reminder>> = reminders::table
        .filter(reminders::appointment_id.eq_any(&appointments))
        .select(reminders::id)
        .load(conn)?;
    let about_them: Vec<Id<()>> = subjects(vec![id])
        .chain(subjects(messages))
        .chain(subjects(appointments))
        .chain(subjects(reminders))
        .collect();
    diesel::delete(
        jobs::table
            .filter(jobs::account_id.eq(account))
            .filter(jobs::subject_id.eq_any(&about_them)),
    )
    .execute(conn)?;
    let deleted = diesel::delete(
        people::table
            .filter(people::account_id.eq(account))
            .find(id),
    )
    .execute(conn)?;
    Ok(deleted > 0)
}

/// `%` and `_` in what a user searches for are meant literally.
fn contains_pattern(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

type Condition = Box<
    dyn diesel::BoxableExpression<people::table, MultiBackend, SqlType = diesel::sql_types::Bool>,
>;

/// The search text holds `term`. With `keyed`, the account's search keys
/// that any match must have narrow the rows first (migration
/// `…000080_search_keys_per_account`), so the cost follows the account's
/// rows, not the table's.
fn contains(keyed: Option<Id<Account>>, term: &str) -> Condition {
    let like = people::search_text
        .like(contains_pattern(term))
        .escape('\\');
    let keys = keyed.map_or_else(Vec::new, |account| search_keys(account, term));
    if keys.is_empty() {
        return Box::new(like);
    }
    Box::new(
        diesel::dsl::sql::<diesel::sql_types::Bool>(
            "people_search_keys(people.account_id, people.search_text) @> string_to_array(",
        )
        .bind::<diesel::sql_types::Text, _>(keys.join(" "))
        .sql(", ' ')")
        .and(like),
    )
}

/// The keys `people_search_keys` gives every row whose search text contains
/// `term`: the trigrams of its runs of lower-case ASCII letters and digits.
/// Those three characters sit inside one word wherever the term occurs, and
/// pg_trgm keeps such a trigram as it is; other characters are left to the
/// LIKE (pg_trgm hashes some and pads word edges, which a part of a word in
/// the term would not match).
pub fn search_keys(account: Id<Account>, term: &str) -> Vec<String> {
    let plain = |c: &char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let chars: Vec<char> = term.chars().collect();
    let mut keys: Vec<String> = chars
        .windows(3)
        .filter(|w| w.iter().all(plain))
        .map(|w| format!("{}:{}", account.uuid(), w.iter().collect::<String>()))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

pub fn list(conn: &mut DbConnection, filter: &Filter) -> DbResult<Vec<Person>> {
    let mut query = people::table
        .filter(people::account_id.eq(filter.account))
        .filter(people::stage.eq(Stored(filter.stage)))
        .select(Person::as_select())
        .limit(filter.limit)
        .into_boxed();
    if let Some(search) = &filter.search {
        // Keys only on PostgreSQL: SQLite reaches the account's rows through
        // the account's index and has no trigram index to narrow.
        let keyed = matches!(conn, DbConnection::Pg(_)).then_some(filter.account);
        query = match &filter.search_digits {
            Some(digits) => query.filter(contains(keyed, search).or(contains(keyed, digits))),
            None => query.filter(contains(keyed, search)),
        };
    }
    if let Some(tag) = &filter.tag {
        // Written as SQL: diesel's typed subselect would want the two tables
        // joinable through the outer query, which they are not here.
        query = query.filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>(
                "people.id IN (SELECT person_id FROM person_tags WHERE account_id = ",
            )
            .bind::<DbUuid, _>(filter.account)
            .sql(" AND tag = ")
            .bind::<diesel::sql_types::Text, _>(tag.clone())
            .sql(")"),
        );
    }
    if let Some(user) = filter.assigned_to {
        query = query.filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>(
                "people.id IN (SELECT person_id FROM appointments WHERE technician_id = ",
            )
            .bind::<DbUuid, _>(user)
            .sql(")"),
        );
    }
    if let Some(since) = filter.updated_since {
        query = query.filter(people::updated_at.ge(since));
    }
    query = match &filter.after {
        After::Created(after) => {
            if let Some(id) = after {
                query = query.filter(people::id.gt(*id));
            }
            query.order(people::id.asc())
        }
        After::Name(after) => {
            if let Some((name, id)) = after {
                query = query.filter(
                    people::sort_name
                        .gt(name.clone())
                        .or(people::sort_name.eq(name.clone()).and(people::id.gt(*id))),
                );
            }
            query.order((people::sort_name.asc(), people::id.asc()))
        }
        After::Updated(after) => {
            if let Some((at, id)) = after {
                query = query.filter(
                    people::updated_at
                        .gt(*at)
                        .or(people::updated_at.eq(*at).and(people::id.gt(*id))),
                );
            }
            query.order((people::updated_at.asc(), people::id.asc()))
        }
    };
    Ok(query.load(conn)?)
}

/// The tags of each of `ids`, sorted.
pub fn tags_of(
    conn: &mut DbConnection,
    account: Id<Account>,
    ids: &[Id<Person>],
) -> DbResult<Vec<(Id<Person>, String)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(person_tags::table
        .filter(person_tags::account_id.eq(account))
        .filter(person_tags::person_id.eq_any(ids.to_vec()))
        .select((person_tags::person_id, person_tags::tag))
        .order((person_tags::person_id, person_tags::tag))
        .load(conn)?)
}

/// Replaces the person's tags with `tags`.
pub fn set_tags(
    conn: &mut DbConnection,
    account: Id<Account>,
    person: Id<Person>,
    tags: &[String],
) -> DbResult<()> {
    diesel::delete(person_tags::table.filter(person_tags::person_id.eq(person))).execute(conn)?;
    add_tags(conn, account, person, tags)
}

/// Gives a person who has none yet (a new one) `tags`, in one statement.
pub fn add_tags(
    conn: &mut DbConnection,
    account: Id<Account>,
    person: Id<Person>,
    tags: &[String],
) -> DbResult<()> {
    if tags.is_empty() {
        return Ok(());
    }
    let rows: Vec<_> = tags
        .iter()
        .map(|tag| {
            (
                person_tags::account_id.eq(account),
                person_tags::person_id.eq(person),
                person_tags::tag.eq(tag),
            )
        })
        .collect();
    let insert = diesel::insert_into(person_tags::table).values(rows);
    // Multi-row inserts need the backend's own connection.
    match conn {
        DbConnection::Pg(pg) => insert.execute(pg)?,
        DbConnection::Sqlite(sqlite) => insert.execute(sqlite)?,
    };
    Ok(())
}

/// Whether the person has an appointment assigned to `user`.
pub fn is_assigned_to(
    conn: &mut DbConnection,
    person: Id<Person>,
    user: Id<crate::users::User>,
) -> DbResult<bool> {
    use crate::schema::appointments;
    let count: i64 = appointments::table
        .filter(appointments::person_id.eq(person))
        .filter(appointments::technician_id.eq(user))
        .count()
        .get_result(conn)?;
    Ok(count > 0)
}

/// On PostgreSQL, in one statement (so in one round trip, atomic without a
/// transaction of its own): the person, `event` about them, and the
/// deliveries `webhooks::queue_deliveries` would queue for it.
pub fn insert_with_event_and_deliveries(
    conn: &mut diesel::PgConnection,
    person: &Person,
    event: &Event,
    delivery: &Job,
) -> DbResult<()> {
    CreateWithEvent {
        person,
        event,
        deliveries: crate::webhooks::QueueDeliveries::new(delivery, &event.event_type)?,
    }
    .execute(conn)?;
    Ok(())
}

/// The statement of `insert_with_event_and_deliveries`, built by hand since
/// diesel writes no `WITH`; its text never varies, so its prepared statement
/// is kept like any typed query's.
struct CreateWithEvent<'a> {
    person: &'a Person,
    event: &'a Event,
    deliveries: crate::webhooks::QueueDeliveries<'a>,
}

impl diesel::query_builder::QueryId for CreateWithEvent<'_> {
    type QueryId = CreateWithEvent<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl RunQueryDsl<diesel::PgConnection> for CreateWithEvent<'_> {}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for CreateWithEvent<'_> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{Double, Integer, Nullable, Text};

        use crate::types::sql::DbTimestamp;
        let (p, e) = (self.person, self.event);
        out.push_sql(
            "WITH person AS (INSERT INTO people (id, account_id, stage, \
             name, sort_name, company, email, phone, address_line1, address_line2, city, \
             region, postal_code, country, lat, lon, notes, search_text, sms_consent, \
             email_consent, version, converted_at, created_at, updated_at) VALUES (",
        );
        out.push_bind_param::<DbUuid, _>(&p.id)?;
        out.push_sql(", ");
        out.push_bind_param::<DbUuid, _>(&p.account_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&p.stage)?;
        for text in [&p.name, &p.sort_name] {
            out.push_sql(", ");
            out.push_bind_param::<Text, _>(text)?;
        }
        let address = &p.address;
        for text in [
            &p.company,
            &p.email,
            &p.phone,
            &address.address_line1,
            &address.address_line2,
            &address.city,
            &address.region,
            &address.postal_code,
        ] {
            out.push_sql(", ");
            out.push_bind_param::<Nullable<Text>, _>(text)?;
        }
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&address.country)?;
        for number in [&address.lat, &address.lon] {
            out.push_sql(", ");
            out.push_bind_param::<Nullable<Double>, _>(number)?;
        }
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&p.notes)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&p.search_text)?;
        for consent in [&p.sms_consent, &p.email_consent] {
            out.push_sql(", ");
            out.push_bind_param::<Nullable<Text>, _>(consent)?;
        }
        out.push_sql(", ");
        out.push_bind_param::<Integer, _>(&p.version)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<DbTimestamp>, _>(&p.converted_at)?;
        for at in [&p.created_at, &p.updated_at] {
            out.push_sql(", ");
            out.push_bind_param::<DbTimestamp, _>(at)?;
        }
        out.push_sql(
            ") RETURNING id), stored AS (INSERT INTO events (id, account_id, event_type, \
             occurred_at, actor, data, person_id) SELECT ",
        );
        out.push_bind_param::<DbUuid, _>(&e.id)?;
        out.push_sql(", ");
        out.push_bind_param::<DbUuid, _>(&e.account_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&e.event_type)?;
        out.push_sql(", ");
        out.push_bind_param::<DbTimestamp, _>(&e.occurred_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&e.actor)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&e.data)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<DbUuid>, _>(&e.person_id)?;
        out.push_sql(" FROM person) ");
        self.deliveries.walk_ast(out.reborrow())
    }
}
