//! The postal address as people and appointments store it: the same eight
//! columns in both tables, embedded in each row as one struct.
//!
//! diesel's `Selectable` and `AsChangeset` derives name exactly one table, so
//! one struct cannot be embedded in rows of two tables; the macro below
//! declares the struct once per table, with the one conversion to and from the
//! domain's `Address`.

use diesel::prelude::*;
use fieldcrm_domain::{Address, Coordinates, CountryCode};

use crate::connection::MultiBackend;
use crate::types::Stored;

macro_rules! address_columns {
    ($(#[$doc:meta])* $name:ident, $table:ident) => {
        $(#[$doc])*
        #[derive(
            serde::Serialize, Debug, Clone, Default, PartialEq, Queryable, Selectable, Insertable,
            AsChangeset,
        )]
        #[diesel(
            table_name = crate::schema::$table,
            check_for_backend(MultiBackend),
            treat_none_as_null = true,
            treat_none_as_default_value = false
        )]
        pub struct $name {
            pub address_line1: Option<String>,
            pub address_line2: Option<String>,
            pub city: Option<String>,
            pub region: Option<String>,
            pub postal_code: Option<String>,
            pub country: Option<Stored<CountryCode>>,
            pub lat: Option<f64>,
            pub lon: Option<f64>,
        }

        impl $name {
            /// The address, if the row has one (every stored address has a first line).
            pub fn address(&self) -> Option<Address> {
                Some(Address {
                    line1: self.address_line1.clone()?,
                    line2: self.address_line2.clone(),
                    city: self.city.clone(),
                    region: self.region.clone(),
                    postal_code: self.postal_code.clone(),
                    country: self.country.map(|c| c.0),
                    coordinates: self
                        .lat
                        .zip(self.lon)
                        .map(|(lat, lon)| Coordinates { lat, lon }),
                })
            }
        }

        /// `None` clears every column.
        impl From<Option<&Address>> for $name {
            fn from(address: Option<&Address>) -> Self {
                let Some(a) = address else {
                    return Self::default();
                };
                Self {
                    address_line1: Some(a.line1.clone()),
                    address_line2: a.line2.clone(),
                    city: a.city.clone(),
                    region: a.region.clone(),
                    postal_code: a.postal_code.clone(),
                    country: a.country.map(Stored),
                    lat: a.coordinates.map(|c| c.lat),
                    lon: a.coordinates.map(|c| c.lon),
                }
            }
        }
    };
}

address_columns!(
    /// A person's address, in `people`.
    PersonAddress,
    people
);

address_columns!(
    /// Where an appointment takes place, in `appointments`.
    AppointmentAddress,
    appointments
);

/// An appointment without an address of its own is at the person's.
impl From<&PersonAddress> for AppointmentAddress {
    fn from(p: &PersonAddress) -> Self {
        Self::from(p.address().as_ref())
    }
}
