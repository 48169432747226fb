//! Who may do what: the one permission table of the service.
//!
//! Every endpoint names the `Action` it performs; the caller's role (a person)
//! or scope (an API key) decides. Which rows a technician sees within an
//! allowed action (only their own shifts and assigned appointments) is decided
//! by the queries, not here.

use std::fmt;
use std::str::FromStr;

use crate::Invalid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Owner,
    Admin,
    Dispatcher,
    Technician,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Owner, Role::Admin, Role::Dispatcher, Role::Technician];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Dispatcher => "dispatcher",
            Role::Technician => "technician",
        }
    }
}

impl FromStr for Role {
    type Err = Invalid;

    fn from_str(s: &str) -> Result<Self, Invalid> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| Invalid("must be one of owner, admin, dispatcher, technician".into()))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an integrator's API key may do: `read` reads business data, `write`
/// also changes it. No key manages users, keys or the account itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiKeyScope {
    Read,
    Write,
}

impl ApiKeyScope {
    pub fn as_str(self) -> &'static str {
        match self {
            ApiKeyScope::Read => "read",
            ApiKeyScope::Write => "write",
        }
    }
}

impl FromStr for ApiKeyScope {
    type Err = Invalid;

    fn from_str(s: &str) -> Result<Self, Invalid> {
        match s {
            "read" => Ok(ApiKeyScope::Read),
            "write" => Ok(ApiKeyScope::Write),
            _ => Err(Invalid("must be `read` or `write`".into())),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// List, create, change and delete users.
    ManageUsers,
    /// List, create and revoke API keys.
    ManageApiKeys,
    /// Read the account's settings.
    ViewAccount,
    /// Change the account's settings and integrations.
    ManageAccount,
    /// Export or delete the whole account, and read its audit trail.
    ExportOrDeleteAccount,
    /// Read customers and prospects (technicians: those of their appointments).
    ViewCustomers,
    /// Create, change, convert and delete customers and prospects, and their consent.
    ManageCustomers,
    /// Read appointments (technicians: those assigned to them).
    ViewAppointments,
    /// Create, reschedule, assign and delete appointments.
    ManageAppointments,
    /// Move an appointment through its statuses (technicians: their own).
    UpdateAppointmentStatus,
    /// Read the message log.
    ViewMessages,
    /// Send messages.
    SendMessages,
    /// Clock in and out and upload GPS pings, for oneself.
    TrackOwnTime,
    /// Read shifts and routes (technicians: their own).
    ViewShifts,
    /// Close someone else's forgotten shift.
    ManageShifts,
    /// See where clocked-in technicians are now.
    ViewLiveLocations,
    /// Read the events feed.
    ViewEvents,
    /// Register, change and remove webhook endpoints, and read their deliveries.
    ManageWebhooks,
    /// Issue, list and revoke the device tokens of tracker apps (technicians:
    /// their own).
    ManageDevices,
    /// Make and turn off one's own secret calendar feed URL.
    UseOwnCalendarFeed,
}

impl Action {
    pub const ALL: [Action; 20] = [
        Action::ManageUsers,
        Action::ManageApiKeys,
        Action::ViewAccount,
        Action::ManageAccount,
        Action::ExportOrDeleteAccount,
        Action::ViewCustomers,
        Action::ManageCustomers,
        Action::ViewAppointments,
        Action::ManageAppointments,
        Action::UpdateAppointmentStatus,
        Action::ViewMessages,
        Action::SendMessages,
        Action::TrackOwnTime,
        Action::ViewShifts,
        Action::ManageShifts,
        Action::ViewLiveLocations,
        Action::ViewEvents,
        Action::ManageWebhooks,
        Action::ManageDevices,
        Action::UseOwnCalendarFeed,
    ];

    /// The action of this name (`ViewCustomers`), as the API reference's
    /// sources name it.
    pub fn named(name: &str) -> Option<Action> {
        Action::ALL
            .into_iter()
            .find(|action| format!("{action:?}") == name)
    }

    /// The roles allowed to perform the action.
    pub fn roles(self) -> &'static [Role] {
        use Role::*;
        match self {
            Action::ManageUsers
            | Action::ManageApiKeys
            | Action::ManageAccount
            | Action::ViewEvents
            | Action::ManageWebhooks => &[Owner, Admin],
            Action::ExportOrDeleteAccount => &[Owner],
            Action::ViewAccount => &[Owner, Admin, Dispatcher, Technician],
            Action::ViewCustomers | Action::ViewAppointments | Action::UpdateAppointmentStatus => {
                &[Owner, Admin, Dispatcher, Technician]
            }
            Action::ManageCustomers
            | Action::ManageAppointments
            | Action::ViewMessages
            | Action::SendMessages
            | Action::ViewLiveLocations => &[Owner, Admin, Dispatcher],
            Action::TrackOwnTime | Action::UseOwnCalendarFeed => {
                &[Owner, Admin, Dispatcher, Technician]
            }
            Action::ViewShifts => &[Owner, Admin, Dispatcher, Technician],
            Action::ManageShifts => &[Owner, Admin],
            Action::ManageDevices => &[Owner, Admin, Technician],
        }
    }

    /// The least API key scope that allows the action; `None`: people only.
    pub fn api_key_scope(self) -> Option<ApiKeyScope> {
        match self {
            Action::ViewAccount
            | Action::ViewCustomers
            | Action::ViewAppointments
            | Action::ViewMessages
            | Action::ViewShifts
            | Action::ViewLiveLocations
            | Action::ViewEvents => Some(ApiKeyScope::Read),
            Action::ManageWebhooks
            | Action::ManageCustomers
            | Action::ManageAppointments
            | Action::UpdateAppointmentStatus
            | Action::SendMessages => Some(ApiKeyScope::Write),
            Action::ManageUsers
            | Action::ManageApiKeys
            | Action::ManageAccount
            | Action::ExportOrDeleteAccount
            | Action::TrackOwnTime
            | Action::ManageShifts
            | Action::ManageDevices
            | Action::UseOwnCalendarFeed => None,
        }
    }

    /// Whose records a role reaches within the action, where not everyone's.
    fn reach(self) -> Option<&'static str> {
        match self {
            Action::ViewCustomers => {
                Some("technicians: only the people of their assigned appointments")
            }
            Action::ViewAppointments | Action::UpdateAppointmentStatus => {
                Some("technicians: only those assigned to them")
            }
            Action::ViewShifts | Action::ManageDevices => Some("technicians: only their own"),
            Action::TrackOwnTime | Action::UseOwnCalendarFeed => Some("each for themselves"),
            _ => None,
        }
    }

    /// The roles line of the API reference for an operation doing this.
    pub fn roles_line(self) -> String {
        let roles: Vec<&str> = self.roles().iter().map(|r| r.as_str()).collect();
        let reach = self.reach().map(|r| format!(" ({r})")).unwrap_or_default();
        let keys = match self.api_key_scope() {
            None => "not accepted",
            Some(ApiKeyScope::Read) => "`read` scope or wider",
            Some(ApiKeyScope::Write) => "`write` scope",
        };
        format!("Roles: {}{reach}. API keys: {keys}.", roles.join(", "))
    }

    pub fn allows_role(self, role: Role) -> bool {
        self.roles().contains(&role)
    }

    pub fn allows_key(self, scope: ApiKeyScope) -> bool {
        match (self.api_key_scope(), scope) {
            (None, _) => false,
            (Some(ApiKeyScope::Read), _) => true,
            (Some(ApiKeyScope::Write), ApiKeyScope::Write) => true,
            (Some(ApiKeyScope::Write), ApiKeyScope::Read) => false,
        }
    }

    /// One line for the API reference: who may call an endpoint doing this.
    pub fn describe(self) -> String {
        let roles: Vec<&str> = self.roles().iter().map(|r| r.as_str()).collect();
        let keys = match self.api_key_scope() {
            None => "API keys: not accepted".to_owned(),
            Some(scope) => format!("API keys: `{}` scope or wider", scope.as_str()),
        };
        format!("Roles: {}. {keys}.", roles.join(", "))
    }
}

/// The permission table as Markdown, for the README (a test keeps them equal).
pub fn markdown_table() -> String {
    let mut out = String::from(
        "| action | owner | admin | dispatcher | technician | API key |\n|---|---|---|---|---|---|\n",
    );
    for action in Action::ALL {
        let mark = |role| if action.allows_role(role) { "yes" } else { "" };
        let key = action.api_key_scope().map_or("", |s| match s {
            ApiKeyScope::Read => "read, write",
            ApiKeyScope::Write => "write",
        });
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            action.summary(),
            mark(Role::Owner),
            mark(Role::Admin),
            mark(Role::Dispatcher),
            mark(Role::Technician),
            key
        ));
    }
    out
}

impl Action {
    /// A few words for tables.
    pub fn summary(self) -> &'static str {
        match self {
            Action::ManageUsers => "manage users",
            Action::ManageApiKeys => "manage API keys",
            Action::ViewAccount => "view account settings",
            Action::ManageAccount => "change account settings and integrations",
            Action::ExportOrDeleteAccount => "export or delete the account, read the audit trail",
            Action::ViewCustomers => {
                "view customers and prospects (technicians: of their appointments)"
            }
            Action::ManageCustomers => "manage customers, prospects and consent",
            Action::ViewAppointments => "view appointments (technicians: their own)",
            Action::ManageAppointments => "create, reschedule, assign, delete appointments",
            Action::UpdateAppointmentStatus => {
                "move appointments through their statuses (technicians: their own)"
            }
            Action::ViewMessages => "view the message log",
            Action::SendMessages => "send messages",
            Action::TrackOwnTime => "clock in and out, upload GPS pings (own)",
            Action::ViewShifts => "view shifts and routes (technicians: their own)",
            Action::ManageShifts => "close others' forgotten shifts",
            Action::ViewLiveLocations => "see live positions of clocked-in technicians",
            Action::ViewEvents => "read the events feed",
            Action::ManageWebhooks => "manage webhook endpoints and read their deliveries",
            Action::ManageDevices => {
                "issue and revoke tracker apps' device tokens (technicians: their own)"
            }
            Action::UseOwnCalendarFeed => "make and turn off one's own calendar feed URL",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_can_do_everything_and_technicians_little() {
        for action in Action::ALL {
            assert!(action.allows_role(Role::Owner), "{action:?}");
        }
        assert!(!Action::ManageUsers.allows_role(Role::Dispatcher));
        assert!(!Action::ManageCustomers.allows_role(Role::Technician));
        assert!(Action::TrackOwnTime.allows_role(Role::Technician));
        assert!(!Action::ExportOrDeleteAccount.allows_role(Role::Admin));
    }

    #[test]
    fn every_action_is_found_by_its_name() {
        for action in Action::ALL {
            assert_eq!(Action::named(&format!("{action:?}")), Some(action));
        }
        assert_eq!(Action::named("viewcustomers"), None);
    }

    #[test]
    fn roles_lines_say_who_and_which_key() {
        assert_eq!(
            Action::ManageCustomers.roles_line(),
            "Roles: owner, admin, dispatcher. API keys: `write` scope."
        );
        assert_eq!(
            Action::ViewShifts.roles_line(),
            "Roles: owner, admin, dispatcher, technician (technicians: only their own). \
             API keys: `read` scope or wider."
        );
        assert_eq!(
            Action::ExportOrDeleteAccount.roles_line(),
            "Roles: owner. API keys: not accepted."
        );
    }

    #[test]
    fn keys_never_manage_people_and_read_keys_never_write() {
        assert!(!Action::ManageUsers.allows_key(ApiKeyScope::Write));
        assert!(!Action::ManageApiKeys.allows_key(ApiKeyScope::Write));
        assert!(Action::ViewCustomers.allows_key(ApiKeyScope::Read));
        assert!(!Action::ManageCustomers.allows_key(ApiKeyScope::Read));
        assert!(Action::ManageCustomers.allows_key(ApiKeyScope::Write));
    }

    #[test]
    fn roles_parse_from_their_names_only() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        assert!("Owner".parse::<Role>().is_err());
        assert!("root".parse::<Role>().is_err());
    }
}
