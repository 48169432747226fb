//! Who is calling: a person signed in with a role, or an integration with an
//! API key; `Caller::require` refuses what the role or scope does not allow.

use fieldcrm_db::accounts::Account;
use fieldcrm_db::api_keys::ApiKey;
use fieldcrm_db::refresh_tokens::Session;
use fieldcrm_db::users::User;
use fieldcrm_db::Id;
use fieldcrm_domain::{Action, ApiKeyScope, CountryCode, Role};

use crate::error::AppError;

/// The authenticated caller of a request and its account.
#[derive(Debug, Clone)]
pub struct Caller {
    pub account_id: Id<Account>,
    /// The account's: phone numbers given without a country code are read as
    /// numbers of this country.
    pub default_country: CountryCode,
    pub principal: Principal,
}

#[derive(Debug, Clone)]
pub enum Principal {
    User {
        id: Id<User>,
        role: Role,
        session: Id<Session>,
    },
    ApiKey {
        id: Id<ApiKey>,
        scope: ApiKeyScope,
    },
}

impl Caller {
    /// Refused unless the caller's role (or key scope) allows the action.
    pub fn require(&self, action: Action) -> Result<(), AppError> {
        let allowed = match &self.principal {
            Principal::User { role, .. } => action.allows_role(*role),
            Principal::ApiKey { scope, .. } => action.allows_key(*scope),
        };
        if allowed {
            Ok(())
        } else {
            Err(AppError::forbidden(format!(
                "your {} may not do this. {}",
                match &self.principal {
                    Principal::User { role, .. } => format!("role ({role})"),
                    Principal::ApiKey { scope, .. } =>
                        format!("API key ({} scope)", scope.as_str()),
                },
                action.describe()
            )))
        }
    }

    /// Who did something, for histories and the audit trail: `user:<id>` or
    /// `api_key:<id>`.
    pub fn actor(&self) -> String {
        match &self.principal {
            Principal::User { id, .. } => format!("user:{id}"),
            Principal::ApiKey { id, .. } => format!("api_key:{id}"),
        }
    }

    pub fn user(&self) -> Option<(Id<User>, Role)> {
        match self.principal {
            Principal::User { id, role, .. } => Some((id, role)),
            Principal::ApiKey { .. } => None,
        }
    }
}
