//! Where a webhook may go. A subscriber names the URL, so without a check it
//! could make this server call its own internal network (SSRF): the database,
//! an admin port, the cloud's metadata service with its credentials. A target
//! must be `https` and resolve only to public addresses, checked when the URL
//! is registered and again on every connection the delivery makes (the name
//! may resolve elsewhere by then: DNS rebinding).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use futures_util::future::BoxFuture;
use ipnet::{Ipv4Net, Ipv6Net};
use url::{Host, Url};

/// Longer URLs are refused at registration.
pub const MAX_URL_LEN: usize = 2048;

/// How long registration waits for the name to resolve.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Which targets are allowed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TargetPolicy {
    /// Also allow plain `http` and private, loopback, link-local and other
    /// non-public addresses: for tests and receivers on the operator's own
    /// network. Cloud metadata addresses stay refused even then.
    pub allow_private_targets: bool,
}

/// What kind of non-public address a target resolved to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressKind {
    Loopback,
    /// RFC 1918, and IPv6 unique local addresses (fc00::/7).
    Private,
    LinkLocal,
    /// 100.64.0.0/10, carrier-grade NAT (RFC 6598).
    SharedAddressSpace,
    Unspecified,
    Multicast,
    Broadcast,
    Documentation,
    /// A cloud provider's instance metadata service.
    Metadata,
    /// Anything else that is not a public unicast address: benchmarking,
    /// protocol assignments, reserved and unallocated ranges.
    Reserved,
}

impl AddressKind {
    fn described(self) -> &'static str {
        match self {
            AddressKind::Loopback => "a loopback address",
            AddressKind::Private => "a private network address",
            AddressKind::LinkLocal => "a link-local address",
            AddressKind::SharedAddressSpace => "a carrier-grade NAT address",
            AddressKind::Unspecified => "an unspecified address",
            AddressKind::Multicast => "a multicast address",
            AddressKind::Broadcast => "a broadcast address",
            AddressKind::Documentation => "a documentation address",
            AddressKind::Metadata => "a cloud metadata service",
            AddressKind::Reserved => "a reserved address",
        }
    }
}

/// Why a target URL is refused. The text is written for the `url` field of a
/// 422 answer: it never names the address a host resolved to, so registering
/// URLs cannot be used to read the server's internal DNS.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("must be an absolute URL")]
    Invalid,
    #[error("must be at most {MAX_URL_LEN} characters")]
    TooLong,
    #[error("must use https")]
    HttpsRequired,
    #[error("must use https or http")]
    UnsupportedScheme,
    #[error("must not point to a cloud metadata service")]
    MetadataHost,
    #[error("must not point to {}", kind.described())]
    ForbiddenAddress { kind: AddressKind, address: IpAddr },
    #[error("its host does not resolve")]
    Unresolvable,
}

impl TargetError {
    /// The request field the error belongs to.
    pub fn field(&self) -> &'static str {
        "url"
    }

    /// Whether the policy refused the target (as opposed to its name not
    /// resolving, which may pass).
    pub fn is_refusal(&self) -> bool {
        !matches!(self, TargetError::Unresolvable)
    }
}

/// Resolves host names; injectable so tests need no DNS.
pub trait Resolve: Send + Sync {
    /// Every address `host` resolves to.
    fn resolve(&self, host: &str) -> BoxFuture<'static, io::Result<Vec<IpAddr>>>;
}

/// The operating system's resolver (`getaddrinfo`, on tokio's blocking pool).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve(&self, host: &str) -> BoxFuture<'static, io::Result<Vec<IpAddr>>> {
        let host = host.to_owned();
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
            Ok(addrs.map(|addr| addr.ip()).collect())
        })
    }
}

/// A URL that passed the policy's static checks (scheme, metadata names,
/// address literals). Whether its name resolves to allowed addresses is
/// checked separately, at registration and on every connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetUrl(Url);

impl TargetUrl {
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn as_url(&self) -> &Url {
        &self.0
    }

    /// The host name to resolve, or `None` for an address literal.
    fn domain(&self) -> Option<&str> {
        match self.0.host() {
            Some(Host::Domain(domain)) => Some(domain),
            _ => None,
        }
    }
}

impl std::fmt::Display for TargetUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Names that reach a metadata service without looking like an address.
const METADATA_NAMES: &[&str] = &[
    "metadata.google.internal",
    "metadata",
    "instance-data.ec2.internal",
];

/// Metadata services, refused even when private targets are allowed: no
/// webhook receiver lives there, and they hand out the host's credentials.
const METADATA_ADDRS: &[IpAddr] = &[
    // AWS, GCP, Azure, Oracle, DigitalOcean, OpenStack
    IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)),
    // AWS ECS task credentials, EKS pod identity
    IpAddr::V4(Ipv4Addr::new(169, 254, 170, 2)),
    IpAddr::V4(Ipv4Addr::new(169, 254, 170, 23)),
    // Alibaba Cloud
    IpAddr::V4(Ipv4Addr::new(100, 100, 100, 200)),
    // Azure's WireServer: a public address, reachable only from inside Azure
    IpAddr::V4(Ipv4Addr::new(168, 63, 129, 16)),
    // AWS over IPv6, EKS pod identity over IPv6
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)),
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x23)),
];

const fn v4(a: u8, b: u8, c: u8, d: u8, len: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), len)
}

#[allow(clippy::too_many_arguments)]
const fn v6(a: u16, b: u16, c: u16, d: u16, e: u16, f: u16, g: u16, h: u16, len: u8) -> Ipv6Net {
    Ipv6Net::new_assert(Ipv6Addr::new(a, b, c, d, e, f, g, h), len)
}

/// The IANA IPv4 special-purpose registry's ranges that are not globally
/// reachable; the first match names the kind.
const V4_RANGES: &[(Ipv4Net, AddressKind)] = &[
    (v4(0, 0, 0, 0, 8), AddressKind::Unspecified),
    (v4(10, 0, 0, 0, 8), AddressKind::Private),
    (v4(100, 64, 0, 0, 10), AddressKind::SharedAddressSpace),
    (v4(127, 0, 0, 0, 8), AddressKind::Loopback),
    (v4(169, 254, 0, 0, 16), AddressKind::LinkLocal),
    (v4(172, 16, 0, 0, 12), AddressKind::Private),
    (v4(192, 0, 0, 0, 24), AddressKind::Reserved),
    (v4(192, 0, 2, 0, 24), AddressKind::Documentation),
    (v4(192, 88, 99, 0, 24), AddressKind::Reserved),
    (v4(192, 168, 0, 0, 16), AddressKind::Private),
    (v4(198, 18, 0, 0, 15), AddressKind::Reserved),
    (v4(198, 51, 100, 0, 24), AddressKind::Documentation),
    (v4(203, 0, 113, 0, 24), AddressKind::Documentation),
    (v4(224, 0, 0, 0, 4), AddressKind::Multicast),
    (v4(255, 255, 255, 255, 32), AddressKind::Broadcast),
    (v4(240, 0, 0, 0, 4), AddressKind::Reserved),
];

/// The same for IPv6, after the forms that carry an IPv4 address inside
/// (mapped, NAT64, 6to4) have been judged by that address.
const V6_RANGES: &[(Ipv6Net, AddressKind)] = &[
    (v6(0, 0, 0, 0, 0, 0, 0, 0, 128), AddressKind::Unspecified),
    (v6(0, 0, 0, 0, 0, 0, 0, 1, 128), AddressKind::Loopback),
    (v6(0xfc00, 0, 0, 0, 0, 0, 0, 0, 7), AddressKind::Private),
    (v6(0xfe80, 0, 0, 0, 0, 0, 0, 0, 10), AddressKind::LinkLocal),
    // Deprecated site-local: private by another name.
    (v6(0xfec0, 0, 0, 0, 0, 0, 0, 0, 10), AddressKind::Private),
    (v6(0xff00, 0, 0, 0, 0, 0, 0, 0, 8), AddressKind::Multicast),
    (
        v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0, 32),
        AddressKind::Documentation,
    ),
    (
        v6(0x3fff, 0, 0, 0, 0, 0, 0, 0, 20),
        AddressKind::Documentation,
    ),
    // Protocol assignments, Teredo, benchmarking, ORCHID.
    (v6(0x2001, 0, 0, 0, 0, 0, 0, 0, 23), AddressKind::Reserved),
];

const NAT64: Ipv6Net = v6(0x64, 0xff9b, 0, 0, 0, 0, 0, 0, 96);
const SIX_TO_FOUR: Ipv6Net = v6(0x2002, 0, 0, 0, 0, 0, 0, 0, 16);
/// Global unicast; everything outside it is reserved or special.
const GLOBAL_UNICAST: Ipv6Net = v6(0x2000, 0, 0, 0, 0, 0, 0, 0, 3);

/// What kind of non-public address `ip` is, or `None` for a public one.
pub fn classify(ip: IpAddr) -> Option<AddressKind> {
    match ip {
        IpAddr::V4(ip) => classify_v4(ip),
        IpAddr::V6(ip) => classify_v6(ip),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<AddressKind> {
    if METADATA_ADDRS.contains(&IpAddr::V4(ip)) {
        return Some(AddressKind::Metadata);
    }
    V4_RANGES
        .iter()
        .find(|(net, _)| net.contains(&ip))
        .map(|(_, kind)| *kind)
}

fn classify_v6(ip: Ipv6Addr) -> Option<AddressKind> {
    if METADATA_ADDRS.contains(&IpAddr::V6(ip)) {
        return Some(AddressKind::Metadata);
    }
    let octets = ip.octets();
    // These reach the IPv4 address they carry.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    if NAT64.contains(&ip) {
        return classify_v4(Ipv4Addr::new(
            octets[12], octets[13], octets[14], octets[15],
        ));
    }
    if SIX_TO_FOUR.contains(&ip) {
        return classify_v4(Ipv4Addr::new(octets[2], octets[3], octets[4], octets[5]));
    }
    if let Some((_, kind)) = V6_RANGES.iter().find(|(net, _)| net.contains(&ip)) {
        return Some(*kind);
    }
    (!GLOBAL_UNICAST.contains(&ip)).then_some(AddressKind::Reserved)
}

impl TargetPolicy {
    /// Whether a connection to `ip` is allowed.
    pub fn check_address(&self, ip: IpAddr) -> Result<(), TargetError> {
        match classify(ip) {
            None => Ok(()),
            Some(AddressKind::Metadata) => Err(TargetError::ForbiddenAddress {
                kind: AddressKind::Metadata,
                address: ip,
            }),
            Some(_) if self.allow_private_targets => Ok(()),
            Some(kind) => Err(TargetError::ForbiddenAddress { kind, address: ip }),
        }
    }

    /// The checks that need no DNS: the URL's form, its scheme, metadata names
    /// and address literals. Run again on every delivery, since the policy
    /// may have been tightened since the URL was registered.
    pub fn parse(&self, url: &str) -> Result<TargetUrl, TargetError> {
        if url.len() > MAX_URL_LEN {
            return Err(TargetError::TooLong);
        }
        let parsed = Url::parse(url).map_err(|_| TargetError::Invalid)?;
        match parsed.scheme() {
            "https" => {}
            "http" if self.allow_private_targets => {}
            "http" => return Err(TargetError::HttpsRequired),
            _ if self.allow_private_targets => return Err(TargetError::UnsupportedScheme),
            _ => return Err(TargetError::HttpsRequired),
        }
        match parsed.host() {
            None => return Err(TargetError::Invalid),
            Some(Host::Domain(domain)) => {
                // `url` has lower-cased it; a trailing dot names the same host.
                if METADATA_NAMES.contains(&domain.trim_end_matches('.')) {
                    return Err(TargetError::MetadataHost);
                }
            }
            // Literals (the `url` crate also reads `2130706433` or `0x7f.1`
            // as IPv4) never reach a resolver, so they are checked here.
            Some(Host::Ipv4(ip)) => self.check_address(IpAddr::V4(ip))?,
            Some(Host::Ipv6(ip)) => self.check_address(IpAddr::V6(ip))?,
        }
        Ok(TargetUrl(parsed))
    }

    /// Resolves `host` once and checks every address; the addresses to
    /// connect to, or why not. One forbidden address refuses the host: a
    /// name that points partly inside is not a public receiver.
    pub async fn resolve_checked(
        &self,
        resolver: &dyn Resolve,
        host: &str,
    ) -> Result<Vec<IpAddr>, TargetError> {
        let addrs = resolver
            .resolve(host)
            .await
            .map_err(|_| TargetError::Unresolvable)?;
        if addrs.is_empty() {
            return Err(TargetError::Unresolvable);
        }
        for ip in &addrs {
            self.check_address(*ip)?;
        }
        Ok(addrs)
    }

    /// The check at registration: the URL's form, then its name resolved.
    pub async fn check(&self, url: &str, resolver: &dyn Resolve) -> Result<TargetUrl, TargetError> {
        let target = self.parse(url)?;
        if let Some(domain) = target.domain() {
            tokio::time::timeout(RESOLVE_TIMEOUT, self.resolve_checked(resolver, domain))
                .await
                .map_err(|_| TargetError::Unresolvable)??;
        }
        Ok(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn public_addresses_pass() {
        for text in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.215.14",
            "100.63.255.255",
            "100.128.0.0",
            "172.32.0.1",
            "2606:4700:4700::1111",
            "2a00:1450:4001:80b::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert_eq!(classify(ip(text)), None, "{text}");
        }
    }

    #[test]
    fn non_public_addresses_are_named() {
        use AddressKind::*;
        for (text, kind) in [
            ("127.0.0.1", Loopback),
            ("127.255.0.9", Loopback),
            ("::1", Loopback),
            ("10.1.2.3", Private),
            ("172.16.0.1", Private),
            ("172.31.255.255", Private),
            ("192.168.1.1", Private),
            ("fc00::1", Private),
            ("fd12:3456::1", Private),
            ("fec0::1", Private),
            ("169.254.1.1", LinkLocal),
            ("fe80::1", LinkLocal),
            ("100.64.0.1", SharedAddressSpace),
            ("100.127.255.254", SharedAddressSpace),
            ("0.0.0.0", Unspecified),
            ("0.1.2.3", Unspecified),
            ("::", Unspecified),
            ("224.0.0.1", Multicast),
            ("239.255.255.250", Multicast),
            ("ff02::1", Multicast),
            ("255.255.255.255", Broadcast),
            ("192.0.2.1", Documentation),
            ("198.51.100.7", Documentation),
            ("203.0.113.9", Documentation),
            ("2001:db8::1", Documentation),
            ("3fff::1", Documentation),
            ("198.18.0.1", Reserved),
            ("192.0.0.8", Reserved),
            ("240.0.0.1", Reserved),
            ("2001::1", Reserved),
            ("100::1", Reserved),
            ("4000::1", Reserved),
            ("::1.2.3.4", Reserved),
            ("169.254.169.254", Metadata),
            ("169.254.170.2", Metadata),
            ("100.100.100.200", Metadata),
            ("168.63.129.16", Metadata),
            ("fd00:ec2::254", Metadata),
            // IPv4 inside IPv6: judged by the IPv4 address they reach.
            ("::ffff:127.0.0.1", Loopback),
            ("::ffff:10.0.0.1", Private),
            ("::ffff:169.254.169.254", Metadata),
            ("64:ff9b::7f00:1", Loopback),
            ("64:ff9b::a9fe:a9fe", Metadata),
            ("2002:c0a8:0101::1", Private),
            ("2002:7f00:1::", Loopback),
        ] {
            assert_eq!(classify(ip(text)), Some(kind), "{text}");
        }
    }

    const STRICT: TargetPolicy = TargetPolicy {
        allow_private_targets: false,
    };
    const OPEN: TargetPolicy = TargetPolicy {
        allow_private_targets: true,
    };

    #[test]
    fn only_https_unless_private_targets_are_allowed() {
        assert!(STRICT.parse("https://hooks.example.com/in").is_ok());
        assert_eq!(
            STRICT.parse("http://hooks.example.com/in"),
            Err(TargetError::HttpsRequired)
        );
        assert_eq!(
            STRICT.parse("ftp://hooks.example.com/in"),
            Err(TargetError::HttpsRequired)
        );
        assert!(OPEN.parse("http://hooks.example.com/in").is_ok());
        assert_eq!(
            OPEN.parse("ftp://hooks.example.com/in"),
            Err(TargetError::UnsupportedScheme)
        );
        assert_eq!(STRICT.parse("/relative"), Err(TargetError::Invalid));
        assert_eq!(STRICT.parse("not a url"), Err(TargetError::Invalid));
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN));
        assert_eq!(STRICT.parse(&long), Err(TargetError::TooLong));
    }

    #[test]
    fn address_literals_in_any_spelling_are_checked() {
        for url in [
            "https://127.0.0.1/",
            "https://2130706433/",
            "https://0x7f.1/",
            "https://0177.0.0.1/",
            "https://[::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://10.0.0.1:8443/x",
            "https://[fd00::1]/",
        ] {
            assert!(
                matches!(STRICT.parse(url), Err(TargetError::ForbiddenAddress { .. })),
                "{url}"
            );
            assert!(OPEN.parse(url).is_ok(), "{url}");
        }
        assert!(STRICT.parse("https://93.184.215.14/").is_ok());
    }

    #[test]
    fn metadata_stays_refused_even_when_private_targets_are_allowed() {
        for policy in [STRICT, OPEN] {
            for url in [
                "http://169.254.169.254/latest/meta-data/",
                "https://169.254.169.254/latest/meta-data/",
                "https://[fd00:ec2::254]/",
                "https://[::ffff:169.254.169.254]/",
            ] {
                if url.starts_with("http:") && !policy.allow_private_targets {
                    continue;
                }
                assert!(
                    matches!(
                        policy.parse(url),
                        Err(TargetError::ForbiddenAddress {
                            kind: AddressKind::Metadata,
                            ..
                        })
                    ),
                    "{url}"
                );
            }
            for url in [
                "https://metadata.google.internal/computeMetadata/v1/",
                "https://METADATA.google.internal./",
                "https://metadata/",
            ] {
                assert_eq!(policy.parse(url), Err(TargetError::MetadataHost), "{url}");
            }
            assert!(policy.check_address(ip("169.254.169.254")).is_err());
        }
    }

    #[test]
    fn the_422_text_names_no_address() {
        let err = STRICT.parse("https://10.20.30.40/").unwrap_err();
        assert_eq!(
            err.to_string(),
            "must not point to a private network address"
        );
        assert_eq!(err.field(), "url");
        assert!(!err.to_string().contains("10.20"));
    }

    struct Table(HashMap<&'static str, Vec<IpAddr>>);

    impl Resolve for Table {
        fn resolve(&self, host: &str) -> BoxFuture<'static, io::Result<Vec<IpAddr>>> {
            let answer = self
                .0
                .get(host)
                .cloned()
                .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such host"));
            Box::pin(async move { answer })
        }
    }

    fn table() -> Table {
        Table(HashMap::from([
            (
                "public.example",
                vec![ip("93.184.215.14"), ip("2606:2800::1")],
            ),
            ("internal.example", vec![ip("10.0.0.5")]),
            ("mixed.example", vec![ip("93.184.215.14"), ip("127.0.0.1")]),
            ("metadata.example", vec![ip("169.254.169.254")]),
            ("empty.example", vec![]),
        ]))
    }

    #[tokio::test]
    async fn registration_resolves_and_checks_every_address() {
        let dns = table();
        assert!(STRICT
            .check("https://public.example/hook", &dns)
            .await
            .is_ok());
        assert!(matches!(
            STRICT.check("https://internal.example/hook", &dns).await,
            Err(TargetError::ForbiddenAddress {
                kind: AddressKind::Private,
                ..
            })
        ));
        // One inside address is enough to refuse.
        assert!(matches!(
            STRICT.check("https://mixed.example/hook", &dns).await,
            Err(TargetError::ForbiddenAddress {
                kind: AddressKind::Loopback,
                ..
            })
        ));
        assert_eq!(
            STRICT.check("https://nowhere.example/hook", &dns).await,
            Err(TargetError::Unresolvable)
        );
        assert_eq!(
            STRICT.check("https://empty.example/hook", &dns).await,
            Err(TargetError::Unresolvable)
        );
        // Allowed: private and plain http; still never metadata.
        assert!(OPEN.check("http://internal.example/", &dns).await.is_ok());
        assert!(OPEN.check("https://mixed.example/", &dns).await.is_ok());
        assert!(matches!(
            OPEN.check("https://metadata.example/", &dns).await,
            Err(TargetError::ForbiddenAddress {
                kind: AddressKind::Metadata,
                ..
            })
        ));
    }
}
