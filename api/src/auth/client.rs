//! The address a request came from, for limits per client.

use actix_web::http::header::HeaderMap;
use actix_web::HttpRequest;

use fieldcrm_app::config::Settings;

/// The client's address: the peer's, or behind trusted proxies the entry of
/// `X-Forwarded-For` that the outermost of them appended. Entries to the left
/// of it are whatever the client sent, so they are never believed.
pub fn client_address(req: &HttpRequest, settings: &Settings) -> Option<String> {
    let peer = req.peer_addr().map(|addr| addr.ip().to_string());
    if !settings.trust_forwarded_for {
        return peer;
    }
    forwarded_for(req.headers(), settings.forwarded_for_proxies).or(peer)
}

/// The entry `proxies` places from the right of every `X-Forwarded-For` line
/// taken in order; `None` when the request passed through fewer proxies.
fn forwarded_for(headers: &HeaderMap, proxies: usize) -> Option<String> {
    let mut hops = Vec::new();
    for line in headers.get_all("x-forwarded-for") {
        let line = line.to_str().ok()?;
        hops.extend(line.split(',').map(str::trim));
    }
    let index = hops.len().checked_sub(proxies.max(1))?;
    let hop = hops.get(index)?;
    (!hop.is_empty()).then(|| (*hop).to_owned())
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{HeaderName, HeaderValue};

    use super::*;

    fn headers(lines: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for line in lines {
            map.append(
                HeaderName::from_static("x-forwarded-for"),
                HeaderValue::from_str(line).unwrap(),
            );
        }
        map
    }

    #[test]
    fn the_hop_the_trusted_proxies_appended_is_taken() {
        let sent = headers(&["6.6.6.6, 10.0.0.1", "203.0.113.9"]);
        assert_eq!(forwarded_for(&sent, 1).as_deref(), Some("203.0.113.9"));
        assert_eq!(forwarded_for(&sent, 2).as_deref(), Some("10.0.0.1"));
        assert_eq!(forwarded_for(&sent, 3).as_deref(), Some("6.6.6.6"));
        // Fewer hops than proxies: the header was not written by them.
        assert_eq!(forwarded_for(&sent, 4), None);
        assert_eq!(forwarded_for(&headers(&[]), 1), None);
        assert_eq!(forwarded_for(&headers(&["1.2.3.4, "]), 1), None);
    }
}
