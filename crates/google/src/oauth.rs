//! The OAuth 2.0 grant: authorization code with PKCE, offline access, refresh,
//! revocation. Built on the `oauth2` crate; revocation is a plain form POST
//! because that crate only accepts an https revocation URL, and tests point it at
//! a stand-in on loopback.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use oauth2::basic::{
    BasicErrorResponse, BasicErrorResponseType, BasicRevocationErrorResponse,
    BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::{
    AuthUrl, AuthorizationCode, Client, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken,
    RequestTokenError, Scope, StandardRevocableToken, StandardTokenResponse, TokenResponse,
    TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// Read and write the account's calendar events.
pub const SCOPE_CALENDAR_EVENTS: &str = "https://www.googleapis.com/auth/calendar.events";
/// Send mail as the connected address (Gmail SMTP with XOAUTH2).
pub const SCOPE_GMAIL: &str = "https://mail.google.com/";
/// Who connected: the address shown in the integration's status.
pub const SCOPES_IDENTITY: [&str; 2] = ["openid", "email"];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    /// The grant was revoked or expired: only a new connect helps.
    #[error("the grant is no longer valid")]
    InvalidGrant,
    /// Google or the network failed; worth trying again.
    #[error("temporary failure: {0}")]
    Transient(String),
    /// Refused for a reason retrying will not change (a misconfigured client).
    #[error("refused: {0}")]
    Rejected(String),
}

/// Where the user is sent to consent, and what must be kept until they return.
pub struct Authorization {
    pub url: String,
    pub state: String,
    pub pkce_verifier: String,
}

/// Tokens from an exchange or a refresh.
#[derive(Debug, Clone)]
pub struct Grant {
    pub access_token: String,
    pub expires_at: DateTime<Utc>,
    /// Present on the first exchange (offline access); a refresh may rotate it.
    pub refresh_token: Option<String>,
    pub scopes: Vec<String>,
    /// From the ID token, when `openid email` was granted.
    pub email: Option<String>,
    /// The Google account's stable id (`sub`), from the ID token.
    pub subject: Option<String>,
}

/// The authorization server, behind a trait so the service does not care which.
pub trait Authorizer: Send + Sync {
    fn authorize(&self, scopes: &[&str]) -> Authorization;
    fn exchange<'a>(
        &'a self,
        code: &'a str,
        pkce_verifier: &'a str,
    ) -> BoxFuture<'a, Result<Grant, OAuthError>>;
    fn refresh<'a>(&'a self, refresh_token: &'a str) -> BoxFuture<'a, Result<Grant, OAuthError>>;
    /// Revokes the grant; a token Google no longer knows counts as revoked.
    fn revoke<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<(), OAuthError>>;
}

#[derive(Debug, Clone)]
pub struct OAuthConfig {
    pub client_id: String,
    pub client_secret: SecretString,
    pub auth_url: String,
    pub token_url: String,
    pub revoke_url: String,
    pub redirect_url: String,
    pub timeout: Duration,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdTokenField {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}
impl ExtraTokenFields for IdTokenField {}

type GoogleTokenResponse = StandardTokenResponse<IdTokenField, BasicTokenType>;
type OAuthClient = Client<
    BasicErrorResponse,
    GoogleTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

pub struct GoogleOAuth {
    client: OAuthClient,
    http: reqwest::Client,
    revoke_url: String,
}

impl GoogleOAuth {
    pub fn new(config: OAuthConfig) -> Result<Self, OAuthError> {
        let bad = |what: &str| OAuthError::Rejected(format!("{what} is not a valid URL"));
        let client = Client::new(ClientId::new(config.client_id))
            .set_client_secret(ClientSecret::new(
                config.client_secret.expose_secret().to_owned(),
            ))
            .set_auth_uri(AuthUrl::new(config.auth_url).map_err(|_| bad("the auth URL"))?)
            .set_token_uri(TokenUrl::new(config.token_url).map_err(|_| bad("the token URL"))?)
            .set_redirect_uri(
                RedirectUrl::new(config.redirect_url).map_err(|_| bad("the redirect URL"))?,
            );
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            // Following redirects from a token endpoint invites SSRF.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|err| OAuthError::Rejected(err.to_string()))?;
        Ok(GoogleOAuth {
            client,
            http,
            revoke_url: config.revoke_url,
        })
    }

    async fn token_request(
        &self,
        result: Result<
            GoogleTokenResponse,
            RequestTokenError<oauth2::HttpClientError<reqwest::Error>, BasicErrorResponse>,
        >,
    ) -> Result<Grant, OAuthError> {
        let response = result.map_err(token_error)?;
        let expires_in = response
            .expires_in()
            .unwrap_or(Duration::from_secs(3600))
            .min(Duration::from_secs(24 * 3600));
        let identity = response
            .extra_fields()
            .id_token
            .as_deref()
            .and_then(claims_of_id_token);
        Ok(Grant {
            access_token: response.access_token().secret().clone(),
            expires_at: Utc::now()
                + chrono::Duration::from_std(expires_in).unwrap_or(chrono::Duration::hours(1)),
            refresh_token: response.refresh_token().map(|t| t.secret().clone()),
            scopes: response
                .scopes()
                .map(|s| s.iter().map(|scope| scope.to_string()).collect())
                .unwrap_or_default(),
            email: identity.as_ref().and_then(|c| claim(c, "email")),
            subject: identity.as_ref().and_then(|c| claim(c, "sub")),
        })
    }
}

impl Authorizer for GoogleOAuth {
    fn authorize(&self, scopes: &[&str]) -> Authorization {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = self
            .client
            .authorize_url(CsrfToken::new_random)
            .add_scopes(scopes.iter().map(|s| Scope::new((*s).to_owned())))
            // A refresh token is issued only with offline access, and again
            // only when consent is asked for anew.
            .add_extra_param("access_type", "offline")
            .add_extra_param("prompt", "consent")
            .set_pkce_challenge(challenge)
            .url();
        Authorization {
            url: url.to_string(),
            state: state.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        }
    }

    fn exchange<'a>(
        &'a self,
        code: &'a str,
        pkce_verifier: &'a str,
    ) -> BoxFuture<'a, Result<Grant, OAuthError>> {
        Box::pin(async move {
            let result = self
                .client
                .exchange_code(AuthorizationCode::new(code.to_owned()))
                .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
                .request_async(&self.http)
                .await;
            self.token_request(result).await
        })
    }

    fn refresh<'a>(&'a self, refresh_token: &'a str) -> BoxFuture<'a, Result<Grant, OAuthError>> {
        Box::pin(async move {
            let token = RefreshToken::new(refresh_token.to_owned());
            let result = self
                .client
                .exchange_refresh_token(&token)
                .request_async(&self.http)
                .await;
            self.token_request(result).await
        })
    }

    fn revoke<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<(), OAuthError>> {
        Box::pin(async move {
            let response = self
                .http
                .post(&self.revoke_url)
                .form(&[("token", token)])
                .send()
                .await
                .map_err(|err| OAuthError::Transient(without_url(&err)))?;
            let status = response.status();
            if status.is_success() {
                return Ok(());
            }
            if status.is_server_error() || status.as_u16() == 429 {
                return Err(OAuthError::Transient(format!(
                    "revocation answered {status}"
                )));
            }
            // 400 `invalid_token`: already revoked or expired, which is the goal.
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            match body.get("error").and_then(|e| e.as_str()) {
                Some("invalid_token") => Ok(()),
                Some(other) => Err(OAuthError::Rejected(format!("revocation refused: {other}"))),
                None => Err(OAuthError::Rejected(format!(
                    "revocation answered {status}"
                ))),
            }
        })
    }
}

fn token_error(
    err: RequestTokenError<oauth2::HttpClientError<reqwest::Error>, BasicErrorResponse>,
) -> OAuthError {
    match err {
        RequestTokenError::ServerResponse(response) => match response.error() {
            BasicErrorResponseType::InvalidGrant => OAuthError::InvalidGrant,
            BasicErrorResponseType::Extension(code) => {
                OAuthError::Transient(format!("token endpoint: {code}"))
            }
            other => OAuthError::Rejected(format!("token endpoint: {other}")),
        },
        RequestTokenError::Request(err) => OAuthError::Transient(format!("token request: {err}")),
        RequestTokenError::Parse(_, _) => {
            OAuthError::Transient("token endpoint answered something unreadable".into())
        }
        RequestTokenError::Other(text) => OAuthError::Transient(text),
    }
}

/// The ID token comes straight from the token endpoint over TLS, which OpenID
/// Connect Core §3.1.3.7 accepts in place of checking its signature.
fn claims_of_id_token(id_token: &str) -> Option<serde_json::Value> {
    let payload = id_token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn claim(claims: &serde_json::Value, name: &str) -> Option<String> {
    claims.get(name)?.as_str().map(str::to_owned)
}

/// reqwest's errors name the URL, whose query may hold a token.
fn without_url(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        "timed out".into()
    } else if err.is_connect() {
        "could not connect".into()
    } else {
        "request failed".into()
    }
}
