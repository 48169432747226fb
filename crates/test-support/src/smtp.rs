//! A real SMTP server on loopback, speaking enough of RFC 5321 for a submission
//! client (EHLO, AUTH XOAUTH2 and PLAIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT),
//! that keeps every message it accepts. It checks XOAUTH2 the way Gmail does:
//! the SASL string `user=<user>\x01auth=Bearer <token>\x01\x01`.

use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// One message as the server received it.
#[derive(Debug, Clone, Default)]
pub struct ReceivedMail {
    /// The user that authenticated, and with what token or password.
    pub auth_user: Option<String>,
    pub auth_secret: Option<String>,
    pub auth_mechanism: Option<String>,
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// Headers and body, dot-unstuffed, CRLF line ends.
    pub data: String,
}

impl ReceivedMail {
    /// The value of a header (unfolded), if present.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next()?;
        let mut value: Option<String> = None;
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                if let Some(v) = value.as_mut() {
                    v.push_str(line.trim_start());
                }
                continue;
            }
            if value.is_some() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case(name) {
                    value = Some(v.trim().to_owned());
                }
            }
        }
        value
    }

    /// The body after the headers.
    pub fn body(&self) -> &str {
        self.data
            .split_once("\r\n\r\n")
            .map(|(_, b)| b)
            .unwrap_or("")
    }
}

#[derive(Clone)]
pub struct SmtpStandIn {
    pub port: u16,
    received: Arc<Mutex<Vec<ReceivedMail>>>,
    /// XOAUTH2 credentials it accepts.
    user: String,
    token: String,
}

impl SmtpStandIn {
    /// Starts the server; it accepts XOAUTH2 (or PLAIN) only for `user` with `token`.
    pub async fn start(user: &str, token: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the SMTP stand-in");
        let server = SmtpStandIn {
            port: listener.local_addr().expect("its address").port(),
            received: Arc::default(),
            user: user.to_owned(),
            token: token.to_owned(),
        };
        let handle = server.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let session = handle.clone();
                tokio::spawn(async move {
                    let _ = session.serve(stream).await;
                });
            }
        });
        server
    }

    pub fn received(&self) -> Vec<ReceivedMail> {
        self.received.lock().expect("not poisoned").clone()
    }

    fn credentials_ok(&self, user: &str, secret: &str) -> bool {
        user == self.user && secret == self.token
    }

    async fn serve(&self, stream: TcpStream) -> std::io::Result<()> {
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read);
        write.write_all(b"220 stand-in ESMTP ready\r\n").await?;
        let mut mail = ReceivedMail::default();
        let mut authed: Option<(String, String, String)> = None;
        let mut line = String::new();
        loop {
            line.clear();
            if lines.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let command = line.trim_end().to_owned();
            let upper = command.to_ascii_uppercase();
            if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                write
                    .write_all(b"250-stand-in\r\n250-AUTH XOAUTH2 PLAIN\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
                    .await?;
            } else if upper.starts_with("AUTH ") {
                let mut parts = command.split_whitespace().skip(1);
                let mechanism = parts.next().unwrap_or("").to_ascii_uppercase();
                let initial = match parts.next() {
                    Some(arg) => arg.to_owned(),
                    None => {
                        write.write_all(b"334 \r\n").await?;
                        line.clear();
                        lines.read_line(&mut line).await?;
                        line.trim_end().to_owned()
                    }
                };
                let decoded = STANDARD
                    .decode(initial.as_bytes())
                    .ok()
                    .and_then(|d| String::from_utf8(d).ok())
                    .unwrap_or_default();
                let (user, secret) = match mechanism.as_str() {
                    "XOAUTH2" => {
                        let mut user = String::new();
                        let mut token = String::new();
                        for part in decoded.split('\x01') {
                            if let Some(u) = part.strip_prefix("user=") {
                                user = u.to_owned();
                            } else if let Some(t) = part.strip_prefix("auth=Bearer ") {
                                token = t.to_owned();
                            }
                        }
                        (user, token)
                    }
                    "PLAIN" => {
                        let mut fields = decoded.split('\0').skip(1);
                        (
                            fields.next().unwrap_or("").to_owned(),
                            fields.next().unwrap_or("").to_owned(),
                        )
                    }
                    _ => (String::new(), String::new()),
                };
                if self.credentials_ok(&user, &secret) {
                    authed = Some((user, secret, mechanism));
                    write.write_all(b"235 2.7.0 Accepted\r\n").await?;
                } else {
                    write
                        .write_all(b"535 5.7.8 Username and Password not accepted\r\n")
                        .await?;
                }
            } else if upper.starts_with("MAIL FROM:") {
                if authed.is_none() {
                    write
                        .write_all(b"530 5.7.0 Authentication Required\r\n")
                        .await?;
                    continue;
                }
                mail = ReceivedMail::default();
                mail.mail_from = address(&command[10..]);
                write.write_all(b"250 2.1.0 OK\r\n").await?;
            } else if upper.starts_with("RCPT TO:") {
                mail.rcpt_to.push(address(&command[8..]));
                write.write_all(b"250 2.1.5 OK\r\n").await?;
            } else if upper == "DATA" {
                write.write_all(b"354 Go ahead\r\n").await?;
                let mut data = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" || line == ".\n" {
                        break;
                    }
                    let unstuffed = line.strip_prefix('.').unwrap_or(&line);
                    data.push_str(unstuffed);
                }
                if let Some((user, secret, mechanism)) = &authed {
                    mail.auth_user = Some(user.clone());
                    mail.auth_secret = Some(secret.clone());
                    mail.auth_mechanism = Some(mechanism.clone());
                }
                mail.data = data;
                self.received
                    .lock()
                    .expect("not poisoned")
                    .push(std::mem::take(&mut mail));
                write.write_all(b"250 2.0.0 OK queued\r\n").await?;
            } else if upper == "RSET" {
                mail = ReceivedMail::default();
                write.write_all(b"250 2.0.0 OK\r\n").await?;
            } else if upper == "NOOP" {
                write.write_all(b"250 2.0.0 OK\r\n").await?;
            } else if upper == "QUIT" {
                write.write_all(b"221 2.0.0 Bye\r\n").await?;
                return Ok(());
            } else {
                write
                    .write_all(b"502 5.5.1 Unrecognized command\r\n")
                    .await?;
            }
        }
    }
}

fn address(raw: &str) -> String {
    let raw = raw.trim();
    let inner = raw
        .strip_prefix('<')
        .and_then(|r| r.split('>').next())
        .unwrap_or(raw);
    inner.to_owned()
}
