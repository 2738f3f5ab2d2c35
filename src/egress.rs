//! Where Switchboard may connect when the address comes from someone else:
//! an outgoing webhook's URL (typed by an admin or sent through the API).
//! Only public addresses, over HTTPS, unless the operator names a host or
//! network in `OUTGOING_WEBHOOK_ALLOW`. The host is resolved once, every
//! address checked, and the connection made to a checked address only (the
//! client's resolver is this check, so a second lookup cannot rebind the
//! name to an inside address); redirects are never followed.

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use url::Url;

/// Why a request was not made. Shown in delivery logs as is: it names
/// the rule, never what the inside looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Plain HTTP to a host the allow-list does not name.
    NotHttps,
    /// The host is, or resolves only to, a loopback, private, link-local,
    /// shared (CGNAT), multicast, reserved or metadata address.
    PrivateAddress,
    /// The name does not resolve.
    Unresolvable,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refusal::NotHttps => "refused: plain http to a host not on the allow-list",
            Refusal::PrivateAddress => "refused: private address",
            Refusal::Unresolvable => "refused: the host name does not resolve",
        })
    }
}

impl std::error::Error for Refusal {}

/// One entry of the operator's allow-list.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Allowed {
    /// A host name, matched exactly (case-insensitive).
    Host(String),
    /// An address or a network (`10.0.0.0/8`, `::1`).
    Network { base: IpAddr, prefix: u8 },
}

/// The operator's exceptions to "public HTTPS only".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EgressPolicy {
    allowed: Vec<Allowed>,
}

impl EgressPolicy {
    /// Reads `OUTGOING_WEBHOOK_ALLOW`: host names, addresses and networks,
    /// separated by commas.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut allowed = Vec::new();
        for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            allowed.push(parse_entry(entry)?);
        }
        Ok(Self { allowed })
    }

    fn names_host(&self, host: &str) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        self.allowed.iter().any(|entry| match entry {
            Allowed::Host(name) => name.eq_ignore_ascii_case(host),
            Allowed::Network { base, prefix } => host
                .parse::<IpAddr>()
                .is_ok_and(|ip| in_network(ip, *base, *prefix)),
        })
    }

    fn names_address(&self, ip: IpAddr) -> bool {
        self.allowed.iter().any(|entry| match entry {
            Allowed::Network { base, prefix } => in_network(ip, *base, *prefix),
            Allowed::Host(_) => false,
        })
    }

    /// Whether a connection to `ip`, found for `host`, may be made.
    pub fn permits(&self, host: &str, ip: IpAddr) -> bool {
        is_public(ip) || self.names_host(host) || self.names_address(ip)
    }

    /// The checks that need no lookup: the scheme, and an address written
    /// in the URL (which the client connects to without resolving).
    pub fn check_url(&self, url: &Url) -> Result<(), Refusal> {
        let host = url.host_str().unwrap_or_default();
        match url.scheme() {
            "https" => {}
            "http" if self.names_host(host) => {}
            _ => return Err(Refusal::NotHttps),
        }
        let literal = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        match literal {
            Some(ip) if !self.permits(host, ip) => Err(Refusal::PrivateAddress),
            _ => Ok(()),
        }
    }

    /// An HTTP client that connects only where this policy permits, and
    /// never follows a redirect.
    pub fn client(&self, timeout: Duration) -> reqwest::Client {
        reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(GuardedResolver {
                policy: Arc::new(self.clone()),
            }))
            .build()
            .expect("a client with a resolver builds")
    }
}

/// The refusal behind a failed request, if the policy refused it.
pub fn refusal_of(error: &reqwest::Error) -> Option<Refusal> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        if let Some(refusal) = current.downcast_ref::<Refusal>() {
            return Some(refusal.clone());
        }
        source = current.source();
    }
    None
}

fn parse_entry(entry: &str) -> Result<Allowed, String> {
    let bad = || format!("`{entry}` is not a host name, an address or a network like 10.0.0.0/8");
    if let Some((base, prefix)) = entry.split_once('/') {
        let base: IpAddr = base.parse().map_err(|_| bad())?;
        let max = if base.is_ipv4() { 32 } else { 128 };
        let prefix: u8 = prefix.parse().ok().filter(|p| *p <= max).ok_or_else(bad)?;
        return Ok(Allowed::Network { base, prefix });
    }
    let bare = entry.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        let prefix = if ip.is_ipv4() { 32 } else { 128 };
        return Ok(Allowed::Network { base: ip, prefix });
    }
    let valid_name = entry
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if !valid_name || entry.len() > 253 {
        return Err(bad());
    }
    Ok(Allowed::Host(entry.to_ascii_lowercase()))
}

fn in_network(ip: IpAddr, base: IpAddr, prefix: u8) -> bool {
    match (canonical(ip), canonical(base)) {
        (IpAddr::V4(ip), IpAddr::V4(base)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(base) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(base)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(base) & mask
        }
        _ => false,
    }
}

/// An IPv4 address written as IPv6 (`::ffff:a.b.c.d`) is that IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Whether `ip` is on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let special = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // 169.254/16: cloud metadata lives here
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240; // reserved
    !special
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let segments = ip.segments();
    // NAT64 (64:ff9b::/96) and the old IPv4-compatible form (::a.b.c.d)
    // reach the IPv4 address they embed.
    let embedded = || {
        let [.., g, h] = segments;
        Ipv4Addr::from((u32::from(g) << 16) | u32::from(h))
    };
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(embedded());
    }
    if segments[..6] == [0; 6] {
        return false; // ::, ::1 and the IPv4-compatible form
    }
    let first = segments[0];
    let special = ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local (fd00:ec2::254 is a metadata address)
        || (first & 0xffc0) == 0xfe80 // link-local
        || (first & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (first == 0x2001 && segments[1] == 0x0db8) // documentation
        || segments[..4] == [0x0100, 0, 0, 0] // discard-only
        || (first == 0x2001 && segments[1] < 0x0200); // protocol assignments (Teredo, ORCHID...)
    !special
}

/// The client's name resolution: the policy's check, so the connection
/// goes to the addresses that passed it and nowhere else.
struct GuardedResolver {
    policy: Arc<EgressPolicy>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|_| Box::new(Refusal::Unresolvable) as Box<_>)?
                .collect();
            let permitted: Vec<SocketAddr> = found
                .into_iter()
                .filter(|addr| policy.permits(&host, addr.ip()))
                .collect();
            if permitted.is_empty() {
                return Err(Box::new(Refusal::PrivateAddress) as Box<_>);
            }
            Ok(Box::new(permitted.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn only_public_addresses_are_public() {
        for inside in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.100.100.200",
            "0.0.0.0",
            "0.1.2.3",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "198.18.0.1",
            "192.0.0.8",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "fd00:ec2::254",
            "fc00::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "100::1",
        ] {
            assert!(!is_public(ip(inside)), "{inside} is not public");
        }
        for outside in [
            "93.184.216.34",
            "8.8.8.8",
            "100.128.0.1",
            "172.32.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert!(is_public(ip(outside)), "{outside} is public");
        }
    }

    #[test]
    fn urls_are_checked_before_any_lookup() {
        let none = EgressPolicy::default();
        let check = |policy: &EgressPolicy, url: &str| policy.check_url(&Url::parse(url).unwrap());
        assert_eq!(check(&none, "https://hooks.example.com/x"), Ok(()));
        assert_eq!(
            check(&none, "http://hooks.example.com/x"),
            Err(Refusal::NotHttps)
        );
        assert_eq!(
            check(&none, "https://127.0.0.1/x"),
            Err(Refusal::PrivateAddress)
        );
        assert_eq!(
            check(&none, "https://[::ffff:169.254.169.254]/"),
            Err(Refusal::PrivateAddress)
        );
        assert_eq!(
            check(&none, "https://2130706433/"),
            Err(Refusal::PrivateAddress),
            "127.0.0.1 as a number"
        );
        assert_eq!(
            check(&none, "http://127.0.0.1:9000/x"),
            Err(Refusal::NotHttps)
        );

        let local = EgressPolicy::parse("127.0.0.1, localhost,10.0.0.0/8").unwrap();
        assert_eq!(check(&local, "http://127.0.0.1:9000/x"), Ok(()));
        assert_eq!(check(&local, "http://localhost:9000/x"), Ok(()));
        assert_eq!(check(&local, "https://10.9.8.7/x"), Ok(()));
        assert_eq!(
            check(&local, "https://192.168.0.1/x"),
            Err(Refusal::PrivateAddress)
        );
        assert!(
            local.permits("localhost", ip("::1")),
            "a named host resolves anywhere"
        );
        assert!(!local.permits("evil.example", ip("192.168.0.1")));
    }

    #[test]
    fn the_allow_list_refuses_what_it_cannot_read() {
        for bad in ["10.0.0.0/33", "::/129", "not a host", "a/b", "1.2.3.4/x"] {
            assert!(EgressPolicy::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(EgressPolicy::parse(" , ").unwrap(), EgressPolicy::default());
    }

    #[tokio::test]
    async fn a_name_that_resolves_inside_is_refused_when_connecting() {
        // `localhost` resolves to loopback: without an allow-list the
        // client never connects, and says why.
        let client = EgressPolicy::default().client(Duration::from_secs(5));
        let error = client
            .get("https://localhost:1/x")
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            refusal_of(&error),
            Some(Refusal::PrivateAddress),
            "{error:?}"
        );
    }
}
