//! An address on a page and on a form (a person's, an appointment's). The
//! form's fields are named as the JSON body's (`address.line1`), so the API's
//! messages land beside them.

use maud::{html, Markup};
use serde::Deserialize;

use super::forms::{input, Input, Messages};
use crate::problem::FieldError;
use crate::routes::people::AddressBody;
use crate::views::AddressView;

/// The address's lines, for a page.
pub fn lines(address: &AddressView) -> String {
    [
        Some(address.line1.as_str()),
        address.line2.as_deref(),
        address.city.as_deref(),
        address.region.as_deref(),
        address.postal_code.as_deref(),
        address.country.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join("\n")
}

/// The address fields as sent: text as typed, so a refused form shows them
/// again as they were.
#[derive(Deserialize, Default, Clone)]
pub struct AddressForm {
    #[serde(default, rename = "address.line1")]
    line1: String,
    #[serde(default, rename = "address.line2")]
    line2: String,
    #[serde(default, rename = "address.city")]
    city: String,
    #[serde(default, rename = "address.region")]
    region: String,
    #[serde(default, rename = "address.postal_code")]
    postal_code: String,
    #[serde(default, rename = "address.country")]
    country: String,
    #[serde(default, rename = "address.lat")]
    lat: String,
    #[serde(default, rename = "address.lon")]
    lon: String,
}

fn non_empty(text: &str) -> Option<String> {
    (!text.trim().is_empty()).then(|| text.to_owned())
}

impl AddressForm {
    /// The fields filled from a stored address, its position included, so
    /// saving the form unchanged keeps it.
    pub fn of(address: Option<&AddressView>) -> Self {
        let Some(a) = address else {
            return Self::default();
        };
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        let number = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
        Self {
            line1: a.line1.clone(),
            line2: text(&a.line2),
            city: text(&a.city),
            region: text(&a.region),
            postal_code: text(&a.postal_code),
            country: text(&a.country),
            lat: number(a.lat),
            lon: number(a.lon),
        }
    }

    /// The address as the JSON body would carry it: none when every part is
    /// empty. A coordinate that is not a number is noted in `messages`.
    pub fn body(&self, messages: &mut Vec<FieldError>) -> Option<AddressBody> {
        let parts = [
            &self.line1,
            &self.line2,
            &self.city,
            &self.region,
            &self.postal_code,
            &self.country,
            &self.lat,
            &self.lon,
        ];
        if parts.iter().all(|part| part.trim().is_empty()) {
            return None;
        }
        let mut number = |field: &str, raw: &str| match raw.trim() {
            "" => None,
            raw => raw
                .parse::<f64>()
                .map_err(|_| {
                    messages.push(FieldError::new(field, "must be a number such as 30.2672"))
                })
                .ok(),
        };
        let lat = number("address.lat", &self.lat);
        let lon = number("address.lon", &self.lon);
        Some(AddressBody {
            line1: self.line1.clone(),
            line2: non_empty(&self.line2),
            city: non_empty(&self.city),
            region: non_empty(&self.region),
            postal_code: non_empty(&self.postal_code),
            country: non_empty(&self.country),
            lat,
            lon,
        })
    }

    /// The fields in a fieldset under `legend`.
    pub fn fieldset(&self, legend: &str, hint: Option<&str>, messages: &Messages) -> Markup {
        let text =
            |name: &str, label: &str, value: &str, autocomplete: &str, hint: Option<&str>| {
                input(
                    &Input {
                        name,
                        label,
                        value,
                        kind: "text",
                        autocomplete,
                        required: false,
                        hint,
                    },
                    messages,
                )
            };
        html! {
            fieldset {
                legend { (legend) }
                @if let Some(hint) = hint { p class="hint" { (hint) } }
                (text("address.line1", "Street and number", &self.line1, "address-line1", None))
                (text("address.line2", "Address line 2", &self.line2, "address-line2", None))
                (text("address.city", "City", &self.city, "address-level2", None))
                (text("address.region", "Region or state", &self.region, "address-level1", None))
                (text("address.postal_code", "Postal code", &self.postal_code, "postal-code", None))
                (text("address.country", "Country", &self.country, "country", Some("Two letters, such as US.")))
                (text("address.lat", "Latitude", &self.lat, "off", None))
                (text("address.lon", "Longitude", &self.lon, "off", None))
            }
        }
    }
}
