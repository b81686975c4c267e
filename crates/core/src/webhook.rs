//! Outgoing webhooks as the Standard Webhooks specification signs them: each delivery carries
//! `webhook-id` (the occurrence's id, the same on every retry), `webhook-timestamp` (Unix seconds)
//! and `webhook-signature` (`v1,` + base64 of HMAC-SHA256 over `id.timestamp.body`, keyed by the
//! endpoint secret's bytes; several space-separated while a rotated secret overlaps the new one).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::net::IpAddr;
use std::time::Duration;

/// The workspace events an endpoint may subscribe to.
pub const EVENTS: [&str; 8] = [
    "account.created",
    "account.updated",
    "account.deleted",
    "account.stage_changed",
    "health.band_changed",
    "segment.entered",
    "segment.left",
    "playbook.fired",
];

/// The longest endpoint URL accepted.
pub const MAX_URL: usize = 2_048;

/// The bytes an endpoint's secret is made of, shown once as `whsec_` + base64.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

impl Secret {
    /// A secret from 24 random bytes (the caller's randomness: core has none).
    pub fn from_bytes(bytes: Vec<u8>) -> Secret {
        Secret(bytes)
    }

    /// Reads `whsec_…` back.
    pub fn parse(text: &str) -> Result<Secret, String> {
        let b64 = text.strip_prefix("whsec_").ok_or("a webhook secret starts with whsec_")?;
        let bytes = B64.decode(b64).map_err(|_| "a webhook secret is whsec_ and base64".to_owned())?;
        if bytes.len() < 16 {
            return Err("a webhook secret holds at least 16 bytes".into());
        }
        Ok(Secret(bytes))
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// `whsec_` + base64, as the endpoint's owner copies it.
    pub fn encoded(&self) -> String {
        format!("whsec_{}", B64.encode(&self.0))
    }
}

/// An endpoint URL as people without the right to manage endpoints see it: its origin only
/// (`https://hooks.slack.com/…`), since for many services the path is the credential.
pub fn origin_only(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else { return "…".into() };
    let rest = &url[scheme_end + 3..];
    match rest.find(['/', '?', '#']) {
        Some(at) if at + 1 < rest.len() => format!("{}{}/…", &url[..scheme_end + 3], &rest[..at]),
        _ => url.to_owned(),
    }
}

/// The `webhook-signature` header: one `v1,…` per secret (the new one first during a rotation).
pub fn signature(secrets: &[&Secret], id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .map(|s| {
            let mut mac = Hmac::<Sha256>::new_from_slice(s.bytes()).expect("HMAC takes a key of any length");
            mac.update(id.as_bytes());
            mac.update(b".");
            mac.update(timestamp.to_string().as_bytes());
            mac.update(b".");
            mac.update(body);
            format!("v1,{}", B64.encode(mac.finalize().into_bytes()))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether an address is one a webhook may reach without the operator's leave: not loopback,
/// private, link-local, shared (CGNAT), unspecified, multicast, broadcast or documentation space,
/// in IPv4 or IPv6 (an IPv4-mapped or -compatible IPv6 address is judged as its IPv4 address).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19)) // benchmarking 198.18.0.0/15
                || (a == 192 && b == 0 && v4.octets()[2] == 0)
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped().or_else(|| {
                let s = v6.segments();
                (s[..6] == [0, 0, 0, 0, 0, 0] && !v6.is_loopback() && !v6.is_unspecified())
                    .then(|| std::net::Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8))
            }) {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            let first = s[0];
            if first == 0x2002 {
                // 6to4: the IPv4 address inside (2002:AABB:CCDD::/48) is where it goes.
                let v4 = std::net::Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8);
                return is_public(IpAddr::V4(v4));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (first & 0xffc0) == 0xfec0 // site-local fec0::/10 (deprecated, still private)
                || first == 0x2001 && v6.segments()[1] == 0x0db8 // documentation
                || first == 0x0064 && s[1] == 0xff9b // NAT64 (64:ff9b::/96, 64:ff9b:1::/48): IPv4 inside
                || first == 0x2001 && s[1] == 0x0000 // Teredo 2001::/32: a tunnel to an IPv4 address
                || first == 0x0100 && s[1..4] == [0, 0, 0]) // discard-only 100::/64
        }
    }
}

/// Where deliveries may go and how a failing one is retried.
#[derive(Debug, Clone)]
pub struct Policy {
    /// `KEEPWELL_WEBHOOKS_ALLOW_PRIVATE`: plain HTTP, loopback and private addresses allowed.
    pub allow_private: bool,
    /// Attempts before a delivery is dead.
    pub max_attempts: i64,
    /// The wait before the first retry; each later one waits twice the one before (± 20 %).
    pub first_retry: Duration,
    /// No wait is longer than this.
    pub max_retry: Duration,
    /// One attempt's whole time (connect, send, answer).
    pub timeout: Duration,
    /// How often an idle sender looks for due deliveries.
    pub poll: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            allow_private: false,
            max_attempts: 16,
            first_retry: Duration::from_secs(10),
            max_retry: Duration::from_secs(3_600),
            timeout: Duration::from_secs(10),
            poll: Duration::from_millis(250),
        }
    }
}

impl Policy {
    /// The wait after failed attempt number `attempts` (1, 2, …), with jitter so that retries of
    /// one outage do not arrive together: `unit`, a random number from 0 to 1, moves it by ± 20 %.
    pub fn backoff(&self, attempts: i64, unit: f64) -> Duration {
        let doubled = self.first_retry.saturating_mul(1u32 << (attempts - 1).clamp(0, 20) as u32);
        let base = doubled.min(self.max_retry);
        base.mul_f64(0.8 + 0.4 * unit.clamp(0.0, 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The specification's own example (standard-webhooks, "Signature scheme"), which every
    /// reference library checks.
    #[test]
    fn signs_the_specifications_example() {
        let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let sig = signature(&[&secret], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, br#"{"test": 2432232314}"#);
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn a_rotation_sends_both_signatures_and_secrets_round_trip() {
        let (a, b) = (Secret::from_bytes(vec![1; 24]), Secret::from_bytes(vec![2; 24]));
        let both = signature(&[&a, &b], "msg_1", 1, b"{}");
        let parts: Vec<&str> = both.split(' ').collect();
        assert_eq!(parts, [signature(&[&a], "msg_1", 1, b"{}"), signature(&[&b], "msg_1", 1, b"{}")]);
        assert_eq!(Secret::parse(&a.encoded()).unwrap(), a);
        assert!(Secret::parse("whsec_AAAA").is_err());
        assert!(Secret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
    }

    #[test]
    fn people_without_the_right_see_an_endpoints_origin_only() {
        assert_eq!(origin_only("https://hooks.slack.com/services/T0/B0/secret"), "https://hooks.slack.com/…");
        assert_eq!(origin_only("http://127.0.0.1:9000/hook?token=x"), "http://127.0.0.1:9000/…");
        assert_eq!(origin_only("https://example.com/"), "https://example.com/");
        assert_eq!(origin_only("https://example.com"), "https://example.com");
    }

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a00:1",
            "64:ff9b:1::a00:1",
            "2001:db8::1",
            "198.18.0.1",
            "198.19.255.254",
            "2002:7f00:1::1",
            "2002:a00:1::1",
            "2002:c0a8:101::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "100::1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private} should not be public");
        }
        for public in
            ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "198.20.0.1", "2002:808:808::1"]
        {
            assert!(is_public(public.parse().unwrap()), "{public} should be public");
        }
    }

    #[test]
    fn retries_back_off_doubling_with_jitter_up_to_a_ceiling() {
        let p = Policy::default();
        for (attempt, base) in [(1, 10.0), (2, 20.0), (3, 40.0), (12, 3_600.0), (40, 3_600.0)] {
            for unit in [0.0, 0.5, 1.0] {
                let d = p.backoff(attempt, unit).as_secs_f64();
                assert!(d >= base * 0.8 && d <= base * 1.2, "attempt {attempt}: {d} s is not {base} s ± 20 %");
            }
        }
    }
}
