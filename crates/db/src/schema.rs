//! The portable schema, written by hand: `diesel print-schema` differs per
//! backend. A test keeps both migration sets producing the same tables and columns.

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::sql::{DbTimestamp, DbUuid};

    accounts (id) {
        id -> DbUuid,
        name -> Text,
        time_zone -> Text,
        default_country -> Text,
        created_at -> DbTimestamp,
        updated_at -> DbTimestamp,
        ping_accuracy_limit_m -> Double,
        max_shift_hours -> Integer,
        ping_retention_days -> Integer,
        default_reminders -> Text,
        arrival_radius_m -> Double,
        quiet_hours_start -> Text,
        quiet_hours_end -> Text,
        message_templates -> Text,
        postal_address -> Nullable<Text>,
        message_body_retention_days -> Integer,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::sql::{DbTimestamp, DbUuid};

    users (id) {
        id -> DbUuid,
        account_id -> DbUuid,
        name -> Text,
        email -> Text,
        password_hash -> Nullable<Text>,
        role -> Text,
        token_version -> Integer,
        created_at -> DbTimestamp,
        updated_at -> DbTimestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::sql::{DbTimestamp, DbUuid};

    refresh_tokens (id) {
        id -> DbUuid,
        account_id -> DbUuid,
        user_id -> DbUuid,
        family_id -> DbUuid,
        token_hash -> Binary,
        created_at -> DbTimestamp,
        expires_at -> DbTimestamp,
        spent_at -> Nullable<DbTimestamp>,
        revoked_at -> Nullable<DbTimestamp>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::sql::{DbTimestamp, DbUuid};

    api_keys (id) {
        id -> DbUuid,
        account_id -> DbUuid,
        name -> Text,
        scope -> Text,
        prefix -> Text,
        secret_hash -> Binary,
        created_by -> Nullable<DbUuid>,
        created_at -> DbTimestamp,
        last_used_at -> Nullable<DbTimestamp>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::sql::DbTimestamp;

    login_failures (key_hash, window_start) {
        key_hash -> Binary,
        window_start -> DbTimestamp,
        failures -> Integer,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::sql::{DbTimestamp, DbUuid};

    people (id) {
        id -> DbUuid,
        account_id -> DbUuid,
        stage -> Text,
        name -> Text,
        sort_name -> Text,
        company -> Nullable<Text>,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        address_line1 -> Nullable<Text>,
        address_line2 -> Nullable<Text>,
        city -> Nullable<Text>,
        region -> Nullable<Text>,
        postal_code -> Nullable<Text>,
        country -> Nullable<Text>,
        lat -> Nullable<Double>,
        lon -> Nullable<Double>,
        notes -> Nullable<Text>,
        search_text -> Text,
        sms_consent -> Nullable<Text>,
        email_consent -> Nullable<Text>,
        version -> Integer,
        converted_at -> Nullable<DbTimestamp>,
        created_at -> DbTimestamp,
        updated_at -> DbTimestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::sql::DbUuid;

    person_tags (person_id, tag) {
        account_id -> DbUuid,
        person_id -> DbUuid,
        tag -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::sql::{DbTimestamp, DbUuid};

    consent_events (id) {
        id -> DbUuid,
        account_id -> DbUuid,
        person_id -> DbUuid,
        channel -> Text,
        status -> Text,
        source -> Text,
        recorded_by -> Text,
        recorded_at -> DbTimestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::sql::{DbTimestamp, DbUuid};

    idempotency_keys (account_id, idempotency_key) {
        account_id -> DbUuid,
        idempotency_key -> Text,
        request_hash -> Binary,
        response_status -> Integer,
        resource_id -> Nullable<DbUuid>,
        created_at -> DbTimestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::sql::{DbTimestamp, DbUuid};

    shifts (id) {
        id -> DbUuid,
        account_id -> DbUuid,
        user_id -> DbUuid,
        clock_in_at -> DbTimestamp,
        clock_out_at -> Nullable<DbTimestamp>,
        clock_in_lat -> Nullable<Double>,
        clock_in_lon -> Nullable<Double>,
        clock_out_lat -> Nullable<Double>,
        clock_out_lon -> Nullable<Double>,
        closed_by -> Nullable<Text>,
        distance_m -> Nullable<Double>,
        created_at -> DbTimestamp,
        updated_at -> DbTimestamp,
        trail_version -> BigInt,
        uncounted_from -> Nullable<DbTimestamp>,
        counted_m -> Nullable<Double>,
        counted_until_at -> Nullable<DbTimestamp>,
        counted_until_id -> Nullable<DbUuid>,
        counted_until_lat -> Nullable<Double>,
        counted_until_lon -> Nullable<Double>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::sql::{DbTimestamp, DbUuid};

    pings (user_id, id) {
        user_id -> DbUuid,
        id -> DbUuid,
        account_id -> DbUuid,
        shift_id -> DbUuid,
        recorded_at -> DbTimestamp,
        lat -> Double,
        lon -> Double,
        accuracy_m -> Nullable<Double>,
        speed_mps -> Nullable<Double>,
        heading_deg -> Nullable<Double>,
        received_at -> DbTimestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::sql::{DbTimestamp, DbUuid};

    devices (id) {
        id -> DbUuid,
        account_id -> DbUuid,
        user_id -> DbUuid,
        label -> Text,
        prefix -> Text,
        token_hash -> Binary,
        created_by -> Nullable<DbUuid>,
        created_at -> DbTimestamp,
        last_seen_at -> Nullable<DbTimestamp>,
        stored -> BigInt,
        duplicates -> BigInt,
        outside_shift -> BigInt,
        low_accuracy -> BigInt,
        unparseable -> BigInt,
        revoked_at -> Nullable<DbTimestamp>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::sql::DbTimestamp;

    link_keys (id) {
        id -> Text,
        key -> Binary,
        created_at -> DbTimestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::sql::{DbTimestamp, DbUuid};

    ping_counts (user_id, day_start) {
        user_id -> DbUuid,
        day_start -> DbTimestamp,
        account_id -> DbUuid,
        stored -> BigInt,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::sql::{DbTimestamp, DbUuid};

    appointments (id) {
        id -> DbUuid,
        account_id -> DbUuid,
        person_id -> Nullable<DbUuid>,
        technician_id -> Nullable<DbUuid>,
        title -> Text,
        notes -> Nullable<Text>,
        starts_at -> DbTimestamp,
        ends_at -> DbTimestamp,
        address_line1 -> Nullable<Text>,
        address_line2 -> Nullable<Text>,
        city -> Nullable<Text>,
        region -> Nullable<Text>,
        postal_code -> Nullable<Text>,
        country -> Nullable<Text>,
        lat -> Nullable<Double>,
        lon -> Nullable<Double>,
        status -> Text,
        version -> Integer,
        created_at -> DbTimestamp,
        updated_at -> DbTimestamp,
        arrived_at -> Nullable<DbTimestamp>,
        departed_at -> Nullable<DbTimestamp>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::sql::{DbTimestamp, DbUuid};

    appointment_status_changes (id) {
        id -> DbUuid,
        account_id -> DbUuid,
        appointment_id -> DbUuid,
        from_status -> Nullable<Text>,
        to_status -> Text,
        changed_by -> Text,
        changed_at -> DbTimestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::sql::{DbTimestamp, DbUuid};

    reminders (id) {
        id -> DbUuid,
        account_id -> DbUuid,
        appointment_id -> DbUuid,
        channel -> Text,
        minutes_before -> Integer,
        due_at -> DbTimestamp,
        status -> Text,
        created_at -> DbTimestamp,
        updated_at -> DbTimestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::sql::{DbTimestamp, DbUuid};

    calendar_feeds (user_id) {
        user_id -> DbUuid,
        account_id -> DbUuid,
        token_hash -> Binary,
        created_at -> DbTimestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::sql::{DbTimestamp, DbUuid};

    jobs (id) {
        id -> DbUuid,
        account_id -> Nullable<DbUuid>,
        kind -> Text,
        subject_id -> Nullable<DbUuid>,
        status -> Text,
        run_at -> DbTimestamp,
        attempts -> Integer,
        max_attempts -> Integer,
        lease_id -> Nullable<DbUuid>,
        lease_expires_at -> Nullable<DbTimestamp>,
        last_error -> Nullable<Text>,
        created_at -> DbTimestamp,
        updated_at -> DbTimestamp,
        payload -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::sql::{DbTimestamp, DbUuid};

    messages (id) {
        id -> DbUuid,
        account_id -> DbUuid,
        person_id -> DbUuid,
        appointment_id -> Nullable<DbUuid>,
        reminder_id -> Nullable<DbUuid>,
        kind -> Text,
        channel -> Text,
        recipient -> Nullable<Text>,
        subject -> Nullable<Text>,
        body -> Nullable<Text>,
        status -> Text,
        status_reason -> Nullable<Text>,
        error_code -> Nullable<Text>,
        provider_message_id -> Nullable<Text>,
        attempts -> Integer,
        send_after -> Nullable<DbTimestamp>,
        created_by -> Text,
        created_at -> DbTimestamp,
        updated_at -> DbTimestamp,
        sent_at -> Nullable<DbTimestamp>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::sql::{DbTimestamp, DbUuid};

    audit_events (id) {
        id -> DbUuid,
        account_id -> DbUuid,
        actor -> Text,
        action -> Text,
        subject_id -> Nullable<DbUuid>,
        detail -> Nullable<Text>,
        at -> DbTimestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::sql::{DbTimestamp, DbUuid};

    deletion_receipts (id) {
        id -> DbUuid,
        deleted_at -> DbTimestamp,
        counts -> Text,
        scrubbed_at -> Nullable<DbTimestamp>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::sql::{DbTimestamp, DbUuid};

    google_integrations (account_id) {
        account_id -> DbUuid,
        connected_by -> Nullable<DbUuid>,
        email -> Nullable<Text>,
        google_subject -> Text,
        scopes -> Text,
        calendar_id -> Text,
        refresh_token -> Text,
        access_token -> Nullable<Text>,
        access_token_expires_at -> Nullable<DbTimestamp>,
        needs_reconnect -> Bool,
        last_error -> Nullable<Text>,
        sync_token -> Nullable<Text>,
        last_synced_at -> Nullable<DbTimestamp>,
        channel_id -> Nullable<Text>,
        channel_resource_id -> Nullable<Text>,
        channel_token_hash -> Nullable<Binary>,
        channel_expires_at -> Nullable<DbTimestamp>,
        created_at -> DbTimestamp,
        updated_at -> DbTimestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::sql::{DbTimestamp, DbUuid};

    google_oauth_states (state_hash) {
        state_hash -> Binary,
        account_id -> DbUuid,
        user_id -> DbUuid,
        pkce_verifier -> Text,
        scopes -> Text,
        expires_at -> DbTimestamp,
        return_url -> Nullable<Text>,
        auth_code -> Nullable<Text>,
        confirmation_hash -> Nullable<Binary>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::sql::{DbTimestamp, DbUuid};

    google_events (appointment_id) {
        appointment_id -> DbUuid,
        account_id -> DbUuid,
        event_id -> Text,
        origin -> Text,
        etag -> Nullable<Text>,
        google_updated_at -> Nullable<DbTimestamp>,
        google_subject -> Text,
        owned_digest -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::sql::{DbTimestamp, DbUuid};

    events (id) {
        id -> DbUuid,
        account_id -> DbUuid,
        event_type -> Text,
        occurred_at -> DbTimestamp,
        actor -> Text,
        data -> Text,
        person_id -> Nullable<DbUuid>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::sql::{DbTimestamp, DbUuid};

    webhook_endpoints (id) {
        id -> DbUuid,
        account_id -> DbUuid,
        url -> Text,
        description -> Nullable<Text>,
        event_types -> Nullable<Text>,
        payload -> Text,
        enabled -> Bool,
        secret_sealed -> Text,
        previous_secret_sealed -> Nullable<Text>,
        previous_secret_until -> Nullable<DbTimestamp>,
        failing_since -> Nullable<DbTimestamp>,
        disabled_reason -> Nullable<Text>,
        created_at -> DbTimestamp,
        updated_at -> DbTimestamp,
        version -> Integer,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::sql::{DbTimestamp, DbUuid};

    webhook_deliveries (id) {
        id -> DbUuid,
        account_id -> DbUuid,
        endpoint_id -> DbUuid,
        event_id -> DbUuid,
        event_type -> Text,
        attempt -> Integer,
        status_code -> Nullable<Integer>,
        duration_ms -> Integer,
        error -> Nullable<Text>,
        attempted_at -> DbTimestamp,
    }
}

diesel::joinable!(users -> accounts (account_id));
diesel::joinable!(shifts -> users (user_id));
diesel::joinable!(shifts -> accounts (account_id));
diesel::joinable!(pings -> shifts (shift_id));
diesel::joinable!(person_tags -> people (person_id));
diesel::joinable!(consent_events -> people (person_id));
diesel::joinable!(refresh_tokens -> users (user_id));
diesel::joinable!(api_keys -> accounts (account_id));
diesel::joinable!(devices -> accounts (account_id));
diesel::allow_tables_to_appear_in_same_query!(
    devices,
    link_keys,
    ping_counts,
    accounts,
    users,
    refresh_tokens,
    api_keys,
    login_failures,
    people,
    person_tags,
    consent_events,
    idempotency_keys,
    shifts,
    pings,
    appointments,
    appointment_status_changes,
    reminders,
    calendar_feeds,
    jobs,
    messages,
    audit_events,
    deletion_receipts,
    google_integrations,
    google_oauth_states,
    google_events,
    events,
    webhook_endpoints,
    webhook_deliveries,
);
