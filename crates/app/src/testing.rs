//! A real app state on a fresh SQLite file for the use cases' unit tests:
//! an account with its owner, and helpers that make what a rule needs.

use fieldcrm_db::people::Person;
use fieldcrm_db::users::User;
use fieldcrm_db::{DbConnection, DbPool, Id};
use fieldcrm_domain::{
    AccountName, Channel, ConsentSource, ConsentStatus, CountryCode, Email, Password, PersonName,
    Phone, Role, TimeZoneName,
};
use secrecy::SecretString;

use crate::accounts::auth::{self, Signup};
use crate::accounts::users::{self, NewUser};
use crate::caller::{Caller, Principal};
use crate::config::Settings;
use crate::people::{self, NewPerson};
use crate::state::AppState;
use crate::tx::Tx;
use fieldcrm_domain::Stage;

pub(crate) struct World {
    pub state: AppState,
    pub owner: Caller,
    // Dropped last: the database file outlives the state's use of it.
    _dir: tempfile::TempDir,
}

impl World {
    /// An account and its owner on a fresh database; `customize` changes the
    /// settings first.
    pub async fn new(customize: impl FnOnce(&mut Settings)) -> World {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("world.db").display());
        let mut settings = Settings {
            database_url: SecretString::from(url),
            jobs_enabled: false,
            ..Settings::default()
        };
        customize(&mut settings);
        let pool = DbPool::new(&settings.database().unwrap(), &settings.pool_options()).unwrap();
        let (_, keys) = crate::migrate_and_read_keys(&pool, &settings)
            .await
            .unwrap();
        let state = crate::app_state(pool, settings, 0, keys, |_, _| Ok(None)).unwrap();
        let signed_up = auth::signup(
            &state,
            Signup {
                account_name: AccountName::parse("Sparkle Cleaning").unwrap(),
                time_zone: TimeZoneName::parse("Europe/Berlin").unwrap(),
                default_country: CountryCode::parse("DE").unwrap(),
                name: PersonName::parse("Olga Owner").unwrap(),
                email: Email::parse("olga@sparkle.example").unwrap(),
                password: Password::parse("correct horse battery").unwrap(),
            },
            None,
        )
        .await
        .unwrap();
        let owner = caller_of(&signed_up.user, Role::Owner);
        World {
            state,
            owner,
            _dir: dir,
        }
    }

    /// Runs `work` on a connection with the app's effects, as a use case does.
    pub fn tx<T>(&self, work: impl FnOnce(&mut Tx<'_>) -> T) -> T {
        let mut conn: fieldcrm_db::PooledConnection = self.state.pool.get().unwrap();
        work(&mut Tx::new(&mut conn, &self.state.effects))
    }

    pub fn conn(&self) -> impl std::ops::DerefMut<Target = DbConnection> {
        self.state.pool.get().unwrap()
    }

    /// A technician of the account, and the caller they are when signed in.
    pub async fn technician(&self, name: &str) -> (User, Caller) {
        let email = format!("{}@sparkle.example", name.to_lowercase());
        let prepared = users::prepare(
            &self.state,
            &self.owner,
            NewUser {
                name: PersonName::parse(name).unwrap(),
                email: Email::parse(&email).unwrap(),
                role: Role::Technician,
                password: None,
            },
        )
        .await
        .unwrap();
        let user = self
            .tx(|tx| users::create_by(tx, &self.owner, prepared))
            .unwrap();
        let caller = caller_of(&user, Role::Technician);
        (user, caller)
    }

    /// A customer with a phone number and an email address.
    pub fn customer(&self, name: &str, phone: &str, email: &str) -> Person {
        let input = NewPerson {
            name: PersonName::parse(name).unwrap(),
            company: None,
            email: Some(Email::parse(email).unwrap()),
            phone: Some(Phone::parse(phone, CountryCode::parse("DE").unwrap()).unwrap()),
            address: None,
            notes: None,
            tags: Vec::new(),
        };
        self.tx(|tx| people::create_in(tx, &self.owner, Stage::Customer, input))
            .unwrap()
            .person
    }

    /// A customer who agreed to text messages, as `customer` makes them.
    pub async fn customer_with_sms_consent(&self, name: &str, phone: &str, email: &str) -> Person {
        let customer = self.customer(name, phone, email);
        let (customer, _) = people::record_consent(
            &self.state,
            &self.owner,
            Stage::Customer,
            customer.id,
            Channel::Sms,
            ConsentStatus::OptedIn,
            ConsentSource::Verbal,
        )
        .await
        .unwrap();
        customer
    }
}

fn caller_of(user: &User, role: Role) -> Caller {
    Caller {
        account_id: user.account_id,
        default_country: CountryCode::parse("DE").unwrap(),
        principal: Principal::User {
            id: user.id,
            role,
            session: Id::new(),
        },
    }
}
